"""The mediation-analysis report: one data structure of numbers, built section by section.

:func:`build_report` fits the naive and the instrumental-variable estimators and
collects every section of the analysis into a frozen :class:`Report`;
:mod:`skmediate._report.render` turns it into text, Markdown, JSON or HTML. Each
section comes from one small function that reads the estimators' own results
(``result_``, ``result_.effects``, ``first_stage_``,
``anderson_rubin_confidence_set()``), :class:`SensitivityGrid` or
:func:`skmediate.bootstrap`; nothing here computes a statistic of its own
except the per-arm means and standard deviations of the data summary.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd
from scipy import special
from sklearn.base import clone
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.preprocessing import OneHotEncoder

from skmediate._bootstrap import bootstrap
from skmediate._estimators import IVMediationRegressor, NaiveMediationRegressor
from skmediate._progress import ProgressBar
from skmediate._sensitivity import SensitivityGrid

__all__ = ["Analysis", "Report", "build_report"]

# 2: the first stage holds numbers only (no verdict); 3: lower, upper; 4: a list
# per mediator (settings.mediators, data.mediator_binary, the arms' mediator
# means and SDs, effect_on_mediator, each estimate's mediator_effect)
SCHEMA_VERSION = 4
EFFECTS = ("direct_effect", "mediator_effect")
# Arms are listed one by one for a treatment with at most this many values.
MAX_ARMS = 10


# ---------------------------------------------------------------------------
# The report: frozen dataclasses holding numbers.


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its normal-based inference."""

    estimate: float
    std_error: float
    lower: float
    upper: float
    pvalue: float


@dataclass(frozen=True)
class Settings:
    """What was analysed and how."""

    source: str
    outcome: str
    treatment: str
    mediators: tuple[str, ...]
    covariates: tuple[str, ...]
    controls: tuple[str, ...]
    categorical: tuple[str, ...]
    covariate_terms: tuple[str, ...]
    control_terms: tuple[str, ...]
    cov_type: str
    clusters: str | None
    confidence_level: float
    use_t: bool = False
    weights: str | None = None
    weight_type: str = "frequency"


@dataclass(frozen=True)
class Arm:
    """Size and means of one treatment arm (one mediator mean and SD per mediator)."""

    treatment: float
    n: int
    mediator_mean: tuple[float, ...]
    mediator_sd: tuple[float, ...]
    outcome_mean: float
    outcome_sd: float


@dataclass(frozen=True)
class MissingColumn:
    """A column with missing values among the rows read."""

    column: str
    n_missing: int


@dataclass(frozen=True)
class DataSummary:
    """Rows used and the arms of the trial (``arms`` is empty for a treatment
    with more than ``MAX_ARMS`` values). ``missing_by_column`` counts, for each
    column with missing values, the rows missing it (they are the
    ``n_rows_dropped`` rows left out). ``mediator_binary`` says, per mediator,
    whether it takes only the values 0 and 1."""

    n_rows_read: int
    n_rows_dropped: int
    n: int
    n_clusters: int | None
    mediator_binary: tuple[bool, ...]
    arms: tuple[Arm, ...]
    missing_by_column: tuple[MissingColumn, ...] = ()


@dataclass(frozen=True)
class EffectOnMediator(Estimate):
    """Average effect of the treatment on one mediator, and how it was computed."""

    method: str
    mediator: str


@dataclass(frozen=True)
class MediatorEstimate(Estimate):
    """The effect of one mediator (a row of the paper's Table 1)."""

    mediator: str


EFFECT_ON_MEDIATOR_METHOD = (
    "first-stage coefficient of the treatment (adjusted for covariates)"
)


@dataclass(frozen=True)
class MethodEstimates:
    """One row of the paper's Table 1."""

    method: str  # "naive" or "iv"
    label: str
    nobs: float
    rsquared: float
    direct_effect: Estimate
    mediator_effect: tuple[MediatorEstimate, ...]


@dataclass(frozen=True)
class MediatorFirstStageRow:
    """One mediator's first stage (``first_stage_.per_mediator``)."""

    mediator: str
    partial_f: float
    partial_r2: float
    shea_r2: float
    wald_f: float
    sw_f: float
    sw_wald_f: float
    critical_value: float
    is_weak: bool


