"""Monte Carlo simulation studies of mediation estimators."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import FitFailedWarning

from skmediate._extract import EFFECTS, effect_estimate, mediation_result
from skmediate._parallel import parallel_map, record_warnings
from skmediate._validation import as_random_state
from skmediate.exceptions import WeakInstrumentWarning

__all__ = ["SimulationResult", "simulate", "summarize"]

_COLUMNS = [
    "replication",
    "seed",
    "estimator",
    "statistic",
    "truth",
    "estimate",
    "std_error",
    "ci_low",
    "ci_high",
    "weak_instruments",
    "failed",
]


def summarize(replications: pd.DataFrame) -> pd.DataFrame:
    """Operating characteristics of each estimator and statistic.

    Parameters
    ----------
    replications : pandas.DataFrame
        One row per replication, estimator and statistic, with the columns of
        :attr:`SimulationResult.replications`.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``(estimator, statistic)`` in order of first appearance;
        the columns are described in :meth:`SimulationResult.summary`.
    """
    rows = {}
    for key, group in replications.groupby(["estimator", "statistic"], sort=False):
        ok = group[~group["failed"]]
        n = len(ok)
        est = ok["estimate"].to_numpy(float)
        truth = ok["truth"].to_numpy(float)
        low = ok["ci_low"].to_numpy(float)
        high = ok["ci_high"].to_numpy(float)
        error = est - truth
        covered = ((low <= truth) & (truth <= high)).astype(float)
        covered[np.isnan(low + high + truth)] = np.nan
        rejected = ((low > 0) | (high < 0)).astype(float)
        rejected[np.isnan(low + high)] = np.nan
        coverage = covered.mean() if n else np.nan
        rows[key] = {
            "n_valid": n,
            "truth": truth.mean() if n else np.nan,
            "mean": est.mean() if n else np.nan,
            "bias": error.mean() if n else np.nan,
            "bias_mcse": error.std(ddof=1) / np.sqrt(n) if n > 1 else np.nan,
            "sd": est.std(ddof=1) if n > 1 else np.nan,
            "rmse": np.sqrt(np.mean(error**2)) if n else np.nan,
            "mean_se": ok["std_error"].mean(skipna=False) if n else np.nan,
            "coverage": coverage,
            "coverage_mcse": np.sqrt(coverage * (1 - coverage) / n) if n else np.nan,
            "ci_length": (high - low).mean() if n else np.nan,
            "rejection_rate": rejected.mean() if n else np.nan,
            "weak_instruments": ok["weak_instruments"].mean() if n else np.nan,
            "n_failed": int(group["failed"].sum()),
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index = pd.MultiIndex.from_tuples(out.index, names=["estimator", "statistic"])
    return out


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Per-replication results of a simulation study.

    Attributes
    ----------
    replications : pandas.DataFrame
        One row per replication, estimator and statistic, with columns
        ``replication`` (0, 1, ...), ``seed`` (passed to the data generator),
        ``estimator``, ``statistic``, ``truth`` (NaN where the generator gives
        none), ``estimate``, ``std_error``, ``ci_low``, ``ci_high``,
        ``weak_instruments`` (the fit raised a
        :class:`~skmediate.WeakInstrumentWarning`) and ``failed`` (the fit
        raised an error; the numbers are then NaN).
    """

    replications: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """Bias, variability, coverage and power of each estimator and statistic.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``(estimator, statistic)``, over the ``R = n_valid``
            replications whose fit did not fail, with ``e_r = estimate_r -
            truth_r``:

            - ``truth``: mean true value; ``mean``: mean estimate;
            - ``bias = mean(e_r)`` and its Monte Carlo standard error
              ``bias_mcse = sd(e_r) / sqrt(R)``;
            - ``sd``: standard deviation of the estimates (``ddof=1``);
            - ``rmse = sqrt(mean(e_r²))``;
            - ``mean_se``: mean of the reported standard errors;
            - ``coverage``: share of intervals containing the truth, and
              ``coverage_mcse = sqrt(coverage (1 - coverage) / R)``;
            - ``ci_length``: mean interval length;
            - ``rejection_rate``: share of intervals excluding 0, i.e. of
              two-sided tests of a zero effect rejecting at level
              ``1 - confidence_level`` (the power when the truth is not 0, the
              size when it is);
            - ``weak_instruments``: share of fits that warned of weak
              instruments;
            - ``n_failed``: number of failed fits.

        References
        ----------
        Morris, T. P., White, I. R. and Crowther, M. J. (2019). Using
        simulation studies to evaluate statistical methods. *Statistics in
        Medicine*, 38(11), 2074–2102.
        """
        return summarize(self.replications)


