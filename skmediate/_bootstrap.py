"""bootstrap(): resampling confidence intervals for any statistic of a fitted estimator."""

from __future__ import annotations

import math
import warnings
from collections import namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Real
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri
from sklearn.base import clone, is_classifier
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import has_fit_parameter

from skmediate._estimators import _MediationRegressor, fit_mediation
from skmediate._numerics.batched import ClusterSpec, tsls_batch, wild_batch
from skmediate._numerics.covariance import cov_type as covariance_type
from skmediate._numerics.rows import is_dask, one_blas_thread
from skmediate._parallel import parallel_map, record_warnings
from skmediate._progress import ProgressBar, check_progress
from skmediate._resampling import (
    SCHEMES,
    draw,
    jackknife,
    log_distinct_resamples,
    make_units,
    pairs_rows,
)
from skmediate._typing import Data, RandomState
from skmediate._validation import (
    as_generator,
    check_sample_weight,
    n_rows,
    positive_int,
    take_rows,
)
from skmediate.exceptions import DegenerateBootstrapWarning, FailedResampleWarning

if TYPE_CHECKING:
    from skmediate._report.document import Summary

__all__ = [
    "BootstrapResult",
    "ConfidenceInterval",
    "bootstrap",
    "few_resamples_message",
    "min_resamples",
]

METHODS = ("percentile", "basic", "bca", "studentized")
ENGINES = ("auto", "vectorized", "refit")

# Memory for one block of resamples (their weights, multipliers and row
# expansions) in the vectorized engine; row-chunk temporaries come on top (see
# skmediate._numerics.batched).
_BLOCK_BYTES = 64 * 2**20

# Fitted attributes of the built-in estimators that the vectorized engine
# computes: the source array and which structural terms (see
# ``Design.terms_of``). Attributes read from the estimates have their standard
# errors at the same positions of ``result_.std_errors``.
_TERMS = {
    "intercept_": ("params", "intercept"),
    "coef_": ("params", "coefficients"),
    "direct_effect_": ("params", "treatment"),
    "mediator_effect_": ("params", "mediators"),
    "result_.params": ("params", "all"),
    "result_.std_errors": ("std_errors", "all"),
}

ConfidenceInterval = namedtuple("ConfidenceInterval", ["low", "high"])
ConfidenceInterval.__doc__ = (
    """Bootstrap confidence interval: arrays ``low`` and ``high``."""
)


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Result of :func:`bootstrap`.

    Attributes
    ----------
    estimate : ndarray of shape (n_statistics,)
        The statistics on the full data.
    confidence_interval : ConfidenceInterval
        Named tuple of arrays ``low`` and ``high``, each of shape
        (n_statistics,).
    standard_error : ndarray of shape (n_statistics,)
        Standard deviation (``ddof=1``) of the bootstrap distribution.
    bootstrap_distribution : ndarray of shape (n_statistics, n_resamples)
        The statistics on each resample; NaN for failed resamples.
    n_failed : int
        Number of resamples whose fit raised an error or gave a non-finite
        statistic.
    statistic_names : tuple of str
    method : str
    confidence_level : float
    scheme : str
    engine : str
        ``"vectorized"`` or ``"refit"``: the engine that was used.
    """

    estimate: np.ndarray
    confidence_interval: ConfidenceInterval
    standard_error: np.ndarray
    bootstrap_distribution: np.ndarray
    n_failed: int
    statistic_names: tuple
    method: str
    confidence_level: float
    scheme: str
    engine: str

    def summary(self) -> Summary:
        """Summarize each statistic's estimate, bootstrap SE and interval.

        Returns
        -------
        Summary
            Text, HTML, Markdown and LaTeX; the numbers are ``tables[0]``,
            which is :meth:`to_frame`.
        """
        from skmediate._report.render import bootstrap_summary

        return bootstrap_summary(self)

    def to_frame(self) -> pd.DataFrame:
        """The results as a table.

        Returns
        -------
        pandas.DataFrame
            One row per statistic, with columns ``estimate``, ``std_error``,
            ``lower`` and ``upper``.
        """
        return pd.DataFrame(
            {
                "estimate": self.estimate,
                "std_error": self.standard_error,
                "lower": self.confidence_interval.low,
                "upper": self.confidence_interval.high,
            },
            index=list(self.statistic_names),
        )


# -- statistics ---------------------------------------------------------------


def _estimator_chain(estimator):
    """The estimator, then (for Pipelines, recursively) its final step."""
    yield estimator
    while isinstance(estimator, Pipeline):
        estimator = estimator.steps[-1][1]
        yield estimator


def _fitted_attributes(estimator) -> list[str]:
    return sorted(
        {
            name
            for est in _estimator_chain(estimator)
            for name in vars(est)
            if name.endswith("_") and not name.startswith("_")
        }
    )


def _as_values(value, label: str) -> tuple[np.ndarray, list[str]]:
    """A statistic's value as a float vector and its names."""
    if isinstance(value, pd.Series):
        names = [f"{label}[{i}]" if label else str(i) for i in value.index]
        value = value.to_numpy()
    else:
        names = None
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"statistic {label or 'callable'!r} must give a number or a 1-D array "
            f"of numbers; got {type(value).__name__}"
        ) from None
    if array.ndim > 1:
        raise ValueError(
            f"statistic {label or 'callable'!r} must give a number or a 1-D array; "
            f"got an array of shape {array.shape}"
        )
    if names is None:
        base = label or "statistic"
        names = (
            [base] if array.ndim == 0 else [f"{base}[{j}]" for j in range(array.size)]
        )
    return array.reshape(-1), names


