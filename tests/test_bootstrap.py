"""bootstrap(): intervals against closed forms and scipy, engines against each other.

Tolerances: the vectorized engine must equal refitting to 1e-8 relative (it
agrees to about 1e-12 on these designs); intervals computed from identical
resamples agree with scipy.stats.bootstrap to 1e-10 (the statistics differ
only by summation order).
"""

import re
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import skmediate._bootstrap
import skmediate._numerics.batched
from skmediate import (
    BootstrapResult,
    DegenerateBootstrapWarning,
    FailedResampleWarning,
    IVMediationRegressor,
    NaiveMediationRegressor,
    WeakInstrumentWarning,
    bootstrap,
)
from skmediate._resampling import draw, make_units, pairs_rows

from .conftest import progress_bars

# Engine comparisons and plumbing tests draw few resamples on purpose; the
# warning that few resamples give unreliable intervals is tested on its own.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:n_resamples=\d+ is too few resamples"
    ":skmediate.exceptions.DegenerateBootstrapWarning"
)

RTOL = 1e-8
ESTIMATORS = [IVMediationRegressor, NaiveMediationRegressor]
COV_TYPES = ["unadjusted", "classical", "HC0", "HC1", "HC3", "cluster", "CR2"]
SCHEMES = ["pairs", "bayesian", "wild", "wild_mammen"]


def make_trial(n=160, n_clusters=12, seed=0):
    """A trial with strong covariate x treatment instruments, clusters, weights."""
    rng = np.random.default_rng(seed)
    r = rng.integers(0, 2, n).astype(float)
    x = rng.normal(size=(n, 2))
    z = rng.normal(size=n)
    u = rng.normal(size=n)
    groups = rng.integers(0, n_clusters, n)
    m = r * (1 + 2 * x[:, 0] - 1.5 * x[:, 1]) + 0.5 * u + 0.7 * rng.normal(size=n)
    y = 1 + x @ [0.5, -0.5] + 0.3 * z - r + 2 * m + u + rng.normal(size=n) * (1 + r)
    X = pd.DataFrame({"r": r, "m": m, "x1": x[:, 0], "x2": x[:, 1], "z1": z})
    weights = rng.integers(0, 3, n).astype(float)  # frequency weights, some 0
    return X, pd.Series(y, name="y"), groups, weights


@pytest.fixture(scope="module")
def trial():
    return make_trial()


def _est(cls, **kwargs):
    params = dict(treatment="r", mediator="m", covariates=["x1", "x2"], controls=["z1"])
    return cls(**params, **kwargs)


def _both_engines(estimator, X, y, **kwargs):
    vec = bootstrap(estimator, X, y, engine="vectorized", **kwargs)
    ref = bootstrap(estimator, X, y, engine="refit", **kwargs)
    assert vec.engine == "vectorized" and ref.engine == "refit"
    return vec, ref


def _assert_same(vec, ref, rtol=RTOL):
    assert vec.statistic_names == ref.statistic_names
    assert vec.n_failed == ref.n_failed
    # NaN (failed resamples) must be at the same places
    assert_allclose(vec.bootstrap_distribution, ref.bootstrap_distribution, rtol=rtol)
    assert_allclose(vec.confidence_interval.low, ref.confidence_interval.low, rtol=rtol)
    assert_allclose(
        vec.confidence_interval.high, ref.confidence_interval.high, rtol=rtol
    )
    assert_allclose(vec.standard_error, ref.standard_error, rtol=rtol)


# -- intervals against closed forms and scipy -----------------------------------


def test_percentile_interval_of_mean_is_close_to_t_interval():
    # For the mean of n = 200 normal values the percentile interval's half-width
    # is about z·sqrt((n-1)/n)/t = 0.991 of the t interval's; with B = 2000 the
    # Monte Carlo standard deviation of an endpoint is about 3% of the
    # half-width, so 15% is a 5-sigma bound.
    rng = np.random.default_rng(3)
    y = rng.normal(loc=2.0, scale=1.5, size=200)
    X = np.zeros((200, 1))
    res = bootstrap(
        DummyRegressor(),
        X,
        y,
        statistic=lambda e: float(e.constant_.ravel()[0]),
        n_resamples=2000,
        random_state=0,
    )
    mean, se = y.mean(), y.std(ddof=1) / np.sqrt(200)
    half = stats.t.ppf(0.975, 199) * se
    assert res.estimate[0] == pytest.approx(mean)
    assert abs(res.confidence_interval.low[0] - (mean - half)) < 0.15 * half
    assert abs(res.confidence_interval.high[0] - (mean + half)) < 0.15 * half
    # the bootstrap standard error of a mean is sqrt((n-1)/n) s/sqrt(n)
    assert res.standard_error[0] == pytest.approx(se * np.sqrt(199 / 200), rel=0.05)


@pytest.mark.parametrize("method", ["percentile", "basic", "bca"])
def test_matches_scipy_bootstrap_with_the_same_resamples(method):
    # Without strata and clusters the pairs resamples are the draws of
    # scipy.stats.bootstrap from the same generator, so everything matches.
    rng = np.random.default_rng(5)
    y = rng.exponential(size=40)  # skewed, so BCa differs from percentile
    X = np.zeros((40, 1))
    ours = bootstrap(
        DummyRegressor(),
        X,
        y,
        statistic=lambda e: float(e.constant_.ravel()[0]),
        n_resamples=999,
        method=method,
        confidence_level=0.9,
        random_state=11,
    )
    theirs = stats.bootstrap(
        (y,),
        np.mean,
        n_resamples=999,
        method="BCa" if method == "bca" else method,
        confidence_level=0.9,
        rng=np.random.default_rng(11),
    )
    # resampled rows are summed in a different order: rounding only
    assert_allclose(
        ours.bootstrap_distribution[0], theirs.bootstrap_distribution, rtol=1e-13
    )
    assert_allclose(
        ours.confidence_interval.low[0], theirs.confidence_interval.low, rtol=1e-10
    )
    assert_allclose(
        ours.confidence_interval.high[0], theirs.confidence_interval.high, rtol=1e-10
    )
    assert_allclose(ours.standard_error[0], theirs.standard_error, rtol=1e-10)