def _builtin_statistic(estimator, effect: str):
    return effect_estimate(mediation_result(estimator), effect)


def _check_statistics(statistics) -> dict[str, Callable]:
    if statistics is None:
        statistics = tuple(EFFECTS)
    if isinstance(statistics, str):
        statistics = (statistics,)
    if isinstance(statistics, Mapping):
        items = list(statistics.items())
    else:
        items = [(name, None) for name in statistics]
    if not items:
        raise ValueError("statistics is empty; give at least one statistic")
    out = {}
    for name, func in items:
        if func is None:
            if name not in EFFECTS:
                raise ValueError(
                    f"unknown statistic {name!r}; the built-in statistics are "
                    f"{list(EFFECTS)}. For any other, pass statistics as a dict "
                    "{name: callable(fitted_estimator) -> (estimate, std_error, "
                    "ci_low, ci_high)}"
                )
            # a partial of a module-level function pickles for any joblib backend
            func = partial(_builtin_statistic, effect=name)
        elif not callable(func):
            raise TypeError(
                f"statistic {name!r} must be a callable taking the fitted "
                f"estimator; got {type(func).__name__}"
            )
        out[str(name)] = func
    return out


def _truth_dict(truth) -> dict:
    if truth is None:
        return {}
    if dataclasses.is_dataclass(truth) and not isinstance(truth, type):
        return dataclasses.asdict(truth)
    if isinstance(truth, Mapping):
        return dict(truth)
    raise TypeError(
        "the third element returned by data_generator (the truth) must be a "
        f"mapping, a dataclass such as MediationTruth, or None; got {type(truth).__name__}"
    )


def _replicate(replication, seed, estimators, data_generator, statistics):
    """One replication: draw the data, fit every estimator, read the statistics."""
    generated = data_generator(random_state=int(seed))
    if not (isinstance(generated, tuple) and len(generated) == 3):
        raise TypeError(
            "data_generator(random_state=seed) must return a tuple (X, y, truth); got "
            f"{type(generated).__name__}"
            + (f" of length {len(generated)}" if isinstance(generated, tuple) else "")
        )
    X, y, truth = generated
    truth = _truth_dict(truth)
    rows, errors, other_warnings = [], [], []
    for name, estimator in estimators.items():
        with record_warnings() as caught:
            try:
                fitted = clone(estimator).fit(X, y)
                failed = False
            except Exception as exc:  # a failed fit is recorded, never dropped
                errors.append((name, f"{type(exc).__name__}: {exc}"))
                failed = True
        weak = any(issubclass(w.category, WeakInstrumentWarning) for w in caught)
        other_warnings += [
            (w.category, str(w.message))
            for w in caught
            if not issubclass(w.category, WeakInstrumentWarning)
        ]
        for stat, func in statistics.items():
            values = (np.nan,) * 4 if failed else tuple(func(fitted))
            if len(values) != 4:
                raise ValueError(
                    f"statistic {stat!r} must return (estimate, std_error, ci_low, "
                    f"ci_high); got {len(values)} values"
                )
            rows.append(
                (
                    replication,
                    int(seed),
                    name,
                    stat,
                    float(truth.get(stat, np.nan)),
                    *map(float, values),
                    weak,
                    failed,
                )
            )
    return rows, errors, other_warnings


