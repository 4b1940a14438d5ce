"""IVMediationRegressor and NaiveMediationRegressor: thin scikit-learn estimators."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._covariance import COV_TYPES, covariance_steps, encode_groups
from ._dask import dask_inputs, dask_template, role_values
from ._diagnostics import first_stage_diagnostics_steps, iv_diagnostics_steps
from ._effects import mediation_effects_steps
from ._linalg import (
    ColumnBlocks,
    Interaction,
    LinearFit,
    TSLSFit,
    fit_tsls,
    is_dask,
    run_steps,
    weighted_mean,
)
from ._results import MediationResult, diagnostics_frame, effects_frame
from ._roles import RoleData, fit_roles, transform_roles
from ._validation import (
    HasMethods,
    Interval,
    StrOptions,
    check_cluster_count,
    check_groups,
    check_outcome,
    check_sample_weight,
    fit_context,
    is_dataframe,
    require_groups,
)
from ._weakiv import anderson_rubin_steps
from .exceptions import RankDeficiencyError, WeakInstrumentWarning

__all__ = ["IVMediationRegressor", "NaiveMediationRegressor"]

_COLUMNS = ["array-like", str, Integral, slice, callable, None]


@dataclass(frozen=True, eq=False)
class MediationData:
    """Validated numeric inputs of one fit (rows with zero weight removed).

    ``instruments`` are the excluded instruments ``R·(X - X̄)`` with ``X̄`` the
    weighted sample mean of the covariates.
    """

    roles: RoleData
    y: np.ndarray
    weights: np.ndarray | None
    groups: np.ndarray | None  # integer cluster codes
    n_clusters: int | None
    outcome: str

    @cached_property
    def exog(self) -> ColumnBlocks:
        """``[1, covariates, controls, treatment]``, as views of the role arrays."""
        r = self.roles
        n = r.treatment.shape[0]
        if is_dask(r.treatment):
            import dask.array as da

            ones = da.ones((n, 1), chunks=(r.treatment.chunks[0], 1))
        else:
            ones = np.ones((n, 1))
        return ColumnBlocks(ones, r.covariates, r.controls, r.treatment)

    @cached_property
    def covariate_mean(self) -> np.ndarray:
        """``X̄``, the weighted mean of the covariates."""
        return weighted_mean(self.roles.covariates, self.weights)

    @cached_property
    def instruments(self):
        """``R·(X - X̄)``: formed a chunk at a time (lazily for dask data)."""
        r = self.roles
        center = self.covariate_mean
        if is_dask(r.covariates):
            return r.treatment[:, None] * (r.covariates - center)
        return Interaction(r.treatment, r.covariates, center)

    @property
    def term_names(self) -> list[str]:
        n = self.roles.names
        return [
            "intercept",
            *n["covariates"],
            *n["controls"],
            *n["treatment"],
            *n["mediator"],
        ]

    @property
    def instrument_names(self) -> list[str]:
        n = self.roles.names
        return [f"{n['treatment'][0]}:{c}" for c in n["covariates"]]


class _MediationRegressor(RegressorMixin, BaseEstimator):
    """Shared machinery: roles, validation, covariance, fitted attributes."""

    _parameter_constraints: dict = {
        "treatment": [str, Integral, callable, "array-like", None],
        "mediator": [str, Integral, callable, "array-like", None],
        "covariates": _COLUMNS,
        "controls": _COLUMNS,
        "covariate_transformer": [
            StrOptions({"passthrough"}),
            HasMethods(["fit", "transform"]),
        ],
        "cov_type": [StrOptions(set(COV_TYPES))],
        "confidence_level": [Interval(Real, 0, 1, closed="neither")],
    }

    _method = ""

    def __init__(
        self,
        *,
        treatment=None,
        mediator=None,
        covariates=None,
        controls=None,
        covariate_transformer="passthrough",
        cov_type="HC1",
        confidence_level=0.95,
    ):
        self.treatment = treatment
        self.mediator = mediator
        self.covariates = covariates
        self.controls = controls
        self.covariate_transformer = covariate_transformer
        self.cov_type = cov_type
        self.confidence_level = confidence_level

    # -- input --------------------------------------------------------------

    def _check_X(self, X, *, reset: bool):
        if not is_dataframe(X):
            X = check_array(X, dtype="numeric", ensure_all_finite=False)
        validate_data(self, X, reset=reset, skip_check_array=True)
        return X

    def _prepare(self, X, y, sample_weight, groups) -> MediationData:
        if is_dask(X):
            return self._prepare_dask(X, y, sample_weight, groups)
        X = self._check_X(X, reset=True)
        outcome = (
            str(y.name) if isinstance(y, pd.Series) and y.name is not None else "y"
        )
        y = check_outcome(y, self)
        n = X.shape[0]
        if y.shape[0] != n:
            raise ValueError(f"X has {n} rows but y has {y.shape[0]}; they must match")
        weights = check_sample_weight(sample_weight, y)
        if self.cov_type == "cluster":
            require_groups(groups)
            groups = check_groups(groups, n)
        else:
            groups = None

        self.column_transformer_, roles = fit_roles(
            X,
            self.treatment,
            self.mediator,
            self.covariates,
            self.controls,
            self.covariate_transformer,
        )
        if weights is not None and (weights == 0).any():
            keep = weights > 0
            roles = RoleData(
                treatment=roles.treatment[keep],
                mediator=roles.mediator[keep],
                covariates=roles.covariates[keep],
                controls=roles.controls[keep],
                names=roles.names,
            )
            y, weights = y[keep], weights[keep]
            groups = None if groups is None else groups[keep]

        n_clusters = None
        if groups is not None:
            groups, n_clusters = encode_groups(groups)
            check_cluster_count(n_clusters)
        return MediationData(roles, y, weights, groups, n_clusters, outcome)

    def _prepare_dask(self, X, y, sample_weight, groups) -> MediationData:
        inputs = dask_inputs(
            X,
            y,
            sample_weight,
            groups,
            treatment=self.treatment,
            mediator=self.mediator,
            covariates=self.covariates,
            controls=self.controls,
            covariate_transformer=self.covariate_transformer,
            cluster=self.cov_type == "cluster",
            estimator=self,
        )
        validate_data(self, inputs.template, reset=True, skip_check_array=True)
        self.column_transformer_ = inputs.column_transformer
        return MediationData(
            inputs.roles,
            inputs.y,
            inputs.weights,
            inputs.groups,
            inputs.n_clusters,
            inputs.outcome,
        )

    # -- fitting ------------------------------------------------------------

    def _solve(self, data: MediationData) -> TSLSFit:
        raise NotImplementedError

    def _check_design(self, data: MediationData, n_params: int, what: str) -> None:
        """Enough rows for ``n_params`` parameters, and two treatment arms."""
        rows = data.y.shape[0]
        if rows <= n_params:
            raise ValueError(
                f"too few rows: n_samples={rows}, but the {what} has {n_params} "
                f"parameters; at least {n_params + 1} rows with positive weight are "
                "needed"
            )
        treatment = data.roles.treatment
        extremes = (treatment.min(), treatment.max())
        if is_dask(treatment):  # one pass for both
            extremes = _compute(*extremes)
        low, high = map(float, extremes)
        if low == high:
            raise ValueError(
                f"treatment {data.roles.names['treatment'][0]!r} takes a single value "
                f"({low:g}) in all {rows} rows; a randomized comparison needs at "
                "least two arms"
            )

    def _fit_data(self, data: MediationData) -> TSLSFit:
        """Run the numerics on validated data (rank errors get column names).

        Workflows that re-estimate on modified outcomes or weights (sensitivity
        analysis, the bootstrap) start from here: ``_prepare`` validates the
        input once and ``fit_tsls`` with the returned layout gives the rest.
        """
        try:
            return self._solve(data)
        except RankDeficiencyError as exc:
            raise self._rank_error(data, exc) from None

    def _rank_error(self, data: MediationData, exc: RankDeficiencyError) -> ValueError:
        names = data.roles.names
        labels = (
            [("intercept", "intercept")]
            + [(c, "covariate") for c in names["covariates"]]
            + [(c, "control") for c in names["controls"]]
            + [(names["treatment"][0], "treatment")]
        )
        return ValueError(self._rank_message(data, exc, labels))

    def _rank_message(self, data, exc, labels) -> str:
        raise NotImplementedError

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, groups=None):
        """Fit the mediation regression.

        Parameters
        ----------
        X : {array-like, DataFrame, dask array, dask DataFrame} of shape \
                (n_samples, n_features)
            Data holding the treatment, mediator, covariate and control columns.
            Dask data is never gathered: each pass over the rows reduces every
            partition where it lives, and the result equals the in-memory fit
            up to rounding. A fit makes six passes (the value checks, the
            treatment's range, the covariate means, the column norms, the
            tall-skinny QR and one for every score sum of the covariances and
            diagnostics), seven with clusters. Dask input needs
            ``covariate_transformer="passthrough"``, numeric columns and
            positive weights (select rows with weight 0 out first).
        y : array-like or dask array/Series of shape (n_samples,)
            Outcome.
        sample_weight : array-like or dask array of shape (n_samples,), default=None
            Frequency weights: a weighted fit equals the fit on rows repeated
            that many times. Rows with weight 0 are left out.
        groups : array-like of shape (n_samples,), default=None
            Cluster labels, required by and used only with ``cov_type="cluster"``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        data = self._prepare(X, y, sample_weight, groups)
        solution = self._fit_data(data)
        structural = solution.structural
        names = data.term_names
        cov_type, codes = self.cov_type, data.groups

        # W = [1, X, Z, R] has n_w columns; R is its last, M follows it.
        # Every score sum below shares one pass over the rows (see run_steps).
        n_w = len(names) - 1
        mediator_fit, centering, interactions = self._mediator_fit(data, solution)
        steps = [
            covariance_steps(structural, cov_type, codes),
            mediation_effects_steps(
                structural,
                mediator_fit,
                solution.leading_regression(n_w, -1),
                treatment=(n_w - 1, n_w - 1, n_w - 1),
                mediator=n_w,
                cov_type=cov_type,
                groups=codes,
                centering=centering,
                interactions=interactions,
                center=None if centering is None else data.covariate_mean,
            ),
        ]
        if solution.first_stage:
            first_stage_steps = first_stage_diagnostics_steps(
                solution.first_stage[0], solution.n_exog, cov_type, codes
            )
            steps += [
                iv_diagnostics_steps(solution, first_stage_steps, cov_type, codes),
                anderson_rubin_steps(solution, cov_type, codes),
            ]
        cov, effects, *iv_results = run_steps(*steps)
        effects_table = effects_frame(effects, self.confidence_level)
        first_stage = diagnostics = moments = None
        if iv_results:
            (first_stage, rows), moments = iv_results
            diagnostics = diagnostics_frame(rows)
        result = MediationResult(
            method=self._method,
            params=pd.Series(structural.params, index=names, name="estimate"),
            std_errors=pd.Series(np.sqrt(np.diag(cov)), index=names, name="std_error"),
            cov=pd.DataFrame(cov, index=names, columns=names),
            nobs=structural.nobs,
            cov_type=cov_type,
            confidence_level=self.confidence_level,
            rsquared=_rsquared(structural, solution.leading_regression(1, -1)),
            treatment=names[-2],
            mediator=names[-1],
            outcome=data.outcome,
            instruments=tuple(data.instrument_names) if first_stage else (),
            n_clusters=data.n_clusters,
            first_stage=first_stage,
            kappa=solution.kappa,
            effects=effects_table,
            effects_cov=pd.DataFrame(
                effects.cov, index=effects_table.index, columns=effects_table.index
            ),
            diagnostics=diagnostics,
            anderson_rubin_moments=moments,
        )
        self.result_ = result
        self.intercept_ = float(structural.params[0])
        self.coef_ = structural.params[1:].copy()
        self.direct_effect_ = float(structural.params[-2])
        self.mediator_effect_ = float(structural.params[-1])
        estimates = effects_table["estimate"]
        self.effect_on_mediator_ = float(estimates["effect_on_mediator"])
        self.indirect_effect_ = float(estimates["indirect"])
        self.total_effect_ = float(estimates["total"])
        self.proportion_mediated_ = float(estimates["proportion_mediated"])
        if first_stage is not None:
            self.first_stage_ = first_stage
            self.diagnostics_ = diagnostics
            self.kappa_ = solution.kappa
            if first_stage.is_weak:
                warnings.warn(
                    f"Weak instruments: the first-stage partial F statistic is "
                    f"{first_stage.f_statistic:.2f}, below the Stock-Yogo critical "
                    f"value {first_stage.critical_value:.2f} for "
                    f"{first_stage.n_instruments} instrument(s), so a nominal 5% "
                    "Wald test of the 2SLS estimates may have an actual size above "
                    "15%. The IV estimates may be biased toward the naive least "
                    "squares estimates and their confidence intervals may "
                    "under-cover; see anderson_rubin_confidence_set().",
                    WeakInstrumentWarning,
                    stacklevel=3,
                )
        return self

    def _mediator_fit(self, data: MediationData, solution: TSLSFit):
        """The fit of ``M`` whose treatment coefficient is the effect on the mediator.

        Returns ``(fit, centering, interactions)``: the covariates at whose
        sample mean the fit's interactions are centered, and the positions of
        those interactions (``None, None`` without interactions).
        """
        raise NotImplementedError

    # -- prediction ---------------------------------------------------------

    def predict(self, X):
        """Structural-equation prediction with the observed mediator.

        Parameters
        ----------
        X : {array-like, DataFrame, dask array, dask DataFrame} of shape \
                (n_samples, n_features)

        Returns
        -------
        ndarray or dask array of shape (n_samples,)
            ``intercept_ + [covariates, controls, treatment, mediator] @ coef_``
            (a lazy dask array for dask input).
        """
        check_is_fitted(self)
        if is_dask(X):
            # Partition by partition: returns a dask array.
            validate_data(self, dask_template(X), reset=False, skip_check_array=True)
            values, roles = role_values(X, self.column_transformer_)
            order = [roles[r] for r in ("covariates", "controls")] + [
                roles["treatment"],
                roles["mediator"],
            ]
            columns = np.concatenate([np.arange(s.start, s.stop) for s in order])
            return self.intercept_ + values[:, columns] @ self.coef_
        X = self._check_X(X, reset=False)
        roles = transform_roles(self.column_transformer_, X)
        design = np.hstack(
            [
                roles.covariates,
                roles.controls,
                roles.treatment[:, None],
                roles.mediator[:, None],
            ]
        )
        return self.intercept_ + design @ self.coef_

    def summary(self) -> str:
        """Text summary of the fit (see :meth:`MediationResult.summary`)."""
        check_is_fitted(self)
        return self.result_.summary()

    @property
    def linear_in_y(self) -> bool:
        """Whether the estimates are linear in the outcome for these parameters.

        When true, the structural fit's ``solve`` (of the ``TSLSFit`` from
        ``_fit_data``) maps any outcome to the estimates a refit would give,
        so sensitivity analyses and the wild bootstrap need no refitting.
        False for ``kappa="liml"`` and ``"fuller"``, whose ``κ`` depends on
        the outcome.
        """
        return True


