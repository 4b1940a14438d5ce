"""Analytic and probability weights (``weight_type``) against R, statsmodels and
linearmodels, and their invariances.

References: ``tests/reference/weights.json`` (``generate_weights.R``: estimatr
``iv_robust``/``lm_robust`` with ``weights =``, checked there against AER
``ivreg(weights =)`` with sandwich and against clubSandwich's CR2 on the
``√w``-scaled rows), statsmodels WLS and GLM (``var_weights``,
``freq_weights``) and linearmodels ``IV2SLS(weights=)``.

Tolerances: 1e-8 relative for every number computed by another
implementation (estimates, covariances, degrees of freedom, test statistics,
the ends of the Anderson–Rubin set, which R finds by ``uniroot`` to 1e-13);
1e-10 relative for the invariances (rescaled weights, the identities between
weight types), which compare two fits of the same floating-point data.
"""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.utils._param_validation import InvalidParameterError

from skmediate import (
    IVMediationRegressor,
    NaiveMediationRegressor,
    SensitivityGrid,
    bootstrap,
)
from skmediate._numerics.weakiv import anderson_rubin_set, anderson_rubin_test

from .conftest import simulate_trial

REFERENCE = Path(__file__).parent / "reference"
RTOL = 1e-8
EXACT = 1e-10
ROLES = dict(treatment="r", mediator="m", covariates=["x1", "x2"], controls=["z"])
# estimatr's se_type -> skmediate's cov_type
R_TYPES = {
    "classical": "classical",
    "HC0": "HC0",
    "HC1": "HC1",
    "HC2": "HC2",
    "HC3": "HC3",
    "CR0": "CR0",
    "stata": "cluster",
    "CR2": "CR2",
}
CLUSTERED = ("CR0", "cluster", "CR2")


@pytest.fixture(scope="module")
def reference():
    return json.loads((REFERENCE / "weights.json").read_text())


@pytest.fixture(scope="module")
def sites():
    return pd.read_csv(REFERENCE / "trial_sites.csv")


def _weights(sites, case):
    """The weight vectors of ``generate_weights.R``."""
    if case == "unit_sum":
        return sites["w"] / sites["w"].sum()
    return 0.5 + sites["r"] + 0.25 * sites["site"]


def _fit(cls, sites, weights, cov_type, weight_type, **params):
    est = cls(**ROLES, cov_type=cov_type, weight_type=weight_type, **params)
    groups = sites["site"] if cov_type in CLUSTERED else None
    return est.fit(
        sites[["r", "m", "x1", "x2", "z"]],
        sites["y"],
        sample_weight=weights,
        groups=groups,
    )


def _cases():
    for case in ("unit_sum", "varying"):
        for r_type, cov_type in R_TYPES.items():
            for weight_type in ("analytic", "probability"):
                if weight_type == "probability" and cov_type == "classical":
                    continue
                yield case, r_type, cov_type, weight_type


@pytest.mark.filterwarnings("ignore::skmediate.WeakInstrumentWarning")
@pytest.mark.filterwarnings("ignore::skmediate.FewClustersWarning")
@pytest.mark.parametrize(("case", "r_type", "cov_type", "weight_type"), list(_cases()))
@pytest.mark.parametrize(
    ("cls", "model"), [(IVMediationRegressor, "iv"), (NaiveMediationRegressor, "ols")]
)
def test_against_estimatr(
    reference, sites, case, r_type, cov_type, weight_type, cls, model
):
    ref = reference["cases"][case]
    entry = ref[model][r_type]
    est = _fit(cls, sites, _weights(sites, case), cov_type, weight_type, use_t=True)
    result = est.result_
    assert result.nobs == ref["n"] == 240
    assert result.weight_type == weight_type
    assert list(result.terms[1:]) == ref["terms"][1:]
    assert_allclose(result.estimates, entry["coef"], rtol=RTOL)
    assert_allclose(result.covariance, entry["vcov"], rtol=RTOL, atol=0)
    # t degrees of freedom: n - k, G - 1, or Bell-McCaffrey for CR2
    assert_allclose(result.df.to_numpy(), entry["df"], rtol=RTOL)


