"""LIML and Fuller estimates against the hand computation in tests/reference.

``tests/reference/kclass.json`` is written by ``kclass_reference.py``, which
evaluates the textbook formulas (the LIML ``κ`` as the smallest root of
``det(WᵀM_X W - κ WᵀM_Z W) = 0``, ``β(κ) = [Dᵀ(I - κM_Z)D]⁻¹Dᵀ(I - κM_Z)y``
and the classical covariance ``σ²[Dᵀ(I - κM_Z)D]⁻¹``) with the normal
equations, sharing no code with the library. Tolerance: 1e-8 relative for
``κ``, estimates and classical standard errors (the two agree to about 1e-12
on these datasets). The same script at ``κ = 1`` is checked against R's
``AER::ivreg`` (two-stage least squares), which validates its route where an
independent implementation exists.
"""

import json
from contextlib import nullcontext
from pathlib import Path

import pandas as pd
import pytest
from numpy.testing import assert_allclose

from skmediate import IVMediationRegressor, WeakInstrumentWarning

REFERENCE = Path(__file__).parent / "reference"
KCLASS = json.loads((REFERENCE / "kclass.json").read_text())
CASES = {case["dataset"]: case for case in KCLASS["datasets"]}
RTOL = 1e-8

ESTIMATORS = {
    "liml": dict(kappa="liml"),
    "fuller1": dict(kappa="fuller", fuller_alpha=1.0),
    "fuller4": dict(kappa="fuller", fuller_alpha=4.0),
}
# trial_weak has a first-stage partial F of about 1.5, far below the
# Stock-Yogo critical value; the other two datasets are above it.
WEAK = {"trial_binary": False, "trial_clustered": False, "trial_weak": True}


def _roles(data):
    covariates = [c for c in data.columns if c.startswith("x")]
    controls = [c for c in data.columns if c == "z"] or None
    return dict(treatment="r", mediator="m", covariates=covariates, controls=controls)


def test_reference_covers_every_dataset_and_estimator():
    assert sorted(CASES) == sorted(WEAK)
    for case in CASES.values():
        assert sorted(case["estimates"]) == sorted([*ESTIMATORS, "2sls"])


@pytest.mark.parametrize("estimator", sorted(ESTIMATORS))
@pytest.mark.parametrize("name", sorted(CASES))
def test_kclass_matches_hand_computation(name, estimator):
    case = CASES[name]
    expected = case["estimates"][estimator]
    data = pd.read_csv(REFERENCE / f"{name}.csv")
    est = IVMediationRegressor(
        **_roles(data), cov_type="classical", **ESTIMATORS[estimator]
    )
    weak = pytest.warns(WeakInstrumentWarning, match="Weak instruments")
    with weak if WEAK[name] else nullcontext():
        est.fit(data, data["y"])

    assert est.kappa_ == pytest.approx(expected["kappa"], rel=RTOL)
    assert est.result_.kappa == est.kappa_
    assert list(est.result_.params.index) == case["terms"]
    assert_allclose(est.result_.params, expected["params"], rtol=RTOL)
    assert_allclose(est.result_.std_errors, expected["se_classical"], rtol=RTOL)
    assert est.result_.nobs == case["n"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_fuller_kappa_convention(name):
    """Fuller's ``κ`` is ``κ_LIML - α/(n - L)``, ``L`` counting all instruments."""
    case = CASES[name]
    data = pd.read_csv(REFERENCE / f"{name}.csv")
    roles = _roles(data)
    # intercept, covariates, controls, treatment, one interaction per covariate
    n_inst = 1 + 2 * len(roles["covariates"]) + len(roles["controls"] or []) + 1
    assert case["n_instruments"] == n_inst
    estimates = case["estimates"]
    for alpha in (1.0, 4.0):
        fuller = estimates[f"fuller{alpha:g}"]
        assert fuller["fuller_alpha"] == alpha
        assert fuller["kappa"] == pytest.approx(
            estimates["liml"]["kappa"] - alpha / (case["n"] - n_inst), rel=1e-15
        )


@pytest.mark.parametrize("name", sorted(CASES))
def test_reference_route_reproduces_r_at_kappa_one(name):
    """At ``κ = 1`` the hand computation is 2SLS and must equal AER::ivreg."""
    case = CASES[name]
    r_ref = json.loads((REFERENCE / f"{name}.json").read_text())
    tsls = case["estimates"]["2sls"]
    assert tsls["kappa"] == 1.0
    assert case["k"] == r_ref["k"] and case["n"] == r_ref["n"]
    assert_allclose(tsls["params"], r_ref["iv"]["coef"], rtol=RTOL)
    assert_allclose(tsls["se_classical"], r_ref["iv"]["se"]["classical"], rtol=RTOL)
