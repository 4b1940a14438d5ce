"""The first stage with several mediators: per-mediator and joint statistics.

Checks and tolerances:

- per-mediator partial R², Shea's R², the partial F and its Wald form against
  linearmodels' ``IV2SLS(...).first_stage.diagnostics`` with two and three
  endogenous mediators, for every covariance linearmodels offers, to 1e-8
  relative (they agree to about 1e-14);
- the Cragg–Donald F against linearmodels' ``first_stage.cragg_donald_f`` and
  against ivmodels' ``rank_test`` (the statistic times ``p``), to 1e-8;
- the Kleibergen–Paap rk Wald F against linearmodels'
  ``first_stage.kleibergen_paap_f`` for HC1 and cluster (CR1), with and
  without analytic weights, to 1e-8; against the closed forms: the
  Cragg–Donald F for ``classical``, ``n / (n - l)`` times it for
  ``unadjusted``, linearmodels' robust value times ``n / (n - l)`` for HC0
  (no small-sample factor), and the Wald F with ``cov_type`` for one mediator;
- the Sanderson–Windmeijer F against a direct computation: ``δ̂`` by 2SLS with
  numpy, then the Wald test of the excluded instruments in statsmodels' OLS of
  ``M_j - M_{-j}δ̂`` on all instruments (nonrobust, HC1, cluster), to 1e-8;
- one mediator: the frame has one row and every joint statistic is the
  one-mediator statistic, exactly as before;
- invariance to the basis: a covariate offset by 1e6, a nearly collinear
  rewriting of a covariate and a mediator offset by 1e6 give the same
  statistics to 1e-6 relative; frequency weights equal repeated rows (1e-8);
- the warning, the summary, the diagnostics table and the report name the
  weakly identified mediator on a design where one mediator is strong and the
  other weak.
"""

import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from ivmodels.tests import rank_test
from linearmodels.iv import IV2SLS
from numpy.testing import assert_allclose

from skmediate import FewClustersWarning, IVMediationRegressor, WeakInstrumentWarning
from skmediate._report.document import Summary
from skmediate._report.render import _first_stage_blocks
from skmediate._report.report import first_stage_section

from .test_reference_python import LINEARMODELS_COV, _cov_kwargs
from .test_several_mediators import _matrices, two_mediator_trial

RTOL = 1e-8
N_COVARIATES = 4


def _fit(frame, y, names, covariates, cov_type, groups=None, **params):
    return IVMediationRegressor(
        treatment="r",
        mediator=names,
        covariates=covariates,
        cov_type=cov_type,
        **params,
    ).fit(frame, y, groups=groups if cov_type == "cluster" else None)


def _trial(n_mediators, seed=None):
    return two_mediator_trial(
        n_mediators=n_mediators,
        n_covariates=N_COVARIATES,
        seed=n_mediators if seed is None else seed,
    )


@pytest.mark.parametrize("n_mediators", [2, 3])
@pytest.mark.parametrize("cov_type", sorted(LINEARMODELS_COV))
def test_per_mediator_and_joint_match_linearmodels(n_mediators, cov_type):
    frame, y, groups, names = _trial(n_mediators)
    covariates, exog, instruments = _matrices(frame, N_COVARIATES)
    fs = _fit(frame, y, names, covariates, cov_type, groups).first_stage_
    lm_cov, debiased = LINEARMODELS_COV[cov_type]
    ref = IV2SLS(y, exog, frame[names], instruments).fit(
        cov_type=lm_cov, debiased=debiased, **_cov_kwargs(cov_type, groups)
    )
    diag = ref.first_stage.diagnostics.loc[names]
    table = fs.per_mediator
    assert list(table.index) == names
    assert_allclose(table["partial_r2"], diag["partial.rsquared"], rtol=RTOL)
    assert_allclose(table["shea_r2"], diag["shea.rsquared"], rtol=RTOL)
    p = instruments.shape[1]
    if lm_cov == "unadjusted":
        # linearmodels divides by p; its debiased covariance is the classical F
        assert_allclose(table["wald_f"], diag["f.stat"], rtol=RTOL)
    else:
        assert_allclose(table["wald_f"] * p, diag["f.stat"], rtol=RTOL)
    classical = IV2SLS(y, exog, frame[names], instruments).fit(
        cov_type="unadjusted", debiased=True
    )
    assert_allclose(
        table["partial_f"],
        classical.first_stage.diagnostics.loc[names, "f.stat"],
        rtol=RTOL,
    )
    assert fs.cragg_donald_f == pytest.approx(ref.first_stage.cragg_donald_f, rel=RTOL)
    n, n_inst = len(y), exog.shape[1] + p
    kp = ref.first_stage.kleibergen_paap_f
    expected = {
        "classical": fs.cragg_donald_f,
        "unadjusted": fs.cragg_donald_f * n / (n - n_inst),
        "HC0": kp * n / (n - n_inst),
        "HC1": kp,
        "cluster": kp,
    }[cov_type]
    assert fs.kleibergen_paap_f == pytest.approx(expected, rel=RTOL)
    # the scalar attributes are the joint statistics
    assert fs.f_statistic == fs.cragg_donald_f
    assert fs.wald_f_statistic == fs.kleibergen_paap_f
    assert fs.effective_f is None
    assert fs.weak_test == (
        "cragg_donald" if cov_type in ("unadjusted", "classical") else "kleibergen_paap"
    )