def test_basic_and_studentized_formulas(trial):
    X, y, _, _ = trial
    est = _est(IVMediationRegressor, cov_type="HC1")
    res = bootstrap(est, X, y, n_resamples=300, random_state=1, method="basic")
    pct = bootstrap(est, X, y, n_resamples=300, random_state=1)
    assert_allclose(
        res.confidence_interval.low, 2 * res.estimate - pct.confidence_interval.high
    )
    assert_allclose(
        res.confidence_interval.high, 2 * res.estimate - pct.confidence_interval.low
    )
    stud = bootstrap(est, X, y, n_resamples=300, random_state=1, method="studentized")
    # by hand from the refitted standard errors
    full = _est(IVMediationRegressor, cov_type="HC1").fit(X, y)
    se_hat = full.result_.std_errors.to_numpy()[-2:]
    both = bootstrap(
        est,
        X,
        y,
        n_resamples=300,
        random_state=1,
        statistic=("result_.params", "result_.std_errors"),
    )
    rows = {name: j for j, name in enumerate(both.statistic_names)}
    theta = both.bootstrap_distribution[
        [rows["result_.params[r]"], rows["result_.params[m]"]]
    ]
    se = both.bootstrap_distribution[
        [rows["result_.std_errors[r]"], rows["result_.std_errors[m]"]]
    ]
    t = (theta - stud.estimate[:, None]) / se
    q = np.quantile(t, [0.025, 0.975], axis=1)
    assert_allclose(
        stud.confidence_interval.low, stud.estimate - se_hat * q[1], rtol=1e-12
    )
    assert_allclose(
        stud.confidence_interval.high, stud.estimate - se_hat * q[0], rtol=1e-12
    )


# -- vectorized engine == refit ------------------------------------------------


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_vectorized_equals_refit(trial, cls, scheme, cov_type):
    X, y, groups, weights = trial
    fit_params = {"sample_weight": weights}
    clustered = cov_type in ("cluster", "CR2")
    if clustered:
        fit_params["groups"] = groups
    est = _est(cls, cov_type=cov_type)
    common = dict(
        n_resamples=8,
        random_state=7,
        scheme=scheme,
        fit_params=fit_params,
        # cluster-robust standard errors go with resampling whole clusters
        groups=groups if clustered else None,
    )
    # every coefficient and its standard error, on every resample
    _assert_same(
        *_both_engines(
            est, X, y, statistic=("result_.params", "result_.std_errors"), **common
        )
    )
    # studentized intervals from each resample's own standard errors
    _assert_same(
        *_both_engines(
            est,
            X,
            y,
            statistic=("direct_effect_", "mediator_effect_", "intercept_", "coef_"),
            method="studentized",
            **common,
        )
    )


@pytest.mark.parametrize("cov_type", ["cluster", "CR2"])
@pytest.mark.parametrize("scheme", ["pairs", "bayesian"])
def test_vectorized_equals_refit_cluster_covariance_with_row_resampling(
    trial, scheme, cov_type
):
    X, y, groups, weights = trial
    est = _est(IVMediationRegressor, cov_type=cov_type)
    _assert_same(
        *_both_engines(
            est,
            X,
            y,
            statistic=("result_.params", "result_.std_errors"),
            n_resamples=12,
            random_state=3,
            scheme=scheme,
            fit_params={"groups": groups},
        )
    )


@pytest.mark.parametrize("scheme", ["pairs", "bayesian", "wild"])
def test_vectorized_equals_refit_strata_and_clusters(trial, scheme):
    X, y, groups, _ = trial
    est = _est(IVMediationRegressor, cov_type="HC0")
    strata = None if scheme == "wild" else "treatment"
    _assert_same(
        *_both_engines(
            est, X, y, n_resamples=15, random_state=4, scheme=scheme, strata=strata
        )
    )
    _assert_same(
        *_both_engines(
            est, X, y, n_resamples=15, random_state=4, scheme=scheme, groups=groups
        )
    )


@pytest.mark.parametrize("groups_too", [False, True])
def test_vectorized_equals_refit_bca(groups_too):
    X, y, groups, weights = make_trial(n=100, n_clusters=10, seed=1)
    est = _est(IVMediationRegressor)
    _assert_same(
        *_both_engines(
            est,
            X,
            y,
            n_resamples=40,
            random_state=2,
            method="bca",
            groups=groups if groups_too else None,
            fit_params={"sample_weight": weights},
        )
    )


def test_vectorized_is_independent_of_blocks_and_chunks(trial, monkeypatch):
    X, y, groups, weights = trial
    est = _est(IVMediationRegressor, cov_type="cluster")
    kwargs = dict(
        n_resamples=30,
        random_state=9,
        method="studentized",
        groups=groups,
        fit_params={"groups": groups, "sample_weight": weights},
    )
    one = bootstrap(est, X, y, **kwargs)
    monkeypatch.setattr(skmediate._bootstrap, "_BLOCK_BYTES", 8 * 160 * 4 * 7)
    monkeypatch.setattr(skmediate._numerics.batched, "CHUNK_BYTES", 8 * 50 * 30 * 6 * 2)
    many = bootstrap(est, X, y, **kwargs)
    assert_allclose(many.bootstrap_distribution, one.bootstrap_distribution, rtol=1e-12)
    assert_allclose(
        many.confidence_interval.low, one.confidence_interval.low, rtol=1e-12
    )


