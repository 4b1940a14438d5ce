"""Refits on any joblib backend, with scikit-learn's parallel helpers.

The refit workloads (``bootstrap(engine="refit")``, ``SensitivityGrid(method=
"refit")`` and ``simulate``) map a module-level function over their tasks with
:class:`sklearn.utils.parallel.Parallel` and ``delayed``, which carry the
caller's scikit-learn configuration and warning filters into the workers, on
any backend: worker processes (loky), threads, or a Dask cluster through
``joblib.parallel_config(backend="dask")``. Each task records the warnings it
issues with :func:`warnings.catch_warnings`, so that the caller can report
them once per category.

With the threading backend (or Dask workers with several threads) on Python
versions without context-aware warnings, ``catch_warnings`` swaps the
process-wide warning state, so warnings of tasks running at once in one
process may be recorded by another task or shown rather than recorded; the
results do not depend on it. Process-based backends do not share that state.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import joblib
from sklearn.utils.parallel import Parallel, delayed

__all__ = ["parallel_map", "record_warnings"]


class _Task:
    """``function`` with nested joblib calls kept in the task's thread.

    The tasks are the parallel level: joblib calls inside one (a transformer's
    ``n_jobs``) run sequentially where the task runs, instead of sending tiny
    tasks back to a Dask cluster (its backend ignores ``n_jobs``). A
    module-level class rather than a closure, so that it pickles.
    """

    def __init__(self, function: Callable):
        # not ``function``: sklearn's delayed copies the wrapped object's
        # attributes onto its wrapper, whose own ``function`` is this task
        self.target = function

    def __call__(self, *args):
        with joblib.parallel_config(backend="threading", n_jobs=1):
            return self.target(*args)


def parallel_map(
    function: Callable,
    arguments: Iterable[tuple],
    n_jobs: int | None,
    *,
    generator: bool = False,
) -> list | Iterator:
    """``function(*args)`` for every tuple of ``arguments``, in order, with joblib.

    The backend is joblib's active one (``joblib.parallel_config``); results
    come back in the order of ``arguments`` whatever the order in which the
    tasks finish, and ``function`` runs under the scikit-learn configuration
    and warning filters of the calling thread.

    Parameters
    ----------
    function : callable
        A module-level function (its arguments and results are pickled by
        process-based backends).
    arguments : iterable of tuple
        Positional arguments of each call; consumed lazily, in the calling
        process.
    n_jobs : int or None
        joblib's ``n_jobs``.
    generator : bool, default=False
        Return a generator of the results (in order) instead of a list.
    """
    task = _Task(function)
    return Parallel(
        n_jobs=n_jobs,
        return_as="generator" if generator else "list",
    )(delayed(task)(*args) for args in arguments)


@contextmanager
def record_warnings():
    """Record every warning issued inside, as ``catch_warnings(record=True)``.

    Yields the list of ``warnings.WarningMessage``; every warning is recorded
    (the filter action is ``"always"``), none is shown or raised.
    """
    with warnings.catch_warnings(record=True) as log:
        warnings.simplefilter("always")
        yield log