class _Statistic:
    """The statistics of a fitted estimator, their names and standard errors.

    ``spec`` is a fitted attribute name (dotted paths reach into results, e.g.
    ``"result_.params"``), a sequence of names, or a callable of the fitted
    estimator. Names are looked up on the estimator, then on the final step
    of a Pipeline.
    """

    def __init__(self, spec):
        if callable(spec):
            self.func, self.paths = spec, None
        elif isinstance(spec, str):
            self.func, self.paths = None, (spec,)
        elif (
            isinstance(spec, (list, tuple))
            and spec
            and all(isinstance(s, str) for s in spec)
        ):
            self.func, self.paths = None, tuple(spec)
        else:
            raise TypeError(
                "statistic must be a fitted attribute name, a tuple of names, or a "
                f"callable taking the fitted estimator; got {spec!r}"
            )

    def evaluate(self, fitted, with_se: bool):
        """``(values, standard_errors or None, names)`` on a fitted estimator."""
        if self.func is not None:
            return self._evaluate_callable(fitted, with_se)
        values, ses, names = [], [], []
        for path in self.paths:
            owner, value = self._lookup(fitted, path)
            array, labels = _as_values(value, path)
            values.append(array)
            names += labels
            if with_se:
                ses.append(self._attribute_se(owner, path, array.size))
        return (
            np.concatenate(values),
            np.concatenate(ses) if with_se else None,
            names,
        )

    @staticmethod
    def _lookup(fitted, path):
        for owner in _estimator_chain(fitted):
            try:
                return owner, attrgetter(path)(owner)
            except AttributeError:
                continue
        raise ValueError(
            f"unknown statistic {path!r}: it is not an attribute of the fitted "
            f"{type(fitted).__name__}"
            + (" or of its final step" if isinstance(fitted, Pipeline) else "")
            + f". Fitted attributes: {_fitted_attributes(fitted)}"
        )

    @staticmethod
    def _attribute_se(owner, path: str, size: int) -> np.ndarray:
        source = _TERMS.get(path, (None,))[0]
        if not isinstance(owner, _MediationRegressor) or source != "params":
            raise ValueError(
                f"method='studentized' needs a standard error for each statistic on "
                f"each resample; none is known for {path!r} of "
                f"{type(owner).__name__}. Standard errors are known for "
                f"{[p for p, (s, _) in _TERMS.items() if s == 'params']} of "
                "IVMediationRegressor and NaiveMediationRegressor; a callable "
                "statistic can return a DataFrame with columns 'estimate' and "
                "'std_error'."
            )
        design = owner.result_.model.design
        se = owner.result_.std_errors.to_numpy()[design.terms_of(_TERMS[path][1])]
        return se.reshape(size)

    def _evaluate_callable(self, fitted, with_se: bool):
        value = self.func(fitted)
        if isinstance(value, pd.DataFrame):
            if "estimate" not in value:
                raise ValueError(
                    "a statistic returning a DataFrame must have a column "
                    f"'estimate' (and 'std_error'); got columns {list(value.columns)}"
                )
            names = [str(i) for i in value.index]
            values = value["estimate"].to_numpy(dtype=float)
            se = None
            if with_se:
                if "std_error" not in value:
                    raise ValueError(
                        "method='studentized' needs the statistic's standard errors: "
                        "return a DataFrame with columns 'estimate' and 'std_error'"
                    )
                se = value["std_error"].to_numpy(dtype=float)
            return values, se, names
        if with_se:
            raise ValueError(
                "method='studentized' needs each resample's standard errors: a "
                "callable statistic must return a DataFrame with columns "
                "'estimate' and 'std_error'"
            )
        label = getattr(self.func, "__name__", "statistic")
        if isinstance(value, pd.Series):
            label = ""
        elif not label.isidentifier():
            label = "statistic"
        array, names = _as_values(value, label)
        return array, None, names

    def vectorized_reason(self) -> str | None:
        """Why the vectorized engine cannot compute this statistic (None if it can)."""
        if self.func is not None:
            return "a callable statistic is evaluated on refitted estimators"
        unknown = [p for p in self.paths if p not in _TERMS]
        if unknown:
            return f"the vectorized engine computes only {list(_TERMS)}; not {unknown}"
        return None

    def from_batch(self, design, params: np.ndarray, std_errors: np.ndarray | None):
        """Values and standard errors (b × m) from batched estimates."""
        values, ses = [], []
        for path in self.paths:
            source, terms = _TERMS[path]
            positions = design.terms_of(terms)
            block = (params if source == "params" else std_errors)[:, positions]
            values.append(block)
            if std_errors is not None and source == "params":
                ses.append(std_errors[:, positions])
            else:
                ses.append(np.full_like(block, np.nan))
        return np.hstack(values), np.hstack(ses)


# -- resamples and refits -----------------------------------------------------


def _is_row_param(value, n: int) -> bool:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        return False
    try:
        return n_rows(value) == n
    except TypeError:
        return False


def _is_groups_key(key: str) -> bool:
    return key == "groups" or key.endswith("__groups")


def _relabel(groups, draw_ids: np.ndarray) -> np.ndarray:
    """Cluster labels that count each draw of a cluster as a cluster of its own."""
    _, codes = np.unique(np.asarray(groups), return_inverse=True)
    pairs = np.column_stack([draw_ids, codes.reshape(-1)])
    return np.unique(pairs, axis=0, return_inverse=True)[1].reshape(-1)


def _resampled_data(X, y, fit_params: dict, task):
    """``(X, y, fit_params)`` of one resample described by ``task``."""
    kind, payload, extra = task
    if kind == "rows":
        n = n_rows(X)
        params = {}
        for key, value in fit_params.items():
            if _is_row_param(value, n):
                value = take_rows(value, payload)
                if extra is not None and _is_groups_key(key):
                    value = _relabel(value, extra)
            params[key] = value
        return take_rows(X, payload), take_rows(y, payload), params
    if kind == "weights":
        return X, y, {**fit_params, "sample_weight": payload}
    return X, payload, fit_params  # "outcome"


