"""Estimates, all five covariances and the first-stage F against linearmodels and statsmodels.

Tolerance: 1e-8 relative for every number (the two implementations agree to
about 1e-13 on these designs).
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from linearmodels.iv import IV2SLS
from numpy.testing import assert_allclose
from sklearn.compose import make_column_transformer
from sklearn.preprocessing import OneHotEncoder

from skmediate import IVMediationRegressor, NaiveMediationRegressor

from .conftest import simulate_trial

RTOL = 1e-8

# our cov_type -> (linearmodels cov_type, debiased)
LINEARMODELS_COV = {
    "unadjusted": ("unadjusted", False),
    "classical": ("unadjusted", True),
    "HC0": ("robust", False),
    "HC1": ("robust", True),
    "cluster": ("clustered", True),
}

DESIGNS = {
    "continuous": dict(n=400, n_covariates=2, seed=1),
    "binary": dict(n=600, n_covariates=2, binary_mediator=True, seed=2),
    "one_covariate": dict(n=300, n_covariates=1, seed=3),
    "five_covariates": dict(n=800, n_covariates=5, seed=4),
    "controls": dict(n=500, n_covariates=2, n_controls=2, seed=5),
    "clusters": dict(n=900, n_covariates=3, n_controls=1, n_clusters=35, seed=6),
    "site": dict(n=600, n_covariates=1, site=True, seed=7),
}


def _layout(X):
    covariates = [c for c in X.columns if c.startswith("x") or c == "site"]
    controls = [c for c in X.columns if c.startswith("z")] or None
    return covariates, controls


def _estimator_kwargs(X):
    covariates, controls = _layout(X)
    kwargs = dict(treatment="r", mediator="m", covariates=covariates, controls=controls)
    if "site" in X:
        kwargs["covariate_transformer"] = make_column_transformer(
            (OneHotEncoder(drop="first", sparse_output=False), ["site"]),
            remainder="passthrough",
            verbose_feature_names_out=False,
        )
    return kwargs


def _reference_matrices(X):
    """Exogenous regressors and excluded instruments in the estimator's term order."""
    covariates, controls = _layout(X)
    cov = X[covariates]
    if "site" in cov:
        cov = pd.get_dummies(cov, columns=["site"], drop_first=True, dtype=float)
        cov = cov[[c for c in cov.columns if c.startswith("site")] + ["x1"]]
    ctrl = X[controls] if controls else pd.DataFrame(index=X.index)
    exog = pd.concat(
        [pd.Series(1.0, index=X.index, name="intercept"), cov, ctrl, X["r"]], axis=1
    )
    centered = cov - cov.mean()
    instruments = centered.mul(X["r"], axis=0).add_prefix("r:")
    return exog, instruments


def _cov_kwargs(cov_type, groups):
    if cov_type == "cluster":
        return {"clusters": groups}
    return {}


def _design(name):
    params = DESIGNS[name]
    X, y, groups = simulate_trial(**params)
    if groups is None:
        groups = np.arange(len(y)) // 10
    return X, y, groups


@pytest.mark.parametrize("design", sorted(DESIGNS))
@pytest.mark.parametrize("cov_type", sorted(LINEARMODELS_COV))
def test_iv_matches_linearmodels(design, cov_type):
    X, y, groups = _design(design)
    est = IVMediationRegressor(**_estimator_kwargs(X), cov_type=cov_type)
    est.fit(X, y, groups=groups if cov_type == "cluster" else None)

    exog, instruments = _reference_matrices(X)
    lm_cov, debiased = LINEARMODELS_COV[cov_type]
    ref = IV2SLS(y, exog, X["m"], instruments).fit(
        cov_type=lm_cov, debiased=debiased, **_cov_kwargs(cov_type, groups)
    )
    assert list(est.result_.params.index) == list(ref.params.index)
    assert_allclose(est.result_.params, ref.params, rtol=RTOL)
    assert_allclose(est.result_.std_errors, ref.std_errors, rtol=RTOL)
    assert_allclose(est.result_.cov, ref.cov, rtol=RTOL, atol=1e-14)
    assert est.direct_effect_ == pytest.approx(ref.params["r"], rel=RTOL)
    assert est.mediator_effect_ == pytest.approx(ref.params["m"], rel=RTOL)

    # First stage: the robust Wald statistic with the same covariance.
    diag = ref.first_stage.diagnostics.loc["m"]
    p = instruments.shape[1]
    fs = est.first_stage_
    assert fs.n_instruments == p
    assert fs.partial_r2 == pytest.approx(diag["partial.rsquared"], rel=RTOL)
    if lm_cov == "unadjusted":
        # linearmodels' statistic is already divided by p and uses its own
        # variance divisor: n - k when debiased, n otherwise.
        assert fs.wald_f_statistic == pytest.approx(diag["f.stat"], rel=RTOL)
    else:
        assert fs.wald_f_statistic * p == pytest.approx(diag["f.stat"], rel=RTOL)
        assert fs.wald_f_pvalue == pytest.approx(diag["f.pval"], rel=1e-6, abs=1e-300)


