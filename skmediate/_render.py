"""Rendering a :class:`~skmediate._report.Report` as text, Markdown, JSON or HTML.

Nothing here computes a statistic. :func:`layout` turns the report into a list
of blocks (headings, paragraphs, tables of formatted cells, figures); the text,
Markdown and HTML renderers only differ in syntax. JSON is the report's own
dictionary (:meth:`Report.to_dict`).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import textwrap
from dataclasses import dataclass

from ._report import Report

__all__ = ["FORMATS", "layout", "render"]

FORMATS = ("text", "markdown", "json", "html")
_WIDTH = 78

# ---------------------------------------------------------------------------
# Blocks


@dataclass(frozen=True)
class Heading:
    text: str
    level: int  # 1 (title) or 2 (section)


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: str  # one of "l" or "r" per column
    caption: str = ""


@dataclass(frozen=True)
class Figure:
    kind: str  # "estimates" or "sensitivity"
    caption: str


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


def fmt_estimate_ci(est, digits: int = 3) -> str:
    """``estimate (low, high)``, as in the paper's tables."""
    return f"{fmt(est.estimate, digits)} {fmt_ci(est.ci_low, est.ci_high, digits)}"


def fmt_level(level: float) -> str:
    return f"{100 * level:g}%"


def fmt_value(value: float) -> str:
    """A data value such as a treatment code or a τ component: shortest form."""
    return f"{value:g}"


def fmt_set(intervals) -> str:
    """A union of intervals; ``empty`` for none."""
    if not intervals:
        return "empty"
    parts = []
    for low, high in intervals:
        left = "(" if math.isinf(low) else "["
        right = ")" if math.isinf(high) else "]"
        parts.append(f"{left}{fmt(low)}, {fmt(high)}{right}")
    return " U ".join(parts)


_EFFECT_LABEL = {"direct_effect": "direct effect", "mediator_effect": "mediator effect"}
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


# ---------------------------------------------------------------------------
# Layout: what the report says, in which order


