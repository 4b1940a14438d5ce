"""What the report and the summaries say, as blocks of a :class:`Summary`.

Nothing here computes a statistic. :func:`layout` turns a
:class:`~skmediate._report.report.Report` into blocks (headings, paragraphs,
tables of formatted cells, figures) and :func:`result_summary` does the same
for one fit; :mod:`skmediate._report.document` writes the blocks as text,
Markdown, HTML or LaTeX. JSON is the report's own dictionary
(:meth:`Report.to_dict`).
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import replace
from functools import partial

import pandas as pd
from scipy.special import ndtri

from skmediate._numerics.covariance import COV_TYPES
from skmediate._numerics.sets import format_set
from skmediate._numerics.weakiv import critical_value
from skmediate._report.document import (
    WIDTH,
    Figure,
    Heading,
    Paragraph,
    Rule,
    Summary,
    Table,
)
from skmediate._report.report import Report, effect_sets

__all__ = [
    "FORMATS",
    "bootstrap_summary",
    "grid_summary",
    "layout",
    "render",
    "report_summary",
    "result_summary",
]

FORMATS = ("text", "markdown", "json", "html", "latex")

# ---------------------------------------------------------------------------
# Number formatting


def fmt(value, digits: int = 3) -> str:
    """A number with ``digits`` decimals; ``n/a`` for missing, ``inf`` for infinite."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}f}"


def fmt_p(value) -> str:
    """A p-value: three decimals, ``<0.001`` below that."""
    if value is None or math.isnan(value):
        return "n/a"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def fmt_ci(low, high, digits: int = 3) -> str:
    return f"({fmt(low, digits)}, {fmt(high, digits)})"


def estimate_cells(est, digits: int = 3) -> tuple[str, str, str, str]:
    """``(estimate, SE, p-value, CI)`` cells of a row of an effect's estimate."""
    return (
        fmt(est.estimate, digits),
        fmt(est.std_error, digits),
        fmt_p(est.pvalue),
        fmt_ci(est.lower, est.upper, digits),
    )


def fmt_estimate_ci(est, digits: int = 3) -> str:
    """``estimate (low, high)``, as in the paper's tables."""
    return f"{fmt(est.estimate, digits)} {fmt_ci(est.lower, est.upper, digits)}"


def fmt_level(level: float) -> str:
    return f"{100 * level:g}%"


def fmt_value(value: float) -> str:
    """A data value such as a treatment code or a τ component: shortest form."""
    return f"{value:g}"


def fmt_set(intervals, digits: int = 3) -> str:
    """A union of intervals in the one notation for sets
    (:func:`~skmediate._numerics.sets.format_set`), ``digits`` decimals."""
    return format_set(list(intervals), f".{digits}f")


_EFFECT_LABEL = {"direct_effect": "direct effect", "mediator_effect": "mediator effect"}


def _effect_label(effect: str) -> str:
    """``direct effect``, ``mediator effect`` or, per mediator, ``mediator effect (m1)``."""
    if effect.startswith("mediator_effect["):
        return f"mediator effect ({effect[len('mediator_effect[') : -1]})"
    return _EFFECT_LABEL[effect]


def _point_effects(point) -> list:
    """``(label, Estimate)`` of a point's direct effect and mediator effect (or,
    with several mediators, each mediator's)."""
    effects = [("direct effect", point.direct_effect)]
    if isinstance(point.mediator_effect, dict):
        return effects + [
            (f"mediator effect ({m})", e) for m, e in point.mediator_effect.items()
        ]
    return effects + [("mediator effect", point.mediator_effect)]


def _point_taus(point) -> list:
    """``(label, values)`` of a grid point's ``τ_R`` and ``τ_M`` (each mediator's)."""
    taus = [("tau_R", point.tau_direct)]
    if isinstance(point.tau_mediator, dict):
        return taus + [(f"tau_M[{m}]", t) for m, t in point.tau_mediator.items()]
    return taus + [("tau_M", point.tau_mediator)]


# Rows of the estimators' effects tables shown in the mediation-effects table
# (direct and mediator effects are in Table 1), with their labels.
_MEDIATION_LABEL = {
    "effect_on_mediator": "effect on the mediator",
    "indirect": "indirect effect",
    "total": "total effect",
    "intention_to_treat": "intention-to-treat effect",
    "proportion_mediated": "proportion mediated",
}
_METHOD_LABEL = {"naive": "Standard regression", "iv": "IV"}
# With several mediators: the label of a per-mediator effect ``name[m]``.
_PER_MEDIATOR_LABEL = {
    "mediator_effect": "mediator effect ({})",
    "effect_on_mediator": "effect on {}",
    "indirect": "indirect effect through {}",
    "proportion_mediated": "proportion mediated through {}",
}


def effect_label(name: str, several: bool = False) -> str:
    """The label of an effect of the report: a key of the tables above, or
    ``stem[mediator]`` for one mediator's effect among ``several``."""
    stem, bracket, rest = name.partition("[")
    if bracket and stem in _PER_MEDIATOR_LABEL:
        return _PER_MEDIATOR_LABEL[stem].format(rest[:-1])
    if several and name == "indirect":
        return "indirect effect (all mediators)"
    return _EFFECT_LABEL.get(name) or _MEDIATION_LABEL[name]


def _mediators(s) -> str:
    """``mediator m`` or ``mediators m1, m2``."""
    if len(s.mediators) == 1:
        return f"mediator {s.mediators[0]}"
    return f"mediators {', '.join(s.mediators)}"


def _max_width(several: bool) -> int:
    """The text width of a report's table: with several mediators the page's
    (the tables are laid out to fit it, and wrap their widest cells beyond
    it), with one the wider :data:`~skmediate._report.document.TABLE_WIDTH`."""
    return WIDTH if several else 0


def _by_method(header, rows, align: str, caption: str = "") -> list[Table]:
    """One table per method, titled with its label, from ``(method label,
    cells)`` rows: the report's tables of several mediators, whose method
    column would not fit the page beside the effects' labels. The caption
    goes under the last."""
    methods = list(dict.fromkeys(label for label, _ in rows))
    return [
        Table(
            header,
            tuple(cells for label, cells in rows if label == method),
            align,
            title=method,
            caption=caption if k == len(methods) - 1 else "",
            max_width=WIDTH,
        )
        for k, method in enumerate(methods)
    ]


def _method_tables(
    header, rows, align: str, caption: str = "", split: bool = False
) -> list[Table]:
    """``(method label, cells)`` rows as one table with a Method column, or
    with ``split`` (several mediators) one table per method (:func:`_by_method`)."""
    if split:
        return _by_method(header, rows, align, caption)
    return [
        Table(
            ("Method", *header),
            tuple((label, *cells) for label, cells in rows),
            "l" + align,
            caption=caption,
        )
    ]


# ---------------------------------------------------------------------------
# Layout: what the report says, in which order


def layout(report: Report, digits: int = 3) -> list:
    """The blocks of the report, shared by the text, Markdown and HTML renderers."""
    s = report.settings
    level = fmt_level(s.confidence_level)
    blocks = [
        Heading(
            f"Mediation analysis of {s.outcome}: treatment {s.treatment}, "
            f"{_mediators(s)}",
            1,
        ),
        Paragraph(_settings_text(report)),
    ]
    blocks += _data_blocks(report, digits)
    blocks += _effect_on_mediator_blocks(report, digits, level)
    blocks += _estimates_blocks(report, digits, level)
    blocks += _first_stage_blocks(report, digits)
    blocks += _effects_blocks(report, digits, level)
    blocks += _weak_iv_robust_blocks(report)
    blocks += _confidence_sets_blocks(report)
    if report.sensitivity is not None:
        blocks += [
            Heading("Sensitivity analysis", 2),
            *sensitivity_blocks(
                report.sensitivity, digits, fit_page=len(s.mediators) > 1
            ),
        ]
    if report.bootstrap is not None:
        blocks += _bootstrap_blocks(report, digits)
    if report.warnings:
        blocks.append(Heading("Notes", 2))
        blocks += [Paragraph(f"Note: {message}") for message in report.warnings]
    basis = (
        "use t and F reference distributions"
        if s.use_t
        else "are normal-based (asymptotic)"
    )
    blocks.append(
        Paragraph(
            f"Wald intervals and p-values {basis} with the {s.cov_type} "
            f"covariance. skmediate {report.skmediate_version}."
        )
    )
    return blocks