def _fit_resample(estimator, X, y, fit_params, task, statistic, with_se):
    """Fit a clone on one resample: ``(values, ses, error, warnings)``."""
    with record_warnings() as caught:
        try:
            Xr, yr, params = _resampled_data(X, y, fit_params, task)
            fitted = clone(estimator).fit(Xr, yr, **params)
            values, ses, _ = statistic.evaluate(fitted, with_se)
            error = None
        except Exception as exc:  # a failed resample is recorded, not raised
            values = ses = None
            error = f"{type(exc).__name__}: {exc}"
    return values, ses, error, [(w.category, str(w.message)) for w in caught]


class _Resampler:
    """Turns unit-level resamples into refits of the estimator and their statistics."""

    def __init__(
        self,
        estimator,
        X,
        y,
        fit_params,
        units,
        row_weights,
        fitted_values,
        statistic,
        with_se,
        n_statistics,
    ):
        self.estimator = estimator
        self.X, self.y, self.fit_params = X, y, fit_params
        self.units = units
        self.row_weights = row_weights  # user frequency weights, all rows
        self.fitted_values = fitted_values  # for the wild bootstrap
        self.statistic = statistic
        self.with_se = with_se
        self.n_statistics = n_statistics

    def task(self, scheme: str, values: np.ndarray):
        """The data of one resample: ``(kind, payload, draws)`` (see ``_resampled_data``)."""
        codes = self.units.codes
        if scheme == "pairs":
            rows, draws = pairs_rows(values, self.units)
            return ("rows", rows, draws)
        if scheme == "jackknife":
            return ("rows", np.flatnonzero(values[codes] > 0), None)
        if scheme == "bayesian":
            weights = values[codes]
            if self.row_weights is not None:
                weights = weights * self.row_weights
            return ("weights", weights, None)
        y = np.asarray(self.y, dtype=float)
        y_star = self.fitted_values + (y - self.fitted_values) * values[codes]
        if isinstance(self.y, pd.Series):
            y_star = pd.Series(y_star, index=self.y.index, name=self.y.name)
        return ("outcome", y_star, None)

    def _arguments(self, task):
        return (
            self.estimator,
            self.X,
            self.y,
            self.fit_params,
            task,
            self.statistic,
            self.with_se,
        )

    def fit(self, task):
        """Refit on one resample, in this process."""
        return _fit_resample(*self._arguments(task))

    def refit(self, tasks, n_jobs):
        """Refit on every resample of ``tasks`` with joblib; results in order."""
        return parallel_map(
            _fit_resample,
            (self._arguments(task) for task in tasks),
            n_jobs,
            generator=True,
        )


class _Collector:
    """Statistics of the resamples, in order, with failures and warnings."""

    def __init__(self, n_statistics: int, total: int, with_se: bool):
        self.values = np.full((n_statistics, total), np.nan)
        self.ses = np.full((n_statistics, total), np.nan) if with_se else None
        self.failed = np.zeros(total, dtype=bool)
        self.errors: list[str] = []
        self.caught: dict = {}
        self.position = 0

    def add(self, values, ses, error=None, caught=()):
        """Record the next resample (``values`` is None when its fit failed)."""
        j = self.position
        self.position += 1
        for category, message in caught:
            count, first = self.caught.get(category, (0, message))
            self.caught[category] = (count + 1, first)
        if error is None and values.shape[0] != self.values.shape[0]:
            error = (
                f"the statistic gave {values.shape[0]} values on a resample but "
                f"{self.values.shape[0]} on the full data"
            )
        if error is None and not np.isfinite(values).all():
            error = "the statistic is not finite"
        if error is not None:
            self.failed[j] = True
            self.errors.append(error)
            return
        self.values[:, j] = values
        if self.ses is not None:
            self.ses[:, j] = ses

    def add_block(self, values, ses):
        """Record a block of resamples, rows of ``values`` (b × m)."""
        cols = slice(self.position, self.position + values.shape[0])
        self.position = cols.stop
        bad = ~np.isfinite(values).all(axis=1)
        self.values[:, cols] = np.where(bad[:, None], np.nan, values).T
        if self.ses is not None:
            self.ses[:, cols] = ses.T
        if bad.any():
            self.failed[cols] |= bad
            self.errors.extend(["the statistic is not finite"] * int(bad.sum()))

    def warn(self, what: str, total: int):
        for category, (count, first) in self.caught.items():
            warnings.warn(
                f"{category.__name__} was issued by {count} of {total} {what} fits; "
                f"the first: {first}",
                category,
                stacklevel=3,
            )


# -- the vectorized engine ----------------------------------------------------


class _Vectorized:
    """All resamples of a built-in estimator at once (``skmediate._numerics.batched``).

    Built from the full-data fit and its validated input (from
    :func:`~skmediate._estimators.fit_mediation`): nothing is validated or
    fitted again.
    """

    def __init__(self, fitted, inputs, units, with_cov):
        self.model = fitted.result_.model
        self.design = inputs.design
        self.a = self.design.matrix(inputs.raw, inputs.y, self.model.shift)
        self.user_weights = inputs.weights
        self.codes = units.codes
        # rows are their own units: a resample's values are the row values
        self.identity = self.codes.shape[0] == units.n_units and not units.clustered
        self.cov_type = fitted.cov_type if with_cov else None
        self.clustered = with_cov and covariance_type(fitted.cov_type).clustered
        self.cluster_codes = None
        self.cells = None
        if self.clustered:
            _, codes = np.unique(np.asarray(inputs.groups), return_inverse=True)
            self.cluster_codes = codes.reshape(-1)
            if units.clustered:
                # clusters of a refit: (draw of a unit, fit cluster) pairs
                pairs = np.column_stack([self.codes, self.cluster_codes])
                cell_pairs, cells = np.unique(pairs, axis=0, return_inverse=True)
                self.cells = cells.reshape(-1)
                self.cell_units = cell_pairs[:, 0]

    def _cluster(self, scheme: str, values: np.ndarray) -> ClusterSpec | None:
        if not self.clustered:
            return None
        if self.cells is None or scheme != "pairs":
            return ClusterSpec(self.cluster_codes)
        counts = values[:, self.cell_units]
        with np.errstate(divide="ignore"):
            multiplicity = np.where(counts > 0, 1.0 / counts, 0.0)
        return ClusterSpec(self.cells, multiplicity, counts.sum(axis=1))

    def fit(self, scheme: str, values: np.ndarray):
        """Estimates and standard errors of a block of resamples."""
        rows = values if self.identity else values[:, self.codes]
        cluster = self._cluster(scheme, values)
        if scheme in ("wild", "wild_mammen"):
            batch = wild_batch(
                self.model, self.a, rows, self.user_weights, self.cov_type, cluster
            )
        else:
            if self.user_weights is not None:
                rows = rows * self.user_weights
            batch = tsls_batch(
                self.design, self.a, self.model.shift, rows, self.cov_type, cluster
            )
        std_errors = None
        if batch.cov is not None:
            std_errors = np.sqrt(np.diagonal(batch.cov, axis1=1, axis2=2))
        return batch.params, std_errors, batch.suspect