def test_auto_engine_choice(trial):
    X, y, _, _ = trial
    est = _est(IVMediationRegressor)
    kwargs = dict(n_resamples=5, random_state=0)
    assert bootstrap(est, X, y, **kwargs).engine == "vectorized"
    assert (
        bootstrap(est, X, y, statistic=lambda e: e.direct_effect_, **kwargs).engine
        == "refit"
    )
    pipe = make_pipeline(FunctionTransformer(), est)
    assert bootstrap(pipe, X, y, **kwargs).engine == "refit"
    assert (
        bootstrap(est, X, y, statistic="first_stage_.f_statistic", **kwargs).engine
        == "refit"
    )


@pytest.mark.parametrize("kappa", ["liml", "fuller", 0.5])
def test_k_class_is_refitted(trial, kappa):
    """The vectorized engine computes 2SLS; other k-class estimators are refitted."""
    X, y, _, _ = trial
    est = _est(IVMediationRegressor, kappa=kappa)
    kwargs = dict(n_resamples=20, random_state=1)
    with pytest.raises(
        ValueError, match=rf"does not apply.*kappa={kappa!r} is refitted"
    ):
        bootstrap(est, X, y, engine="vectorized", **kwargs)
    auto = bootstrap(est, X, y, **kwargs)
    assert auto.engine == "refit"
    # Each resample's statistics are the k-class fit on the resampled rows.
    units = make_units(len(y), None, None, None)
    counts = next(draw("pairs", units, 1, np.random.default_rng(1), 1))[0]
    rows, _ = pairs_rows(counts, units)
    fit = _est(IVMediationRegressor, kappa=kappa).fit(X.iloc[rows], y.iloc[rows])
    assert_allclose(
        auto.bootstrap_distribution[:, 0],
        [fit.direct_effect_, fit.mediator_effect_],
        rtol=1e-10,
    )
    # 2SLS written as kappa=1 keeps the vectorized engine.
    assert bootstrap(_est(IVMediationRegressor, kappa=1.0), X, y, **kwargs).engine == (
        "vectorized"
    )


def test_failed_resamples_agree_between_engines():
    # A binary covariate that is 1 for only three treated rows: resamples
    # that miss all three make its interaction with the treatment collinear
    # with the treatment, so the refit raises. The vectorized engine flags
    # those resamples and refits them, so both engines fail on the same ones.
    rng = np.random.default_rng(0)
    n = 80
    r = np.r_[np.ones(40), np.zeros(40)]
    rare = np.zeros(n)
    rare[[0, 1, 2, 50, 60, 70]] = 1
    x = rng.normal(size=n)
    m = r * (1 + 3 * x + 3 * rare) + 0.5 * rng.normal(size=n)
    y = 1 - r + 2 * m + rng.normal(size=n)
    X = pd.DataFrame({"r": r, "m": m, "x": x, "rare": rare})
    est = IVMediationRegressor(treatment="r", mediator="m", covariates=["x", "rare"])
    with pytest.warns(FailedResampleWarning, match=r"resamples failed") as record:
        vec, ref = _both_engines(est, X, y, n_resamples=60, random_state=1)
    assert 0 < vec.n_failed == ref.n_failed < 60
    assert any("rank-deficient" in str(w.message) for w in record)
    failed = np.isnan(ref.bootstrap_distribution[0])
    assert_array_equal(np.isnan(vec.bootstrap_distribution[0]), failed)
    assert_allclose(
        vec.bootstrap_distribution[:, ~failed],
        ref.bootstrap_distribution[:, ~failed],
        rtol=RTOL,
    )


# -- resampling plans ----------------------------------------------------------


def test_pairs_counts_equal_repeated_rows(trial):
    # The built-in estimators treat sample_weight as frequency weights: the fit
    # with a resample's counts equals the fit on the repeated rows (for every
    # covariance but the cluster one, where a repeated cluster is one cluster
    # with weight 2 rather than two clusters).
    X, y, _, _ = trial
    counts = next(
        draw(
            "pairs",
            make_units(len(y), None, None, None),
            1,
            np.random.default_rng(0),
            1,
        )
    )[0]
    rows, _ = pairs_rows(counts, make_units(len(y), None, None, None))
    for cls in ESTIMATORS:
        for cov_type in COV_TYPES[:4]:
            weighted = _est(cls, cov_type=cov_type).fit(X, y, sample_weight=counts)
            repeated = _est(cls, cov_type=cov_type).fit(X.iloc[rows], y.iloc[rows])
            assert_allclose(
                weighted.result_.params, repeated.result_.params, rtol=1e-10
            )
            assert_allclose(
                weighted.result_.std_errors, repeated.result_.std_errors, rtol=1e-10
            )


def test_stratified_resamples_keep_stratum_sizes():
    strata = np.repeat([0, 1, 2], [5, 17, 30])
    units = make_units(52, strata, None, None)
    for counts in draw("pairs", units, 200, np.random.default_rng(0), 64):
        for s, size in enumerate([5, 17, 30]):
            assert_array_equal(counts[:, strata == s].sum(axis=1), size)
    weights = np.random.default_rng(1).uniform(0.5, 2, 52)
    units = make_units(52, strata, None, weights)
    for omega in draw("bayesian", units, 50, np.random.default_rng(0), 64):
        for s in range(3):
            totals = (omega[:, strata == s] * weights[strata == s]).sum(axis=1)
            assert_allclose(totals, weights[strata == s].sum(), rtol=1e-12)


def test_stratified_bootstrap_keeps_arm_sizes_through_the_api(trial):
    # The share of treated rows is the same in every resample within arms.
    X, _, _, _ = trial
    r = X["r"].to_numpy()
    with pytest.warns(DegenerateBootstrapWarning, match="constant"):
        res = bootstrap(
            DummyRegressor(),
            X,
            r,
            statistic=lambda e: float(e.constant_.ravel()[0]),
            n_resamples=50,
            strata=r,
            random_state=0,
        )
    assert_allclose(res.bootstrap_distribution, r.mean(), rtol=1e-14)
    # strata="treatment" resolves the treatment column of a built-in estimator
    est = _est(IVMediationRegressor)
    a = bootstrap(
        est, X, r * 0 + X["m"], n_resamples=20, strata="treatment", random_state=2
    )
    b = bootstrap(est, X, r * 0 + X["m"], n_resamples=20, strata=r, random_state=2)
    assert_array_equal(a.bootstrap_distribution, b.bootstrap_distribution)


