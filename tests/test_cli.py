"""The command line: every format against the library's own results, and every error.

The formats run as subprocesses (``python -m skmediate``), started together in
one module fixture so their start-up times overlap; everything else calls
:func:`skmediate._report.cli.main` in-process, which is what the console script runs,
and captures its exit code, standard output and standard error.
"""

import html
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.preprocessing import OneHotEncoder

import skmediate
from skmediate import (
    IVMediationRegressor,
    NaiveMediationRegressor,
    SensitivityGrid,
    bootstrap,
)
from skmediate._report.cli import CLIError, main, parse_tau
from skmediate.datasets import make_prospect_like

from .conftest import progress_bars, simulate_trial

CLI_GUIDE = Path(__file__).resolve().parents[1] / "docs" / "user_guide" / "cli.md"
RTOL = 1e-10  # JSON round-trips floats exactly; only summation order may differ
TAU = {"x1": [0.0, 1.0], "x2": [0.0, 0.5]}
ROLES = [
    "--outcome",
    "y",
    "--treatment",
    "r",
    "--mediator",
    "m",
    "--covariates",
    "x1",
    "x2",
    "site",
    "--controls",
    "z1",
    "--categorical",
    "site",
]
# Without the categorical covariate: the bootstrap's vectorized engine applies.
NUMERIC_ROLES = ROLES[:9] + ["--controls", "z1"]
SENSITIVITY = ["--sensitivity", "x1=0,1;x2=0,0.5"]
# The rows of the estimators' effects tables, in order (the JSON "effect" names).
EFFECT_NAMES = [
    "direct",
    "mediator",
    "effect_on_mediator",
    "indirect",
    "total",
    "intention_to_treat",
    "proportion_mediated",
]
# The mediation-effects table of the text report: effects row -> label.
EFFECT_LABELS = {
    "effect_on_mediator": "effect on the mediator",
    "indirect": "indirect effect",
    "total": "total effect",
    "intention_to_treat": "intention-to-treat effect",
    "proportion_mediated": "proportion mediated",
}
METHOD_LABELS = {"naive": "Standard regression", "iv": "IV"}
STATISTIC = ("direct_effect_", "mediator_effect_")


# ---------------------------------------------------------------------------
# Data and reference fits


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli")
    X, y, groups = simulate_trial(
        n=500,
        n_covariates=2,
        n_controls=1,
        site=True,
        n_clusters=12,
        instrument_strength=1.5,
        seed=4,
    )
    frame = X.assign(y=y, practice=groups)
    frame.to_csv(path / "trial.csv", index=False)
    return path


def _reference(path, cov_type="HC1", groups_column=None, categorical=True):
    """The library's fits on the CSV as the command line reads it."""
    df = pd.read_csv(path)
    covariates = ["x1", "x2", "site"] if categorical else ["x1", "x2"]
    X = df[["r", "m", *covariates, "z1"]].astype({"r": float})
    y = df["y"]
    encoder = make_column_transformer(
        (
            OneHotEncoder(drop="first", sparse_output=False),
            make_column_selector(dtype_exclude="number"),
        ),
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    roles = dict(
        treatment="r",
        mediator="m",
        covariates=covariates,
        controls=["z1"],
        covariate_transformer=encoder if categorical else "passthrough",
        cov_type=cov_type,
    )
    groups = None if groups_column is None else df[groups_column].to_numpy()
    fit = {} if groups is None else {"groups": groups}
    iv = IVMediationRegressor(**roles).fit(X, y, **fit)
    naive = NaiveMediationRegressor(**roles).fit(X, y, **fit)
    grid = SensitivityGrid(iv, tau_direct=TAU, tau_mediator=TAU).fit(X, y, **fit)
    return SimpleNamespace(
        df=df, X=X, y=y, groups=groups, iv=iv, naive=naive, grid=grid
    )


@pytest.fixture(scope="module")
def ref(workdir):
    return _reference(workdir / "trial.csv")


@pytest.fixture(scope="module")
def ref_cluster(workdir):
    return _reference(workdir / "trial.csv", "cluster", "practice")


# ---------------------------------------------------------------------------
# Subprocess runs (one per format, and an error), started together


@pytest.fixture(scope="module")
def runs(workdir):
    csv = str(workdir / "trial.csv")
    commands = {
        "text": ["analyze", csv, *ROLES, *SENSITIVITY],
        "markdown": ["analyze", csv, *ROLES, *SENSITIVITY, "--format", "markdown"],
        "json": ["analyze", csv, *ROLES, *SENSITIVITY, "--format", "json"],
        "html": [
            "analyze",
            csv,
            *ROLES,
            *SENSITIVITY,
            "--format",
            "html",
            "--output",
            str(workdir / "report.html"),
        ],
        "error": ["analyze", csv, *ROLES[:-2], "--covariates", "x1", "nope"],
    }
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "skmediate", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=workdir,
        )
        for name, args in commands.items()
    }
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=120)
        out[name] = SimpleNamespace(code=proc.returncode, out=stdout, err=stderr)
    return out


def _ok(run):
    assert run.err == "", run.err
    assert run.code == 0
    return run.out


def _run(capsys, *args):
    """``main(args)`` in-process: ``(exit code, stdout, stderr)``."""
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _json(capsys, *args):
    code, out, err = _run(capsys, *args, "--format", "json")
    assert (code, err) == (0, ""), err
    doc = json.loads(out)
    check_schema(doc, _readme_schema())
    return doc


# ---------------------------------------------------------------------------
# The library's numbers, formatted as the reports print them


def cell(est, digits=3):
    """The ``estimate (low, high)`` cell."""
    return f"{est[0]:.{digits}f} ({est[1]:.{digits}f}, {est[2]:.{digits}f})"


def _p(value):
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _table1(est):
    """Direct and mediator ``(estimate, low, high)`` of a fitted estimator."""
    ci = est.result_.conf_int()
    return [
        (est.result_.params[t], ci.loc[t, "lower"], ci.loc[t, "upper"])
        for t in (est.result_.treatment, est.result_.mediator)
    ]


def _grid_cells(grid):
    frame = grid.to_frame()
    rows = []
    for _, row in frame.iterrows():
        rows.append(
            [
                cell((row[e], row[f"{e}_lower"], row[f"{e}_upper"]))
                for e in ("direct_effect", "mediator_effect")
            ]
        )
    return rows


def _effect_cells(estimators):
    """Rows ``(method, effect, estimate, SE, p-value, CI)`` of the effects table."""
    rows = []
    for method, est in estimators.items():
        table = est.result_.effects
        for name, label in EFFECT_LABELS.items():
            row = table.loc[name]
            rows.append(
                [
                    METHOD_LABELS[method],
                    label,
                    f"{row.estimate:.3f}",
                    f"{row.std_error:.3f}",
                    _p(row.pvalue),
                    f"({row.lower:.3f}, {row.upper:.3f})",
                ]
            )
    return rows


def _ar_text(intervals):
    """An Anderson-Rubin set as the reports print it."""

    def end(value):
        return (
            f"{value:.3f}" if np.isfinite(value) else ("-inf" if value < 0 else "inf")
        )

    pieces = []
    for low, high in intervals:
        left = "(" if np.isinf(low) else "["
        right = ")" if np.isinf(high) else "]"
        pieces.append(f"{left}{end(low)}, {end(high)}{right}")
    return " U ".join(pieces) or "empty"


