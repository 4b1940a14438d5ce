"""result_.wald_test: linear restrictions against statsmodels and linearmodels."""

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from linearmodels.iv import IV2SLS
from numpy.testing import assert_allclose

from skmediate import IVMediationRegressor, NaiveMediationRegressor

from .conftest import simulate_trial

RTOL = 1e-8


@pytest.fixture(scope="module")
def trial():
    X, y, groups = simulate_trial(
        n=800, n_covariates=2, n_clusters=40, instrument_strength=2.0, seed=8
    )
    return X, y, groups


def _matrices(X):
    exog = sm.add_constant(X[["x1", "x2", "r"]]).rename(columns={"const": "intercept"})
    instruments = X[["x1", "x2"]].mul(X["r"], axis=0).set_axis(["r:x1", "r:x2"], axis=1)
    return exog, instruments


@pytest.mark.parametrize("cov_type", ["HC1", "cluster"])
def test_iv_wald_test_matches_linearmodels(trial, cov_type):
    X, y, groups = trial
    est = IVMediationRegressor(treatment="r", mediator="m", cov_type=cov_type)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(
            X[["r", "m", "x1", "x2"]],
            y,
            groups=groups if cov_type == "cluster" else None,
        )
    exog, instruments = _matrices(X)
    kwargs = {"clusters": groups} if cov_type == "cluster" else {}
    lm_cov = "clustered" if cov_type == "cluster" else "robust"
    ref = IV2SLS(y, exog, X["m"], instruments).fit(
        cov_type=lm_cov, debiased=True, **kwargs
    )
    cases = [
        ("m = 2", "m = 2"),
        ("r + m = 1, x1 = x2", "r + m = 1, x1 - x2 = 0"),
        ("2*x1 - x2 = 0.5", "2*x1 - x2 = 0.5"),
    ]
    for text, formula in cases:  # linearmodels wants a number on the right
        got = est.result_.wald_test(text)
        want = ref.wald_test(formula=formula)
        assert got.distribution == "chi2" and got.df == want.df
        assert_allclose(got.statistic, want.stat, rtol=RTOL)
        assert_allclose(got.pvalue, want.pval, rtol=1e-7, atol=1e-15)


@pytest.mark.parametrize("use_t", [False, True])
def test_naive_wald_test_matches_statsmodels(trial, use_t):
    X, y, _ = trial
    est = NaiveMediationRegressor(
        treatment="r", mediator="m", cov_type="HC1", use_t=use_t
    ).fit(X[["r", "m", "x1", "x2"]], y)
    exog = sm.add_constant(X[["x1", "x2", "r", "m"]]).rename(
        columns={"const": "intercept"}
    )
    ref = sm.OLS(y, exog).fit(cov_type="HC1", use_t=use_t)
    for text in ("m = 0", "r = -1, m = 2", "x1 - 3*x2 = 0"):
        got = est.result_.wald_test(text)
        want = ref.wald_test(text, use_f=use_t, scalar=True)
        assert_allclose(got.statistic, want.statistic, rtol=RTOL)
        assert_allclose(got.pvalue, want.pvalue, rtol=1e-7, atol=1e-15)
        assert got.distribution == ("F" if use_t else "chi2")
        if use_t:
            assert got.df_denom == pytest.approx(want.df_denom)
    # one restriction: the square of the t statistic
    t = est.result_.zstats["m"]
    assert_allclose(est.result_.wald_test("m = 0").statistic, t * t, rtol=RTOL)


def test_matrix_form_and_errors(trial):
    X, y, _ = trial
    est = NaiveMediationRegressor(treatment="r", mediator="m").fit(
        X[["r", "m", "x1", "x2"]], y
    )
    res = est.result_
    terms = list(res.params.index)
    r = np.zeros((1, len(terms)))
    r[0, terms.index("m")] = 1.0
    by_matrix = res.wald_test((r, [0.0]))
    assert by_matrix.statistic == pytest.approx(res.wald_test("m = 0").statistic)
    assert "chi2(1)" in repr(by_matrix)
    with pytest.raises(ValueError, match="names 'z'"):
        res.wald_test("z = 0")
    with pytest.raises(ValueError, match="one '='"):
        res.wald_test("m")
    with pytest.raises(ValueError, match="linearly dependent"):
        res.wald_test("m = 0, 2*m = 0")
    with pytest.raises(ValueError, match="cannot read"):
        res.wald_test("m * * 2 = 0")
    with pytest.raises(ValueError, match="shape"):
        res.wald_test((np.ones((1, 2)), [0.0]))


def test_few_clusters_joint_test_is_not_defined():
    X, y, groups = simulate_trial(n=300, n_covariates=2, n_clusters=3, seed=2)
    est = NaiveMediationRegressor(treatment="r", mediator="m", cov_type="cluster")
    est.fit(X[["r", "m", "x1", "x2"]], y, groups=groups)
    assert np.isfinite(est.result_.wald_test("m = 0").statistic)
    assert np.isnan(est.result_.wald_test("m = 0, r = 0, x1 = 0").statistic)