def _settings_text(report: Report) -> str:
    s = report.settings
    parts = []
    if s.source:
        parts.append(f"Data: {s.source}.")
    parts.append(
        f"Baseline covariates (interacted with {s.treatment} to instrument "
        f"{', '.join(s.mediators)}): {', '.join(s.covariates)}."
    )
    if s.controls:
        parts.append(f"Controls (not interacted): {', '.join(s.controls)}.")
    if s.categorical:
        parts.append(
            f"One-hot encoded (first level dropped): {', '.join(s.categorical)}."
        )
    if s.weights:
        parts.append(f"Weights: {s.weights}, {weights_text(s.weight_type)}.")
    clusters = (
        f" by {s.clusters} ({report.data.n_clusters} clusters)" if s.clusters else ""
    )
    reference = (
        "t and F reference distributions"
        if s.use_t
        else "normal and chi-squared reference distributions"
    )
    parts.append(
        f"Covariance: {s.cov_type}{clusters}; {reference}; confidence level "
        f"{fmt_level(s.confidence_level)}."
    )
    return " ".join(parts)


def _data_blocks(report: Report, digits: int) -> list:
    s, d = report.settings, report.data
    text = f"{d.n} subjects"
    if d.n_rows_dropped:
        columns = ", ".join(f"{c.column} {c.n_missing}" for c in d.missing_by_column)
        text += (
            f" ({d.n_rows_read} rows read; {d.n_rows_dropped} rows with missing "
            f"values dropped listwise; missing values per column: {columns})"
        )
    blocks = [Heading("Data", 2), Paragraph(text + ".")]
    if d.arms:
        columns = tuple(
            f"{m} (rate)" if binary else f"{m} mean (SD)"
            for m, binary in zip(s.mediators, d.mediator_binary, strict=True)
        )
        rows = []
        for arm in d.arms:
            cells = tuple(
                f"{100 * mean:.1f}%"
                if binary
                else f"{fmt(mean, digits)} ({fmt(sd, digits)})"
                for mean, sd, binary in zip(
                    arm.mediator_mean, arm.mediator_sd, d.mediator_binary, strict=True
                )
            )
            rows.append(
                (
                    fmt_value(arm.treatment),
                    str(arm.n),
                    *cells,
                    f"{fmt(arm.outcome_mean, digits)} ({fmt(arm.outcome_sd, digits)})",
                )
            )
        blocks.append(
            Table(
                (f"{s.treatment}", "n", *columns, f"{s.outcome} mean (SD)"),
                tuple(rows),
                "r" * (3 + len(columns)),
                max_width=_max_width(len(s.mediators) > 1),
            )
        )
    return blocks


def _effect_on_mediator_blocks(report: Report, digits: int, level: str) -> list:
    s, several = report.settings, len(report.effect_on_mediator) > 1
    rows = tuple(
        (
            *((e.mediator,) if several else ()),
            fmt(e.estimate, digits),
            fmt(e.std_error, digits),
            fmt_ci(e.lower, e.upper, digits),
            fmt_p(e.pvalue),
        )
        for e in report.effect_on_mediator
    )
    heading = (
        f"Effect of {s.treatment} on the mediators"
        if several
        else f"Effect of {s.treatment} on the mediator {s.mediators[0]}"
    )
    return [
        Heading(heading, 2),
        Table(
            (*(("Mediator",) if several else ()), "Estimate", "SE", f"{level} CI")
            + ("p-value",),
            rows,
            ("l" if several else "") + "rrrr",
            caption=f"Method: {report.effect_on_mediator[0].method}.",
            max_width=_max_width(several),
        ),
    ]


def _estimates_blocks(report: Report, digits: int, level: str) -> list:
    s = report.settings
    several = len(s.mediators) > 1
    if several:
        return _several_estimates_blocks(report, digits, level)
    table1 = Table(
        (
            "Method",
            f"Direct effect of {s.treatment}",
            *(f"Mediator effect ({m})" for m in s.mediators),
        ),
        tuple(
            (
                row.label,
                fmt_estimate_ci(row.direct_effect, digits),
                *(fmt_estimate_ci(e, digits) for e in row.mediator_effect),
            )
            for row in report.estimates
        ),
        "l" + "r" * (1 + len(s.mediators)),
        caption=f"{level} confidence intervals in parentheses.",
    )
    details = Table(
        ("Method", "Effect", "Estimate", "SE", "p-value", f"{level} CI"),
        tuple(
            (
                row.label,
                label,
                *estimate_cells(est, digits),
            )
            for row in report.estimates
            for label, est in (
                (_EFFECT_LABEL["direct_effect"], row.direct_effect),
                *(
                    (
                        effect_label(f"mediator_effect[{e.mediator}]")
                        if several
                        else _EFFECT_LABEL["mediator_effect"],
                        e,
                    )
                    for e in row.mediator_effect
                ),
            )
        ),
        "llrrrr",
    )
    return [
        Heading("Direct and mediator effects: standard regression and IV", 2),
        table1,
        details,
        _estimates_figure(report, level),
    ]


def _estimates_figure(report: Report, level: str) -> Figure:
    """The estimates of every method with their confidence intervals."""
    return Figure(
        f"Estimates with {level} confidence intervals.",
        partial(
            figure_png,
            [row.label for row in report.estimates],
            _estimate_panels(report),
        ),
    )


def _several_estimates_blocks(report: Report, digits: int, level: str) -> list:
    """Table 1 with several mediators: a row per effect and a column per
    method (a column per mediator would not fit the page), then each method's
    estimates in a table of its own."""
    s = report.settings
    effects = [
        (f"Direct effect of {s.treatment}", [r.direct_effect for r in report.estimates])
    ]
    effects += [
        (f"Mediator effect ({m})", [r.mediator_effect[j] for r in report.estimates])
        for j, m in enumerate(s.mediators)
    ]
    table1 = Table(
        ("Effect", *(row.label for row in report.estimates)),
        tuple(
            (label, *(fmt_estimate_ci(e, digits) for e in estimates))
            for label, estimates in effects
        ),
        "l" + "r" * len(report.estimates),
        caption=f"{level} confidence intervals in parentheses.",
        max_width=WIDTH,
    )
    details = _by_method(
        ("Effect", "Estimate", "SE", "p-value", f"{level} CI"),
        [
            (
                row.label,
                (
                    label,
                    *estimate_cells(est, digits),
                ),
            )
            for row in report.estimates
            for label, est in (
                (_EFFECT_LABEL["direct_effect"], row.direct_effect),
                *(
                    (effect_label(f"mediator_effect[{e.mediator}]"), e)
                    for e in row.mediator_effect
                ),
            )
        ],
        "lrrrr",
    )
    return [
        Heading("Direct and mediator effects: standard regression and IV", 2),
        table1,
        *details,
        _estimates_figure(report, level),
    ]


def _estimate_panels(report: Report) -> list:
    """The figure's panels: the direct effect, then each mediator's effect."""
    s = report.settings
    panels = [
        (_EFFECT_LABEL["direct_effect"], [r.direct_effect for r in report.estimates])
    ]
    for j, m in enumerate(s.mediators):
        title = (
            effect_label(f"mediator_effect[{m}]")
            if len(s.mediators) > 1
            else _EFFECT_LABEL["mediator_effect"]
        )
        panels.append((title, [r.mediator_effect[j] for r in report.estimates]))
    return panels


def _first_stage_blocks(report: Report, digits: int) -> list:
    fs = report.first_stage
    if fs.n_mediators > 1:
        return _several_first_stage_blocks(fs, digits)
    rows = [
        ("Instruments", ", ".join(fs.instruments)),
        (
            f"Partial F({fs.df_num:g}, {fs.df_denom:g})",
            f"{fs.f_statistic:.2f} (p {fmt_p(fs.f_pvalue)})",
        ),
        ("Partial R-squared", fmt(fs.partial_r2, digits)),
    ]
    if fs.cov_type != "classical":
        rows.append(
            (
                f"Wald F ({fs.cov_type})",
                f"{fs.wald_f_statistic:.2f} (p {fmt_p(fs.wald_f_pvalue)})",
            )
        )
    rows.append(("Stock-Yogo critical value", fmt(fs.critical_value, 2)))
    rows.append((f"Effective F ({fs.cov_type})", fmt(fs.effective_f_statistic, 2)))
    rows.append(("Effective F critical value", fmt(fs.effective_f_critical_value, 2)))
    rows.append(("Weak-instrument test", _WEAK_TEST_NAME[fs.weak_test]))
    return [
        Heading("First stage", 2),
        Table(("Statistic", "Value"), tuple(rows), "lr"),
        Paragraph(weak_instrument_verdict(fs)),
    ]