def test_cluster_resamples_keep_clusters_whole():
    groups = np.repeat(["a", "b", "c", "d", "e"], [3, 1, 4, 2, 5])
    units = make_units(15, None, groups, None)
    for counts in draw("pairs", units, 100, np.random.default_rng(0), 100):
        assert_array_equal(counts.sum(axis=1), 5)  # five clusters drawn
        for c in counts:
            rows, draws = pairs_rows(c, units)
            row_counts = np.bincount(rows, minlength=15)
            for label in "abcde":
                in_cluster = row_counts[groups == label]
                assert (in_cluster == in_cluster[0]).all()  # all rows or none
            # every draw of a cluster is a separate cluster of the refit
            assert np.unique(draws).size == 5
            for d in np.unique(draws):
                assert np.unique(groups[rows[draws == d]]).size == 1


def test_wild_multipliers():
    units = make_units(4000, None, None, None)
    signs = next(draw("wild", units, 3, np.random.default_rng(0), 3))
    assert set(np.unique(signs)) == {-1.0, 1.0}
    mammen = next(draw("wild_mammen", units, 3, np.random.default_rng(0), 3)).ravel()
    # mean 0, variance 1, third moment 1 (Mammen 1993): sampling error ~0.02-0.05
    assert abs(mammen.mean()) < 0.05
    assert mammen.var() == pytest.approx(1, abs=0.05)
    assert (mammen**3).mean() == pytest.approx(1, abs=0.15)


def test_wild_cluster_multipliers_are_constant_within_clusters(trial):
    # One multiplier per cluster: the refit outcome ŷ + ε̂ v has ε-ratios
    # constant within each cluster.
    X, y, groups, _ = trial
    units = make_units(len(y), None, groups, None)
    v = next(draw("wild", units, 1, np.random.default_rng(0), 1))[0]
    row_v = v[units.codes]
    for g in np.unique(groups):
        assert np.unique(row_v[groups == g]).size == 1


# -- reproducibility and parallelism -------------------------------------------


def test_reproducible_with_random_state(trial):
    X, y, _, _ = trial
    est = _est(IVMediationRegressor)
    a = bootstrap(est, X, y, n_resamples=50, random_state=3)
    b = bootstrap(est, X, y, n_resamples=50, random_state=3)
    c = bootstrap(est, X, y, n_resamples=50, random_state=4)
    d = bootstrap(est, X, y, n_resamples=50, random_state=np.random.default_rng(3))
    assert_array_equal(a.bootstrap_distribution, b.bootstrap_distribution)
    assert_array_equal(a.bootstrap_distribution, d.bootstrap_distribution)
    assert not np.array_equal(a.bootstrap_distribution, c.bootstrap_distribution)


def test_identical_for_n_jobs_1_and_2(trial):
    X, y, groups, _ = trial
    pipe = make_pipeline(FunctionTransformer(), _est(IVMediationRegressor))
    kwargs = dict(
        statistic=lambda e: e[-1].result_.params.to_numpy(),
        n_resamples=8,
        groups=groups,
        random_state=5,
    )
    one = bootstrap(pipe, X, y, n_jobs=1, **kwargs)
    two = bootstrap(pipe, X, y, n_jobs=2, **kwargs)
    assert_array_equal(one.bootstrap_distribution, two.bootstrap_distribution)


# -- any estimator ---------------------------------------------------------------


def test_pipeline_ending_in_builtin_equals_bare_estimator(trial):
    X, y, _, _ = trial
    est = _est(IVMediationRegressor)
    pipe = make_pipeline(FunctionTransformer(), est)
    for scheme in ["pairs", "wild"]:
        bare = bootstrap(
            est, X, y, n_resamples=20, random_state=1, scheme=scheme, engine="refit"
        )
        piped = bootstrap(pipe, X, y, n_resamples=20, random_state=1, scheme=scheme)
        assert piped.engine == "refit"
        assert piped.statistic_names == ("direct_effect_", "mediator_effect_")
        assert_allclose(
            piped.bootstrap_distribution, bare.bootstrap_distribution, rtol=1e-12
        )
    # studentized intervals use the final step's standard errors
    stud = bootstrap(pipe, X, y, n_resamples=20, random_state=1, method="studentized")
    bare = bootstrap(est, X, y, n_resamples=20, random_state=1, method="studentized")
    assert_allclose(
        stud.confidence_interval.low, bare.confidence_interval.low, rtol=1e-10
    )


def test_sensitivity_grid_column_equals_bare_estimator(trial):
    """The tau = 0 row of a SensitivityGrid is the plain fit, resample by resample."""
    from skmediate import SensitivityGrid

    X, y, _, _ = trial
    est = _est(IVMediationRegressor)
    grid = SensitivityGrid(
        est, tau_direct={"x1": [0.0, 1.0]}, tau_mediator={"x2": [0.0, 0.5]}
    )
    by_grid = bootstrap(
        grid,
        X,
        y,
        statistic=lambda g: np.array(
            [g.results_["direct_effect"][0], g.results_["mediator_effect"][0]]
        ),
        n_resamples=30,
        random_state=4,
    )
    bare = bootstrap(est, X, y, n_resamples=30, random_state=4, engine="refit")
    assert by_grid.engine == "refit"
    assert_allclose(
        by_grid.bootstrap_distribution, bare.bootstrap_distribution, rtol=1e-10
    )
    # A whole column of the grid: every grid point at once.
    columns = bootstrap(
        grid,
        X,
        y,
        statistic=lambda g: g.results_["mediator_effect"],
        n_resamples=30,
        random_state=4,
    )
    assert columns.bootstrap_distribution.shape == (4, 30)