@pytest.mark.parametrize("n_mediators", [2, 3])
def test_cragg_donald_matches_ivmodels(n_mediators):
    frame, y, _, names = _trial(n_mediators, seed=11)
    covariates, exog, instruments = _matrices(frame, N_COVARIATES)
    fs = _fit(frame, y, names, covariates, "HC1").first_stage_
    statistic, _ = rank_test(
        instruments.to_numpy(),
        frame[names].to_numpy(),
        C=exog.drop(columns="intercept").to_numpy(),
        fit_intercept=True,
    )
    assert fs.cragg_donald_f * instruments.shape[1] == pytest.approx(
        statistic, rel=RTOL
    )


@pytest.mark.parametrize("cov_type", ["classical", "HC1", "cluster"])
def test_analytic_weights_match_linearmodels(cov_type):
    frame, y, groups, names = _trial(2, seed=7)
    covariates, exog, instruments = _matrices(frame, N_COVARIATES)
    weights = np.random.default_rng(3).uniform(0.2, 3.0, len(y))
    # linearmodels centres the interactions with the weighted covariate means
    mean = np.average(frame[covariates], axis=0, weights=weights)
    instruments = (frame[covariates] - mean).mul(frame["r"], axis=0).add_prefix("r:")
    est = IVMediationRegressor(
        treatment="r",
        mediator=names,
        covariates=covariates,
        cov_type=cov_type,
        weight_type="analytic",
    ).fit(
        frame,
        y,
        sample_weight=weights,
        groups=groups if cov_type == "cluster" else None,
    )
    fs = est.first_stage_
    lm_cov, debiased = LINEARMODELS_COV[cov_type]
    ref = IV2SLS(y, exog, frame[names], instruments, weights=weights).fit(
        cov_type=lm_cov, debiased=debiased, **_cov_kwargs(cov_type, groups)
    )
    diag = ref.first_stage.diagnostics.loc[names]
    assert_allclose(fs.per_mediator["partial_r2"], diag["partial.rsquared"], rtol=RTOL)
    assert_allclose(fs.per_mediator["shea_r2"], diag["shea.rsquared"], rtol=RTOL)
    assert fs.cragg_donald_f == pytest.approx(ref.first_stage.cragg_donald_f, rel=RTOL)
    assert fs.kleibergen_paap_f == pytest.approx(
        ref.first_stage.kleibergen_paap_f, rel=RTOL
    )


def _sanderson_windmeijer(frame, names, exog, instruments, j, cov_type, groups):
    """``δ̂`` by 2SLS (numpy), then the Wald F of the instruments in the OLS of
    ``M_j - M_{-j}δ̂`` on all instruments (statsmodels)."""
    q = np.column_stack([exog, instruments])
    x = frame[names].to_numpy()
    others = [i for i in range(len(names)) if i != j]
    fitted = q @ np.linalg.lstsq(q, x, rcond=None)[0]
    a, b = fitted[:, others], x[:, others]
    # 2SLS of x_j on [W, X_{-j}] with instruments Q
    regressors = np.column_stack([exog, b])
    projected = np.column_stack([exog, a])
    coef = np.linalg.solve(projected.T @ regressors, projected.T @ x[:, j])
    resid = x[:, j] - b @ coef[exog.shape[1] :]
    model = sm.OLS(resid, q)
    if cov_type == "cluster":
        fit = model.fit(cov_type="cluster", cov_kwds={"groups": groups})
    elif cov_type == "HC1":
        fit = model.fit(cov_type="HC1")
    else:
        fit = model.fit()
    k = instruments.shape[1]
    tail = slice(exog.shape[1], exog.shape[1] + k)
    params = fit.params[tail]
    cov = fit.cov_params()[tail, tail]
    return float(params @ np.linalg.solve(cov, params)) / (k - len(names) + 1)