def _several_first_stage_blocks(fs, digits: int) -> list:
    """The report's first stage with several mediators: joint and per mediator.

    Both tables fit the page: the names of the critical value's table and of
    the weak-instrument test are in the caption, and the per-mediator table
    has a column per mediator.
    """
    rows = (
        ("Instruments", ", ".join(fs.instruments)),
        (f"Cragg-Donald F({fs.df_num:g}, {fs.df_denom:g})", fmt(fs.cragg_donald_f, 2)),
        (f"Kleibergen-Paap F ({fs.cov_type})", fmt(fs.kleibergen_paap_f, 2)),
        ("Smallest canonical R-squared", fmt(fs.partial_r2, digits)),
        ("Stock-Yogo critical value", fmt(fs.critical_value, 2)),
    )
    caption = (
        f"Stock-Yogo critical value: {_critical_name(fs)}. Weak-instrument "
        f"test: {_WEAK_TEST_NAME[fs.weak_test]}."
    )
    robust = fs.weak_test == "kleibergen_paap"
    stages = fs.mediator_stages
    # a row per statistic and a column per mediator (fits the page)
    per_mediator = [
        ("Partial F", [fmt(s.partial_f, 2) for s in stages]),
        ("Partial R-squared", [fmt(s.partial_r2, digits) for s in stages]),
        ("Shea R-squared", [fmt(s.shea_r2, digits) for s in stages]),
        (f"Wald F ({fs.cov_type})", [fmt(s.wald_f, 2) for s in stages]),
        ("SW F", [fmt(s.sw_f, 2) for s in stages]),
    ]
    if robust:
        per_mediator.append(
            (f"SW F ({fs.cov_type})", [fmt(s.sw_wald_f, 2) for s in stages])
        )
    per_mediator += [
        ("Critical value", [fmt(s.critical_value, 2) for s in stages]),
        ("Weakly identified", ["yes" if s.is_weak else "no" for s in stages]),
    ]
    return [
        Heading("First stage", 2),
        Table(("Statistic", "Value"), rows, "lr", caption=caption, max_width=WIDTH),
        Table(
            ("Per mediator", *(s.mediator for s in stages)),
            tuple((label, *cells) for label, cells in per_mediator),
            "l" + "r" * len(stages),
            max_width=WIDTH,
        ),
        Paragraph(weak_instrument_verdict(fs)),
    ]


# ---------------------------------------------------------------------------
# The weak-instrument verdict: which test decided, at which critical value and
# why, for the warning, the summary and the report alike.

_WEAK_TEST_NAME = {
    "stock_yogo": "Stock-Yogo",
    "effective_f": "Montiel Olea-Pflueger effective F",
    "cragg_donald": "Cragg-Donald F (joint), Sanderson-Windmeijer F (per mediator)",
    "kleibergen_paap": (
        "Kleibergen-Paap F (joint), Sanderson-Windmeijer Wald F (per mediator)"
    ),
}


def _critical_name(fs) -> str:
    """The Stock-Yogo table of a joint critical value, as a person reads it."""
    if fs.critical_table == "tsls_relative_bias":
        return f"2SLS relative bias {fs.critical_level:.0%}"
    return f"2SLS size, {fs.critical_level:.0%} maximal size"


def _critical_meaning(table: str, level: float, weak: bool) -> str:
    """What a Stock-Yogo critical value guarantees (``weak``: may fail to)."""
    if table == "tsls_relative_bias":
        verb = "may exceed" if weak else "is at most"
        return f"the 2SLS bias {verb} {level:.0%} of the bias of least squares"
    if weak:
        return (
            "a nominal 5% Wald test of the 2SLS estimates may have an actual "
            f"size above {level:.0%}"
        )
    return (
        "a nominal 5% Wald test of the 2SLS estimates has actual size at most "
        f"{level:.0%}"
    )


def _joint_statistic(fs) -> tuple[str, float, str]:
    """The joint statistic that decides for several mediators: name, value and
    the covariance it uses (empty for the Cragg-Donald F)."""
    if fs.weak_test == "cragg_donald":
        return "Cragg-Donald F", fs.cragg_donald_f, ""
    return (
        "Kleibergen-Paap rk Wald F",
        fs.kleibergen_paap_f,
        f" with the {fs.cov_type} covariance",
    )


def _conditional_f(fs, stage) -> tuple[str, float]:
    """The Sanderson-Windmeijer F that decides for one of several mediators."""
    if fs.weak_test == "cragg_donald":
        return "Sanderson-Windmeijer conditional F", stage.sw_f
    return (
        f"Sanderson-Windmeijer conditional F with the {fs.cov_type} covariance",
        stage.sw_wald_f,
    )


def _endogenous(fs) -> str:
    return (
        f"{fs.n_mediators} endogenous regressors and {_instruments(fs.n_instruments)}"
    )


def _conditional_instruments(fs) -> str:
    n = fs.n_instruments - fs.n_mediators + 1
    return f"one endogenous regressor and {_instruments(n)}"


def _several_weak_message(fs) -> str:
    """The warning's text for several mediators: which test found what weak."""
    parts = []
    name, joint, cov = _joint_statistic(fs)
    if joint < fs.critical_value:
        parts.append(
            f"the {name} statistic of the {fs.n_mediators} mediators{cov} is "
            f"{joint:.2f}, below the Stock-Yogo critical value "
            f"{fs.critical_value:.2f} for {_endogenous(fs)}, so "
            + _critical_meaning(fs.critical_table, fs.critical_level, weak=True)
        )
    for stage in fs.mediator_stages:
        if stage.is_weak:
            name, value = _conditional_f(fs, stage)
            parts.append(
                f"mediator {stage.mediator!r} is weakly identified: its {name} "
                f"is {value:.2f}, below the Stock-Yogo critical value "
                f"{stage.critical_value:.2f} for {_conditional_instruments(fs)}"
            )
    head = "Weak instruments: " + "; ".join(parts) + "."
    return f"{head} {weak_test_reason(fs.weak_test, fs.cov_type)} {_WEAK_CONSEQUENCES}"


def _several_weak_verdict(fs) -> str:
    """The report's verdict for several mediators, in words."""
    name, joint, cov = _joint_statistic(fs)
    joint_weak = joint < fs.critical_value
    side = "below" if joint_weak else "above"
    text = (
        f"The {name} statistic of the {fs.n_mediators} mediators{cov} is "
        f"{joint:.2f}, {side} the Stock-Yogo critical value "
        f"{fs.critical_value:.2f} for {_endogenous(fs)}, at which "
        + _critical_meaning(fs.critical_table, fs.critical_level, weak=False)
        + "."
    )
    stages = fs.mediator_stages
    name, _ = _conditional_f(fs, stages[0])
    values = ", ".join(f"{_conditional_f(fs, s)[1]:.2f} ({s.mediator})" for s in stages)
    text += (
        f" Per mediator, the {name} is {values}, against the Stock-Yogo critical "
        f"value {stages[0].critical_value:.2f} for {_conditional_instruments(fs)}"
    )
    weak = [s.mediator for s in stages if s.is_weak]
    if weak:
        text += (
            ": "
            + ", ".join(repr(m) for m in weak)
            + (" is" if len(weak) == 1 else " are")
            + " weakly identified."
        )
    else:
        text += ": each mediator is identified on its own."
    verdict = (
        "the instruments are weak" if fs.is_weak else "the instruments are not weak"
    )
    text += f" Verdict: {verdict}. {weak_test_reason(fs.weak_test, fs.cov_type)}"
    if fs.is_weak:
        text += (
            " The IV estimates may be biased toward the standard regression and "
            "their confidence intervals may be too narrow."
        )
    return text


