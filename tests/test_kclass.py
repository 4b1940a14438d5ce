"""LIML, Fuller and fixed-kappa k-class estimates against linearmodels IVLIML.

Tolerance: 1e-8 relative for estimates, standard errors, covariances and
kappa (the implementations agree to about 1e-13 on these designs).

linearmodels' conventions, read from its source (``linearmodels/iv/model.py``
and ``covariance.py``, version 7.1) and matched here:

- LIML kappa: the smallest eigenvalue of ``(Eᵀ M_W E)(Eᵀ M_Q E)⁻¹`` with
  ``E = [y, endog]``;
- Fuller: ``kappa = kappa_LIML - alpha / (n - n_instr)`` with ``n_instr`` the
  number of columns of ``[exog, instruments]``;
- covariance: bread ``(Xᵀ(I - κM_Z)X)⁻¹``; homoskedastic meat ``s²`` times the
  inverse bread; robust and clustered meats built from the 2SLS projections
  ``P_Z X`` times the k-class residuals; ``debiased`` multiplies by
  ``n/(n - k)`` (and ``G/(G-1)(n-1)/n`` more for clusters).
"""

import numpy as np
import pytest
from linearmodels.iv import IVLIML
from numpy.testing import assert_allclose
from sklearn.utils._param_validation import InvalidParameterError

from skmediate import (
    IVMediationRegressor,
    NaiveMediationRegressor,
    WeakInstrumentWarning,
)

from .conftest import simulate_trial
from .test_reference_python import (
    LINEARMODELS_COV,
    _cov_kwargs,
    _design,
    _estimator_kwargs,
    _reference_matrices,
)

RTOL = 1e-8

KAPPAS = {
    "liml": dict(kappa="liml"),
    "fuller1": dict(kappa="fuller"),
    "fuller4": dict(kappa="fuller", fuller_alpha=4.0),
    "fixed0.7": dict(kappa=0.7),
    "fixed1.01": dict(kappa=1.01),
}


def _linearmodels_kwargs(params):
    if params["kappa"] == "liml":
        return {}
    if params["kappa"] == "fuller":
        return {"fuller": params.get("fuller_alpha", 1.0)}
    return {"kappa": params["kappa"]}


@pytest.mark.parametrize("design", ["five_covariates", "clusters", "site"])
@pytest.mark.parametrize("cov_type", sorted(LINEARMODELS_COV))
@pytest.mark.parametrize("name", sorted(KAPPAS))
def test_kclass_matches_linearmodels(design, cov_type, name):
    X, y, groups = _design(design)
    params = KAPPAS[name]
    est = IVMediationRegressor(**_estimator_kwargs(X), cov_type=cov_type, **params)
    est.fit(X, y, groups=groups if cov_type == "cluster" else None)

    exog, instruments = _reference_matrices(X)
    lm_cov, debiased = LINEARMODELS_COV[cov_type]
    ref = IVLIML(y, exog, X["m"], instruments, **_linearmodels_kwargs(params)).fit(
        cov_type=lm_cov, debiased=debiased, **_cov_kwargs(cov_type, groups)
    )
    assert est.kappa_ == pytest.approx(ref.kappa, rel=RTOL)
    assert_allclose(est.result_.params, ref.params, rtol=RTOL)
    assert_allclose(est.result_.std_errors, ref.std_errors, rtol=RTOL)
    assert_allclose(est.result_.cov, ref.cov, rtol=RTOL, atol=1e-14)
    # Sargan's statistic uses the k-class residuals in linearmodels too.
    sargan = est.diagnostics_.loc["sargan"]
    assert sargan.statistic == pytest.approx(ref.sargan.stat, rel=RTOL)
    assert sargan.pvalue == pytest.approx(ref.sargan.pval, rel=1e-6, abs=1e-300)


def test_liml_kappa_is_one_and_equals_2sls_when_exactly_identified():
    X, y, _ = simulate_trial(n=300, n_covariates=1, seed=3)
    tsls = IVMediationRegressor(treatment="r", mediator="m").fit(X, y)
    liml = IVMediationRegressor(treatment="r", mediator="m", kappa="liml").fit(X, y)
    assert liml.kappa_ == 1.0
    assert_allclose(liml.coef_, tsls.coef_, rtol=1e-12)
    assert_allclose(liml.result_.cov, tsls.result_.cov, rtol=1e-10)