def _compute(*collections):
    import dask

    return dask.compute(*collections)


def _rsquared(fit: LinearFit, intercept_only: LinearFit) -> float:
    """``1 - RSS / TSS``, TSS the residual sum of squares on the intercept alone."""
    tss = intercept_only.rss
    return 1.0 - fit.rss / tss if tss > 0 else np.nan


class IVMediationRegressor(_MediationRegressor):
    """Mediation analysis by two-stage least squares with treatment × covariate instruments.

    Estimates the direct effect of a randomized treatment ``R`` and the effect
    of a mediator ``M`` on an outcome ``y`` without assuming that the mediator is
    as good as randomized. The baseline covariates ``X``, interacted with the
    random assignment, instrument the mediator (Small 2012, section 5; Ten Have
    et al. 2007; Dunn and Bentall 2007).

    Parameters
    ----------
    treatment : str, int or callable
        Column of the randomized assignment ``R`` (a name for DataFrame input,
        an integer position, or a selector such as ``make_column_selector``
        that picks one column). Any numeric coding works; 0/1 is usual.
    mediator : str, int or callable
        Column of the mediator ``M``.
    covariates : list of str or int, callable or None, default=None
        Baseline covariates ``X``: regressors in both stages, and interacted
        with ``R`` (after centering at their sample mean) to form the excluded
        instruments. ``None`` means every column not given another role.
    controls : list of str or int, callable or None, default=None
        Extra baseline variables ``Z`` entering both stages but not interacted
        with ``R`` (variables for which the no-effect-modification assumption
        IV-A2 is not plausible).
    covariate_transformer : "passthrough" or transformer, default="passthrough"
        Applied (as separate clones) to the covariates and to the controls,
        for example ``OneHotEncoder(sparse_output=False)`` when every covariate
        is categorical. To encode only the string columns, such as trial site,
        and pass the rest through, use ``make_column_transformer((OneHotEncoder(
        drop="first", sparse_output=False), make_column_selector(
        dtype_exclude="number")), remainder="passthrough",
        verbose_feature_names_out=False)``: a selector, unlike a list of names,
        also works on the controls. Term names come from its
        ``get_feature_names_out``.
    cov_type : {"unadjusted", "classical", "HC0", "HC1", "cluster"}, default="HC1"
        Covariance of the estimates (see Notes). ``"cluster"`` needs
        ``groups`` in :meth:`fit`.
    confidence_level : float, default=0.95
        Level of the confidence intervals in :attr:`result_`.
    kappa : {"2sls", "liml", "fuller"} or float, default="2sls"
        The k-class estimator: two-stage least squares (``κ = 1``), limited
        information maximum likelihood (``κ`` estimated), Fuller's modified
        LIML (``κ = κ_LIML - fuller_alpha / (n - l)``, ``l`` the number of
        instrument columns), or a fixed ``κ`` (0 gives the naive least
        squares estimates). LIML and Fuller are less biased than 2SLS with
        many or weak instruments; their estimates are not linear in ``y``
        (see :attr:`linear_in_y`).
    fuller_alpha : float, default=1.0
        Fuller's ``α`` (used only with ``kappa="fuller"``); must be positive.
        ``α = 1`` makes the estimator approximately unbiased; ``α = 4``
        minimizes its mean squared error.

    Attributes
    ----------
    direct_effect_ : float
        ``θ_R``, the average direct effect of the treatment.
    mediator_effect_ : float
        ``θ_M``, the average effect of a unit increase of the mediator.
    effect_on_mediator_ : float
        ``δ``, the average effect of the treatment on the mediator: the
        first-stage coefficient of ``R`` (the interactions are centered at
        the covariate mean).
    indirect_effect_ : float
        ``θ_M δ``, the average effect of the treatment through the mediator.
    total_effect_ : float
        ``θ_R + θ_M δ``, the average effect of the treatment on the outcome.
    proportion_mediated_ : float
        ``θ_M δ / (θ_R + θ_M δ)``.
    coef_ : ndarray of shape (n_terms - 1,)
        Coefficients of the covariates, controls, treatment and mediator, in
        that order.
    intercept_ : float
    kappa_ : float
        The ``κ`` used (1 for 2SLS; estimated for LIML and Fuller).
    result_ : MediationResult
        Estimates, standard errors, p-values, confidence intervals, the
        effects table (``result_.effects``), the Anderson–Rubin set, summary.
    first_stage_ : FirstStageDiagnostics
        Partial F statistic of the excluded instruments, its p-value, partial
        R², and the Stock–Yogo critical value and verdict.
    diagnostics_ : pandas.DataFrame
        One row per diagnostic with its statistic, df, df_denom, pvalue,
        critical_value and a one-line interpretation: the first-stage F
        (classical, and its Wald form with ``cov_type``), the Stock–Yogo
        comparisons (2SLS size, 2SLS relative bias, LIML size), the
        Montiel Olea–Pflueger effective F with ``cov_type`` and its
        critical value for a worst-case bias of 10% (simplified procedure),
        the Sargan and Hansen J overidentification tests (``p - 1`` degrees
        of freedom; "not defined" with one instrument), and the Durbin and
        Wu–Hausman tests of mediator exogeneity, with a regression test that
        uses ``cov_type`` for the robust covariances. With ``R × X``
        instruments the overidentification tests check, in part, IV-A2 (a
        direct or mediator effect that varies with a covariate makes its
        interaction an invalid instrument); they cannot detect a violation
        shared by all interactions, which the sensitivity analysis
        addresses. The exogeneity tests are the data's evidence against the
        naive regression's assumption that the mediator is sequentially
        ignorable.
    column_transformer_ : ColumnTransformer
        The fitted transformer that resolves the column roles.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when ``X`` has string column names.

    See Also
    --------
    NaiveMediationRegressor : The standard (Baron–Kenny) regression.

    Notes
    -----
    With exogenous regressors ``W = [1, X, Z, R]``, excluded instruments
    ``R·(X - X̄)``, instruments ``Q = [W, R·(X - X̄)]`` and structural regressors
    ``D = [W, M]``, the first stage is ``M̂ = P_Q M`` and the estimates are
    ``θ̂ = (D̂ᵀD̂)⁻¹D̂ᵀy`` with ``D̂ = [W, M̂]``. Residuals use the observed
    mediator, ``ε̂ = y - Dθ̂``. With bread ``B = (D̂ᵀD̂)⁻¹`` and ``k`` columns:

    - ``unadjusted``: ``σ̂²B`` with ``σ̂² = ε̂ᵀε̂/n`` (the paper's formula);
    - ``classical``: ``σ̂² = ε̂ᵀε̂/(n-k)`` (R ``ivreg``);
    - ``HC0``: ``B(Σ ε̂ᵢ² d̂ᵢd̂ᵢᵀ)B``;
    - ``HC1``: HC0 times ``n/(n-k)``;
    - ``cluster``: ``B(Σ_g s_g s_gᵀ)B`` with ``s_g = Σ_{i∈g} ε̂ᵢd̂ᵢ``, times
      ``G/(G-1)·(n-1)/(n-k)``.

    Confidence intervals and p-values are normal-based. The estimates are
    consistent when the instruments predict the mediator (IV-A1), the average
    direct and mediator effects do not vary with ``X`` (IV-A2) and the
    mediator's level is independent of its effect given ``R`` and ``X``
    (IV-A3).

    Which covariance is safe: the error is ``ε = (θ_Ri - θ_R)R + (θ_Mi - θ_M)M
    + Y(0,0) - E[Y(0,0) | X]``, and ``unadjusted``/``classical`` are
    consistent only if ``Var(ε | R, X)`` is constant. That holds when the
    effects are the same for every subject and ``Var(Y(0,0) | X)`` is constant
    (the paper's AA-2). The paper states that AA-1 (effects independent of
    ``X``) and AA-2 suffice; with varying effects they do not. Under AA-1,
    IV-A3 and randomization, with the effect deviations independent of each
    other and of ``(M, Y(0,0))`` given ``(R, X)``, ``Var(ε | R, X) =
    Var(Y(0,0) | X) + Var(θ_Ri)R² + Var(θ_Mi)E[M² | R, X]``: it differs
    between the arms, and it varies with ``X`` because IV-A1 needs
    ``E[M | R, X]`` to. With ``sd(θ_Ri) = sd(θ_Mi)
    = 1`` the unadjusted 95% intervals for ``θ_M`` cover 88-89% in
    simulation (``benchmarks/validation_study.py``). ``HC0``/``HC1`` are
    consistent whenever the rows are independent. ``cluster`` is needed when
    rows are correlated within clusters and the treatment or the covariates
    are too, as in a cluster-randomized trial; with few clusters its
    normal-based intervals under-cover somewhat. No covariance makes the Wald
    intervals reliable when the instruments are weak.

    A :class:`~skmediate.WeakInstrumentWarning` is issued when the first-stage
    partial F is below the Stock–Yogo critical value (2SLS size, maximal size
    15%) for the number of instruments.

    **k-class.** The estimates solve ``Dᵀ(I - κM_Q)D θ = Dᵀ(I - κM_Q)y``
    (``M_Q = I - P_Q``); the LIML ``κ`` is the smallest eigenvalue of
    ``(Eᵀ M_W E)(Eᵀ M_Q E)⁻¹`` with ``E = [y, M]``. The covariances use the
    bread ``(Dᵀ(I - κM_Q)D)⁻¹`` and the scores ``d̂ᵢε̂ᵢ`` as for 2SLS (the
    convention of linearmodels).

    **Effects.** Under model (1) of Small (2012), in which the outcome is
    ``Y(r, m) = Y(0, 0) + θ_Mi m + θ_Ri r`` with subject-specific effects,
    the average effect of ``R`` through ``M`` is ``E[θ_Mi (M_i(1) -
    M_i(0))]``. Under IV-A2 (``E[θ_Mi | X] = θ_M``) and IV-A3 (``M ⊥ θ_M | R,
    X``) with ``R`` randomized it equals ``θ_M δ`` with ``δ = E[M(1) -
    M(0)]``, and the total effect of ``R`` is ``θ_R + θ_M δ``. The
    intention-to-treat coefficient of ``R`` in the regression of ``y`` on
    ``[1, X, Z, R]`` estimates the same total effect without these
    assumptions; a large gap between the two points at a violated
    assumption. The standard errors of the effects come from the joint
    covariance of the structural equation, the first stage, the
    intention-to-treat regression and the covariate means (at which the
    interactions are centered, so their sampling variation enters ``δ``),
    from their stacked estimating equations with ``cov_type``, by the delta
    method.

    **Weak instruments.** :meth:`anderson_rubin_confidence_set` inverts the
    Anderson–Rubin test, whose size does not depend on the strength of the
    instruments; :meth:`summary` shows it beside the Wald interval.

    References
    ----------
    Small, D. S. (2012). Mediation analysis without sequential ignorability:
    using baseline covariates interacted with random assignment as instrumental
    variables. Journal of Statistical Research, 46(2), 91-103.

    Stock, J. H. and Yogo, M. (2005). Testing for weak instruments in linear IV
    regression. In Identification and Inference for Econometric Models.

    Anderson, T. W. and Rubin, H. (1949). Estimation of the parameters of a
    single equation in a complete system of stochastic equations. Annals of
    Mathematical Statistics, 20(1), 46-63.

    Montiel Olea, J. L. and Pflueger, C. (2013). A robust test for weak
    instruments. Journal of Business & Economic Statistics, 31(3), 358-369.

    Fuller, W. A. (1977). Some properties of a modification of the limited
    information estimator. Econometrica, 45(4), 939-953.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skmediate import IVMediationRegressor
    >>> rng = np.random.default_rng(0)
    >>> n = 2000
    >>> df = pd.DataFrame({"r": rng.integers(0, 2, n), "x": rng.normal(size=n)})
    >>> u = rng.normal(size=n)
    >>> df["m"] = df.r * (1 + df.x) + u + rng.normal(size=n)
    >>> y = 1 - 1.0 * df.r + 2.0 * df.m + 2 * u + rng.normal(size=n)
    >>> est = IVMediationRegressor(treatment="r", mediator="m").fit(df, y)
    >>> round(est.direct_effect_, 1), round(est.mediator_effect_, 1)
    (-1.0, 2.0)
    >>> round(est.effect_on_mediator_, 2), round(est.indirect_effect_, 1)
    (0.94, 1.8)
    >>> [tuple(round(end, 2) for end in piece)
    ...  for piece in est.anderson_rubin_confidence_set()]
    [(1.74, 2.15)]
    """

    _parameter_constraints: dict = {
        **_MediationRegressor._parameter_constraints,
        "kappa": [
            StrOptions({"2sls", "liml", "fuller"}),
            Interval(Real, None, None, closed="neither"),
        ],
        "fuller_alpha": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        *,
        treatment=None,
        mediator=None,
        covariates=None,
        controls=None,
        covariate_transformer="passthrough",
        cov_type="HC1",
        confidence_level=0.95,
        kappa="2sls",
        fuller_alpha=1.0,
    ):
        super().__init__(
            treatment=treatment,
            mediator=mediator,
            covariates=covariates,
            controls=controls,
            covariate_transformer=covariate_transformer,
            cov_type=cov_type,
            confidence_level=confidence_level,
        )
        self.kappa = kappa
        self.fuller_alpha = fuller_alpha

    @property
    def _method(self) -> str:
        return {"2sls": "IV-2SLS", "liml": "IV-LIML", "fuller": "IV-Fuller"}.get(
            self.kappa, "IV-k-class"
        )

    @property
    def linear_in_y(self) -> bool:
        """Whether the estimates are linear in the outcome (false for LIML and Fuller).

        When true, the structural fit's ``solve`` (of the ``TSLSFit`` from
        ``_fit_data``) maps any outcome to the estimates a refit would give,
        so sensitivity analyses and the wild bootstrap need no refitting.
        """
        return self.kappa not in ("liml", "fuller")

    def anderson_rubin_confidence_set(self, confidence_level=None):
        """Anderson–Rubin confidence set for the mediator effect ``θ_M``.

        The set of ``θ₀`` at which the Anderson–Rubin test does not reject:
        the coefficients of the excluded instruments in the regression of
        ``y - θ₀M`` on all instruments are tested to be zero with a Wald test
        using ``cov_type``. Its coverage does not depend on how strongly the
        instruments predict the mediator (it also tests the overidentifying
        restrictions, so the set can be empty when they fail).

        Parameters
        ----------
        confidence_level : float, default=None
            Level of the set; ``None`` uses the estimator's
            ``confidence_level``.

        Returns
        -------
        list of (float, float)
            Disjoint closed intervals ``(low, high)`` in increasing order,
            with ``-inf``/``inf`` for unbounded ends: one interval, two
            half-lines, the whole line, or an empty list.

        Notes
        -----
        For ``cov_type="unadjusted"`` and ``"classical"`` the set is the exact
        solution of a quadratic inequality in ``θ₀`` (``"classical"`` compares
        ``W/p`` with ``F(p, n - l)``, exact with normal errors; ``"unadjusted"``
        compares ``W`` with ``χ²(p)``). For ``"HC0"``, ``"HC1"`` and
        ``"cluster"`` the robust Wald statistic (``χ²(p)``) is inverted on a
        grid over the whole line with root refinement; the ends are accurate
        to about ``1e-12`` relative.
        """
        check_is_fitted(self)
        return self.result_.anderson_rubin_set(confidence_level)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        return tags

    def _solve(self, data: MediationData) -> TSLSFit:
        if data.roles.covariates.shape[1] == 0:
            raise ValueError(
                "IVMediationRegressor needs at least one covariate: the "
                "treatment x covariate interactions are the instruments for the "
                "mediator, and no covariate was selected"
            )
        exog = data.exog
        self._check_design(
            data, exog.shape[1] + data.roles.covariates.shape[1], "first stage"
        )
        kappa, alpha = {
            "2sls": (1.0, 0.0),
            "liml": ("liml", 0.0),
            "fuller": ("liml", self.fuller_alpha),
        }.get(self.kappa, (self.kappa, 0.0))
        return fit_tsls(
            exog,
            data.roles.mediator[:, None],
            data.instruments,
            data.y,
            data.weights,
            kappa=kappa,
            fuller_alpha=alpha,
        )

    def _mediator_fit(self, data: MediationData, solution: TSLSFit):
        return (
            solution.first_stage[0],
            data.roles.covariates,
            slice(solution.n_exog, None),
        )

    def _rank_message(self, data, exc, labels) -> str:
        mediator = data.roles.names["mediator"][0]
        if exc.block == "regressors":
            return (
                f"The mediator {mediator!r} is not identified: after the intercept, "
                "covariates, controls and treatment are accounted for, the "
                "instruments (treatment x covariate interactions) do not predict "
                "it at all. Check that the mediator differs from the treatment and "
                "that its relation with the treatment varies with the covariates."
            )
        labels = labels + [(name, "instrument") for name in data.instrument_names]
        name, role = labels[exc.index]
        earlier = ", ".join(n for n, _ in labels[: exc.index])
        if role == "instrument":
            covariate = data.roles.names["covariates"][
                exc.index - (len(labels) - len(data.instrument_names))
            ]
            return (
                f"The instruments are rank-deficient: the interaction {name!r} of "
                f"the treatment with covariate {covariate!r} is a linear "
                f"combination of the columns before it ({earlier}). This happens "
                f"when {covariate!r} is constant within the treated arm or when "
                "the interactions of several covariates are collinear; drop or "
                "recode that covariate, or make it a control."
            )
        return (
            f"The instruments are rank-deficient: {role} {name!r} is constant or "
            f"a linear combination of the columns before it ({earlier}). Drop it "
            "or merge it with the columns it duplicates."
        )