_WEAK_CONSEQUENCES = (
    "The IV estimates may be biased toward the naive least squares estimates "
    "and their confidence intervals may under-cover."
)


def weak_test_reason(weak_test: str, cov_type: str) -> str:
    """Why ``weak_test`` decides the weak-instrument verdict, as a sentence.

    Stock-Yogo critical values are tabulated for homoskedastic errors and at
    most 30 instruments; every other fit is judged by the Montiel
    Olea-Pflueger effective F with its covariance.
    """
    kind = COV_TYPES[cov_type]
    per_mediator = (
        " Each mediator's Sanderson-Windmeijer conditional F is compared with the "
        "Stock-Yogo value for one endogenous regressor, with one instrument per "
        "other mediator fewer, as Sanderson and Windmeijer recommend."
    )
    if weak_test == "cragg_donald":
        return (
            f"The Cragg-Donald F decides jointly because the {cov_type} covariance "
            "assumes homoskedastic errors, for which the Stock-Yogo critical "
            "values are tabulated." + per_mediator
        )
    if weak_test == "kleibergen_paap":
        allows = (
            "heteroskedasticity and correlation within clusters"
            if kind.clustered
            else "heteroskedasticity"
        )
        return (
            "The Kleibergen-Paap F decides jointly because the "
            f"{cov_type} covariance allows for {allows}, which the Cragg-Donald "
            "F ignores; the Stock-Yogo values, derived for homoskedastic errors, "
            "are a guide for it (the effective F is defined for one mediator "
            "only)."
            + per_mediator.replace(
                "conditional F", f"conditional F with the {cov_type} covariance"
            )
        )
    if weak_test == "stock_yogo":
        return (
            f"The Stock-Yogo test decides because the {cov_type} covariance "
            "assumes homoskedastic errors, for which its critical values are "
            "tabulated."
        )
    if kind.homoskedastic:
        return (
            "The effective F decides because Stock and Yogo tabulate no critical "
            "value for more than 30 instruments."
        )
    allows = (
        "heteroskedasticity and correlation within clusters"
        if kind.clustered
        else "heteroskedasticity"
    )
    return (
        "The effective F decides because the Stock-Yogo critical values assume "
        f"homoskedastic errors, and the {cov_type} covariance allows for {allows}."
    )


def _instruments(n: int) -> str:
    return f"{n} instrument{'s' if n != 1 else ''}"


def weak_instrument_message(fs) -> str:
    """The text of the :class:`~skmediate.WeakInstrumentWarning` for first stage ``fs``.

    ``fs`` is a :class:`~skmediate._numerics.diagnostics.FirstStageDiagnostics`
    whose verdict is weak: the message names the test that decided, its
    statistic and critical value, why that test decides and what weak
    instruments mean for the estimates. With several mediators it names each
    weakly identified mediator.
    """
    if fs.weak_test in ("cragg_donald", "kleibergen_paap"):
        return _several_weak_message(fs)
    if fs.weak_test == "stock_yogo":
        head = (
            f"Weak instruments: the first-stage partial F statistic is "
            f"{fs.f_statistic:.2f}, below the Stock-Yogo critical value "
            f"{fs.critical_value:.2f} for {_instruments(fs.n_instruments)}, so a "
            "nominal 5% Wald test of the 2SLS estimates may have an actual size "
            "above 15%."
        )
    else:
        eff = fs.effective_f
        head = (
            "Weak instruments: the effective first-stage F statistic of Montiel "
            f"Olea and Pflueger with the {eff.cov_type} covariance is "
            f"{eff.statistic:.2f}, below its critical value "
            f"{eff.critical_value:.2f} for {_instruments(fs.n_instruments)}, so "
            f"the 2SLS bias may exceed {eff.bias:.0%} of its worst-case benchmark "
            f"(a {eff.size:.0%} test)."
        )
    return f"{head} {weak_test_reason(fs.weak_test, fs.cov_type)} {_WEAK_CONSEQUENCES}"


def weak_instrument_verdict(fs) -> str:
    """The weak-instrument verdict of the report's first stage, in words.

    Names the test that decided (``fs.weak_test``), its statistic against its
    critical value, and why that test decides; with several mediators, the
    joint statistic and each mediator's conditional F.
    """
    if fs.weak_test in ("cragg_donald", "kleibergen_paap"):
        return _several_weak_verdict(fs)
    head = (
        f"The first-stage partial F statistic is {fs.f_statistic:.2f} with "
        f"{_instruments(fs.n_instruments)}"
    )
    weak = "the instruments are weak" if fs.is_weak else "the instruments are not weak"
    side = "below" if fs.is_weak else "above"
    if fs.weak_test == "effective_f":
        rule = (
            f"{head}. The Montiel Olea-Pflueger effective F statistic with the "
            f"{fs.cov_type} covariance is {fs.effective_f_statistic:.2f}, {side} "
            f"its critical value {fs.effective_f_critical_value:.2f}, at which "
            "the 2SLS bias is at most 10% of its worst-case benchmark (5% test)"
        )
    else:
        rule = (
            f"{head}, {side} the Stock-Yogo critical value "
            f"{fs.critical_value:.2f}, at which a nominal 5% Wald test of the "
            "2SLS estimates has actual size at most 15%"
        )
    text = f"{rule}: {weak}. {weak_test_reason(fs.weak_test, fs.cov_type)}"
    if fs.is_weak:
        text += (
            " The IV estimates may be biased toward the standard regression and "
            "their confidence intervals may be too narrow."
        )
    return text


def _effects_blocks(report: Report, digits: int, level: str) -> list:
    s = report.settings
    if len(s.mediators) == 1:
        definition = (
            f"Indirect effect = mediator effect x effect of {s.treatment} on "
            f"{s.mediators[0]}; total effect = direct + indirect; proportion "
            "mediated = indirect / total."
        )
    else:
        definition = (
            "Indirect effect through a mediator = its effect x the effect of "
            f"{s.treatment} on it; indirect effect (all mediators) = their sum; "
            "total effect = direct + indirect; proportion mediated = indirect / "
            "total (through a mediator: its indirect effect / total)."
        )
    caption = (
        f"{definition} The intention-to-treat effect "
        f"(least squares of {s.outcome} on {s.treatment} and the "
        "baseline variables) estimates the total effect without the "
        "mediation assumptions. Standard errors by the delta method from "
        "the stacked estimating equations of the regressions."
    )
    several = len(s.mediators) > 1
    rows = [
        (
            _METHOD_LABEL[row.method],
            (effect_label(row.effect, several), *estimate_cells(row, digits)),
        )
        for row in report.effects
        if row.effect.partition("[")[0] not in ("direct", "mediator")
    ]
    return [
        Heading("Mediation effects", 2),
        *_method_tables(
            ("Effect", "Estimate", "SE", "p-value", f"{level} CI"),
            rows,
            "lrrrr",
            caption=caption,
            split=several,
        ),
    ]


def _weak_iv_robust_blocks(report: Report) -> list:
    cs = report.weak_iv_robust
    if len(report.settings.mediators) > 1:
        return []  # each mediator's robust set is a row of the sets table
    iv = next(row for row in report.estimates if row.method == "iv")
    wald = iv.mediator_effect[0]
    if cs.not_defined:
        return [
            Heading("Weak-instrument-robust inference", 2),
            Paragraph(
                f"Anderson-Rubin {fmt_level(cs.confidence_level)} confidence set "
                f"for the mediator effect: not defined ({cs.not_defined})."
            ),
        ]
    return [
        Heading("Weak-instrument-robust inference", 2),
        Paragraph(
            f"Anderson-Rubin {fmt_level(cs.confidence_level)} confidence set for "
            f"the mediator effect: {fmt_set(cs.intervals)}; the Wald interval is "
            f"{fmt_set([(wald.lower, wald.upper)])}."
        ),
    ]


_SET_METHOD_LABEL = {
    "wald": "Wald",
    "AR": "Anderson-Rubin",
    "AR-GKM": "Anderson-Rubin, GKM critical values",
    "CLR": "conditional LR",
    "LM": "Kleibergen K",
    "wild": "wild bootstrap",
    "projection": "projection of the joint Anderson-Rubin set",
}


