"""Every number against R (AER::ivreg, sandwich, lm) on the datasets in tests/reference.

How the reference files were made is in tests/reference/README.md. Tolerance:
1e-8 relative (R and skmediate agree to about 1e-12 here).
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
    est = IVMediationRegressor(treatment="r", mediator="m", covariates=["x1", "x2"])
    with pytest.warns(
        WeakInstrumentWarning, match=r"F statistic is 1\.46, below .* 11\.59"
    ):
        est.fit(data, data["y"])
    assert est.first_stage_.is_weak
    assert est.first_stage_.critical_value == 11.59