@dataclass(frozen=True)
class FirstStage:
    """First-stage diagnostics of the excluded instruments (the renderer words the verdict).

    With several mediators ``f_statistic`` is the Cragg-Donald F and
    ``wald_f_statistic`` the Kleibergen-Paap F (as in ``first_stage_``), and
    ``mediator_stages`` lists each mediator's first stage.
    """

    instruments: tuple[str, ...]
    n_instruments: int
    f_statistic: float
    f_pvalue: float
    df_num: float
    df_denom: float
    partial_r2: float
    wald_f_statistic: float
    wald_f_pvalue: float
    cov_type: str
    critical_value: float
    is_weak: bool
    weak_test: str = "stock_yogo"
    effective_f_statistic: float = math.nan
    effective_f_critical_value: float = math.nan
    cragg_donald_f: float = math.nan
    kleibergen_paap_f: float = math.nan
    critical_table: str = "tsls_size"
    critical_level: float = 0.15
    mediator_stages: tuple[MediatorFirstStageRow, ...] = ()

    @property
    def n_mediators(self) -> int:
        return len(self.mediator_stages)


@dataclass(frozen=True)
class EffectRow(Estimate):
    """One row of an estimator's table of mediation effects (``result_.effects``)."""

    method: str
    effect: str


@dataclass(frozen=True)
class ConfidenceSet:
    """A confidence set as a union of intervals (ends may be infinite)."""

    method: str
    parameter: str
    confidence_level: float
    intervals: tuple[tuple[float, float], ...]
    not_defined: str = ""


@dataclass(frozen=True)
class EffectSets:
    """One effect's Wald interval beside its recommended (robust) set.

    ``verdict`` is a key of what the set says (``"unbounded"``, ``"empty"``,
    ``"invalid_instruments"``, ``"weak"`` or ``""``); ``not_defined`` says why
    a set could not be formed; ``mediator`` names the mediator of a mediator
    effect in a fit with several (one row each).
    """

    effect: str
    wald: tuple[tuple[float, float], ...]
    method: str
    intervals: tuple[tuple[float, float], ...]
    verdict: str = ""
    not_defined: str = ""
    mediator: str = ""


@dataclass(frozen=True)
class SensitivityPoint:
    """One row of the paper's Table 2.

    With several mediators ``tau_mediator`` and ``mediator_effect`` are dicts
    keyed by mediator name (each mediator's ``τ_M`` and effect).
    """

    tau_direct: tuple[float, ...]
    tau_mediator: tuple[float, ...] | dict[str, tuple[float, ...]]
    direct_effect: Estimate
    mediator_effect: Estimate | dict[str, Estimate]


@dataclass(frozen=True)
class SensitivityRange:
    """Range of the estimates and union of the intervals over the grid."""

    effect: str
    estimate_low: float
    estimate_high: float
    lower: float
    upper: float


@dataclass(frozen=True)
class Breakdown:
    """Values of one sensitivity parameter at which an inference changes."""

    effect: str
    parameter: str
    sign_change: float
    ci_covers_zero_up: float
    ci_covers_zero_down: float


@dataclass(frozen=True)
class Sensitivity:
    """The sensitivity analysis for violations of IV-A2 (paper's section 6)."""

    covariates: tuple[str, ...]
    confidence_level: float
    grid: tuple[SensitivityPoint, ...]
    interval: tuple[SensitivityRange, ...]
    breakdown: tuple[Breakdown, ...]


@dataclass(frozen=True)
class BootstrapRow:
    """Bootstrap standard error and interval of one effect of one estimator."""

    method: str
    effect: str
    estimate: float
    standard_error: float
    lower: float
    upper: float


@dataclass(frozen=True)
class Bootstrap:
    n_resamples: int
    method: str
    confidence_level: float
    random_state: int | None
    results: tuple[BootstrapRow, ...]