def _vectorized_reason(estimator, statistic: _Statistic, fit_params: dict):
    """Why the vectorized engine does not apply (None when it does)."""
    if not isinstance(estimator, _MediationRegressor):
        return (
            "the vectorized engine handles IVMediationRegressor and "
            f"NaiveMediationRegressor, not {type(estimator).__name__}"
        )
    if not (
        isinstance(estimator.covariate_transformer, str)
        and estimator.covariate_transformer == "passthrough"
    ):
        return (
            "covariate_transformer is refitted on each resample, which the "
            "vectorized engine does not do"
        )
    if getattr(estimator, "weight_type", "frequency") != "frequency":
        return (
            "the vectorized engine treats weights as frequency weights; "
            f"weight_type={estimator.weight_type!r} is refitted"
        )
    other = sorted(set(fit_params) - {"sample_weight", "groups"})
    if other:
        return f"the vectorized engine accepts fit_params sample_weight and groups, not {other}"
    kappa = getattr(estimator, "kappa", "2sls")
    if kappa not in ("2sls", 1):
        return (
            "the vectorized engine computes two-stage least squares; "
            f"kappa={kappa!r} is refitted"
        )
    return statistic.vectorized_reason()


# -- intervals ----------------------------------------------------------------


def _quantile(values: np.ndarray, probabilities) -> np.ndarray:
    return np.quantile(values, probabilities, method="linear")


def _interval(method, level, estimate, dist, se_hat, se_dist, jack, names):
    """Confidence limits of each statistic, and the problems met."""
    alpha = (1 - level) / 2
    m = estimate.shape[0]
    low, high = np.full(m, np.nan), np.full(m, np.nan)
    problems = []
    for j in range(m):
        t = dist[j]
        if t.size < 2:
            problems.append(f"{names[j]!r}: fewer than 2 successful resamples")
            continue
        if np.ptp(t) == 0:
            problems.append(
                f"{names[j]!r}: the bootstrap distribution is constant "
                f"({t[0]:.6g}), so the standard error is 0"
            )
        if method in ("percentile", "basic"):
            q = _quantile(t, [alpha, 1 - alpha])
            low[j], high[j] = q if method == "percentile" else 2 * estimate[j] - q[::-1]
        elif method == "bca":
            below = np.count_nonzero(t < estimate[j]) + np.count_nonzero(
                t <= estimate[j]
            )
            z0 = ndtri(below / (2 * t.size))
            u = jack[j].mean() - jack[j]
            with np.errstate(divide="ignore", invalid="ignore"):
                accel = (u**3).sum() / (6 * ((u**2).sum()) ** 1.5)
            if not (np.isfinite(z0) and np.isfinite(accel)):
                problems.append(
                    f"{names[j]!r}: the BCa "
                    + (
                        "bias correction is infinite (every resample lies on one "
                        "side of the estimate)"
                        if not np.isfinite(z0)
                        else "acceleration is undefined (the jackknife values are "
                        "constant or not finite)"
                    )
                )
                continue
            z = ndtri(np.array([alpha, 1 - alpha]))
            adjusted = ndtr(z0 + (z0 + z) / (1 - accel * (z0 + z)))
            low[j], high[j] = _quantile(t, adjusted)
        else:  # studentized
            with np.errstate(divide="ignore", invalid="ignore"):
                tstat = (t - estimate[j]) / se_dist[j]
            if not np.isfinite(tstat).all():
                problems.append(
                    f"{names[j]!r}: some resamples have a zero or non-finite "
                    "standard error, so their studentized statistic is undefined"
                )
                continue
            q = _quantile(tstat, [alpha, 1 - alpha])
            low[j], high[j] = estimate[j] - se_hat[j] * q[::-1]
    return low, high, problems


# -- validation ---------------------------------------------------------------

# Resamples that give interval ends stable to Monte Carlo error (Davison and
# Hinkley 1997, section 5.2.3): 999, and 1999 (the default) for BCa.
RECOMMENDED_RESAMPLES = 999


def min_resamples(confidence_level: float) -> int:
    """Fewest resamples for an interval at ``confidence_level``: ``2 / (1 - level) + 1``.

    The interval's ends are the ``α/2`` and ``1 - α/2`` quantiles of the ``B``
    replicates (``α = 1 - confidence_level``), interpolated linearly at the
    positions ``α/2 (B - 1)`` and ``(1 - α/2)(B - 1)`` of the sorted
    replicates. With ``B < 2/α + 1`` the lower end lies between the smallest
    and the second-smallest replicate (the upper end likewise): the interval
    is the range of a handful of resamples, which need not even contain the
    estimate. 41 for a 95% interval, 201 for 99%.

    Examples
    --------
    >>> min_resamples(0.95), min_resamples(0.9), min_resamples(0.99)
    (41, 21, 201)
    """
    return math.ceil(round(2 / (1 - confidence_level), 9)) + 1