def _set_row_label(row) -> str:
    """The label of a row of the confidence sets' table (with its mediator)."""
    labels = {"direct": "direct effect", "mediator": "mediator effect"}
    label = labels.get(row.effect) or _MEDIATION_LABEL[row.effect]
    return f"{label} ({row.mediator})" if row.mediator else label


def _confidence_sets_blocks(report: Report) -> list:
    if not report.confidence_sets:
        return []
    level = fmt_level(report.weak_iv_robust.confidence_level)
    if len(report.settings.mediators) > 1:
        return _several_confidence_sets_blocks(report, level)
    rows = []
    notes = []
    for row in report.confidence_sets:
        label = _set_row_label(row)
        if row.not_defined:
            rows.append((label, "-", "-", f"not defined: {row.not_defined}"))
            continue
        robust = (
            "(Wald)"
            if row.method == "wald"
            else f"{fmt_set(row.intervals)} ({_SET_METHOD_LABEL[row.method]})"
        )
        rows.append((label, fmt_set(row.wald), robust, SET_VERDICTS[row.verdict]))
    notes.append(
        "Robust sets: the conditional likelihood ratio set for the mediator "
        "effect (Moreira 2003; Kleibergen's 2005 robust form with HC and "
        "cluster covariances) or, where it is not defined, the Anderson-Rubin "
        "set, the subvector "
        "Anderson-Rubin set for the direct effect (homoskedastic covariances), "
        "the intention-to-treat interval for the total effect, and Bonferroni "
        "combinations of the two for the indirect effect and the proportion "
        "mediated. Each is valid however weak the instruments are."
    )
    return [
        Heading("Confidence sets for every effect", 2),
        Table(("Effect", f"Wald {level}", "Robust", "Note"), tuple(rows), "llll"),
        *(Paragraph(n) for n in notes),
    ]


def _several_confidence_sets_blocks(report: Report, level: str) -> list:
    """The confidence sets with several mediators, laid out to fit the page:
    the robust set's method in a column of its own, and the notes' column
    only when a row has a note."""
    rows = []
    for row in report.confidence_sets:
        label = _set_row_label(row)
        if row.not_defined:
            rows.append((label, "-", "-", "", f"not defined: {row.not_defined}"))
            continue
        rows.append(
            (
                label,
                fmt_set(row.wald),
                fmt_set(row.intervals),
                _SET_METHOD_LABEL[row.method],
                SET_VERDICTS[row.verdict],
            )
        )
    header = ("Effect", f"Wald {level}", "Robust set", "Method", "Note")
    if not any(row[-1] for row in rows):
        header, rows = header[:-1], [row[:-1] for row in rows]
    note = (
        "Robust sets: for each mediator and the direct effect, the "
        "subvector Anderson-Rubin set with the other effects unrestricted "
        "(homoskedastic covariances) or the projection of the joint robust "
        "Anderson-Rubin set (HC and cluster covariances), the "
        "intention-to-treat interval for the total effect, and Bonferroni "
        "combinations of the two for the indirect effect and the proportion "
        "mediated. Each is valid however weak the instruments are."
    )
    return [
        Heading("Confidence sets for every effect", 2),
        Table(header, tuple(rows), "l" * len(header), max_width=WIDTH),
        Paragraph(note),
    ]


def _tau(values) -> str:
    return "(" + ", ".join(fmt_value(v) for v in values) + ")"


def sensitivity_blocks(sens, digits: int = 3, fit_page: bool = False) -> list:
    """The blocks of a :class:`~skmediate._report.report.Sensitivity`: the
    grid (the paper's Table 2), the sensitivity intervals, the breakdown values
    (when computed) and the figure.

    With ``fit_page`` (the report's layout with several mediators) the grid
    and the breakdown values are a table per effect, so that their text fits
    the page.
    """
    level = fmt_level(sens.confidence_level)
    names = ", ".join(sens.covariates)
    first = sens.grid[0]
    several = isinstance(first.mediator_effect, dict)
    fit_page = fit_page and several
    taus = [label for label, _ in _point_taus(first)]
    effects = [label for label, _ in _point_effects(first)]
    tau_cells = [
        tuple(_tau(values) for _, values in _point_taus(point)) for point in sens.grid
    ]
    caption = f"{level} confidence intervals in parentheses."
    if fit_page:
        grid = [
            Table(
                (*taus, "Estimate (CI)"),
                tuple(
                    (*cells, fmt_estimate_ci(_point_effects(point)[k][1], digits))
                    for cells, point in zip(tau_cells, sens.grid, strict=True)
                ),
                "l" * len(taus) + "r",
                title=label[0].upper() + label[1:],
                caption=caption if k == len(effects) - 1 else "",
                max_width=WIDTH,
            )
            for k, label in enumerate(effects)
        ]
    else:
        grid = [
            Table(
                (*taus, *(label[0].upper() + label[1:] for label in effects)),
                tuple(
                    (
                        *cells,
                        *(fmt_estimate_ci(e, digits) for _, e in _point_effects(point)),
                    )
                    for cells, point in zip(tau_cells, sens.grid, strict=True)
                ),
                "l" * len(taus) + "r" * len(effects),
                caption=caption,
            )
        ]
    blocks = [
        Paragraph(
            "Estimates when the direct effect and the mediator effect vary with "
            "the covariates (a violation of assumption IV-A2): a component of "
            "tau_R (tau_M) is the change of the direct (mediator) effect per unit "
            f"of that covariate{'; tau_M[m] is that of mediator m' if several else ''}"
            f". Components in the order ({names})."
        ),
        *grid,
        Table(
            ("Effect", "Estimates range", f"Union of {level} CIs"),
            tuple(
                (
                    _effect_label(row.effect),
                    f"{fmt(row.estimate_low, digits)} to {fmt(row.estimate_high, digits)}",
                    fmt_ci(row.lower, row.upper, digits),
                )
                for row in sens.interval
            ),
            "lrr",
            caption="Sensitivity intervals over the grid.",
            max_width=_max_width(fit_page),
        ),
    ]
    if sens.breakdown:
        blocks += _breakdown_tables(sens, digits, fit_page)
    blocks.append(
        Figure(
            f"Estimates with {level} confidence intervals over the grid.",
            partial(
                figure_png,
                _tau_labels(sens.grid),
                [
                    (label, [_point_effects(p)[k][1] for p in sens.grid])
                    for k, (label, _) in enumerate(_point_effects(sens.grid[0]))
                ],
                "  ".join(label for label, _ in _point_taus(sens.grid[0])),
            ),
        )
    )
    return blocks


def _tau_labels(points) -> list[str]:
    return [" ".join(_tau(values) for _, values in _point_taus(p)) for p in points]


def _breakdown_tables(sens, digits: int, by_effect: bool = False) -> list[Table]:
    """The breakdown values: one table, or with ``by_effect`` one per effect
    (titled with it)."""
    header = ("Parameter", "Estimate = 0 at", "CI covers 0 from (up)", "(down)")
    caption = (
        "Breakdown values: one parameter moved, the others at 0; "
        "the confidence interval covers 0 from the value given "
        "upward (downward); n/a: never."
    )
    rows = [
        (
            _effect_label(row.effect),
            (
                row.parameter,
                fmt(row.sign_change, digits),
                *(
                    (ALREADY_COVERS_ZERO, "")
                    if row.ci_covers_zero_up == 0 == row.ci_covers_zero_down
                    else (
                        fmt(row.ci_covers_zero_up, digits),
                        fmt(row.ci_covers_zero_down, digits),
                    )
                ),
            ),
        )
        for row in sens.breakdown
    ]
    if not by_effect:
        return [
            Table(
                ("Effect", *header),
                tuple((effect, *cells) for effect, cells in rows),
                "llrrr",
                caption=caption,
            )
        ]
    effects = list(dict.fromkeys(effect for effect, _ in rows))
    return [
        Table(
            header,
            tuple(cells for e, cells in rows if e == effect),
            "lrrr",
            title=effect[0].upper() + effect[1:],
            caption=caption if k == len(effects) - 1 else "",
            max_width=WIDTH,
        )
        for k, effect in enumerate(effects)
    ]


# The breakdown cell of an interval that contains 0 at τ = 0 already.
ALREADY_COVERS_ZERO = "covers 0 at tau = 0"