@dataclass(frozen=True)
class Report:
    """Everything the command line reports; :meth:`to_dict` is the JSON document."""

    skmediate_version: str
    settings: Settings
    data: DataSummary
    effect_on_mediator: tuple[EffectOnMediator, ...]
    estimates: tuple[MethodEstimates, ...]
    first_stage: FirstStage
    effects: tuple[EffectRow, ...]
    weak_iv_robust: ConfidenceSet
    confidence_sets: tuple[EffectSets, ...] = ()
    sensitivity: Sensitivity | None = None
    bootstrap: Bootstrap | None = None
    warnings: tuple[str, ...] = ()
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict:
        """Nested dicts and lists of JSON values, in the documented key order.

        ``NaN`` becomes ``None`` and ``±inf`` the strings ``"inf"``, ``"-inf"``.
        """
        data = asdict(self)
        ordered = {"schema_version": data.pop("schema_version")}
        ordered.update(data)
        return _jsonable(ordered)


def _jsonable(value):
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    return value


# ---------------------------------------------------------------------------
# The analysis specification.


@dataclass(frozen=True)
class Analysis:
    """Roles and options of one analysis (the parsed command line).

    ``tau_direct`` and ``tau_mediator`` are ``{covariate term: values}``
    dicts for :class:`SensitivityGrid` (both ``None``: no sensitivity
    analysis); ``n_resamples=None`` means no bootstrap; ``missing`` is the
    estimators' missing-data policy (``"drop"``: ``--dropna``); ``weights``
    names the column of the sample weights, of type ``weight_type``;
    ``mediators`` names one mediator or several.
    """

    outcome: str
    treatment: str
    mediators: tuple[str, ...]
    covariates: tuple[str, ...]
    controls: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    cov_type: str = "HC1"
    clusters: str | None = None
    weights: str | None = None
    weight_type: str = "frequency"
    use_t: bool = False
    confidence_level: float = 0.95
    tau_direct: dict | None = None
    tau_mediator: dict | None = None
    n_resamples: int | None = None
    random_state: int | None = None
    missing: str = "raise"
    source: str = ""

    @property
    def sensitivity(self) -> bool:
        return self.tau_direct is not None or self.tau_mediator is not None

    def estimators(self):
        """Unfitted naive and IV estimators for these roles."""
        roles = dict(
            treatment=self.treatment,
            mediator=self.mediators[0]
            if len(self.mediators) == 1
            else list(self.mediators),
            covariates=list(self.covariates),
            controls=list(self.controls) or None,
            covariate_transformer=categorical_encoder(self.categorical),
            cov_type=self.cov_type,
            confidence_level=self.confidence_level,
            use_t=self.use_t,
            missing=self.missing,
            weight_type=self.weight_type,
        )
        return NaiveMediationRegressor(**roles), IVMediationRegressor(**roles)


def categorical_encoder(categorical):
    """One-hot encoding (first level dropped) of the non-numeric columns.

    The command line stores the ``--categorical`` columns as strings, so the
    selector picks exactly them, among the covariates and among the controls.
    """
    if not categorical:
        return "passthrough"
    return make_column_transformer(
        (
            OneHotEncoder(drop="first", sparse_output=False),
            make_column_selector(dtype_exclude="number"),
        ),
        remainder="passthrough",
        verbose_feature_names_out=False,
    )


# ---------------------------------------------------------------------------
# Building the report.


