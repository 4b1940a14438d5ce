"""Monte Carlo validation: bias, coverage, and the error-variance claim of the paper.

The simulation designs, the estimation loop and the summaries live in
``benchmarks/validation_study.py`` (which also prints the full table); these
tests import it. The default run checks the closed-form error variance against
simulation, that the study's one-fit evaluation of every covariance equals the
public estimator, and a small Monte Carlo (a few seconds). The full study, with
the replications and seed of the script's defaults (so its numbers are the
table quoted in the user guide's validation page, docs/user_guide/validation.md), runs under ``pytest -m slow``.

Coverage is judged against the exact binomial 99% band around 95%
(``scipy.stats.binom``) for the number of replications.
"""

import warnings

import numpy as np
import pytest
from joblib import parallel_config
from numpy.testing import assert_allclose

from skmediate import WeakInstrumentWarning

from .conftest import load_benchmark

vs = load_benchmark("validation_study")
SEED = 20120601  # the script's default --seed
FULL_REPLICATIONS = 5000  # the script's default --replications


# -- the error variance: the paper's claim, checked rather than assumed --------

POINTS = [  # (r, x): the arms at the covariate mean and away from it
    (0.0, [0.0, 0.0, 0.0]),
    (1.0, [0.0, 0.0, 0.0]),
    (0.0, [1.0, -1.0, 1.0]),
    (1.0, [1.0, -1.0, 1.0]),
    (1.0, [-1.5, 0.5, 0.0]),
]


def _conditional_moments(design, r, x, rows=200_000, seed=0):
    """Mean and variance of ε over ``rows`` subjects sharing ``(R, X) = (r, x)``."""
    rng = np.random.default_rng(seed)
    r_col = np.full(rows, r)
    x_rows = np.tile(np.asarray(x, dtype=float), (rows, 1))
    # Each subject its own cluster: the cluster effects are then drawn per subject,
    # as they vary given one subject's (R, X).
    groups = np.arange(rows) if design.n_clusters else None
    error = vs.draw_trial(design, r_col, x_rows, groups, rng, n=300).error
    return error.mean(), error.var(ddof=1), error.std(ddof=1) / np.sqrt(rows)


@pytest.mark.parametrize("name", ["constant", "heterogeneous", "heteroskedastic"])
def test_error_variance_formula_matches_simulation(name):
    """``Var(ε | R, X) = Var(Y(0,0) | X) + Var(θ_Ri)R² + Var(θ_Mi)E[M² | R, X]``.

    Tolerance 3% relative: with 200 000 draws the sample variance has a
    relative standard error below 0.7% (kurtosis of ε at most about 9).
    """
    design = vs.DESIGNS[name]
    for i, (r, x) in enumerate(POINTS):
        mean, var, mean_se = _conditional_moments(design, r, x, seed=i)
        formula = vs.error_variance(design, np.array([r]), np.array([x]), 300)[0]
        assert abs(mean) < 5 * mean_se  # E[ε | R, X] = 0: the instruments are valid
        assert var == pytest.approx(formula, rel=0.03)


def test_error_variance_constant_only_with_constant_effects_and_aa2():
    """The paper: under AA-1 and AA-2, Var(ε | R, X) is the same for all R, X.

    That holds with constant effects (AA-2 alone then suffices). With
    heterogeneous effects satisfying AA-1 and AA-2 it fails: Var(θ_Ri)R²
    differs between the arms and Var(θ_Mi)E[M² | R, X] varies with X, since
    the instruments are relevant only if E[M | R, X] does. Without AA-2 it
    fails even with constant effects.
    """
    r = np.array([p[0] for p in POINTS])
    x = np.array([p[1] for p in POINTS])

    def spread(name):
        values = vs.error_variance(vs.DESIGNS[name], r, x, 300)
        return values.max() / values.min()

    assert spread("constant") == 1.0
    assert spread("heterogeneous") > 5  # 32.3 / 5.5 at these points
    assert spread("heteroskedastic") > 5
    # Arm difference at X = 0 with heterogeneous effects: Var(θ_Ri) + Var(θ_Mi)·
    # (E[M² | 1, 0] - E[M² | 0, 0]) = 1 + (1.5² - 0.5²).
    het = vs.error_variance(vs.DESIGNS["heterogeneous"], r[:2], x[:2], 300)
    assert het[1] - het[0] == pytest.approx(1 + 1.5**2 - 0.5**2, rel=1e-12)


# -- the study's machinery ------------------------------------------------------