def _bootstrap_blocks(report: Report, digits: int) -> list:
    b = report.bootstrap
    level = fmt_level(b.confidence_level)
    seed = "" if b.random_state is None else f", random_state={b.random_state}"
    units = (
        f"whole clusters of {report.settings.clusters} resampled"
        if report.settings.clusters
        else "rows resampled"
    )
    caption = f"{b.n_resamples} resamples ({units}){seed}."
    header = ("Effect", "Estimate", "Bootstrap SE", f"{level} {b.method} CI")
    rows = [
        (
            _METHOD_LABEL[row.method],
            (
                effect_label(row.effect),
                fmt(row.estimate, digits),
                fmt(row.standard_error, digits),
                fmt_ci(row.lower, row.upper, digits),
            ),
        )
        for row in b.results
    ]
    return [
        Heading("Bootstrap", 2),
        *_method_tables(
            header,
            rows,
            "lrrr",
            caption=caption,
            split=len(report.settings.mediators) > 1,
        ),
    ]


# ---------------------------------------------------------------------------
# The report in every format


def render(report: Report, output_format: str = "text", digits: int = 3) -> str:
    """The report in one of :data:`FORMATS`."""
    if output_format == "json":
        return json.dumps(report.to_dict(), indent=2) + "\n"
    if output_format not in FORMATS:
        raise ValueError(
            f"output_format must be one of {FORMATS}; got {output_format!r}"
        )
    document = report_summary(report, digits)
    if output_format == "text":
        return document.as_text()
    if output_format == "markdown":
        return document.as_markdown()
    if output_format == "html":
        return document.as_html(document=True)
    return document.as_latex(document=True)


def report_summary(report: Report, digits: int = 3) -> Summary:
    """The report as a :class:`Summary` (its text, Markdown, HTML and LaTeX)."""
    return Summary(layout(report, digits), style="report")


# ---------------------------------------------------------------------------
# Figures (HTML only; matplotlib is optional)


def figure_png(labels, panels, ylabel: str | None = None) -> bytes | None:
    """A PNG of estimates with their intervals: one panel per ``(title,
    estimates)`` of ``panels``, one row per label, ``ylabel`` beside the rows;
    ``None`` without matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure as MplFigure
    except ImportError:
        return None
    n = len(labels)
    width = 4 * len(panels)
    fig = MplFigure(figsize=(width, 1.2 + 0.35 * n), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    for ax, (title, estimates) in zip(axes, panels, strict=True):
        ys = list(range(n))[::-1]
        centers = [e.estimate for e in estimates]
        errors = [
            [e.estimate - e.lower for e in estimates],
            [e.upper - e.estimate for e in estimates],
        ]
        ax.errorbar(centers, ys, xerr=errors, fmt="o", color="#1f4e79", capsize=3)
        ax.axvline(0, color="#888", linewidth=0.8, linestyle="--")
        ax.set_title(title[0].upper() + title[1:])
        ax.set_yticks(ys, labels)
        ax.set_ylim(-0.6, n - 0.4)
    if ylabel:
        axes[0].set_ylabel(ylabel)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96)
    return buffer.getvalue()


# ---------------------------------------------------------------------------
# The summary of a fitted estimator (``MediationResult.summary``)

_TITLES = {
    "IV-2SLS": "IV mediation regression (two-stage least squares)",
    "IV-LIML": "IV mediation regression (LIML)",
    "IV-Fuller": "IV mediation regression (Fuller-modified LIML)",
    "OLS": "Naive mediation regression (least squares)",
}


def diagnostic_label(key: str, cov_type: str) -> str:
    """The name of a diagnostics row, as a person reads it.

    A per-mediator key ``name[mediator]`` reads as the row's name followed by
    the mediator in brackets.
    """
    base, bracket, mediator = key.partition("[")
    if bracket:
        return f"{diagnostic_label(base, cov_type)} [{mediator[:-1]}]"
    j_name = "cluster" if COV_TYPES[cov_type].clustered else "robust"
    return {
        "sanderson_windmeijer_f": "SW F (classical)",
        "sanderson_windmeijer_wald_f": f"SW Wald F ({cov_type})",
        "cragg_donald_f": "Cragg-Donald F",
        "kleibergen_paap_f": f"Kleibergen-Paap F ({cov_type})",
        "first_stage_f": "first-stage F (classical)",
        "first_stage_wald_f": f"first-stage Wald F ({cov_type})",
        "stock_yogo_tsls_size": "Stock-Yogo 2SLS size (15%)",
        "stock_yogo_tsls_relative_bias": "Stock-Yogo 2SLS relative bias (10%)",
        "stock_yogo_liml_size": "Stock-Yogo LIML size (15%)",
        "effective_f": f"effective F ({cov_type})",
        "sargan": "Sargan",
        "hansen_j": f"Hansen J ({j_name})",
        "durbin": "Durbin",
        "wu_hausman": "Wu-Hausman",
        "exogeneity_regression": f"exogeneity regression test ({cov_type})",
    }[key]


# The fixed column widths of a summary's text: the coefficient tables, the
# diagnostics, and the labelled lines (labels padded to _LABEL).
_COEF_WIDTHS = (18, 10, 10, 9, 9, 11, 11)
_DIAGNOSTICS_WIDTHS = (40, 10, 8, 10, 10)
_LABEL = 13


def _coefficient_table(table: pd.DataFrame, header, title: str = "") -> Table:
    """A table of ``to_frame()`` or ``effects`` (estimate, std_error, z or t,
    pvalue, lower, upper) as the summary prints it."""
    rows = tuple(
        (
            str(name),
            f"{row.iloc[0]:.4f}",
            f"{row.iloc[1]:.4f}",
            f"{row.iloc[2]:.3f}",
            f"{row.iloc[3]:.3f}",
            f"{row.iloc[4]:.4f}",
            f"{row.iloc[5]:.4f}",
        )
        for name, row in table.iterrows()
    )
    return Table(
        header, rows, "lrrrrrr", title=title, widths=_COEF_WIDTHS, data=table.copy()
    )


WEIGHT_TEXTS = {
    "frequency": "frequency (a row of weight w counts as w observations)",
    "analytic": (
        "analytic (inverse-variance; rescaled to sum to the number of rows, "
        "each row one observation)"
    ),
    "probability": (
        "probability (sampling; rescaled to sum to the number of rows, each "
        "row one observation; robust covariance only)"
    ),
}


def weights_text(weight_type: str) -> str:
    """What the sample weights of a fit were, in words."""
    return WEIGHT_TEXTS[weight_type]


def treatment_coding_text(coding: tuple) -> str:
    """How the treatment was coded: ``"coded 0/1"``, else its range (effects are
    per unit of the treatment); empty when the fit did not record it."""
    if len(coding) < 3:
        return ""
    low, high, n_other = coding
    if not n_other and low == 0 and high == 1:
        return "coded 0/1"
    return f"range {low:g} to {high:g}"


def result_summary(result) -> Summary:
    """The summary of a :class:`~skmediate._results.MediationResult`."""
    title = _TITLES.get(result.method)
    if title is None:
        title = f"IV mediation regression (k-class, kappa = {result.kappa:g})"
    clusters = f" (G = {result.n_clusters})" if result.n_clusters else ""
    coding = treatment_coding_text(result.model.treatment_coding)
    treatment = f"{result.treatment} ({coding})" if coding else result.treatment
    info = (
        ("Outcome:", result.outcome, "No. observations:", f"{result.nobs:g}"),
        ("Treatment:", treatment, "Covariance:", f"{result.cov_type}{clusters}"),
        (
            "Mediators:" if len(result.mediators) > 1 else "Mediator:",
            ", ".join(result.mediators),
            "R-squared:",
            f"{result.rsquared:.4f}",
        ),
    )
    blocks = [
        Heading(title, 1),
        Rule("="),
        Table(
            (),
            info,
            "lllr",
            widths=(_LABEL, 26, 18, 21),
            data=pd.Series(
                {
                    "outcome": result.outcome,
                    "treatment": result.treatment,
                    "treatment_coding": coding,
                    "mediator": ", ".join(result.mediators),
                    "nobs": result.nobs,
                    "cov_type": result.cov_type,
                    "n_clusters": result.n_clusters,
                    "rsquared": result.rsquared,
                },
                dtype=object,
            ).to_frame("value"),
        ),
    ]
    if result.instruments:
        blocks.append(Paragraph(", ".join(result.instruments), "Instruments:", _LABEL))
    if result.method in ("IV-LIML", "IV-Fuller"):
        blocks.append(Paragraph(f"{result.kappa:.6f}", "Kappa:", _LABEL))
    if result.weight_type is not None:
        blocks.append(Paragraph(weights_text(result.weight_type), "Weights:", _LABEL))
    if result.n_dropped:
        blocks.append(Paragraph(_dropped_text(result), "Dropped:", _LABEL))
    level = result.confidence_level
    stat = "t" if result.use_t else "z"
    header = (
        "",
        "coef",
        "std err",
        stat,
        f"P>|{stat}|",
        f"[{(1 - level) / 2:.3f}",
        f"{1 - (1 - level) / 2:.3f}]",
    )
    blocks += [
        Rule("="),
        _coefficient_table(result.to_frame(), header),
        Rule("="),
        _coefficient_table(
            result.effects,
            header,
            "Effects (delta method, stacked estimating equations)",
        ),
        Rule("="),
    ]
    if result.first_stage is not None:
        blocks += _first_stage_blocks_of(result.first_stage)
        blocks += _anderson_rubin_blocks(result)
        blocks += _confidence_set_blocks_of(result)
        blocks += _diagnostics_blocks(result)
    if result.use_t:
        df = result.df
        if result.cov_type == "CR2":
            basis = "Bell-McCaffrey degrees of freedom per coefficient"
        elif df is not None and len(df):
            basis = f"{df.iloc[0]:g} degrees of freedom"
        else:
            basis = "t degrees of freedom"
        footer = (
            f"Inference uses t and F reference distributions ({basis}); the "
            f"covariance is {result.cov_type}."
        )
    else:
        footer = (
            "Inference is normal-based (asymptotic); the covariance is "
            f"{result.cov_type}."
        )
    blocks.append(Paragraph(footer))
    return Summary(blocks)


def _dropped_text(result) -> str:
    """How many rows a fit left out for missing values, and which values were missing."""
    plural = "s" if result.n_dropped != 1 else ""
    columns = ", ".join(f"{name} {count}" for name, count in result.missing_counts)
    return (
        f"{result.n_dropped} row{plural} with missing values (missing per column: "
        f"{columns})"
    )


def _several_first_stage_blocks_of(fs) -> list:
    """The summary's first stage with several mediators: joint and per mediator."""
    weak = "WEAK instruments" if fs.is_weak else "instruments not weak"
    if fs.weak_mediators:
        weak += " (weakly identified: " + ", ".join(fs.weak_mediators) + ")"
    name = _joint_statistic(fs)[0]
    robust = fs.weak_test == "kleibergen_paap"
    header = ("", "partial F", "partial R2", "Shea R2", "SW F")
    header += ("SW Wald F",) if robust else ()
    header += ("critical", "weak")
    rows = tuple(
        (
            s.mediator,
            f"{s.partial_f:.3f}",
            f"{s.partial_r2:.4f}",
            f"{s.shea_r2:.4f}",
            f"{s.sw_f:.3f}",
            *((f"{s.sw_wald_f:.3f}",) if robust else ()),
            fmt(s.critical_value, 2),
            "yes" if s.is_weak else "no",
        )
        for s in fs.mediator_stages
    )
    widths = (12, 10, 11, 10, 10) + ((10,) if robust else ()) + (9, 5)
    return [
        Paragraph(
            f"Cragg-Donald F({fs.df_num:g}, {fs.df_denom:g}) = "
            f"{fs.cragg_donald_f:.3f}; Kleibergen-Paap F ({fs.cov_type}) = "
            f"{fs.kleibergen_paap_f:.3f}",
            "First stage:",
            _LABEL,
        ),
        Paragraph(
            f"{name} against Stock-Yogo {fmt(fs.critical_value, 2)} "
            f"({_critical_name(fs)}, {fs.n_mediators} mediators): {weak}",
            indent=_LABEL,
        ),
        Table(
            header,
            rows,
            "l" + "r" * (len(header) - 1),
            widths=widths,
            indent=2,
            data=fs.per_mediator,
        ),
        Paragraph(weak_test_reason(fs.weak_test, fs.cov_type), indent=_LABEL),
    ]


