"""Documents to read: blocks, and the one renderer that writes them.

A :class:`Summary` is a sequence of blocks (:class:`Heading`,
:class:`Paragraph`, :class:`Table`, :class:`Rule`, :class:`Figure`) that says
what a person reads; the text, Markdown, HTML and LaTeX writers differ only in
syntax, so the formats cannot disagree. ``summary()`` of the estimators and
results, :func:`skmediate.compare` and the command line's report are all
written here. Nothing here computes or words a statistic
(:mod:`skmediate._report.render` does).
"""

from __future__ import annotations

import base64
import html
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

__all__ = [
    "Figure",
    "Heading",
    "Paragraph",
    "Rule",
    "Summary",
    "Table",
    "latex_escape",
]

WIDTH = 78  # characters per line of text
# A report's tables keep one line per row up to this width, and wrap beyond it.
TABLE_WIDTH = 100

# ---------------------------------------------------------------------------
# Blocks: what a document says, independent of its format


@dataclass(frozen=True)
class Heading:
    text: str
    level: int  # 1 (title) or 2 (section)


@dataclass(frozen=True)
class Paragraph:
    """Running text; ``label`` is a lead-in set apart ("First stage:").

    In text, lines wrap at the width, continuing at column ``indent`` (the
    label, padded to ``indent``, starts the first line); the other formats
    set the label in bold and ignore ``indent``.
    """

    text: str
    label: str = ""
    indent: int = 0


@dataclass(frozen=True)
class Table:
    """Cells formatted for reading, with the numbers behind them in ``data``.

    ``title`` is written above the table and ``caption`` beneath it. In a
    summary's text, ``widths`` fixes each column's width (0: as wide as its
    cell; the first column is cut with ``~`` beyond its width) and ``indent``
    moves the table right; a report's text sizes the columns to their cells
    and wraps the widest columns' cells beyond ``max_width`` characters
    (0: :data:`TABLE_WIDTH`).
    """

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: str  # one of "l" or "r" per column
    caption: str = ""
    title: str = ""
    widths: tuple[int, ...] = ()
    indent: int = 0
    max_width: int = 0
    data: pd.DataFrame | None = field(default=None, compare=False, repr=False)

    def to_frame(self) -> pd.DataFrame:
        """The numbers of the table (``data``), or else its cells as strings."""
        if self.data is not None:
            return self.data.copy()
        n = len(self.align)
        header = self.header or tuple(f"column {i}" for i in range(n))
        return pd.DataFrame(list(self.rows), columns=list(header))


@dataclass(frozen=True)
class Rule:
    """A horizontal rule of a summary's text layout; the other formats draw
    their tables' own rules and show nothing for it."""

    char: str = "="


@dataclass(frozen=True)
class Figure:
    """A figure: ``draw()`` returns its PNG, or ``None`` without matplotlib."""

    caption: str
    draw: Callable[[], bytes | None] = field(compare=False, repr=False)


# ---------------------------------------------------------------------------
# Renderers: one document of blocks, written as text, Markdown, HTML or LaTeX