def test_plain_linear_regression_against_numpy_loop():
    rng = np.random.default_rng(0)
    n, B = 60, 200
    X = rng.normal(size=(n, 2))
    y = X @ [1.0, -2.0] + rng.normal(size=n)
    res = bootstrap(
        LinearRegression(),
        X,
        y,
        statistic=lambda e: e.coef_,
        n_resamples=B,
        random_state=4,
    )
    indices = np.random.default_rng(4).integers(0, n, size=(B, n))
    design = np.column_stack([np.ones(n), X])
    by_hand = np.array(
        [np.linalg.lstsq(design[i], y[i], rcond=None)[0][1:] for i in indices]
    ).T
    assert res.statistic_names == ("statistic[0]", "statistic[1]")
    assert_allclose(res.bootstrap_distribution, by_hand, rtol=1e-10)
    assert_allclose(
        res.confidence_interval.low, np.quantile(by_hand, 0.025, axis=1), rtol=1e-10
    )
    # Bayesian and wild schemes work for any regressor with sample_weight / predict
    for scheme in ["bayesian", "wild"]:
        other = bootstrap(
            LinearRegression(),
            X,
            y,
            statistic=lambda e: e.coef_,
            n_resamples=50,
            scheme=scheme,
            random_state=0,
        )
        assert other.n_failed == 0
        assert (other.confidence_interval.low < res.estimate).all()


def test_series_and_dataframe_statistics(trial):
    X, y, _, _ = trial
    est = _est(NaiveMediationRegressor)
    res = bootstrap(
        est, X, y, statistic=lambda e: e.result_.params, n_resamples=10, random_state=0
    )
    assert res.statistic_names == ("intercept", "x1", "x2", "z1", "r", "m")
    frame = bootstrap(
        est,
        X,
        y,
        statistic=lambda e: e.result_.to_frame()[["estimate", "std_error"]],
        n_resamples=10,
        method="studentized",
        random_state=0,
    )
    named = bootstrap(
        est,
        X,
        y,
        statistic="result_.params",
        n_resamples=10,
        method="studentized",
        random_state=0,
    )
    assert named.statistic_names[0] == "result_.params[intercept]"
    assert_allclose(
        frame.confidence_interval.low, named.confidence_interval.low, rtol=1e-12
    )


def test_result_object(trial):
    X, y, _, _ = trial
    res = bootstrap(_est(IVMediationRegressor), X, y, n_resamples=30, random_state=0)
    assert isinstance(res, BootstrapResult)
    assert res.bootstrap_distribution.shape == (2, 30)
    assert res.n_failed == 0
    frame = res.to_frame()
    assert list(frame.columns) == ["estimate", "std_error", "lower", "upper"]
    assert list(frame.index) == ["direct_effect_", "mediator_effect_"]
    assert (frame.lower < frame.estimate).all() and (frame.estimate < frame.upper).all()
    assert_allclose(res.standard_error, res.bootstrap_distribution.std(axis=1, ddof=1))
    with pytest.raises(AttributeError):
        res.n_failed = 3


def test_input_is_not_modified(trial):
    X, y, groups, weights = trial
    X0, y0, g0, w0 = X.copy(), y.copy(), groups.copy(), weights.copy()
    est = _est(IVMediationRegressor, cov_type="cluster")
    params = est.get_params()
    for engine in ["vectorized", "refit"]:
        bootstrap(
            est,
            X,
            y,
            n_resamples=5,
            random_state=0,
            groups=groups,
            engine=engine,
            fit_params={"groups": groups, "sample_weight": weights},
        )
    pd.testing.assert_frame_equal(X, X0)
    pd.testing.assert_series_equal(y, y0)
    assert_array_equal(groups, g0)
    assert_array_equal(weights, w0)
    assert est.get_params() == params and not hasattr(est, "result_")


# -- warnings --------------------------------------------------------------------


class _FailsWithoutFirstRow(RegressorMixin, BaseEstimator):
    """Raises when the first row of the training data is left out."""

    def fit(self, X, y):
        X = np.asarray(X)
        if not (X[:, 0] == 0).any():
            raise ValueError("row 0 is missing")
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


def test_failed_refits_are_counted_and_warned():
    rng = np.random.default_rng(0)
    X = np.arange(12.0)[:, None]
    y = rng.normal(size=12)
    with pytest.warns(
        FailedResampleWarning, match=r"of 200 resamples failed.*row 0 is missing"
    ):
        res = bootstrap(
            _FailsWithoutFirstRow(),
            X,
            y,
            statistic="mean_",
            n_resamples=200,
            random_state=0,
        )
    # P(row 0 left out) = (11/12)^12 ≈ 0.35
    assert 30 < res.n_failed < 110
    failed = np.isnan(res.bootstrap_distribution[0])
    assert failed.sum() == res.n_failed
    kept = res.bootstrap_distribution[0, ~failed]
    assert res.confidence_interval.low[0] == pytest.approx(np.quantile(kept, 0.025))


def test_constant_statistic_warns(trial):
    X, y, _, _ = trial
    with pytest.warns(DegenerateBootstrapWarning, match="constant"):
        res = bootstrap(
            LinearRegression(),
            X,
            y,
            statistic=lambda e: 1.0,
            n_resamples=20,
            random_state=0,
        )
    assert res.standard_error[0] == 0
    with pytest.warns(DegenerateBootstrapWarning, match="acceleration is undefined"):
        res = bootstrap(
            LinearRegression(),
            X,
            y,
            statistic=lambda e: 1.0,
            n_resamples=20,
            method="bca",
            random_state=0,
        )
    assert np.isnan(res.confidence_interval.low).all()


