"""simulate(): summary arithmetic, reproducibility, parallelism, failures."""

import math
import sys
import warnings
from functools import partial

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import check_random_state

from skmediate import (
    IVMediationRegressor,
    NaiveMediationRegressor,
    SensitivityGrid,
    UnusedGroupsWarning,
)
from skmediate.datasets import make_mediation_data
from skmediate.simulation import SimulationResult, simulate, summarize

from .conftest import progress_bars

ROLES = dict(treatment="r", mediator="m", covariates=["x1", "x2"])


class MeanEstimator(RegressorMixin, BaseEstimator):
    """The mean of y with its standard error and normal 95% interval."""

    def __init__(self, fail_below=None, warn=False):
        self.fail_below = fail_below
        self.warn = warn

    def fit(self, X, y):
        y = np.asarray(y, dtype=float)
        if self.fail_below is not None and y[0] < self.fail_below:
            raise RuntimeError("first value too small")
        if self.warn:
            warnings.warn("a toy warning", UserWarning, stacklevel=2)
        self.mean_ = y.mean()
        self.se_ = y.std(ddof=1) / np.sqrt(y.size)
        return self


def mean_statistic(est):
    z = stats.norm.isf(0.025)
    return est.mean_, est.se_, est.mean_ - z * est.se_, est.mean_ + z * est.se_


def normal_sample(random_state, n=20, mu=1.0):
    rng = np.random.default_rng(random_state)
    y = rng.normal(mu, 1.0, n)
    return np.zeros((n, 1)), y, {"mean": mu}


# -- the summary arithmetic on a table with known answers ----------------------


def test_summary_arithmetic_known_answers():
    table = pd.DataFrame(
        {
            "replication": [0, 1, 2, 3, 4],
            "seed": [10, 11, 12, 13, 14],
            "estimator": "toy",
            "statistic": "theta",
            "truth": 2.0,
            "estimate": [1.0, 2.0, 3.0, 6.0, np.nan],
            "std_error": [1.0, 1.0, 2.0, 2.0, np.nan],
            "lower": [0.0, 1.0, 2.5, -1.0, np.nan],
            "upper": [2.0, 3.0, 3.5, 7.0, np.nan],
            "weak_instruments": [True, False, False, False, False],
            "failed": [False, False, False, False, True],
        }
    )
    row = SimulationResult(table).summary().loc[("toy", "theta")]
    # Errors -1, 0, 1, 4 over the 4 valid replications.
    assert row["n_valid"] == 4 and row["n_failed"] == 1
    assert row["truth"] == 2.0
    assert row["mean"] == 3.0
    assert row["bias"] == 1.0
    assert row["sd"] == pytest.approx(math.sqrt(14 / 3), rel=1e-15)
    assert row["bias_mcse"] == pytest.approx(math.sqrt(14 / 3) / 2, rel=1e-15)
    assert row["rmse"] == pytest.approx(math.sqrt(18 / 4), rel=1e-15)
    assert row["mean_se"] == 1.5
    assert row["coverage"] == 0.75  # [2.5, 3.5] misses 2
    assert row["coverage_mcse"] == pytest.approx(math.sqrt(0.75 * 0.25 / 4), rel=1e-15)
    assert row["ci_length"] == 3.25  # (2 + 2 + 1 + 8) / 4
    assert row["rejection_rate"] == 0.5  # [1, 3] and [2.5, 3.5] exclude 0
    assert row["weak_instruments"] == 0.25


def test_summary_without_truth_or_interval():
    table = pd.DataFrame(
        {
            "replication": [0, 1],
            "seed": [1, 2],
            "estimator": "a",
            "statistic": "s",
            "truth": np.nan,
            "estimate": [1.0, 3.0],
            "std_error": np.nan,
            "lower": np.nan,
            "upper": np.nan,
            "weak_instruments": False,
            "failed": False,
        }
    )
    row = summarize(table).loc[("a", "s")]
    assert row["mean"] == 2.0 and row["sd"] == pytest.approx(math.sqrt(2))
    for column in (
        "bias",
        "rmse",
        "mean_se",
        "coverage",
        "ci_length",
        "rejection_rate",
    ):
        assert np.isnan(row[column]), column