def _check_text_effects(text, estimators):
    """The effects table and the Anderson-Rubin set of a text report."""
    lines = text.splitlines()
    for cells in _effect_cells(estimators):
        pattern = r"^" + r"\s+".join(map(re.escape, cells)) + r"$"
        assert sum(bool(re.match(pattern, line)) for line in lines) == 1, cells
    iv = estimators["iv"]
    eom = iv.result_.effects.loc["effect_on_mediator"]
    pattern = (
        rf"^\s*{eom.estimate:.3f}\s+{eom.std_error:.3f}\s+"
        rf"{re.escape(f'({eom.lower:.3f}, {eom.upper:.3f})')}\s+{re.escape(_p(eom.pvalue))}$"
    )
    assert any(re.match(pattern, line) for line in lines), pattern
    assert (
        "Anderson-Rubin 95% confidence set for the mediator effect: "
        f"{_ar_text(iv.anderson_rubin_confidence_set())};" in " ".join(lines)
    )


def _check_json_effects(doc, estimators):
    """``effect_on_mediator``, ``effects`` and ``weak_iv_robust`` against the fits."""
    assert list(estimators["iv"].result_.effects.index) == EFFECT_NAMES
    keys = ("estimate", "std_error", "lower", "upper", "pvalue")
    columns = ["estimate", "std_error", "lower", "upper", "pvalue"]
    (eom,) = doc["effect_on_mediator"]  # one entry per mediator
    assert eom["mediator"] == estimators["iv"].result_.mediator
    want = estimators["iv"].result_.effects.loc["effect_on_mediator", columns]
    assert_allclose([eom[k] for k in keys], want.to_numpy(float), rtol=RTOL)
    assert_allclose(eom["estimate"], estimators["iv"].effect_on_mediator_, rtol=RTOL)
    assert eom["method"] == (
        "first-stage coefficient of the treatment (adjusted for covariates)"
    )
    effects = doc["effects"]
    assert [(e["method"], e["effect"]) for e in effects] == [
        (method, name) for method in estimators for name in EFFECT_NAMES
    ]
    for entry in effects:
        table = estimators[entry["method"]].result_.effects
        assert_allclose(
            [entry[k] for k in keys],
            table.loc[entry["effect"], columns].to_numpy(float),
            rtol=RTOL,
            err_msg=f"{entry['method']} {entry['effect']}",
        )
    ar = doc["weak_iv_robust"]
    assert (ar["method"], ar["parameter"]) == ("anderson_rubin", "mediator_effect")
    want = estimators["iv"].anderson_rubin_confidence_set()
    assert len(ar["intervals"]) == len(want)
    # infinite ends are the strings "inf" and "-inf", which float() reads
    assert_allclose(
        np.array(ar["intervals"], dtype=float).reshape(-1, 2),
        np.array(want, dtype=float).reshape(-1, 2),
        rtol=RTOL,
    )
    assert ar["confidence_level"] == estimators["iv"].confidence_level


# ---------------------------------------------------------------------------
# Formats


def test_text(runs, ref):
    text = _ok(runs["text"])
    lines = text.splitlines()
    for label, est in (("Standard regression", ref.naive), ("IV", ref.iv)):
        direct, mediator = _table1(est)
        row = next(
            line for line in lines if line.startswith(f"{label} ") and "(" in line
        )
        assert cell(direct) in row and cell(mediator) in row
    fs = ref.iv.first_stage_
    assert f"Partial F({fs.df_num:g}, {fs.df_denom:g})" in text
    assert f"{fs.f_statistic:.2f} (p" in text
    assert f"{fs.critical_value:.2f}" in text
    verdict = "instruments are weak" if fs.is_weak else "instruments are not weak"
    assert verdict in text
    df = ref.df
    for arm in (0, 1):
        n = int((df.r == arm).sum())
        assert re.search(rf"^{arm}\s+{n}\s", text, re.MULTILINE)
    # The effect on the mediator, the mediation effects and the Anderson-Rubin set.
    _check_text_effects(text, {"naive": ref.naive, "iv": ref.iv})
    # Table 2: every grid point.
    grid_lines = [line for line in lines if re.match(r"\(\d", line)]
    assert len(grid_lines) == 16
    for line, cells in zip(grid_lines, _grid_cells(ref.grid), strict=True):
        assert all(c in line for c in cells)
    assert "One-hot encoded (first level dropped): site." in text.replace("\n", " ")
    assert "\nBootstrap\n" not in text
    assert "Traceback" not in text


def test_markdown(runs, ref):
    text = _ok(runs["markdown"])
    assert text.startswith("# Mediation analysis of y")
    direct, mediator = _table1(ref.iv)
    assert f"| IV | {cell(direct)} | {cell(mediator)} |" in text
    direct, mediator = _table1(ref.naive)
    assert f"| Standard regression | {cell(direct)} | {cell(mediator)} |" in text
    assert (
        "| Method | Direct effect of r | Mediator effect (m) |\n| --- | ---: | ---: |"
        in text
    )
    # Every table line is a complete pipe row.
    for block in text.split("\n\n"):
        if block.startswith("|"):
            widths = {line.count(" | ") for line in block.splitlines()}
            assert len(widths) == 1, block
    for cells in _grid_cells(ref.grid):
        assert any(all(c in line for c in cells) for line in text.splitlines())
    for cells in _effect_cells({"naive": ref.naive, "iv": ref.iv}):
        assert "| " + " | ".join(cells) + " |" in text, cells


def _readme_schema():
    text = CLI_GUIDE.read_text()
    block = re.search(r"```json\n(\{\n  \"schema_version\".*?)\n```", text, re.S)
    return json.loads(block.group(1))


def check_schema(value, skeleton, path="$"):
    """``value`` has exactly the documented keys, recursively; null is allowed."""
    if value is None:
        return
    if isinstance(skeleton, dict):
        assert isinstance(value, dict), path
        assert set(value) == set(skeleton), (path, set(value) ^ set(skeleton))
        for key in skeleton:
            check_schema(value[key], skeleton[key], f"{path}.{key}")
    elif isinstance(skeleton, list):
        assert isinstance(value, list), path
        assert skeleton, f"{path}: the command-line guide shows no example element"
        for i, item in enumerate(value):
            check_schema(item, skeleton[0], f"{path}[{i}]")
    elif isinstance(skeleton, bool):
        assert isinstance(value, bool), path
    elif isinstance(skeleton, (int, float)):
        assert value in ("inf", "-inf") or (
            isinstance(value, (int, float)) and not isinstance(value, bool)
        ), path
    elif isinstance(skeleton, str):
        assert isinstance(value, str), path