@pytest.mark.parametrize("level, needed", [(0.95, 41), (0.9, 21), (0.99, 201)])
def test_too_few_resamples_for_the_level_warn(trial, level, needed):
    """Fewer than 2 / (1 - level) + 1 resamples: the ends are the extreme resamples."""
    X, y, _, _ = trial
    assert skmediate._bootstrap.min_resamples(level) == needed
    options = dict(statistic=lambda e: e.coef_[0], confidence_level=level)
    with pytest.warns(
        DegenerateBootstrapWarning,
        match=rf"n_resamples={needed - 1} is too few resamples for a "
        rf"{100 * level:g}% bootstrap interval.*at least {needed} are needed for a "
        rf"{100 * level:g}% interval, and 999 or more \(1999 for BCa\)",
    ):
        bootstrap(LinearRegression(), X, y, n_resamples=needed - 1, **options)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        bootstrap(LinearRegression(), X, y, n_resamples=needed, **options)
    assert not [w for w in record if "too few resamples" in str(w.message)]


def test_two_resamples_give_an_interval_that_can_miss_the_estimate(trial):
    """Why the rule exists (the command line's --bootstrap 2)."""
    X, y, _, _ = trial
    with pytest.warns(DegenerateBootstrapWarning, match="too few resamples"):
        results = [
            bootstrap(
                LinearRegression(),
                X,
                y,
                statistic=lambda e: e.coef_[0],
                n_resamples=2,
                random_state=seed,
            )
            for seed in range(10)
        ]
    assert any(
        not r.confidence_interval.low[0]
        <= r.estimate[0]
        <= r.confidence_interval.high[0]
        for r in results
    )


def test_too_few_distinct_resamples_warns():
    X = np.zeros((4, 1))
    y = np.array([1.0, 2.0, 4.0, 8.0])
    with pytest.warns(DegenerateBootstrapWarning, match="only about 35 distinct"):
        bootstrap(
            DummyRegressor(),
            X,
            y,
            statistic=lambda e: float(e.constant_.ravel()[0]),
            n_resamples=100,
            random_state=0,
        )


def test_warnings_of_refits_are_summarized():
    # A weak first stage: most refits warn; the warning is repeated once.
    rng = np.random.default_rng(1)
    n = 120
    r = rng.integers(0, 2, n).astype(float)
    x = rng.normal(size=n)
    m = r * (0.3 + 0.2 * x) + rng.normal(size=n)
    y = 1 - r + m + rng.normal(size=n)
    X = pd.DataFrame({"r": r, "m": m, "x": x})
    est = IVMediationRegressor(treatment="r", mediator="m")
    with pytest.warns(WeakInstrumentWarning) as record:
        bootstrap(est, X, y, n_resamples=20, random_state=0, engine="refit")
    summary = [w for w in record if "resample fits" in str(w.message)]
    assert len(summary) == 1
    assert re.search(r"issued by \d+ of 20 resample fits", str(summary[0].message))


def test_progress_bar(trial, capsys):
    X, y, _, _ = trial
    bootstrap(
        LinearRegression(),
        X,
        y,
        statistic=lambda e: e.coef_,
        n_resamples=5,
        progress=True,
        random_state=0,
    )
    assert progress_bars(capsys.readouterr().err) == [
        ("bootstrap (LinearRegression)", 5, 5)
    ]


@pytest.mark.parametrize("engine", ["vectorized", "refit"])
def test_progress_counts_the_resamples_of_either_engine(trial, capsys, engine):
    X, y, _, _ = trial
    options = dict(n_resamples=50, method="bca", engine=engine, random_state=2)
    est = _est(IVMediationRegressor)
    quiet = bootstrap(est, X, y, **options)
    assert capsys.readouterr().err == ""
    shown = bootstrap(est, X, y, progress=True, **options)
    # the resamples, then the jackknife's leave-one-out fits of BCa
    assert progress_bars(capsys.readouterr().err) == [
        ("bootstrap (IVMediationRegressor)", 50, 50),
        ("jackknife (IVMediationRegressor)", len(y), len(y)),
    ]
    assert shown.engine == engine
    assert_array_equal(shown.bootstrap_distribution, quiet.bootstrap_distribution)
    assert_array_equal(shown.confidence_interval.low, quiet.confidence_interval.low)
    assert_array_equal(shown.confidence_interval.high, quiet.confidence_interval.high)


def test_progress_without_tqdm(trial, monkeypatch):
    X, y, _, _ = trial
    monkeypatch.setitem(sys.modules, "tqdm", None)
    with pytest.raises(ImportError, match=r"skmediate\[progress\]"):
        bootstrap(LinearRegression(), X, y, statistic="coef_", progress=True)


# -- bad input -------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -3, 2.5, True, "100"])
def test_bad_n_resamples(trial, value):
    X, y, _, _ = trial
    with pytest.raises(ValueError, match="n_resamples must be a positive integer"):
        bootstrap(_est(IVMediationRegressor), X, y, n_resamples=value)


@pytest.mark.parametrize(
    "name, value",
    [("method", "bootstrap-t"), ("scheme", "residual"), ("engine", "fast")],
)
def test_unknown_option(trial, name, value):
    X, y, _, _ = trial
    with pytest.raises(
        ValueError, match=rf"{name} must be one of \[.*\]; got '{value}'"
    ):
        bootstrap(_est(IVMediationRegressor), X, y, **{name: value})


@pytest.mark.parametrize("level", [0, 1, 95, "0.9"])
def test_bad_confidence_level(trial, level):
    X, y, _, _ = trial
    with pytest.raises(ValueError, match="confidence_level must be a number in"):
        bootstrap(_est(IVMediationRegressor), X, y, confidence_level=level)


