"""IVMediationRegressor and NaiveMediationRegressor: thin scikit-learn estimators.

Every fit goes through :func:`fit_mediation`, which validates the input,
resolves the column roles, runs the numerics once
(:func:`skmediate._numerics.engine.fit_model`) and sets the fitted
attributes. It is also the documented interface of the workflows that need
the validated input or more from a fit (the sensitivity grid, the
bootstrap): they call it instead of ``fit`` and never validate or fit twice.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from skmediate._dask import dask_inputs, dask_template
from skmediate._numerics.covariance import AR_MEATS, COV_TYPES, WEIGHT_TYPES, cov_type
from skmediate._numerics.design import Design
from skmediate._numerics.diagnostics import FirstStageDiagnostics, weak_identification
from skmediate._numerics.engine import fit_model
from skmediate._numerics.joint import AndersonRubinTest
from skmediate._numerics.rows import is_dask
from skmediate._numerics.sets import ConfidenceSet
from skmediate._numerics.wild import WildBootstrapTest
from skmediate._results import MediationResult
from skmediate._roles import ROLES, fit_roles, input_names, resolve_roles
from skmediate._typing import Column, Columns, Data, RandomState
from skmediate._validation import (
    MISSING_POLICIES,
    HasMethods,
    Interval,
    MissingRows,
    StrOptions,
    check_groups,
    check_outcome,
    check_sample_weight,
    drop_missing,
    fit_context,
    fit_features,
    is_dataframe,
    is_missing,
    missing_in_columns,
    param_names,
    params_satisfy_constraints,
    series_name,
    take_rows,
)
from skmediate.exceptions import (
    FewClustersWarning,
    RankDeficiencyError,
    TreatmentCodingWarning,
    UnusedGroupsWarning,
    WeakInstrumentWarning,
)

if TYPE_CHECKING:
    from typing_extensions import Self

    from skmediate._report.document import Summary

__all__ = [
    "FitInputs",
    "IVMediationRegressor",
    "NaiveMediationRegressor",
    "fit_mediation",
]

_COLUMNS = ["array-like", str, Integral, slice, callable, None]


@dataclass(frozen=True, eq=False)
class FitInputs:
    """The validated numeric input of one fit, as the numerics received it.

    Attributes
    ----------
    design : Design
    values : ndarray or dask array
        The role columns (treatment, mediators, covariates, controls) are
        ``values[:, columns]``: the caller's own numeric array, or a gathered
        one (``columns`` None).
    columns : ndarray of int or None
    y : ndarray or dask array of shape (n,)
    weights : ndarray, dask array or None
        The sample weights as given, of the estimator's ``weight_type`` (rows
        with weight 0 contribute nothing).
    groups : ndarray, dask array or None
        Cluster labels, for the cluster-robust ``cov_type`` values.
    missing : MissingRows
        The rows left out for missing values (``missing="drop"``); the other
        attributes hold the rows kept.
    """

    design: Design
    values: object
    columns: object
    y: object
    weights: object
    groups: object
    missing: MissingRows

    @property
    def raw(self):
        """The role columns as one array."""
        return self.values if self.columns is None else self.values[:, self.columns]


@fit_context(prefer_skip_nested_validation=True)
def fit_mediation(
    estimator,
    X,
    y,
    sample_weight=None,
    groups=None,
    *,
    sensitivity=False,
    sensitivity_sets=False,
) -> FitInputs:
    """Fit a built-in estimator and return its validated input.

    This is what ``estimator.fit`` does; workflows call it directly when they
    need the validated input (the bootstrap's batched engine) or extra
    quantities of the fit (``sensitivity``: the closed forms of the
    sensitivity analysis, in ``estimator.result_.model.sensitivity``).

    Parameters
    ----------
    estimator : IVMediationRegressor or NaiveMediationRegressor
        Fitted in place.
    X, y, sample_weight, groups
        As for ``fit``.
    sensitivity : bool or callable, default=False
        ``True`` for the closed forms over every component of ``τ``; a
        callable takes the design (:class:`~skmediate._numerics.design.Design`:
        the covariates' and the mediators' names) and returns the indices of
        the components the analysis varies (checked before the rows are read).
    sensitivity_sets : bool, default=False
        With ``sensitivity``, also the Anderson–Rubin moments as functions of
        ``τ`` (for the weak-instrument-robust sets over the grid).

    Returns
    -------
    FitInputs
    """
    inputs = _prepare(estimator, X, y, sample_weight, groups)
    kappa, alpha = estimator._kappa_spec()
    if callable(sensitivity):
        sensitivity = sensitivity(inputs.design)
    try:
        model = fit_model(
            inputs.design,
            inputs.values,
            inputs.y,
            columns=inputs.columns,
            weights=inputs.weights,
            groups=inputs.groups,
            cov_type_name=estimator.cov_type,
            weight_type_name=estimator.weight_type,
            kappa=kappa,
            fuller_alpha=alpha,
            sensitivity=sensitivity,
            sensitivity_sets=sensitivity_sets,
            use_t=estimator.use_t,
            ar_meat=estimator._ar_meat_spec(),
        )
    except RankDeficiencyError as exc:
        raise ValueError(_rank_message(inputs.design, exc)) from None
    _set_fitted(estimator, model, inputs.missing, inputs.weights is not None)
    _warn_few_clusters(model)
    _warn_treatment_coding(model)
    design = model.design
    if not design.instrumented:
        return inputs
    if weak_identification(model):
        from skmediate._report.render import weak_instrument_message

        warnings.warn(
            weak_instrument_message(estimator.result_.first_stage)
            + " See confidence_set(...) for "
            "weak-instrument-robust sets (the Anderson-Rubin set for the "
            "mediator effect).",
            WeakInstrumentWarning,
            stacklevel=4,
        )
    return inputs


# Below this many clusters, cluster-robust inference with normal critical
# values is unreliable (Cameron and Miller 2015, section VI).
FEW_CLUSTERS = 30


def _warn_few_clusters(model) -> None:
    kind, n_clusters = model.kind, model.n_clusters
    if not kind.clustered or n_clusters >= FEW_CLUSTERS:
        return
    if kind.name == "CR2" and model.use_t:
        return
    k = model.design.n_params
    rank = ""
    if n_clusters - 1 < k:
        rank = (
            f" With G - 1 = {n_clusters - 1} below the {k} coefficients, robust "
            "joint tests of more than G - 1 restrictions are not defined "
            "(reported as NaN)."
        )
    warnings.warn(
        f"Only {n_clusters} clusters: cluster-robust standard errors are biased "
        "downward and normal critical values over-reject with fewer than about "
        f"{FEW_CLUSTERS} clusters. Use cov_type='CR2' with use_t=True "
        "(Bell-McCaffrey degrees of freedom), use_t=True for t(G - 1) critical "
        "values, or the wild cluster bootstrap (wild_bootstrap_test)." + rank,
        FewClustersWarning,
        stacklevel=4,
    )


def _warn_treatment_coding(model) -> None:
    if len(model.treatment_coding) < 3 or not model.treatment_coding[2]:
        return
    low, high, n_other = model.treatment_coding
    name = model.design.treatment
    warnings.warn(
        f"treatment {name!r} is not coded 0/1 ({n_other:g} row(s) take other "
        f"values; range {low:g} to {high:g}): every effect is per unit of "
        f"{name}. Two arms coded otherwise scale the effects by one over the "
        "difference of the codes (half the contrast for -1/+1); recode the "
        "treatment to 0 (control) and 1 (treated). With more than two values "
        "the model is linear in the treatment, as for a dose. (A scaler in a "
        "Pipeline in front of the estimator transforms the treatment and the "
        "mediator too: preprocess the covariates with covariate_transformer.)",
        TreatmentCodingWarning,
        stacklevel=4,
    )


def _warn_unused_groups(estimator, groups) -> None:
    if groups is not None:
        warnings.warn(
            f"groups is ignored with cov_type={estimator.cov_type!r}: cluster "
            "labels enter only the cluster-robust covariances. Use "
            "cov_type='cluster' (or 'CR2') for standard errors that allow "
            "correlation within the groups, or leave groups out.",
            UnusedGroupsWarning,
            stacklevel=4,
        )


def _named_inputs(*arrays) -> tuple[str, ...]:
    """Names of the Series among ``arrays`` (left out of ``covariates=None``)."""
    return tuple(name for a in arrays if (name := series_name(a)) is not None)


def _outcome_name(y) -> str:
    name = series_name(y)
    return "y" if name is None else name


def _prepare(estimator, X, y, sample_weight, groups) -> FitInputs:
    """Validate the input and resolve the roles (sets ``roles_``, ``n_features_in_``)."""
    cluster = cov_type(estimator.cov_type).clustered
    if not cluster:
        _warn_unused_groups(estimator, groups)
    if is_dask(X):
        if estimator.missing == "drop":
            raise ValueError(
                "missing='drop' needs in-memory data; for dask data drop the "
                "incomplete rows first (for example X.dropna(subset=[...]) with y, "
                "sample_weight and groups as columns of the same dask DataFrame), "
                "or use missing='raise'"
            )
        inputs = dask_inputs(
            X,
            y,
            sample_weight,
            groups,
            treatment=estimator.treatment,
            mediator=estimator.mediator,
            covariates=estimator.covariates,
            controls=estimator.controls,
            covariate_transformer=estimator.covariate_transformer,
            cluster=cluster,
            estimator=estimator,
            exclude=_named_inputs(y, groups),
        )
        validate_data(estimator, inputs.template, reset=True, skip_check_array=True)
        estimator.roles_ = inputs.roles
        design = inputs.roles.design(_outcome_name(y), estimator._instrumented)
        _check_covariates(estimator, design)
        return FitInputs(
            design,
            inputs.raw,
            None,
            inputs.y,
            inputs.weights,
            inputs.groups,
            MissingRows(),
        )
    if not is_dataframe(X):
        X = check_array(X, dtype="numeric", ensure_all_finite=False)
    names = fit_features(estimator, X)
    names = input_names(X) if names is None else names
    outcome = _outcome_name(y)
    columns = resolve_roles(
        X,
        estimator.treatment,
        estimator.mediator,
        estimator.covariates,
        estimator.controls,
        names,
        exclude=_named_inputs(y, groups),
    )
    if not cluster:
        groups = None
    elif groups is None:
        raise ValueError(
            f"cov_type={estimator.cov_type!r} needs the cluster labels: pass "
            "fit(..., groups=...)"
        )
    missing = MissingRows()
    if estimator.missing == "drop":
        X, vectors, missing = drop_missing(
            X,
            [i for role in ROLES for i in columns[role]],
            names,
            {
                "y": (outcome, y),
                "sample_weight": (_input_label(sample_weight), sample_weight),
                "groups": (_input_label(groups), groups),
            },
        )
        y, sample_weight, groups = (
            vectors[key] for key in ("y", "sample_weight", "groups")
        )
    y = check_outcome(y, estimator)
    n = X.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"X has {n} rows but y has {y.shape[0]}; they must match")
    weights = check_sample_weight(sample_weight, y)
    if groups is not None:
        groups = check_groups(groups, n)
    roles, values, positions = fit_roles(
        X, columns, estimator.covariate_transformer, names
    )
    estimator.roles_ = roles
    design = roles.design(outcome, estimator._instrumented)
    _check_covariates(estimator, design)
    return FitInputs(design, values, positions, y, weights, groups, missing)


def _input_label(values) -> str | None:
    """The name of a named pandas Series (None otherwise), for the missing counts."""
    name = getattr(values, "name", None)
    return str(name) if isinstance(values, pd.Series) and name is not None else None


def _check_covariates(estimator, design: Design) -> None:
    if estimator._instrumented and design.n_covariates == 0:
        raise ValueError(
            "IVMediationRegressor needs at least one covariate: the treatment x "
            "covariate interactions are the instruments for the mediator, and no "
            "covariate was selected"
        )
    if estimator._instrumented and design.n_mediators > design.n_excluded:
        raise ValueError(
            f"{design.n_mediators} mediators {list(design.mediators)} need at "
            f"least as many excluded instruments, and the model has "
            f"{design.n_excluded} (one treatment x covariate interaction per "
            "covariate): add covariates that modify the treatment's effect on "
            "the mediators, or give fewer mediators"
        )


def _set_fitted(estimator, model, missing: MissingRows, weighted: bool) -> None:
    design = model.design
    params = model.params
    result = MediationResult(
        method=estimator._method,
        terms=design.term_names,
        estimates=params,
        nobs=model.nobs,
        cov_type=estimator.cov_type,
        weight_type=model.weight_type if weighted else None,
        confidence_level=estimator.confidence_level,
        treatment=design.treatment,
        mediators=design.mediators,
        outcome=design.outcome,
        instruments=design.instrument_names,
        n_clusters=model.n_clusters,
        kappa=model.kappa,
        model=model,
        n_dropped=int(missing.dropped.size),
        missing_counts=tuple(missing.counts.items()),
    )
    estimator.result_ = result
    estimator.n_dropped_ = int(missing.dropped.size)
    estimator.dropped_rows_ = missing.dropped
    estimator.missing_counts_ = dict(missing.counts)
    estimator.intercept_ = float(params[0])
    estimator.coef_ = params[1:].copy()
    estimator.term_names_ = np.asarray(design.term_names[1:], dtype=object)
    estimator.direct_effect_ = float(params[design.treatment_term])
    mediator_effects = params[design.mediator_terms]
    estimator.mediator_effect_ = (
        float(mediator_effects[0])
        if design.n_mediators == 1
        else pd.Series(mediator_effects, index=list(design.mediators), name="mediator")
    )
    if design.instrumented:
        estimator.kappa_ = model.kappa


def _rank_message(design: Design, exc: RankDeficiencyError) -> str:
    labels = design.column_labels
    if exc.block == "regressors" and design.instrumented and design.n_mediators > 1:
        return (
            f"The mediators {list(design.mediators)} are not identified jointly: "
            "after the intercept, covariates, controls and treatment are "
            "accounted for, the instruments (treatment x covariate interactions) "
            "predict fewer independent combinations of them than there are "
            "mediators. Give fewer mediators, or covariates that modify the "
            "treatment's effect on each of them differently."
        )
    if exc.block == "regressors" and design.instrumented:
        return (
            f"The mediator {design.mediators[0]!r} is not identified: after the "
            "intercept, covariates, controls and treatment are accounted for, the "
            "instruments (treatment x covariate interactions) do not predict it at "
            "all. Check that the mediator differs from the treatment and that its "
            "relation with the treatment varies with the covariates."
        )
    index = exc.index  # a column of the instruments (naive: of the regressors)
    role, name = labels[index] if design.instrumented else _naive_label(design, index)
    earlier_labels = (
        labels[:index]
        if design.instrumented
        else [_naive_label(design, i) for i in range(index)]
    )
    earlier = ", ".join(n for _, n in earlier_labels)
    if not design.instrumented:
        return (
            f"The regressors are collinear: {role} {name!r} is constant or a "
            f"linear combination of the columns before it ({earlier}). Drop it or "
            "merge it with the columns it duplicates."
        )
    if role == "instrument":
        covariate = design.covariates[index - design.n_exog]
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


def _naive_label(design: Design, index: int) -> tuple[str, str]:
    """``(role, name)`` of column ``index`` of the naive model's regressors."""
    labels = design.column_labels
    if index < design.n_exog:
        return labels[index]
    return ("mediator", design.mediators[index - design.n_exog])


class _MediationRegressor(RegressorMixin, BaseEstimator):
    """Shared machinery: parameters, fit, prediction, fitted attributes."""

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
        "use_t": ["boolean"],
        "missing": [StrOptions(set(MISSING_POLICIES))],
        "weight_type": [StrOptions(set(WEIGHT_TYPES))],
    }

    _method = ""
    _instrumented = True

    def __init__(
        self,
        *,
        treatment: Column | None = None,
        mediator: Columns = None,
        covariates: Columns = None,
        controls: Columns = None,
        covariate_transformer: Any = "passthrough",
        cov_type: str = "HC1",
        confidence_level: float = 0.95,
        use_t: bool = False,
        missing: str = "raise",
        weight_type: str = "frequency",
    ) -> None:
        self.treatment = treatment
        self.mediator = mediator
        self.covariates = covariates
        self.controls = controls
        self.covariate_transformer = covariate_transformer
        self.cov_type = cov_type
        self.confidence_level = confidence_level
        self.use_t = use_t
        self.missing = missing
        self.weight_type = weight_type

    def _validate_params(self) -> None:
        if not params_satisfy_constraints(self):
            super()._validate_params()  # raises, with scikit-learn's message

    @classmethod
    def _get_param_names(cls) -> list:
        # the constructor's parameters, read off its signature once per class:
        # scikit-learn reads the signature on every get_params, which every
        # fit calls to validate the parameters
        return list(param_names(cls))

    def _kappa_spec(self):
        return 1.0, 0.0

    def _ar_meat_spec(self) -> str:
        return "fit"

    def fit(
        self,
        X: Data,
        y: Data,
        sample_weight: Data | None = None,
        groups: Data | None = None,
    ) -> Self:
        """Fit the mediation regression.

        Parameters
        ----------
        X : {array-like, DataFrame, dask array, dask DataFrame} of shape \\
                (n_samples, n_features)
            Data holding the treatment, mediator, covariate and control columns.
            A DataFrame is any that scikit-learn reads (pandas, polars, pyarrow);
            the same data give the same numbers in each.
            Dask data is never gathered: each pass over the rows reduces every
            partition where it lives, and the result equals the in-memory fit
            up to rounding (the user guide's Numerics page describes the passes a
            fit makes). Dask
            input needs ``covariate_transformer="passthrough"`` and numeric
            columns. Any dask DataFrame works, including one whose partition
            lengths are unknown (``dd.read_parquet`` of several files, a
            filtered or repartitioned frame): dask Series given as ``y``,
            ``sample_weight`` or ``groups`` are read with it partition by
            partition and aligned by position, as in memory. Columns of the
            same frame cost no extra pass; inputs partitioned otherwise (numpy
            arrays, dask arrays, other partitions) cost one pass to find the
            partition lengths of ``X``.
        y : array-like or dask array/Series of shape (n_samples,)
            Outcome.
        sample_weight : array-like or dask array of shape (n_samples,), default=None
            Non-negative weights of the type ``weight_type``: with
            ``"frequency"`` (the default) a weighted fit equals the fit on
            rows repeated that many times. Rows with weight 0 contribute
            nothing.
        groups : array-like of shape (n_samples,), default=None
            Cluster labels, required by and used only with the cluster-robust
            ``cov_type`` values (``"cluster"``, ``"CR0"``, ``"CR2"``).

        Returns
        -------
        self
            The fitted estimator.
        """
        fit_mediation(self, X, y, sample_weight, groups)
        return self

    # -- fitted effects read off the result ------------------------------------

    @property
    def effect_on_mediator_(self) -> float | pd.Series:
        """Average effect of the treatment on the mediator ``δ``.

        A Series indexed by mediator with several mediators.
        """
        check_is_fitted(self)
        result = self.result_
        if len(result.mediators) == 1:
            return result.effect_estimate("effect_on_mediator")
        return pd.Series(
            [
                result.effect_estimate(f"effect_on_mediator[{m}]")
                for m in result.mediators
            ],
            index=list(result.mediators),
            name="effect_on_mediator",
        )

    @property
    def indirect_effect_(self) -> float:
        """Indirect effect ``θ_M δ``: the part of the effect through the mediator.

        With several mediators, through all of them: ``Σ_j θ_Mj δ_j``.
        """
        check_is_fitted(self)
        return self.result_.effect_estimate("indirect")

    @property
    def total_effect_(self) -> float:
        """Total effect ``θ_R + θ_M δ``."""
        check_is_fitted(self)
        return self.result_.effect_estimate("total")

    @property
    def proportion_mediated_(self) -> float:
        """Proportion mediated: the indirect effect over the total effect."""
        check_is_fitted(self)
        return self.result_.effect_estimate("proportion_mediated")

    # -- prediction ---------------------------------------------------------

    def predict(self, X: Data) -> np.ndarray:
        """Structural-equation prediction with the observed mediator.

        Parameters
        ----------
        X : {array-like, DataFrame, dask array, dask DataFrame} of shape \\
                (n_samples, n_features)

        Returns
        -------
        ndarray or dask array of shape (n_samples,)
            ``intercept_ + [covariates, controls, treatment, mediator] @ coef_``
            (a lazy dask array for dask input). A missing value in a role
            column is an error with ``missing="raise"``; with
            ``missing="drop"`` its row's prediction is NaN (the other rows are
            predicted as usual).
        """
        check_is_fitted(self)
        design = self.result_.model.design
        estimates = self.result_.estimates
        if is_dask(X):
            validate_data(self, dask_template(X), reset=False, skip_check_array=True)
            from skmediate._dask import dask_role_matrix

            raw = dask_role_matrix(X, self.roles_)
            return design.predict(raw, estimates)
        if not is_dataframe(X):
            X = check_array(X, dtype="numeric", ensure_all_finite=False)
        validate_data(self, X, reset=False, skip_check_array=True)
        if self.missing == "drop":
            used = [i for role in ROLES for i in self.roles_.columns[role]]
            incomplete = missing_in_columns(X, used).any(axis=1)
            if incomplete.any():
                prediction = np.full(incomplete.shape[0], np.nan)
                rows = np.flatnonzero(~incomplete)
                if rows.size:
                    raw = self.roles_.transform(take_rows(X, rows))
                    prediction[rows] = design.predict(raw, estimates)
                return prediction
        return design.predict(self.roles_.transform(X), estimates)

    def score(self, X: Data, y: Data, sample_weight: Data | None = None) -> float:
        """R² of the structural equation's predictions (:meth:`predict`) on ``X``.

        This is the R² of ``y`` on the fitted structural equation with the
        observed mediator, as scikit-learn's regressors define it. It is not
        a criterion for choosing an IV specification: two-stage least squares
        does not minimize squared prediction error, so least squares
        (``kappa=0``, the naive regression) scores higher while its effects
        are biased by the unmeasured confounding that the instruments remove,
        and every ``cov_type`` scores the same (they change standard errors,
        not predictions). A grid search over ``kappa`` or ``cov_type`` by
        ``score`` picks the wrong model; compare estimators by their bias and
        coverage on simulated trials with known effects instead
        (:func:`skmediate.simulation.simulate`; the example
        ``examples/choosing_an_estimator.py`` shows such a study).

        With ``missing="drop"`` the rows whose prediction is NaN, or whose
        ``y`` or ``sample_weight`` is missing, are left out.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Data with the columns the fit used.
        y : array-like of shape (n_samples,)
            Outcome.
        sample_weight : array-like of shape (n_samples,), default=None
            Frequency weights of the rows.

        Returns
        -------
        float
            The R² of the predictions.
        """
        if self.missing != "drop" or is_dask(X):
            return super().score(X, y, sample_weight=sample_weight)
        prediction = self.predict(X)
        keep = ~np.isnan(prediction) & ~is_missing(np.asarray(y).reshape(-1))
        if sample_weight is not None:
            keep &= ~is_missing(np.asarray(sample_weight).reshape(-1))
        rows = np.flatnonzero(keep)
        if rows.size == 0:
            raise ValueError(
                "every row has a missing value in X, y or sample_weight; there is "
                "nothing to score"
            )
        weights = None if sample_weight is None else take_rows(sample_weight, rows)
        return r2_score(take_rows(y, rows), prediction[rows], sample_weight=weights)

    def summary(self) -> Summary:
        """The summary of the fit (see :meth:`MediationResult.summary`).

        Returns
        -------
        Summary
            Prints as text; renders as HTML, Markdown and LaTeX.
        """
        check_is_fitted(self)
        return self.result_.summary()

    @property
    def linear_in_y(self) -> bool:
        """Whether the estimates are linear in the outcome for these parameters.

        When true, the sensitivity analysis and the wild bootstrap need no
        refitting. False for ``kappa="liml"`` and ``"fuller"``, whose ``κ``
        depends on the outcome.
        """
        return True

    def wild_bootstrap_test(
        self,
        effect: str,
        value: float,
        *,
        n_resamples: int = 999,
        weights: str = "rademacher",
        random_state: RandomState = None,
    ) -> WildBootstrapTest:
        """Wild restricted efficient bootstrap test of ``H₀: effect = value``.

        The wild cluster bootstrap of Davidson and MacKinnon (2010) with the
        null imposed: the structural equation is estimated under ``H₀``, the
        mediator's reduced form efficiently (with the restricted residuals as
        a regressor), and bootstrap samples multiply both equations'
        residuals by one Rademacher or Webb multiplier per cluster. Each
        sample is refitted and its t statistic formed with the CR1
        covariance. The test holds its level with few clusters, where
        normal or ``t(G - 1)`` critical values over-reject, and it is far less
        sensitive to weak instruments than the Wald test.

        Parameters
        ----------
        effect : {"direct", "mediator"}
            ``θ_R`` or ``θ_M``.
        value : float
            ``θ₀``.
        n_resamples : int, default=999
            Number of bootstrap samples.
        weights : {"rademacher", "webb"}, default="rademacher"
            The multipliers: ``±1`` with probability ``1/2``, or Webb's
            six-point distribution (better with fewer than about 12
            clusters, where Rademacher draws admit only ``2^G`` samples).
        random_state : int, numpy Generator or RandomState, default=None
            Seed of the multipliers' draws.

        Returns
        -------
        WildBootstrapTest
            With ``statistic`` (the CR1 t statistic), ``pvalue`` (the share
            of ``|t*| ≥ |t|``) and ``bootstrap_statistics``.

        Raises
        ------
        ValueError
            When the fit has no clusters (fit with a cluster-robust
            ``cov_type`` and ``groups``; ``groups=np.arange(n_samples)`` gives
            the row-level wild bootstrap), more than 200 of them (``CR2``
            fits keep them whatever their number), or ``kappa`` other than
            ``"2sls"``.

        Notes
        -----
        The fit keeps each cluster's cross-products of the rows' coordinates
        (small matrices, ``G c²`` numbers for ``c`` data columns), so the test
        needs no data and no pass over the rows: every bootstrap sample is
        small-matrix algebra (see ``skmediate._numerics.wild``). The draws
        depend only on ``random_state``.
        """
        check_is_fitted(self)
        return self.result_.wild_bootstrap_test(
            effect,
            value,
            n_resamples=n_resamples,
            weights=weights,
            random_state=random_state,
        )

    def confidence_set(
        self,
        effect: str = "mediator",
        method: str | None = None,
        *,
        mediator: str | None = None,
        confidence_level: float | None = None,
        **kwargs: Any,
    ) -> ConfidenceSet:
        """A confidence set for one of the mediation effects.

        Parameters
        ----------
        effect : {"direct", "mediator", "indirect", "total", \
                "proportion_mediated"}, default="mediator"
        method : str, default=None
            ``None`` takes the recommended method for the effect and the
            fit (see Notes). ``"wald"``: the Wald interval of
            :attr:`result_` (normal or ``t``), Fieller's set for the
            proportion mediated; ``"AR"``: the weak-instrument-robust
            Anderson–Rubin set; ``"wild"``: the values the wild restricted
            efficient bootstrap test does not reject (direct and mediator
            effects; keyword arguments ``n_resamples``, ``weights``,
            ``random_state`` as for :meth:`wild_bootstrap_test`); ``"LM"`` and
            ``"CLR"`` for the mediator effect (every ``cov_type``);
            ``"AR-GKM"`` and ``"CLR"`` for the direct effect and the sets
            built on it (``"classical"`` and ``"unadjusted"``);
            ``"projection"``: the projection of the joint Anderson–Rubin set
            (Dufour and Taamouti 2005).
        mediator : str, default=None
            With several mediators, the one whose effect ``effect="mediator"``
            is (required there, and not accepted for the other effects, which
            are one number for all mediators). With one mediator it may name
            it.
        confidence_level : float, default=None
            ``None`` uses the estimator's ``confidence_level``.
        **kwargs
            Options of ``method="wild"``: ``n_resamples``, ``weights`` and
            ``random_state``, as for :meth:`wild_bootstrap_test`.

        Returns
        -------
        ConfidenceSet
            A union of disjoint closed intervals (``±inf`` for unbounded
            ends) with ``intervals``, ``is_bounded`` and ``x in s``.

        Notes
        -----
        - **mediator** (``θ_M``): ``"AR"`` is the Anderson–Rubin set of
          :meth:`anderson_rubin_confidence_set`, exact for every ``cov_type``.
          ``"CLR"`` is the conditional likelihood ratio test (the default: the
          most powerful of the three with several instruments): for
          ``"classical"`` and ``"unadjusted"`` Moreira's (2003), inverted as
          Mikusheva (2010) shows; for the HC and cluster types Kleibergen's
          (2005) robust form, whose conditioning statistic is his robust rank
          statistic ``r(θ)``, inverted by a certified bisection on pieces where
          the statistics are monotone. Where the robust CLR is not defined (a
          cluster-robust covariance of the ``2p`` reduced-form coefficients
          from at most ``2p`` clusters) the default is ``"AR"``. ``"LM"`` is
          Kleibergen's K test (2002; its robust form of 2005 for HC and
          cluster types, with the robust Anderson–Rubin statistic's covariance,
          so that with one instrument ``K = LR = AR`` and the three sets are
          the same), whose set is where a polynomial is not negative (a quartic
          with homoskedastic covariances, degree ``8p`` in general); it can
          have spurious pieces where the K statistic loses power. All three
          are robust to weak instruments and inverted exactly.
        - **direct** (``θ_R``): ``"AR"`` is the subvector Anderson–Rubin set
          of Guggenberger, Kleibergen, Mavroeidis and Chen (2012): under
          ``θ_R = r₀`` the treatment becomes an excluded instrument and the
          mediator a nuisance regressor; the statistic minimized over the
          mediator effect is compared with ``p F(p, n - l)`` (``p``
          interactions), and the set solves a quadratic inequality exactly.
          That is the set for ``"classical"`` and ``"unadjusted"``. With HC
          and cluster covariances ``"AR"`` is the projection onto ``θ_R`` of
          the joint robust Anderson–Rubin set of ``(θ_R, θ_M)`` (Dufour and
          Taamouti 2005), with the robust Anderson–Rubin test's critical
          values for ``p + 1`` restrictions: valid whatever
          the instruments' strength, conservative, and inverted exactly (the
          mediator effects admitting some ``θ_R`` are an Anderson–Rubin set,
          and over each piece of it the admitted ``θ_R`` form an interval
          with closed-form ends). ``"AR"`` is the default for every
          ``cov_type``. With ``"classical"`` and ``"unadjusted"``, two more
          powerful subvector sets: ``"AR-GKM"`` compares the same statistic,
          the smallest root ``κ_min(r₀)`` of the pencil of ``[y - r₀R, M]``,
          with the conditional critical value of Guggenberger, Kleibergen
          and Mavroeidis (2019) given the largest root ``κ_max(r₀)`` (below
          the ``χ²(p)`` quantile, so its set lies inside ``"AR"``'s; its ends
          are found between two exact bounding sets and confirmed by the
          test); ``"CLR"`` is Kleibergen's (2021) subvector conditional
          likelihood ratio test, ``κ_min(r₀) - κ̂₁`` against Moreira's (2003)
          conditional critical value given ``κ̂₁ + κ̂₂ - κ_min(r₀)``
          (``κ̂₁ ≤ κ̂₂`` the full model's roots), whose set solves a quadratic
          inequality. Both use asymptotic (``χ²``-based) laws.
        - **total**: the Wald interval of the intention-to-treat effect,
          which randomization identifies whatever the instruments' strength.
        - **indirect** (``ITT - θ_R``) and **proportion_mediated**
          (``1 - θ_R/ITT``): ``"AR"`` (or ``"AR-GKM"``, ``"CLR"``) combines
          the direct effect's robust set of that method
          and the total effect's interval, each at level ``1 - α/2``
          (Bonferroni), so the set has level at least ``1 - α``. The
          proportion's set is the whole line whenever the total effect's
          interval contains 0. ``"wald"``: the delta-method interval for the
          indirect effect and Fieller's set for the proportion (the ratio of
          the indirect to the total effect with their joint covariance).
        - **several mediators**: ``"wald"``, ``"AR"`` and ``"projection"``.
          For one mediator's effect, ``"AR"`` (the default) is the subvector
          Anderson–Rubin set of Guggenberger et al. (2012) with the other
          mediators as unrestricted endogenous regressors (``p - q + 1``
          degrees of freedom) and ``"projection"`` the projection of the
          joint Anderson–Rubin set of all mediator effects (``p`` degrees of
          freedom), both exact solutions of a quadratic inequality with
          ``"classical"`` and ``"unadjusted"``. With HC and cluster
          covariances both are the projection of the joint robust set. For
          the direct effect ``"AR"`` (the default) is the subvector set with
          the treatment as one more instrument and all ``q`` mediators
          unrestricted (``p + 1 - q`` degrees of freedom), ``"projection"``
          the projection of the joint set of ``(θ_R, θ_M)``; with HC and
          cluster covariances both are the robust projection. The indirect
          effect (the sum over the mediators) and the proportion mediated
          combine the direct effect's set with the total effect's interval as
          with one mediator. :meth:`anderson_rubin_test` tests all mediator
          effects at once.
        """
        check_is_fitted(self)
        return self.result_.confidence_set(
            effect,
            method,
            mediator=mediator,
            confidence_level=confidence_level,
            **kwargs,
        )


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
        that picks one column). Any numeric coding works; 0/1 is usual. A
        Categorical column (pandas, or polars Categorical and Enum) is an
        error: its categories are labels; code the arms as numbers.
    mediator : str, int, list of them, or callable
        Column of the mediator ``M``, numeric (a Categorical is an error, as
        for the treatment), or a list of several mediators ``M_1..M_q``, all
        endogenous: the structural equation regresses ``y`` on
        ``[1, X, Z, R, M_1..M_q]``, and the ``p`` interactions identify up to
        ``p`` mediators jointly (more mediators than instruments is an
        error). The effects are then reported per mediator (``result_.effects``
        rows ``mediator[m1]``, ``indirect[m1]``, ...) and summed.
    covariates : list of str or int, callable or None, default=None
        Baseline covariates ``X``: regressors in both stages, and interacted
        with ``R`` (after centering at their sample mean) to form the excluded
        instruments. ``None`` means every column not given another role,
        except the columns that ``y`` and ``groups`` (pandas or dask Series)
        are named after.
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
        also works on the controls, and it encodes pandas Categorical
        columns (whatever their categories) like strings
        (``make_column_selector`` reads pandas frames only; for polars input
        use a function of the frame that returns the names of its string
        columns). Term names come from its ``get_feature_names_out``. With
        ``"passthrough"`` a string or Categorical covariate or control is an
        error: a Categorical's categories are labels, never used as numbers
        (convert it with ``astype(float)`` if they are measurements); polars
        Categorical and Enum columns likewise.
    cov_type : {"unadjusted", "classical", "HC0", "HC1", "HC2", "HC3", \
            "cluster", "CR0", "CR2"}, default="HC1"
        Covariance of the estimates (see Notes). The cluster-robust types
        (``"cluster"``, ``"CR0"``, ``"CR2"``) need ``groups`` in :meth:`fit`.
    confidence_level : float, default=0.95
        Level of the confidence intervals in :attr:`result_`.
    use_t : bool, default=False
        Use t and F reference distributions for intervals, p-values, Wald
        tests and the Anderson–Rubin test (whose robust form uses the F
        reference by default, see ``ar_meat``): ``n - k`` degrees of freedom for
        the classical and HC covariances, ``G - 1`` for ``cluster`` and
        ``CR0``, and the Bell–McCaffrey degrees of freedom of each
        coefficient for ``CR2`` (as ``estimatr`` and ``clubSandwich``).
    missing : {"raise", "drop"}, default="raise"
        What :meth:`fit` does with missing values (NaN, None, ``pd.NA``; not
        infinite values, which are always an error) in the columns it uses:
        the treatment, mediator, covariate and control columns of ``X``,
        ``y``, ``sample_weight`` and, for the cluster-robust ``cov_type``
        values, ``groups``. ``"raise"``: an error naming the column.
        ``"drop"``: the rows with any of them missing are left out (a
        complete-case analysis, which assumes the values are missing
        completely at random or at random given the columns used) and the fit
        equals the fit on the other rows; :attr:`n_dropped_`,
        :attr:`dropped_rows_` and :attr:`missing_counts_` (and
        :meth:`summary`) say what was left out. :meth:`predict` then gives
        NaN for a row missing a value it needs, and :meth:`score` leaves such
        rows out. Missing values in columns the fit does not use never
        matter. Dask input takes ``"raise"`` only.
    weight_type : {"frequency", "analytic", "probability"}, default="frequency"
        What ``sample_weight`` in :meth:`fit` means, as Stata's ``fweight``,
        ``aweight`` and ``pweight`` (see Notes). ``"frequency"``: a row of
        weight ``w`` stands for ``w`` identical observations (``n = Σ w``).
        ``"analytic"``: weights inversely proportional to each row's error
        variance (for example a row that is the mean of ``w`` observations);
        ``"probability"``: sampling weights (inverse selection
        probabilities), which allow only the robust ``cov_type`` values.
        Either counts each row once (``n`` is the number of rows with
        positive weight) and is unchanged by rescaling the weights.
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
    ar_meat : {"leverage", "fit"}, default="leverage"
        The covariance and reference distribution of the robust
        Anderson–Rubin statistic (the Anderson–Rubin set of the mediator
        effect and the projection set of the direct effect) for the
        heteroskedasticity- and cluster-robust ``cov_type`` values.
        ``"leverage"``: each row's residual in the regression on all
        instruments is divided by ``1 - h``, ``h`` its leverage there (HC3),
        or a cluster's residuals multiplied by ``(I - H_gg)^(-1)`` (CR3);
        ``W/p`` is compared with ``F(p, n - l)``, and with clusters ``W`` is
        taken as Hotelling's ``T²`` with ``G - 1`` degrees of freedom,
        ``W (G - p)/(p (G - 1))`` against ``F(p, G - p)``, whatever
        ``use_t``. This keeps the test's size when the instruments are many
        relative to the rows or the clusters (see
        :meth:`anderson_rubin_confidence_set`). ``"fit"``: the ``cov_type``
        of the fit, with ``χ²(p)`` or, with ``use_t``, the F reference, as
        for the other statistics. The homoskedastic ``cov_type`` values need
        no meat and ignore it.

    Attributes
    ----------
    direct_effect_ : float
        ``θ_R``, the average direct effect of the treatment.
    mediator_effect_ : float or pandas.Series
        ``θ_M``, the average effect of a unit increase of the mediator; with
        several mediators a Series indexed by mediator name.
    effect_on_mediator_ : float or pandas.Series
        ``δ``, the average effect of the treatment on the mediator: the
        first-stage coefficient of ``R`` (the interactions are centered at
        the covariate mean); a Series with several mediators.
    indirect_effect_ : float
        ``θ_M δ``, the average effect of the treatment through the mediator
        (``Σ_j θ_Mj δ_j`` through all of several mediators; each term is the
        row ``indirect[m]`` of ``result_.effects``).
    total_effect_ : float
        ``θ_R + θ_M δ``, the average effect of the treatment on the outcome.
    proportion_mediated_ : float
        ``θ_M δ / (θ_R + θ_M δ)`` (through all the mediators).
    coef_ : ndarray of shape (n_terms - 1,)
        Coefficients of the covariates, controls, treatment and mediator, in
        that order: ``coef_[j]`` is the coefficient of ``term_names_[j]``.
        The order is that of the terms, not of the columns of ``X``
        (``feature_names_in_``), and a covariate transformer can turn one
        column into several terms; ``dict(zip(term_names_, coef_))`` labels
        them.
    term_names_ : ndarray of str of shape (n_terms - 1,)
        The names of the terms of ``coef_``, in its order: the covariates
        (after ``covariate_transformer``), the controls, the treatment, the
        mediator (``result_.params`` without the intercept).
    intercept_ : float
    kappa_ : float
        The ``κ`` used (1 for 2SLS; estimated for LIML and Fuller).
    result_ : MediationResult
        Estimates, standard errors, p-values, confidence intervals, the
        effects table (``result_.effects``), the Anderson–Rubin set, summary.
    first_stage_ : FirstStageDiagnostics
        Partial F statistic of the excluded instruments, its p-value, partial
        R², the Stock–Yogo critical value, the Montiel Olea–Pflueger
        effective F with ``cov_type`` and the weak-instrument verdict
        (``is_weak``, decided by the test ``weak_test``). With several
        mediators, ``per_mediator`` (partial F and R², Shea's R², the
        Sanderson–Windmeijer F) and the joint Cragg–Donald and
        Kleibergen–Paap F.
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
    roles_ : FittedRoles
        The resolved column roles: the input columns of each role, the names
        of the numeric columns and the fitted covariate transformers.
    n_dropped_ : int
        Rows left out for missing values (always 0 with ``missing="raise"``).
    dropped_rows_ : ndarray of int
        Their positions in ``X`` (0-based, increasing; empty when none).
    missing_counts_ : dict of str to int
        For each input with missing values (a column of ``X``; the outcome,
        ``sample_weight`` and ``groups``, under their Series name if they
        have one), the number of rows missing it; a row missing several
        values counts in each. Empty when nothing was dropped.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
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
    - ``HC2``, ``HC3``: ``B(Σ ε̂ᵢ² d̂ᵢd̂ᵢᵀ / (1 - hᵢ)^a)B`` with ``a = 1, 2``
      and the leverage ``hᵢ = d̂ᵢᵀBd̂ᵢ`` of the second-stage design ``D̂``
      (``estimatr::iv_robust``; ``sandwich::vcovHC`` on an ``ivreg`` fit
      uses ``dᵢᵀBd̂ᵢ`` with the observed mediator instead);
    - ``cluster`` (CR1): ``B(Σ_g s_g s_gᵀ)B`` with ``s_g = Σ_{i∈g} ε̂ᵢd̂ᵢ``,
      times ``G/(G-1)·(n-1)/(n-k)``; ``CR0`` without the factor;
    - ``CR2`` (Bell and McCaffrey 2002): ``s_g = D̂_gᵀ A_g ε̂_g`` with
      ``A_g = (I - D̂_g B D̂_gᵀ)^(-1/2)``, as estimatr and clubSandwich.

    **Weights** (``weight_type``, with Stata's conventions). The estimates
    are weighted least squares in both stages (``X̄`` the weighted mean)
    whatever the type; the types differ in ``n`` and in the covariance:

    - ``"frequency"`` (``fweight``): ``n = Σ w``, and every formula above is
      that of the rows repeated ``w`` times, leverages included
      (``hᵢ = d̂ᵢᵀBd̂ᵢ`` with ``B = (D̂ᵀWD̂)⁻¹``, the leverage of each copy).
      Weights summing to at most the number of parameters are refused.
    - ``"analytic"`` (``aweight``): the weights are rescaled to sum to the
      number ``N`` of rows with positive weight, and ``n = N``. The fit is the
      unweighted one on the rows multiplied by ``√wᵢ``: ``σ̂² = Σ wᵢε̂ᵢ²/(N -
      k)`` for ``classical`` (``/N`` for ``unadjusted``); HC0-HC3 use
      ``B(Σ wᵢ²ε̂ᵢ² d̂ᵢd̂ᵢᵀ / (1 - hᵢ)^a)B`` with ``hᵢ = wᵢd̂ᵢᵀBd̂ᵢ`` and
      HC1's factor ``N/(N - k)`` (Stata's ``regress``/``ivregress [aw=]``
      robust, R ``lm(weights=)`` with sandwich, ``estimatr``); the cluster
      sums are ``s_g = Σ_{i∈g} wᵢε̂ᵢd̂ᵢ`` with ``G/(G-1)·(N-1)/(N-k)``, and CR2
      adjusts ``W_g^½ε̂_g`` by ``(I - W_g^½D̂_g B D̂_gᵀW_g^½)^(-1/2)`` (estimatr,
      clubSandwich), as for frequency weights.
    - ``"probability"`` (``pweight``): as analytic weights, but only the
      robust ``cov_type`` values (HC0-HC3, cluster, CR0, CR2) are allowed: a
      homoskedastic one is refused with an error (Stata makes every
      ``pweight`` fit robust; here the choice stays explicit).

    Analytic and probability weights give the same numbers for the same
    ``cov_type``, and multiplying them by a constant changes nothing.
    Every statistic (first-stage diagnostics, weak-instrument verdict,
    Anderson–Rubin and other robust sets, effects, sensitivity analysis)
    follows the weight type; the bootstrap refits each resample
    (``engine="refit"``) unless the weights are frequency weights.

    Confidence intervals and p-values are normal-based unless ``use_t``.
    With fewer than 30 clusters a :class:`~skmediate.FewClustersWarning`
    says so (unless ``cov_type="CR2"`` with ``use_t=True``). The estimates are
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

    A :class:`~skmediate.WeakInstrumentWarning` is issued when the
    instruments are weak. With a homoskedastic ``cov_type``
    (``"unadjusted"``, ``"classical"``) and at most 30 instruments the
    first-stage partial F is compared with the Stock–Yogo critical value
    (2SLS size, maximal size 15%) for the number of instruments. The
    Stock–Yogo values are derived for homoskedastic errors, so with every
    heteroskedasticity- or cluster-robust ``cov_type``, and with more than 30
    instruments, the Montiel Olea–Pflueger effective F with ``cov_type`` is
    compared with its critical value for a worst-case 2SLS bias of 10% (5%
    test); ``first_stage_.weak_test`` says which test decided. With several
    mediators the Cragg–Donald F (homoskedastic ``cov_type``) or the
    Kleibergen–Paap F (robust) is compared with the Stock–Yogo value for
    their number, and each mediator's Sanderson–Windmeijer conditional F with
    the value for one endogenous regressor; the warning names the weakly
    identified mediators.

    **k-class.** The estimates solve ``Dᵀ(I - κM_Q)D θ = Dᵀ(I - κM_Q)y``
    (``M_Q = I - P_Q``); the LIML ``κ`` is the smallest eigenvalue of
    ``(Eᵀ M_W E)(Eᵀ M_Q E)⁻¹`` with ``E = [y, M]``. The covariances use the
    bread ``(Dᵀ(I - κM_Q)D)⁻¹`` and the scores ``d̂ᵢε̂ᵢ`` as for 2SLS (the
    convention of linearmodels); HC2, HC3 and CR2 take the leverages of
    ``D̂`` as for 2SLS (no reference implementation defines them for
    k-class estimators).

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
        "ar_meat": [StrOptions(set(AR_MEATS))],
    }

    def __init__(
        self,
        *,
        treatment: Column | None = None,
        mediator: Columns = None,
        covariates: Columns = None,
        controls: Columns = None,
        covariate_transformer: Any = "passthrough",
        cov_type: str = "HC1",
        confidence_level: float = 0.95,
        use_t: bool = False,
        missing: str = "raise",
        weight_type: str = "frequency",
        kappa: str | float = "2sls",
        fuller_alpha: float = 1.0,
        ar_meat: str = "leverage",
    ) -> None:
        super().__init__(
            treatment=treatment,
            mediator=mediator,
            covariates=covariates,
            controls=controls,
            covariate_transformer=covariate_transformer,
            cov_type=cov_type,
            confidence_level=confidence_level,
            use_t=use_t,
            missing=missing,
            weight_type=weight_type,
        )
        self.kappa = kappa
        self.fuller_alpha = fuller_alpha
        self.ar_meat = ar_meat

    @property
    def _method(self) -> str:
        return {"2sls": "IV-2SLS", "liml": "IV-LIML", "fuller": "IV-Fuller"}.get(
            self.kappa, "IV-k-class"
        )

    def _kappa_spec(self):
        return {
            "2sls": (1.0, 0.0),
            "liml": ("liml", 0.0),
            "fuller": ("liml", self.fuller_alpha),
        }.get(self.kappa, (self.kappa, 0.0))

    def _ar_meat_spec(self) -> str:
        return self.ar_meat

    @property
    def linear_in_y(self) -> bool:
        """Whether the estimates are linear in the outcome (false for LIML and Fuller).

        When true, the sensitivity analysis and the wild bootstrap need no
        refitting.
        """
        return self.kappa not in ("liml", "fuller")

    @property
    def first_stage_(self) -> FirstStageDiagnostics:
        """First-stage diagnostics: partial F, critical values, ``is_weak``."""
        check_is_fitted(self)
        return self.result_.first_stage

    @property
    def diagnostics_(self) -> pd.DataFrame:
        """IV diagnostics, one row per test, with a one-line interpretation."""
        check_is_fitted(self)
        return self.result_.diagnostics

    def anderson_rubin_confidence_set(
        self, confidence_level: float | None = None
    ) -> list[tuple[float, float]]:
        """Anderson–Rubin confidence set for the mediator effect ``θ_M``.

        The set of ``θ₀`` at which the Anderson–Rubin test does not reject:
        the coefficients of the excluded instruments in the regression of
        ``y - θ₀M`` on all instruments are tested to be zero with a Wald test
        using ``cov_type`` (for the robust types, with the meat ``ar_meat``).
        Its coverage does not depend on how strongly the
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
        compares ``W`` with ``χ²(p)``). For the robust types the robust Wald
        statistic is inverted exactly too: the ends of the set are the real
        roots of the quadratic matrix polynomial ``V(θ₀) - π(θ₀)π(θ₀)ᵀ/c`` (see
        ``skmediate._numerics.weakiv``), so no narrow piece of the set can be
        missed. The robust statistic needs more clusters than instruments.

        With many instruments the robust Wald statistic with the HC0/HC1
        meat rejects a true ``θ₀`` too often: its covariance is estimated
        from residuals that the many instruments shrink towards zero, most
        at the rows of high leverage. By default (``ar_meat="leverage"``)
        each residual of the regression on all instruments is divided by
        ``1 - h_i``, ``h_i`` the row's leverage there (HC3; for the
        cluster-robust types a cluster's residuals are multiplied by
        ``(I - H_gg)^(-1)``, CR3), and ``W/p`` is compared with
        ``F(p, n - l)``, ``l`` the instrument columns; with clusters ``W (G -
        p)/(p (G - 1))`` is compared with ``F(p, G - p)`` (Hotelling's ``T²``
        with ``G - 1`` degrees of freedom, the simplest form of the
        approximation of Pustejovsky and Tipton 2018): ``F(p, G - 1)``
        rejects too often when ``p`` is not small against ``G``. Both are
        conservative with heavy-tailed errors, whose large values enter the
        numerator and the covariance together. The statistic is still a ratio
        of quadratics in ``θ₀`` and its set is inverted exactly as above. The
        jackknife Anderson–Rubin statistic of
        Mikusheva and Sun (2022), built for many instruments, is not offered:
        with the exogenous regressors partialled out (as its authors'
        ``manyweakiv`` does) its numerator is no longer centred at zero, and
        with tens of instruments its normal approximation is skewed; see
        ``benchmarks/many_instruments_study.py`` for the comparison.

        References
        ----------
        Mikusheva, A. and Sun, L. (2022). Inference with many weak
        instruments. Review of Economic Studies, 89(5), 2663-2686.

        MacKinnon, J. G. and White, H. (1985). Some heteroskedasticity-
        consistent covariance matrix estimators with improved finite sample
        properties. Journal of Econometrics, 29(3), 305-325.

        Pustejovsky, J. E. and Tipton, E. (2018). Small-sample methods for
        cluster-robust variance estimation and hypothesis testing in fixed
        effects models. Journal of Business & Economic Statistics, 36(4),
        672-683.
        """
        check_is_fitted(self)
        return self.result_.anderson_rubin_set(confidence_level)

    def anderson_rubin_test(self, theta0: Any) -> AndersonRubinTest:
        """The joint Anderson–Rubin test of ``H₀: θ_M = θ₀`` for every mediator.

        Regresses ``y - Mθ₀`` on all instruments and tests the excluded
        instruments' coefficients with the fit's ``cov_type`` (for the robust
        types with the meat ``ar_meat``), as the one-mediator test does:
        ``W/p`` against ``F(p, n - l)`` for ``"classical"`` (and for the
        row-robust types with the default leverage meat; for the
        cluster-robust ones ``W (G - p)/(p (G - 1))`` against
        ``F(p, G - p)``), ``W`` against ``χ²(p)`` for ``"unadjusted"``.
        Valid however weak the instruments.

        Parameters
        ----------
        theta0 : float, sequence of float or dict
            The tested effect of each mediator, in the order of ``mediator``,
            or a dict keyed by mediator name.

        Returns
        -------
        AndersonRubinTest
            ``statistic``, ``pvalue``, ``df``, ``df_denom``,
            ``distribution`` and the tested ``theta0``.
        """
        check_is_fitted(self)
        return self.result_.anderson_rubin_test(theta0)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        return tags


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
    mediator : str, int, list of them, or callable
        Column of the mediator ``M``, or a list of several (as for
        :class:`IVMediationRegressor`).
    covariates : list of str or int, callable or None, default=None
        Baseline covariates; ``None`` means every column not given another role
        (except a column named as ``y`` or ``groups``).
    controls : list of str or int, callable or None, default=None
        Further adjustment variables (treated like covariates here).
    covariate_transformer : "passthrough" or transformer, default="passthrough"
        Applied to the covariates and the controls.
    cov_type : {"unadjusted", "classical", "HC0", "HC1", "HC2", "HC3", \
            "cluster", "CR0", "CR2"}, default="HC1"
        Covariance of the estimates, with the formulas of
        :class:`IVMediationRegressor` and ``D̂ = D``.
    confidence_level : float, default=0.95
        Level of the confidence intervals in :attr:`result_`.
    use_t : bool, default=False
        Use t and F reference distributions, as :class:`IVMediationRegressor`
        does.
    missing : {"raise", "drop"}, default="raise"
        Missing values in the columns the fit uses: an error, or the rows are
        left out, as for :class:`IVMediationRegressor`.
    weight_type : {"frequency", "analytic", "probability"}, default="frequency"
        What ``sample_weight`` means, with the conventions of
        :class:`IVMediationRegressor` (``D̂ = D``).

    Attributes
    ----------
    direct_effect_ : float
    mediator_effect_ : float or pandas.Series
        A Series indexed by mediator name with several mediators.
    effect_on_mediator_ : float or pandas.Series
        ``δ``, the coefficient of ``R`` in the least squares regression of
        ``M`` on ``[1, X, Z, R]`` (one per mediator).
    indirect_effect_ : float
        ``θ_M δ``: the product-of-coefficients (Baron–Kenny) indirect effect,
        an average effect of ``R`` through ``M`` only when the mediator is
        sequentially ignorable and its effect does not vary with ``X``.
    total_effect_ : float
        ``θ_R + θ_M δ``; by the omitted-variable formula of least squares it
        equals the intention-to-treat coefficient exactly.
    proportion_mediated_ : float
    coef_ : ndarray of shape (n_terms - 1,)
        In the order of ``term_names_`` (covariates, controls, treatment,
        mediator), not of ``feature_names_in_``.
    term_names_ : ndarray of str of shape (n_terms - 1,)
        The names of the terms of ``coef_``, in its order.
    intercept_ : float
    result_ : MediationResult
        Including ``result_.effects`` (delta method on the stacked
        estimating equations of the three regressions).
    roles_ : FittedRoles
    n_dropped_ : int
    dropped_rows_ : ndarray of int
    missing_counts_ : dict of str to int
        The rows left out for missing values, as for
        :class:`IVMediationRegressor`.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)

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
    _instrumented = False