# -- end to end ---------------------------------------------------------------------


def test_replications_equal_fits_by_hand_with_the_parent_seeds():
    result = simulate(
        {"mean": MeanEstimator()},
        normal_sample,
        n_replications=30,
        statistics={"mean": mean_statistic},
        random_state=4,
    )
    table = result.replications
    seeds = check_random_state(4).randint(np.iinfo(np.int32).max, size=30)
    np.testing.assert_array_equal(table["seed"], seeds)
    np.testing.assert_array_equal(table["replication"], np.arange(30))
    for seed, (_, row) in zip(seeds, table.iterrows(), strict=True):
        _, y, _ = normal_sample(random_state=int(seed))
        expected = mean_statistic(MeanEstimator().fit(None, y))
        np.testing.assert_allclose(
            row[["estimate", "std_error", "lower", "upper"]].to_numpy(float),
            expected,
            rtol=1e-15,
        )
    assert (table["truth"] == 1.0).all()
    # The summary equals the same numbers computed directly.
    row = result.summary().loc[("mean", "mean")]
    est = table["estimate"].to_numpy()
    assert row["bias"] == pytest.approx(est.mean() - 1.0, rel=1e-12)
    assert row["sd"] == pytest.approx(est.std(ddof=1), rel=1e-12)
    covered = (table["lower"] <= 1.0) & (1.0 <= table["upper"])
    assert row["coverage"] == covered.mean()


def test_identical_for_one_and_two_jobs():
    kwargs = dict(
        estimators={
            "naive": NaiveMediationRegressor(**ROLES),
            "iv": IVMediationRegressor(**ROLES),
        },
        data_generator=partial(make_mediation_data, 300, return_truth=True),
        n_replications=6,
        random_state=0,
    )
    one = simulate(n_jobs=1, **kwargs).replications
    two = simulate(n_jobs=2, **kwargs).replications
    pd.testing.assert_frame_equal(one, two)
    assert one.shape == (6 * 2 * 2, 11)
    assert list(one["estimator"].unique()) == ["naive", "iv"]
    assert list(one["statistic"].unique()) == ["direct_effect", "mediator_effect"]


def test_progress_bar_of_the_replications(capsys):
    kwargs = dict(
        estimators={"iv": IVMediationRegressor(**ROLES)},
        data_generator=partial(make_mediation_data, 300, return_truth=True),
        n_replications=4,
        random_state=0,
    )
    quiet = simulate(**kwargs).replications
    assert capsys.readouterr().err == ""  # neither a bar nor joblib's messages
    for n_jobs in (1, 2):
        shown = simulate(progress=True, n_jobs=n_jobs, **kwargs).replications
        assert progress_bars(capsys.readouterr().err) == [("simulate", 4, 4)]
        pd.testing.assert_frame_equal(quiet, shown)


def test_progress_without_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm fails
    with pytest.raises(
        ImportError, match=r"install it with pip install 'skmediate\[progress\]'"
    ):
        simulate(
            {"iv": IVMediationRegressor(**ROLES)},
            partial(make_mediation_data, 300, return_truth=True),
            n_replications=2,
            progress=True,
        )


def test_builtin_statistics_match_the_fitted_estimator():
    generator = partial(make_mediation_data, 400, confounding=0.3, return_truth=True)
    result = simulate(
        {"iv": IVMediationRegressor(cov_type="classical", **ROLES)},
        generator,
        n_replications=2,
        random_state=1,
    )
    table = result.replications
    X, y, truth = generator(random_state=int(table["seed"].iloc[0]))
    res = IVMediationRegressor(cov_type="classical", **ROLES).fit(X, y).result_
    ci = res.conf_int()
    first = table[table["replication"] == 0].set_index("statistic")
    for statistic, term in (("direct_effect", "r"), ("mediator_effect", "m")):
        got = first.loc[statistic]
        assert got["estimate"] == res.params[term]
        assert got["std_error"] == res.std_errors[term]
        assert (got["lower"], got["upper"]) == tuple(ci.loc[term])
        assert got["truth"] == getattr(truth, statistic)


