"""Monte Carlo simulation studies of mediation estimators."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import FitFailedWarning
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import has_fit_parameter

from skmediate._estimators import _MediationRegressor
from skmediate._extract import (
    EFFECTS,
    PER_MEDIATOR,
    effect_inference,
    mediation_result,
    truth_values,
)
from skmediate._numerics.covariance import cov_type
from skmediate._parallel import parallel_map, record_warnings
from skmediate._progress import ProgressBar, check_progress
from skmediate._sensitivity import SensitivityGrid
from skmediate._typing import RandomState
from skmediate._validation import as_random_state, is_dataframe, positive_int
from skmediate.exceptions import UnusedGroupsWarning, WeakInstrumentWarning

__all__ = ["SimulationResult", "simulate", "summarize"]

_COLUMNS = [
    "replication",
    "seed",
    "estimator",
    "statistic",
    "truth",
    "estimate",
    "std_error",
    "lower",
    "upper",
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
        low = ok["lower"].to_numpy(float)
        high = ok["upper"].to_numpy(float)
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
        none), ``estimate``, ``std_error``, ``lower``, ``upper``,
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


# The statistics recorded when none are given.
DEFAULT_STATISTICS = ("direct_effect", "mediator_effect")


class _Builtin:
    """A built-in statistic: ``{name: (estimate, std_error, lower, upper)}``, one
    name per mediator for a per-mediator effect of a fit with several."""

    def __init__(self, effect: str):
        self.effect = effect

    def __call__(self, estimator) -> dict[str, tuple]:
        return effect_inference(mediation_result(estimator), self.effect)


def _check_statistics(statistics) -> dict[str, Callable]:
    if statistics is None:
        statistics = DEFAULT_STATISTICS
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
                    "lower, upper)}"
                )
            func = _Builtin(name)
        elif not callable(func):
            raise TypeError(
                f"statistic {name!r} must be a callable taking the fitted "
                f"estimator; got {type(func).__name__}"
            )
        out[str(name)] = func
    return out


def _truth_dict(truth) -> dict:
    try:
        return truth_values(truth)
    except TypeError:
        raise TypeError(
            "the third element returned by data_generator (the truth) must be a "
            "mapping, a dataclass such as MediationTruth, or None; got "
            f"{type(truth).__name__}"
        ) from None


# -- fit parameters from the design --------------------------------------------


def _receiver(estimator):
    """``(object whose fit gets the parameters, prefix routing them through Pipelines)``."""
    prefix = ""
    while isinstance(estimator, Pipeline):
        name, estimator = estimator.steps[-1]
        prefix += f"{name}__"
    return estimator, prefix


def _fitting(estimator):
    """The estimator that fits the data (inside Pipelines and a SensitivityGrid)."""
    while True:
        estimator, _ = _receiver(estimator)
        if not isinstance(estimator, SensitivityGrid):
            return estimator
        estimator = estimator.estimator


def _uses_groups(estimator) -> bool:
    """Whether the fit uses cluster labels: a cluster-robust ``cov_type``, or a ``groups`` parameter."""
    final = _fitting(estimator)
    if isinstance(final, _MediationRegressor):
        return cov_type(final.cov_type).clustered
    receiver, _ = _receiver(estimator)
    return has_fit_parameter(receiver, "groups")


def _takes_weights(estimator) -> bool:
    receiver, _ = _receiver(estimator)
    if isinstance(receiver, SensitivityGrid):
        receiver = _fitting(receiver)
    return has_fit_parameter(receiver, "sample_weight")


def _check_design(estimators, groups, sample_weight) -> dict:
    """Which fit parameters each estimator gets: name -> (uses groups, gets weights)."""
    for label, column in (("groups", groups), ("sample_weight", sample_weight)):
        if column is not None and not isinstance(column, str):
            raise TypeError(
                f"{label} must be the name of a column of the generated X (for "
                f"example groups='cluster' with make_mediation_data(n_clusters=...)); "
                f"got {type(column).__name__}"
            )
    if groups is not None and groups == sample_weight:
        raise ValueError(f"groups and sample_weight name the same column {groups!r}")
    routes = {}
    for name, estimator in estimators.items():
        uses = _uses_groups(estimator)
        final = _fitting(estimator)
        if uses and groups is None and isinstance(final, _MediationRegressor):
            raise ValueError(
                f"estimator {name!r} has cov_type={final.cov_type!r}, which needs the "
                "cluster labels: give simulate(..., groups=<the column of X that "
                "holds them>), for example groups='cluster' for "
                "make_mediation_data(n_clusters=...)"
            )
        if sample_weight is not None and not _takes_weights(estimator):
            raise TypeError(
                f"estimator {name!r} ({type(final).__name__}) does not take "
                f"sample_weight, but simulate(sample_weight={sample_weight!r}) weights "
                "the rows; leave it out of this study or give it no weights"
            )
        routes[name] = (uses and groups is not None, sample_weight is not None)
    if groups is not None and not any(uses for uses, _ in routes.values()):
        warnings.warn(
            f"groups={groups!r} is used by none of the estimators: cluster labels "
            "enter only the cluster-robust covariances (cov_type='cluster', 'CR0', "
            "'CR2'). The column is still left out of X.",
            UnusedGroupsWarning,
            stacklevel=3,
        )
    return routes


def _split_design(X, groups, sample_weight):
    """``(X without the design columns, groups, weights)`` of one generated data set."""
    named = [c for c in (groups, sample_weight) if c is not None]
    if not named:
        return X, None, None
    columns = [str(c) for c in X.columns] if is_dataframe(X) else None
    missing = [c for c in named if columns is None or c not in columns]
    if missing:
        where = (
            f"its columns are {columns}"
            if columns is not None
            else "it has no column names (return a DataFrame)"
        )
        raise ValueError(
            f"{missing[0]!r} (given as groups or sample_weight) is not a column of the "
            f"X that data_generator returned; {where}"
        )
    labels = {c: X.columns[columns.index(c)] for c in named}
    rest = X.drop(columns=list(labels.values()))

    def column(name):
        return None if name is None else X[labels[name]].to_numpy()

    return rest, column(groups), column(sample_weight)


def _fit_params(estimator, route, groups, weights) -> dict:
    uses_groups, gets_weights = route
    _, prefix = _receiver(estimator)
    params = {}
    if uses_groups:
        params[f"{prefix}groups"] = groups
    if gets_weights:
        params[f"{prefix}sample_weight"] = weights
    return params


def _replicate(
    replication, seed, estimators, data_generator, statistics, design, routes
):
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
    X, groups, weights = _split_design(X, *design)
    rows, errors, other_warnings = [], [], []
    for name, estimator in estimators.items():
        params = _fit_params(estimator, routes[name], groups, weights)
        with record_warnings() as caught:
            try:
                fitted = clone(estimator).fit(X, y, **params)
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
            if failed:
                labels = [stat]
                if isinstance(func, _Builtin) and stat in PER_MEDIATOR:
                    # one row per mediator that the truth names, if it does
                    labels = [k for k in truth if k.startswith(f"{stat}[")] or labels
                named = dict.fromkeys(labels, (np.nan,) * 4)
            elif isinstance(func, _Builtin):
                named = func(fitted)
            else:
                named = {stat: tuple(func(fitted))}
            for label, values in named.items():
                if len(values) != 4:
                    raise ValueError(
                        f"statistic {stat!r} must return (estimate, std_error, "
                        f"lower, upper); got {len(values)} values"
                    )
                rows.append(
                    (
                        replication,
                        int(seed),
                        name,
                        label,
                        float(truth.get(label, np.nan)),
                        *map(float, values),
                        weak,
                        failed,
                    )
                )
    return rows, errors, other_warnings


def _expand_failed(table: pd.DataFrame) -> pd.DataFrame:
    """Failed fits of a per-mediator statistic as one row per mediator that the
    estimator's other fits name (``mediator_effect[m1]``, ...), in their order."""
    if not table["failed"].any():
        return table
    expanded = []
    for key, rows in table.groupby(["replication", "estimator"], sort=False):
        if not rows["failed"].iloc[0]:
            expanded.append(rows)
            continue
        names = table.loc[
            (table["estimator"] == key[1]) & ~table["failed"], "statistic"
        ].unique()
        parts = []
        for _, row in rows.iterrows():
            labels = [n for n in names if n.startswith(f"{row['statistic']}[")]
            if row["statistic"] not in PER_MEDIATOR or not labels:
                labels = [row["statistic"]]
            parts += [row.to_dict() | {"statistic": label} for label in labels]
        expanded.append(pd.DataFrame(parts, columns=table.columns))
    return pd.concat(expanded, ignore_index=True).astype(table.dtypes.to_dict())