@pytest.mark.parametrize("name", list(vs.DESIGNS))
def test_one_fit_covariances_equal_public_estimator(name):
    """One validation and one fit per estimator give what ``fit`` gives with each
    ``cov_type`` (to 1e-12)."""
    design = vs.DESIGNS[name]
    X, y, groups = vs.simulate(design, 300, np.random.SeedSequence(5))
    data = vs.prepare(X, y, groups)
    for e, estimator in enumerate(vs.ESTIMATORS.values()):
        effects, std_errors, f_stat = vs.fit_cov_types(
            estimator, data, design.cov_types
        )
        for c, cov_type in enumerate(design.cov_types):
            est = estimator.set_params(cov_type=cov_type)
            clustered = cov_type in ("cluster", "CR2")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", WeakInstrumentWarning)
                est.fit(X, y, groups=groups if clustered else None)
            result = est.result_
            assert_allclose(effects, result.params.iloc[-2:], rtol=1e-12)
            assert_allclose(std_errors[c], result.std_errors.iloc[-2:], rtol=1e-12)
            if e == 0:
                fs = est.first_stage_
                assert f_stat == pytest.approx(fs.f_statistic, rel=1e-12)
                # The weak design (and only it) warns.
                assert len(caught) == int(fs.is_weak)
                assert fs.is_weak == (name == "weak")
            else:
                assert np.isnan(f_stat) and not caught


def test_seeds_do_not_depend_on_replications_or_jobs():
    design = vs.DESIGNS["heterogeneous"]
    few = vs.cell_seeds(design, 300, 3, SEED)
    many = vs.cell_seeds(design, 300, 50, SEED)
    assert [s.generate_state(2).tolist() for s in few] == [
        s.generate_state(2).tolist() for s in many[:3]
    ]
    one = vs.run_study([design], [300], 6, SEED, n_jobs=1, batch_size=6)
    # Threads instead of processes keep this fast; the seeds go with the batches
    # either way.
    with parallel_config(backend="threading"):
        two = vs.run_study([design], [300], 6, SEED, n_jobs=2, batch_size=4)
    assert np.array_equal(one[0].estimates, two[0].estimates)
    assert np.array_equal(one[0].std_errors, two[0].std_errors)


def test_coverage_band_is_exact_binomial():
    low, high = (round(200 * b) for b in vs.coverage_band(200))
    dist = vs.stats.binom(200, 0.95)
    # Each tail outside the band has probability at most 0.5%, and the band
    # cannot be narrowed by one count at either end without breaking that.
    assert dist.cdf(low - 1) <= 0.005 < dist.cdf(low)
    assert dist.sf(high) <= 0.005 < dist.sf(high - 1)


@pytest.mark.parametrize(
    ("name", "cov_type"), [("heterogeneous", "HC1"), ("clustered", "cluster")]
)
def test_wald_intervals_through_the_interval_harness(name, cov_type):
    """The harness the bootstrap coverage uses reproduces the Wald coverage."""
    design = vs.DESIGNS[name]
    reps = 12
    harness = vs.interval_coverage([design], [300], reps, SEED, vs.wald_intervals)
    cell = vs.run_study([design], [300], reps, SEED, n_jobs=1)[0]
    c = design.cov_types.index(cov_type)
    hits = vs.covers(cell.estimates[:, 0], cell.std_errors[:, 0, c], vs.TRUTH)
    assert_allclose(harness["coverage"].to_numpy(), hits.mean(axis=0), rtol=0)
    # The intervals themselves, for the first trial.
    seed = vs.cell_seeds(design, 300, 1, SEED)[0]
    X, y, groups = vs.simulate(design, 300, seed)
    low, high = vs.wald_intervals(vs.ESTIMATORS["IV"], X, y, groups, 0)["wald"]
    half = vs.stats.norm.isf(0.025) * cell.std_errors[0, 0, c]
    assert_allclose(low, cell.estimates[0, 0] - half, rtol=1e-12)
    assert_allclose(high, cell.estimates[0, 0] + half, rtol=1e-12)


# -- a small Monte Carlo in the default run -------------------------------------


@pytest.fixture(scope="module")
def quick():
    designs = [vs.DESIGNS["constant"], vs.DESIGNS["heterogeneous"]]
    results = vs.run_study(designs, [300], 200, SEED, n_jobs=1)
    return {cell.design.name: cell for cell in results}


def test_quick_iv_unbiased_naive_biased(quick):
    cell = quick["heterogeneous"]
    errors = cell.estimates - vs.TRUTH  # (rep, estimator, parameter)
    bias = errors.mean(axis=0)
    mcse = errors.std(axis=0, ddof=1) / np.sqrt(cell.n_replications)
    iv, naive = 0, 1
    assert np.all(np.abs(bias[iv]) < 4 * mcse[iv]), (bias[iv], mcse[iv])
    assert np.all(np.abs(bias[naive]) > 20 * mcse[naive]), (bias[naive], mcse[naive])