class Summary:
    """A document to read: prints as text, renders as HTML in Jupyter.

    What ``summary()`` of an estimator or a result returns, and what the
    command line's report is made of: a sequence of blocks (headings,
    paragraphs, tables, figures) written in one of four formats by
    :meth:`as_text`, :meth:`as_markdown` (GitHub tables), :meth:`as_html` and
    :meth:`as_latex` (booktabs tables). ``str(summary)`` and ``repr`` give
    the text, Jupyter shows the HTML (``_repr_html_``) and converts to LaTeX
    with ``_repr_latex_``, as statsmodels' and linearmodels' summaries do.
    The numbers behind each table are in :attr:`tables`, as DataFrames.

    A summary stands for the text it prints in two ways: ``"word" in
    summary`` searches the text, and ``==`` compares the texts (with another
    summary or a string). For anything else a string does (``splitlines``,
    ``index``, slicing), take :meth:`as_text` or ``str(summary)``.

    Parameters
    ----------
    blocks : sequence of blocks
        The headings, paragraphs, tables and figures, in reading order.
    style : {"summary", "report"}, default="summary"
        The text layout: ``"summary"`` is the compact layout of a fit's summary
        (fixed-width columns between ``=`` rules, no blank lines); ``"report"``
        underlines the headings and separates the blocks by blank lines.

    Examples
    --------
    >>> from skmediate import IVMediationRegressor
    >>> from skmediate.datasets import make_mediation_data
    >>> X, y = make_mediation_data(400, random_state=0)
    >>> summary = IVMediationRegressor(treatment="r", mediator="m").fit(X, y).summary()
    >>> "Anderson-Rubin" in summary
    True
    >>> print(summary.as_text().splitlines()[0].strip())
    IV mediation regression (two-stage least squares)
    >>> summary.tables[1].loc["m", ["lower", "upper"]].round(2).tolist()
    [0.94, 1.25]
    """

    def __init__(self, blocks, *, style: str = "summary"):
        if style not in ("summary", "report"):
            raise ValueError(f"style must be 'summary' or 'report'; got {style!r}")
        self.blocks = tuple(blocks)
        self.style = style

    @property
    def tables(self) -> list[pd.DataFrame]:
        """The tables in order, as DataFrames of their numbers."""
        return [block.to_frame() for block in self.blocks if isinstance(block, Table)]

    @property
    def title(self) -> str:
        """The first heading."""
        return next((b.text for b in self.blocks if isinstance(b, Heading)), "")

    def as_text(self) -> str:
        """Plain text.

        Paragraphs wrap at 78 characters. A summary's columns have fixed
        widths (a cell longer than its column overflows it); a report's
        tables are as wide as their cells, and wrap the widest columns'
        cells when wider than 100 characters (or a table's own
        ``max_width``: 78 for the report's tables with several mediators).

        Returns
        -------
        str
            The text, ending with a newline.
        """
        if self.style == "report":
            return _text(self.blocks)
        return _summary_text(self.blocks)

    def as_markdown(self) -> str:
        """Markdown with GitHub tables.

        Returns
        -------
        str
            Headings as ``#`` lines, tables as GitHub tables.
        """
        return _markdown(self.blocks)

    def as_html(self, document: bool = False) -> str:
        """HTML: a fragment, or a self-contained page.

        Parameters
        ----------
        document : bool, default=False
            Whether to write a whole page (styles inline, figures as embedded
            PNGs) rather than a fragment for a notebook or another page.

        Returns
        -------
        str
            The HTML.
        """
        return _html(self.blocks, document)

    def as_latex(self, document: bool = False) -> str:
        """LaTeX, with booktabs tables and special characters escaped.

        Parameters
        ----------
        document : bool, default=False
            Whether to write a complete document rather than a fragment (whose
            tables need ``\\usepackage{booktabs}``).

        Returns
        -------
        str
            The LaTeX source.
        """
        return _latex(self.blocks, document)

    def __contains__(self, text: str) -> bool:
        return text in self.as_text()

    def __eq__(self, other) -> bool:
        if isinstance(other, Summary):
            return self.as_text() == other.as_text()
        if isinstance(other, str):
            return self.as_text() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.as_text())

    def __str__(self) -> str:
        return self.as_text()

    def __repr__(self) -> str:
        return self.as_text()

    def _repr_html_(self) -> str:
        return self.as_html()

    def _repr_latex_(self) -> str:
        return self.as_latex()


def _wrap(text: str, width: int, first: str = "", rest: str = "") -> list[str]:
    return textwrap.wrap(
        text,
        width,
        initial_indent=first,
        subsequent_indent=rest,
        break_on_hyphens=False,
    ) or [first.rstrip()]


# -- text ---------------------------------------------------------------------


def _text_table(table: Table, width: int = TABLE_WIDTH) -> list[str]:
    """A table sized to its cells; in a table wider than ``width`` the widest
    columns wrap their cells onto several lines (never within a word)."""
    columns = list(zip(table.header, *table.rows, strict=True))
    widths = [max(len(cell) for cell in column) for column in columns]
    floors = [
        max(len(w) for cell in column for w in cell.split() or [""])
        for column in columns
    ]
    while sum(widths) + 2 * (len(widths) - 1) > width:
        shrinkable = [k for k in range(len(widths)) if widths[k] > floors[k]]
        if not shrinkable:
            break
        widths[max(shrinkable, key=widths.__getitem__)] -= 1

    def lines(cells):
        pieces = [
            _wrap(cell, w) if len(cell) > w else [cell]
            for cell, w in zip(cells, widths, strict=True)
        ]
        out = []
        for i in range(max(map(len, pieces))):
            out.append(
                "  ".join(
                    # a wrapped cell reads from the left, whatever its column's alignment
                    (p[i] if i < len(p) else "").ljust(w)
                    if a == "l" or len(p) > 1
                    else p[i].rjust(w)
                    if i < len(p)
                    else " " * w
                    for p, w, a in zip(pieces, widths, table.align, strict=True)
                ).rstrip()
            )
        return out

    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    out = [rule]
    if table.header:
        out = [*lines(table.header), rule]
    for row in table.rows:
        out += lines(row)
    out.append(rule)
    if table.title:
        out = [table.title, *out]
    if table.caption:
        out += _wrap(table.caption, WIDTH)
    return out