def test_json(runs, ref):
    doc = json.loads(_ok(runs["json"]))
    check_schema(doc, _readme_schema())
    assert list(doc) == list(_readme_schema())  # documented order
    assert doc["schema_version"] == 4
    assert doc["skmediate_version"] == skmediate.__version__
    assert doc["settings"]["covariate_terms"] == list(ref.grid.covariate_names_)
    assert doc["settings"]["control_terms"] == ["z1"]
    for entry, est in zip(doc["estimates"], (ref.naive, ref.iv), strict=True):
        table = est.result_.to_frame()
        assert [e["mediator"] for e in entry["mediator_effect"]] == ["m"]
        for key, term in (("direct_effect", "r"), ("mediator_effect", "m")):
            got = entry[key] if key == "direct_effect" else entry[key][0]
            want = table.loc[term]
            assert_allclose(
                [
                    got["estimate"],
                    got["std_error"],
                    got["lower"],
                    got["upper"],
                    got["pvalue"],
                ],
                [want.estimate, want.std_error, want.lower, want.upper, want.pvalue],
                rtol=RTOL,
            )
    fs = ref.iv.first_stage_
    got = doc["first_stage"]
    for key in (
        "f_statistic",
        "f_pvalue",
        "df_num",
        "df_denom",
        "partial_r2",
        "wald_f_statistic",
        "wald_f_pvalue",
        "critical_value",
    ):
        assert_allclose(got[key], getattr(fs, key), rtol=RTOL, err_msg=key)
    assert got["is_weak"] == fs.is_weak
    assert got["instruments"] == list(ref.iv.result_.instruments)
    # The effect on the mediator, every mediation effect, the Anderson-Rubin set.
    _check_json_effects(doc, {"naive": ref.naive, "iv": ref.iv})
    # Table 2, the sensitivity interval and the breakdown values.
    frame = ref.grid.to_frame()
    sens = doc["sensitivity"]
    assert len(sens["grid"]) == len(frame) == 16
    for point, (_, row) in zip(sens["grid"], frame.iterrows(), strict=True):
        p = len(sens["covariates"])
        taus = row.to_numpy()[: 2 * p]
        assert_allclose(point["tau_direct"] + point["tau_mediator"], taus)
        for effect in ("direct_effect", "mediator_effect"):
            assert_allclose(
                [point[effect][k] for k in ("estimate", "std_error", "lower", "upper")],
                [
                    row[effect],
                    row[f"{effect}_se"],
                    row[f"{effect}_lower"],
                    row[f"{effect}_upper"],
                ],
                rtol=RTOL,
            )
    interval = ref.grid.sensitivity_interval_
    for entry in sens["interval"]:
        want = interval.loc[entry["effect"]]
        # the JSON keys are the frame's
        keys = ["estimate_low", "estimate_high", "lower", "upper"]
        assert list(want.index) == ["estimate_low", "estimate_high", "lower", "upper"]
        assert_allclose([entry[k] for k in keys], want.to_numpy(), rtol=RTOL)
    breakdown = ref.grid.breakdown_
    # each effect along each of the grid's components of tau (x1, x2 for both)
    assert len(sens["breakdown"]) == len(breakdown) == 2 * 2 * len(TAU)
    for entry in sens["breakdown"]:
        want = breakdown.loc[(entry["effect"], entry["parameter"])]
        got = [np.nan if entry[k] is None else entry[k] for k in want.index]
        assert_allclose(got, want.to_numpy(), rtol=RTOL)
    # The data summary.
    df = ref.df
    arms = doc["data"]["arms"]
    assert [a["n"] for a in arms] == [int((df.r == 0).sum()), int((df.r == 1).sum())]
    assert_allclose(
        [a["mediator_mean"][0] for a in arms], df.groupby("r").m.mean(), rtol=RTOL
    )
    assert_allclose([a["outcome_sd"] for a in arms], df.groupby("r").y.std(), rtol=RTOL)
    assert doc["data"]["n"] == len(df) and doc["data"]["n_rows_dropped"] == 0
    assert doc["data"]["n_clusters"] is None
    assert doc["bootstrap"] is None and doc["warnings"] == []


def test_json_clusters(workdir, ref_cluster, capsys):
    csv = str(workdir / "trial.csv")
    doc = _json(capsys, "analyze", csv, *ROLES, "--clusters", "practice")
    assert doc["settings"]["cov_type"] == "cluster"
    assert doc["settings"]["clusters"] == "practice"
    assert doc["data"]["n_clusters"] == 12
    assert doc["sensitivity"] is None
    iv = doc["estimates"][1]
    table = ref_cluster.iv.result_.to_frame()
    assert_allclose(
        [iv["direct_effect"]["std_error"], iv["mediator_effect"][0]["std_error"]],
        table.loc[["r", "m"], "std_error"],
        rtol=RTOL,
    )
    assert_allclose(
        doc["first_stage"]["wald_f_statistic"],
        ref_cluster.iv.first_stage_.wald_f_statistic,
        rtol=RTOL,
    )
    # Effects with the cluster covariance, and the cluster-robust AR set.
    _check_json_effects(doc, {"naive": ref_cluster.naive, "iv": ref_cluster.iv})


class _Tables(HTMLParser):
    """Tables (rows of cell texts), images and tags of an HTML document."""

    def __init__(self):
        super().__init__()
        self.tables, self.images, self.tags = [], [], set()
        self._cell = None

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = ""
        elif tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append(self._cell)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def test_html(runs, ref, workdir):
    assert _ok(runs["html"]) == ""
    text = (workdir / "report.html").read_text(encoding="utf-8")
    parser = _Tables()
    parser.feed(text)
    parser.close()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    # Self-contained: no scripts, no stylesheets or images from elsewhere.
    assert not {"script", "link", "iframe"} & parser.tags
    assert "http://" not in text and "https://" not in text
    assert len(parser.images) == 2  # estimates and sensitivity figures
    assert all(src.startswith("data:image/png;base64,") for src in parser.images)
    table1 = next(
        t for t in parser.tables if t[0][:2] == ["Method", "Direct effect of r"]
    )
    assert table1[1] == ["Standard regression", *map(cell, _table1(ref.naive))]
    assert table1[2] == ["IV", *map(cell, _table1(ref.iv))]
    grid = next(t for t in parser.tables if t[0][0] == "tau_R")
    assert [row[2:] for row in grid[1:]] == _grid_cells(ref.grid)
    first = next(t for t in parser.tables if t[0] == ["Statistic", "Value"])
    assert [r[1] for r in first if r[0] == "Stock-Yogo critical value"] == [
        f"{ref.iv.first_stage_.critical_value:.2f}"
    ]
    # HC1: the effective F decides the verdict, and the table says so.
    eff = ref.iv.first_stage_.effective_f
    rows = {r[0]: r[1] for r in first}
    assert rows["Effective F (HC1)"] == f"{eff.statistic:.2f}"
    assert rows["Effective F critical value"] == f"{eff.critical_value:.2f}"
    assert rows["Weak-instrument test"] == "Montiel Olea-Pflueger effective F"
    assert "The effective F decides because the Stock-Yogo critical values" in text
    effects = next(t for t in parser.tables if t[1][1] == "effect on the mediator")
    assert effects[1:] == _effect_cells({"naive": ref.naive, "iv": ref.iv})
    ar = _ar_text(ref.iv.anderson_rubin_confidence_set())
    assert f"confidence set for the mediator effect: {ar};" in text


def test_html_without_matplotlib(ref, workdir, monkeypatch, capsys):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    code, out, _ = _run(
        capsys, "analyze", str(workdir / "trial.csv"), *ROLES, "--format", "html"
    )
    assert code == 0
    parser = _Tables()
    parser.feed(out)
    assert parser.images == [] and "<figure" not in out
    # it says where each figure would be, and how to get them
    from skmediate._report.document import NO_FIGURE

    notes = re.findall(
        r'<p class="no-figure">Figure not drawn \((.*?)\): (.*?)</p>', out
    )
    assert [caption for caption, _ in notes] == [
        "Estimates with 95% confidence intervals."
    ]
    assert all(html.unescape(text) == NO_FIGURE for _, text in notes)
    assert 'pip install "skmediate[plot]"' in NO_FIGURE
    table1 = next(
        t for t in parser.tables if t[0][:2] == ["Method", "Direct effect of r"]
    )
    assert table1[2] == ["IV", *map(cell, _table1(ref.iv))]


def test_subprocess_error(runs):
    run = runs["error"]
    assert run.code == 2 and run.out == ""
    assert run.err.count("\n") == 1 and "Traceback" not in run.err
    assert run.err.startswith("skmediate: error: unknown column 'nope' (--covariates)")


# ---------------------------------------------------------------------------
# Bootstrap: the report equals skmediate.bootstrap with the same arguments


def _check_bootstrap(section, estimators, X, y, **kwargs):
    """``section`` (JSON) equals ``skmediate.bootstrap(est, X, y, **kwargs)``."""
    assert [(r["method"], r["effect"]) for r in section["results"]] == [
        (method, effect)
        for method in estimators
        for effect in ("direct_effect", "mediator_effect")
    ]
    results = iter(section["results"])
    for est in estimators.values():
        want = bootstrap(est, X, y, **kwargs).to_frame()
        for statistic in STATISTIC:
            got = next(results)
            assert_allclose(
                [got[k] for k in ("estimate", "standard_error", "lower", "upper")],
                want.loc[statistic, ["estimate", "std_error", "lower", "upper"]],
                rtol=RTOL,
                err_msg=f"{got['method']} {statistic}",
            )