def layout(report: Report, digits: int = 3) -> list:
    """The blocks of the report, shared by the text, Markdown and HTML renderers."""
    s = report.settings
    level = fmt_level(s.confidence_level)
    blocks = [
        Heading(
            f"Mediation analysis of {s.outcome}: treatment {s.treatment}, "
            f"mediator {s.mediator}",
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
    if report.sensitivity is not None:
        blocks += _sensitivity_blocks(report, digits)
    if report.bootstrap is not None:
        blocks += _bootstrap_blocks(report, digits)
    if report.warnings:
        blocks.append(Heading("Notes", 2))
        blocks += [Paragraph(f"Note: {message}") for message in report.warnings]
    blocks.append(
        Paragraph(
            "Wald intervals and p-values are normal-based (asymptotic) with the "
            f"{s.cov_type} covariance. skmediate {report.skmediate_version}."
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
        f"{s.mediator}): {', '.join(s.covariates)}."
    )
    if s.controls:
        parts.append(f"Controls (not interacted): {', '.join(s.controls)}.")
    if s.categorical:
        parts.append(
            f"One-hot encoded (first level dropped): {', '.join(s.categorical)}."
        )
    clusters = (
        f" by {s.clusters} ({report.data.n_clusters} clusters)" if s.clusters else ""
    )
    parts.append(
        f"Covariance: {s.cov_type}{clusters}; confidence level "
        f"{fmt_level(s.confidence_level)}."
    )
    return " ".join(parts)


def _data_blocks(report: Report, digits: int) -> list:
    s, d = report.settings, report.data
    text = f"{d.n} subjects"
    if d.n_rows_dropped:
        text += (
            f" ({d.n_rows_read} rows read; {d.n_rows_dropped} rows with missing "
            "values dropped listwise)"
        )
    blocks = [Heading("Data", 2), Paragraph(text + ".")]
    if d.arms:
        mediator = (
            f"{s.mediator} (rate)" if d.mediator_binary else f"{s.mediator} mean (SD)"
        )
        rows = []
        for arm in d.arms:
            m = (
                f"{100 * arm.mediator_mean:.1f}%"
                if d.mediator_binary
                else f"{fmt(arm.mediator_mean, digits)} ({fmt(arm.mediator_sd, digits)})"
            )
            rows.append(
                (
                    fmt_value(arm.treatment),
                    str(arm.n),
                    m,
                    f"{fmt(arm.outcome_mean, digits)} ({fmt(arm.outcome_sd, digits)})",
                )
            )
        blocks.append(
            Table(
                (f"{s.treatment}", "n", mediator, f"{s.outcome} mean (SD)"),
                tuple(rows),
                "rrrr",
            )
        )
    return blocks


def _effect_on_mediator_blocks(report: Report, digits: int, level: str) -> list:
    e, s = report.effect_on_mediator, report.settings
    return [
        Heading(f"Effect of {s.treatment} on the mediator {s.mediator}", 2),
        Table(
            ("Estimate", "SE", f"{level} CI", "p-value"),
            (
                (
                    fmt(e.estimate, digits),
                    fmt(e.std_error, digits),
                    fmt_ci(e.ci_low, e.ci_high, digits),
                    fmt_p(e.pvalue),
                ),
            ),
            "rrrr",
            caption=f"Method: {e.method}.",
        ),
    ]


def _estimates_blocks(report: Report, digits: int, level: str) -> list:
    s = report.settings
    table1 = Table(
        (
            "Method",
            f"Direct effect of {s.treatment}",
            f"Mediator effect ({s.mediator})",
        ),
        tuple(
            (
                row.label,
                fmt_estimate_ci(row.direct_effect, digits),
                fmt_estimate_ci(row.mediator_effect, digits),
            )
            for row in report.estimates
        ),
        "lrr",
        caption=f"{level} confidence intervals in parentheses.",
    )
    details = Table(
        ("Method", "Effect", "Estimate", "SE", "p-value", f"{level} CI"),
        tuple(
            (
                row.label,
                _EFFECT_LABEL[effect],
                fmt(est.estimate, digits),
                fmt(est.std_error, digits),
                fmt_p(est.pvalue),
                fmt_ci(est.ci_low, est.ci_high, digits),
            )
            for row in report.estimates
            for effect, est in (
                ("direct_effect", row.direct_effect),
                ("mediator_effect", row.mediator_effect),
            )
        ),
        "llrrrr",
    )
    return [
        Heading("Direct and mediator effects: standard regression and IV", 2),
        table1,
        details,
        Figure("estimates", f"Estimates with {level} confidence intervals."),
    ]


def _first_stage_blocks(report: Report, digits: int) -> list:
    fs = report.first_stage
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
    return [
        Heading("First stage", 2),
        Table(("Statistic", "Value"), tuple(rows), "lr"),
        Paragraph(fs.verdict),
    ]


def _effects_blocks(report: Report, digits: int, level: str) -> list:
    s = report.settings
    return [
        Heading("Mediation effects", 2),
        Table(
            ("Method", "Effect", "Estimate", "SE", "p-value", f"{level} CI"),
            tuple(
                (
                    _METHOD_LABEL[row.method],
                    _MEDIATION_LABEL[row.effect],
                    fmt(row.estimate, digits),
                    fmt(row.std_error, digits),
                    fmt_p(row.pvalue),
                    fmt_ci(row.ci_low, row.ci_high, digits),
                )
                for row in report.effects
                if row.effect in _MEDIATION_LABEL
            ),
            "llrrrr",
            caption=(
                f"Indirect effect = mediator effect x effect of {s.treatment} on "
                f"{s.mediator}; total effect = direct + indirect; proportion "
                "mediated = indirect / total. The intention-to-treat effect "
                f"(least squares of {s.outcome} on {s.treatment} and the "
                "baseline variables) estimates the total effect without the "
                "mediation assumptions. Standard errors by the delta method from "
                "the stacked estimating equations of the regressions."
            ),
        ),
    ]


def _weak_iv_robust_blocks(report: Report) -> list:
    cs = report.weak_iv_robust
    iv = next(row for row in report.estimates if row.method == "iv")
    wald = iv.mediator_effect
    return [
        Heading("Weak-instrument-robust inference", 2),
        Paragraph(
            f"Anderson-Rubin {fmt_level(cs.confidence_level)} confidence set for "
            f"the mediator effect: {fmt_set(cs.intervals)}; the Wald interval is "
            f"{fmt_ci(wald.ci_low, wald.ci_high)}."
        ),
    ]


def _tau(values) -> str:
    return "(" + ", ".join(fmt_value(v) for v in values) + ")"


def _sensitivity_blocks(report: Report, digits: int) -> list:
    sens = report.sensitivity
    level = fmt_level(sens.confidence_level)
    names = ", ".join(sens.covariates)
    blocks = [
        Heading("Sensitivity analysis", 2),
        Paragraph(
            "Estimates when the direct effect and the mediator effect vary with "
            "the covariates (a violation of assumption IV-A2): a component of "
            "tau_R (tau_M) is the change of the direct (mediator) effect per unit "
            f"of that covariate. Components in the order ({names})."
        ),
        Table(
            ("tau_R", "tau_M", "Direct effect", "Mediator effect"),
            tuple(
                (
                    _tau(point.tau_direct),
                    _tau(point.tau_mediator),
                    fmt_estimate_ci(point.direct_effect, digits),
                    fmt_estimate_ci(point.mediator_effect, digits),
                )
                for point in sens.grid
            ),
            "llrr",
            caption=f"{level} confidence intervals in parentheses.",
        ),
        Table(
            ("Effect", "Estimates range", f"Union of {level} CIs"),
            tuple(
                (
                    _EFFECT_LABEL[row.effect],
                    f"{fmt(row.estimate_low, digits)} to {fmt(row.estimate_high, digits)}",
                    fmt_ci(row.ci_low, row.ci_high, digits),
                )
                for row in sens.interval
            ),
            "lrr",
            caption="Sensitivity intervals over the grid.",
        ),
    ]
    blocks.append(
        Table(
            (
                "Effect",
                "Parameter",
                "Estimate = 0 at",
                "CI covers 0 from (up)",
                "(down)",
            ),
            tuple(
                (
                    _EFFECT_LABEL[row.effect],
                    row.parameter,
                    fmt(row.sign_change, digits),
                    fmt(row.ci_covers_zero_up, digits),
                    fmt(row.ci_covers_zero_down, digits),
                )
                for row in sens.breakdown
            ),
            "llrrr",
            caption=(
                "Breakdown values: one parameter moved, the others at 0; "
                "the confidence interval covers 0 from the value given "
                "upward (downward); n/a: never."
            ),
        )
    )
    blocks.append(
        Figure(
            "sensitivity", f"Estimates with {level} confidence intervals over the grid."
        )
    )
    return blocks


def _bootstrap_blocks(report: Report, digits: int) -> list:
    b = report.bootstrap
    level = fmt_level(b.confidence_level)
    seed = "" if b.random_state is None else f", random_state={b.random_state}"
    units = (
        f"whole clusters of {report.settings.clusters} resampled"
        if report.settings.clusters
        else "rows resampled"
    )
    return [
        Heading("Bootstrap", 2),
        Table(
            ("Method", "Effect", "Estimate", "Bootstrap SE", f"{level} {b.method} CI"),
            tuple(
                (
                    _METHOD_LABEL[row.method],
                    _EFFECT_LABEL[row.effect],
                    fmt(row.estimate, digits),
                    fmt(row.standard_error, digits),
                    fmt_ci(row.ci_low, row.ci_high, digits),
                )
                for row in b.results
            ),
            "llrrr",
            caption=f"{b.n_resamples} resamples ({units}){seed}.",
        ),
    ]


# ---------------------------------------------------------------------------
# Renderers


def render(report: Report, output_format: str = "text", digits: int = 3) -> str:
    """The report in one of :data:`FORMATS`."""
    if output_format == "json":
        return json.dumps(report.to_dict(), indent=2) + "\n"
    blocks = layout(report, digits)
    if output_format == "text":
        return _text(blocks)
    if output_format == "markdown":
        return _markdown(blocks)
    if output_format == "html":
        return _html(blocks, report)
    raise ValueError(f"output_format must be one of {FORMATS}; got {output_format!r}")


def _text_table(table: Table) -> list[str]:
    columns = list(zip(table.header, *table.rows, strict=True))
    widths = [max(len(cell) for cell in column) for column in columns]

    def line(cells):
        out = [
            cell.ljust(w) if a == "l" else cell.rjust(w)
            for cell, w, a in zip(cells, widths, table.align, strict=True)
        ]
        return "  ".join(out).rstrip()

    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    lines = [line(table.header), rule, *(line(row) for row in table.rows), rule]
    if table.caption:
        lines += textwrap.wrap(table.caption, _WIDTH)
    return lines


def _text(blocks) -> str:
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            underline = "=" if block.level == 1 else "-"
            lines += [block.text, underline * len(block.text), ""]
        elif isinstance(block, Paragraph):
            lines += [*textwrap.wrap(block.text, _WIDTH), ""]
        elif isinstance(block, Table):
            lines += [*_text_table(block), ""]
    return "\n".join(lines).rstrip() + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def _markdown(blocks) -> str:
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Table):
            rule = ["---" if a == "l" else "---:" for a in block.align]
            rows = [block.header, rule, *block.rows]
            lines = ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            if block.caption:
                lines += ["", f"*{block.caption}*"]
            parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial,
       sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #1a1a1a; line-height: 1.45; }
h1 { font-size: 1.5rem; border-bottom: 2px solid #333; padding-bottom: .3rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #bbb; }
table { border-collapse: collapse; margin: .8rem 0; }
caption { caption-side: bottom; text-align: left; font-size: .9rem;
          color: #555; padding-top: .3rem; }
th, td { padding: .25rem .7rem; border-bottom: 1px solid #ddd; }
th { border-bottom: 2px solid #555; }
td.r, th.r { text-align: right; font-variant-numeric: tabular-nums; }
td.l, th.l { text-align: left; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; }
figcaption { font-size: .9rem; color: #555; }
"""


def _html(blocks, report: Report) -> str:
    title = html.escape(next(b.text for b in blocks if isinstance(b, Heading)))
    body = []
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{html.escape(block.text)}</p>")
        elif isinstance(block, Table):
            body.append(_html_table(block))
        elif isinstance(block, Figure):
            png = figure_png(report, block.kind)
            if png is not None:
                data = base64.b64encode(png).decode("ascii")
                body.append(
                    f'<figure><img alt="{html.escape(block.caption)}" '
                    f'src="data:image/png;base64,{data}">'
                    f"<figcaption>{html.escape(block.caption)}</figcaption></figure>"
                )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _html_table(table: Table) -> str:
    def row(cells, tag):
        inner = "".join(
            f'<{tag} class="{a}">{html.escape(c)}</{tag}>'
            for c, a in zip(cells, table.align, strict=True)
        )
        return f"<tr>{inner}</tr>"

    caption = (
        f"<caption>{html.escape(table.caption)}</caption>" if table.caption else ""
    )
    body = "".join(row(r, "td") for r in table.rows)
    return (
        f"<table>{caption}<thead>{row(table.header, 'th')}</thead>"
        f"<tbody>{body}</tbody></table>"
    )


# ---------------------------------------------------------------------------
# Figures (HTML only; matplotlib is optional)


def figure_png(report: Report, kind: str) -> bytes | None:
    """A PNG of one figure of the report, or ``None`` without matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure as MplFigure
    except ImportError:
        return None
    if kind == "estimates":
        labels = [row.label for row in report.estimates]
        points = report.estimates
    else:
        points = report.sensitivity.grid
        labels = [f"{_tau(p.tau_direct)} {_tau(p.tau_mediator)}" for p in points]
    n = len(labels)
    fig = MplFigure(figsize=(8, 1.2 + 0.35 * n), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, effect in zip(axes, _EFFECT_LABEL, strict=True):
        estimates = [getattr(point, effect) for point in points]
        ys = list(range(n))[::-1]
        centers = [e.estimate for e in estimates]
        errors = [
            [e.estimate - e.ci_low for e in estimates],
            [e.ci_high - e.estimate for e in estimates],
        ]
        ax.errorbar(centers, ys, xerr=errors, fmt="o", color="#1f4e79", capsize=3)
        ax.axvline(0, color="#888", linewidth=0.8, linestyle="--")
        ax.set_title(_EFFECT_LABEL[effect].capitalize())
        ax.set_yticks(ys, labels)
        ax.set_ylim(-0.6, n - 0.4)
    if kind == "sensitivity":
        axes[0].set_ylabel("tau_R  tau_M")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96)
    return buffer.getvalue()