def test_pipeline_ending_in_a_mediation_estimator():
    pipe = make_pipeline(
        FunctionTransformer(feature_names_out="one-to-one").set_output(
            transform="pandas"
        ),
        NaiveMediationRegressor(**ROLES),
    )
    result = simulate(
        {"pipe": pipe},
        partial(make_mediation_data, 200, return_truth=True),
        n_replications=2,
        random_state=2,
    )
    assert result.replications["estimate"].notna().all()


# -- several mediators -----------------------------------------------------------

SEVERAL = dict(treatment="r", mediator=["m1", "m2"], covariates=["x1", "x2", "x3"])
SEVERAL_DATA = partial(
    make_mediation_data,
    400,
    n_covariates=3,
    n_mediators=2,
    mediator_effect=[1.0, -0.5],
    return_truth=True,
)
ALL_EFFECTS = [
    "direct_effect",
    "mediator_effect",
    "effect_on_mediator",
    "indirect_effect",
    "total_effect",
]


@pytest.mark.parametrize("cls", [IVMediationRegressor, NaiveMediationRegressor])
def test_several_mediators_statistics_per_mediator_match_the_fit(cls):
    result = simulate(
        {"est": cls(**SEVERAL)},
        SEVERAL_DATA,
        n_replications=2,
        statistics=ALL_EFFECTS,
        random_state=4,
    )
    table = result.replications
    first = table[table["replication"] == 0].set_index("statistic")
    assert first.index.tolist() == [
        "direct_effect",
        "mediator_effect[m1]",
        "mediator_effect[m2]",
        "effect_on_mediator[m1]",
        "effect_on_mediator[m2]",
        "indirect_effect[m1]",
        "indirect_effect[m2]",
        "total_effect",
    ]
    X, y, truth = SEVERAL_DATA(random_state=int(first["seed"].iloc[0]))
    res = cls(**SEVERAL).fit(X, y).result_
    ci = res.conf_int()
    for m in ("m1", "m2"):
        got = first.loc[f"mediator_effect[{m}]"]
        assert got["estimate"] == res.params[m]
        assert got["std_error"] == res.std_errors[m]
        assert (got["lower"], got["upper"]) == tuple(ci.loc[m])
        assert got["truth"] == truth.mediator_effect[m]
    effects = res.effects
    for statistic, row, true in [
        ("effect_on_mediator[m2]", "effect_on_mediator[m2]", truth.effect_on_mediator),
        ("indirect_effect[m1]", "indirect[m1]", truth.indirect_effect),
        ("total_effect", "total", None),
    ]:
        got = first.loc[statistic]
        expected = effects.loc[row, ["estimate", "std_error", "lower", "upper"]]
        assert got[["estimate", "std_error", "lower", "upper"]].tolist() == (
            expected.tolist()
        )
        value = truth.total_effect if true is None else true[statistic[-3:-1]]
        assert got["truth"] == value
    summary = result.summary()
    assert summary.loc[("est", "indirect_effect[m2]"), "truth"] == -0.5


def _failing_several(random_state, truth=True):
    """Two-mediator data whose mediator m2 is missing (the fit fails) for odd seeds."""
    X, y, value = SEVERAL_DATA(random_state=random_state)
    if random_state % 2:
        X.loc[0, "m2"] = np.nan
    return X, y, value if truth else None