@pytest.mark.parametrize("design", sorted(DESIGNS))
def test_first_stage_f_matches_textbook_f(design):
    """The classical partial F equals linearmodels' unadjusted, debiased statistic."""
    X, y, groups = _design(design)
    est = IVMediationRegressor(**_estimator_kwargs(X), cov_type="HC1").fit(X, y)
    exog, instruments = _reference_matrices(X)
    ref = IV2SLS(y, exog, X["m"], instruments).fit(cov_type="unadjusted", debiased=True)
    diag = ref.first_stage.diagnostics.loc["m"]
    assert est.first_stage_.f_statistic == pytest.approx(diag["f.stat"], rel=RTOL)
    assert est.first_stage_.f_pvalue == pytest.approx(
        diag["f.pval"], rel=1e-6, abs=1e-300
    )
    # And the textbook restricted-vs-full regression F from statsmodels.
    full = sm.OLS(X["m"], pd.concat([exog, instruments], axis=1)).fit()
    restricted = sm.OLS(X["m"], exog).fit()
    f_value, _, _ = full.compare_f_test(restricted)
    assert est.first_stage_.f_statistic == pytest.approx(f_value, rel=RTOL)
    assert est.first_stage_.df_denom == full.df_resid


STATSMODELS_COV = {
    "unadjusted": None,
    "classical": ("nonrobust", {}),
    "HC0": ("HC0", {}),
    "HC1": ("HC1", {}),
    "cluster": ("cluster", {}),
}


@pytest.mark.parametrize("design", sorted(DESIGNS))
@pytest.mark.parametrize("cov_type", sorted(STATSMODELS_COV))
def test_naive_matches_statsmodels(design, cov_type):
    X, y, groups = _design(design)
    est = NaiveMediationRegressor(**_estimator_kwargs(X), cov_type=cov_type)
    est.fit(X, y, groups=groups if cov_type == "cluster" else None)
    exog, _ = _reference_matrices(X)
    design_matrix = pd.concat([exog, X["m"]], axis=1)
    model = sm.OLS(y, design_matrix)
    if cov_type == "unadjusted":
        ref = model.fit()
        n, k = design_matrix.shape
        ref_se = ref.bse * np.sqrt((n - k) / n)
    elif cov_type == "cluster":
        ref = model.fit(
            cov_type="cluster", cov_kwds={"groups": groups, "use_correction": True}
        )
        ref_se = ref.bse
    else:
        ref = model.fit(cov_type=STATSMODELS_COV[cov_type][0])
        ref_se = ref.bse
    assert_allclose(est.result_.params, ref.params, rtol=RTOL)
    assert_allclose(est.result_.std_errors, ref_se, rtol=RTOL)
    assert not hasattr(est, "first_stage_")


@pytest.mark.parametrize("cov_type", ["classical", "HC1", "cluster"])
def test_frequency_weights_match_linearmodels_on_repeated_rows(cov_type):
    X, y, groups = _design("clusters")
    weights = np.random.default_rng(0).integers(1, 4, len(y))
    est = IVMediationRegressor(**_estimator_kwargs(X), cov_type=cov_type)
    est.fit(
        X, y, sample_weight=weights, groups=groups if cov_type == "cluster" else None
    )

    rows = np.repeat(np.arange(len(y)), weights)
    Xr, yr, gr = (
        X.iloc[rows].reset_index(drop=True),
        y.iloc[rows].reset_index(drop=True),
        groups[rows],
    )
    exog, instruments = _reference_matrices(Xr)
    lm_cov, debiased = LINEARMODELS_COV[cov_type]
    ref = IV2SLS(yr, exog, Xr["m"], instruments).fit(
        cov_type=lm_cov, debiased=debiased, **_cov_kwargs(cov_type, gr)
    )
    assert est.result_.nobs == len(rows)
    assert_allclose(est.result_.params, ref.params, rtol=RTOL)
    assert_allclose(est.result_.std_errors, ref.std_errors, rtol=RTOL)