def test_unknown_statistic_name(trial):
    X, y, _, _ = trial
    with pytest.raises(
        ValueError,
        match=r"unknown statistic 'direct_effect'.*Fitted attributes: \[.*'direct_effect_'",
    ):
        bootstrap(_est(IVMediationRegressor), X, y, statistic="direct_effect")
    pipe = make_pipeline(StandardScaler(), LinearRegression())
    with pytest.raises(ValueError, match="or of its final step"):
        bootstrap(pipe, X, y, statistic="direct_effect_")


@pytest.mark.parametrize("statistic", [3, ["a", 1], (), None])
def test_statistic_of_wrong_type(trial, statistic):
    X, y, _, _ = trial
    with pytest.raises(TypeError, match="statistic must be a fitted attribute name"):
        bootstrap(_est(IVMediationRegressor), X, y, statistic=statistic)


def test_statistic_not_finite_on_full_data(trial):
    X, y, _, _ = trial
    with pytest.raises(
        ValueError, match=r"not finite on the full data: 'statistic\[1\]' = nan"
    ):
        bootstrap(LinearRegression(), X, y, statistic=lambda e: [1.0, np.nan])
    with pytest.raises(ValueError, match="must give a number or a 1-D array"):
        bootstrap(LinearRegression(), X, y, statistic=lambda e: np.ones((2, 2)))


@pytest.mark.parametrize("name", ["strata", "groups"])
def test_labels_of_wrong_length(trial, name):
    X, y, _, _ = trial
    with pytest.raises(
        ValueError,
        match=rf"{name} must be a 1-D array with one label per row of X \(160 rows\); got shape \(159,\)",
    ):
        bootstrap(_est(IVMediationRegressor), X, y, **{name: np.zeros(159)})
    labels = np.zeros(160, dtype=object)
    labels[3] = None
    with pytest.raises(ValueError, match=rf"{name} contains missing values"):
        bootstrap(_est(IVMediationRegressor), X, y, **{name: labels})


def test_strata_must_be_constant_within_clusters(trial):
    X, y, groups, _ = trial
    with pytest.raises(ValueError, match="strata must be constant within each cluster"):
        bootstrap(_est(IVMediationRegressor), X, y, groups=groups, strata="treatment")


def test_unsupported_scheme(trial):
    X, y, _, _ = trial
    with pytest.raises(
        ValueError, match=r"scheme='bayesian'.*KNeighborsRegressor.fit does not accept"
    ):
        bootstrap(
            KNeighborsRegressor(), X, y, statistic="n_features_in_", scheme="bayesian"
        )
    with pytest.raises(
        ValueError, match=r"scheme='wild'.*LogisticRegression is not one"
    ):
        bootstrap(LogisticRegression(), X, y > 0, statistic="coef_", scheme="wild")
    with pytest.raises(ValueError, match="strata do not apply to scheme='wild_mammen'"):
        bootstrap(
            _est(IVMediationRegressor), X, y, scheme="wild_mammen", strata="treatment"
        )
    with pytest.raises(
        ValueError, match="strata='treatment' resamples within the arms"
    ):
        bootstrap(LinearRegression(), X, y, statistic="coef_", strata="treatment")


def test_vectorized_engine_that_does_not_apply(trial):
    X, y, _, _ = trial
    pipe = make_pipeline(FunctionTransformer(), _est(IVMediationRegressor))
    with pytest.raises(
        ValueError, match="engine='vectorized' does not apply.*not Pipeline"
    ):
        bootstrap(pipe, X, y, engine="vectorized")
    with pytest.raises(
        ValueError, match="engine='vectorized' does not apply.*callable"
    ):
        bootstrap(
            _est(IVMediationRegressor),
            X,
            y,
            engine="vectorized",
            statistic=lambda e: 1.0,
        )


def test_studentized_needs_standard_errors(trial):
    X, y, _, _ = trial
    with pytest.raises(
        ValueError, match="needs a standard error.*'result_.std_errors'"
    ):
        bootstrap(
            _est(IVMediationRegressor),
            X,
            y,
            statistic="result_.std_errors",
            method="studentized",
        )
    with pytest.raises(ValueError, match="columns 'estimate' and 'std_error'"):
        bootstrap(
            LinearRegression(), X, y, statistic=lambda e: e.coef_, method="studentized"
        )


def test_bad_random_state_and_fit_params(trial):
    X, y, _, _ = trial
    with pytest.raises(TypeError, match="random_state must be None, an int"):
        bootstrap(_est(IVMediationRegressor), X, y, random_state="seed")
    with pytest.raises(TypeError, match="fit_params must be a dict"):
        bootstrap(_est(IVMediationRegressor), X, y, fit_params=[("sample_weight", 1)])


# -- coverage ------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("method", ["percentile", "bca", "studentized"])
@pytest.mark.parametrize("scheme", ["pairs", "wild"])
def test_coverage_of_direct_and_mediator_effects(method, scheme):
    # 400 simulated trials with heterogeneous effects and heteroskedastic
    # errors; the 90% intervals should cover the true average effects in 90%
    # of them. Judged by a two-sided binomial test at level 0.001 per effect.
    n_trials, hits = 400, np.zeros(2)
    for seed in range(n_trials):
        rng = np.random.default_rng(1000 + seed)
        n = 500
        r = rng.integers(0, 2, n).astype(float)
        x = rng.normal(size=(n, 2))
        u = rng.normal(size=n)
        m = r * (1 + 2 * x[:, 0] - 1.5 * x[:, 1]) + 0.5 * u + rng.normal(size=n)
        theta_r = -1 + 0.5 * rng.normal(size=n)
        theta_m = 2 + 0.3 * rng.normal(size=n)
        y = (
            1
            + x @ [0.5, -0.5]
            + theta_r * r
            + theta_m * m
            + u
            + rng.normal(size=n) * (1 + r)
        )
        X = pd.DataFrame({"r": r, "m": m, "x1": x[:, 0], "x2": x[:, 1]})
        res = bootstrap(
            IVMediationRegressor(treatment="r", mediator="m"),
            X,
            y,
            n_resamples=499,
            method=method,
            scheme=scheme,
            confidence_level=0.9,
            random_state=seed,
        )
        low, high = res.confidence_interval
        hits += (low <= [-1, 2]) & ([-1, 2] <= high)
    for k in hits:
        assert stats.binomtest(int(k), n_trials, 0.9).pvalue > 0.001, hits / n_trials