@pytest.mark.parametrize("truth", [True, False])
def test_several_mediators_failed_fits_have_a_row_per_mediator(truth):
    seeds = check_random_state(5).randint(np.iinfo(np.int32).max, size=8)
    assert 0 < (seeds % 2).sum() < 8  # some fits fail, some do not
    with pytest.warns(FitFailedWarning, match="fits of estimator 'iv' failed"):
        result = simulate(
            {"iv": IVMediationRegressor(**SEVERAL)},
            partial(_failing_several, truth=truth),
            n_replications=8,
            random_state=5,
        )
    table = result.replications
    names = ["direct_effect", "mediator_effect[m1]", "mediator_effect[m2]"]
    for _, rows in table.groupby("replication"):
        assert rows["statistic"].tolist() == names
    failed = table[table["failed"]]
    assert len(failed) == 3 * (seeds % 2).sum()
    assert failed["estimate"].isna().all()
    summary = result.summary()
    assert summary.index.get_level_values("statistic").tolist() == names
    assert (summary["n_failed"] == (seeds % 2).sum()).all()
    if truth:
        assert (
            failed.set_index("statistic")["truth"]
            .loc["mediator_effect[m2]"]
            .eq(-0.5)
            .all()
        )


# -- failures and warnings -------------------------------------------------------


def test_some_fits_fail():
    with pytest.warns(FitFailedWarning, match="fits of estimator 'mean' failed"):
        result = simulate(
            {"mean": MeanEstimator(fail_below=1.0)},
            normal_sample,
            n_replications=20,
            statistics={"mean": mean_statistic},
            random_state=0,
        )
    table = result.replications
    failed = table["failed"]
    assert 0 < failed.sum() < 20
    assert (
        table.loc[failed, ["estimate", "std_error", "lower", "upper"]]
        .isna()
        .all()
        .all()
    )
    summary = result.summary().loc[("mean", "mean")]
    assert summary["n_failed"] == failed.sum()
    assert summary["n_valid"] == 20 - failed.sum()


def test_all_fits_fail():
    with pytest.raises(
        ValueError,
        match="all 3 fits of estimator 'mean' failed; the first error was RuntimeError: first value too small",
    ):
        simulate(
            {"mean": MeanEstimator(fail_below=np.inf)},
            normal_sample,
            n_replications=3,
            statistics={"mean": mean_statistic},
        )


def test_weak_instruments_recorded_not_raised():
    # filterwarnings = error: a WeakInstrumentWarning reaching here would fail.
    result = simulate(
        {"iv": IVMediationRegressor(**ROLES)},
        partial(make_mediation_data, 300, instrument_strength=0.0, return_truth=True),
        n_replications=10,
        random_state=3,
    )
    assert result.summary()["weak_instruments"].min() >= 0.8


def test_other_warnings_raised_once_in_the_caller():
    with pytest.warns(UserWarning, match="a toy warning") as record:
        simulate(
            {"mean": MeanEstimator(warn=True)},
            normal_sample,
            n_replications=5,
            statistics={"mean": mean_statistic},
        )
    assert len([w for w in record if "a toy warning" in str(w.message)]) == 1


# -- bad input -------------------------------------------------------------------


def _gen(random_state):
    return make_mediation_data(100, random_state=random_state, return_truth=True)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(estimators={}), ValueError, "estimators must be a non-empty dict"),
        (dict(estimators=[NaiveMediationRegressor()]), ValueError, "non-empty dict"),
        (
            dict(estimators={"x": "not an estimator"}),
            TypeError,
            "estimator 'x' has no fit method",
        ),
        (dict(data_generator="nope"), TypeError, "data_generator must be a callable"),
        (
            dict(n_replications=0),
            ValueError,
            "n_replications must be a positive integer; got 0",
        ),
        (
            dict(n_replications=2.5),
            ValueError,
            "n_replications must be a positive integer",
        ),
        (
            dict(statistics=["indirect"]),
            ValueError,
            "unknown statistic 'indirect'; the built-in statistics are \\['direct_effect', 'mediator_effect', 'effect_on_mediator', 'indirect_effect', 'total_effect'\\]",
        ),
        (dict(statistics=[]), ValueError, "statistics is empty"),
        (dict(statistics={"s": 3}), TypeError, "statistic 's' must be a callable"),
        (
            dict(statistics={"s": lambda est: (1.0, 2.0)}),
            ValueError,
            "statistic 's' must return \\(estimate, std_error, lower, upper\\); got 2 values",
        ),
        (
            dict(data_generator=lambda random_state: (1, 2)),
            TypeError,
            "must return a tuple \\(X, y, truth\\); got tuple of length 2",
        ),
        (
            dict(data_generator=lambda random_state: (*_gen(random_state)[:2], 5)),
            TypeError,
            "the truth\\) must be a mapping",
        ),
        (
            dict(estimators={"lr": LinearRegression()}),
            TypeError,
            "got LinearRegression, which has no MediationResult",
        ),
    ],
)
def test_bad_input(kwargs, error, message):
    args = dict(
        estimators={"naive": NaiveMediationRegressor(**ROLES)},
        data_generator=_gen,
        n_replications=2,
    )
    args.update(kwargs)
    with pytest.raises(error, match=message):
        simulate(**args)