def build_report(
    analysis: Analysis,
    X: pd.DataFrame,
    y: pd.Series,
    groups=None,
    *,
    sample_weight=None,
    n_rows_read: int | None = None,
    notes: tuple[str, ...] = (),
    progress: bool = False,
) -> Report:
    """Fit both estimators and compute every section of the report.

    Parameters
    ----------
    analysis : Analysis
    X : DataFrame
        The treatment, mediator, covariate and control columns, numeric
        except for the categorical columns (stored as strings); missing
        values only with ``analysis.missing="drop"``, which leaves their rows
        out of every fit.
    y : Series
        The outcome.
    groups : array-like, optional
        Cluster labels (a cluster-robust ``cov_type``).
    sample_weight : array-like, optional
        Sample weights, of the type ``analysis.weight_type``.
    n_rows_read : int
        Rows in the input.
    notes : tuple of str
        Sentences about the input, reported first among the notes.
    progress : bool
        Progress bars (tqdm) on standard error for the bootstrap's resamples
        and the rows of the sensitivity grid; the report is the same.

    Returns
    -------
    Report
        Warnings raised by the library while fitting are collected, as
        sentences, in ``Report.warnings``.
    """
    from skmediate import __version__

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        naive, iv = analysis.estimators()
        fit_params = {
            key: value
            for key, value in (("groups", groups), ("sample_weight", sample_weight))
            if value is not None
        }
        naive.fit(X, y, **fit_params)
        iv.fit(X, y, **fit_params)
        report = Report(
            skmediate_version=__version__,
            settings=settings_section(analysis, iv),
            data=data_section(X, y, analysis, iv, n_rows_read or len(y)),
            effect_on_mediator=effect_on_mediator_section(iv),
            estimates=(
                estimates_row("naive", "Standard regression", naive),
                estimates_row("iv", "IV", iv),
            ),
            first_stage=first_stage_section(iv),
            effects=effects_section({"naive": naive, "iv": iv}),
            weak_iv_robust=weak_iv_robust_section(iv),
            confidence_sets=confidence_sets_section(iv),
            sensitivity=sensitivity_section(iv, X, y, fit_params, analysis, progress)
            if analysis.sensitivity
            else None,
            bootstrap=bootstrap_section(
                {"naive": naive, "iv": iv}, X, y, fit_params, analysis, progress
            )
            if analysis.n_resamples
            else None,
        )
    messages = dict.fromkeys([*notes, *(_note(w, iv) for w in caught)])
    return replace(report, warnings=tuple(messages))


def _note(caught, iv) -> str:
    """A library warning as a sentence of the report, in the command line's terms."""
    from skmediate._report.render import weak_instrument_message
    from skmediate.exceptions import FewClustersWarning, WeakInstrumentWarning

    if issubclass(caught.category, WeakInstrumentWarning):
        return (
            weak_instrument_message(iv.first_stage_)
            + " The weak-instrument-robust section gives the Anderson-Rubin set "
            "for the mediator effect."
        )
    if issubclass(caught.category, FewClustersWarning):
        g = iv.result_.n_clusters
        return (
            f"Only {g} clusters: cluster-robust standard errors are biased "
            "downward and normal critical values over-reject with fewer than "
            "about 30 clusters. Use --cov-type CR2 with --use-t (Bell-McCaffrey "
            "degrees of freedom), or --use-t for t(G - 1) critical values."
        )
    return " ".join(str(caught.message).split())