def simulate(
    estimators,
    data_generator,
    *,
    n_replications,
    statistics=None,
    n_jobs=None,
    random_state=None,
    progress=False,
):
    """Run a Monte Carlo study of mediation estimators on simulated data.

    Each replication draws a data set with ``data_generator``, fits a clone of
    every estimator to it and records the estimate, standard error and
    confidence interval of every statistic beside the truth.

    Parameters
    ----------
    estimators : dict of str to estimator
        Name -> unfitted estimator (cloned for every fit), e.g.
        ``{"naive": NaiveMediationRegressor(...), "iv": IVMediationRegressor(...)}``.
    data_generator : callable
        Called as ``data_generator(random_state=seed)`` with an integer seed;
        returns ``(X, y, truth)``, where ``truth`` maps statistic names to true
        values (a dict, or a :class:`~skmediate.datasets.MediationTruth`) or is
        None. For example ``functools.partial(make_mediation_data, 500,
        return_truth=True)``.
    n_replications : int
        Number of data sets.
    statistics : sequence of str or dict of str to callable, default=None
        What to record for each fit. Built-in names, for the mediation
        estimators (or Pipelines ending in one): ``"direct_effect"`` and
        ``"mediator_effect"`` (the default: both), with the estimator's
        standard error and interval. A dict maps names to callables taking the
        fitted estimator and returning ``(estimate, std_error, ci_low,
        ci_high)`` (NaN for what it does not provide), or to None for a
        built-in name. A statistic is compared with the truth of the same name.
    n_jobs : int, default=None
        Number of joblib workers for the replications (``None`` means 1 unless
        in a ``joblib.parallel_config`` context, ``-1`` all cores). Any joblib
        backend works, including Dask's for a cluster
        (``with joblib.parallel_config(backend="dask"): simulate(...)``).
    random_state : int, RandomState, numpy Generator or None, default=None
        Draws the replications' seeds, all at once in the calling process, so
        results do not depend on ``n_jobs`` or the backend.
    progress : bool, default=False
        Print joblib's progress messages on standard error.

    Returns
    -------
    SimulationResult
        Per-replication results in ``replications``; ``summary()`` gives the
        operating characteristics (bias, SD, RMSE, mean SE, coverage, interval
        length, rejection rate).

    Warns
    -----
    FitFailedWarning
        When some fits raise an error: they are recorded as failed with NaN
        results. If every fit of an estimator fails, a ``ValueError`` is
        raised instead. Weak-instrument warnings are recorded in the
        ``weak_instruments`` column rather than raised; other warnings from the
        fits are raised once each in the calling process.

    See Also
    --------
    skmediate.datasets.make_mediation_data : A data generator with known truth.

    Notes
    -----
    Replication ``r`` uses the seed ``seeds[r]``, drawn once from
    ``random_state``; the data and hence every estimate of that replication
    depend on nothing else.

    Examples
    --------
    >>> from functools import partial
    >>> from skmediate import IVMediationRegressor, NaiveMediationRegressor
    >>> from skmediate.datasets import make_mediation_data
    >>> from skmediate.simulation import simulate
    >>> roles = dict(treatment="r", mediator="m", covariates=["x1", "x2"])
    >>> study = simulate(
    ...     {"naive": NaiveMediationRegressor(**roles), "iv": IVMediationRegressor(**roles)},
    ...     partial(make_mediation_data, 1000, confounding=0.6, return_truth=True),
    ...     n_replications=50,
    ...     random_state=0,
    ... )
    >>> table = study.summary()
    >>> bias = table.loc[(slice(None), "mediator_effect"), "bias"]
    >>> bool(abs(bias["naive"].iloc[0]) > 0.2), bool(abs(bias["iv"].iloc[0]) < 0.05)
    (True, True)
    """
    if not isinstance(estimators, Mapping) or not estimators:
        raise ValueError(
            "estimators must be a non-empty dict of name -> estimator; got "
            f"{estimators!r}"
        )
    for name, estimator in estimators.items():
        if not hasattr(estimator, "fit"):
            raise TypeError(
                f"estimator {name!r} has no fit method; got {type(estimator).__name__}"
            )
    if not callable(data_generator):
        raise TypeError(
            "data_generator must be a callable data_generator(random_state=seed) "
            f"returning (X, y, truth); got {type(data_generator).__name__}"
        )
    if (
        isinstance(n_replications, bool)
        or not isinstance(n_replications, (int, np.integer))
        or n_replications < 1
    ):
        raise ValueError(
            f"n_replications must be a positive integer; got {n_replications!r}"
        )
    statistics = _check_statistics(statistics)
    seeds = as_random_state(random_state).randint(
        np.iinfo(np.int32).max, size=n_replications
    )
    outputs = parallel_map(
        _replicate,
        (
            (k, seed, estimators, data_generator, statistics)
            for k, seed in enumerate(seeds)
        ),
        n_jobs,
        verbose=10 if progress else 0,
    )
    rows, errors, seen = [], {}, {}
    for rep_rows, rep_errors, rep_warnings in outputs:
        rows += rep_rows
        for name, message in rep_errors:
            errors.setdefault(name, []).append(message)
        for category, message in rep_warnings:
            seen.setdefault((category, message), None)
    for category, message in seen:
        warnings.warn(message, category, stacklevel=2)
    for name, messages in errors.items():
        if len(messages) == n_replications:
            raise ValueError(
                f"all {n_replications} fits of estimator {name!r} failed; the "
                f"first error was {messages[0]}"
            )
        warnings.warn(
            f"{len(messages)} of {n_replications} fits of estimator {name!r} "
            f"failed and are recorded as NaN; the first error was {messages[0]}",
            FitFailedWarning,
            stacklevel=2,
        )
    table = pd.DataFrame(rows, columns=_COLUMNS)
    return SimulationResult(replications=table)
