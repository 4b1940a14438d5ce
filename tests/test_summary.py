"""``summary()`` as a document: one set of blocks written as text, Markdown, HTML, LaTeX.

The numbers in every format are the fit's own (``to_frame()``, ``effects``,
``diagnostic_tests``) formatted; the formats are checked against their
syntax (GitHub tables, HTML tables parsed back, LaTeX compiled by
``pdflatex`` where it is installed).
"""

import re
import shutil
import subprocess
import warnings
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from skmediate import (
    IVMediationRegressor,
    NaiveMediationRegressor,
    SensitivityGrid,
    Summary,
    WeakInstrumentWarning,
    bootstrap,
    compare,
)
from skmediate._numerics.sets import ConfidenceSet, format_set
from skmediate._report.document import latex_escape
from skmediate._report.render import fmt_set

from .conftest import simulate_trial

ROLES = dict(treatment="r", mediator="m")


@pytest.fixture(scope="module")
def fits():
    X, y, _ = simulate_trial(n=600, seed=4)
    iv = IVMediationRegressor(**ROLES).fit(X, y)
    naive = NaiveMediationRegressor(**ROLES).fit(X, y)
    return iv, naive


class _Tables(HTMLParser):
    """The cells of every ``<table>``, row by row."""

    def __init__(self):
        super().__init__()
        self.tables, self._row, self._cell = [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr":
            self.tables[-1].append(self._row)

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def _coefficient_cells(frame):
    return [
        [
            name,
            f"{row.iloc[0]:.4f}",
            f"{row.iloc[1]:.4f}",
            f"{row.iloc[2]:.3f}",
            f"{row.iloc[3]:.3f}",
            f"{row.iloc[4]:.4f}",
            f"{row.iloc[5]:.4f}",
        ]
        for name, row in frame.iterrows()
    ]


def test_summary_object_prints_its_text(fits):
    iv, naive = fits
    summary = iv.summary()
    assert isinstance(summary, Summary)
    text = summary.as_text()
    assert str(summary) == repr(summary) == text == str(iv.result_)
    assert summary._repr_html_() == summary.as_html()
    assert summary._repr_latex_() == summary.as_latex()
    # behaves like its text for `in` and `==`, and only for those
    assert "Anderson-Rubin" in summary and "Anderson-Rubin" in text
    assert "no such phrase" not in summary
    assert summary == iv.result_.summary() == text
    assert summary != naive.summary()
    assert not hasattr(summary, "splitlines")
    # the compact layout: every line within 78 characters
    assert max(len(line) for line in text.splitlines()) <= 78
    assert "First stage" not in naive.summary() and "Naive" in naive.summary()


def test_summary_tables_are_the_fits_numbers(fits):
    iv, _ = fits
    tables = iv.summary().tables
    pd.testing.assert_frame_equal(tables[1], iv.result_.to_frame())
    pd.testing.assert_frame_equal(tables[2], iv.result_.effects)
    diagnostics = tables[-1]
    for row in iv.result_.diagnostic_tests:
        got = diagnostics.iloc[[row.key == r.key for r in iv.result_.diagnostic_tests]]
        np.testing.assert_array_equal(
            got[["statistic", "pvalue"]].to_numpy().ravel(), [row.statistic, row.pvalue]
        )
    sets = tables[-2]
    assert list(sets.index) == [
        "direct",
        "mediator",
        "indirect",
        "total",
        "proportion_mediated",
    ]
    for effect in sets.index:
        best = iv.result_.confidence_set(effect)
        assert sets.loc[effect, "method"] == best.method
        assert sets.loc[effect, "recommended"] == best.intervals
    # a copy: changing it leaves the summary alone
    tables[1].iloc[0, 0] = np.nan
    assert not np.isnan(iv.summary().tables[1].iloc[0, 0])


def test_html_tables_hold_the_text_cells(fits):
    iv, _ = fits
    parser = _Tables()
    parser.feed(iv.summary().as_html())
    coefficients = next(t for t in parser.tables if t[0][1:3] == ["coef", "std err"])
    assert coefficients[1:] == _coefficient_cells(iv.result_.to_frame())
    effects = [t for t in parser.tables if t[0][1:3] == ["coef", "std err"]][1]
    assert effects[1:] == _coefficient_cells(iv.result_.effects)
    html = iv.summary().as_html()
    assert html.startswith('<div class="skmediate-summary">') and "<style>" not in html
    page = iv.summary().as_html(document=True)
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page


def test_markdown_is_github_tables(fits):
    iv, _ = fits
    text = iv.summary().as_markdown()
    assert text.startswith("# IV mediation regression")
    tables = [b for b in text.split("\n\n") if b.startswith("|")]
    assert len(tables) == len(iv.summary().tables)
    for block in tables:
        lines = block.splitlines()
        # unescaped pipes: the same number on every line of a table
        counts = {len(re.findall(r"(?<!\\)\|", line)) for line in lines}
        assert len(counts) == 1, block
        assert re.fullmatch(r"\|( ---:? \|)+", lines[1]), lines[1]
    for cells in _coefficient_cells(iv.result_.to_frame()):
        assert "| " + " | ".join(cells) + " |" in text
    assert r"| P>\|z\| |" in text


def test_latex_escape_special_characters():
    # LaTeX's text-mode spellings of its ten special characters
    expected = {
        "#": r"\#",
        "$": r"\$",
        "%": r"\%",
        "&": r"\&",
        "_": r"\_",
        "{": r"\{",
        "}": r"\}",
        "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}",
        "\\": r"\textbackslash{}",
    }
    for char, spelled in expected.items():
        assert latex_escape(char) == spelled
        assert latex_escape(f"a{char}b") == f"a{spelled}b"
    assert latex_escape("P>|z|") == r"P\textgreater{}\textbar{}z\textbar{}"
    assert latex_escape("plain text, 1.5 (2)") == "plain text, 1.5 (2)"
    assert latex_escape("χ² ≤ τ") == (
        r"\ensuremath{\chi}\textsuperscript{2} \ensuremath{\le} \ensuremath{\tau}"
    )


WEIRD = ["base_score", "pct%", "a&b", "#visits", "$cost", "{x}", "t~1", "x^2", "c\\d"]


@pytest.fixture(scope="module")
def weird_fit():
    X, y, _ = simulate_trial(n=400, n_covariates=len(WEIRD), seed=9)
    X = X.rename(columns={f"x{i + 1}": name for i, name in enumerate(WEIRD)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeakInstrumentWarning)
        return IVMediationRegressor(**ROLES, covariates=WEIRD).fit(X, y)


def test_latex_is_booktabs_with_escaped_names(weird_fit):
    latex = weird_fit.summary().as_latex()
    assert r"\begin{tabular}" in latex and r"\toprule" in latex
    assert r"\midrule" in latex and r"\bottomrule" in latex
    assert r"\documentclass" not in latex
    for name in WEIRD:
        assert latex_escape(name) in latex
    # no name appears unescaped (an escaped name starts with a backslash)
    for name in WEIRD:
        assert not re.search(r"(?<!\\)" + re.escape(name), latex), name
    document = weird_fit.summary().as_latex(document=True)
    assert document.startswith(r"\documentclass{article}")
    assert r"\usepackage{booktabs}" in document and document.rstrip().endswith(
        r"\end{document}"
    )


def _pdflatex(tmp_path, source: str) -> subprocess.CompletedProcess:
    (tmp_path / "doc.tex").write_text(source, encoding="utf-8")
    return subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


needs_pdflatex = pytest.mark.skipif(
    shutil.which("pdflatex") is None,
    reason="pdflatex is not installed (Debian: texlive-latex-base, "
    "texlive-latex-recommended)",
)


@needs_pdflatex
def test_latex_summary_compiles(weird_fit, tmp_path):
    run = _pdflatex(tmp_path, weird_fit.summary().as_latex(document=True))
    assert run.returncode == 0, run.stdout[-2000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 0
    assert "Overfull" not in (tmp_path / "doc.log").read_text(errors="replace")


@needs_pdflatex
def test_latex_report_compiles(tmp_path, capsys):
    from skmediate._report.cli import main

    assert main(["demo", "--format", "latex"]) == 0
    out = capsys.readouterr().out
    assert r"\section*{Mediation analysis of hamilton" in out
    run = _pdflatex(tmp_path, out)
    assert run.returncode == 0, run.stdout[-2000:]


def test_one_notation_for_sets(fits):
    iv, _ = fits
    intervals = [(-np.inf, -1.25), (0.5, 2.0), (3.0, np.inf)]
    assert format_set(intervals, ".2f") == "(-inf, -1.25] U [0.50, 2.00] U [3.00, inf)"
    assert format_set([]) == "empty"
    assert repr(ConfidenceSet(intervals, "direct", "AR", 0.95)) == (
        "ConfidenceSet((-inf, -1.25] U [0.5, 2] U [3, inf); direct, AR, 95%)"
    )
    assert fmt_set(intervals) == format_set(intervals, ".3f")
    ar = iv.anderson_rubin_confidence_set()
    assert f"Anderson-Rubin:       {format_set(ar, '.3f')}" in iv.summary()
    low, high = iv.result_.conf_int().loc["m"]
    assert f"Wald (IV-2SLS):       {format_set([(low, high)], '.3f')}" in iv.summary()


def test_verdict_lines_wrap_with_many_instruments():
    X, y, _ = simulate_trial(n=500, n_covariates=23, instrument_strength=0.05, seed=2)
    for cov_type in ("classical", "HC1"):
        with pytest.warns(WeakInstrumentWarning):
            est = IVMediationRegressor(**ROLES, cov_type=cov_type).fit(X, y)
        lines = est.summary().as_text().splitlines()
        assert max(map(len, lines)) <= 78
        joined = " ".join(est.summary().as_text().split())
        assert "WEAK instruments" in joined or "instruments not weak" in joined


def test_compare_renders_through_the_same_writer(fits):
    iv, naive = fits
    comparison = compare([naive, iv])
    summary = comparison.summary()
    assert isinstance(summary, Summary)
    assert str(comparison) == summary.as_text().rstrip("\n")
    assert f"{iv.direct_effect_:.4f}" in summary.as_markdown()
    assert f"{iv.direct_effect_:.4f}" in summary.as_latex()


def test_summary_style_is_checked():
    with pytest.raises(ValueError, match="style must be 'summary' or 'report'"):
        Summary((), style="fancy")


def test_sensitivity_grid_summary():
    X, y, _ = simulate_trial(n=500, seed=6)
    grid = SensitivityGrid(
        IVMediationRegressor(**ROLES),
        tau_direct={"x1": [0.0, 0.5]},
        tau_mediator={"x2": [0.0, -0.5]},
    ).fit(X, y)
    summary = grid.summary()
    assert isinstance(summary, Summary)
    frame = grid.to_frame()
    pd.testing.assert_frame_equal(summary.tables[0], frame)
    pd.testing.assert_frame_equal(summary.tables[1], grid.sensitivity_interval_)
    pd.testing.assert_frame_equal(summary.tables[2], grid.breakdown_)
    text = summary.as_text()
    for _, row in frame.iterrows():
        for effect in ("direct_effect", "mediator_effect"):
            cell = (
                f"{row[effect]:.3f} ({row[f'{effect}_lower']:.3f}, "
                f"{row[f'{effect}_upper']:.3f})"
            )
            assert cell in text
    html = summary.as_html()
    assert "<img" in html or "Figures need matplotlib" in html


def test_bootstrap_summary():
    X, y, _ = simulate_trial(n=600, seed=7)
    result = bootstrap(
        IVMediationRegressor(**ROLES), X, y, n_resamples=49, random_state=0
    )
    summary = result.summary()
    assert isinstance(summary, Summary)
    pd.testing.assert_frame_equal(summary.tables[0], result.to_frame())
    for name, row in result.to_frame().iterrows():
        cells = [
            name,
            f"{row['estimate']:.4f}",
            f"{row['std_error']:.4f}",
            f"({row['lower']:.4f}, {row['upper']:.4f})",
        ]
        assert "| " + " | ".join(cells) + " |" in summary.as_markdown()
    assert "49 resamples" in summary and "percentile" in summary


def test_header_fits_with_many_clusters():
    X, y, groups = simulate_trial(n=1500, n_covariates=2, n_clusters=150, seed=1)
    est = IVMediationRegressor(
        treatment="r", mediator="m", covariates=["x1", "x2"], cov_type="cluster"
    ).fit(X, y, groups=groups)
    text = est.summary().as_text()
    assert "Covariance:           cluster (G = 150)" in text
    assert max(len(line) for line in text.splitlines()) <= 78