@pytest.mark.filterwarnings("ignore::skmediate.WeakInstrumentWarning")
@pytest.mark.filterwarnings("ignore::skmediate.FewClustersWarning")
@pytest.mark.parametrize("case", ["unit_sum", "varying"])
@pytest.mark.parametrize("r_type", list(R_TYPES))
def test_first_stage_against_r(reference, sites, case, r_type):
    ref = reference["cases"][case]
    cov_type = R_TYPES[r_type]
    est = _fit(IVMediationRegressor, sites, _weights(sites, case), cov_type, "analytic")
    fs = est.first_stage_
    tests = ref["first_stage_tests"]
    assert_allclose(fs.f_statistic, tests["partial_f"], rtol=RTOL)
    assert_allclose(fs.wald_f_statistic, tests[r_type]["wald_f"], rtol=RTOL)
    assert fs.df_denom == 240 - 7


@pytest.mark.filterwarnings("ignore::skmediate.WeakInstrumentWarning")
@pytest.mark.filterwarnings("ignore::skmediate.FewClustersWarning")
@pytest.mark.parametrize("case", ["unit_sum", "varying"])
@pytest.mark.parametrize("r_type", ["classical", "HC1", "HC3", "stata"])
def test_anderson_rubin_against_r(reference, sites, case, r_type):
    ref = reference["cases"][case]["anderson_rubin"][r_type]
    weight_type = "analytic" if r_type == "classical" else "probability"
    weights = _weights(sites, case)
    # the fit's own covariance (ar_meat="fit"), which R's Wald test uses
    est = _fit(
        IVMediationRegressor,
        sites,
        weights,
        R_TYPES[r_type],
        weight_type,
        ar_meat="fit",
    )
    moments = est.result_.anderson_rubin_moments
    factor = 2 if r_type == "classical" else 1  # F = W / p for classical
    for theta0, wald in zip(ref["theta0"], ref["wald"], strict=True):
        statistic, _ = anderson_rubin_test(moments, theta0)
        assert_allclose(statistic * factor, wald, rtol=RTOL)
    if "set" in ref:
        (piece,) = anderson_rubin_set(moments, 0.95)
        assert_allclose(piece, ref["set"], rtol=RTOL)
    if r_type == "HC3":
        # the default leverage-adjusted meat of any row-robust fit is R's HC3,
        # reported as W / p
        default = _fit(IVMediationRegressor, sites, weights, "HC1", weight_type)
        moments = default.result_.anderson_rubin_moments
        for theta0, wald in zip(ref["theta0"], ref["wald"], strict=True):
            statistic, _ = anderson_rubin_test(moments, theta0)
            assert_allclose(statistic * 2, wald, rtol=RTOL)


@pytest.mark.filterwarnings("ignore::skmediate.WeakInstrumentWarning")
def test_estimatr_weighted_cr2_is_a_different_working_model(reference):
    """estimatr's weighted CR2 takes homoskedastic errors before weighting; the
    stored relative differences document how far that is from skmediate's."""
    for case in ("unit_sum", "varying"):
        comparison = reference["cases"][case]["comparison"]["estimatr_weighted_CR2"]
        differences = np.abs(comparison["iv"]["rel_diff_se"])
        assert 1e-4 < differences.max() < 0.2


# -- statsmodels and linearmodels ------------------------------------------------


def _naive_design(sites):
    import statsmodels.api as sm

    return sm.add_constant(sites[["x1", "x2", "z", "r", "m"]])


@pytest.mark.parametrize("cov_type", ["classical", "HC0", "HC1", "HC2", "HC3"])
def test_naive_analytic_against_statsmodels_wls(sites, cov_type):
    import statsmodels.api as sm

    w = _weights(sites, "varying")
    exog = _naive_design(sites)
    fit = sm.WLS(sites["y"], exog, weights=w)
    fit = fit.fit() if cov_type == "classical" else fit.fit(cov_type=cov_type)
    est = _fit(NaiveMediationRegressor, sites, w, cov_type, "analytic")
    assert_allclose(est.result_.estimates, fit.params.to_numpy(), rtol=RTOL)
    assert_allclose(est.result_.covariance, fit.cov_params().to_numpy(), rtol=RTOL)
    assert est.result_.nobs == fit.nobs == 240