def test_bootstrap(workdir, capsys):
    csv = str(workdir / "trial.csv")
    args = ["analyze", csv, *NUMERIC_ROLES, "--bootstrap", "199", "--seed", "3"]
    doc = _json(capsys, *args, "--confidence-level", "0.9")
    boot = doc["bootstrap"]
    assert (boot["n_resamples"], boot["random_state"]) == (199, 3)
    assert (boot["method"], boot["confidence_level"]) == ("percentile", 0.9)
    ref = _reference(workdir / "trial.csv", categorical=False)
    estimators = {
        "naive": ref.naive.set_params(confidence_level=0.9),
        "iv": ref.iv.set_params(confidence_level=0.9),
    }
    _check_bootstrap(
        boot,
        estimators,
        ref.X,
        ref.y,
        statistic=STATISTIC,
        n_resamples=199,
        method="percentile",
        confidence_level=0.9,
        random_state=3,
    )
    # The bootstrap estimates are the fits' own.
    assert_allclose(boot["results"][3]["estimate"], ref.iv.mediator_effect_, rtol=RTOL)
    code, out, err = _run(capsys, *args)
    assert (code, err) == (0, "")
    assert "\nBootstrap\n" in out
    assert "199 resamples (rows resampled), random_state=3." in out


def test_bootstrap_clusters(workdir, capsys):
    csv = str(workdir / "trial.csv")
    doc = _json(
        capsys,
        "analyze",
        csv,
        *NUMERIC_ROLES,
        "--clusters",
        "practice",
        "--bootstrap",
        "199",
        "--seed",
        "3",
    )
    ref = _reference(workdir / "trial.csv", "cluster", "practice", categorical=False)
    options = dict(
        statistic=STATISTIC,
        n_resamples=199,
        method="percentile",
        confidence_level=0.95,
        random_state=3,
    )
    estimators = {"naive": ref.naive, "iv": ref.iv}
    # Whole clusters are resampled, and each fit gets the clusters' labels.
    _check_bootstrap(
        doc["bootstrap"],
        estimators,
        ref.X,
        ref.y,
        groups=ref.groups,
        fit_params={"groups": ref.groups},
        **options,
    )
    # ... which is not the bootstrap of the rows.
    rows = bootstrap(ref.iv, ref.X, ref.y, fit_params={"groups": ref.groups}, **options)
    assert not np.allclose(
        doc["bootstrap"]["results"][3]["standard_error"],
        rows.standard_error[1],
        rtol=1e-3,
    )
    code, out, _ = _run(
        capsys,
        "analyze",
        csv,
        *NUMERIC_ROLES,
        "--clusters",
        "practice",
        "--bootstrap",
        "199",
        "--seed",
        "3",
    )
    assert "199 resamples (whole clusters of practice resampled), random_state=3." in (
        out.replace("\n", " ")
    )


# ---------------------------------------------------------------------------
# The demo: the complete analysis of make_prospect_like()


@pytest.fixture(scope="module")
def prospect():
    """The analysis of the demo, made with the library directly."""
    X, y = make_prospect_like(random_state=2012)
    roles = dict(treatment="r", mediator="m", covariates=["past_use", "baseline_use"])
    iv = IVMediationRegressor(**roles).fit(X, y)
    naive = NaiveMediationRegressor(**roles).fit(X, y)
    tau = {"past_use": [0, 1], "baseline_use": [0, 1]}  # the paper's Table 2
    grid = SensitivityGrid(iv, tau_direct=tau, tau_mediator=tau).fit(X, y)
    return SimpleNamespace(X=X, y=y, iv=iv, naive=naive, grid=grid)


def test_demo(prospect, capsys):
    code, text, err = _run(capsys, "demo")
    assert (code, err) == (0, "")
    assert (
        "Data: skmediate.datasets.make_prospect_like(random_state=2012), simulated."
        in text.replace("\n", " ")
    )
    assert "297 subjects." in text
    for est in (prospect.naive, prospect.iv):
        assert all(cell(c) in text for c in _table1(est))
    for heading in (
        "Effect of r on the mediator m",
        "First stage",
        "Mediation effects",
        "Weak-instrument-robust inference",
        "Sensitivity analysis",
        "Bootstrap",
    ):
        assert f"\n{heading}\n" in text
    _check_text_effects(text, {"naive": prospect.naive, "iv": prospect.iv})
    grid = [line for line in text.splitlines() if re.match(r"\(\d", line)]
    assert len(grid) == 16  # the paper's Table 2: tau_R, tau_M in {0, 1}^2
    for line, cells in zip(grid, _grid_cells(prospect.grid), strict=True):
        assert all(c in line for c in cells)
    assert "1999 resamples (rows resampled), random_state=2012." in text
    assert "Note:" not in text


def test_demo_json(prospect, capsys):
    """Every section filled: the whole documented schema is checked."""
    doc = _json(capsys, "demo")
    assert all(value is not None for value in doc.values())
    assert doc["warnings"] == []
    estimators = {"naive": prospect.naive, "iv": prospect.iv}
    _check_json_effects(doc, estimators)
    assert_allclose(
        [p["mediator_effect"]["estimate"] for p in doc["sensitivity"]["grid"]],
        prospect.grid.to_frame().mediator_effect,
        rtol=RTOL,
    )
    _check_bootstrap(
        doc["bootstrap"],
        estimators,
        prospect.X,
        prospect.y,
        statistic=STATISTIC,
        n_resamples=1999,
        method="percentile",
        confidence_level=0.95,
        random_state=2012,
    )
    # --seed sets the data and the bootstrap.
    doc = _json(capsys, "demo", "--seed", "5")
    X, y = make_prospect_like(random_state=5)
    assert doc["settings"]["source"].startswith(
        "skmediate.datasets.make_prospect_like(random_state=5)"
    )
    iv = IVMediationRegressor(
        treatment="r", mediator="m", covariates=["past_use", "baseline_use"]
    ).fit(X, y)
    assert_allclose(
        doc["estimates"][1]["mediator_effect"][0]["estimate"],
        iv.mediator_effect_,
        rtol=RTOL,
    )
    assert doc["bootstrap"]["random_state"] == 5


@pytest.mark.parametrize("output_format", ["markdown", "html", "latex"])
def test_demo_formats(capsys, output_format):
    code, out, err = _run(capsys, "demo", "--format", output_format)
    assert (code, err) == (0, "")
    for heading in (
        "Mediation effects",
        "Weak-instrument-robust inference",
        "Sensitivity analysis",
        "Bootstrap",
    ):
        assert heading in out


# ---------------------------------------------------------------------------
# Progress bars: on standard error only, the report unchanged

PROGRESS_ARGS = [*NUMERIC_ROLES, *SENSITIVITY, "--bootstrap", "199", "--seed", "3"]
# The bars of PROGRESS_ARGS, in order, with their final counts: the grid's 16
# points (2 x 2 values for tau_R and tau_M), then each estimator's resamples.
PROGRESS_BARS = [
    ("sensitivity grid", 16, 16),
    ("bootstrap (NaiveMediationRegressor)", 199, 199),
    ("bootstrap (IVMediationRegressor)", 199, 199),
]


