"""The command line: every format against the library's own results, and every error.

The formats run as subprocesses (``python -m skmediate``), started together in
one module fixture so their start-up times overlap; the error cases call
:func:`skmediate._cli.main` in-process, which is what the console script runs.
"""

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
import statsmodels.api as sm
from numpy.testing import assert_allclose
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.preprocessing import OneHotEncoder

import skmediate
from skmediate import IVMediationRegressor, NaiveMediationRegressor, SensitivityGrid
from skmediate._cli import CLIError, demo_data, main, parse_tau, simulated_trial
from skmediate._render import render
from skmediate._report import (
    Analysis,
    build_report,
    effect_on_mediator_section,
    effects_section,
    mean_difference,
    weak_iv_robust_section,
)

from .conftest import simulate_trial

README = Path(__file__).resolve().parents[1] / "README.md"
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
SENSITIVITY = ["--sensitivity", "x1=0,1;x2=0,0.5"]


# ---------------------------------------------------------------------------
# Data and reference fits


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli")
    X, y, groups = simulate_trial(
        n=500, n_covariates=2, n_controls=1, site=True, n_clusters=12, seed=4
    )
    frame = X.assign(y=y, practice=groups)
    frame.to_csv(path / "trial.csv", index=False)
    return path


def _reference(path, cov_type="HC1", groups_column=None):
    """The library's fits on the CSV as the command line reads it."""
    df = pd.read_csv(path)
    X = df[["r", "m", "x1", "x2", "site", "z1"]].copy()
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
        covariates=["x1", "x2", "site"],
        controls=["z1"],
        covariate_transformer=encoder,
        cov_type=cov_type,
    )
    fit = {} if groups_column is None else {"groups": df[groups_column]}
    iv = IVMediationRegressor(**roles).fit(X, y, **fit)
    naive = NaiveMediationRegressor(**roles).fit(X, y, **fit)
    grid = SensitivityGrid(iv, tau_direct=TAU, tau_mediator=TAU).fit(X, y, **fit)
    return SimpleNamespace(df=df, X=X, y=y, iv=iv, naive=naive, grid=grid)


@pytest.fixture(scope="module")
def ref(workdir):
    return _reference(workdir / "trial.csv")


@pytest.fixture(scope="module")
def ref_cluster(workdir):
    return _reference(workdir / "trial.csv", "cluster", "practice")