def test_naive_against_statsmodels_glm_weights(sites):
    """GLM ``var_weights`` are analytic weights, ``freq_weights`` frequency weights."""
    import statsmodels.api as sm

    exog, w = _naive_design(sites), sites["w"]
    for weight_type, keyword in [
        ("analytic", "var_weights"),
        ("frequency", "freq_weights"),
    ]:
        glm = sm.GLM(sites["y"], exog, **{keyword: w}).fit()
        est = _fit(NaiveMediationRegressor, sites, w, "classical", weight_type)
        assert_allclose(est.result_.covariance, glm.cov_params().to_numpy(), rtol=RTOL)
        assert est.result_.nobs == (240 if weight_type == "analytic" else w.sum())


@pytest.mark.filterwarnings("ignore::skmediate.WeakInstrumentWarning")
@pytest.mark.filterwarnings("ignore::skmediate.FewClustersWarning")
@pytest.mark.parametrize(
    ("cov_type", "options"),
    [
        ("classical", dict(cov_type="unadjusted", debiased=True)),
        ("unadjusted", dict(cov_type="unadjusted")),
        ("HC0", dict(cov_type="robust")),
        ("HC1", dict(cov_type="robust", debiased=True)),
        ("CR0", dict(cov_type="clustered")),
        ("cluster", dict(cov_type="clustered", debiased=True)),
    ],
)
def test_iv_analytic_against_linearmodels(sites, cov_type, options):
    """linearmodels' ``weights`` are analytic weights: the fit of the rows scaled
    by ``√w``, with ``nobs`` the number of rows."""
    from linearmodels.iv import IV2SLS

    w = _weights(sites, "varying")
    exog = _naive_design(sites)[["const", "x1", "x2", "z", "r"]]
    xbar = np.average(sites[["x1", "x2"]], weights=w, axis=0)
    instruments = sites["r"].to_numpy()[:, None] * (sites[["x1", "x2"]] - xbar)
    if cov_type in CLUSTERED:
        options = {**options, "clusters": sites["site"]}
    fit = IV2SLS(sites["y"], exog, sites[["m"]], instruments, weights=w).fit(**options)
    est = _fit(IVMediationRegressor, sites, w, cov_type, "analytic")
    assert fit.nobs == est.result_.nobs == 240
    assert_allclose(est.result_.estimates, fit.params.to_numpy(), rtol=RTOL)
    assert_allclose(est.result_.covariance, fit.cov.to_numpy(), rtol=RTOL)


# -- invariances and identities --------------------------------------------------


def _stats(est):
    """Every number of a fit that should not depend on the scale of the weights."""
    result = est.result_
    parts = [
        result.estimates,
        result.covariance.ravel(),
        result.effects.to_numpy(dtype=float).ravel(),
        result.effects_cov.to_numpy().ravel(),
        [result.nobs],
    ]
    if isinstance(est, IVMediationRegressor):
        fs = est.first_stage_
        parts.append(
            [fs.f_statistic, fs.wald_f_statistic, fs.effective_f.statistic, fs.is_weak]
        )
        parts.append(np.ravel(est.anderson_rubin_confidence_set()))
    return np.concatenate([np.ravel(np.asarray(p, dtype=float)) for p in parts])


@pytest.fixture(scope="module")
def trial():
    X, y, groups = simulate_trial(
        n=400, n_covariates=2, n_clusters=25, instrument_strength=3.0, seed=7
    )
    weights = np.random.default_rng(3).uniform(0.2, 3.0, len(y))
    weights[:5] = 0.0  # rows with weight 0 count for nothing
    return X, y, groups, weights


ROBUST = ["HC0", "HC1", "HC2", "HC3", "cluster", "CR2"]


@pytest.mark.filterwarnings("ignore::skmediate.FewClustersWarning")
@pytest.mark.parametrize(
    ("weight_type", "cov_type"),
    [("analytic", c) for c in ["classical", "unadjusted", *ROBUST]]
    + [("probability", c) for c in ROBUST],
)
@pytest.mark.parametrize("cls", [IVMediationRegressor, NaiveMediationRegressor])
@pytest.mark.parametrize("factor", [1e-6, 3.0, 1e5])
def test_rescaling_the_weights_changes_nothing(
    trial, weight_type, cov_type, cls, factor
):
    X, y, groups, w = trial
    est = cls(treatment="r", mediator="m", cov_type=cov_type, weight_type=weight_type)
    g = groups if cov_type in CLUSTERED else None
    base = _stats(est.fit(X, y, sample_weight=w, groups=g))
    scaled = _stats(est.fit(X, y, sample_weight=factor * w, groups=g))
    assert_allclose(scaled, base, rtol=EXACT, atol=EXACT * np.abs(base).max())
    assert est.result_.nobs == len(y) - 5