def _terms(iv) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Covariate and control term names of a fitted estimator."""
    design = iv.result_.model.design
    return design.covariates, design.controls


def settings_section(analysis: Analysis, iv) -> Settings:
    covariate_terms, control_terms = _terms(iv)
    return Settings(
        source=analysis.source,
        outcome=analysis.outcome,
        treatment=analysis.treatment,
        mediators=tuple(analysis.mediators),
        covariates=tuple(analysis.covariates),
        controls=tuple(analysis.controls),
        categorical=tuple(analysis.categorical),
        covariate_terms=covariate_terms,
        control_terms=control_terms,
        cov_type=analysis.cov_type,
        clusters=analysis.clusters,
        confidence_level=analysis.confidence_level,
        use_t=analysis.use_t,
        weights=analysis.weights,
        weight_type=analysis.weight_type,
    )


def data_section(X, y, analysis, iv, n_rows_read) -> DataSummary:
    """Rows used and left out, clusters (from the fitted ``iv``), and size and
    means of each arm over the rows used."""
    kept = np.setdiff1d(np.arange(len(y)), iv.dropped_rows_)
    r = np.asarray(X[analysis.treatment], dtype=float)[kept]
    ms = np.asarray(X[list(analysis.mediators)], dtype=float)[kept]
    y = np.asarray(y, dtype=float)[kept]
    values = np.unique(r)
    arms = ()
    if values.size <= MAX_ARMS:
        arms = tuple(
            Arm(
                treatment=float(v),
                n=int((r == v).sum()),
                mediator_mean=tuple(float(m[r == v].mean()) for m in ms.T),
                mediator_sd=tuple(_sd(m[r == v]) for m in ms.T),
                outcome_mean=float(y[r == v].mean()),
                outcome_sd=_sd(y[r == v]),
            )
            for v in values
        )
    return DataSummary(
        n_rows_read=int(n_rows_read),
        n_rows_dropped=int(iv.n_dropped_),
        n=int(len(y)),
        n_clusters=iv.result_.n_clusters,
        mediator_binary=tuple(bool(np.isin(m, (0.0, 1.0)).all()) for m in ms.T),
        arms=arms,
        missing_by_column=tuple(
            MissingColumn(str(name), int(count))
            for name, count in iv.missing_counts_.items()
        ),
    )


def _sd(values: np.ndarray) -> float:
    return float(values.std(ddof=1)) if values.size > 1 else math.nan


def _from_row(row, cls=Estimate, **extra):
    """An :class:`Estimate` (or subclass) from a row of a ``to_frame()`` or
    ``effects`` table (columns estimate, std_error, pvalue, lower, upper)."""
    return cls(
        estimate=float(row["estimate"]),
        std_error=float(row["std_error"]),
        lower=float(row["lower"]),
        upper=float(row["upper"]),
        pvalue=float(row["pvalue"]),
        **extra,
    )


def per_mediator(result, stem: str) -> dict[str, str]:
    """``{mediator: row of result.effects}`` of a per-mediator effect ``stem``:
    ``stem`` for one mediator, ``stem[m]`` for each of several
    (:func:`~skmediate._numerics.effects.effect_names`)."""
    mediators = result.mediators
    if len(mediators) == 1:
        return {mediators[0]: stem}
    return {m: f"{stem}[{m}]" for m in mediators}


def effect_on_mediator_section(iv) -> tuple[EffectOnMediator, ...]:
    """``δ`` of each mediator, with its inference from the joint (stacked)
    covariance of ``result_.effects``."""
    effects = iv.result_.effects
    return tuple(
        _from_row(
            effects.loc[row],
            EffectOnMediator,
            method=EFFECT_ON_MEDIATOR_METHOD,
            mediator=m,
        )
        for m, row in per_mediator(iv.result_, "effect_on_mediator").items()
    )


def estimates_row(method: str, label: str, estimator) -> MethodEstimates:
    """Direct and mediator effects of one fitted estimator (a row of Table 1)."""
    result = estimator.result_
    table = result.to_frame()
    return MethodEstimates(
        method=method,
        label=label,
        nobs=float(result.nobs),
        rsquared=float(result.rsquared),
        direct_effect=_from_row(table.loc[result.treatment]),
        mediator_effect=tuple(
            _from_row(table.loc[m], MediatorEstimate, mediator=m)
            for m in result.mediators
        ),
    )


def first_stage_section(iv) -> FirstStage:
    fs = iv.first_stage_
    eff = fs.effective_f
    return FirstStage(
        instruments=tuple(iv.result_.instruments),
        n_instruments=int(fs.n_instruments),
        f_statistic=float(fs.f_statistic),
        f_pvalue=float(fs.f_pvalue),
        df_num=float(fs.df_num),
        df_denom=float(fs.df_denom),
        partial_r2=float(fs.partial_r2),
        wald_f_statistic=float(fs.wald_f_statistic),
        wald_f_pvalue=float(fs.wald_f_pvalue),
        cov_type=fs.cov_type,
        critical_value=float(fs.critical_value),
        is_weak=fs.is_weak,
        weak_test=fs.weak_test,
        effective_f_statistic=math.nan if eff is None else float(eff.statistic),
        effective_f_critical_value=(
            math.nan if eff is None else float(eff.critical_value)
        ),
        cragg_donald_f=float(fs.cragg_donald_f),
        kleibergen_paap_f=float(fs.kleibergen_paap_f),
        critical_table=fs.critical_table,
        critical_level=float(fs.critical_level),
        mediator_stages=tuple(
            MediatorFirstStageRow(
                mediator=s.mediator,
                partial_f=float(s.partial_f),
                partial_r2=float(s.partial_r2),
                shea_r2=float(s.shea_r2),
                wald_f=float(s.wald_f),
                sw_f=float(s.sw_f),
                sw_wald_f=float(s.sw_wald_f),
                critical_value=float(s.critical_value),
                is_weak=bool(s.is_weak),
            )
            for s in fs.mediator_stages
        ),
    )


def effects_section(estimators: dict) -> tuple[EffectRow, ...]:
    """Every row of each estimator's table of mediation effects (``result_.effects``)."""
    return tuple(
        _from_row(row, EffectRow, method=method, effect=str(name))
        for method, est in estimators.items()
        for name, row in est.result_.effects.iterrows()
    )