def few_resamples_message(given: str, confidence_level: float) -> str:
    """Why the resamples ``given`` (e.g. ``"n_resamples=20"``) are too few, and how many to take."""
    level = f"{100 * confidence_level:g}%"
    return (
        f"{given} is too few resamples for a {level} bootstrap interval: its "
        "ends would lie among the most extreme resamples (the interval need not "
        f"even contain the estimate); at least {min_resamples(confidence_level)} "
        f"are needed for a {level} interval, and {RECOMMENDED_RESAMPLES} or "
        "more (1999 for BCa) give ends that do not depend on the draw"
    )


def _check_options(
    n_resamples, method, scheme, engine, confidence_level, fit_params, progress
) -> dict:
    """Validate the scalar options; return the fit parameters as a dict."""
    positive_int(n_resamples, "n_resamples")
    _check_choice(method, "method", METHODS)
    _check_choice(scheme, "scheme", SCHEMES)
    _check_choice(engine, "engine", ENGINES)
    if not (isinstance(confidence_level, Real) and 0 < confidence_level < 1):
        raise ValueError(
            f"confidence_level must be a number in (0, 1); got {confidence_level!r}"
        )
    if fit_params is not None and not isinstance(fit_params, dict):
        raise TypeError(f"fit_params must be a dict; got {type(fit_params).__name__}")
    if progress:
        check_progress()
    return {} if fit_params is None else fit_params


def _check_scheme(estimator, scheme: str, strata) -> None:
    """The estimator can be refitted under the scheme."""
    name = type(estimator).__name__
    if scheme == "bayesian" and not has_fit_parameter(estimator, "sample_weight"):
        raise ValueError(
            "scheme='bayesian' passes the Dirichlet weights as "
            f"fit(sample_weight=...), which {name}.fit does not accept; use "
            "scheme='pairs'"
        )
    if scheme in ("wild", "wild_mammen"):
        if not hasattr(estimator, "predict") or is_classifier(estimator):
            raise ValueError(
                f"scheme={scheme!r} perturbs the residuals y - predict(X) of a "
                f"regressor; {name} is not one. Use scheme='pairs'"
            )
        if strata is not None:
            raise ValueError(
                f"strata do not apply to scheme={scheme!r}, which keeps every row "
                "and perturbs its residual; drop strata or use scheme='pairs'"
            )
    if isinstance(strata, str) and strata != "treatment":
        raise ValueError(
            f"strata must be an array of labels or 'treatment'; got {strata!r}"
        )


def _full_data_statistic(stat: _Statistic, fitted, with_se: bool):
    """The statistics (and standard errors) on the full data, checked finite."""
    estimate, se_hat, names = stat.evaluate(fitted, with_se)
    bad = ~np.isfinite(estimate)
    if bad.any():
        raise ValueError(
            f"the statistic is not finite on the full data: {names[np.argmax(bad)]!r} "
            f"= {estimate[bad][0]}; a bootstrap interval needs a finite estimate"
        )
    if with_se and not (np.isfinite(se_hat).all() and (se_hat > 0).all()):
        raise ValueError(
            "method='studentized' needs a positive, finite standard error of each "
            f"statistic on the full data; got {dict(zip(names, se_hat, strict=True))}"
        )
    return estimate, se_hat, names


def _check_choice(value, name: str, options) -> str:
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {list(options)}; got {value!r}")
    return value