def test_random_state_kinds_and_scipy_spelling(trial):
    """A RandomState is accepted (reproducibly), and method="BCa" as in scipy."""
    X, y, _, _ = trial
    est = _est(IVMediationRegressor)
    runs = [
        bootstrap(est, X, y, n_resamples=20, random_state=np.random.RandomState(4))
        for _ in range(2)
    ]
    np.testing.assert_array_equal(
        runs[0].bootstrap_distribution, runs[1].bootstrap_distribution
    )
    a = bootstrap(est, X, y, n_resamples=30, method="BCa", random_state=1)
    b = bootstrap(est, X, y, n_resamples=30, method="bca", random_state=1)
    np.testing.assert_array_equal(a.confidence_interval.low, b.confidence_interval.low)


# -- several mediators -----------------------------------------------------------


def make_several_trial(n=400, n_clusters=40, seed=3):
    """Two mediators sharing a confounder with y; each modified by a covariate."""
    rng = np.random.default_rng(seed)
    r = rng.integers(0, 2, n).astype(float)
    x = rng.normal(size=(n, 3))
    u = rng.normal(size=n)
    m1 = r * (1 + 3 * x[:, 0]) + u + rng.normal(size=n)
    m2 = r * (1 - 3 * x[:, 1] + x[:, 2]) + u + rng.normal(size=n)
    y = 0.5 - r + m1 - 0.5 * m2 + x[:, 0] + u + rng.normal(size=n) * (1 + r)
    X = pd.DataFrame({"r": r, "m1": m1, "m2": m2, "x1": x[:, 0], "x2": x[:, 1]})
    X["x3"] = x[:, 2]
    groups = rng.integers(0, n_clusters, n)
    weights = rng.integers(0, 3, n).astype(float)
    return X, pd.Series(y, name="y"), groups, weights


SEVERAL = dict(treatment="r", mediator=["m1", "m2"], covariates=["x1", "x2", "x3"])
SEVERAL_RTOL = 1e-10


@pytest.fixture(scope="module")
def several():
    return make_several_trial()


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("cov_type", ["HC1", "cluster"])
def test_several_mediators_vectorized_equals_refit(several, cls, scheme, cov_type):
    X, y, groups, weights = several
    fit_params = {"sample_weight": weights}
    if cov_type == "cluster":
        fit_params["groups"] = groups
    common = dict(
        n_resamples=8,
        random_state=11,
        scheme=scheme,
        fit_params=fit_params,
        groups=groups if cov_type == "cluster" else None,
    )
    est = cls(**SEVERAL, cov_type=cov_type)
    vec, ref = _both_engines(
        est, X, y, statistic=("result_.params", "result_.std_errors"), **common
    )
    _assert_same(vec, ref, rtol=SEVERAL_RTOL)
    vec, ref = _both_engines(est, X, y, method="studentized", **common)
    _assert_same(vec, ref, rtol=SEVERAL_RTOL)
    assert vec.statistic_names == (
        "direct_effect_",
        "mediator_effect_[m1]",
        "mediator_effect_[m2]",
    )


def test_several_mediators_bca_engines_agree(several):
    X, y, _, _ = several
    _assert_same(
        *_both_engines(
            IVMediationRegressor(**SEVERAL),
            X,
            y,
            n_resamples=40,
            random_state=2,
            method="bca",
        ),
        rtol=SEVERAL_RTOL,
    )


def test_several_mediators_frame_has_a_row_per_statistic(several):
    X, y, _, _ = several
    est = IVMediationRegressor(**SEVERAL)
    res = bootstrap(est, X, y, n_resamples=30, random_state=0)
    frame = res.to_frame()
    fitted = clone(est).fit(X, y)
    assert frame.index.tolist() == [
        "direct_effect_",
        "mediator_effect_[m1]",
        "mediator_effect_[m2]",
    ]
    assert_allclose(
        frame["estimate"],
        [fitted.direct_effect_, *fitted.mediator_effect_.to_numpy()],
        rtol=1e-13,
    )
    # the bootstrap distribution of each mediator's effect: by hand, refitting
    # on the rows of each resample
    rng = np.random.default_rng(0)
    rows = rng.integers(0, len(y), size=(30, len(y)))  # scipy's pairs draws
    by_hand = [
        clone(est).fit(X.iloc[i], y.iloc[i]).mediator_effect_.to_numpy() for i in rows
    ]
    assert_allclose(res.bootstrap_distribution[1:].T, by_hand, rtol=1e-10)
    text = res.summary().as_text()
    assert "mediator_effect_[m1]" in text and "mediator_effect_[m2]" in text


def test_several_mediators_effects_by_a_callable(several):
    # The effects table (names from effect_names) through a callable statistic:
    # refitted, with each resample's delta-method standard errors.
    X, y, _, _ = several
    est = NaiveMediationRegressor(**SEVERAL)
    res = bootstrap(
        est,
        X,
        y,
        statistic=lambda e: e.result_.effects[["estimate", "std_error"]],
        method="studentized",
        n_resamples=12,
        random_state=1,
    )
    fitted = clone(est).fit(X, y)
    assert res.engine == "refit"
    assert res.statistic_names == tuple(fitted.result_.effects.index)
    assert "indirect[m2]" in res.statistic_names
    assert_allclose(res.estimate, fitted.result_.effects["estimate"], rtol=1e-13)