class NaiveMediationRegressor(_MediationRegressor):
    """The standard (Baron–Kenny) mediation regression by least squares.

    Regresses the outcome on the intercept, covariates, controls, treatment and
    mediator. Consistent for the direct and mediator effects only when the
    mediator is sequentially ignorable (as good as randomized given the
    treatment and covariates); see :class:`IVMediationRegressor` for the
    instrumental-variable alternative. Parameters and attributes are those of
    :class:`IVMediationRegressor`, without ``kappa``, ``fuller_alpha``,
    ``first_stage_``, ``diagnostics_`` and ``kappa_``.

    Parameters
    ----------
    treatment : str, int or callable
        Column of the randomized assignment ``R``.
    mediator : str, int or callable
        Column of the mediator ``M``.
    covariates : list of str or int, callable or None, default=None
        Baseline covariates; ``None`` means every column not given another role.
    controls : list of str or int, callable or None, default=None
        Further adjustment variables (treated like covariates here).
    covariate_transformer : "passthrough" or transformer, default="passthrough"
        Applied to the covariates and the controls.
    cov_type : {"unadjusted", "classical", "HC0", "HC1", "cluster"}, default="HC1"
        Covariance of the estimates, with the formulas of
        :class:`IVMediationRegressor` and ``D̂ = D``.
    confidence_level : float, default=0.95

    Attributes
    ----------
    direct_effect_ : float
    mediator_effect_ : float
    effect_on_mediator_ : float
        ``δ``, the coefficient of ``R`` in the least squares regression of
        ``M`` on ``[1, X, Z, R]``.
    indirect_effect_ : float
        ``θ_M δ``: the product-of-coefficients (Baron–Kenny) indirect effect,
        an average effect of ``R`` through ``M`` only when the mediator is
        sequentially ignorable and its effect does not vary with ``X``.
    total_effect_ : float
        ``θ_R + θ_M δ``; by the omitted-variable formula of least squares it
        equals the intention-to-treat coefficient exactly.
    proportion_mediated_ : float
    coef_ : ndarray of shape (n_terms - 1,)
    intercept_ : float
    result_ : MediationResult
        Including ``result_.effects`` (delta method on the stacked
        estimating equations of the three regressions).
    column_transformer_ : ColumnTransformer
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    See Also
    --------
    IVMediationRegressor : Instrumental-variable mediation analysis.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skmediate import NaiveMediationRegressor
    >>> rng = np.random.default_rng(0)
    >>> n = 2000
    >>> df = pd.DataFrame({"r": rng.integers(0, 2, n), "x": rng.normal(size=n)})
    >>> df["m"] = df.r + rng.normal(size=n)
    >>> y = 1 - 1.0 * df.r + 2.0 * df.m + df.x + rng.normal(size=n)
    >>> est = NaiveMediationRegressor(treatment="r", mediator="m").fit(df, y)
    >>> round(est.direct_effect_, 1), round(est.mediator_effect_, 1)
    (-1.0, 2.0)
    """

    _method = "OLS"

    def _solve(self, data: MediationData) -> TSLSFit:
        design = ColumnBlocks(data.exog, data.roles.mediator)
        self._check_design(data, design.shape[1], "regression")
        empty = np.empty((design.shape[0], 0))
        return fit_tsls(design, empty, empty, data.y, data.weights)

    def _mediator_fit(self, data: MediationData, solution: TSLSFit):
        n_w = solution.n_exog - 1  # the mediator is the last exogenous column
        return solution.leading_regression(n_w, n_w), None, None

    def _rank_message(self, data, exc, labels) -> str:
        labels = labels + [(data.roles.names["mediator"][0], "mediator")]
        name, role = labels[exc.index]
        earlier = ", ".join(n for n, _ in labels[: exc.index])
        return (
            f"The regressors are collinear: {role} {name!r} is constant or a "
            f"linear combination of the columns before it ({earlier}). Drop it or "
            "merge it with the columns it duplicates."
        )