def _text(blocks, width: int = WIDTH) -> str:
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            underline = "=" if block.level == 1 else "-"
            lines += [block.text, underline * len(block.text), ""]
        elif isinstance(block, Paragraph):
            label = f"{block.label} " if block.label else ""
            lines += [*_wrap(label + block.text, width), ""]
        elif isinstance(block, Table):
            lines += [*_text_table(block, block.max_width or TABLE_WIDTH), ""]
    return "\n".join(lines).rstrip() + "\n"


def _cut(cell: str, width: int) -> str:
    """``cell`` cut to ``width`` characters with ``~``, keeping a ``[...]`` suffix
    (the mediator of a per-mediator effect) when enough of the stem remains."""
    stem, bracket, suffix = cell.rpartition("[")
    suffix = bracket + suffix
    if bracket and cell.endswith("]") and width - len(suffix) - 1 >= 4:
        return stem[: width - len(suffix) - 1] + "~" + suffix
    return cell[: width - 1] + "~"


def _fixed_lines(cells, table: Table, width: int) -> list[str]:
    """One row at the table's fixed widths; a last column of width 0 wraps
    within ``width``, continuing under its first line."""
    out = []
    for j, (cell, a) in enumerate(zip(cells, table.align, strict=True)):
        w = table.widths[j]
        if j == 0 and w and len(cell) > w - 1:
            cell = _cut(cell, w - 1)
        out.append(cell.ljust(w) if a == "l" else cell.rjust(w))
    line = (" " * table.indent + "".join(out)).rstrip()
    if table.widths[-1] or len(line) <= width:
        return [line]
    lead = " " * table.indent + "".join(out[:-1])
    return _wrap(cells[-1], width, lead, " " * len(lead))


def _summary_text(blocks, width: int = WIDTH) -> str:
    """The compact layout of a summary (statsmodels' is the model)."""
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            lines.append(block.text.center(width) if block.level == 1 else block.text)
        elif isinstance(block, Rule):
            lines.append(block.char * width)
        elif isinstance(block, Paragraph):
            first = block.label.ljust(block.indent) if block.label else ""
            lines += _wrap(
                block.text,
                width,
                first or " " * block.indent,
                " " * block.indent,
            )
        elif isinstance(block, Table):
            if not block.widths:
                lines += _text_table(block, width)
                continue
            if block.title:
                lines.append(block.title)
            if block.header:
                lines += _fixed_lines(block.header, block, width)
            if block.title or block.header:
                lines.append("-" * width)
            for row in block.rows:
                lines += _fixed_lines(row, block, width)
            if block.caption:
                lines += _wrap(block.caption, width)
    return "\n".join(lines)


# -- Markdown -------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def _markdown(blocks) -> str:
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            label = f"**{block.label}** " if block.label else ""
            parts.append(label + block.text)
        elif isinstance(block, Table):
            rule = ["---" if a == "l" else "---:" for a in block.align]
            header = block.header or ("",) * len(block.align)
            rows = [header, rule, *block.rows]
            lines = ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            if block.title:
                lines = [f"**{block.title}**", "", *lines]
            if block.caption:
                lines += ["", f"*{block.caption}*"]
            parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