def _check_labels(labels, name: str, n: int) -> np.ndarray:
    """One label per row of X (missing labels are checked by :func:`_check_complete`)."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and 1 in labels.shape:
        labels = labels.reshape(-1)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(
            f"{name} must be a 1-D array with one label per row of X ({n} rows); "
            f"got shape {labels.shape}"
        )
    return labels


def _check_complete(labels, name: str) -> None:
    if labels is not None and pd.isna(labels).any():
        raise ValueError(f"{name} contains missing values; every row needs a label")


def _dropped_rows(fitted) -> np.ndarray:
    """Rows the full-data fit left out for missing values (``missing="drop"``)."""
    for est in _estimator_chain(fitted):
        if isinstance(est, _MediationRegressor):
            return est.dropped_rows_
    return np.empty(0, dtype=np.intp)


def _treatment_strata(fitted, X) -> np.ndarray:
    if not isinstance(fitted, _MediationRegressor):
        raise ValueError(
            "strata='treatment' resamples within the arms of an "
            "IVMediationRegressor or NaiveMediationRegressor; for "
            f"{type(fitted).__name__}, pass the treatment column as strata"
        )
    return fitted.roles_.transform(X)[:, 0]


def bootstrap(
    estimator: Any,
    X: Data,
    y: Data,
    *,
    statistic: str | Sequence[str] | Callable = ("direct_effect_", "mediator_effect_"),
    n_resamples: int = 1999,
    method: str = "percentile",
    confidence_level: float = 0.95,
    scheme: str = "pairs",
    strata: str | Data | None = None,
    groups: Data | None = None,
    engine: str = "auto",
    n_jobs: int | None = None,
    random_state: RandomState = None,
    progress: bool = False,
    fit_params: dict | None = None,
) -> BootstrapResult:
    """Bootstrap confidence intervals for statistics of a fitted estimator.

    Fits a clone of ``estimator`` on the data, then on ``n_resamples``
    resamples of it, and forms confidence intervals for the statistics from
    their bootstrap distribution.

    Parameters
    ----------
    estimator : estimator object
        Any scikit-learn estimator: an :class:`IVMediationRegressor`, a
        :class:`NaiveMediationRegressor`, a Pipeline ending in one, or
        another estimator. It is cloned, never modified. With
        ``missing="drop"`` the rows its full-data fit leaves out for missing
        values are left out of every resample (with their ``strata``,
        ``groups`` and fit parameters): the result equals the bootstrap of
        the complete rows.
    X : {array-like, DataFrame} of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        Outcome.
    statistic : str, tuple of str or callable, default=(``"direct_effect_"``, ``"mediator_effect_"``)
        A fitted attribute name (dotted paths such as ``"result_.params"``
        reach into attributes; names are looked up on the estimator, then on
        the final step of a Pipeline), a tuple of such names, or a callable
        taking the fitted estimator and returning a float, a 1-D array, a
        Series (its index names the statistics) or a DataFrame with columns
        ``estimate`` and ``std_error`` (the latter used by
        ``method="studentized"``).
    n_resamples : int, default=1999
        Number of resamples (at least ``2 / (1 - confidence_level) + 1``
        for a meaningful interval; 999 or more are recommended).
    method : {"percentile", "basic", "bca", "studentized"}, default="percentile"
        Interval (see Notes).
    confidence_level : float, default=0.95
        Level of the confidence intervals.
    scheme : {"pairs", "bayesian", "wild", "wild_mammen"}, default="pairs"
        ``"pairs"``: resample rows (or whole clusters) with replacement.
        ``"bayesian"``: Dirichlet weights on the rows (or clusters), passed as
        ``sample_weight``. ``"wild"`` and ``"wild_mammen"``: keep the design
        and refit on ``ŷ + ε̂ ⊙ v`` with Rademacher or Mammen multipliers
        ``v`` of the residuals ``ε̂ = y - predict(X)`` (one multiplier per
        cluster with ``groups``); meant for linear estimators such as the
        built-in ones.
    strata : array-like of shape (n_samples,) or "treatment", default=None
        Resample within strata so that each stratum keeps its size (its
        number of rows or clusters; its total weight for ``"bayesian"``).
        ``"treatment"`` uses the randomization arms of a built-in estimator.
        Not used by the wild schemes.
    groups : array-like of shape (n_samples,), default=None
        Cluster labels: resample whole clusters. A cluster drawn several times
        enters a refit as that many distinct clusters: the fit parameter
        ``groups`` (or ``<step>__groups``) of each resample labels every
        draw separately, as cluster-robust standard errors of the resample
        need.
    engine : {"auto", "vectorized", "refit"}, default="auto"
        ``"refit"`` clones and fits the estimator on every resample (any
        estimator and statistic). ``"vectorized"`` computes all resamples of
        a built-in estimator at once from weighted cross-products; it
        handles the statistics ``intercept_``, ``coef_``, ``direct_effect_``,
        ``mediator_effect_``, ``result_.params`` and ``result_.std_errors``,
        with ``covariate_transformer="passthrough"``, two-stage least
        squares (``kappa="2sls"``) and fit parameters ``sample_weight`` and
        ``groups``. ``"auto"`` uses it whenever it applies and refits
        otherwise (callables, Pipelines, other estimators, other attributes,
        covariate transformers that are fitted on each resample, LIML,
        Fuller and other k-class estimators).
    n_jobs : int, default=None
        Parallel refits (joblib); ``None`` means 1 unless in a
        ``joblib.parallel_config`` context. Any joblib backend works,
        including Dask's for a cluster (``with
        joblib.parallel_config(backend="dask"): bootstrap(...)``). The
        results do not depend on ``n_jobs`` or the backend.
    random_state : int, numpy Generator, RandomState or None, default=None
        Seed of the resamples, all drawn in the calling process.
    progress : bool, default=False
        Show a progress bar of the resamples on standard error (a widget in
        a notebook), and one of the jackknife's for ``method="bca"``; needs
        the optional dependency tqdm (``pip install 'skmediate[progress]'``).
        The refit engine counts each refit; the vectorized one counts a
        block of resamples at a time (blocks of about 64 MiB, so that with a
        few thousand rows the bar fills in one step).
    fit_params : dict, default=None
        Passed to every fit. Parameters with one value per row (such as
        ``sample_weight`` and ``groups``) are resampled with the rows.

    Returns
    -------
    BootstrapResult
        ``estimate``, ``confidence_interval`` (``low``, ``high``),
        ``standard_error``, ``bootstrap_distribution`` (statistics ×
        resamples), ``n_failed`` and ``to_frame()``.

    Warns
    -----
    FailedResampleWarning
        When fits on some resamples raise an error or give non-finite
        statistics; they are NaN in ``bootstrap_distribution``, counted in
        ``n_failed`` and left out of the interval.
    DegenerateBootstrapWarning
        When a statistic is constant across resamples, when fewer distinct
        resamples exist than ``n_resamples``, or when an interval cannot be
        computed (its endpoints are then NaN).
    Warning
        A warning issued by refits (for example
        :class:`WeakInstrumentWarning`) is repeated once per category, with
        the number of refits that issued it.

    See Also
    --------
    scipy.stats.bootstrap : Percentile, basic and BCa intervals for functions
        of samples.

    Notes
    -----
    With the estimate ``θ̂``, its bootstrap replicates ``θ*_b`` and their
    empirical quantiles ``q(·)`` (linear interpolation), for
    ``α = (1 - confidence_level) / 2``:

    - percentile: ``[q(α), q(1-α)]``;
    - basic: ``[2θ̂ - q(1-α), 2θ̂ - q(α)]``;
    - bca: ``[q(α₁), q(α₂)]`` with
      ``α_i = Φ(z₀ + (z₀ + z_i) / (1 - a(z₀ + z_i)))``, ``z₁ = Φ⁻¹(α)``,
      ``z₂ = Φ⁻¹(1-α)``, bias correction ``z₀ = Φ⁻¹(#{θ*_b < θ̂}/B +
      #{θ*_b = θ̂}/(2B))`` and acceleration ``a = Σ U_i³ / (6 (Σ U_i²)^{3/2})``
      from the leave-one-out (leave-one-cluster-out) jackknife values
      ``θ̂_(i)``, ``U_i = mean(θ̂_(·)) - θ̂_(i)`` (Efron and Tibshirani 1993,
      14.3), as ``scipy.stats.bootstrap``;
    - studentized (bootstrap-t): ``[θ̂ - ŝ t(1-α), θ̂ - ŝ t(α)]`` with ``t(·)``
      the quantiles of ``(θ*_b - θ̂) / s*_b``, ``s*_b`` each resample's own
      standard error (the estimator's ``cov_type``) and ``ŝ`` that of the
      full data.

    The standard error is the standard deviation of the ``θ*_b``.

    Resamples. A pairs resample is a vector of counts: row (or cluster) ``i``
    drawn ``c_i`` times. The refit engine fits on the resampled rows (rows
    repeated ``c_i`` times, in row order, with every other fit parameter of
    one value per row resampled alike), so it works for estimators without
    ``sample_weight``. The built-in estimators treat ``sample_weight`` as
    frequency weights, so the fit with weights ``c_i`` equals the fit on the
    repeated rows; the vectorized engine uses that. With
    ``weight_type="analytic"`` or ``"probability"`` a resampled row keeps its
    weight and counts as one observation per draw, which the refit engine
    computes (``engine="auto"`` chooses it; ``"vectorized"`` is refused).
    Without strata and
    clusters the draws are those of ``scipy.stats.bootstrap`` with the same
    generator. A Bayesian resample passes ``sample_weight`` = Dirichlet
    weight × the user's ``sample_weight``, scaled so that each stratum's
    total weight is unchanged. The jackknife of BCa leaves out one row (or
    cluster) at a time.

    Vectorized engine. For weights ``w_b`` the 2SLS estimates and their
    covariances are functions of the weighted cross-products
    ``Σ_i w_bi a_i a_iᵀ`` of the rows of the fit's matrix ``A`` (see
    the user guide's Numerics page), formed for a block of resamples by one matrix product
    on column-scaled rows; their Cholesky factors are the factors of the
    resamples' fits, from which the estimates and covariances follow as for
    one fit, broadcast over the block (``skmediate._numerics.batched``, with
    the same covariance table). Each refit centers the interactions at its own
    weighted mean ``X̄_w``; that changes the first-stage coefficient on ``R``
    but not the column space of the instruments, hence none of the
    statistics the engine computes, which it therefore forms with one
    centering. The HC and cluster meats of studentized intervals need every
    row's residual under every resample and are accumulated over row
    chunks. Memory: a block of resamples takes about 64 MiB whatever
    ``n_resamples`` (resamples are drawn and processed block by block) plus
    chunk temporaries of about 8 MiB each; a single resample of ``n`` rows
    needs ``8n`` bytes per array. The wild bootstrap uses that the estimates
    are linear in ``y``: ``θ̂*_b = θ̂ + H(ε̂ ⊙ v_b)``. Resamples whose
    cross-product matrix is numerically singular are refitted exactly, so
    the engines agree on which resamples fail. The engine runs BLAS on one
    thread (its products and factorizations are many and small). Unlike the
    refit engine, it does not re-check the first stage of each resample for
    weak instruments.

    References
    ----------
    Efron, B. and Tibshirani, R. J. (1993). An Introduction to the Bootstrap.
    Chapman & Hall.

    Davison, A. C. and Hinkley, D. V. (1997). Bootstrap Methods and their
    Application. Cambridge University Press.

    Cameron, A. C., Gelbach, J. B. and Miller, D. L. (2008). Bootstrap-based
    improvements for inference with clustered errors. Review of Economics
    and Statistics, 90(3), 414-427.

    Rubin, D. B. (1981). The Bayesian bootstrap. Annals of Statistics, 9(1),
    130-134.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skmediate import IVMediationRegressor, bootstrap
    >>> rng = np.random.default_rng(0)
    >>> n = 1000
    >>> df = pd.DataFrame({"r": rng.integers(0, 2, n), "x": rng.normal(size=n)})
    >>> u = rng.normal(size=n)
    >>> df["m"] = df.r * (1 + df.x) + u + rng.normal(size=n)
    >>> y = 1 - 1.0 * df.r + 2.0 * df.m + 2 * u + rng.normal(size=n)
    >>> est = IVMediationRegressor(treatment="r", mediator="m")
    >>> res = bootstrap(est, df, y, n_resamples=999, random_state=0)
    >>> res.engine
    'vectorized'
    >>> res.to_frame().round(1)
                      estimate  std_error  lower  upper
    direct_effect_        -0.9        0.2   -1.3   -0.5
    mediator_effect_       2.1        0.1    1.8    2.3
    """
    if any(is_dask(a) for a in (X, y, groups, strata)):
        raise ValueError(
            "bootstrap needs in-memory data: every resample reweights every row. "
            "Call .compute() on the dask collection first if it fits in memory; "
            "for larger data use the estimator's analytic standard errors or a "
            "SensitivityGrid, which reduce each partition where it lives"
        )
    if isinstance(method, str):
        method = method.lower()  # scipy's spelling "BCa" too
    fit_params = _check_options(
        n_resamples, method, scheme, engine, confidence_level, fit_params, progress
    )
    if n_resamples < min_resamples(confidence_level):
        warnings.warn(
            few_resamples_message(f"n_resamples={n_resamples}", confidence_level),
            DegenerateBootstrapWarning,
            stacklevel=2,
        )
    _check_scheme(estimator, scheme, strata)
    rng = as_generator(random_state)
    stat = _Statistic(statistic)
    with_se = method == "studentized"
    n = n_rows(X)
    groups = None if groups is None else _check_labels(groups, "groups", n)
    if strata is not None and not (isinstance(strata, str) and strata == "treatment"):
        strata = _check_labels(strata, "strata", n)

    reason = _vectorized_reason(estimator, stat, fit_params)
    if engine == "vectorized" and reason is not None:
        raise ValueError(f"engine='vectorized' does not apply: {reason}")
    use_batch = engine != "refit" and reason is None
    fitted = clone(estimator)
    inputs = None
    if use_batch:  # the full-data fit and its validated input, once
        inputs = fit_mediation(
            fitted, X, y, fit_params.get("sample_weight"), fit_params.get("groups")
        )
    else:
        fitted.fit(X, y, **fit_params)
    dropped = _dropped_rows(fitted)
    if dropped.size:
        # missing="drop": resample the rows the fit used, once left out here
        kept = np.setdiff1d(np.arange(n), dropped)
        fit_params = {
            key: take_rows(value, kept) if _is_row_param(value, n) else value
            for key, value in fit_params.items()
        }
        X, y = take_rows(X, kept), take_rows(y, kept)
        groups = None if groups is None else groups[kept]
        if strata is not None and not isinstance(strata, str):
            strata = strata[kept]
        n = kept.size
    _check_complete(groups, "groups")
    _check_complete(None if isinstance(strata, str) else strata, "strata")
    estimate, se_hat, names = _full_data_statistic(stat, fitted, with_se)
    if isinstance(strata, str):
        strata = _treatment_strata(fitted, X)
    sample_weight = fit_params.get("sample_weight")
    row_weights = (
        None
        if sample_weight is None
        else check_sample_weight(sample_weight, np.asarray(y, dtype=float))
    )
    units = make_units(n, strata, groups, row_weights)
    distinct = log_distinct_resamples(scheme, units)
    if distinct < np.log(n_resamples):
        warnings.warn(
            f"the data admit only about {np.exp(distinct):.0f} distinct resamples "
            f"under scheme={scheme!r}, fewer than n_resamples={n_resamples}; the "
            "bootstrap distribution is discrete and its intervals are unreliable",
            DegenerateBootstrapWarning,
            stacklevel=2,
        )

    wild = scheme in ("wild", "wild_mammen")
    resampler = _Resampler(
        estimator,
        X,
        y,
        fit_params,
        units,
        row_weights,
        np.asarray(fitted.predict(X), dtype=float) if wild else None,
        stat,
        with_se,
        len(names),
    )
    vectorized = None
    if engine != "refit" and reason is None:
        needs_cov = with_se or any(_TERMS[p][0] == "std_errors" for p in stat.paths)
        vectorized = _Vectorized(fitted, inputs, units, needs_cov)
    # about four arrays of (block, n): unit values, row values and copies
    block = max(1, _BLOCK_BYTES // (8 * n * 4))

    name = type(estimator).__name__
    with ProgressBar(n_resamples, f"bootstrap ({name})", "resample", progress) as bar:
        collector = _collect(
            resampler,
            vectorized,
            scheme,
            draw(scheme, units, n_resamples, rng, block),
            n_resamples,
            n_jobs,
            bar,
        )
    if collector.failed.any():
        warnings.warn(
            f"{collector.failed.sum()} of {n_resamples} resamples failed and are left "
            f"out of the interval; the first: {collector.errors[0]}",
            FailedResampleWarning,
            stacklevel=2,
        )
    collector.warn("resample", n_resamples)
    jack = None
    if method == "bca":
        with ProgressBar(
            units.n_units, f"jackknife ({name})", "resample", progress
        ) as bar:
            jack_collector = _collect(
                resampler,
                vectorized,
                "jackknife",
                jackknife(units, block),
                units.n_units,
                n_jobs,
                bar,
            )
        jack_collector.warn("jackknife", units.n_units)
        jack = jack_collector.values

    ok = ~collector.failed
    dist = collector.values
    low, high, problems = _interval(
        method,
        confidence_level,
        estimate,
        dist[:, ok],
        se_hat,
        None if collector.ses is None else collector.ses[:, ok],
        jack,
        names,
    )
    if problems:
        warnings.warn(
            "degenerate bootstrap distribution: " + "; ".join(problems),
            DegenerateBootstrapWarning,
            stacklevel=2,
        )
    standard_error = np.full(len(names), np.nan)
    if ok.sum() > 1:
        standard_error = np.std(dist[:, ok], axis=1, ddof=1)
    return BootstrapResult(
        estimate=estimate,
        confidence_interval=ConfidenceInterval(low, high),
        standard_error=standard_error,
        bootstrap_distribution=dist,
        n_failed=int(collector.failed.sum()),
        statistic_names=tuple(names),
        method=method,
        confidence_level=float(confidence_level),
        scheme=scheme,
        engine="refit" if vectorized is None else "vectorized",
    )


def _collect(resampler, vectorized, scheme, blocks, total, n_jobs, bar):
    """The statistics of every resample, in order, by refits or the vectorized engine.

    ``bar`` (a :class:`~skmediate._progress.ProgressBar`) counts the resamples
    done: one by one for refits, a block at a time for the vectorized engine.
    """
    collector = _Collector(resampler.n_statistics, total, resampler.with_se)
    if vectorized is None:
        tasks = (resampler.task(scheme, values) for block in blocks for values in block)
        for result in bar.track(resampler.refit(tasks, n_jobs)):
            collector.add(*result)
        return collector
    # many small products and factorizations: one BLAS thread is faster
    for block in blocks:
        with one_blas_thread():
            params, std_errors, suspect = vectorized.fit(scheme, block)
        values, ses = resampler.statistic.from_batch(
            vectorized.design, params, std_errors
        )
        start = 0
        for b in np.flatnonzero(suspect):  # refit these exactly, in order
            collector.add_block(values[start:b], ses[start:b])
            collector.add(*resampler.fit(resampler.task(scheme, block[b])))
            start = b + 1
        collector.add_block(values[start:], ses[start:])
        bar.update(len(block))
    return collector
