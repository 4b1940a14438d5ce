"""The wild restricted efficient bootstrap test and its confidence set.

The library computes every bootstrap sample from the clusters' cross-products.
The oracle here builds the bootstrap data row by row, as Davidson and
MacKinnon (2010) describe the procedure, and refits each sample with the
estimator itself (CR1 covariance); both use the same multipliers.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from skmediate import (
    IVMediationRegressor,
    NaiveMediationRegressor,
    WeakInstrumentWarning,
)
from skmediate._numerics.wild import draw_multipliers

ROLES = dict(treatment="r", mediator="m", covariates=["x1", "x2"], controls=["z"])
COLUMNS = ["r", "m", "x1", "x2", "z"]


def _weak_sites():
    """The rows of tests/reference/trial_sites.csv without their weights (fixed
    data): weak instruments by the effective F with a robust covariance."""
    return pytest.warns(WeakInstrumentWarning, match="effective first-stage F")


@pytest.fixture(scope="module")
def sites():
    return pd.read_csv("tests/reference/trial_sites.csv")


def _lstsq(a, b, w):
    sw = np.sqrt(w)
    return np.linalg.lstsq(a * sw[:, None], b * sw, rcond=None)[0]


def _tsls(y, d, q, w):
    """Two-stage least squares by two least squares fits."""
    d_hat = q @ np.column_stack([_lstsq(q, col, w) for col in d.T])
    return _lstsq(d_hat, y, w)


def _oracle_statistics(df, weights, effect, value, multipliers, estimator):
    """Refit the estimator on bootstrap data generated with the null imposed."""
    n = len(df)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    r, m, y = (df[c].to_numpy(float) for c in ("r", "m", "y"))
    x = df[["x1", "x2"]].to_numpy(float)
    xbar = (w[:, None] * x).sum(axis=0) / w.sum()
    exog = np.column_stack([np.ones(n), x, df["z"].to_numpy(float)])
    w_full = np.column_stack([exog, r])
    instrumented = isinstance(estimator, IVMediationRegressor)
    q = np.column_stack([w_full, r[:, None] * (x - xbar)]) if instrumented else None
    if effect == "mediator":
        target = y - value * m
        fitted = w_full @ _lstsq(w_full, target, w)
        u1 = target - fitted
        slope = value
    else:
        target = y - value * r
        regressors = np.column_stack([exog, m])
        if instrumented:
            coef = _tsls(target, regressors, q, w)
        else:
            coef = _lstsq(regressors, target, w)
        slope = coef[-1]
        u1 = target - exog @ coef[:-1] - slope * m
        fitted = exog @ coef[:-1] + value * r
    if instrumented:
        pi = _lstsq(np.column_stack([q, u1]), m, w)[:-1]
        c = q @ pi
    else:
        c = m.copy()
    d = m - c
    _, codes = np.unique(df["site"].to_numpy(), return_inverse=True)
    out = []
    for v in multipliers:
        vi = v[codes]
        m_star = c + d * vi
        y_star = fitted + slope * m_star + u1 * vi
        data = df[COLUMNS].assign(m=m_star)
        est = estimator.fit(data, y_star, sample_weight=weights, groups=df["site"])
        term = "m" if effect == "mediator" else "r"
        row = est.result_.to_frame().loc[term]
        out.append((row["estimate"] - value) / row["std_error"])
    return np.array(out)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("effect", ["mediator", "direct"])
@pytest.mark.parametrize("cls", [IVMediationRegressor, NaiveMediationRegressor])
def test_bootstrap_statistics_match_refits(sites, cls, effect, weighted):
    weights = sites["w"].to_numpy(float) if weighted else None
    est = cls(**ROLES, cov_type="cluster")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(sites[COLUMNS], sites["y"], sample_weight=weights, groups=sites["site"])
    value = 0.4
    test = est.wild_bootstrap_test(
        effect, value, n_resamples=25, weights="webb", random_state=5
    )
    multipliers = draw_multipliers("webb", 25, 8, np.random.default_rng(5))
    oracle_est = cls(**ROLES, cov_type="cluster")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        oracle = _oracle_statistics(
            sites, weights, effect, value, multipliers, oracle_est
        )
    assert_allclose(test.bootstrap_statistics, oracle, rtol=1e-8)
    # the observed statistic is the CR1 t statistic of the fit
    term = "m" if effect == "mediator" else "r"
    row = est.result_.to_frame().loc[term]
    assert test.statistic == pytest.approx(
        (row["estimate"] - value) / row["std_error"], rel=1e-10
    )
    expected = np.mean(np.abs(oracle) >= abs(test.statistic))
    assert test.pvalue == pytest.approx(expected)


def test_seeded_and_reproducible(sites):
    with _weak_sites():
        est = IVMediationRegressor(**ROLES, cov_type="CR2").fit(
            sites[COLUMNS], sites["y"], groups=sites["site"]
        )
    a = est.wild_bootstrap_test("mediator", 1.0, random_state=3)
    b = est.wild_bootstrap_test("mediator", 1.0, random_state=np.random.default_rng(3))
    c = est.wild_bootstrap_test("mediator", 1.0, random_state=4)
    assert_allclose(a.bootstrap_statistics, b.bootstrap_statistics)
    assert not np.allclose(a.bootstrap_statistics, c.bootstrap_statistics)
    assert a.n_resamples == 999 and a.n_clusters == 8 and a.weights == "rademacher"
    legacy = [
        est.wild_bootstrap_test("mediator", 1.0, random_state=np.random.RandomState(0))
        for _ in range(2)
    ]
    assert_allclose(legacy[0].bootstrap_statistics, legacy[1].bootstrap_statistics)


@pytest.mark.parametrize("cls", [IVMediationRegressor, NaiveMediationRegressor])
def test_draws_that_reproduce_the_data_count_as_ties(sites, cls):
    """With 5 clusters Rademacher draws repeat: all ones reproduces the data."""
    head = sites[sites["site"] <= 5]
    est = cls(**ROLES, cov_type="cluster")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(head[COLUMNS], head["y"], groups=head["site"])
    for effect in ("direct", "mediator"):
        test = est.wild_bootstrap_test(effect, 0.3, random_state=1)
        v = draw_multipliers("rademacher", 999, 5, np.random.default_rng(1))
        ones = np.all(v == 1.0, axis=1)
        assert ones.any()  # 1 in 32 draws
        # those draws give the observed statistic (to rounding) and count as ties
        assert_allclose(test.bootstrap_statistics[ones], test.statistic, rtol=1e-8)
        assert test.pvalue >= ones.mean()
        expected = np.mean(
            np.abs(test.bootstrap_statistics) >= abs(test.statistic) * (1 - 1e-9)
        )
        assert test.pvalue == expected


def test_k_class_fits_are_refused(sites):
    est = IVMediationRegressor(**ROLES, cov_type="cluster", kappa="liml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(sites[COLUMNS], sites["y"], groups=sites["site"])
    with pytest.raises(ValueError, match="kappa='2sls'"):
        est.wild_bootstrap_test("mediator", 0.0)
    with pytest.raises(ValueError, match="kappa='2sls'"):
        est.confidence_set("mediator", method="wild")


def test_confidence_set_inverts_the_test(sites):
    est = IVMediationRegressor(**ROLES, cov_type="cluster")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(sites[COLUMNS], sites["y"], groups=sites["site"])
    kw = dict(n_resamples=199, weights="webb", random_state=11)
    ((low, high),) = est.confidence_set("mediator", "wild", confidence_level=0.9, **kw)
    assert low < est.mediator_effect_ < high
    span = high - low
    for inside in (low + 1e-6 * span, high - 1e-6 * span, est.mediator_effect_):
        assert est.wild_bootstrap_test("mediator", inside, **kw).pvalue > 0.1
    for outside in (low - 1e-6 * span, high + 1e-6 * span):
        assert est.wild_bootstrap_test("mediator", outside, **kw).pvalue <= 0.1
    # the Wald interval, by name
    ((wl, wh),) = est.confidence_set("mediator", "wald")
    _, _, el, eh = est.result_.term_inference("m")
    assert (wl, wh) == (el, eh)


def test_clear_errors(sites):
    with _weak_sites():
        est = IVMediationRegressor(**ROLES).fit(sites[COLUMNS], sites["y"])
    with pytest.raises(ValueError, match="needs clusters"):
        est.wild_bootstrap_test("mediator", 0.0)
    with _weak_sites():
        clustered = IVMediationRegressor(**ROLES, cov_type="CR2").fit(
            sites[COLUMNS], sites["y"], groups=sites["site"]
        )
    with pytest.raises(ValueError, match="effect must be"):
        clustered.wild_bootstrap_test("total", 0.0)
    with pytest.raises(ValueError, match="weights must be one of"):
        clustered.wild_bootstrap_test("mediator", 0.0, weights="mammen")
    with pytest.raises(ValueError, match="n_resamples must be a positive integer"):
        clustered.wild_bootstrap_test("mediator", 0.0, n_resamples=0)
    with pytest.raises(ValueError, match="method must be"):
        clustered.confidence_set("mediator", method="grid")
    # with clusters the direct effect's AR set is the robust projection
    assert clustered.confidence_set("direct", method="anderson_rubin").method == "AR"
    with pytest.raises(ValueError, match="for the direct and the mediator effect"):
        clustered.confidence_set("total", method="wild")
    # row-level wild bootstrap: every row its own cluster
    head = sites.iloc[:150]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # weak instruments in these 150 rows
        rows = IVMediationRegressor(**ROLES, cov_type="CR0").fit(
            head[COLUMNS], head["y"], groups=np.arange(len(head))
        )
    assert 0 <= rows.wild_bootstrap_test("mediator", 0.0, n_resamples=99).pvalue <= 1
    with _weak_sites():
        many = IVMediationRegressor(**ROLES, cov_type="CR0").fit(
            sites[COLUMNS], sites["y"], groups=np.arange(len(sites))
        )
    with pytest.raises(ValueError, match="240 clusters, more than 200"):
        many.wild_bootstrap_test("mediator", 0.0)