# -- HTML -----------------------------------------------------------------------

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
figcaption, p.no-figure { font-size: .9rem; color: #555; }
"""

# Without matplotlib the HTML says where a figure would be and how to get it.
NO_FIGURE = (
    'Figures need matplotlib, which the "plot" extra installs: '
    'pip install "skmediate[plot]".'
)


def _html(blocks, document: bool = False) -> str:
    # A fragment sits inside a notebook or a page: its headings start lower.
    shift = 0 if document else 2
    body = []
    for block in blocks:
        if isinstance(block, Heading):
            tag = f"h{block.level + shift}"
            body.append(f"<{tag}>{html.escape(block.text)}</{tag}>")
        elif isinstance(block, Paragraph):
            label = (
                f"<strong>{html.escape(block.label)}</strong> " if block.label else ""
            )
            body.append(f"<p>{label}{html.escape(block.text)}</p>")
        elif isinstance(block, Table):
            body.append(_html_table(block))
        elif isinstance(block, Figure):
            png = block.draw()
            caption = html.escape(block.caption)
            if png is None:
                body.append(
                    f'<p class="no-figure">Figure not drawn ({caption}): '
                    f"{html.escape(NO_FIGURE)}</p>"
                )
                continue
            data = base64.b64encode(png).decode("ascii")
            body.append(
                f'<figure><img alt="{caption}" src="data:image/png;base64,{data}">'
                f"<figcaption>{caption}</figcaption></figure>"
            )
    if not document:
        return '<div class="skmediate-summary">\n' + "\n".join(body) + "\n</div>"
    title = html.escape(next((b.text for b in blocks if isinstance(b, Heading)), ""))
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
    title = f"<h4>{html.escape(table.title)}</h4>" if table.title else ""
    head = f"<thead>{row(table.header, 'th')}</thead>" if table.header else ""
    body = "".join(row(r, "td") for r in table.rows)
    return f"{title}<table>{caption}{head}<tbody>{body}</tbody></table>"


# -- LaTeX ----------------------------------------------------------------------

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "²": r"\textsuperscript{2}",
    "–": "--",
    "—": "---",
    "−": r"\ensuremath{-}",
    "±": r"\ensuremath{\pm}",
    "×": r"\ensuremath{\times}",
    "·": r"\ensuremath{\cdot}",
    "≤": r"\ensuremath{\le}",
    "≥": r"\ensuremath{\ge}",
    "≠": r"\ensuremath{\ne}",
    "≈": r"\ensuremath{\approx}",
    "∞": r"\ensuremath{\infty}",
    "∪": r"\ensuremath{\cup}",
    "α": r"\ensuremath{\alpha}",
    "δ": r"\ensuremath{\delta}",
    "ε": r"\ensuremath{\varepsilon}",
    "θ": r"\ensuremath{\theta}",
    "κ": r"\ensuremath{\kappa}",
    "σ": r"\ensuremath{\sigma}",
    "τ": r"\ensuremath{\tau}",
    "χ": r"\ensuremath{\chi}",
}


def latex_escape(text: str) -> str:
    """``text`` for LaTeX's text mode: its special characters as commands.

    >>> latex_escape("P>|z| of x_1: 5% & {a} ~ 2^3")
    'P\\\\textgreater{}\\\\textbar{}z\\\\textbar{} of x\\\\_1: 5\\\\% \\\\& \\\\{a\\\\} \\\\textasciitilde{} 2\\\\textasciicircum{}3'
    """
    return "".join(_LATEX_SPECIAL.get(c, c) for c in text)


# Columns with cells longer than this wrap in a paragraph column.
_LATEX_WRAP = 40


def _latex_table(table: Table) -> list[str]:
    spec = ""
    for j, a in enumerate(table.align):
        cells = [row[j] for row in (table.header, *table.rows) if row]
        if max(map(len, cells), default=0) > _LATEX_WRAP:
            spec += r"p{0.45\linewidth}"
        else:
            spec += a

    def row(cells):
        return " & ".join(latex_escape(c) for c in cells) + r" \\"

    lines = []
    if table.title:
        lines.append(rf"\par\noindent\textbf{{{latex_escape(table.title)}}}")
    lines += [
        r"\begin{center}",
        r"\small",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
    ]
    if table.header:
        lines += [row(table.header), r"\midrule"]
    lines += [row(r) for r in table.rows]
    lines += [r"\bottomrule", r"\end{tabular}"]
    if table.caption:
        lines += [
            r"\par\smallskip",
            rf"\parbox{{\linewidth}}{{\small {latex_escape(table.caption)}}}",
        ]
    lines += [r"\end{center}"]
    return lines


_LATEX_PREAMBLE = r"""\documentclass{article}
\usepackage[utf8]{inputenc}
\usepackage[margin=2cm]{geometry}
\usepackage{booktabs}
\begin{document}
"""


def _latex(blocks, document: bool = False) -> str:
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            command = "section" if block.level == 1 else "subsection"
            parts.append(rf"\{command}*{{{latex_escape(block.text)}}}")
        elif isinstance(block, Paragraph):
            label = rf"\textbf{{{latex_escape(block.label)}}} " if block.label else ""
            parts.append(r"\noindent " + label + latex_escape(block.text))
        elif isinstance(block, Table):
            parts.append("\n".join(_latex_table(block)))
        elif isinstance(block, Figure):
            parts.append(f"% figure not included: {latex_escape(block.caption)}")
    body = "\n\n".join(parts) + "\n"
    if not document:
        return body
    return _LATEX_PREAMBLE + body + "\\end{document}\n"