def _first_stage_blocks_of(fs) -> list:
    if fs.n_mediators > 1:
        return _several_first_stage_blocks_of(fs)
    blocks = [
        Paragraph(
            f"partial F({fs.df_num:g}, {fs.df_denom:g}) = {fs.f_statistic:.3f}, "
            f"p = {fs.f_pvalue:.3g}; partial R2 = {fs.partial_r2:.4f}",
            "First stage:",
            _LABEL,
        )
    ]
    if fs.cov_type != "classical":
        blocks.append(
            Paragraph(
                f"Wald F ({fs.cov_type}) = {fs.wald_f_statistic:.3f}, "
                f"p = {fs.wald_f_pvalue:.3g}",
                indent=_LABEL,
            )
        )
    weak = "WEAK instruments" if fs.is_weak else "instruments not weak"
    if fs.weak_test == "effective_f":
        eff = fs.effective_f
        verdict = (
            f"effective F ({eff.cov_type}) = {eff.statistic:.2f}, critical value "
            f"{eff.critical_value:.2f} (Montiel Olea-Pflueger, "
            f"{eff.bias:.0%} bias): {weak}"
        )
    else:
        verdict = (
            f"Stock-Yogo critical value {fs.critical_value:.2f} "
            f"(2SLS size, 15% maximal size): {weak}"
        )
    blocks.append(Paragraph(verdict, indent=_LABEL))
    blocks.append(Paragraph(weak_test_reason(fs.weak_test, fs.cov_type), indent=_LABEL))
    return blocks


def _anderson_rubin_blocks(result) -> list:
    if len(result.mediators) > 1:
        return []
    level = result.confidence_level
    est, se, low, high = result.term_inference(result.mediator)
    rows = [(f"Wald ({result.method}):", fmt_set([(low, high)]))]
    head = Paragraph(
        f"{level:.0%} confidence sets for the mediator effect {result.mediator!r}:"
    )

    def table():
        return Table((), tuple(rows), "ll", widths=(22, 0), indent=2)

    try:
        ar = result.anderson_rubin_set()
    except ValueError as exc:
        rows.append(("Anderson-Rubin:", f"not defined: {exc}"))
        return [head, table()]
    rows.append(("Anderson-Rubin:", f"{fmt_set(ar)} (robust to weak instruments)"))
    eff = result.first_stage.effective_f
    weak_text = ""
    if eff.statistic < eff.critical_value:
        weak_text = f"effective F = {eff.statistic:.2f} < {eff.critical_value:.2f}"
    # Half-widths the set may have with strong instruments: up to the Wald
    # interval at the Anderson-Rubin critical value (p degrees of freedom
    # rather than 1).
    z = (high - low) / (2 * se) if se > 0 else -float(ndtri((1 - level) / 2))
    stretch = math.sqrt(critical_value(result.anderson_rubin_moments, level)) / z
    verdict = _ar_verdict(low, high, ar, weak_text, stretch)
    return [head, table(), Paragraph(verdict, indent=2)]


def _confidence_set_blocks_of(result) -> list:
    """Every effect's Wald interval beside its recommended robust set, with a verdict."""
    level = result.confidence_level
    rows, data = [], []
    for row in effect_sets(result):
        effect = f"{row.effect}[{row.mediator}]" if row.mediator else row.effect
        if row.not_defined:
            rows.append((effect, f"not defined: {row.not_defined}"))
            data.append((effect, None, "", None, row.not_defined))
            continue
        text = f"{fmt_set(row.wald)} | "
        if row.method == "wald":
            text += "(Wald)"
        else:
            text += f"{fmt_set(row.intervals)} ({row.method})"
        rows.append((effect, text))
        if SET_VERDICTS[row.verdict]:
            rows.append(("", SET_VERDICTS[row.verdict]))
        data.append(
            (effect, row.wald, row.method, row.intervals, SET_VERDICTS[row.verdict])
        )
    frame = pd.DataFrame(
        data, columns=["effect", "wald", "method", "recommended", "note"]
    ).set_index("effect")
    return [
        Rule("-"),
        Paragraph(f"{level:.0%} confidence sets: Wald | recommended (confidence_set)"),
        Table((), tuple(rows), "ll", widths=(20, 0), indent=2, data=frame),
    ]