@pytest.mark.filterwarnings("ignore::skmediate.FewClustersWarning")
@pytest.mark.parametrize(("robust", "clustered"), [("HC0", "CR0"), ("HC2", "CR2")])
@pytest.mark.parametrize("cls", [IVMediationRegressor, NaiveMediationRegressor])
def test_analytic_rows_are_frequency_singleton_clusters(trial, robust, clustered, cls):
    """A row's analytic score is ``w ψ``: HC0 (HC2) with analytic weights is CR0
    (CR2) with each row its own cluster and the weights, scaled to sum to the
    number of rows, as frequency weights -- for every statistic, whose
    row and cluster code paths are separate."""
    X, y, _, w = trial
    keep = w > 0
    X, y, w = X[keep], y[keep], w[keep]
    w_n = w * len(w) / w.sum()
    singletons = np.arange(len(y))
    # the Anderson-Rubin statistic with the fits' own covariances: the default
    # HC3 and CR3 meats agree too, but their F references differ (n - l, G - 1)
    extra = {"ar_meat": "fit"} if cls is IVMediationRegressor else {}
    analytic = cls(
        treatment="r", mediator="m", cov_type=robust, weight_type="analytic", **extra
    )
    frequency = cls(treatment="r", mediator="m", cov_type=clustered, **extra)
    a = _stats(analytic.fit(X, y, sample_weight=w))
    f = _stats(frequency.fit(X, y, sample_weight=w_n, groups=singletons))
    assert_allclose(a, f, rtol=EXACT, atol=EXACT * np.abs(a).max())
    tau = {"x1": [0.0, 0.5], "x2": [-1.0, 1.0]}
    grids = [
        SensitivityGrid(e, tau_direct=tau, tau_mediator=tau)
        .fit(X, y, sample_weight=sw, groups=g)
        .to_frame()
        for e, sw, g in [(analytic, w, None), (frequency, w_n, singletons)]
    ]
    assert_allclose(grids[0].to_numpy(), grids[1].to_numpy(), rtol=EXACT, atol=1e-12)


def test_analytic_and_probability_agree(trial):
    X, y, groups, w = trial
    fits = [
        _stats(
            IVMediationRegressor(
                treatment="r", mediator="m", cov_type="CR2", weight_type=t
            ).fit(X, y, sample_weight=w, groups=groups)
        )
        for t in ("analytic", "probability")
    ]
    assert_allclose(fits[0], fits[1], rtol=0, atol=0)


@pytest.mark.parametrize("cov_type", ["classical", "HC1", "HC3", "cluster", "CR2"])
@pytest.mark.parametrize("cls", [IVMediationRegressor, NaiveMediationRegressor])
def test_sensitivity_closed_form_equals_refit(trial, cov_type, cls):
    X, y, groups, w = trial
    est = cls(treatment="r", mediator="m", cov_type=cov_type, weight_type="analytic")
    tau = {"x1": [0.0, 1.0, -0.5], "x2": [0.0, 1.0]}
    g = groups if cov_type in CLUSTERED else None
    frames = [
        SensitivityGrid(est, tau_direct=tau, tau_mediator={"x2": [0.0, 0.7]}, method=m)
        .fit(X, y, sample_weight=w, groups=g)
        .to_frame()
        for m in ("closed_form", "refit")
    ]
    assert_allclose(frames[0].to_numpy(), frames[1].to_numpy(), rtol=1e-8, atol=1e-12)


def test_frequency_weights_unchanged(trial):
    """The default is frequency weights: the fit on the repeated rows."""
    X, y, _, _ = trial
    counts = np.random.default_rng(5).integers(0, 4, len(y))
    est = IVMediationRegressor(treatment="r", mediator="m", cov_type="HC2")
    weighted = _stats(est.fit(X, y, sample_weight=counts))
    assert est.result_.weight_type == "frequency"
    assert est.result_.nobs == counts.sum()
    rows = np.repeat(np.arange(len(y)), counts)
    repeated = _stats(est.fit(X.iloc[rows], y.iloc[rows]))
    assert est.result_.weight_type is None
    assert_allclose(weighted, repeated, rtol=1e-8, atol=1e-10)


# -- refusals, the bootstrap, the report -------------------------------------