SET_EFFECTS = ("direct", "mediator", "indirect", "total", "proportion_mediated")


def confidence_sets_section(iv) -> tuple[EffectSets, ...]:
    """For each effect, the Wald interval and the recommended set of the IV fit."""
    return effect_sets(iv.result_)


def effect_sets(result) -> tuple[EffectSets, ...]:
    """Each effect's Wald interval and recommended set of a ``MediationResult``
    (the rows of the summary's and of the report's confidence-set tables)."""
    rows = []
    several = len(result.mediators) > 1
    for effect in SET_EFFECTS:
        names = result.mediators if several and effect == "mediator" else (None,)
        for name in names:
            try:
                wald = result.confidence_set(effect, "wald", mediator=name)
                best = result.confidence_set(effect, mediator=name)
            except ValueError as exc:
                rows.append(
                    EffectSets(
                        effect, (), "", (), not_defined=str(exc), mediator=name or ""
                    )
                )
                continue
            rows.append(
                EffectSets(
                    effect=effect,
                    wald=tuple(wald),
                    method=best.method,
                    intervals=tuple(best),
                    verdict=result.set_verdict(effect, best),
                    mediator=name or "",
                )
            )
    return tuple(rows)


def weak_iv_robust_section(iv) -> ConfidenceSet:
    """The Anderson-Rubin confidence set for the mediator effect.

    Where the set is not defined (a robust statistic with fewer clusters than
    instruments), ``intervals`` is empty and ``not_defined`` says why.
    """
    try:
        pieces = iv.anderson_rubin_confidence_set()
    except ValueError as exc:
        return ConfidenceSet(
            method="anderson_rubin",
            parameter="mediator_effect",
            confidence_level=float(iv.confidence_level),
            intervals=(),
            not_defined=str(exc),
        )
    return ConfidenceSet(
        method="anderson_rubin",
        parameter="mediator_effect",
        confidence_level=float(iv.confidence_level),
        intervals=tuple((float(lo), float(hi)) for lo, hi in pieces),
    )


def sensitivity_section(iv, X, y, fit_params, analysis, progress=False) -> Sensitivity:
    """The grid of the paper's Table 2, the sensitivity intervals and breakdowns."""
    covariates = _terms(iv)[0]
    for effect, spec in (
        ("direct", analysis.tau_direct),
        ("mediator", analysis.tau_mediator),
    ):
        unknown = [name for name in spec or {} if name not in covariates]
        if unknown:
            raise ValueError(
                f"the sensitivity values for the {effect} effect name "
                f"{', '.join(map(repr, unknown))}, which "
                f"{'is not a covariate' if len(unknown) == 1 else 'are not covariates'}"
                f"; the covariates are {', '.join(covariates)} (a one-hot encoded "
                "column is named <column>_<level>)"
            )
    tau_mediator = analysis.tau_mediator
    if tau_mediator and len(analysis.mediators) > 1:
        # each mediator's effect may vary with the covariates by these values
        tau_mediator = {m: dict(tau_mediator) for m in analysis.mediators}
    grid = SensitivityGrid(
        clone(iv),
        tau_direct=analysis.tau_direct,
        tau_mediator=tau_mediator,
        method="closed_form",  # exact for 2SLS; also gives the breakdown values
        progress=progress,
    ).fit(X, y, **fit_params)
    return sensitivity_from_grid(grid, progress)