def test_quick_robust_coverage_in_band(quick):
    low, high = vs.coverage_band(200)
    for cell in quick.values():
        for cov_type in ("HC0", "HC1"):
            c = cell.design.cov_types.index(cov_type)
            rate = vs.covers(
                cell.estimates[:, 0], cell.std_errors[:, 0, c], vs.TRUTH
            ).mean(axis=0)
            assert np.all((low <= rate) & (rate <= high)), (cell.design.name, rate)


def test_quick_unadjusted_se_too_small_with_heterogeneous_effects(quick):
    """Replication by replication, unadjusted / HC0 standard error of θ̂_M.

    About 1 with constant effects and homoskedastic noise (both consistent);
    about 0.8 with heterogeneous effects, where only HC0 is consistent.
    """
    unadjusted, hc0 = 0, 2
    ratios = {}
    for name, cell in quick.items():
        se = cell.std_errors[:, 0, :, 1]
        ratios[name] = np.mean(se[:, unadjusted] / se[:, hc0])
    assert 0.95 < ratios["constant"] < 1.05
    assert ratios["heterogeneous"] < 0.9


# -- the full study (slow) -------------------------------------------------------


@pytest.fixture(scope="module")
def study():
    results = vs.run_study(
        list(vs.DESIGNS.values()), [300, 3000], FULL_REPLICATIONS, SEED, n_jobs=2
    )
    summary = vs.summarize(results)
    print("\n" + vs.format_table(summary))
    return summary.set_index(["design", "n", "estimator", "parameter", "cov_type"])


@pytest.mark.slow
@pytest.mark.parametrize("design", ["constant", "heterogeneous", "heteroskedastic"])
def test_iv_bias_vanishes_naive_bias_does_not(study, design):
    for parameter in vs.PARAMETERS:
        iv = {n: study.loc[(design, n, "IV", parameter, "HC1")] for n in (300, 3000)}
        naive = {
            n: study.loc[(design, n, "naive", parameter, "HC1")] for n in (300, 3000)
        }
        # IV: the finite-sample bias (toward the naive estimate) shrinks, none is
        # detectable at n = 3000, and the error shrinks like 1/sqrt(n).
        assert abs(iv[3000].bias) < abs(iv[300].bias)
        assert abs(iv[3000].bias) < 4 * iv[3000].bias_mcse
        assert iv[3000].sd < iv[300].sd / 2.5
        # Naive: the bias stays (within 10%) while the noise around it shrinks.
        assert abs(naive[3000].bias) > 50 * naive[3000].bias_mcse
        assert abs(naive[3000].bias) > 0.9 * abs(naive[300].bias)


# Cells of the reference run (the script's defaults) whose HC0/HC1 coverage
# falls below the 99% band [94.2%, 95.8%], with the reason. At n = 300 the
# robust intervals under-cover by about one point: HC0 is biased down by the
# leverage (about k/n) and its sampling noise widens the t distribution; HC1
# corrects only the first. The heterogeneous θ_M cell at n = 3000 (94.0% and
# 94.1%) is partly chance: three further independent runs of 4 000 replications
# gave 94.6% and 95.0% at n = 3000 and 94.5% at n = 30 000; pooled, 94.55%
# ± 0.17%, a shortfall of about half a point from the noisy sandwich under
# the heavy-tailed error (θ_Mi - θ_M)M. Those cells are held to at least 93.5%.
BELOW_BAND = {
    ("constant", 300, "theta_M", "HC0"),
    ("heterogeneous", 300, "theta_M", "HC0"),
    ("heterogeneous", 300, "theta_M", "HC1"),
    ("heterogeneous", 3000, "theta_M", "HC0"),
    ("heterogeneous", 3000, "theta_M", "HC1"),
    ("heteroskedastic", 300, "theta_R", "HC0"),
    ("heteroskedastic", 300, "theta_R", "HC1"),
}


@pytest.mark.slow
@pytest.mark.parametrize("design", ["constant", "heterogeneous", "heteroskedastic"])
@pytest.mark.parametrize("n", [300, 3000])
def test_robust_coverage_in_binomial_band(study, design, n):
    for parameter in vs.PARAMETERS:
        for cov_type in ("HC0", "HC1"):
            row = study.loc[(design, n, "IV", parameter, cov_type)]
            cell = (design, n, parameter, cov_type)
            assert row.coverage <= row.band_high, (cell, row.coverage)
            if cell in BELOW_BAND:
                assert 0.935 <= row.coverage < row.band_low, (cell, row.coverage)
            else:
                assert row.in_band, (cell, row.coverage, row.band_low)