# ---------------------------------------------------------------------------
# Subprocess runs, started together


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
        "cluster": [
            "analyze",
            csv,
            *ROLES,
            "--clusters",
            "practice",
            "--format",
            "json",
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


def cell(est, digits=3):
    """The ``estimate (low, high)`` cell, formatted as the reports do."""
    return f"{est[0]:.{digits}f} ({est[1]:.{digits}f}, {est[2]:.{digits}f})"


def _table1(est):
    """Direct and mediator ``(estimate, low, high)`` of a fitted estimator."""
    ci = est.result_.conf_int()
    return [
        (est.result_.params[t], ci.loc[t, "lower"], ci.loc[t, "upper"])
        for t in ("r", "m")
    ]


def _grid_cells(grid):
    frame = grid.to_frame()
    rows = []
    for _, row in frame.iterrows():
        rows.append(
            [
                cell((row[e], row[f"{e}_ci_low"], row[f"{e}_ci_high"]))
                for e in ("direct_effect", "mediator_effect")
            ]
        )
    return rows


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
    # The arms and the effect on the mediator (difference in means, HC1).
    df = ref.df
    for arm in (0, 1):
        n = int((df.r == arm).sum())
        assert re.search(rf"^{arm}\s+{n}\s", text, re.MULTILINE)
    ols = sm.OLS(df.m, sm.add_constant(df.r)).fit(cov_type="HC1")
    assert f"{ols.params['r']:.3f}" in text and f"{ols.bse['r']:.3f}" in text
    # Table 2: every grid point.
    grid_lines = [line for line in lines if re.match(r"\(\d", line)]
    assert len(grid_lines) == 16
    for line, cells in zip(grid_lines, _grid_cells(ref.grid), strict=True):
        assert all(c in line for c in cells)
    assert "One-hot encoded (first level dropped): site." in text.replace("\n", " ")
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


def _readme_schema():
    text = README.read_text()
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
        assert skeleton, f"{path}: the README shows no example element"
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
    assert doc["schema_version"] == 1
    assert doc["skmediate_version"] == skmediate.__version__
    assert doc["settings"]["covariate_terms"] == list(ref.grid.covariate_names_)
    assert doc["settings"]["control_terms"] == ["z1"]
    for entry, est in zip(doc["estimates"], (ref.naive, ref.iv), strict=True):
        table = est.result_.to_frame()
        for key, term in (("direct_effect", "r"), ("mediator_effect", "m")):
            got = entry[key]
            want = table.loc[term]
            assert_allclose(
                [
                    got["estimate"],
                    got["std_error"],
                    got["ci_low"],
                    got["ci_high"],
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
                [
                    point[effect][k]
                    for k in ("estimate", "std_error", "ci_low", "ci_high")
                ],
                [
                    row[effect],
                    row[f"{effect}_se"],
                    row[f"{effect}_ci_low"],
                    row[f"{effect}_ci_high"],
                ],
                rtol=RTOL,
            )
    interval = ref.grid.sensitivity_interval_
    for entry in sens["interval"]:
        want = interval.loc[entry["effect"]]
        assert_allclose([entry[k] for k in want.index], want.to_numpy(), rtol=RTOL)
    breakdown = ref.grid.breakdown_
    assert len(sens["breakdown"]) == len(breakdown)
    for entry in sens["breakdown"]:
        want = breakdown.loc[(entry["effect"], entry["parameter"])]
        got = [np.nan if entry[k] is None else entry[k] for k in want.index]
        assert_allclose(got, want.to_numpy(), rtol=RTOL)
    # The data summary and the effect on the mediator.
    df = ref.df
    arms = doc["data"]["arms"]
    assert [a["n"] for a in arms] == [int((df.r == 0).sum()), int((df.r == 1).sum())]
    assert_allclose(
        [a["mediator_mean"] for a in arms], df.groupby("r").m.mean(), rtol=RTOL
    )
    assert_allclose([a["outcome_sd"] for a in arms], df.groupby("r").y.std(), rtol=RTOL)
    assert doc["data"]["n"] == len(df) and doc["data"]["n_rows_dropped"] == 0
    ols = sm.OLS(df.m, sm.add_constant(df.r)).fit(cov_type="HC1")
    eom = doc["effect_on_mediator"]
    assert_allclose(
        [eom["estimate"], eom["std_error"]], [ols.params["r"], ols.bse["r"]], rtol=1e-9
    )
    assert eom["method"] == "difference in means between the arms"
    assert doc["bootstrap"] is None and doc["warnings"] == []


def test_json_clusters(workdir, ref_cluster, capsys):
    csv = str(workdir / "trial.csv")
    code, out, err = _run(
        capsys, "analyze", csv, *ROLES, "--clusters", "practice", "--format", "json"
    )
    assert (code, err) == (0, "")
    doc = json.loads(out)
    check_schema(doc, _readme_schema())
    assert doc["settings"]["cov_type"] == "cluster"
    assert doc["settings"]["clusters"] == "practice"
    assert doc["data"]["n_clusters"] == 12
    assert doc["sensitivity"] is None
    iv = doc["estimates"][1]
    table = ref_cluster.iv.result_.to_frame()
    assert_allclose(
        [iv["direct_effect"]["std_error"], iv["mediator_effect"]["std_error"]],
        table.loc[["r", "m"], "std_error"],
        rtol=RTOL,
    )
    assert_allclose(
        doc["first_stage"]["wald_f_statistic"],
        ref_cluster.iv.first_stage_.wald_f_statistic,
        rtol=RTOL,
    )
    df = ref_cluster.df
    ols = sm.OLS(df.m, sm.add_constant(df.r)).fit(
        cov_type="cluster", cov_kwds={"groups": df.practice}
    )
    assert_allclose(doc["effect_on_mediator"]["std_error"], ols.bse["r"], rtol=1e-9)


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


def test_html_without_matplotlib(ref, workdir, monkeypatch, capsys):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    code = main(["analyze", str(workdir / "trial.csv"), *ROLES, "--format", "html"])
    out = capsys.readouterr().out
    assert code == 0
    parser = _Tables()
    parser.feed(out)
    assert parser.images == [] and "<figure" not in out
    table1 = next(
        t for t in parser.tables if t[0][:2] == ["Method", "Direct effect of r"]
    )
    assert table1[2] == ["IV", *map(cell, _table1(ref.iv))]


def test_demo(capsys):
    code, text, err = _run(capsys, "demo")
    assert (code, err) == (0, "")
    X, y, source = demo_data(2012)
    assert f"Data: {source}." in text.replace("\n", " ")
    roles = dict(treatment="r", mediator="m", covariates=["past_use", "baseline_use"])
    iv = IVMediationRegressor(**roles).fit(X, y)
    naive = NaiveMediationRegressor(**roles).fit(X, y)
    for est in (naive, iv):
        assert all(cell(c) in text for c in _table1(est))
    assert f"{len(y)} subjects." in text
    for heading in (
        "First stage",
        "Sensitivity analysis",
        "Effect of r on the mediator m",
    ):
        assert f"\n{heading}\n" in text
    grid = [line for line in text.splitlines() if re.match(r"\(\d", line)]
    assert len(grid) == 16  # the paper's Table 2: tau_R, tau_M in {0, 1}^2


def test_simulated_trial_has_the_shape_of_prospect():
    X, y = simulated_trial(5)
    assert X.shape == (297, 4) and list(X) == ["r", "m", "past_use", "baseline_use"]
    assert int(X.r.sum()) == 145 and set(X.m) == {0.0, 1.0}
    assert set(X.past_use) <= {0.0, 1.0} and set(X.baseline_use) <= {0, 1, 2, 3, 4}
    assert y.name == "hamilton"
    X2, y2 = simulated_trial(5)
    pd.testing.assert_frame_equal(X, X2)
    pd.testing.assert_series_equal(y, y2)


def test_demo_falls_back_to_the_simulated_trial(monkeypatch):
    monkeypatch.setitem(sys.modules, "skmediate.datasets", None)
    X, y, source = demo_data(11)
    X2, y2 = simulated_trial(11)
    pd.testing.assert_frame_equal(X, X2)
    assert source == "simulated PROSPECT-shaped trial (random seed 11)"


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


def test_subprocess_error(runs):
    run = runs["error"]
    assert run.code == 2 and run.out == ""
    assert run.err.count("\n") == 1 and "Traceback" not in run.err
    assert run.err.startswith("skmediate: error: unknown column 'nope' (--covariates)")


# ---------------------------------------------------------------------------
# Options, in-process


def _run(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


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
        [p["mediator_effect"]["ci_high"] for p in sens["grid"]],
        frame.mediator_effect_ci_high,
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
    complete = df.dropna(subset=["m", "x1"])
    complete.to_csv(workdir / "complete.csv", index=False)
    ref = _reference(workdir / "complete.csv")
    assert_allclose(
        doc["estimates"][1]["mediator_effect"]["estimate"],
        ref.iv.mediator_effect_,
        rtol=RTOL,
    )
    code, out, _ = _run(capsys, "analyze", str(path), *ROLES, "--dropna")
    assert (
        "(500 rows read; 4 rows with missing values dropped listwise)"
        in out.replace("\n", " ")
    )


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
    assert (
        "Note: Weak instruments: the first-stage partial F statistic is"
        in out.replace("\n", " ")
    )
    assert "below the Stock-Yogo critical value 8.96" in out.replace("\n", " ")
    assert "the instruments are weak" in out.replace("\n", " ")
    code, out, err = _run(capsys, *args, "--format", "json")
    doc = json.loads(out)
    assert doc["first_stage"]["is_weak"] is True
    assert len(doc["warnings"]) == 1 and doc["warnings"][0].startswith(
        "Weak instruments"
    )


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
    assert "--clusters needs --cov-type cluster; got --cov-type HC1" in err
    err = _error(capsys, "analyze", csv, *ROLES, "--cov-type", "cluster")
    assert "--cov-type cluster needs --clusters COL" in err


def test_error_bootstrap_without_support(workdir, capsys, monkeypatch):
    monkeypatch.delattr(skmediate, "bootstrap", raising=False)
    err = _error(
        capsys, "analyze", str(workdir / "trial.csv"), *ROLES, "--bootstrap", "99"
    )
    assert "bootstrap intervals (--bootstrap) need skmediate's bootstrap support" in err


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
# Sections for features the estimators may add


def test_bootstrap_section_uses_skmediate_bootstrap(workdir, ref, capsys, monkeypatch):
    calls = []

    def fake_bootstrap(estimator, X, y, **kwargs):
        calls.append((estimator, kwargs))
        fitted = estimator.fit(X, y)
        estimate = np.array([fitted.direct_effect_, fitted.mediator_effect_])
        return SimpleNamespace(
            estimate=estimate,
            standard_error=np.array([0.5, 0.25]),
            confidence_interval=SimpleNamespace(low=estimate - 1, high=estimate + 2),
        )

    monkeypatch.setattr(skmediate, "bootstrap", fake_bootstrap, raising=False)
    args = [
        "analyze",
        str(workdir / "trial.csv"),
        *ROLES,
        "--bootstrap",
        "50",
        "--seed",
        "3",
    ]
    code, out, _ = _run(capsys, *args, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    check_schema(doc, _readme_schema())
    boot = doc["bootstrap"]
    assert boot["n_resamples"] == 50 and boot["random_state"] == 3
    assert [(r["method"], r["effect"]) for r in boot["results"]] == [
        ("naive", "direct_effect"),
        ("naive", "mediator_effect"),
        ("iv", "direct_effect"),
        ("iv", "mediator_effect"),
    ]
    iv = boot["results"][2]
    assert_allclose(
        [iv["estimate"], iv["standard_error"], iv["ci_low"], iv["ci_high"]],
        [
            ref.iv.direct_effect_,
            0.5,
            ref.iv.direct_effect_ - 1,
            ref.iv.direct_effect_ + 2,
        ],
        rtol=RTOL,
    )
    assert len(calls) == 2
    for _, kwargs in calls:
        assert kwargs == dict(
            statistic=("direct_effect_", "mediator_effect_"),
            n_resamples=50,
            method="percentile",
            confidence_level=0.95,
            random_state=3,
        )
    code, out, _ = _run(capsys, *args)
    assert "Bootstrap" in out and "50 resamples, random_state=3." in out
    # Clusters are resampled whole; point estimates need no cluster covariance.
    calls.clear()
    code, out, _ = _run(capsys, *args, "--clusters", "practice")
    assert code == 0
    for estimator, kwargs in calls:
        assert estimator.cov_type == "HC1"
        np.testing.assert_array_equal(kwargs["groups"], ref.df.practice)


class _FakeResult:
    def __init__(self, effects):
        self.effects = effects


def _effects_table():
    return pd.DataFrame(
        {
            "estimate": [0.4, -1.2],
            "std_error": [0.1, 0.5],
            "z": [4.0, -2.4],
            "pvalue": [6e-5, 0.016],
            "lower": [0.2, -2.2],
            "upper": [0.6, -0.2],
        },
        index=["effect_on_mediator", "indirect effect"],
    )


def test_effect_sections_read_the_estimators_effects():
    fake = SimpleNamespace(
        result_=_FakeResult(_effects_table()), effect_on_mediator_=0.4
    )
    rows = effects_section({"iv": fake})
    assert [(r.method, r.effect) for r in rows] == [
        ("iv", "effect_on_mediator"),
        ("iv", "indirect_effect"),
    ]
    assert (rows[1].estimate, rows[1].std_error, rows[1].ci_low, rows[1].ci_high) == (
        -1.2,
        0.5,
        -2.2,
        -0.2,
    )
    assert effects_section({"iv": SimpleNamespace(result_=object())}) is None
    eom = effect_on_mediator_section(fake, None, None, None)
    assert (eom.estimate, eom.std_error, eom.ci_low, eom.pvalue) == (
        0.4,
        0.1,
        0.2,
        6e-5,
    )
    assert eom.method.startswith("first-stage coefficient")

    fake.anderson_rubin_confidence_set = lambda: [(-np.inf, -2.0), (1.5, np.inf)]
    fake.confidence_level = 0.9
    cs = weak_iv_robust_section(fake)
    assert (
        cs.intervals == ((-np.inf, -2.0), (1.5, np.inf)) and cs.confidence_level == 0.9
    )
    assert weak_iv_robust_section(SimpleNamespace()) is None


def test_every_section_renders(ref):
    """A report with every optional section renders in every format."""
    from dataclasses import replace

    analysis = Analysis(
        outcome="y",
        treatment="r",
        mediator="m",
        covariates=("x1", "x2"),
        tau_direct={"x1": [0.0, 1.0]},
    )
    X = ref.df[["r", "m", "x1", "x2"]]
    report = build_report(analysis, X, ref.df.y)
    fake = SimpleNamespace(
        result_=_FakeResult(_effects_table()),
        anderson_rubin_confidence_set=lambda: [(-np.inf, -2.0), (1.5, np.inf)],
        confidence_level=0.95,
    )
    report = replace(
        report,
        effects=effects_section({"iv": fake}),
        weak_iv_robust=weak_iv_robust_section(fake),
    )
    doc = json.loads(render(report, "json"))
    check_schema(doc, _readme_schema())
    assert doc["weak_iv_robust"]["intervals"] == [["-inf", -2.0], [1.5, "inf"]]
    text = render(report, "text")
    assert (
        "confidence set for the mediator effect: (-inf, -2.000] U [1.500, inf)"
        in text.replace("\n", " ")
    )
    assert "indirect effect" in text and "-1.200" in text
    for fmt in ("markdown", "html"):
        assert "Weak-instrument-robust inference" in render(report, fmt)


# ---------------------------------------------------------------------------
# Pieces


@pytest.mark.parametrize("cov_type", ["classical", "HC0", "HC1", "cluster"])
def test_mean_difference_against_statsmodels(cov_type):
    rng = np.random.default_rng(1)
    n = 150
    r = rng.integers(0, 2, n).astype(float)
    m = (rng.random(n) < 0.3 + 0.4 * r).astype(float)
    groups = rng.integers(0, 15, n)
    est = mean_difference(
        r, m, cov_type, groups if cov_type == "cluster" else None, 0.9
    )
    assert_allclose(est.estimate, m[r == 1].mean() - m[r == 0].mean(), rtol=1e-12)
    kwargs = {"cov_kwds": {"groups": groups}} if cov_type == "cluster" else {}
    ols = sm.OLS(m, sm.add_constant(r)).fit(
        cov_type="nonrobust" if cov_type == "classical" else cov_type, **kwargs
    )
    assert_allclose(est.std_error, ols.bse[1], rtol=1e-10)
    # statsmodels' nonrobust intervals use t; compare the normal interval by hand.
    z = 1.6448536269514722
    assert_allclose(
        [est.ci_low, est.ci_high], ols.params[1] + np.array([-z, z]) * ols.bse[1]
    )
    if cov_type != "classical":
        assert_allclose(est.pvalue, ols.pvalues[1], rtol=1e-10)


def test_mean_difference_hc0_is_the_unequal_variance_standard_error():
    rng = np.random.default_rng(2)
    r = np.r_[np.zeros(40), np.ones(60)]
    m = rng.normal(size=100) + r
    est = mean_difference(r, m, "HC0")
    a, b = m[r == 0], m[r == 1]
    # HC0 uses the ML variances (divisor n_g) of each arm.
    se = np.sqrt(a.var() / a.size + b.var() / b.size)
    assert_allclose(est.std_error, se, rtol=1e-12)


def test_parse_tau():
    assert parse_tau("x1=0,1; x2 = -0.5, 2 ;", "--s") == {
        "x1": [0.0, 1.0],
        "x2": [-0.5, 2.0],
    }
    assert parse_tau("site_north=1e-1", "--s") == {"site_north": [0.1]}
    with pytest.raises(CLIError, match="--s: 'x1:0' is not NAME=VALUES"):
        parse_tau("x1:0", "--s")