def test_kappa_zero_gives_least_squares():
    X, y, _ = simulate_trial(n=400, seed=8)
    roles = dict(treatment="r", mediator="m")
    kclass = IVMediationRegressor(**roles, kappa=0.0, cov_type="classical").fit(X, y)
    naive = NaiveMediationRegressor(**roles, cov_type="classical").fit(X, y)
    assert_allclose(kclass.coef_, naive.coef_, rtol=1e-12)
    # With kappa = 0 the homoskedastic bread is (DᵀD)⁻¹, as for OLS.
    assert_allclose(kclass.result_.cov, naive.result_.cov, rtol=1e-10)


def test_fuller_sits_between_liml_and_ols():
    X, y, _ = simulate_trial(n=400, seed=9)
    roles = dict(treatment="r", mediator="m")
    liml = IVMediationRegressor(**roles, kappa="liml").fit(X, y)
    fuller = IVMediationRegressor(**roles, kappa="fuller").fit(X, y)
    n_inst = 1 + 2 + 1 + 2  # intercept, x1, x2, r, r:x1, r:x2
    assert fuller.kappa_ == pytest.approx(liml.kappa_ - 1.0 / (400 - n_inst), rel=1e-12)
    assert liml.kappa_ > 1


def test_weights_equal_repeated_rows():
    X, y, groups = _design("clusters")
    weights = np.random.default_rng(2).integers(1, 4, len(y)).astype(float)
    kwargs = dict(**_estimator_kwargs(X), kappa="fuller", cov_type="cluster")
    a = IVMediationRegressor(**kwargs).fit(X, y, sample_weight=weights, groups=groups)
    rows = np.repeat(np.arange(len(y)), weights.astype(int))
    b = IVMediationRegressor(**kwargs).fit(
        X.iloc[rows], y.iloc[rows], groups=groups[rows]
    )
    assert a.kappa_ == pytest.approx(b.kappa_, rel=1e-12)
    assert_allclose(a.result_.params, b.result_.params, rtol=1e-10)
    assert_allclose(a.result_.std_errors, b.result_.std_errors, rtol=1e-10)


def test_linearity_in_y_is_flagged():
    X, y, _ = simulate_trial(n=300, seed=4)
    roles = dict(treatment="r", mediator="m")
    assert IVMediationRegressor(**roles).linear_in_y
    assert IVMediationRegressor(**roles, kappa=0.5).linear_in_y
    assert NaiveMediationRegressor(**roles).linear_in_y
    for kappa in ("liml", "fuller"):
        est = IVMediationRegressor(**roles, kappa=kappa)
        assert not est.linear_in_y
        with pytest.warns(WeakInstrumentWarning):
            assert not est.fit(X, y).result_.model.linear_in_y


def test_fixed_kappa_is_linear_in_the_outcome():
    X, y, _ = simulate_trial(n=300, seed=5)
    est = IVMediationRegressor(treatment="r", mediator="m", kappa=0.6)
    model = est.fit(X, y).result_.model
    assert model.linear_in_y and model.kappa == 0.6
    rhs = np.random.default_rng(0).normal(size=(len(y), 2))

    def params(outcome):
        return (
            IVMediationRegressor(treatment="r", mediator="m", kappa=0.6)
            .fit(X, outcome)
            .result_.estimates
        )

    combined = params(2.0 * rhs[:, 0] - 3.0 * rhs[:, 1])
    assert_allclose(
        combined,
        2.0 * params(rhs[:, 0]) - 3.0 * params(rhs[:, 1]),
        rtol=1e-9,
        atol=1e-12,
    )


def test_kappa_too_large_is_a_clear_error():
    X, y, _ = simulate_trial(n=300, seed=6)
    with pytest.raises(ValueError, match=r"kappa=50 is too large.*below"):
        IVMediationRegressor(treatment="r", mediator="m", kappa=50.0).fit(X, y)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(kappa="gmm"), r"'kappa' parameter .* must be a str among .*liml"),
        (dict(kappa=None), r"'kappa' parameter"),
        (
            dict(kappa="fuller", fuller_alpha=0.0),
            r"'fuller_alpha' .* range \(0\.0, inf\)",
        ),
        (dict(kappa="fuller", fuller_alpha=-1.0), r"'fuller_alpha' parameter"),
    ],
)
def test_bad_kappa_and_fuller_alpha(params, match):
    X, y, _ = simulate_trial(n=200, seed=7)
    with pytest.raises(InvalidParameterError, match=match):
        IVMediationRegressor(treatment="r", mediator="m", **params).fit(X, y)
