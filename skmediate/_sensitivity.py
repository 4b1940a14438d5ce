"""SensitivityGrid: the sensitivity analysis of Small (2012, section 6), exactly and without refits."""

from __future__ import annotations

import itertools
import warnings
from copy import deepcopy
from numbers import Integral
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn import get_config
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    process_routing,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from skmediate._estimators import _MediationRegressor, fit_mediation
from skmediate._numerics.covariance import anderson_rubin_kind, cov_type
from skmediate._numerics.joint import direct_set, mediator_set
from skmediate._numerics.kleibergen import robust_clr_defined, robust_clr_set
from skmediate._numerics.projection import direct_ar_set
from skmediate._numerics.rows import is_dask
from skmediate._numerics.sensitivity import (
    check_robust_sets,
    ci_breakdown,
    refit_inference,
)
from skmediate._numerics.sets import ConfidenceSet, merge_intervals
from skmediate._numerics.weakiv import anderson_rubin_set, clr_set
from skmediate._parallel import parallel_map, record_warnings
from skmediate._progress import ProgressBar, check_progress
from skmediate._results import critical_quantile
from skmediate._typing import Data
from skmediate._validation import (
    HasMethods,
    StrOptions,
    as_float_vector,
    fit_context,
    n_rows,
)

if TYPE_CHECKING:
    from typing_extensions import Self

    from skmediate._report.document import Summary

__all__ = ["SensitivityGrid"]

EFFECTS = ("direct_effect", "mediator_effect")


def grid_effects(mediators) -> tuple[str, ...]:
    """The effects a grid reports: :data:`EFFECTS` for one mediator, with several
    ``direct_effect`` and ``mediator_effect[<name>]`` per mediator."""
    if len(mediators) == 1:
        return EFFECTS
    return ("direct_effect", *(f"mediator_effect[{m}]" for m in mediators))