def sensitivity_from_grid(grid, progress=False) -> Sensitivity:
    """The grid points, sensitivity intervals and (for ``method="closed_form"``)
    breakdown values of a fitted :class:`SensitivityGrid`.

    With ``progress``, a bar counts the grid's points as they become rows of
    the report (on a large grid, the longest step of the analysis).
    """
    frame = grid.to_frame()
    names = grid.covariate_names_
    mediators = grid.mediator_names_
    p = len(names)
    level = grid.confidence_level_

    # the grid's own intervals, and p-values from its reference (normal, or t
    # with each effect's degrees of freedom at τ = 0), column by column
    effects = ["direct_effect"] + (
        [f"mediator_effect[{m}]" for m in mediators]
        if len(mediators) > 1
        else ["mediator_effect"]
    )
    df = getattr(grid, "_effect_df", None)
    columns = {}
    for j, effect in enumerate(effects):
        est = frame[effect].to_numpy(dtype=float)
        se = frame[f"{effect}_se"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = np.abs(est / se)
        if df is None:
            pvalue = 2 * special.ndtr(-stat)
        else:
            pvalue = 2 * special.stdtr(df[j], -stat)
        pvalue = np.where(se > 0, pvalue, np.nan)
        columns[effect] = [
            Estimate(
                estimate=float(e),
                std_error=float(s),
                lower=float(lo),
                upper=float(hi),
                pvalue=float(pv),
            )
            for e, s, lo, hi, pv in zip(
                est,
                se,
                frame[f"{effect}_lower"].to_numpy(dtype=float),
                frame[f"{effect}_upper"].to_numpy(dtype=float),
                pvalue,
                strict=True,
            )
        ]
    points = []
    with ProgressBar(len(frame), "sensitivity grid", "point", progress) as bar:
        for i in bar.track(range(len(frame))):
            tau = [  # τ_R, then each mediator's τ_M
                tuple(float(t) for t in grid.grid_[i, b * p : (b + 1) * p])
                for b in range(1 + len(mediators))
            ]
            if len(mediators) > 1:
                tau_mediator = dict(zip(mediators, tau[1:], strict=True))
                mediator_effect = {
                    m: columns[f"mediator_effect[{m}]"][i] for m in mediators
                }
            else:
                tau_mediator = tau[1]
                mediator_effect = columns["mediator_effect"][i]
            points.append(
                SensitivityPoint(
                    tau_direct=tau[0],
                    tau_mediator=tau_mediator,
                    direct_effect=columns["direct_effect"][i],
                    mediator_effect=mediator_effect,
                )
            )
    interval = tuple(
        SensitivityRange(
            effect=effect,
            estimate_low=float(row["estimate_low"]),
            estimate_high=float(row["estimate_high"]),
            lower=float(row["lower"]),
            upper=float(row["upper"]),
        )
        for effect, row in grid.sensitivity_interval_.iterrows()
    )
    breakdown = tuple(
        Breakdown(
            effect=effect,
            parameter=parameter,
            **{k: float(v) for k, v in row.items()},
        )
        for (effect, parameter), row in getattr(
            grid, "breakdown_", pd.DataFrame()
        ).iterrows()
    )
    return Sensitivity(
        covariates=tuple(names),
        confidence_level=float(level),
        grid=tuple(points),
        interval=interval,
        breakdown=breakdown,
    )


def bootstrap_section(
    estimators: dict, X, y, fit_params, analysis, progress=False
) -> Bootstrap:
    """Percentile bootstrap intervals of the direct effect and each mediator's
    effect, of each estimator.

    Calls :func:`skmediate.bootstrap` once per estimator with the same
    ``random_state``, so both are computed on the same resamples. With
    clusters, whole clusters are resampled (``groups``); every fit gets the
    resample's cluster labels and sample weights (``fit_params``).
    """
    options = dict(
        statistic=tuple(f"{effect}_" for effect in EFFECTS),
        n_resamples=analysis.n_resamples,
        method="percentile",
        confidence_level=analysis.confidence_level,
        random_state=analysis.random_state,
        progress=progress,
    )
    if fit_params:
        options.update(fit_params=fit_params)
    if "groups" in fit_params:
        options.update(groups=fit_params["groups"])
    rows = []
    for method, est in estimators.items():
        frame = bootstrap(est, X, y, **options).to_frame()
        # the statistics' names: direct_effect_, then mediator_effect_ or,
        # with several mediators, mediator_effect_[m] for each
        for name, row in frame.iterrows():
            rows.append(
                BootstrapRow(
                    method=method,
                    effect=name.replace("_[", "[").removesuffix("_"),
                    estimate=float(row["estimate"]),
                    standard_error=float(row["std_error"]),
                    lower=float(row["lower"]),
                    upper=float(row["upper"]),
                )
            )
    return Bootstrap(
        n_resamples=int(analysis.n_resamples),
        method="percentile",
        confidence_level=float(analysis.confidence_level),
        random_state=analysis.random_state,
        results=tuple(rows),
    )
