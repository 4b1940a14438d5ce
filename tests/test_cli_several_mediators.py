"""The command line with several mediators (``--mediator M1 M2``).

Every format lists each mediator; the numbers are checked against the
library's own fits of the same CSV (JSON to 1e-10 relative, the text and
Markdown cells as formatted to three decimals), and the bootstrap against
:func:`skmediate.bootstrap` with the same seed. Every line of the text
report, with the bootstrap and the sensitivity analysis, fits in 78
characters with two and three mediators, and the per-mediator first-stage
statistics are those of ``first_stage_.per_mediator``.
"""

import json
import re

import pytest
from numpy.testing import assert_allclose

from skmediate import (
    IVMediationRegressor,
    NaiveMediationRegressor,
    SensitivityGrid,
    bootstrap,
)
from skmediate._report.cli import main
from skmediate.datasets import make_mediation_data

from .test_cli import _readme_schema, check_schema

RTOL = 1e-10
MEDIATORS = ["m1", "m2"]
COVARIATES = ["x1", "x2", "x3"]
ARGS = [
    "--outcome",
    "y",
    "--treatment",
    "r",
    "--mediator",
    *MEDIATORS,
    "--covariates",
    *COVARIATES,
]
KEYS = ("estimate", "std_error", "lower", "upper", "pvalue")


@pytest.fixture(scope="module")
def trial(tmp_path_factory):
    X, y = make_mediation_data(
        800,
        n_covariates=3,
        n_mediators=2,
        mediator_effect=[1.0, -0.5],
        instrument_strength=1.5,
        random_state=8,
    )
    X["m1"] = (X["m1"] > 0.5).astype(float)  # one binary, one continuous mediator
    path = tmp_path_factory.mktemp("several") / "trial.csv"
    X.assign(y=y).to_csv(path, index=False)
    roles = dict(treatment="r", mediator=MEDIATORS, covariates=COVARIATES)
    fits = {
        "naive": NaiveMediationRegressor(**roles).fit(X, y),
        "iv": IVMediationRegressor(**roles).fit(X, y),
    }
    return str(path), X, y, fits


