"""Every number against R (AER::ivreg, sandwich, lm) on the datasets in tests/reference.

How the reference files were made is in tests/reference/README.md. Tolerance:
1e-8 relative (R and skmediate agree to about 1e-12 here). ``test_every_number_is_compared``
lists the JSON keys and fails when a file gains a number no test reads.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from skmediate import (
    IVMediationRegressor,
    NaiveMediationRegressor,
    WeakInstrumentWarning,
)
from skmediate._numerics.diagnostics import first_stage_terms

REFERENCE = Path(__file__).parent / "reference"
DATASETS = ["trial_binary", "trial_clustered", "trial_weak"]
RTOL = 1e-8


def _load(name):
    ref = json.loads((REFERENCE / f"{name}.json").read_text())
    data = pd.read_csv(REFERENCE / f"{name}.csv")
    return ref, data


def _cov_types(ref):
    return [
        c
        for c in ("unadjusted", "classical", "HC0", "HC1", "cluster")
        if c in ref["iv"]["se"]
    ]


def _fit(estimator_class, ref, data, cov_type):
    est = estimator_class(
        treatment=ref["treatment"],
        mediator=ref["mediator"],
        covariates=ref["covariates"],
        controls=ref["controls"] or None,
        cov_type=cov_type,
    )
    groups = data[ref["cluster"]] if cov_type == "cluster" else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeakInstrumentWarning)
        return est.fit(data, data["y"], groups=groups)


@pytest.mark.parametrize("name", DATASETS)
def test_iv_against_r(name):
    ref, data = _load(name)
    for cov_type in _cov_types(ref):
        est = _fit(IVMediationRegressor, ref, data, cov_type)
        assert est.result_.nobs == ref["n"]
        assert_allclose(est.result_.params, ref["iv"]["coef"], rtol=RTOL)
        assert_allclose(est.result_.std_errors, ref["iv"]["se"][cov_type], rtol=RTOL)
        assert_allclose(
            est.result_.cov, np.array(ref["iv"]["cov"][cov_type]), rtol=RTOL, atol=1e-15
        )


@pytest.mark.parametrize("name", DATASETS)
def test_first_stage_against_r(name):
    ref, data = _load(name)
    fs_ref = ref["first_stage"]
    for cov_type in _cov_types(ref):
        fs = _fit(IVMediationRegressor, ref, data, cov_type).first_stage_
        assert fs.f_statistic == pytest.approx(fs_ref["f_statistic"], rel=RTOL)
        assert fs.f_pvalue == pytest.approx(fs_ref["f_pvalue"], rel=1e-7)
        assert (fs.df_num, fs.df_denom) == (fs_ref["df_num"], fs_ref["df_denom"])
        assert fs.partial_r2 == pytest.approx(fs_ref["partial_r2"], rel=RTOL)
        if cov_type in fs_ref["robust_wald_f"]:
            assert fs.wald_f_statistic == pytest.approx(
                fs_ref["robust_wald_f"][cov_type], rel=RTOL
            )


@pytest.mark.parametrize("name", DATASETS)
def test_naive_against_r(name):
    ref, data = _load(name)
    for cov_type, se in ref["ols"]["se"].items():
        est = _fit(NaiveMediationRegressor, ref, data, cov_type)
        assert_allclose(est.result_.params, ref["ols"]["coef"], rtol=RTOL)
        assert_allclose(est.result_.std_errors, se, rtol=RTOL)


def test_weak_dataset_warns():
    ref, data = _load("trial_weak")
    roles = dict(treatment="r", mediator="m", covariates=["x1", "x2"])
    est = IVMediationRegressor(**roles, cov_type="classical")
    with pytest.warns(
        WeakInstrumentWarning, match=r"F statistic is 1\.46, below .* 11\.59"
    ):
        est.fit(data, data["y"])
    assert est.first_stage_.is_weak and est.first_stage_.weak_test == "stock_yogo"
    assert est.first_stage_.critical_value == 11.59
    # With the default HC1 the effective F decides, and also finds them weak.
    est = IVMediationRegressor(**roles)
    with pytest.warns(WeakInstrumentWarning, match=r"effective first-stage F .* HC1"):
        est.fit(data, data["y"])
    assert est.first_stage_.is_weak and est.first_stage_.weak_test == "effective_f"
    assert est.first_stage_.f_statistic == pytest.approx(1.46, abs=0.005)


# JSON keys that hold metadata rather than numbers to compare (the R and
# package versions, and the roles the tests read to set up the fit).
METADATA = {
    "dataset",
    "r_version",
    "package_versions",
    "covariates",
    "controls",
    "treatment",
    "mediator",
    "cluster",
}
# Every other leaf is compared by one of the tests in this file.
COMPARED = {
    "n",
    "k",
    "n_clusters",
    "instruments",
    "iv/terms",
    "iv/coef",
    "iv/se",
    "iv/cov",
    "first_stage/terms",
    "first_stage/coef",
    "first_stage/se_classical",
    "first_stage/instruments",
    "first_stage/f_statistic",
    "first_stage/df_num",
    "first_stage/df_denom",
    "first_stage/f_pvalue",
    "first_stage/partial_r2",
    "first_stage/rss_full",
    "first_stage/rss_restricted",
    "first_stage/robust_wald_f",
    "ols/terms",
    "ols/coef",
    "ols/se",
}


def _leaf_groups(ref):
    """Top-level keys, and ``section/key`` inside iv, first_stage and ols."""
    keys = set()
    for key, value in ref.items():
        if key in ("iv", "first_stage", "ols"):
            keys.update(f"{key}/{sub}" for sub in value)
        else:
            keys.add(key)
    return keys


@pytest.mark.parametrize("name", DATASETS)
def test_every_number_is_compared(name):
    ref, _ = _load(name)
    assert _leaf_groups(ref) <= METADATA | COMPARED
    # The covariance types stored are exactly those the tests loop over.
    expected = {"unadjusted", "classical", "HC0", "HC1"} | (
        {"cluster"} if ref["cluster"] else set()
    )
    assert set(ref["iv"]["se"]) == set(ref["iv"]["cov"]) == expected
    assert set(ref["ols"]["se"]) == expected - {"unadjusted"}
    assert set(ref["first_stage"]["robust_wald_f"]) == expected - {
        "unadjusted",
        "classical",
    }


def _term_names(ref):
    """R's term names in skmediate's spelling."""
    return ["intercept", *ref["covariates"], *ref["controls"], "r", "m"]


@pytest.mark.parametrize("name", DATASETS)
def test_terms_and_sizes_against_r(name):
    ref, data = _load(name)
    terms = _term_names(ref)
    assert ref["iv"]["terms"] == ref["ols"]["terms"] == ["(Intercept)", *terms[1:]]
    cov_type = "cluster" if ref["cluster"] else "HC1"
    iv = _fit(IVMediationRegressor, ref, data, cov_type).result_
    naive = _fit(NaiveMediationRegressor, ref, data, cov_type).result_
    for result in (iv, naive):
        assert list(result.params.index) == terms
        assert len(result.params) == ref["k"]
        assert result.n_clusters == ref["n_clusters"]
    # R names the instruments rx<j>; skmediate r:x<j>.
    assert ref["instruments"] == ref["first_stage"]["instruments"]
    assert [i.replace(":", "") for i in iv.instruments] == ref["instruments"]
    assert ref["first_stage"]["terms"] == [
        "(Intercept)",
        *terms[1:-1],
        *ref["instruments"],
    ]


@pytest.mark.parametrize("name", DATASETS)
def test_first_stage_regression_against_r(name):
    """The full first-stage regression of m on [exog, instruments], and the restricted one."""
    ref, data = _load(name)
    fs_ref = ref["first_stage"]
    est = IVMediationRegressor(
        treatment="r",
        mediator="m",
        covariates=ref["covariates"],
        controls=ref["controls"] or None,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeakInstrumentWarning)
        est.fit(data, data["y"])
    coef, cov, rss, rss_restricted = first_stage_terms(est.result_.model)
    assert_allclose(coef, fs_ref["coef"], rtol=RTOL)
    assert_allclose(np.sqrt(np.diag(cov)), fs_ref["se_classical"], rtol=RTOL)
    assert rss == pytest.approx(fs_ref["rss_full"], rel=RTOL)
    assert rss_restricted == pytest.approx(fs_ref["rss_restricted"], rel=RTOL)
