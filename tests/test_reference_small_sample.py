"""HC2, HC3, CR0, CR1 and CR2 covariances and t-based inference against R's estimatr.

The reference file ``tests/reference/small_sample.json`` is written by
``tests/reference/generate_small_sample.R`` (see tests/reference/README.md):
``estimatr::iv_robust`` and ``lm_robust`` on four cases, one of them the
``trial_sites`` rows repeated by their frequency weights, which a weighted fit
on the compact rows must reproduce. Tolerance: 1e-8 relative for every
estimate, standard error, covariance, degrees of freedom, interval limit and
p-value.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import special

from skmediate import IVMediationRegressor, NaiveMediationRegressor
from skmediate.exceptions import FewClustersWarning, WeakInstrumentWarning

REFERENCE = Path(__file__).parent / "reference"
RTOL = 1e-8
REF = json.loads((REFERENCE / "small_sample.json").read_text())
CASES = list(REF["cases"])
# estimatr's se_type -> skmediate's cov_type
COV_NAMES = {
    "HC0": "HC0",
    "HC1": "HC1",
    "HC2": "HC2",
    "HC3": "HC3",
    "CR0": "CR0",
    "stata": "cluster",
    "CR2": "CR2",
}
ESTIMATORS = {"iv": IVMediationRegressor, "ols": NaiveMediationRegressor}


def _data(case):
    data = pd.read_csv(REFERENCE / f"{case['dataset']}.csv")
    weights = None
    if case["frequency_weights"]:
        weights = data[case["frequency_weights"]].to_numpy(dtype=float)
    return data, weights


def _fit_reference(est, X, y, **kwargs):
    """Fit ``est`` on a fixed reference dataset.

    The datasets cannot change (estimatr computed the references on them),
    and several of their first stages are weak by the effective F with a
    robust covariance (``binary``, ``sites``): the WeakInstrumentWarning is
    expected exactly when the verdict is weak. The 8 sites are few clusters.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", FewClustersWarning)
        warnings.simplefilter("always", WeakInstrumentWarning)
        est.fit(X, y, **kwargs)
    fs = est.result_.first_stage
    expected = [WeakInstrumentWarning] if fs is not None and fs.is_weak else []
    assert [w.category for w in caught] == expected
    return est


def _fit(kind, case, se_type, use_t):
    data, weights = _data(case)
    cov_type = COV_NAMES[se_type]
    est = ESTIMATORS[kind](
        treatment=case["treatment"],
        mediator=case["mediator"],
        covariates=case["covariates"],
        controls=case["controls"] or None,
        cov_type=cov_type,
        use_t=use_t,
    )
    clustered = se_type in ("CR0", "stata", "CR2")
    groups = data[case["cluster"]] if clustered else None
    columns = [case["treatment"], case["mediator"], *case["covariates"]]
    columns += case["controls"]
    return _fit_reference(
        est, data[columns], data["y"], sample_weight=weights, groups=groups
    )


def _entries(kind):
    return [
        (name, se_type)
        for name in CASES
        for se_type in REF["cases"][name][kind]
        if se_type in COV_NAMES
    ]


def _case(name):
    case = dict(REF["cases"][name])
    if name == "sites_expanded":  # the compact rows with their weights
        case["frequency_weights"] = "w"
    else:
        case["frequency_weights"] = None
    return case


@pytest.mark.parametrize("kind", ["iv", "ols"])
def test_covariances_match_estimatr(kind):
    for name, se_type in _entries(kind):
        case = _case(name)
        ref = case[kind][se_type]
        res = _fit(kind, case, se_type, use_t=False).result_
        where = f"{name} {kind} {se_type}"
        assert_allclose(res.estimates, ref["coef"], rtol=RTOL, err_msg=where)
        assert_allclose(res.std_errors, ref["std_error"], rtol=RTOL, err_msg=where)
        vcov = np.asarray(ref["vcov"])
        scale = np.sqrt(np.outer(np.diag(vcov), np.diag(vcov)))
        assert_allclose(
            res.covariance / scale, vcov / scale, rtol=0, atol=RTOL, err_msg=where
        )


@pytest.mark.parametrize("kind", ["iv", "ols"])
def test_t_inference_matches_estimatr(kind):
    for name, se_type in _entries(kind):
        case = _case(name)
        ref = case[kind][se_type]
        res = _fit(kind, case, se_type, use_t=True).result_
        frame = res.to_frame()
        where = f"{name} {kind} {se_type}"
        assert res.use_t
        assert_allclose(frame["df"], ref["df"], rtol=RTOL, err_msg=where)
        assert_allclose(frame["lower"], ref["conf_low"], rtol=RTOL, err_msg=where)
        assert_allclose(frame["upper"], ref["conf_high"], rtol=RTOL, err_msg=where)
        assert_allclose(frame["pvalue"], ref["p_value"], rtol=RTOL, err_msg=where)
        # the same numbers through the effects table and term_inference
        effects = res.effects
        for effect, term in (("direct", case["treatment"]), ("mediator", "m")):
            j = case["terms"].index(term)
            assert_allclose(effects.loc[effect, "df"], ref["df"][j], rtol=RTOL)
            _, _, low, high = res.term_inference(term)
            assert_allclose([low, high], [ref["conf_low"][j], ref["conf_high"][j]])