@pytest.mark.parametrize("n_mediators", [2, 3])
@pytest.mark.parametrize("cov_type", ["classical", "HC1", "cluster"])
def test_sanderson_windmeijer_matches_a_direct_computation(n_mediators, cov_type):
    frame, y, groups, names = _trial(n_mediators, seed=20 + n_mediators)
    covariates, exog, instruments = _matrices(frame, N_COVARIATES)
    table = _fit(frame, y, names, covariates, cov_type, groups).first_stage_
    table = table.per_mediator
    column = "sw_f" if cov_type == "classical" else "sw_wald_f"
    for j, name in enumerate(names):
        want = _sanderson_windmeijer(
            frame, names, exog.to_numpy(), instruments.to_numpy(), j, cov_type, groups
        )
        assert table.loc[name, column] == pytest.approx(want, rel=RTOL)
    if cov_type == "classical":
        assert_allclose(table["sw_wald_f"], table["sw_f"], rtol=1e-12)


@pytest.mark.parametrize("cov_type", ["unadjusted", "classical", "HC1", "cluster"])
def test_one_mediator_reduces_to_the_one_mediator_statistics(cov_type):
    frame, y, groups, _ = _trial(2, seed=4)
    covariates = [f"x{j + 1}" for j in range(N_COVARIATES)]
    fs = _fit(frame, y, "m1", covariates, cov_type, groups).first_stage_
    listed = _fit(frame, y, ["m1"], covariates, cov_type, groups).first_stage_
    table = fs.per_mediator
    assert list(table.index) == ["m1"]
    row = table.loc["m1"]
    assert row["partial_f"] == fs.f_statistic
    assert row["partial_r2"] == fs.partial_r2
    assert row["wald_f"] == fs.wald_f_statistic
    assert row["critical_value"] == fs.critical_value
    assert row["is_weak"] == fs.is_weak
    assert row["shea_r2"] == pytest.approx(fs.partial_r2, rel=1e-12)
    assert row["sw_f"] == pytest.approx(fs.f_statistic, rel=1e-12)
    assert row["sw_wald_f"] == pytest.approx(fs.wald_f_statistic, rel=1e-10)
    assert fs.cragg_donald_f == pytest.approx(fs.f_statistic, rel=1e-12)
    assert fs.kleibergen_paap_f == pytest.approx(fs.wald_f_statistic, rel=1e-10)
    assert fs.effective_f is not None and fs.weak_test in ("stock_yogo", "effective_f")
    assert listed == fs
    assert fs.mediators == ("m1",)


def _statistics(fs):
    table = fs.per_mediator.drop(columns="is_weak").to_numpy(dtype=float)
    return np.concatenate([table.ravel(), [fs.cragg_donald_f, fs.kleibergen_paap_f]])


@pytest.mark.parametrize("cov_type", ["classical", "HC1", "cluster"])
def test_statistics_do_not_depend_on_the_basis(cov_type):
    frame, y, groups, names = _trial(2, seed=9)
    covariates = [f"x{j + 1}" for j in range(N_COVARIATES)]
    base = _statistics(_fit(frame, y, names, covariates, cov_type, groups).first_stage_)
    offset = frame.assign(x1=frame["x1"] + 1e6, m1=frame["m1"] + 1e6)
    shifted = _statistics(
        _fit(offset, y, names, covariates, cov_type, groups).first_stage_
    )
    assert_allclose(shifted, base, rtol=1e-6)
    # x2 rewritten as x1 + 1e-4 x2: the same column space, nearly collinear
    collinear = frame.assign(x2=frame["x1"] + 1e-4 * frame["x2"])
    rewritten = _statistics(
        _fit(collinear, y, names, covariates, cov_type, groups).first_stage_
    )
    assert_allclose(rewritten, base, rtol=1e-6)


def test_frequency_weights_are_repeated_rows():
    frame, y, _, names = _trial(2, seed=13)
    covariates = [f"x{j + 1}" for j in range(N_COVARIATES)]
    counts = np.random.default_rng(5).integers(1, 4, len(y))
    rows = np.repeat(np.arange(len(y)), counts)
    weighted = IVMediationRegressor(
        treatment="r", mediator=names, covariates=covariates, cov_type="HC1"
    ).fit(frame, y, sample_weight=counts.astype(float))
    repeated = _fit(
        frame.iloc[rows].reset_index(drop=True),
        y.iloc[rows].reset_index(drop=True),
        names,
        covariates,
        "HC1",
    )
    assert_allclose(
        _statistics(weighted.first_stage_),
        _statistics(repeated.first_stage_),
        rtol=RTOL,
    )