def test_progress_bars_on_stderr_and_the_report_unchanged(workdir, capsys):
    csv = str(workdir / "trial.csv")
    args = ["analyze", csv, *PROGRESS_ARGS]
    code, plain, err = _run(capsys, *args)
    assert (code, err) == (0, "")  # pytest's capture is not a terminal
    code, out, err = _run(capsys, *args, "--progress")
    assert code == 0
    assert out == plain
    assert progress_bars(err) == PROGRESS_BARS
    code, out, err = _run(capsys, *args, "--no-progress")
    assert (code, out, err) == (0, plain, "")
    # --output: the file holds the report without the bars, stdout nothing
    path = workdir / "progress_report.txt"
    code, out, err = _run(capsys, *args, "--progress", "--output", str(path))
    assert (code, out) == (0, "")
    assert path.read_text(encoding="utf-8") == plain
    assert progress_bars(err) == PROGRESS_BARS
    code, plain_json, _ = _run(capsys, *args, "--format", "json")
    code, out, err = _run(capsys, *args, "--format", "json", "--progress")
    assert out == plain_json
    assert progress_bars(err) == PROGRESS_BARS


def test_demo_progress(capsys):
    code, plain, err = _run(capsys, "demo", "--no-progress")
    assert (code, err) == (0, "")
    code, out, err = _run(capsys, "demo", "--progress")
    assert (code, out) == (0, plain)
    assert progress_bars(err) == [
        ("sensitivity grid", 16, 16),  # the paper's Table 2
        ("bootstrap (NaiveMediationRegressor)", 1999, 1999),
        ("bootstrap (IVMediationRegressor)", 1999, 1999),
    ]


def test_progress_by_default_only_on_a_terminal(workdir, capsys, monkeypatch):
    args = ["analyze", str(workdir / "trial.csv"), *PROGRESS_ARGS]
    code, plain, err = _run(capsys, *args)
    assert (code, err) == (0, "")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, out, err = _run(capsys, *args)
    assert (code, out) == (0, plain)
    assert progress_bars(err) == PROGRESS_BARS
    code, out, err = _run(capsys, *args, "--no-progress")
    assert (code, out, err) == (0, plain, "")
    # without tqdm the default shows none, silently
    monkeypatch.setitem(sys.modules, "tqdm", None)
    code, out, err = _run(capsys, *args)
    assert (code, out, err) == (0, plain, "")