def test_normal_inference_is_the_default():
    case = _case("binary")
    res = _fit("iv", case, "HC2", use_t=False).result_
    frame = res.to_frame()
    assert "df" not in frame and "z" in frame
    assert res.df is None
    z = special.ndtri(0.975)
    assert_allclose(frame["upper"], frame["estimate"] + z * frame["std_error"])


def test_first_stage_wald_f_matches_estimatr():
    """The robust first-stage Wald F from estimatr's first-stage covariance."""
    for name in CASES:
        case = _case(name)
        for se_type, ref in case["first_stage"].items():
            res = _fit("iv", case, se_type, use_t=True).result_
            terms = case["first_stage_terms"]
            idx = [terms.index(t) for t in terms if t.startswith("rx")]
            b = np.asarray(ref["coef"])[idx]
            v = np.asarray(ref["vcov"])[np.ix_(idx, idx)]
            q = len(idx)
            wald = float(b @ np.linalg.solve(v, b))
            fs = res.first_stage
            where = f"{name} {se_type}"
            assert_allclose(fs.wald_f_statistic, wald / q, rtol=RTOL, err_msg=where)
            # estimatr's first-stage df: n - l for HC (one value for every
            # coefficient); its F tests with clusters use G - 1
            if se_type == "CR2":
                df_denom = case["n_clusters"] - 1
            else:
                assert len(set(ref["df"])) == 1
                df_denom = ref["df"][0]
            assert fs.wald_df_denom == pytest.approx(df_denom, rel=1e-12)
            expected = special.fdtrc(q, df_denom, wald / q)
            assert_allclose(fs.wald_f_pvalue, expected, rtol=1e-10, err_msg=where)


def test_cr2_degrees_of_freedom_match_clubsandwich():
    """clubSandwich's Satterthwaite degrees of freedom (coef_test, CR2)."""
    for name in CASES:
        case = _case(name)
        club = case["comparison"].get("clubsandwich_CR2")
        if club is None:
            continue
        for kind in ("iv", "ols"):
            res = _fit(kind, case, "CR2", use_t=True).result_
            assert_allclose(res.df, club[kind]["df_satterthwaite"], rtol=RTOL)
            assert_allclose(res.std_errors, club[kind]["std_error"], rtol=RTOL)


def test_weighted_fit_equals_the_repeated_rows():
    """Frequency weights: the compact rows with weights are the repeated rows."""
    case = REF["cases"]["sites_expanded"]
    data = pd.read_csv(REFERENCE / "trial_sites.csv")
    repeated = data.loc[data.index.repeat(data["w"])].reset_index(drop=True)
    columns = ["r", "m", "x1", "x2", "z"]
    for cov_type in ("HC2", "HC3", "CR2"):
        groups = None if cov_type.startswith("HC") else data["site"]
        est = dict(
            treatment="r",
            mediator="m",
            covariates=["x1", "x2"],
            controls=["z"],
            cov_type=cov_type,
            use_t=True,
        )
        weighted = _fit_reference(
            IVMediationRegressor(**est),
            data[columns],
            data["y"],
            sample_weight=data["w"],
            groups=groups,
        )
        rep_groups = None if groups is None else repeated["site"]
        plain = _fit_reference(
            IVMediationRegressor(**est),
            repeated[columns],
            repeated["y"],
            groups=rep_groups,
        )
        a, b = weighted.result_, plain.result_
        assert_allclose(a.std_errors, b.std_errors, rtol=1e-10)
        assert_allclose(a.df, b.df, rtol=1e-10)
        assert_allclose(a.effects["std_error"], b.effects["std_error"], rtol=1e-10)
        assert a.nobs == case["n"]


def test_hc2_differs_from_sandwich_as_documented():
    """sandwich's HC2 for ivreg uses the leverage d_i'B d̂_i: a different number."""
    case = _case("binary")
    res = _fit("iv", case, "HC2", use_t=False).result_
    sandwich = case["comparison"]["sandwich_ivreg"]["HC2"]
    j = case["terms"].index("m")
    gap = res.std_errors.iloc[j] / sandwich["std_error"][j] - 1
    assert abs(gap) > 1e-3  # a definition apart, not rounding
