"""SensitivityGrid: the sensitivity analysis of Small (2012, section 6), exactly and without refits."""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.pipeline import Pipeline
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._linalg import (
    LinearFit,
    _group_sums,
    group_count,
    is_dask,
    reduce_rows,
    weighted_mean,
)
from ._parallel import parallel_map, record_warnings
from ._roles import role_names, transform_roles
from ._validation import HasMethods, StrOptions, fit_context

__all__ = ["SensitivityGrid", "SensitivityForms", "sensitivity_forms"]

EFFECTS = ("direct_effect", "mediator_effect")


# ---------------------------------------------------------------------------
# Numerics: the estimates are linear and the variances quadratic in tau.


@dataclass(frozen=True, eq=False)
class SensitivityForms:
    """Exact closed forms of the two effects and their variances as functions of τ.

    With ``τ = [τ_R, τ_M]`` (length ``2p``):

    - estimates: ``θ_j(τ) = estimate_j - shift_j · τ``;
    - variances: ``Var_j(τ) = factor_j · ‖T_j [1, -τ]‖²`` with a small
      upper-triangular ``T_j`` of size ``2p + 1``.

    Attributes
    ----------
    estimate : ndarray of shape (2,)
        Direct and mediator effects at ``τ = 0``.
    shift : ndarray of shape (2, 2p)
        Rows of ``H V`` for the two effects, ``V = [R·(X - X̄), M·(X - X̄)]``.
    factors : ndarray of shape (2, 2p + 1, 2p + 1)
    scale : ndarray of shape (2,)
    """

    estimate: np.ndarray
    shift: np.ndarray
    factors: np.ndarray
    scale: np.ndarray

    def evaluate(self, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Estimates and standard errors at each row of ``tau`` (shape (G, 2p))."""
        tau = np.atleast_2d(tau)
        estimates = self.estimate - tau @ self.shift.T
        augmented = np.hstack([np.ones((tau.shape[0], 1)), -tau])
        se = np.empty_like(estimates)
        for j in range(2):
            projected = augmented @ self.factors[j].T
            se[:, j] = np.sqrt(
                self.scale[j] * np.einsum("ij,ij->i", projected, projected)
            )
        return estimates, se

    def variance_quadratic(self, j: int, component: int) -> tuple[float, float, float]:
        """``Var_j(t e_k) = a - 2 b t + c t²`` along one τ component."""
        base, direction = self.factors[j][:, 0], self.factors[j][:, 1 + component]
        s = self.scale[j]
        return s * base @ base, s * base @ direction, s * direction @ direction


def sensitivity_forms(
    fit: LinearFit,
    directions: np.ndarray,
    cov_type: str,
    groups: np.ndarray | None,
    effects: tuple[int, int],
) -> SensitivityForms:
    """Closed forms of the effects and their variances under outcome shifts.

    The outcome ``ỹ = y - V τ`` changes the estimates by ``-H V τ`` (``H`` the
    linear-in-y operator of ``fit``) and the residuals by ``-(V - D H V) τ``,
    so every covariance is a quadratic form in ``[1, -τ]``. For each effect
    ``j`` the variance is ``factor · Σ_u (α_u - β_uᵀ τ)²`` over units ``u``
    (rows, or clusters for ``cov_type="cluster"``); the triangular factor of
    the matrix ``[α, β]`` evaluates it at any ``τ`` without cancellation.

    Parameters
    ----------
    fit : LinearFit
        The structural fit at ``τ = 0``.
    directions : ndarray of shape (n, 2p)
        ``V = [R·(X - X̄), M·(X - X̄)]`` on the rows of ``fit``.
    cov_type : str
    groups : ndarray of int, optional
        Cluster codes for ``cov_type="cluster"``.
    effects : (int, int)
        Positions of the direct and mediator effects in ``fit.params``.
    """
    n, k = fit.nobs, fit.n_params
    effects = list(effects)
    operator = fit.solve(directions)  # H V, shape (k, 2p)
    bread = fit.bread()
    homoskedastic = cov_type in ("unadjusted", "classical")
    n_groups = group_count(groups) if cov_type == "cluster" else None
    if homoskedastic:
        scale = [
            bread[j, j] / (n if cov_type == "unadjusted" else n - k) for j in effects
        ]
    elif cov_type == "cluster":
        scale = [n_groups / (n_groups - 1) * (n - 1) / (n - k)] * len(effects)
    else:
        scale = [1.0 if cov_type == "HC0" else n / (n - k)] * len(effects)
    optional = [a for a in (fit.weights, groups if n_groups else None) if a is not None]

    has_weights = fit.weights is not None  # the closure must not hold `fit`

    def on_chunk(resid, shift_dirs, design, regressors, *rest):
        rest = list(rest)
        w = rest.pop(0) if has_weights else None
        codes = rest.pop(0) if n_groups else None
        # residuals at τ are base @ [1, -τ]
        base = np.column_stack([resid, shift_dirs - design.dot(operator)])
        if homoskedastic:
            units = base if w is None else base * np.sqrt(w)[:, None]
            return [np.linalg.qr(units, mode="r")] * len(effects)
        influence = regressors.dot(bread[:, effects])  # (B d̂_i)_j
        if codes is not None:
            weight = influence if w is None else w[:, None] * influence
            return np.stack(
                [
                    _group_sums(base * weight[:, [col]], codes, n_groups)
                    for col in range(len(effects))
                ]
            )
        weight = influence if w is None else np.sqrt(w)[:, None] * influence
        return [
            np.linalg.qr(base * weight[:, [col]], mode="r")
            for col in range(len(effects))
        ]

    arrays = [fit.resid, directions, fit.design, fit.regressors, *optional]
    if n_groups:
        # the per-cluster sums add up over chunks; their factor is taken once
        sums = reduce_rows(on_chunk, arrays)
        factors = [np.linalg.qr(unit_sums, mode="r") for unit_sums in sums]
    else:
        factors = reduce_rows(
            on_chunk,
            arrays,
            combine=lambda results: [
                np.linalg.qr(np.vstack(x), mode="r") for x in zip(*results, strict=True)
            ],
        )
    size = operator.shape[1] + 1
    padded = np.zeros((2, size, size))
    for j, r in enumerate(factors):
        padded[j, : r.shape[0]] = r
    return SensitivityForms(
        estimate=fit.params[effects].copy(),
        shift=operator[effects],
        factors=padded,
        scale=np.asarray(scale),
    )


def _directions(roles, weights):
    """``V = [R·(X - X̄), M·(X - X̄)]``: the outcome shifts per unit of ``τ``."""
    centered = roles.covariates
    if centered.shape[1]:
        centered = centered - weighted_mean(centered, weights)
    parts = [roles.treatment[:, None] * centered, roles.mediator[:, None] * centered]
    if is_dask(centered):
        import dask.array as da

        return da.hstack(parts)
    return np.hstack(parts)


def _crossings(quad: tuple[float, float, float]) -> np.ndarray:
    """Real roots of ``q0 + q1 t + q2 t²``, sorted."""
    q0, q1, q2 = quad
    if abs(q2) <= 1e-14 * (abs(q1) + abs(q0)):
        return np.array([-q0 / q1]) if q1 != 0 else np.array([])
    disc = q1 * q1 - 4 * q2 * q0
    if disc < 0:
        return np.array([])
    root = np.sqrt(disc)
    # Numerically stable pair of roots.
    qq = -0.5 * (q1 + np.copysign(root, q1))
    roots = [qq / q2, q0 / qq] if qq != 0 else [0.0, 0.0]
    return np.sort(roots)


def ci_breakdown(
    forms: SensitivityForms, j: int, component: int, z: float
) -> tuple[float, float]:
    """Values of one τ component (others 0) at which the CI of effect ``j`` reaches 0.

    The CI ``θ(t) ± z·se(t)`` contains 0 exactly where
    ``f(t) = θ(t)² - z² Var(t) ≤ 0``, a quadratic inequality in ``t``. Returns
    the smallest ``t ≥ 0`` and the largest ``t ≤ 0`` at which it holds
    (``0`` when the interval at ``τ = 0`` already contains 0, ``nan`` when it
    never does in that direction).
    """
    theta, h = forms.estimate[j], forms.shift[j, component]
    a, b, c = forms.variance_quadratic(j, component)
    quad = (
        theta * theta - z * z * a,
        -2 * theta * h + 2 * z * z * b,
        h * h - z * z * c,
    )

    def covers(t):
        return quad[0] + quad[1] * t + quad[2] * t * t <= 0

    if covers(0.0):
        return 0.0, 0.0
    roots = _crossings(quad)
    up = [t for t in roots if t > 0]
    down = [t for t in roots if t < 0]
    upper = min(up) if up else np.nan
    lower = max(down) if down else np.nan
    return float(upper), float(lower)


# ---------------------------------------------------------------------------
# The meta-estimator.


def _final_step(estimator):
    return estimator[-1] if isinstance(estimator, Pipeline) else estimator


def _estimator_has(attr):
    def check(self):
        return hasattr(self.estimator, attr)

    return check


class SensitivityGrid(MetaEstimatorMixin, BaseEstimator):
    """Sensitivity of mediation estimates to effect modification by the covariates.

    The instrumental-variable estimates rest on assumption IV-A2: the average
    direct effect ``θ_R`` and mediator effect ``θ_M`` do not vary with the
    baseline covariates ``X``. Small (2012, section 6) relaxes it to
    ``E[θ_Ri | X] = θ_R + τ_Rᵀ(X - E[X])`` and ``E[θ_Mi | X] = θ_M + τ_Mᵀ(X - E[X])``;
    for known ``τ`` the same two-stage least squares on the outcome
    ``ỹ = y - R·(X - X̄)ᵀτ_R - M·(X - X̄)ᵀτ_M`` is consistent again. This
    meta-estimator re-estimates both effects over a grid of ``τ`` values (the
    paper's Table 2).

    Parameters
    ----------
    estimator : IVMediationRegressor, NaiveMediationRegressor or Pipeline
        The estimator (or a Pipeline ending in one) to analyse. For
        ``method="refit"`` any estimator exposing ``direct_effect_``,
        ``mediator_effect_``, ``result_`` (with ``std_errors`` and
        ``conf_int()`` indexed by term name) and the fitted role transformer
        ``column_transformer_`` works.
    tau_direct, tau_mediator : dict, array-like or None, default=None
        Values of ``τ_R`` and ``τ_M``. Either dicts ``{covariate name: list of
        values}`` — the grid is the cartesian product over both dicts, and
        covariates not named get ``τ = 0`` — or arrays with one row per grid
        point and one column per covariate (both arrays must then have the same
        number of rows). ``None`` means ``τ = 0`` for that effect. Names are the
        estimator's covariate names after ``covariate_transformer``.
    method : {"auto", "closed_form", "refit"}, default="auto"
        ``"closed_form"`` updates the estimates linearly and the covariance
        quadratically in ``τ`` (exact, no refits); ``"refit"`` clones and refits
        the estimator at every grid point; ``"auto"`` uses the closed form
        whenever the estimator is linear in the outcome (the built-in
        estimators with two-stage or ordinary least squares).
    n_jobs : int or None, default=None
        Parallel refits with joblib (``method="refit"`` only); ``None`` means
        1 unless in a ``joblib.parallel_config`` context. Any joblib backend
        works, including Dask's for a cluster (``with
        joblib.parallel_config(backend="dask"): grid.fit(X, y)``), with the
        same results. Warnings issued by the refits are repeated once per
        category, with the number of refits that issued them.

    Attributes
    ----------
    estimator_ : estimator
        The estimator fitted at ``τ = 0``; ``predict`` and ``score`` use it.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when the estimator defines it.
    grid_ : ndarray of shape (n_grid, 2p)
        The grid, ``[τ_R, τ_M]`` per row.
    covariate_names_ : list of str
    method_ : str
        The method used.
    results_ : dict of ndarrays
        Equal-length arrays in grid order: ``tau_direct[<name>]``,
        ``tau_mediator[<name>]``, and for ``direct_effect`` and
        ``mediator_effect`` the estimate and its ``_se``, ``_ci_low``,
        ``_ci_high``.
    sensitivity_interval_ : pandas.DataFrame
        For each effect, the range of the point estimates over the grid
        (``estimate_low``, ``estimate_high``) and the union of the confidence
        intervals (``ci_low``, ``ci_high``): what a reader must accept if any
        grid point may be true.
    breakdown_ : pandas.DataFrame
        One row per effect and ``τ`` component (``tau_direct[<name>]`` or
        ``tau_mediator[<name>]``), moving that component alone with the others
        at 0: ``sign_change``, the value at which the estimate crosses 0
        (``nan`` if it does not depend on that component); ``ci_covers_zero_up``,
        the smallest value ``≥ 0`` at which the confidence interval contains 0;
        ``ci_covers_zero_down``, the largest value ``≤ 0`` at which it does
        (both ``0`` when the interval at ``τ = 0`` already contains 0, ``nan``
        when no value in that direction makes it do so). All are solved exactly
        from the linear and quadratic forms, not read off the grid.

    See Also
    --------
    IVMediationRegressor : The estimator analysed.

    Notes
    -----
    The paper assumes ``E[X]`` known; here ``X̄`` is the (weighted) sample
    mean of the covariates, computed once on the fitting data. Because the
    estimates are linear in the outcome, ``θ̂(τ) = θ̂(0) - H[R(X-X̄)]τ_R -
    H[M(X-X̄)]τ_M`` with ``H`` the linear-in-y operator, and the residuals are
    affine in ``τ``; so every covariance type (unadjusted, classical, HC0, HC1,
    cluster, with weights) is a quadratic form in ``τ``. The shift of any grid
    point from ``τ = 0`` is the sum of its single-component shifts, as in the
    paper's Table 2.

    References
    ----------
    Small, D. S. (2012). Mediation analysis without sequential ignorability:
    using baseline covariates interacted with random assignment as instrumental
    variables. Journal of Statistical Research, 46(2), 91-103.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skmediate import IVMediationRegressor, SensitivityGrid
    >>> rng = np.random.default_rng(0)
    >>> n = 2000
    >>> df = pd.DataFrame({"r": rng.integers(0, 2, n), "x1": rng.normal(size=n),
    ...                    "x2": rng.normal(size=n)})
    >>> df["m"] = df.r * (1 + df.x1 - df.x2) + rng.normal(size=n)
    >>> y = 1 - df.r + 2 * df.m + rng.normal(size=n)
    >>> grid = SensitivityGrid(
    ...     IVMediationRegressor(treatment="r", mediator="m"),
    ...     tau_direct={"x1": [0, 1], "x2": [0, 1]},
    ...     tau_mediator={"x1": [0, 1], "x2": [0, 1]},
    ... ).fit(df, y)
    >>> grid.to_frame().shape
    (16, 12)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit"])],
        "tau_direct": [dict, "array-like", None],
        "tau_mediator": [dict, "array-like", None],
        "method": [StrOptions({"auto", "closed_form", "refit"})],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        estimator,
        *,
        tau_direct=None,
        tau_mediator=None,
        method="auto",
        n_jobs=None,
    ):
        self.estimator = estimator
        self.tau_direct = tau_direct
        self.tau_mediator = tau_mediator
        self.method = method
        self.n_jobs = n_jobs

    # -- fitting ------------------------------------------------------------

    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None, groups=None):
        """Fit the estimator at ``τ = 0`` and re-estimate over the grid.

        Parameters
        ----------
        X : {array-like, DataFrame, dask array, dask DataFrame} of shape \
                (n_samples, n_features)
            With dask data the closed form reduces each partition where it
            lives (``method="refit"`` needs in-memory data).
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Frequency weights, passed to the estimator.
        groups : array-like of shape (n_samples,), default=None
            Cluster labels, passed to the estimator (``cov_type="cluster"``).

        Returns
        -------
        self : object
        """
        if is_dask(X):
            self._check_dask_method()
        fit_params = self._fit_params(sample_weight, groups)
        self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        final = _final_step(self.estimator_)
        if hasattr(self.estimator_, "n_features_in_"):
            self.n_features_in_ = self.estimator_.n_features_in_
        if hasattr(self.estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.estimator_.feature_names_in_
        missing = [
            a
            for a in (
                "direct_effect_",
                "mediator_effect_",
                "result_",
                "column_transformer_",
            )
            if not hasattr(final, a)
        ]
        if missing:
            raise TypeError(
                f"SensitivityGrid needs an estimator exposing direct_effect_, "
                f"mediator_effect_, result_ and column_transformer_ after fit; "
                f"{type(final).__name__} lacks {missing}"
            )
        X_final = (
            self.estimator_[:-1].transform(X)
            if isinstance(self.estimator_, Pipeline)
            else X
        )
        lazy = is_dask(X_final)
        if lazy:
            # dask data: the directions are formed lazily from the validated roles
            self.covariate_names_ = list(
                role_names(final.column_transformer_)["covariates"]
            )
            directions = None
        else:
            roles = transform_roles(final.column_transformer_, X_final)
            self.covariate_names_ = list(roles.names["covariates"])
            weights = (
                None
                if sample_weight is None
                else np.asarray(sample_weight, dtype=float)
            )
            directions = _directions(roles, weights)
        self.grid_ = self._build_grid()

        method = self.method
        closed_form_ok = getattr(final, "linear_in_y", False) and hasattr(
            final, "_fit_data"
        )
        if method == "auto":
            method = "closed_form" if closed_form_ok else "refit"
        if method == "closed_form" and not closed_form_ok:
            kappa = f"(kappa={final.kappa!r})" if hasattr(final, "kappa") else ""
            raise ValueError(
                f"method='closed_form' needs an estimator that is linear in the "
                f"outcome (NaiveMediationRegressor, or IVMediationRegressor with "
                f"kappa='2sls' or a fixed number); got {type(final).__name__}"
                f"{kappa}; use method='refit'"
            )
        self.method_ = method
        level = final.confidence_level if hasattr(final, "confidence_level") else 0.95
        if method == "closed_form":
            estimates, se = self._closed_form(
                final, X_final, y, sample_weight, groups, directions
            )
            z = stats.norm.isf((1 - level) / 2)
            low, high = estimates - z * se, estimates + z * se
        else:
            (estimates, se, low, high), caught = self._refit(
                X, y, fit_params, directions
            )
            for category, (count, first) in caught.items():
                warnings.warn(
                    f"{category.__name__} was issued by {count} of "
                    f"{len(self.grid_)} refits over the grid; the first: {first}",
                    category,
                    stacklevel=3,
                )
        self._store(estimates, se, low, high, level)
        return self

    def _check_dask_method(self):
        """Dask data take the closed form, before anything is fitted."""
        if self.method == "refit":
            raise ValueError(
                "method='refit' needs in-memory data; with dask input use "
                "method='closed_form' (or 'auto'), which reduces each partition "
                "where it lives"
            )
        final = _final_step(self.estimator)
        if not getattr(final, "linear_in_y", False):
            kappa = f"(kappa={final.kappa!r})" if hasattr(final, "kappa") else ""
            raise ValueError(
                "SensitivityGrid on dask data needs the closed form, which needs "
                "an estimator linear in the outcome (NaiveMediationRegressor, or "
                "IVMediationRegressor with kappa='2sls' or a fixed number); got "
                f"{type(final).__name__}{kappa}"
            )

    def _fit_params(self, sample_weight, groups):
        params = {}
        if sample_weight is not None:
            params["sample_weight"] = sample_weight
        if groups is not None:
            params["groups"] = groups
        if isinstance(self.estimator, Pipeline):
            last = self.estimator.steps[-1][0]
            params = {f"{last}__{key}": value for key, value in params.items()}
        return params

    def _closed_form(self, final, X_final, y, sample_weight, groups, directions):
        helper = clone(final)
        data = helper._prepare(X_final, y, sample_weight, groups)
        solution = helper._fit_data(data)
        if directions is None:
            directions = _directions(data.roles, data.weights)
        elif sample_weight is not None:
            directions = directions[np.asarray(sample_weight, dtype=float) > 0]
        k = solution.structural.n_params
        self.forms_ = sensitivity_forms(
            solution.structural, directions, final.cov_type, data.groups, (k - 2, k - 1)
        )
        return self.forms_.evaluate(self.grid_)

    def _refit(self, X, y, fit_params, directions):
        """Refits at the grid points, in grid order, and the warnings they issued.

        The warnings are ``{category: (number of refits, first message)}``,
        recorded in the workers whatever the joblib backend.
        """
        y = np.asarray(y, dtype=float).reshape(-1)
        outputs = parallel_map(
            _refit_one,
            (
                (self.estimator, X, y - directions @ tau, fit_params)
                for tau in self.grid_
            ),
            self.n_jobs,
        )
        caught = {}
        for _, warned in outputs:
            firsts = {}  # this refit's first message of each category
            for category, message in warned:
                firsts.setdefault(category, message)
            for category, message in firsts.items():
                count, first = caught.get(category, (0, message))
                caught[category] = (count + 1, first)
        stacked = np.asarray([values for values, _ in outputs])  # (G, 4, 2)
        return (stacked[:, 0], stacked[:, 1], stacked[:, 2], stacked[:, 3]), caught

    def _store(self, estimates, se, low, high, level):
        p = len(self.covariate_names_)
        results = {}
        for i, name in enumerate(self.covariate_names_):
            results[f"tau_direct[{name}]"] = self.grid_[:, i].copy()
        for i, name in enumerate(self.covariate_names_):
            results[f"tau_mediator[{name}]"] = self.grid_[:, p + i].copy()
        for j, effect in enumerate(EFFECTS):
            results[effect] = estimates[:, j]
            results[f"{effect}_se"] = se[:, j]
            results[f"{effect}_ci_low"] = low[:, j]
            results[f"{effect}_ci_high"] = high[:, j]
        self.results_ = results
        self.confidence_level_ = level
        self.sensitivity_interval_ = pd.DataFrame(
            {
                "estimate_low": [results[e].min() for e in EFFECTS],
                "estimate_high": [results[e].max() for e in EFFECTS],
                "ci_low": [results[f"{e}_ci_low"].min() for e in EFFECTS],
                "ci_high": [results[f"{e}_ci_high"].max() for e in EFFECTS],
            },
            index=pd.Index(EFFECTS, name="effect"),
        )
        if self.method_ == "closed_form":
            self.breakdown_ = self._breakdown(level)

    def _breakdown(self, level):
        z = stats.norm.isf((1 - level) / 2)
        p = len(self.covariate_names_)
        labels = [f"tau_direct[{n}]" for n in self.covariate_names_] + [
            f"tau_mediator[{n}]" for n in self.covariate_names_
        ]
        rows = []
        for j, effect in enumerate(EFFECTS):
            for component in range(2 * p):
                h = self.forms_.shift[j, component]
                up, down = ci_breakdown(self.forms_, j, component, z)
                rows.append(
                    {
                        "effect": effect,
                        "parameter": labels[component],
                        "sign_change": self.forms_.estimate[j] / h
                        if h != 0
                        else np.nan,
                        "ci_covers_zero_up": up,
                        "ci_covers_zero_down": down,
                    }
                )
        columns = [
            "effect",
            "parameter",
            "sign_change",
            "ci_covers_zero_up",
            "ci_covers_zero_down",
        ]
        return pd.DataFrame(rows, columns=columns).set_index(["effect", "parameter"])

    # -- the grid -----------------------------------------------------------

    def _build_grid(self) -> np.ndarray:
        names = self.covariate_names_
        p = len(names)
        direct, mediator = self.tau_direct, self.tau_mediator
        dicts = [t for t in (direct, mediator) if isinstance(t, dict)]
        arrays = [
            t for t in (direct, mediator) if t is not None and not isinstance(t, dict)
        ]
        if dicts and arrays:
            raise ValueError(
                "tau_direct and tau_mediator must both be dicts (a cartesian grid) "
                "or both be arrays (one row per grid point), not one of each"
            )
        if arrays:
            blocks = [
                self._tau_array(t, label)
                for t, label in ((direct, "tau_direct"), (mediator, "tau_mediator"))
            ]
            rows = {b.shape[0] for b in blocks if b is not None}
            if len(rows) > 1:
                raise ValueError(
                    f"tau_direct and tau_mediator arrays must have the same number "
                    f"of rows (grid points); got {sorted(rows)}"
                )
            n_rows = rows.pop()
            blocks = [np.zeros((n_rows, p)) if b is None else b for b in blocks]
            return np.hstack(blocks)
        axes = []  # (column in the grid, values); the mediator axes are outermost
        for offset, spec, label in (
            (p, mediator, "tau_mediator"),
            (0, direct, "tau_direct"),
        ):
            if spec is None:
                continue
            unknown = [key for key in spec if key not in names]
            if unknown:
                raise ValueError(
                    f"{label} names covariate(s) {unknown} that the estimator does not "
                    f"have; its covariates are {names}"
                )
            for i, name in enumerate(names):
                if name in spec:
                    values = np.asarray(spec[name], dtype=float).reshape(-1)
                    if values.size == 0:
                        raise ValueError(
                            f"{label}[{name!r}] is empty: the grid has no points"
                        )
                    _check_finite(values, f"{label}[{name!r}]")
                    axes.append((offset + i, values))
        grid = np.zeros((int(np.prod([len(v) for _, v in axes])), 2 * p))
        for row, combo in enumerate(itertools.product(*[v for _, v in axes])):
            for (column, _), value in zip(axes, combo, strict=True):
                grid[row, column] = value
        return grid

    def _tau_array(self, tau, label):
        if tau is None:
            return None
        values = np.asarray(tau, dtype=float)
        if values.ndim == 1:
            values = values.reshape(1, -1)
        p = len(self.covariate_names_)
        if values.ndim != 2 or values.shape[1] != p:
            raise ValueError(
                f"{label} must have one column per covariate ({p}: "
                f"{self.covariate_names_}); got shape {np.shape(tau)}"
            )
        if values.shape[0] == 0:
            raise ValueError(f"{label} has no rows: the grid has no points")
        _check_finite(values, label)
        return values

    # -- output -------------------------------------------------------------

    def to_frame(self) -> pd.DataFrame:
        """The grid as a DataFrame, one row per grid point in grid order."""
        check_is_fitted(self)
        return pd.DataFrame(self.results_)

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict with the estimator fitted at ``τ = 0``."""
        check_is_fitted(self)
        return self.estimator_.predict(X)

    @available_if(_estimator_has("score"))
    def score(self, X, y, sample_weight=None):
        """Score of the estimator fitted at ``τ = 0``."""
        check_is_fitted(self)
        return self.estimator_.score(X, y, sample_weight=sample_weight)


def _check_finite(values, label):
    if not np.isfinite(values).all():
        raise ValueError(f"{label} contains NaN or inf; every τ must be finite")


def _refit_one(estimator, X, y, fit_params):
    """Fit a clone: the effects' ``[estimate, se, ci_low, ci_high]`` and warnings."""
    with record_warnings() as caught:
        fitted = clone(estimator).fit(X, y, **fit_params)
    final = _final_step(fitted)
    result = final.result_
    treatment = getattr(result, "treatment", result.params.index[-2])
    mediator = getattr(result, "mediator", result.params.index[-1])
    ci = result.conf_int()
    values = [
        [final.direct_effect_, final.mediator_effect_],
        [result.std_errors[treatment], result.std_errors[mediator]],
        [ci.loc[treatment, "lower"], ci.loc[mediator, "lower"]],
        [ci.loc[treatment, "upper"], ci.loc[mediator, "upper"]],
    ]
    return values, [(w.category, str(w.message)) for w in caught]