@pytest.mark.slow
@pytest.mark.parametrize("n", [300, 3000])
def test_unadjusted_covariance_holds_only_with_constant_effects(study, n):
    for parameter in vs.PARAMETERS:
        for cov_type in ("unadjusted", "classical"):
            row = study.loc[("constant", n, "IV", parameter, cov_type)]
            assert row.in_band, (parameter, cov_type, row.coverage)
    # Heterogeneous effects: the intervals for θ_M are too short (they cover
    # about 88-89%), those for θ_R too long (96-97%).
    for cov_type in ("unadjusted", "classical"):
        row = study.loc[("heterogeneous", n, "IV", "theta_M", cov_type)]
        assert row.coverage < row.band_low - 0.03, row.coverage
        assert row.mean_se < 0.9 * row.sd
        row = study.loc[("heterogeneous", n, "IV", "theta_R", cov_type)]
        assert row.coverage > row.band_high, row.coverage
    # Heteroskedastic Y(0,0) (AA-2 fails), constant effects: θ_M under-covers.
    row = study.loc[("heteroskedastic", n, "IV", "theta_M", "unadjusted")]
    assert row.coverage < row.band_low - 0.02, row.coverage


@pytest.mark.slow
@pytest.mark.parametrize("n", [300, 3000])
def test_weak_instruments_under_cover(study, n):
    """Expected first-stage F about 3 at both n: about 6 points short of 95%."""
    for parameter in vs.PARAMETERS:
        for cov_type in ("HC0", "HC1"):
            row = study.loc[("weak", n, "IV", parameter, cov_type)]
            assert row.mean_f < 5
            assert row.coverage < row.band_low - 0.03, row.coverage


@pytest.mark.slow
@pytest.mark.parametrize("n", [300, 3000])
def test_cluster_randomized_needs_cluster_covariance(study, n):
    """Randomized by cluster with cluster effects: HC1 intervals are far too short.

    With 50 clusters and normal critical values the cluster intervals still
    under-cover by two to three points (few-cluster bias; Cameron and Miller,
    2015), so they are held to at least 91%.
    """
    for parameter in vs.PARAMETERS:
        hc1 = study.loc[("clustered", n, "IV", parameter, "HC1")]
        cluster = study.loc[("clustered", n, "IV", parameter, "cluster")]
        assert cluster.coverage > 0.91, cluster.coverage
        assert cluster.coverage > hc1.coverage
        if n == 3000:  # 60 subjects per cluster: a large design effect
            assert hc1.coverage < 0.8, hc1.coverage


# -- bootstrap intervals (slow) ---------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("design", ["constant", "heterogeneous", "clustered"])
def test_bootstrap_coverage_in_binomial_band(design):
    """Percentile and BCa intervals of the IV estimates cover at the nominal rate.

    Pairs resampling (whole clusters in the clustered design), 999 resamples,
    400 trials per cell at n = 300: the table of the user guide's validation page, with the band exact.
    """
    table = vs.interval_coverage(
        [vs.DESIGNS[design]],
        [300],
        400,
        SEED,
        vs.bootstrap_intervals,
        n_jobs=2,
        n_resamples=999,
    )
    low, high = vs.coverage_band(400)
    assert set(table["method"]) == {"percentile", "bca"}
    assert ((table["coverage"] >= low) & (table["coverage"] <= high)).all(), table


@pytest.mark.slow
def test_bca_under_covers_with_weak_instruments():
    """With a first-stage F near 3 the BCa interval misses by several points."""
    table = vs.interval_coverage(
        [vs.DESIGNS["weak"]], [300], 400, SEED, vs.bootstrap_intervals, n_jobs=2
    )
    bca = table[table["method"] == "bca"]["coverage"]
    assert (bca < vs.coverage_band(400)[0]).all(), table


@pytest.mark.slow
@pytest.mark.parametrize("design", ["constant", "heterogeneous", "heteroskedastic"])
def test_hc3_covers_at_least_as_often_as_hc1(study, design):
    """HC3 divides each squared residual by (1 - h)², more than HC1's n/(n - k)
    on average (the mean leverage is k/n): its intervals are wider and cover
    at least as often, closing part of HC1's shortfall at n = 300."""
    for parameter in vs.PARAMETERS:
        hc1 = study.loc[(design, 300, "IV", parameter, "HC1")]
        hc3 = study.loc[(design, 300, "IV", parameter, "HC3")]
        assert hc3.coverage >= hc1.coverage, (parameter, hc1.coverage, hc3.coverage)
        assert hc3.coverage <= hc3.band_high