def weak_second_mediator_trial(n=1000, seed=0):
    """``m1``'s response to ``r`` varies with ``x1`` and ``x2`` (strong);
    ``m2``'s barely varies at all (weakly identified)."""
    rng = np.random.default_rng(seed)
    r = rng.integers(0, 2, n).astype(float)
    x = rng.normal(size=(n, 3))
    u = rng.normal(size=n)
    m1 = r * (1 + x[:, 0] - x[:, 1]) + u + rng.normal(size=n)
    m2 = r * (1 + 0.03 * x[:, 2]) + u + rng.normal(size=n)
    y = 0.5 * r + m1 + 0.5 * m2 + x[:, 0] + u + rng.normal(size=n)
    frame = pd.DataFrame(
        {"r": r, "x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2], "m1": m1, "m2": m2}
    )
    return frame, pd.Series(y, name="y")


@pytest.mark.parametrize("cov_type", ["classical", "HC1"])
def test_the_warning_names_the_weak_mediator(cov_type):
    frame, y = weak_second_mediator_trial()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = _fit(frame, y, ["m1", "m2"], ["x1", "x2", "x3"], cov_type)
    weak = [w for w in caught if issubclass(w.category, WeakInstrumentWarning)]
    assert len(weak) == 1
    message = str(weak[0].message)
    assert "mediator 'm2' is weakly identified" in message
    assert "'m1'" not in message
    fs = est.first_stage_
    assert fs.is_weak
    assert list(fs.per_mediator["is_weak"]) == [False, True]
    assert fs.weak_mediators == ("m2",)
    statistic = "sw_f" if cov_type == "classical" else "sw_wald_f"
    row = fs.per_mediator.loc["m2"]
    assert row[statistic] < row["critical_value"] == pytest.approx(11.59)
    assert f"{row[statistic]:.2f}" in message
    joint = "Cragg-Donald" if cov_type == "classical" else "Kleibergen-Paap"
    assert joint in message
    # the summary, the diagnostics table and the report say the same
    text = " ".join(est.summary().as_text().split())
    assert "weakly identified: m2" in text
    assert "Shea R2" in text
    diagnostics = est.diagnostics_
    assert diagnostics.loc["sanderson_windmeijer_f[m2]", "statistic"] == row["sw_f"]
    assert diagnostics.loc["kleibergen_paap_f", "statistic"] == fs.kleibergen_paap_f
    assert "effective_f" not in diagnostics.index
    section = first_stage_section(est)
    assert [s.mediator for s in section.mediator_stages] == ["m1", "m2"]
    report = Summary(_first_stage_blocks(SimpleNamespace(first_stage=section), 3))
    report_text = report.as_markdown()
    assert "| m2 |" in report_text and "| Shea R-squared |" in report_text
    assert "'m2' is weakly identified" in report_text
    assert f"{fs.cragg_donald_f:.2f}" in report_text


def test_strong_mediators_do_not_warn():
    frame, y, _, names = _trial(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", WeakInstrumentWarning)
        est = _fit(frame, y, names, [f"x{j + 1}" for j in range(4)], "classical")
    fs = est.first_stage_
    assert not fs.is_weak and fs.weak_mediators == ()
    # Stock-Yogo for two endogenous regressors and four instruments
    assert (fs.critical_table, fs.critical_value) == ("tsls_size", 9.93)
    # one endogenous regressor and 4 - 2 + 1 = 3 instruments
    assert list(fs.per_mediator["critical_value"]) == [12.83, 12.83]


def test_few_clusters_leave_the_robust_joint_statistics_undefined():
    frame, y, _, names = _trial(2)
    covariates = [f"x{j + 1}" for j in range(N_COVARIATES)]
    groups = np.arange(len(y)) % 3  # 3 clusters: not more than p - q + 1 = 3
    with pytest.warns(FewClustersWarning):
        fs = _fit(frame, y, names, covariates, "cluster", groups).first_stage_
    assert np.isnan(fs.kleibergen_paap_f)
    assert np.isnan(fs.per_mediator["sw_wald_f"]).all()
    # the classical statistics do not depend on the clusters
    classical = _fit(frame, y, names, covariates, "classical").first_stage_
    assert fs.cragg_donald_f == pytest.approx(classical.cragg_donald_f, rel=1e-12)
    assert_allclose(fs.per_mediator["sw_f"], classical.per_mediator["sw_f"])