@pytest.mark.parametrize("cov_type", ["classical", "unadjusted"])
@pytest.mark.parametrize("cls", [IVMediationRegressor, NaiveMediationRegressor])
def test_probability_weights_refuse_homoskedastic(trial, cov_type, cls):
    X, y, _, w = trial
    est = cls(treatment="r", mediator="m", cov_type=cov_type, weight_type="probability")
    with pytest.raises(ValueError, match=rf"cov_type='{cov_type}' does not apply"):
        est.fit(X, y, sample_weight=w)


def test_frequency_weights_summing_to_one_are_refused(sites):
    w = _weights(sites, "unit_sum")
    est = IVMediationRegressor(**ROLES)
    with pytest.raises(
        ValueError, match=r"sums to 1, not more than.*weight_type='analytic'"
    ):
        est.fit(sites[["r", "m", "x1", "x2", "z"]], sites["y"], sample_weight=w)


def test_unknown_weight_type(trial):
    X, y, _, w = trial
    est = IVMediationRegressor(treatment="r", mediator="m", weight_type="importance")
    with pytest.raises(InvalidParameterError, match="weight_type"):
        est.fit(X, y, sample_weight=w)


def test_no_nan_standard_errors_with_small_weights(trial):
    X, y, groups, w = trial
    for cov_type in ("HC1", "HC3", "CR2"):
        est = IVMediationRegressor(
            treatment="r", mediator="m", cov_type=cov_type, weight_type="analytic"
        ).fit(
            X,
            y,
            sample_weight=w / w.sum(),
            groups=groups if cov_type == "CR2" else None,
        )
        assert np.isfinite(_stats(est)).all()


def test_bootstrap_refits_analytic_weights(trial):
    X, y, _, w = trial
    est = IVMediationRegressor(treatment="r", mediator="m", weight_type="analytic")
    kwargs = dict(
        statistic="mediator_effect_",
        n_resamples=49,
        fit_params={"sample_weight": w},
        random_state=0,
    )
    result = bootstrap(est, X, y, **kwargs)
    assert result.engine == "refit"
    assert np.isfinite(result.bootstrap_distribution).all()
    with pytest.raises(ValueError, match="weight_type='analytic' is refitted"):
        bootstrap(est, X, y, engine="vectorized", **kwargs)


def test_summary_describes_the_weights(trial):
    X, y, _, w = trial
    est = IVMediationRegressor(treatment="r", mediator="m", weight_type="analytic")
    assert "Weights:" not in est.fit(X, y).summary()
    text = str(est.fit(X, y, sample_weight=w).summary())
    assert "Weights:     analytic" in text
    assert re.search(rf"No. observations: +{len(y) - 5}\n", text)


@pytest.mark.parametrize("cov_type", ["classical", "HC2", "CR2"])
def test_dask_analytic_weights_equal_numpy(trial, cov_type):
    """The rescaling of the weights stays lazy for dask data."""
    da = pytest.importorskip("dask.array")
    X, y, groups, w = trial
    values = X[["r", "m", "x1", "x2"]].to_numpy()
    est = IVMediationRegressor(
        treatment=0,
        mediator=1,
        covariates=[2, 3],
        cov_type=cov_type,
        weight_type="analytic",
    )
    g = groups if cov_type == "CR2" else None
    local = est.fit(values, y.to_numpy(), sample_weight=w, groups=g).result_
    lazy = est.fit(
        da.from_array(values, chunks=(100, 4)),
        da.from_array(y.to_numpy(), chunks=100),
        sample_weight=da.from_array(w, chunks=100),
        groups=None if g is None else da.from_array(g, chunks=100),
    ).result_
    assert lazy.nobs == local.nobs == len(y) - 5
    assert_allclose(lazy.estimates, local.estimates, rtol=1e-10)
    assert_allclose(lazy.covariance, local.covariance, rtol=1e-10)


def test_probability_fit_refuses_a_homoskedastic_covariance_afterwards(trial):
    X, y, _, w = trial
    est = IVMediationRegressor(
        treatment="r", mediator="m", cov_type="HC0", weight_type="probability"
    ).fit(X, y, sample_weight=w)
    model = est.result_.model
    assert model.under("HC1").kind.name == "HC1"
    with pytest.raises(
        ValueError, match="does not apply with weight_type='probability'"
    ):
        model.under("classical")
