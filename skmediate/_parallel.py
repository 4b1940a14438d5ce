"""Refits on any joblib backend, with the caller's configuration and warnings.

The refit workloads (``bootstrap(engine="refit")``, ``SensitivityGrid(method=
"refit")`` and ``simulate``) run their tasks with joblib, so any backend works:
worker processes (loky), threads, or a Dask cluster through
``joblib.parallel_config(backend="dask")``. Three things must not depend on
the backend:

- the scikit-learn configuration (``sklearn.set_config``), which is thread-local
  and absent from worker processes: :func:`parallel_map` captures it in the
  calling thread and sets it around every task;
- where joblib calls inside a task run: in the task's thread, not back on a
  Dask cluster (see :func:`parallel_map`);
- the warnings a task records. ``warnings.catch_warnings`` swaps the
  process-wide filters and display hook, so on Python versions without
  context-aware warnings two threads of one process that use it at once (the
  threading backend, or Dask workers with several threads) lose each other's
  warnings, let them reach the caller's filters (where ``"error"`` turns them
  into failed fits), and can leave a recorder installed after they return.
  :func:`record_warnings` is a thread-safe replacement.
"""

from __future__ import annotations

import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import joblib
from sklearn import config_context, get_config

__all__ = ["parallel_map", "record_warnings"]


class _Task:
    """``function`` called under the scikit-learn configuration of the caller.

    Nested joblib calls default to one job in the task's thread. A module-level
    class rather than a closure, so that it pickles with the standard library.
    """

    def __init__(self, function: Callable, config: dict):
        self.function = function
        self.config = config

    def __call__(self, *args):
        with (
            config_context(**self.config),
            joblib.parallel_config(backend="threading", n_jobs=1),
        ):
            return self.function(*args)


def parallel_map(
    function: Callable,
    arguments: Iterable[tuple],
    n_jobs: int | None,
    *,
    generator: bool = False,
    verbose: int = 0,
) -> list | Iterator:
    """``function(*args)`` for every tuple of ``arguments``, in order, with joblib.

    The backend is joblib's active one (``joblib.parallel_config``), so the
    same call runs sequentially, on local processes or threads, or on a Dask
    cluster. Results come back in the order of ``arguments`` whatever the
    order in which the tasks finish, and ``function`` runs under the
    scikit-learn configuration of the calling thread.

    Inside a task, joblib calls that do not set ``n_jobs`` (such as a
    ``ColumnTransformer`` fitting its transformers) run in the task's thread:
    the tasks are the parallel level. Under the Dask backend they would
    otherwise send tiny tasks back to the cluster (its backend ignores
    ``n_jobs``) and release the worker's thread meanwhile.

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
    verbose : int, default=0
        joblib's progress messages.

    Returns
    -------
    list or generator
    """
    task = _Task(function, get_config())
    return joblib.Parallel(
        n_jobs=n_jobs,
        return_as="generator" if generator else "list",
        verbose=verbose,
    )(joblib.delayed(task)(*args) for args in arguments)


# -- thread-safe recording of warnings ----------------------------------------

_lock = threading.Lock()
_thread = threading.local()  # .log: the recording list of this thread, if any
_session: dict = {"depth": 0, "catcher": None, "showwarning": None}


def _show(message, category, filename, lineno, file=None, line=None):
    """``warnings.showwarning`` during a session: to the thread's log if it records."""
    log = getattr(_thread, "log", None)
    if log is None:  # a thread that does not record: display as before the session
        _session["showwarning"](message, category, filename, lineno, file, line)
    else:
        log.append(
            warnings.WarningMessage(message, category, filename, lineno, file, line)
        )


def _open_session() -> None:
    with _lock:
        if _session["depth"] == 0:
            catcher = warnings.catch_warnings()
            catcher.__enter__()
            warnings.simplefilter("always")
            _session["catcher"] = catcher
            _session["showwarning"] = warnings.showwarning
            warnings.showwarning = _show
        _session["depth"] += 1


def _close_session() -> None:
    with _lock:
        _session["depth"] -= 1
        if _session["depth"] == 0:
            catcher = _session["catcher"]
            _session["catcher"] = None
            # The saved hook is kept: a thread whose own catch_warnings spans
            # the session's end may reinstall _show, which then displays
            # through it instead of failing.
            catcher.__exit__(None, None, None)  # restores filters and showwarning


@contextmanager
def record_warnings():
    """Record every warning issued in this thread, as ``catch_warnings(record=True)``.

    Yields the list of recorded ``warnings.WarningMessage`` (attributes
    ``category``, ``message``, ...); every warning is recorded (the filter
    action is ``"always"``), none is displayed or raised.

    Notes
    -----
    Safe when several threads of a process record at once. With
    context-aware warnings (Python 3.14 with ``-X context_aware_warnings``,
    the default of free-threaded builds) ``catch_warnings`` keeps its state
    per thread and is used as is. Otherwise the first recording thread
    installs ``"always"`` and a display hook that routes each warning to the
    log of the thread issuing it, and the last one to finish restores the
    filters and hook it found; meanwhile, warnings of threads that do not
    record are displayed as before, under the ``"always"`` action.
    """
    if getattr(sys.flags, "context_aware_warnings", False):
        with warnings.catch_warnings(record=True) as log:
            warnings.simplefilter("always")
            yield log
        return
    log: list = []
    _open_session()
    outer = getattr(_thread, "log", None)
    _thread.log = log
    try:
        yield log
    finally:
        _thread.log = outer
        _close_session()