def simulate(
    estimators: Mapping[str, Any],
    data_generator: Callable,
    *,
    n_replications: int,
    statistics: Mapping[str, Any] | Sequence[str] | None = None,
    groups: str | None = None,
    sample_weight: str | None = None,
    n_jobs: int | None = None,
    random_state: RandomState = None,
    progress: bool = False,
) -> SimulationResult:
    """Run a Monte Carlo study of mediation estimators on simulated data.

    Each replication draws a data set with ``data_generator``, fits a clone of
    every estimator to it and records the estimate, standard error and
    confidence interval of every statistic beside the truth.

    Parameters
    ----------
    estimators : dict of str to estimator
        Name -> unfitted estimator (cloned for every fit), e.g.
        ``{"naive": NaiveMediationRegressor(...), "iv": IVMediationRegressor(...)}``.
        A :class:`~skmediate.SensitivityGrid` is fitted like any estimator:
        the built-in statistics are its estimator's at ``τ = 0``, and a
        callable statistic gets the fitted grid (for example its
        ``sensitivity_interval_``, whose coverage a study of violations of
        IV-A2 can measure).
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
        standard error and interval, and ``"effect_on_mediator"``,
        ``"indirect_effect"`` and ``"total_effect"``, the rows
        ``effect_on_mediator``, ``indirect`` and ``total`` of
        ``result_.effects`` (delta method). With several mediators
        ``"mediator_effect"``, ``"effect_on_mediator"`` and
        ``"indirect_effect"`` give one statistic per mediator, named
        ``mediator_effect[m1]`` and so on. A dict maps names to callables
        taking the fitted estimator and returning ``(estimate, std_error,
        lower, upper)`` (NaN for what it does not provide), or to None for a
        built-in name. A statistic is compared with the truth of the same
        name; a pandas Series in the truth (as the per-mediator effects of
        :class:`~skmediate.datasets.MediationTruth`) gives the truth of
        ``name[index]`` for each of its entries.
    groups : str, default=None
        The column of the generated ``X`` that holds cluster labels, for
        example ``"cluster"`` for ``make_mediation_data(n_clusters=...)``. It
        is taken out of ``X`` (so that ``covariates=None`` does not make it a
        covariate) and passed as ``fit(..., groups=...)`` to the estimators
        that use it: those with a cluster-robust ``cov_type`` (also inside a
        Pipeline or a SensitivityGrid), and other estimators whose ``fit``
        takes ``groups``. An estimator with a cluster-robust ``cov_type``
        needs it.
    sample_weight : str, default=None
        The column of the generated ``X`` that holds sample weights (of each
        estimator's ``weight_type``): taken out of ``X`` and passed to every
        fit as ``sample_weight`` (every estimator must take it).
    n_jobs : int, default=None
        Number of joblib workers for the replications (``None`` means 1 unless
        in a ``joblib.parallel_config`` context, ``-1`` all cores). Any joblib
        backend works, including Dask's for a cluster
        (``with joblib.parallel_config(backend="dask"): simulate(...)``).
    random_state : int, RandomState, numpy Generator or None, default=None
        Draws the replications' seeds, all at once in the calling process, so
        results do not depend on ``n_jobs`` or the backend.
    progress : bool, default=False
        Show a progress bar of the replications on standard error (a widget
        in a notebook); needs the optional dependency tqdm (``pip install
        'skmediate[progress]'``).

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
    n_replications = positive_int(n_replications, "n_replications")
    if progress:
        check_progress()
    statistics = _check_statistics(statistics)
    routes = _check_design(estimators, groups, sample_weight)
    seeds = as_random_state(random_state).randint(
        np.iinfo(np.int32).max, size=n_replications
    )
    design = (groups, sample_weight)
    outputs = parallel_map(
        _replicate,
        (
            (k, seed, estimators, data_generator, statistics, design, routes)
            for k, seed in enumerate(seeds)
        ),
        n_jobs,
        generator=True,
    )
    rows, errors, seen = [], {}, {}
    with ProgressBar(n_replications, "simulate", "replication", progress) as bar:
        for rep_rows, rep_errors, rep_warnings in bar.track(outputs):
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
    table = _expand_failed(pd.DataFrame(rows, columns=_COLUMNS))
    return SimulationResult(replications=table)