# -- coverage (slow) --------------------------------------------------------------


@pytest.mark.slow
def test_coverage_iv_nominal_naive_not():
    """IV 95% intervals cover within the binomial 99% band; naive ones do not."""
    n_rep = 1000
    result = simulate(
        {
            "naive": NaiveMediationRegressor(**ROLES),
            "iv": IVMediationRegressor(**ROLES),
        },
        partial(make_mediation_data, 500, confounding=0.5, return_truth=True),
        n_replications=n_rep,
        n_jobs=2,
        random_state=2012,
    )
    coverage = result.summary()["coverage"]
    low, high = stats.binom.interval(0.99, n_rep, 0.95)
    for statistic in ("direct_effect", "mediator_effect"):
        assert low / n_rep <= coverage[("iv", statistic)] <= high / n_rep
    assert coverage[("naive", "mediator_effect")] < low / n_rep


# -- designs with clusters and weights --------------------------------------------


def _clustered(random_state, n_clusters=40):
    return make_mediation_data(
        400, n_clusters=n_clusters, random_state=random_state, return_truth=True
    )


def test_clustered_design_gives_the_clusters_to_the_cluster_robust_fits():
    estimators = {
        "hc1": IVMediationRegressor(treatment="r", mediator="m"),  # covariates=None
        "cluster": IVMediationRegressor(
            treatment="r", mediator="m", cov_type="cluster"
        ),
        "cr2": make_pipeline(
            FunctionTransformer(feature_names_out="one-to-one").set_output(
                transform="pandas"
            ),
            NaiveMediationRegressor(treatment="r", mediator="m", cov_type="CR2"),
        ),
    }
    table = simulate(
        estimators, _clustered, n_replications=3, groups="cluster", random_state=5
    ).replications
    assert not table["failed"].any()
    X, y, _ = _clustered(int(table["seed"].iloc[0]))
    labels = X["cluster"].to_numpy()
    design = X.drop(columns="cluster")
    first = table[table["replication"] == 0].set_index(["estimator", "statistic"])
    hc1 = IVMediationRegressor(treatment="r", mediator="m").fit(design, y).result_
    clustered = IVMediationRegressor(treatment="r", mediator="m", cov_type="cluster")
    clustered = clustered.fit(design, y, groups=labels).result_
    naive = NaiveMediationRegressor(treatment="r", mediator="m", cov_type="CR2")
    naive = naive.fit(design, y, groups=labels).result_
    for statistic, term in (("direct_effect", "r"), ("mediator_effect", "m")):
        assert first.loc[("hc1", statistic), "std_error"] == hc1.std_errors[term]
        assert (
            first.loc[("cluster", statistic), "std_error"]
            == (clustered.std_errors[term])
        )
        assert first.loc[("cr2", statistic), "std_error"] == naive.std_errors[term]
        # the same estimates, but standard errors that use the 40 clusters
        assert first.loc[("cluster", statistic), "estimate"] == hc1.params[term]
        assert (
            first.loc[("cluster", statistic), "std_error"]
            != (first.loc[("hc1", statistic), "std_error"])
        )
    # the labels are not a covariate (covariates=None): the two instruments of x1, x2
    assert hc1.instruments == ("r:x1", "r:x2")
    assert clustered.n_clusters == 40