SET_VERDICTS = {
    "unbounded": "the robust set is unbounded: the data cannot bound this effect",
    "empty": "the robust set is empty: the instruments' validity is in doubt",
    "invalid_instruments": (
        "the overidentification test rejects: the instruments' validity "
        "(IV-A2) is in doubt, and the set may reflect it rather than an effect"
    ),
    "weak": "instruments weak: report the robust set",
    "": "",
}


def _ar_verdict(low, high, ar, weak_text: str, stretch: float) -> str:
    """Plain-language comparison of the Wald interval with the Anderson–Rubin set.

    With strong instruments the Anderson–Rubin set is one interval around the
    estimate, at most as wide as the Wald interval at the Anderson–Rubin
    critical value (``stretch`` times the Wald half-width); anything else,
    beyond a 25% allowance, counts as disagreement.
    """
    if not ar:
        return (
            "The Anderson-Rubin set is empty: every value is rejected, which "
            "points to invalid instruments (failed overidentifying restrictions)."
        )
    if len(ar) > 1 or not math.isfinite(ar[0][0]) or not math.isfinite(ar[0][1]):
        return (
            "The Anderson-Rubin set is unbounded: the instruments are too weak to "
            "bound the mediator effect, and the Wald interval understates the "
            "uncertainty. Report the Anderson-Rubin set."
        )
    center, half = (low + high) / 2, (high - low) / 2
    limit = 1.25 * stretch * half
    a, b = ar[0]
    if a <= center <= b and center - a <= limit and b - center <= limit:
        return "The Wald interval and the Anderson-Rubin set agree."
    if weak_text:
        return (
            "The two disagree because the instruments are weak "
            f"({weak_text}): report the Anderson-Rubin set; "
            "the Wald interval is unreliable."
        )
    return (
        "The two differ although the effective F does not flag weak instruments; "
        "see the overidentification tests."
    )


def _diagnostics_blocks(result) -> list:
    def num(value, spec):
        return format(value, spec) if math.isfinite(value) else "-"

    rows, data = [], {}
    for row in result.diagnostic_tests:
        name = diagnostic_label(row.key, result.cov_type)
        df = num(row.df, ".3g")
        if math.isfinite(row.df_denom):
            df = f"{df},{row.df_denom:.0f}"
        rows.append(
            (
                name,
                num(row.statistic, ".3f"),
                df,
                num(row.pvalue, ".3g"),
                num(row.critical_value, ".2f"),
            )
        )
        data[name] = {
            "statistic": row.statistic,
            "df": row.df,
            "df_denom": row.df_denom,
            "pvalue": row.pvalue,
            "critical_value": row.critical_value,
        }
    return [
        Rule("="),
        Table(
            ("Diagnostics", "statistic", "df", "p-value", "critical"),
            tuple(rows),
            "lrrrr",
            widths=_DIAGNOSTICS_WIDTHS,
            data=pd.DataFrame.from_dict(data, orient="index"),
        ),
        Rule("="),
    ]


# ---------------------------------------------------------------------------
# The summaries of a sensitivity grid and of a bootstrap


def grid_summary(grid, digits: int = 3) -> Summary:
    """The summary of a fitted :class:`~skmediate.SensitivityGrid`: the grid
    (the paper's Table 2), the sensitivity intervals and the breakdown values."""
    from skmediate._report.report import sensitivity_from_grid

    result = grid.estimator_.result_
    points = len(grid.grid_)
    # with several mediators a table per effect, so that the text fits the page
    fit_page = len(grid.mediator_names_) > 1
    # the numbers behind the tables: the grid's own frames, in table order
    frame, breakdown = grid.to_frame(), getattr(grid, "breakdown_", None)
    if fit_page:
        from skmediate._sensitivity import grid_effects, tau_columns

        effects = grid_effects(grid.mediator_names_)
        taus = tau_columns(grid.covariate_names_, grid.mediator_names_)
        # each effect's table: the τ columns and that effect's own
        frames = [
            frame[taus + [c for c in frame.columns if c == e or c.startswith(f"{e}_")]]
            for e in effects
        ]
        frames.append(grid.sensitivity_interval_)
        if breakdown is not None:
            frames += [
                breakdown.xs(e, level="effect", drop_level=False) for e in effects
            ]
    else:
        frames = [frame, grid.sensitivity_interval_, breakdown]
    frames = iter(frames)
    blocks = [
        replace(block, data=next(frames)) if isinstance(block, Table) else block
        for block in sensitivity_blocks(
            sensitivity_from_grid(grid), digits, fit_page=fit_page
        )
    ]
    robust = getattr(grid, "sensitivity_sets_", None)
    if robust:
        blocks.append(robust_sensitivity_table(grid, robust, digits))
    return Summary(
        [
            Heading(
                f"Sensitivity analysis of {result.method}: {result.outcome} on "
                f"treatment {result.treatment}, "
                f"mediator{'s' if len(result.mediators) > 1 else ''} "
                f"{', '.join(result.mediators)}",
                1,
            ),
            Paragraph(
                f"{points} grid point{'s' if points != 1 else ''}, computed by "
                f"{grid.method_.replace('_', ' ')}; covariance {result.cov_type}."
            ),
            *blocks,
        ],
        style="report",
    )


def robust_sensitivity_table(grid, robust: dict, digits: int = 3) -> Table:
    """Per effect, the union over the grid of the Wald intervals beside the
    unions of the weak-instrument-robust sets (``robust_sets=True``)."""
    level = fmt_level(grid.confidence_level_)
    methods = [m for m in ("ar", "clr") if any(k.endswith(f"_{m}") for k in robust)]
    names = {"ar": "AR", "clr": "CLR"}
    header = ("Effect", f"Union of {level} CIs")
    header += tuple(f"Union of {level} {names[m]} sets" for m in methods)
    # with several mediators every effect's set is a subvector or projection set
    whose = "each effect's" if len(grid.mediator_names_) > 1 else "the direct effect's"
    rows, data = [], {}
    for effect, row in grid.sensitivity_interval_.iterrows():
        cells = (_effect_label(effect), fmt_ci(row["lower"], row["upper"], digits))
        record = {"lower": row["lower"], "upper": row["upper"]}
        for m in methods:
            union = robust.get(f"{effect}_{m}")
            cells += ("" if union is None else fmt_set(list(union), digits),)
            record[names[m]] = union
        rows.append(cells)
        data[effect] = record
    return Table(
        header,
        tuple(rows),
        "l" + "r" * (len(header) - 1),
        title="Weak-instrument-robust sets over the grid",
        caption=(
            "The robust sets are those of the fit on the shifted outcome at each "
            f"point ({whose}: subvector Anderson-Rubin with "
            "homoskedastic errors, the projection of the joint set otherwise); "
            "an empty set at a point means the data reject it."
        ),
        data=pd.DataFrame.from_dict(data, orient="index"),
    )


def bootstrap_summary(result, digits: int = 4) -> Summary:
    """The summary of a :class:`~skmediate.BootstrapResult`: each statistic's
    estimate, bootstrap standard error and interval."""
    level = fmt_level(result.confidence_level)
    n = result.bootstrap_distribution.shape[1]
    failed = (
        f" {result.n_failed} resample{'s' if result.n_failed != 1 else ''} failed "
        "and are left out."
        if result.n_failed
        else ""
    )
    rows = tuple(
        (
            str(name),
            fmt(float(est), digits),
            fmt(float(se), digits),
            fmt_ci(float(lo), float(hi), digits),
        )
        for name, est, se, lo, hi in zip(
            result.statistic_names,
            result.estimate,
            result.standard_error,
            result.confidence_interval.low,
            result.confidence_interval.high,
            strict=True,
        )
    )
    return Summary(
        [
            Heading(f"Bootstrap: {n} resamples", 1),
            Paragraph(
                f"{level} {result.method} intervals; {result.scheme} resampling, "
                f"{result.engine} engine.{failed}"
            ),
            Table(
                ("Statistic", "Estimate", "Bootstrap SE", f"{level} CI"),
                rows,
                "lrrr",
                data=result.to_frame(),
            ),
        ],
        style="report",
    )