def test_progress_without_tqdm(workdir, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm fails
    expected = (
        "skmediate: error: --progress needs the optional dependency tqdm: "
        "pip install 'skmediate[progress]'\n"
    )
    for args in (
        ["analyze", str(workdir / "trial.csv"), *PROGRESS_ARGS, "--progress"],
        ["demo", "--progress"],
    ):
        assert _error(capsys, *args) == expected
    code, out, err = _run(capsys, "demo", "--no-progress", "--format", "json")
    assert (code, err) == (0, "")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_progress_on_a_real_terminal(workdir, capsys):
    """The console script, its standard error on a terminal (a pseudo-terminal)
    and its standard output on a pipe: bars on the terminal, the report alone
    on the pipe."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    args = ["analyze", str(workdir / "trial.csv"), *NUMERIC_ROLES, *SENSITIVITY]
    code, plain, err = _run(capsys, *args)
    assert (code, err) == (0, "")
    leader, follower = pty.openpty()
    # 24 rows of 100 columns, as a terminal has (a new one has 0 x 0)
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "skmediate", *args],
        stdout=subprocess.PIPE,
        stderr=follower,
        text=True,
    )
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 1 << 16)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        drawn += chunk
    out = proc.stdout.read()
    proc.stdout.close()
    os.close(leader)
    assert proc.wait(timeout=120) == 0
    assert out == plain
    assert progress_bars(drawn.decode()) == [("sensitivity grid", 16, 16)]


def test_version_and_help(capsys):
    for args in (["--version"], ["analyze", "--help"], ["--help"]):
        with pytest.raises(SystemExit) as exit_info:
            main(args)
        assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"skmediate {skmediate.__version__}\n")
    text = out
    for option in (
        "--sensitivity-direct",
        "--sensitivity-mediator",
        "--dropna",
        "--format",
        "{analyze,demo}",
    ):
        assert option in text


# ---------------------------------------------------------------------------
# Options, in-process


def test_output_and_digits(workdir, ref, capsys):
    path = workdir / "report.md"
    code, out, err = _run(
        capsys,
        "analyze",
        str(workdir / "trial.csv"),
        *ROLES,
        "--format",
        "markdown",
        "--digits",
        "5",
        "--output",
        str(path),
    )
    assert (code, out, err) == (0, "", "")
    direct, mediator = _table1(ref.iv)
    assert f"| IV | {cell(direct, 5)} | {cell(mediator, 5)} |" in path.read_text()


def test_separate_sensitivity_values(workdir, ref, capsys):
    code, out, _ = _run(
        capsys,
        "analyze",
        str(workdir / "trial.csv"),
        *ROLES,
        "--sensitivity-direct",
        "x1=0,1,2",
        "--format",
        "json",
    )
    assert code == 0
    sens = json.loads(out)["sensitivity"]
    grid = SensitivityGrid(ref.iv, tau_direct={"x1": [0, 1, 2]}).fit(ref.X, ref.y)
    frame = grid.to_frame()
    assert_allclose(
        [p["direct_effect"]["estimate"] for p in sens["grid"]],
        frame.direct_effect,
        rtol=RTOL,
    )
    assert_allclose(
        [p["mediator_effect"]["upper"] for p in sens["grid"]],
        frame.mediator_effect_upper,
        rtol=RTOL,
    )
    assert all(p["tau_mediator"] == [0.0] * 5 for p in sens["grid"])

    code, out, _ = _run(
        capsys,
        "analyze",
        str(workdir / "trial.csv"),
        *ROLES,
        "--sensitivity-direct",
        "x1=1",
        "--sensitivity-mediator",
        "x2=-1,1",
        "--format",
        "json",
    )
    sens = json.loads(out)["sensitivity"]
    grid = SensitivityGrid(
        ref.iv, tau_direct={"x1": [1]}, tau_mediator={"x2": [-1, 1]}
    ).fit(ref.X, ref.y)
    assert_allclose(
        [p["mediator_effect"]["estimate"] for p in sens["grid"]],
        grid.to_frame().mediator_effect,
        rtol=RTOL,
    )


def test_dropna(workdir, capsys):
    df = pd.read_csv(workdir / "trial.csv")
    df.loc[[3, 10, 50], "m"] = np.nan
    df.loc[70, "x1"] = np.nan
    df.loc[3, "x1"] = np.nan  # the same row as a missing m
    path = workdir / "missing.csv"
    df.to_csv(path, index=False)
    code, out, err = _run(capsys, "analyze", str(path), *ROLES)
    assert code == 2 and out == ""
    assert err == (
        "skmediate: error: missing values in column(s) m (3), x1 (2); --dropna "
        "drops the 4 incomplete rows listwise and reports how many\n"
    )
    code, out, err = _run(
        capsys, "analyze", str(path), *ROLES, "--dropna", "--format", "json"
    )
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert doc["data"]["n_rows_read"] == 500 and doc["data"]["n_rows_dropped"] == 4
    assert doc["data"]["n"] == 496
    assert doc["data"]["missing_by_column"] == [
        {"column": "m", "n_missing": 3},
        {"column": "x1", "n_missing": 2},
    ]
    complete = df.dropna(subset=["m", "x1"])
    complete.to_csv(workdir / "complete.csv", index=False)
    ref = _reference(workdir / "complete.csv")
    assert_allclose(
        doc["estimates"][1]["mediator_effect"][0]["estimate"],
        ref.iv.mediator_effect_,
        rtol=RTOL,
    )
    # the arms are those of the rows used
    arms = complete.groupby("r")["m"].agg(["size", "mean"])
    assert [a["n"] for a in doc["data"]["arms"]] == arms["size"].tolist()
    assert_allclose([a["mediator_mean"][0] for a in doc["data"]["arms"]], arms["mean"])
    code, out, _ = _run(capsys, "analyze", str(path), *ROLES, "--dropna")
    assert (
        "(500 rows read; 4 rows with missing values dropped listwise; missing "
        "values per column: m 3, x1 2)" in " ".join(out.split())
    )
    code, out, _ = _run(
        capsys, "analyze", str(path), *ROLES, "--dropna", "--format", "html"
    )
    assert "4 rows with missing values dropped listwise" in " ".join(out.split())


def test_dropna_equals_the_analysis_of_the_complete_rows(workdir, capsys):
    """Every section, the sensitivity grid and the cluster bootstrap included."""
    df = pd.read_csv(workdir / "trial.csv")
    df.loc[[3, 10], "y"] = np.nan
    df.loc[[20], "site"] = np.nan  # a categorical covariate
    df.loc[[30], "practice"] = np.nan  # a cluster label
    df.to_csv(workdir / "missing_all.csv", index=False)
    df.dropna(subset=["y", "site", "practice"]).to_csv(
        workdir / "complete_all.csv", index=False
    )
    args = [*ROLES, "--clusters", "practice", *SENSITIVITY, "--bootstrap", "60"]
    args += ["--seed", "1", "--format", "json"]
    code, out, err = _run(
        capsys, "analyze", str(workdir / "missing_all.csv"), *args, "--dropna"
    )
    assert code == 0, err
    got = json.loads(out)
    code, out, err = _run(capsys, "analyze", str(workdir / "complete_all.csv"), *args)
    assert code == 0, err
    expected = json.loads(out)
    assert got["data"].pop("n_rows_read") == 500
    assert expected["data"].pop("n_rows_read") == 496
    assert got["data"].pop("n_rows_dropped") == 4
    assert got["data"].pop("missing_by_column") == [
        {"column": "site", "n_missing": 1},
        {"column": "y", "n_missing": 2},
        {"column": "practice", "n_missing": 1},
    ]
    expected["data"].pop("n_rows_dropped")
    expected["data"].pop("missing_by_column")
    for doc in (got, expected):
        doc["settings"].pop("source")
    assert got == expected


def test_parquet_equals_csv(workdir, capsys):
    pytest.importorskip("pyarrow")  # in the test extra; here for plain installs
    df = pd.read_csv(workdir / "trial.csv")
    df.to_parquet(workdir / "trial.parquet")
    results = []
    for name in ("trial.csv", "trial.parquet"):
        code, out, _ = _run(
            capsys, "analyze", str(workdir / name), *ROLES, "--format", "json"
        )
        assert code == 0
        doc = json.loads(out)
        doc["settings"].pop("source")
        results.append(doc)
    assert results[0] == results[1]


def test_weak_instruments_become_a_note(tmp_path, capsys):
    rng = np.random.default_rng(3)
    n = 200
    df = pd.DataFrame({"r": rng.integers(0, 2, n), "x": rng.normal(size=n)})
    df["m"] = 0.5 * df.r + rng.normal(size=n)  # no r x covariate effect on m
    df["y"] = df.m - df.r + rng.normal(size=n)
    df.to_csv(tmp_path / "weak.csv", index=False)
    args = ["analyze", str(tmp_path / "weak.csv"), "--outcome", "y", "--treatment", "r"]
    args += ["--mediator", "m", "--covariates", "x"]
    # pytest turns warnings into errors: any warning that escaped would fail here.
    code, out, err = _run(capsys, *args)
    assert code == 0 and err == ""
    text = out.replace("\n", " ")
    # The default HC1 covariance: the effective F decides, and the note says so.
    assert (
        "Note: Weak instruments: the effective first-stage F statistic of Montiel "
        "Olea and Pflueger with the HC1 covariance is" in text
    )
    assert "below its critical value 23.11 for 1 instrument" in text
    assert "The effective F decides because the Stock-Yogo critical values" in text
    assert "the instruments are weak" in text
    # A homoskedastic covariance: Stock-Yogo decides.
    code, out, err = _run(capsys, *args, "--cov-type", "classical")
    assert code == 0 and err == ""
    classical = out.replace("\n", " ")
    assert "Note: Weak instruments: the first-stage partial F statistic is" in classical
    assert "below the Stock-Yogo critical value 8.96" in classical
    assert "The Stock-Yogo test decides because the classical covariance" in classical
    doc = _json(capsys, *args)
    assert doc["first_stage"]["is_weak"] is True
    assert len(doc["warnings"]) == 1 and doc["warnings"][0].startswith(
        "Weak instruments"
    )
    # the notes speak of the report, not of Python methods
    assert "(" not in doc["warnings"][0].split("critical value")[-1]
    assert "confidence_set" not in text and "anderson_rubin" not in text
    # The Anderson-Rubin set is the whole line here: unbounded ends in both formats.
    with pytest.warns(skmediate.WeakInstrumentWarning):
        iv = IVMediationRegressor(treatment="r", mediator="m", covariates=["x"]).fit(
            df[["r", "m", "x"]], df.y
        )
    assert iv.anderson_rubin_confidence_set() == [(-np.inf, np.inf)]
    assert doc["weak_iv_robust"]["intervals"] == [["-inf", "inf"]]
    assert "confidence set for the mediator effect: (-inf, inf);" in text


# ---------------------------------------------------------------------------
# Errors: one line on stderr, exit code 2


def _error(capsys, *args):
    code, out, err = _run(capsys, *args)
    assert code == 2, err
    assert out == ""
    assert err.startswith("skmediate: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def test_error_missing_and_unreadable_files(tmp_path, capsys):
    err = _error(capsys, "analyze", str(tmp_path / "absent.csv"), *ROLES)
    assert "file not found:" in err and "absent.csv" in err
    err = _error(capsys, "analyze", str(tmp_path), *ROLES)
    assert "is a directory" in err
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"r,m,y\n\xff\xfe\x00\x81,1,2\n")
    err = _error(capsys, "analyze", str(bad), *ROLES)
    assert "cannot read" in err and "as CSV" in err
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "cannot read" in _error(capsys, "analyze", str(empty), *ROLES)
    header = tmp_path / "header.csv"
    header.write_text("r,m,y\n")
    assert "has no data rows" in _error(capsys, "analyze", str(header), *ROLES)
    repeated = tmp_path / "repeated.csv"
    repeated.write_text("r,m,y,x1,x1\n0,1,2,3,4\n1,2,3,4,5\n")
    err = _error(capsys, "analyze", str(repeated), *ROLES)
    assert (
        f"{repeated} has duplicate column names ['x1']; rename them so that each "
        "column has its own name"
    ) in err
    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet")
    pytest.importorskip("pyarrow")
    assert "as Parquet" in _error(capsys, "analyze", str(broken), *ROLES)


def test_error_parquet_without_pyarrow(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    (tmp_path / "trial.parquet").write_bytes(b"PAR1")
    err = _error(capsys, "analyze", str(tmp_path / "trial.parquet"), *ROLES)
    assert (
        "reading the Parquet file" in err
        and "needs pyarrow: pip install pyarrow" in err
    )


def test_error_unknown_column_lists_available(workdir, capsys):
    err = _error(
        capsys,
        "analyze",
        str(workdir / "trial.csv"),
        *ROLES,
        "--controls",
        "z1",
        "zz",
        "zy",
    )
    assert err == (
        "skmediate: error: unknown columns 'zz', 'zy' (--controls); available "
        "columns: r, m, x1, x2, z1, site, y, practice\n"
    )
    err = _error(
        capsys, "analyze", str(workdir / "trial.csv"), *ROLES, "--outcome", "Y"
    )
    assert "unknown column 'Y' (--outcome)" in err


def test_error_non_numeric_column(workdir, capsys):
    args = ["analyze", str(workdir / "trial.csv"), *ROLES[:-2]]
    err = _error(capsys, *args)
    assert re.search(
        r"column 'site' is not numeric \(for example '\w+'\); list it in "
        r"--categorical to one-hot encode it",
        err,
    )
    err = _error(capsys, *args, "--covariates", "x1", "--mediator", "site")
    assert (
        "column 'site' is not numeric" in err and "the mediator must be numeric" in err
    )


def test_error_categorical_roles(workdir, capsys):
    csv = str(workdir / "trial.csv")
    err = _error(capsys, "analyze", csv, *ROLES, "--categorical", "r")
    assert "--categorical column 'r' is not among the covariates or controls" in err
    err = _error(capsys, "analyze", csv, *ROLES, "--controls", "x1")
    assert "column 'x1' is given in --covariates and in --controls" in err
    err = _error(capsys, "analyze", csv, *ROLES, "--covariates", "x1", "x1", "site")
    assert "column 'x1' is given twice in --covariates" in err


def test_error_single_level_categorical(tmp_path, workdir, capsys):
    df = pd.read_csv(workdir / "trial.csv").assign(site="north")
    df.to_csv(tmp_path / "one.csv", index=False)
    err = _error(capsys, "analyze", str(tmp_path / "one.csv"), *ROLES)
    assert "--categorical column 'site' takes a single value" in err


@pytest.mark.parametrize(
    "spec, message",
    [
        ("x1", "--sensitivity: 'x1' is not NAME=VALUES"),
        ("=0,1", "--sensitivity: '=0,1' is not NAME=VALUES"),
        ("x1=0,a", "--sensitivity: 'x1=0,a' has 'a', not a number"),
        ("x1=0,,1", "--sensitivity: 'x1=0,,1' has an empty value"),
        ("x1=", "--sensitivity: 'x1=' has an empty value"),
        ("x1=0,inf", "--sensitivity: 'x1=0,inf' has a non-finite value"),
        ("x1=0;x1=1", "--sensitivity: covariate 'x1' is given twice"),
        (" ; ", "--sensitivity is empty"),
        (
            "x9=0,1",
            "the sensitivity values for the direct effect name 'x9', which is not "
            "a covariate; the covariates are site_north, site_south, site_west, x1, x2",
        ),
        ("site=0,1", "name 'site', which is not a covariate"),
    ],
)
def test_error_malformed_sensitivity(workdir, capsys, spec, message):
    err = _error(
        capsys, "analyze", str(workdir / "trial.csv"), *ROLES, "--sensitivity", spec
    )
    assert message in err


def test_error_sensitivity_options_conflict(workdir, capsys):
    err = _error(
        capsys,
        "analyze",
        str(workdir / "trial.csv"),
        *ROLES,
        *SENSITIVITY,
        "--sensitivity-mediator",
        "x1=1",
    )
    assert "give --sensitivity (the same values for both effects) or" in err


def test_error_clusters_and_cov_type(workdir, capsys):
    csv = str(workdir / "trial.csv")
    err = _error(
        capsys, "analyze", csv, *ROLES, "--clusters", "practice", "--cov-type", "HC1"
    )
    assert "--clusters needs a cluster-robust --cov-type (cluster, CR0, CR2)" in err
    assert "got --cov-type HC1" in err
    err = _error(capsys, "analyze", csv, *ROLES, "--cov-type", "cluster")
    assert "--cov-type cluster needs --clusters COL" in err
    err = _error(capsys, "analyze", csv, *ROLES, "--cov-type", "CR2")
    assert "--cov-type CR2 needs --clusters COL" in err


def test_error_usage_and_library(workdir, capsys, tmp_path):
    csv = str(workdir / "trial.csv")
    err = _error(capsys, "analyze", csv, "--treatment", "r")
    assert (
        "the following arguments are required: --outcome, --mediator, --covariates"
        in err
    )
    assert "'skmediate analyze --help'" in err
    assert "--bootstrap: must be at least 1" in _error(
        capsys, "analyze", csv, *ROLES, "--bootstrap", "0"
    )
    assert "invalid choice: 'csv'" in _error(capsys, "demo", "--format", "csv")
    assert "required: {analyze,demo}" in _error(capsys)
    # An error raised by the estimators is reported in one line as well.
    df = pd.read_csv(csv).assign(r=1)
    df.to_csv(tmp_path / "one_arm.csv", index=False)
    err = _error(capsys, "analyze", str(tmp_path / "one_arm.csv"), *ROLES)
    assert "takes a single value" in err and "two arms" in err
    err = _error(
        capsys, "analyze", csv, *ROLES, "--output", str(tmp_path / "no" / "r.txt")
    )
    assert "cannot write" in err


# ---------------------------------------------------------------------------
# Pieces


def test_parse_tau():
    assert parse_tau("x1=0,1; x2 = -0.5, 2 ;", "--s") == {
        "x1": [0.0, 1.0],
        "x2": [-0.5, 2.0],
    }
    assert parse_tau("site_north=1e-1", "--s") == {"site_north": [0.1]}
    with pytest.raises(CLIError, match="--s: 'x1:0' is not NAME=VALUES"):
        parse_tau("x1:0", "--s")


def test_error_sensitivity_grid_too_large(workdir, capsys):
    csv = str(workdir / "trial.csv")
    values = ",".join(str(v / 10) for v in range(51))
    spec = f"x1={values};x2={values}"
    err = _error(capsys, "analyze", csv, *ROLES, "--sensitivity", spec)
    assert (
        "the sensitivity grid has 6,765,201 points (the product of 51 x 51 x 51 x 51"
        in err
    )
    assert "--max-grid-points" in err
    # a 16-point grid passes a limit of 16 and is refused under 15
    small = ("analyze", csv, *ROLES, "--sensitivity", "x1=0,0.5;x2=0,0.5")
    code, _, _ = _run(capsys, *small, "--max-grid-points", "16", "--format", "json")
    assert code == 0
    assert "16 points" in _error(capsys, *small, "--max-grid-points", "15")


def test_breakdown_says_when_the_interval_covers_zero_at_tau_zero(tmp_path, capsys):
    X, y, _ = simulate_trial(n=300, n_covariates=2, seed=43)
    y = y - 2.0 * X["m"] + X["r"]  # true effects near 0
    X.assign(y=y).to_csv(tmp_path / "null.csv", index=False)
    code, out, _ = _run(
        capsys,
        "analyze",
        str(tmp_path / "null.csv"),
        *ROLES[:9],  # outcome, treatment, mediator, covariates x1 x2
        "--sensitivity",
        "x1=0,1",
    )
    assert code == 0
    assert "covers 0 at tau = 0" in out


# ---------------------------------------------------------------------------
# Reading real files: separators, decimal commas, categorical levels, resamples


def _without_source(doc):
    doc["settings"].pop("source")
    return doc


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_separator_is_detected(workdir, tmp_path, capsys, sep):
    df = pd.read_csv(workdir / "trial.csv")
    path = tmp_path / "trial.txt"
    df.to_csv(path, index=False, sep=sep)
    got = _json(capsys, "analyze", str(path), *ROLES)
    expected = _json(capsys, "analyze", str(workdir / "trial.csv"), *ROLES)
    assert _without_source(got) == _without_source(expected)


def test_separator_and_decimal_comma_given(workdir, tmp_path, capsys):
    df = pd.read_csv(workdir / "trial.csv")
    path = tmp_path / "european.csv"
    df.to_csv(path, index=False, sep=";", decimal=",")
    err = _error(capsys, "analyze", str(path), *ROLES)
    assert re.search(
        r"column '\w+' is not numeric \(for example '-?\d*,\d+'\); its numbers "
        r"seem to have a decimal comma: give --decimal ,",
        err,
    )
    got = _json(capsys, "analyze", str(path), *ROLES, "--sep", ";", "--decimal", ",")
    expected = _json(capsys, "analyze", str(workdir / "trial.csv"), *ROLES)
    for doc in (got, expected):
        _without_source(doc)
    assert got["estimates"] == expected["estimates"]
    # a tab is given by name
    df.to_csv(path, index=False, sep="\t")
    assert _json(capsys, "analyze", str(path), *ROLES, "--sep", "tab")["data"]["n"]


def test_wrong_separator_says_so(workdir, tmp_path, capsys):
    df = pd.read_csv(workdir / "trial.csv")
    path = tmp_path / "semicolons.csv"
    df.to_csv(path, index=False, sep=";")
    err = _error(capsys, "analyze", str(path), *ROLES, "--sep", ",")
    assert err == (
        "skmediate: error: unknown column 'y' (--outcome); available columns: "
        "r;m;x1;x2;z1;site;y;practice. The header was read as a single column: "
        "the file's separator is probably ';', not the one used; give --sep ';'\n"
    )
    df.to_csv(path, index=False, sep="\t")
    err = _error(capsys, "analyze", str(path), *ROLES, "--sep", ";")
    assert err.endswith("probably tab, not the one used; give --sep tab\n")


def test_bad_separator_options(workdir, capsys, tmp_path):
    csv = str(workdir / "trial.csv")
    err = _error(capsys, "analyze", csv, *ROLES, "--sep", "ab")
    assert "--sep: 'ab' is not a one-character separator" in err
    err = _error(capsys, "analyze", csv, *ROLES, "--sep", ",", "--decimal", ",")
    assert "the separator and the decimal mark are both ','" in err
    pytest.importorskip("pyarrow")
    pd.read_csv(csv).to_parquet(tmp_path / "trial.parquet")
    err = _error(
        capsys, "analyze", str(tmp_path / "trial.parquet"), *ROLES, "--sep", ";"
    )
    assert "--sep and --decimal apply to CSV files" in err


def test_categorical_continuous_column_is_refused(workdir, capsys):
    csv = str(workdir / "trial.csv")
    err = _error(capsys, "analyze", csv, *ROLES, "--categorical", "site", "x1")
    assert err == (
        "skmediate: error: --categorical column 'x1' has 500 levels in 500 rows: "
        "one-hot encoding makes 499 columns, each a covariate and an instrument, "
        "so the model would have about as many parameters as there are rows. It "
        "looks like a continuous or an identifier column: leave it out of "
        "--categorical to use it as a number, or group its levels\n"
    )


def test_categorical_with_many_small_levels_gets_a_note(workdir, tmp_path, capsys):
    df = pd.read_csv(workdir / "trial.csv")
    df["clinic"] = np.arange(len(df)) % 60  # 60 levels, 8.3 rows each
    df.to_csv(tmp_path / "clinics.csv", index=False)
    args = ["analyze", str(tmp_path / "clinics.csv"), *ROLES[:9]]
    args += ["--controls", "z1", "clinic", "--categorical", "clinic"]
    doc = _json(capsys, *args)
    assert doc["warnings"][0] == (
        "The --categorical column 'clinic' has 60 levels in 500 rows (8.3 rows "
        "per level on average): each level but one adds a control. With many "
        "small levels the estimates are imprecise and, for covariates, the many "
        "instruments bias two-stage least squares toward the standard "
        "regression; consider grouping rare levels."
    )
    assert len(doc["settings"]["control_terms"]) == 1 + 59


@pytest.mark.parametrize(
    "level, too_few, needed", [("0.95", "40", 41), ("0.99", "200", 201)]
)
def test_too_few_bootstrap_resamples(workdir, capsys, level, too_few, needed):
    csv = str(workdir / "trial.csv")
    args = [*NUMERIC_ROLES, "--confidence-level", level]
    pct = f"{100 * float(level):g}%"
    err = _error(capsys, "analyze", csv, *args, "--bootstrap", too_few)
    assert err == (
        f"skmediate: error: --bootstrap {too_few} is too few resamples for a {pct} "
        "bootstrap interval: its ends would lie among the most extreme resamples "
        "(the interval need not even contain the estimate); at least "
        f"{needed} are needed for a {pct} interval, and 999 or more (1999 for "
        "BCa) give ends that do not depend on the draw\n"
    )
    err = _error(capsys, "analyze", csv, *args, "--bootstrap", "2")
    assert "--bootstrap 2 is too few resamples" in err
    doc = _json(capsys, "analyze", csv, *args, "--bootstrap", str(needed))
    assert doc["bootstrap"]["n_resamples"] == needed


# ---------------------------------------------------------------------------
# Sample weights (--weights, --weight-type)


@pytest.fixture(scope="module")
def weighted_csv(workdir):
    df = pd.read_csv(workdir / "trial.csv")
    df["wt"] = np.random.default_rng(8).uniform(0.2, 2.0, len(df)) / len(df)
    path = workdir / "weighted.csv"
    df.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("weight_type", ["analytic", "probability"])
def test_json_weights(weighted_csv, capsys, weight_type):
    """The report's fits are the library's with the weights and their type; the
    weights sum to below 1, which only frequency weights refuse."""
    csv = str(weighted_csv)
    doc = _json(
        capsys,
        "analyze",
        csv,
        *NUMERIC_ROLES,
        "--weights",
        "wt",
        "--weight-type",
        weight_type,
        "--sensitivity",
        "x1=0,1",
    )
    assert doc["settings"]["weights"] == "wt"
    assert doc["settings"]["weight_type"] == weight_type
    df = pd.read_csv(weighted_csv)
    X, y = df[["r", "m", "x1", "x2", "z1"]], df["y"]
    roles = dict(treatment="r", mediator="m", covariates=["x1", "x2"], controls=["z1"])
    iv = IVMediationRegressor(**roles, weight_type=weight_type).fit(
        X, y, sample_weight=df["wt"]
    )
    table = iv.result_.to_frame()
    got = doc["estimates"][1]
    assert got["nobs"] == len(df)
    assert_allclose(
        [got["direct_effect"]["std_error"], got["mediator_effect"][0]["std_error"]],
        table.loc[["r", "m"], "std_error"],
        rtol=RTOL,
    )
    grid = SensitivityGrid(
        iv, tau_direct={"x1": [0.0, 1.0]}, tau_mediator={"x1": [0.0, 1.0]}
    )
    frame = grid.fit(X, y, sample_weight=df["wt"]).to_frame()
    assert_allclose(
        [p["mediator_effect"]["std_error"] for p in doc["sensitivity"]["grid"]],
        frame["mediator_effect_se"],
        rtol=RTOL,
    )
    code, out, err = _run(
        capsys,
        "analyze",
        csv,
        *NUMERIC_ROLES,
        "--weights",
        "wt",
        "--weight-type",
        weight_type,
    )
    assert code == 0 and err == ""
    assert f"Weights: wt, {weight_type} (" in " ".join(out.split())


def test_error_weights(weighted_csv, capsys):
    csv = str(weighted_csv)
    err = _error(capsys, "analyze", csv, *NUMERIC_ROLES, "--weight-type", "analytic")
    assert "--weight-type analytic needs --weights COL" in err
    err = _error(capsys, "analyze", csv, *NUMERIC_ROLES, "--weights", "wt")
    assert "sample_weight sums to 1.09064, not more than the 6 parameters" in err
    assert "weight_type='analytic'" in err
    err = _error(
        capsys,
        "analyze",
        csv,
        *NUMERIC_ROLES,
        "--weights",
        "wt",
        "--weight-type",
        "probability",
        "--cov-type",
        "classical",
    )
    assert "cov_type='classical' does not apply with weight_type='probability'" in err
    err = _error(capsys, "analyze", csv, *NUMERIC_ROLES, "--weights", "x1")
    assert "column 'x1' is given in --covariates and in --weights" in err
