"""IVMediationRegressor and NaiveMediationRegressor: thin scikit-learn estimators."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._covariance import COV_TYPES, covariance, encode_groups
from ._diagnostics import first_stage_diagnostics
from ._linalg import LinearFit, TSLSFit, fit_tsls
from ._results import MediationResult
from ._roles import RoleData, fit_roles, transform_roles
from ._validation import check_groups, check_outcome, check_sample_weight, is_dataframe
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

    @property
    def exog(self) -> np.ndarray:
        """``[1, covariates, controls, treatment]``."""
        r = self.roles
        ones = np.ones((r.treatment.shape[0], 1))
        return np.hstack([ones, r.covariates, r.controls, r.treatment[:, None]])

    @property
    def instruments(self) -> np.ndarray:
        r = self.roles
        centered = r.covariates - np.average(r.covariates, axis=0, weights=self.weights)
        return r.treatment[:, None] * centered

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
    # The estimates are linear in the outcome (θ̂ = H y): SensitivityGrid and
    # the bootstrap may then update them in closed form instead of refitting.
    _linear_in_y = True

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
            if groups is None:
                raise ValueError(
                    "cov_type='cluster' needs the cluster labels: pass fit(..., groups=...)"
                )
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
            if n_clusters < 2:
                raise ValueError(
                    "cov_type='cluster' needs at least 2 clusters in groups; got "
                    f"{n_clusters}"
                )
        return MediationData(roles, y, weights, groups, n_clusters, outcome)

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
        arms = np.unique(treatment)
        if arms.size < 2:
            raise ValueError(
                f"treatment {data.roles.names['treatment'][0]!r} takes a single value "
                f"({arms[0]:g}) in all {rows} rows; a randomized comparison needs at "
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

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, groups=None):
        """Fit the mediation regression.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Data holding the treatment, mediator, covariate and control columns.
        y : array-like of shape (n_samples,)
            Outcome.
        sample_weight : array-like of shape (n_samples,), default=None
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
        cov = covariance(structural, self.cov_type, data.groups)
        first_stage = None
        if solution.first_stage:
            first_stage = first_stage_diagnostics(
                solution.first_stage[0], solution.n_exog, self.cov_type, data.groups
            )
        result = MediationResult(
            method=self._method,
            params=pd.Series(structural.params, index=names, name="estimate"),
            std_errors=pd.Series(np.sqrt(np.diag(cov)), index=names, name="std_error"),
            cov=pd.DataFrame(cov, index=names, columns=names),
            nobs=structural.nobs,
            cov_type=self.cov_type,
            confidence_level=self.confidence_level,
            rsquared=_rsquared(structural, data.y),
            treatment=names[-2],
            mediator=names[-1],
            outcome=data.outcome,
            instruments=tuple(data.instrument_names) if first_stage else (),
            n_clusters=data.n_clusters,
            first_stage=first_stage,
        )
        self.result_ = result
        self.intercept_ = float(structural.params[0])
        self.coef_ = structural.params[1:].copy()
        self.direct_effect_ = float(structural.params[-2])
        self.mediator_effect_ = float(structural.params[-1])
        if first_stage is not None:
            self.first_stage_ = first_stage
            if first_stage.is_weak:
                warnings.warn(
                    f"Weak instruments: the first-stage partial F statistic is "
                    f"{first_stage.f_statistic:.2f}, below the Stock-Yogo critical "
                    f"value {first_stage.critical_value:.2f} for "
                    f"{first_stage.n_instruments} instrument(s), so a nominal 5% "
                    "Wald test of the 2SLS estimates may have an actual size above "
                    "15%. The IV estimates may be biased toward the naive least "
                    "squares estimates and their confidence intervals may "
                    "under-cover.",
                    WeakInstrumentWarning,
                    stacklevel=3,
                )
        return self

    # -- prediction ---------------------------------------------------------

    def predict(self, X):
        """Structural-equation prediction with the observed mediator.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            ``intercept_ + [covariates, controls, treatment, mediator] @ coef_``.
        """
        check_is_fitted(self)
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


def _rsquared(fit: LinearFit, y: np.ndarray) -> float:
    center = np.average(y, weights=fit.weights)
    dev = (y - center) ** 2
    tss = float(dev.sum() if fit.weights is None else fit.weights @ dev)
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

    Attributes
    ----------
    direct_effect_ : float
        ``θ_R``, the average direct effect of the treatment.
    mediator_effect_ : float
        ``θ_M``, the average effect of a unit increase of the mediator.
    coef_ : ndarray of shape (n_terms - 1,)
        Coefficients of the covariates, controls, treatment and mediator, in
        that order.
    intercept_ : float
    result_ : MediationResult
        Estimates, standard errors, p-values, confidence intervals, summary.
    first_stage_ : FirstStageDiagnostics
        Partial F statistic of the excluded instruments, its p-value, partial
        R², and the Stock–Yogo critical value and verdict.
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

    References
    ----------
    Small, D. S. (2012). Mediation analysis without sequential ignorability:
    using baseline covariates interacted with random assignment as instrumental
    variables. Journal of Statistical Research, 46(2), 91-103.

    Stock, J. H. and Yogo, M. (2005). Testing for weak instruments in linear IV
    regression. In Identification and Inference for Econometric Models.

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
    """

    _method = "IV-2SLS"

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
        return fit_tsls(
            exog,
            data.roles.mediator[:, None],
            data.instruments,
            data.y,
            data.weights,
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
    :class:`IVMediationRegressor`, without ``first_stage_``.

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
    coef_ : ndarray of shape (n_terms - 1,)
    intercept_ : float
    result_ : MediationResult
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
        design = np.hstack([data.exog, data.roles.mediator[:, None]])
        self._check_design(data, design.shape[1], "regression")
        empty = np.empty((design.shape[0], 0))
        return fit_tsls(design, empty, empty, data.y, data.weights)

    def _rank_message(self, data, exc, labels) -> str:
        labels = labels + [(data.roles.names["mediator"][0], "mediator")]
        name, role = labels[exc.index]
        earlier = ", ".join(n for n, _ in labels[: exc.index])
        return (
            f"The regressors are collinear: {role} {name!r} is constant or a "
            f"linear combination of the columns before it ({earlier}). Drop it or "
            "merge it with the columns it duplicates."
        )