def _run(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    assert (code, captured.err) == (0, ""), captured.err
    return captured.out


def _titled_tables(lines, title):
    """The rows of each text table titled ``title`` (the lines between the
    rule under its header and its closing rule)."""
    tables = []
    for i, line in enumerate(lines):
        if line == title and lines[i + 2].startswith("---"):
            end = next(
                j for j in range(i + 3, len(lines)) if lines[j].startswith("---")
            )
            tables.append(lines[i + 3 : end])
    return tables


def test_json_lists_each_mediator(trial, capsys):
    path, X, y, fits = trial
    doc = json.loads(_run(capsys, "analyze", path, *ARGS, "--format", "json"))
    check_schema(doc, _readme_schema())
    assert doc["schema_version"] == 4
    assert doc["settings"]["mediators"] == MEDIATORS
    data = doc["data"]
    assert data["mediator_binary"] == [True, False]
    for arm in data["arms"]:
        rows = X["r"] == arm["treatment"]
        assert_allclose(arm["mediator_mean"], X.loc[rows, MEDIATORS].mean(), rtol=RTOL)
        assert_allclose(arm["mediator_sd"], X.loc[rows, MEDIATORS].std(), rtol=RTOL)
    effects = fits["iv"].result_.effects
    assert [e["mediator"] for e in doc["effect_on_mediator"]] == MEDIATORS
    for entry in doc["effect_on_mediator"]:
        want = effects.loc[f"effect_on_mediator[{entry['mediator']}]", list(KEYS)]
        assert_allclose([entry[k] for k in KEYS], want.to_numpy(float), rtol=RTOL)
    for entry, (method, est) in zip(doc["estimates"], fits.items(), strict=True):
        assert entry["method"] == method
        table = est.result_.to_frame()
        assert [e["mediator"] for e in entry["mediator_effect"]] == MEDIATORS
        for e in entry["mediator_effect"]:
            want = table.loc[e["mediator"], list(KEYS)].to_numpy(float)
            assert_allclose([e[k] for k in KEYS], want, rtol=RTOL)
    # every row of both effects tables, names from effect_names
    assert [(e["method"], e["effect"]) for e in doc["effects"]] == [
        (method, name)
        for method, est in fits.items()
        for name in est.result_.effects.index
    ]
    assert "indirect[m2]" in {e["effect"] for e in doc["effects"]}
    for entry in doc["effects"]:
        want = fits[entry["method"]].result_.effects.loc[entry["effect"], list(KEYS)]
        assert_allclose([entry[k] for k in KEYS], want.to_numpy(float), rtol=RTOL)


def test_text_lists_each_mediator(trial, capsys):
    path, X, y, fits = trial
    text = _run(capsys, "analyze", path, *ARGS)
    lines = text.splitlines()
    assert lines[0] == "Mediation analysis of y: treatment r, mediators m1, m2"
    header = next(line for line in lines if line.startswith("r    n"))
    assert re.split(r"\s{2,}", header.split(None, 2)[2]) == [
        "m1 (rate)",
        "m2 mean (SD)",
        "y mean (SD)",
    ]
    # Table 1: a row per effect, estimate (low, high) of each fit in its column
    header = next(line for line in lines if line.startswith("Effect  "))
    assert re.split(r"\s{2,}", header) == ["Effect", "Standard regression", "IV"]
    labels = {"r": "Direct effect of r"}
    labels.update({m: f"Mediator effect ({m})" for m in MEDIATORS})
    for term, label in labels.items():
        cells = []
        for est in fits.values():
            res, ci = est.result_, est.result_.conf_int()
            low, high = ci.loc[term, "lower"], ci.loc[term, "upper"]
            cells.append(f"{res.params[term]:.3f} ({low:.3f}, {high:.3f})")
        row = next(line for line in lines if line.startswith(label))
        assert re.split(r"\s{2,}", row) == [label, *cells]
    # each method's estimates and mediation effects in tables of their own
    estimates, mediation = _titled_tables(lines, "IV")
    for term, label in (("r", "direct effect"), ("m2", "mediator effect (m2)")):
        res = fits["iv"].result_
        cells = [label, f"{res.params[term]:.3f}", f"{res.std_errors[term]:.3f}"]
        pattern = r"^" + r"\s+".join(map(re.escape, cells)) + r"\s"
        assert sum(bool(re.match(pattern, line)) for line in estimates) == 1, cells
    effects = fits["iv"].result_.effects
    for name, label in (
        ("effect_on_mediator[m1]", "effect on m1"),
        ("indirect[m2]", "indirect effect through m2"),
        ("indirect", "indirect effect (all mediators)"),
        ("proportion_mediated[m1]", "proportion mediated through m1"),
    ):
        row = effects.loc[name]
        cells = [label, f"{row.estimate:.3f}", f"{row.std_error:.3f}"]
        pattern = r"^" + r"\s+".join(map(re.escape, cells)) + r"\s"
        assert sum(bool(re.match(pattern, line)) for line in mediation) == 1, cells
    # the effect of r on each mediator, a row each
    for m in MEDIATORS:
        row = effects.loc[f"effect_on_mediator[{m}]"]
        pattern = rf"^{m}\s+{row.estimate:.3f}\s+{row.std_error:.3f}\s"
        assert any(re.match(pattern, line) for line in lines), pattern
    # each mediator's robust set is a row of the sets table, whose note says
    # how the sets of several mediators are built; nothing is "not defined"
    sets = lines[lines.index("Confidence sets for every effect") :]
    for m in MEDIATORS:
        cs = fits["iv"].confidence_set("mediator", mediator=m)
        label = f"mediator effect ({m})"
        row = next(line for line in sets if line.startswith(label))
        assert f"[{cs.intervals[0][0]:.3f}" in row
    assert "not defined" not in text
    assert "projection of the joint robust" in " ".join(lines)


@pytest.mark.parametrize("output_format", ["markdown", "html", "latex"])
def test_other_formats_list_each_mediator(trial, capsys, output_format):
    path, _, _, fits = trial
    out = _run(capsys, "analyze", path, *ARGS, "--format", output_format)
    for m in MEDIATORS:
        assert f"Mediator effect ({m})" in out
        assert f"indirect effect through {m}" in out
        est = fits["iv"].result_.params[m]
        assert f"{est:.3f}" in out


def test_bootstrap_per_mediator(trial, capsys):
    path, X, y, fits = trial
    args = ["analyze", path, *ARGS, "--bootstrap", "60", "--seed", "3"]
    doc = json.loads(_run(capsys, *args, "--format", "json"))
    results = doc["bootstrap"]["results"]
    assert [(r["method"], r["effect"]) for r in results] == [
        (method, effect)
        for method in ("naive", "iv")
        for effect in ("direct_effect", "mediator_effect[m1]", "mediator_effect[m2]")
    ]
    for method, est in fits.items():
        frame = bootstrap(est, X, y, n_resamples=60, random_state=3).to_frame()
        got = [r for r in results if r["method"] == method]
        assert_allclose(
            [[r["estimate"], r["standard_error"], r["lower"], r["upper"]] for r in got],
            frame.to_numpy(),
            rtol=RTOL,
        )
    lines = _run(capsys, *args).splitlines()
    (table,) = _titled_tables(lines, "IV")[-1:]  # the bootstrap's, the last
    want = [r for r in results if r["method"] == "iv"][-1]
    cells = ["mediator effect (m2)", f"{want['estimate']:.3f}"]
    cells.append(f"{want['standard_error']:.3f}")
    assert re.split(r"\s{2,}", table[-1])[:3] == cells


def test_sensitivity_grid_per_mediator(trial, capsys):
    """--sensitivity-mediator gives each mediator's tau_M the same values; the
    report's grid is SensitivityGrid's with one dict per mediator."""
    path, X, y, fits = trial
    out = _run(
        capsys,
        "analyze",
        path,
        *ARGS,
        "--sensitivity-direct",
        "x1=0,0.5",
        "--sensitivity-mediator",
        "x2=0,0.2",
        "--format",
        "json",
    )
    sens = json.loads(out)["sensitivity"]
    grid = SensitivityGrid(
        IVMediationRegressor(treatment="r", mediator=MEDIATORS, covariates=COVARIATES),
        tau_direct={"x1": [0, 0.5]},
        tau_mediator={m: {"x2": [0, 0.2]} for m in MEDIATORS},
    ).fit(X, y)
    frame = grid.to_frame()
    assert len(sens["grid"]) == len(frame) == 8
    for point, (i, row) in zip(sens["grid"], frame.iterrows(), strict=True):
        assert_allclose(point["tau_direct"], grid.grid_[i, :3])
        for j, m in enumerate(MEDIATORS):
            assert_allclose(
                point["tau_mediator"][m], grid.grid_[i, 3 * (j + 1) : 3 * (j + 2)]
            )
            got = point["mediator_effect"][m]
            name = f"mediator_effect[{m}]"
            assert_allclose(
                [got[k] for k in ("estimate", "std_error", "lower", "upper")],
                [
                    row[name],
                    row[f"{name}_se"],
                    row[f"{name}_lower"],
                    row[f"{name}_upper"],
                ],
                rtol=RTOL,
            )
    assert [r["effect"] for r in sens["interval"]] == list(
        grid.sensitivity_interval_.index
    )


def test_several_mediators_errors(trial, capsys):
    path = trial[0]

    def error(*extra):
        code = main(["analyze", path, *extra])
        return code, capsys.readouterr().err

    # each mediator's tau_M takes the values: 2 x 3 x 3 points
    code, err = error(
        *ARGS,
        "--sensitivity-direct",
        "x1=0,1",
        "--sensitivity-mediator",
        "x2=0,1,2",
        "--max-grid-points",
        "17",
    )
    assert code == 2
    assert "the sensitivity grid has 18 points (the product of 2 x 3 x 3" in err
    code, err = error(
        "--outcome",
        "y",
        "--treatment",
        "r",
        "--mediator",
        *MEDIATORS,
        "x3",
        "--covariates",
        "x1",
        "x2",
    )
    assert code == 2
    assert (
        "3 mediators ['m1', 'm2', 'x3'] need at least as many excluded instruments"
        in err
    )
    assert "has 2" in err
    code, err = error(
        "--outcome",
        "y",
        "--treatment",
        "r",
        "--mediator",
        "m1",
        "m1",
        "--covariates",
        *COVARIATES,
    )
    assert code == 2 and "column 'm1' is given twice in --mediator" in err
    code, err = error(*ARGS[:4], "--mediator", "m1", "m9", "--covariates", *COVARIATES)
    assert code == 2 and "unknown column 'm9' (--mediator)" in err


@pytest.fixture(scope="module")
def three_mediator_trial(tmp_path_factory):
    X, y = make_mediation_data(
        600,
        n_covariates=3,
        n_mediators=3,
        mediator_effect=[1.0, -0.5, 0.3],
        instrument_strength=1.5,
        random_state=9,
    )
    path = tmp_path_factory.mktemp("three") / "trial.csv"
    X.assign(y=y).to_csv(path, index=False)
    return str(path), X, y


# the per-mediator first stage as the text report labels its rows
PER_MEDIATOR_ROWS = {
    "Partial F": ("partial_f", 2),
    "Partial R-squared": ("partial_r2", 3),
    "Shea R-squared": ("shea_r2", 3),
    "Wald F ({})": ("wald_f", 2),
    "SW F": ("sw_f", 2),
    "SW F ({})": ("sw_wald_f", 2),
    "Critical value": ("critical_value", 2),
}


@pytest.mark.parametrize("n_mediators", [2, 3])
def test_text_report_fits_78_characters(
    trial, three_mediator_trial, capsys, n_mediators
):
    """Every line of the text report fits the page, with the bootstrap and
    the sensitivity analysis; the per-mediator first stage is a row per
    statistic and a column per mediator, with the fit's numbers."""
    if n_mediators == 2:
        path, X, y, _ = trial
        mediators, cov_type = MEDIATORS, "HC1"
    else:  # (classical: the robust projections of three mediators cost most)
        path, X, y = three_mediator_trial
        mediators, cov_type = ["m1", "m2", "m3"], "classical"
    args = [*ARGS[:4], "--mediator", *mediators, "--covariates", *COVARIATES]
    args += ["--cov-type", cov_type, "--bootstrap", "60", "--seed", "1"]
    args += ["--sensitivity-direct", "x1=0,0.5", "--sensitivity-mediator", "x2=0,0.2"]
    lines = _run(capsys, "analyze", path, *args).splitlines()
    too_wide = [line for line in lines if len(line) > 78]
    assert not too_wide, "\n".join(too_wide)
    for section in ("First stage", "Bootstrap", "Sensitivity analysis"):
        assert section in lines
    for m in mediators:  # each mediator's effect in each part of the report
        assert sum(line.startswith(f"mediator effect ({m})") for line in lines) >= 5
    fs = (
        IVMediationRegressor(
            treatment="r", mediator=mediators, covariates=COVARIATES, cov_type=cov_type
        )
        .fit(X, y)
        .first_stage_.per_mediator
    )
    start = lines.index(next(line for line in lines if line.startswith("Per mediator")))
    assert re.split(r"\s{2,}", lines[start]) == ["Per mediator", *mediators]
    end = lines.index("-" * len(lines[start + 1]), start + 2)
    table = {
        cells[0]: cells[1:]
        for cells in (re.split(r"\s{2,}", line) for line in lines[start + 2 : end])
    }
    robust = cov_type != "classical"
    expected = {
        label.format(cov_type): column
        for label, column in PER_MEDIATOR_ROWS.items()
        if robust or column[0] != "sw_wald_f"
    }
    assert list(table) == [*expected, "Weakly identified"]
    for label, (column, digits) in expected.items():
        assert table[label] == [f"{v:.{digits}f}" for v in fs[column]], label
    assert table["Weakly identified"] == ["yes" if w else "no" for w in fs["is_weak"]]