def test_weights_column_goes_to_every_fit():
    def weighted(random_state):
        X, y, truth = make_mediation_data(
            300, random_state=random_state, return_truth=True
        )
        rng = np.random.default_rng(random_state)
        return X.assign(w=rng.integers(1, 4, len(y)).astype(float)), y, truth

    table = simulate(
        {"iv": IVMediationRegressor(treatment="r", mediator="m")},
        weighted,
        n_replications=2,
        sample_weight="w",
        random_state=1,
    ).replications
    X, y, _ = weighted(int(table["seed"].iloc[0]))
    ref = IVMediationRegressor(treatment="r", mediator="m").fit(
        X.drop(columns="w"), y, sample_weight=X["w"]
    )
    assert table["estimate"].iloc[0] == ref.direct_effect_
    assert table["estimate"].iloc[1] == ref.mediator_effect_


def test_sensitivity_grid_as_an_estimator():
    tau = {"x1": [0.0, 0.5], "x2": [0.0, 0.5]}

    def interval(grid):
        row = grid.sensitivity_interval_.loc["direct_effect"]
        return np.nan, np.nan, row["lower"], row["upper"]

    grid = SensitivityGrid(
        IVMediationRegressor(treatment="r", mediator="m", cov_type="cluster"),
        tau_direct=tau,
    )
    table = simulate(
        {"grid": grid},
        _clustered,
        n_replications=2,
        groups="cluster",
        statistics={"direct_effect": None, "direct_sensitivity": interval},
        random_state=2,
    ).replications.set_index(["replication", "statistic"])
    X, y, _ = _clustered(int(table.loc[(0, "direct_effect"), "seed"]))
    labels = X.pop("cluster").to_numpy()
    ref = clone(grid).fit(X, y, groups=labels)
    assert (
        table.loc[(0, "direct_effect"), "std_error"]
        == (ref.estimator_.result_.std_errors["r"])
    )
    expected = ref.sensitivity_interval_.loc["direct_effect"]
    assert table.loc[(0, "direct_sensitivity"), "lower"] == expected["lower"]
    assert table.loc[(0, "direct_sensitivity"), "upper"] == expected["upper"]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            dict(groups=None),
            ValueError,
            r"estimator 'iv' has cov_type='cluster', which needs the cluster labels: "
            r"give simulate\(..., groups=<the column of X that holds them>\), for "
            r"example groups='cluster' for make_mediation_data\(n_clusters=...\)",
        ),
        (dict(groups=["cluster"]), TypeError, "groups must be the name of a column"),
        (
            dict(groups="site"),
            ValueError,
            r"'site' \(given as groups or sample_weight\) is not a column of the X "
            r"that data_generator returned; its columns are \['r', 'm', 'x1', 'x2', "
            r"'cluster'\]",
        ),
        (
            dict(
                groups="cluster",
                sample_weight="x1",
                estimators={"mean": MeanEstimator()},
            ),
            TypeError,
            "estimator 'mean' \\(MeanEstimator\\) does not take sample_weight",
        ),
    ],
)
def test_bad_design(kwargs, error, message):
    args = dict(
        estimators={
            "iv": IVMediationRegressor(treatment="r", mediator="m", cov_type="cluster")
        },
        data_generator=_clustered,
        n_replications=2,
        groups="cluster",
        statistics=None,
    )
    args.update(kwargs)
    if "estimators" in kwargs:
        args["statistics"] = {"mean": mean_statistic}
    with pytest.raises(error, match=message):
        simulate(**args)


def test_groups_no_estimator_uses_warn():
    with pytest.warns(UnusedGroupsWarning, match="groups='cluster' is used by none"):
        table = simulate(
            {"iv": IVMediationRegressor(treatment="r", mediator="m")},
            _clustered,
            n_replications=1,
            groups="cluster",
        ).replications
    assert not table["failed"].any()