def tau_columns(covariates, mediators) -> list[str]:
    """The grid's ``τ`` columns in the order of ``grid_``: ``tau_direct[<covariate>]``,
    then ``tau_mediator[<covariate>]`` (with several mediators
    ``tau_mediator[<mediator>][<covariate>]``, mediator by mediator)."""
    columns = [f"tau_direct[{c}]" for c in covariates]
    if len(mediators) == 1:
        return columns + [f"tau_mediator[{c}]" for c in covariates]
    return columns + [f"tau_mediator[{m}][{c}]" for m in mediators for c in covariates]


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
    paper's Table 2). With several mediators each has its own ``τ_Mj``:
    ``ỹ = y - R·(X - X̄)ᵀτ_R - Σ_j M_j·(X - X̄)ᵀτ_Mj``, and the grid reports
    each mediator's effect.

    Parameters
    ----------
    estimator : IVMediationRegressor, NaiveMediationRegressor or Pipeline
        The estimator (or a Pipeline ending in one) to analyse.
    tau_direct, tau_mediator : dict, array-like or None, default=None
        Values of ``τ_R`` and ``τ_M``. Either dicts ``{covariate name: list of
        values}`` — the grid is the cartesian product over both dicts, and
        covariates not named get ``τ = 0`` — or arrays with one row per grid
        point and one column per covariate (both arrays must then have the same
        number of rows). ``None`` means ``τ = 0`` for that effect. Names are the
        estimator's covariate names after ``covariate_transformer``.

        With several mediators ``tau_mediator`` is a dict keyed by mediator
        name whose values are what it is for one mediator: ``{"m1": {"x1":
        [0, 1]}, "m2": {"x2": [0, 1]}}`` (then ``tau_direct`` is a dict or
        None), or ``{"m1": array, ...}`` with one row per grid point (then
        ``tau_direct`` is an array or None); a mediator it does not name has
        ``τ_M = 0``. With one mediator that form, keyed by its name, is
        accepted too.
    method : {"auto", "closed_form", "refit"}, default="auto"
        ``"closed_form"`` updates the estimates linearly and the covariance
        quadratically in ``τ`` (exact, no refits), with one mediator or
        several, and with ``robust_sets`` also the reduced forms of the
        robust sets; ``"refit"`` clones and refits the estimator at every
        grid point; ``"auto"`` uses the closed form whenever the estimator
        is linear in the outcome (the built-in estimators with two-stage or
        ordinary least squares), except for robust sets with a
        cluster-robust covariance that adjusts the clusters' scores by their
        leverage (see ``robust_sets``).
    robust_sets : bool, default=False
        Also report, at every grid point, the weak-instrument-robust sets of
        the fit on ``ỹ(τ)``, and their unions over the grid (IV estimators
        only). With one mediator: the Anderson–Rubin set of the mediator
        effect, the direct effect's set of ``confidence_set("direct")``
        (subvector Anderson–Rubin with homoskedastic covariances, the
        projection of the joint robust Anderson–Rubin set otherwise) and the
        conditional likelihood ratio set of the mediator effect (Moreira's
        with homoskedastic covariances, the robust CLR of
        ``confidence_set("mediator", "CLR")`` otherwise, where it is defined:
        with more clusters than twice the instruments). With several
        mediators: the sets of ``confidence_set`` with ``method=None`` (the
        Anderson–Rubin sets), the direct effect's and each mediator's
        (``confidence_set("mediator", mediator=name)``): subvector
        Anderson–Rubin sets with homoskedastic covariances, the projections
        of the joint robust Anderson–Rubin set otherwise. The closed form
        accumulates what they need in the one fit (no pass over the rows per
        grid point) for every row-robust and homoskedastic ``cov_type``; with
        cluster-robust ones, whose sets adjust the clusters' scores by their
        leverage (CR2, and the default CR3 meat of ``ar_meat="leverage"``),
        ``method="auto"`` refits at each point and ``"closed_form"`` is an
        error. Each set is inverted exactly at each point, which costs more
        than the Wald interval: on large grids expect milliseconds per point,
        tens of milliseconds for the robust CLR set (its conditional critical
        values along the set's boundary), and more for the projections of
        the joint robust set with several mediators, which cost at each
        point what the fit's own ``confidence_set`` costs.
    n_jobs : int or None, default=None
        Parallel refits with joblib (``method="refit"`` only); ``None`` means
        1 unless in a ``joblib.parallel_config`` context. Any joblib backend
        works, including Dask's for a cluster (``with
        joblib.parallel_config(backend="dask"): grid.fit(X, y)``), with the
        same results. Warnings issued by the refits are repeated once per
        category, with the number of refits that issued them.
    progress : bool, default=False
        Show a progress bar on standard error (a widget in a notebook) of
        the work done point by point: the refits (``method="refit"``), or
        the inversions of the robust sets at the grid points
        (``robust_sets=True`` with the closed form). The closed form of the
        estimates and their standard errors evaluates the whole grid in one
        vectorized step and shows no bar. Needs the optional dependency
        tqdm (``pip install 'skmediate[progress]'``).

    Attributes
    ----------
    estimator_ : estimator
        The estimator fitted at ``τ = 0``; ``predict`` and ``score`` use it.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Defined when the estimator defines it.
    grid_ : ndarray of shape (n_grid, (1 + n_mediators) p)
        The grid, ``[τ_R, τ_M]`` per row (``τ_M`` of each mediator in turn).
    covariate_names_ : list of str
    mediator_names_ : list of str
    method_ : str
        The method used.
    results_ : dict of ndarrays
        Equal-length arrays in grid order: ``tau_direct[<name>]``,
        ``tau_mediator[<name>]``, and for ``direct_effect`` and
        ``mediator_effect`` the estimate and its ``_se``, ``_lower``,
        ``_upper``. With several mediators the mediators' columns are
        ``tau_mediator[<mediator>][<name>]`` and
        ``mediator_effect[<mediator>]`` (with its ``_se``, ``_lower``,
        ``_upper``), mediator by mediator. With ``robust_sets``, per set
        (``direct_effect_ar``, ``mediator_effect_ar`` and
        ``mediator_effect_clr``; with several mediators ``direct_effect_ar``
        and ``mediator_effect[<mediator>]_ar`` per mediator)
        the set itself (a ``ConfidenceSet``, as ``confidence_set`` returns: an
        interval, two half-lines, the whole line or empty) and its hull's ends
        ``<set>_lower``, ``<set>_upper`` (``±inf`` when unbounded, ``nan``
        when empty).
    critical_value_ : ndarray of shape (1 + n_mediators,)
        The critical values of the intervals of the direct and the mediator
        effect (each mediator's): normal, or ``t`` with the degrees of
        freedom of the effect at ``τ = 0`` when the estimator has
        ``use_t=True``.
    sensitivity_interval_ : pandas.DataFrame
        For each effect (indexed as the effects' columns of :meth:`to_frame`),
        the range of the point estimates over the grid
        (``estimate_low``, ``estimate_high``) and the union of the confidence
        intervals (``lower``, ``upper``): what a reader must accept if any
        grid point may be true.
    sensitivity_sets_ : dict of str to ConfidenceSet
        With ``robust_sets``: the union over the grid of each robust set, keyed
        as its column of :meth:`to_frame` (``direct_effect_ar``,
        ``mediator_effect_ar`` and ``mediator_effect_clr``; with several
        mediators ``direct_effect_ar`` and ``mediator_effect[<mediator>]_ar``
        for each). Their hulls are also the columns ``ar_lower``,
        ``ar_upper`` (and ``clr_lower``, ``clr_upper``) of
        ``sensitivity_interval_``, in each effect's row.
    breakdown_ : pandas.DataFrame
        One row per effect and ``τ`` component the grid names
        (named as its column of :meth:`to_frame`: a dict's keys, every
        covariate for an array), moving that component alone with the others
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

    The outcome's shift depends on ``X̄``, which is estimated: the effect
    ``j`` at ``τ`` moves by ``τ_jᵀ(X̄ - E X)``, so its variance is that of
    ``θ_j + τ_jᵀ X̄`` from the stacked scores of the structural equation and
    the covariate means (with ``X̄`` taken as known, the intervals under-cover
    when the effects vary with ``X``). The closed form and the refits use this
    same rule. The closed forms are accumulated in the passes of the one fit
    of the estimator at ``τ = 0``.

    With ``robust_sets=True`` the weak-instrument-robust sets at each point
    are those that ``confidence_set`` gives for the fit on ``ỹ(τ)``. They
    are functions of the outcome's reduced form on the instruments, which is
    polynomial in ``τ``: its coordinates move by ``U_Qᵀ V τ`` (``V`` the
    columns ``R·(X - X̄)`` and ``M·(X - X̄)``, each mediator's with several,
    ``U_Q`` the instruments' orthonormal basis) and its residual is
    ``e_y - ṽ τ`` with ``ṽ = M_Q V``, zero for ``R·(X - X̄)`` (an
    instrument). The fit's second pass accumulates the cross-products of
    ``z = [e_y, e_M, ṽ]`` (``e_M`` each mediator's residual) and, for HC and
    cluster covariances, the meat of the score columns ``u ⊗ z`` (``u`` the
    coordinates of the treatment and the excluded instruments); at each
    point the moments follow by small-matrix algebra and the sets are
    inverted exactly, as for the fit itself. ``method="refit"`` computes
    them from the refits instead (the only way for CR2).

    For a known ``τ`` these sets are exact in the sense of the fit's own
    (the classical Anderson–Rubin set has exact level with normal
    homoskedastic errors) for the in-sample average effects
    ``θ̄_R = n⁻¹ Σ θ_R(x_i) = θ_R + τ_Rᵀ(X̄ - E X)`` and ``θ̄_M``
    likewise: with ``X̄`` in place of ``E X`` the model for ``ỹ(τ)`` holds
    exactly with those coefficients, conditionally on the covariates. For the
    population effects ``θ_R``, ``θ_M`` they are off by
    ``τ_Rᵀ(X̄ - E X)`` and ``τ_Mᵀ(X̄ - E X)``, of order ``n^(-1/2)``:
    negligible where the instruments are weak (the sets are then wide, of
    order 1), but of the order of the set's width with strong instruments,
    where the Wald intervals above account for it by stacking ``X̄``'s
    estimating equation. The mediator effect's sets do not depend on ``X̄``
    when ``τ_M = 0`` (the shift ``R·τ_Rᵀ(X̄ - E X)`` lies in the exogenous
    regressors' span), nor the direct effect's when ``τ_R = 0`` (the
    mediator's coefficient absorbs ``M·τ_Mᵀ(X̄ - E X)``). An empty set
    means the data reject that ``τ`` (with more instruments than mediators,
    the overidentifying restrictions fail on ``ỹ(τ)``).

    The grid is a scikit-learn meta-estimator: its tags are those of the
    estimator (of a Pipeline's last step), so it is a regressor around one.
    With metadata routing enabled (``sklearn.set_config(
    enable_metadata_routing=True)``), ``sample_weight``, ``groups`` and any
    alias reach the estimator, and the steps of a Pipeline, that request
    them with ``set_fit_request``; without, ``sample_weight`` and ``groups``
    go to the estimator or to the last step of a Pipeline.

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

    With two mediators, ``tau_mediator`` is keyed by mediator name:

    >>> df["m2"] = df.r * (1 + df.x1 + df.x2) + rng.normal(size=n)
    >>> y2 = 1 - df.r + 2 * df.m - df.m2 + rng.normal(size=n)
    >>> grid = SensitivityGrid(
    ...     IVMediationRegressor(treatment="r", mediator=["m", "m2"]),
    ...     tau_direct={"x1": [0, 1]},
    ...     tau_mediator={"m2": {"x2": [0, 0.5]}},
    ... ).fit(df, y2)
    >>> grid.sensitivity_interval_.index.tolist()
    ['direct_effect', 'mediator_effect[m]', 'mediator_effect[m2]']
    >>> grid.to_frame().shape
    (4, 18)

    With ``robust_sets=True`` each mediator's weak-instrument-robust set
    has its own columns and union:

    >>> robust = SensitivityGrid(
    ...     IVMediationRegressor(
    ...         treatment="r", mediator=["m", "m2"], cov_type="classical"
    ...     ),
    ...     tau_direct={"x1": [0, 1]},
    ...     robust_sets=True,
    ... ).fit(df, y2)
    >>> list(robust.sensitivity_sets_)
    ['direct_effect_ar', 'mediator_effect[m]_ar', 'mediator_effect[m2]_ar']
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit"])],
        "tau_direct": [dict, "array-like", None],
        "tau_mediator": [dict, "array-like", None],
        "method": [StrOptions({"auto", "closed_form", "refit"})],
        "robust_sets": ["boolean"],
        "n_jobs": [Integral, None],
        "progress": ["boolean"],
    }

    def __init__(
        self,
        estimator: Any,
        *,
        tau_direct: Any = None,
        tau_mediator: Any = None,
        method: str = "auto",
        robust_sets: bool = False,
        n_jobs: int | None = None,
        progress: bool = False,
    ) -> None:
        self.estimator = estimator
        self.tau_direct = tau_direct
        self.tau_mediator = tau_mediator
        self.method = method
        self.robust_sets = robust_sets
        self.n_jobs = n_jobs
        self.progress = progress

    # -- fitting ------------------------------------------------------------

    @fit_context(prefer_skip_nested_validation=False)
    def fit(
        self,
        X: Data,
        y: Data,
        sample_weight: Data | None = None,
        groups: Data | None = None,
        **params: Any,
    ) -> Self:
        """Fit the estimator at ``τ = 0`` and re-estimate over the grid.

        Parameters
        ----------
        X : {array-like, DataFrame, dask array, dask DataFrame} of shape \
                (n_samples, n_features)
            With dask data the closed form reduces each partition where it
            lives (``method="refit"`` needs in-memory data).
        y : array-like of shape (n_samples,)
            Outcome.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights of the estimator's ``weight_type``, passed to the
            estimator (see Notes for metadata routing).
        groups : array-like of shape (n_samples,), default=None
            Cluster labels, passed to the estimator (cluster-robust
            ``cov_type``).
        **params : dict
            Further metadata, routed to the estimator and the steps of a
            Pipeline that request it; only with metadata routing enabled.

        Returns
        -------
        self
            The fitted grid.

        Notes
        -----
        An estimator with ``missing="drop"`` leaves out the rows missing a
        value it uses, once, in its fit at ``τ = 0`` (the refits of
        ``method="refit"`` leave out the same rows): the grid equals the grid
        on the complete rows.
        """
        final = _final_step(self.estimator)
        if not isinstance(final, _MediationRegressor):
            raise TypeError(
                "SensitivityGrid needs an IVMediationRegressor or "
                "NaiveMediationRegressor (or a Pipeline ending in one); got "
                f"{type(final).__name__}"
            )
        method = self.method
        if method == "auto":
            method = "closed_form" if final.linear_in_y else "refit"
            if self.robust_sets and _cluster_leverage_sets(final):
                method = "refit"  # the closed form has no CR2 or CR3 sets
        if method == "closed_form" and not final.linear_in_y:
            raise ValueError(
                f"method='closed_form' needs an estimator that is linear in the "
                f"outcome (NaiveMediationRegressor, or IVMediationRegressor with "
                f"kappa='2sls' or a fixed number); got {type(final).__name__}"
                f"(kappa={final.kappa!r}); use method='refit'"
            )
        if is_dask(X):
            self._check_dask_method()
        if self.progress:
            check_progress()
        fit_params, final_params, head_params = self._route_fit(
            sample_weight, groups, params
        )
        self.estimator_ = clone(self.estimator)
        final = _final_step(self.estimator_)
        X_final = X
        if isinstance(self.estimator_, Pipeline):
            X_final = self.estimator_[:-1].fit_transform(X, y, **head_params)
        # one fit at τ = 0, which also accumulates the closed forms of the
        # components of τ the grid names (the grid is built first, from the
        # fit's design, so that bad values fail before the rows are read)
        built: dict = {}

        def named_directions(design):
            return self._named_directions(design, built)

        inputs = fit_mediation(
            final,
            X_final,
            y,
            final_params.get("sample_weight"),
            final_params.get("groups"),
            sensitivity=named_directions if method == "closed_form" else False,
            sensitivity_sets=self.robust_sets,
        )
        if hasattr(self.estimator_, "n_features_in_"):
            self.n_features_in_ = self.estimator_.n_features_in_
        if hasattr(self.estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.estimator_.feature_names_in_
        model = final.result_.model
        design = model.design
        if self.robust_sets:  # (the closed form checked before the rows were read)
            check_robust_sets(design, None)
        self.covariate_names_ = list(design.covariates)
        self.mediator_names_ = list(design.mediators)
        self.grid_ = built.get("grid")
        if self.grid_ is None:
            self.grid_ = self._build_grid(
                self._tau_blocks(design), self.covariate_names_
            )
        self.method_ = method
        level = final.confidence_level
        # normal, or t with the degrees of freedom of the effects at τ = 0
        n_effects = 1 + design.n_mediators
        df = final.result_._effects.df
        self._effect_df = None if df is None else np.asarray(df[:n_effects], float)
        z = np.broadcast_to(critical_quantile(level, self._effect_df), (n_effects,))
        self.critical_value_ = z
        sets = None
        if method == "closed_form":
            self.forms_ = model.sensitivity
            estimates, se = self.forms_.evaluate(self.grid_)
            if self.robust_sets:
                reduced = self.forms_.reduced
                directions = self.forms_.directions
                with ProgressBar(
                    len(self.grid_), "robust sets", "point", self.progress
                ) as bar:
                    sets = [
                        _point_sets(
                            reduced.moments(tau[directions]),
                            level,
                            self.mediator_names_,
                        )
                        for tau in bar.track(self.grid_)
                    ]
        else:
            directions = model.design.directions(inputs.raw, model.covariate_mean)
            if final.n_dropped_:
                # missing="drop": the refits leave out the same rows again
                full = np.zeros((n_rows(X), directions.shape[1]))
                full[np.setdiff1d(np.arange(len(full)), final.dropped_rows_)] = (
                    directions
                )
                directions = full
            (estimates, se), sets, caught = self._refit(
                X, y, fit_params, directions, level
            )
            for category, (count, first) in caught.items():
                warnings.warn(
                    f"{category.__name__} was issued by {count} of "
                    f"{len(self.grid_)} refits over the grid; the first: {first}",
                    category,
                    stacklevel=3,
                )
        self._store(estimates, se, estimates - z * se, estimates + z * se, level)
        if sets is not None:
            self._store_sets(sets, level)
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
        if not final.linear_in_y:
            raise ValueError(
                "SensitivityGrid on dask data needs the closed form, which needs "
                "an estimator linear in the outcome (NaiveMediationRegressor, or "
                "IVMediationRegressor with kappa='2sls' or a fixed number); got "
                f"{type(final).__name__}(kappa={final.kappa!r})"
            )

    def _route_fit(self, sample_weight, groups, params):
        """The metadata of the estimator's ``fit``, its last step and its first steps.

        With metadata routing enabled, as scikit-learn's meta-estimators route
        it: the estimator (and each step of a Pipeline) gets what it requests
        (``set_fit_request``). Without, ``sample_weight`` and ``groups`` go to
        the estimator, or to the last step of a Pipeline.
        """
        metadata = {
            key: value
            for key, value in (("sample_weight", sample_weight), ("groups", groups))
            if value is not None
        }
        pipeline = isinstance(self.estimator, Pipeline)
        if not get_config()["enable_metadata_routing"]:
            if params:
                raise TypeError(
                    "SensitivityGrid.fit got unexpected argument(s) "
                    f"{sorted(params)}: metadata other than sample_weight and "
                    "groups is routed only with metadata routing enabled "
                    "(sklearn.set_config(enable_metadata_routing=True))"
                )
            fit_params = metadata
            if pipeline:
                last = self.estimator.steps[-1][0]
                fit_params = {
                    f"{last}__{key}": value for key, value in metadata.items()
                }
            return fit_params, metadata, {}
        fit_params = process_routing(self, "fit", **metadata, **params).estimator.fit
        if not pipeline:
            return fit_params, fit_params, {}
        # the Pipeline's own routing: its final step's share, and what its
        # first steps consume when they are fitted as one Pipeline
        last = self.estimator.steps[-1][0]
        final_params = process_routing(self.estimator, "fit", **fit_params)[last].fit
        head = self.estimator[:-1]
        consumed = head.get_metadata_routing().consumes("fit_transform", fit_params)
        return fit_params, final_params, {key: fit_params[key] for key in consumed}

    def _refit(self, X, y, fit_params, directions, level):
        """Refits at the grid points, in grid order, and the warnings they issued.

        Returns the estimates and standard errors, the robust sets of each
        refit (or None) and the warnings, ``{category: (number of refits,
        first message)}``, recorded in the workers whatever the joblib backend.
        """
        y = as_float_vector(y)
        sets_level = level if self.robust_sets else None
        refits = parallel_map(
            _refit_one,
            (
                (
                    self.estimator,
                    X,
                    y - directions @ tau,
                    fit_params,
                    tau,
                    sets_level,
                )
                for tau in self.grid_
            ),
            self.n_jobs,
            generator=True,
        )
        with ProgressBar(
            len(self.grid_), "sensitivity grid", "refit", self.progress
        ) as bar:
            outputs = list(bar.track(refits))
        caught = {}
        for _, _, warned in outputs:
            firsts = {}  # this refit's first message of each category
            for category, message in warned:
                firsts.setdefault(category, message)
            for category, message in firsts.items():
                count, first = caught.get(category, (0, message))
                caught[category] = (count + 1, first)
        stacked = np.asarray([values for values, _, _ in outputs])  # (G, 2, effects)
        sets = [point for _, point, _ in outputs] if self.robust_sets else None
        return (stacked[:, 0], stacked[:, 1]), sets, caught

    def _store(self, estimates, se, low, high, level):
        results = {}
        columns = tau_columns(self.covariate_names_, self.mediator_names_)
        for i, column in enumerate(columns):
            results[column] = self.grid_[:, i].copy()
        effects = grid_effects(self.mediator_names_)
        for j, effect in enumerate(effects):
            results[effect] = estimates[:, j]
            results[f"{effect}_se"] = se[:, j]
            results[f"{effect}_lower"] = low[:, j]
            results[f"{effect}_upper"] = high[:, j]
        self.results_ = results
        self.confidence_level_ = level
        self.sensitivity_interval_ = pd.DataFrame(
            {
                "estimate_low": [results[e].min() for e in effects],
                "estimate_high": [results[e].max() for e in effects],
                "lower": [results[f"{e}_lower"].min() for e in effects],
                "upper": [results[f"{e}_upper"].max() for e in effects],
            },
            index=pd.Index(effects, name="effect"),
        )
        if self.method_ == "closed_form":
            self.breakdown_ = self._breakdown(level)

    def _store_sets(self, sets, level):
        """The robust sets' columns, their unions over the grid and their hulls."""
        self.sensitivity_sets_ = {}
        hulls = {}
        keys = list(dict.fromkeys(key for point in sets for key in point))
        for key in keys:
            effect, method = key
            column = f"{effect}_{method.lower()}"
            label = _set_labels(effect)
            # where the robust CLR is not defined the point keeps its
            # Anderson-Rubin set, as confidence_set(method=None) does
            points = [
                ConfidenceSet(
                    tuple(point[key] if key in point else point[(effect, "AR")]),
                    method=method if key in point else "AR",
                    confidence_level=level,
                    **label,
                )
                for point in sets
            ]
            column_set = np.empty(len(points), dtype=object)
            column_set[:] = points
            self.results_[column] = column_set
            ends = np.array([_hull(s) for s in points]).reshape(-1, 2)
            self.results_[f"{column}_lower"] = ends[:, 0]
            self.results_[f"{column}_upper"] = ends[:, 1]
            union = ConfidenceSet(
                tuple(merge_intervals([piece for s in points for piece in s])),
                method=method,
                confidence_level=level,
                **label,
            )
            self.sensitivity_sets_[column] = union
            hulls.setdefault(method.lower(), {})[effect] = _hull(union)
        frame = self.sensitivity_interval_
        effects = grid_effects(self.mediator_names_)
        for method, by_effect in hulls.items():
            frame[f"{method}_lower"] = [by_effect.get(e, (np.nan,))[0] for e in effects]
            frame[f"{method}_upper"] = [
                by_effect.get(e, (np.nan, np.nan))[1] for e in effects
            ]

    def _breakdown(self, level):
        labels = tau_columns(self.covariate_names_, self.mediator_names_)
        forms = self.forms_
        effects = grid_effects(self.mediator_names_)
        n_dir = len(forms.directions)
        values = np.full((len(effects), n_dir, 3), np.nan)
        for j in range(len(effects)):
            for position in range(n_dir):
                h = forms.shift[j, position]
                if h != 0:
                    values[j, position, 0] = forms.estimate[j] / h
                values[j, position, 1:] = ci_breakdown(
                    forms, j, position, self.critical_value_[j]
                )
        # (the index from its levels and codes: no factorizing of strings)
        index = pd.MultiIndex(
            levels=[list(effects), [labels[c] for c in forms.directions]],
            codes=[
                np.repeat(np.arange(len(effects)), n_dir),
                np.tile(np.arange(n_dir), len(effects)),
            ],
            names=["effect", "parameter"],
            verify_integrity=False,
        )
        values = values.reshape(-1, 3)
        return pd.DataFrame(
            {
                "sign_change": values[:, 0],
                "ci_covers_zero_up": values[:, 1],
                "ci_covers_zero_down": values[:, 2],
            },
            index=index,
        )

    # -- scikit-learn protocols ---------------------------------------------

    def get_metadata_routing(self) -> MetadataRouter:
        """The metadata routing of the grid: ``fit`` and ``score`` to the estimator.

        See scikit-learn's User Guide on metadata routing.

        Returns
        -------
        MetadataRouter
            Where ``fit`` and ``score`` send their metadata.
        """
        return MetadataRouter(owner=self).add(
            estimator=self.estimator,
            method_mapping=MethodMapping()
            .add(caller="fit", callee="fit")
            .add(caller="score", callee="score"),
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            inner = get_tags(self.estimator)
        except (AttributeError, TypeError, ValueError):  # not an estimator
            return tags
        tags.estimator_type = inner.estimator_type
        tags.input_tags = deepcopy(inner.input_tags)
        tags.target_tags = deepcopy(inner.target_tags)
        tags.regressor_tags = deepcopy(inner.regressor_tags)
        tags.classifier_tags = deepcopy(inner.classifier_tags)
        tags.target_tags.required = True  # the grid shifts the outcome
        return tags

    # -- the grid -----------------------------------------------------------

    def _tau_blocks(self, design) -> list:
        """``(label, values)`` per block of ``τ``: ``τ_R``, then each mediator's ``τ_M``.

        With one mediator ``tau_mediator`` is that mediator's values (or, as
        with several, a dict keyed by its name); with several it is a dict
        keyed by mediator name, and a mediator it does not name has ``τ = 0``.
        """
        covariates, mediators = list(design.covariates), list(design.mediators)
        spec = self.tau_mediator
        keyed = (
            isinstance(spec, dict)
            and len(spec) > 0
            and all(key in mediators and key not in covariates for key in spec)
        )
        if len(mediators) == 1 and not keyed:
            return [("tau_direct", self.tau_direct), ("tau_mediator", spec)]
        example = (
            "{"
            + ", ".join(f"{m!r}: {{{covariates[0]!r}: [0, 1]}}" for m in mediators[:2])
            + "}"
            if covariates
            else "{}"
        )
        if spec is not None and not isinstance(spec, dict):
            raise ValueError(
                f"with several mediators, tau_mediator is a dict keyed by mediator "
                f"name ({mediators}) whose values are dicts keyed by covariate or "
                f"arrays with one column per covariate; got an array: write "
                f"{{{mediators[0]!r}: array, ...}}"
            )
        spec = spec or {}
        unknown = [key for key in spec if key not in mediators]
        if unknown and all(key in covariates for key in spec):
            raise ValueError(
                f"with several mediators, tau_mediator is a dict keyed by mediator "
                f"name ({mediators}) whose values are dicts keyed by covariate; got "
                f"one keyed by covariate ({unknown}): write e.g. {example}"
            )
        if unknown:
            raise ValueError(
                f"tau_mediator names mediator(s) {unknown} that the estimator does "
                f"not have; its mediators are {mediators} (the values are dicts "
                f"keyed by covariate, e.g. {example})"
            )
        return [("tau_direct", self.tau_direct)] + [
            (f"tau_mediator[{m!r}]", spec.get(m)) for m in mediators
        ]

    def _named_directions(self, design, built: dict) -> np.ndarray:
        """The components of ``τ`` the grid names: a dict's keys, an array's columns.

        The grid itself goes into ``built["grid"]``.
        """
        blocks = self._tau_blocks(design)
        names = list(design.covariates)
        built["grid"] = self._build_grid(blocks, names)
        p = len(names)
        named = []
        for b, (_, spec) in enumerate(blocks):
            if isinstance(spec, dict):
                named += [b * p + names.index(key) for key in spec]
            elif spec is not None:
                named += range(b * p, (b + 1) * p)
        return np.unique(np.asarray(named, dtype=int))

    def _build_grid(self, blocks, names) -> np.ndarray:
        """The grid, one row per point: ``[τ_R, τ_M]`` (``τ_M`` of each mediator in turn)."""
        p = len(names)
        specs = [spec for _, spec in blocks]
        dicts = any(isinstance(t, dict) for t in specs)
        arrays = any(t is not None and not isinstance(t, dict) for t in specs)
        if dicts and arrays:
            if len(blocks) == 2:
                raise ValueError(
                    "tau_direct and tau_mediator must both be dicts (a cartesian "
                    "grid) or both be arrays (one row per grid point), not one of each"
                )
            raise ValueError(
                "tau_direct and the values of tau_mediator must all be dicts (a "
                "cartesian grid) or all be arrays (one row per grid point), not a mix"
            )
        if arrays:
            values = [self._tau_array(t, label, names) for label, t in blocks]
            rows = {v.shape[0] for v in values if v is not None}
            if len(rows) > 1:
                labels = " and ".join(label for label, _ in blocks)
                raise ValueError(
                    f"{labels} arrays must have the same number "
                    f"of rows (grid points); got {sorted(rows)}"
                )
            n_rows = rows.pop()
            values = [np.zeros((n_rows, p)) if v is None else v for v in values]
            return np.hstack(values)
        axes = []  # (column in the grid, values); the mediators' axes are outermost
        order = [*range(1, len(blocks)), 0]
        for b in order:
            label, spec = blocks[b]
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
                    axes.append((b * p + i, values))
        grid = np.zeros((int(np.prod([len(v) for _, v in axes])), len(blocks) * p))
        for row, combo in enumerate(itertools.product(*[v for _, v in axes])):
            for (column, _), value in zip(axes, combo, strict=True):
                grid[row, column] = value
        return grid

    def _tau_array(self, tau, label, names):
        if tau is None:
            return None
        values = np.asarray(tau, dtype=float)
        if values.ndim == 1:
            values = values.reshape(1, -1)
        p = len(names)
        if values.ndim != 2 or values.shape[1] != p:
            raise ValueError(
                f"{label} must have one column per covariate ({p}: "
                f"{names}); got shape {np.shape(tau)}"
            )
        if values.shape[0] == 0:
            raise ValueError(f"{label} has no rows: the grid has no points")
        _check_finite(values, label)
        return values

    # -- output -------------------------------------------------------------

    def summary(self) -> Summary:
        """Summarize the grid: the paper's Table 2 and the sensitivity intervals.

        With ``method="closed_form"`` also the breakdown values, and with
        ``robust_sets`` the unions of the robust sets beside the union of the
        confidence intervals.

        Returns
        -------
        Summary
            Prints as text; renders as HTML (with the figure), Markdown and
            LaTeX.
        """
        check_is_fitted(self)
        from skmediate._report.render import grid_summary

        return grid_summary(self)

    def to_frame(self) -> pd.DataFrame:
        """The grid as a DataFrame.

        Returns
        -------
        pandas.DataFrame
            One row per grid point in grid order (the columns of
            :attr:`results_`).
        """
        check_is_fitted(self)
        return pd.DataFrame(self.results_)

    @available_if(_estimator_has("predict"))
    def predict(self, X: Data) -> np.ndarray:
        """Predict with the estimator fitted at ``τ = 0``."""
        check_is_fitted(self)
        return self.estimator_.predict(X)

    @available_if(_estimator_has("score"))
    def score(
        self, X: Data, y: Data, sample_weight: Data | None = None, **params: Any
    ) -> float:
        """Score of the estimator fitted at ``τ = 0``.

        With metadata routing enabled, ``sample_weight`` and ``params`` go to
        the estimator's ``score`` as it requests them (``set_score_request``).
        """
        check_is_fitted(self)
        if not get_config()["enable_metadata_routing"]:
            if params:
                raise TypeError(
                    "SensitivityGrid.score got unexpected argument(s) "
                    f"{sorted(params)}: further metadata is routed only with "
                    "metadata routing enabled"
                )
            return self.estimator_.score(X, y, sample_weight=sample_weight)
        if sample_weight is not None:
            params["sample_weight"] = sample_weight
        routed = process_routing(self, "score", **params)
        return self.estimator_.score(X, y, **routed.estimator.score)


def _check_finite(values, label):
    if not np.isfinite(values).all():
        raise ValueError(f"{label} contains NaN or inf; every τ must be finite")


def _point_sets(moments, level, mediators) -> dict:
    """The robust sets of one grid point from its Anderson–Rubin moments.

    Keyed ``(effect, method)``, the effect named as its column of the grid:
    the direct effect's set as ``confidence_set("direct")`` gives it, the
    mediator effect's Anderson–Rubin set and its CLR set: Moreira's with
    homoskedastic covariances, the robust CLR of
    :mod:`~skmediate._numerics.kleibergen` otherwise, where it is defined
    (more clusters than twice the instruments). With several mediators, the
    sets of ``confidence_set`` with ``method=None`` (Anderson–Rubin): the
    direct effect's and each mediator's (``mediator_effect[<name>]``), the
    subvector sets with homoskedastic covariances and the projections of the
    joint robust set otherwise (:mod:`~skmediate._numerics.joint`).
    """
    if len(mediators) > 1:
        sets = {("direct_effect", "AR"): direct_set(moments, level, "AR")}
        for j, name in enumerate(mediators):
            sets[(f"mediator_effect[{name}]", "AR")] = mediator_set(
                moments, j, level, "AR"
            )
        return sets
    sets = {
        ("direct_effect", "AR"): direct_ar_set(moments, level),
        ("mediator_effect", "AR"): anderson_rubin_set(moments, level),
    }
    if moments.homoskedastic:
        sets[("mediator_effect", "CLR")] = clr_set(moments, level)
    elif robust_clr_defined(moments):
        sets[("mediator_effect", "CLR")] = robust_clr_set(moments, level)
    return sets


def _set_labels(effect: str) -> dict:
    """The ``effect`` and ``mediator`` of a grid effect's sets, as
    ``confidence_set`` labels them (``mediator_effect[m1]``: the mediator
    effect of ``m1``)."""
    name, bracket, mediator = effect.partition("[")
    return {
        "effect": name.removesuffix("_effect"),
        "mediator": mediator[:-1] if bracket else "",
    }


def _hull(confidence_set) -> tuple[float, float]:
    """The ends of a set's hull (``nan`` for the empty set)."""
    pieces = list(confidence_set)
    if not pieces:
        return (np.nan, np.nan)
    return (pieces[0][0], pieces[-1][1])


def _refit_one(estimator, X, y, fit_params, tau, sets_level=None):
    """Fit a clone on a shifted outcome: the effects' estimates and standard errors.

    The standard errors include the estimation of ``X̄``, on which the shift
    depends (see :func:`skmediate._numerics.sensitivity.refit_inference`).
    With ``sets_level``, also the fit's robust sets (:func:`_point_sets`).
    Returns ``([estimates, standard errors], sets or None, warnings)``.
    """
    with record_warnings() as caught:
        fitted = clone(estimator).fit(X, y, **fit_params)
        result = _final_step(fitted).result_
        sets = None
        if sets_level is not None:
            sets = _point_sets(
                result.anderson_rubin_moments, sets_level, result.mediators
            )
    estimates, se = refit_inference(result.model, tau)
    return (
        [estimates, se],
        sets,
        [(w.category, str(w.message)) for w in caught],
    )


def _cluster_leverage_sets(final) -> bool:
    """Whether the robust sets of ``final`` adjust clusters' scores by leverage
    (CR2, or the default CR3 meat of a cluster-robust fit)."""
    kind = cov_type(final.cov_type)
    sets_kind = anderson_rubin_kind(kind, getattr(final, "ar_meat", "fit")) or kind
    return sets_kind.clustered and bool(sets_kind.leverage)
