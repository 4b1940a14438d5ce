"""SensitivityGrid: closed form against refitting, additivity, breakdown values, API."""

import pickle
import re
import sys

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmediate import IVMediationRegressor, NaiveMediationRegressor, SensitivityGrid

from .conftest import expected_failed_checks, progress_bars, simulate_trial

RTOL = 1e-9
COV_TYPES = [
    "unadjusted",
    "classical",
    "HC0",
    "HC1",
    "HC2",
    "HC3",
    "cluster",
    "CR0",
    "CR2",
]


@pytest.fixture(scope="module")
def trial():
    X, y, groups = simulate_trial(
        n=900, n_covariates=2, n_controls=1, n_clusters=30, seed=41
    )
    weights = np.random.default_rng(0).integers(0, 4, len(y))
    return X, y, groups, weights


def _groups_for(cov_type, groups):
    """The cluster labels, for the cluster-robust types only (others ignore them)."""
    return groups if cov_type in ("cluster", "CR0", "CR2") else None


def _tau():
    return {"x1": [0.0, 1.0, -0.5], "x2": [0.0, 1.0]}


def _assert_frames_close(a, b, rtol=RTOL):
    assert list(a.columns) == list(b.columns)
    assert_allclose(a.to_numpy(), b.to_numpy(), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("cls", [IVMediationRegressor, NaiveMediationRegressor])
def test_closed_form_equals_refit(trial, cls, cov_type):
    X, y, groups, weights = trial
    est = cls(treatment="r", mediator="m", controls=["z1"], cov_type=cov_type)
    kwargs = dict(tau_direct=_tau(), tau_mediator={"x1": [0.0, 0.7]})
    fit_kw = dict(sample_weight=weights, groups=_groups_for(cov_type, groups))
    closed = SensitivityGrid(est, method="closed_form", **kwargs).fit(X, y, **fit_kw)
    refit = SensitivityGrid(est, method="refit", **kwargs).fit(X, y, **fit_kw)
    assert closed.method_ == "closed_form" and refit.method_ == "refit"
    assert len(closed.to_frame()) == 12
    _assert_frames_close(closed.to_frame(), refit.to_frame())


def _site_trial():
    X, y, groups = simulate_trial(
        n=1500, n_covariates=1, site=True, n_clusters=40, seed=42
    )
    encoder = make_column_transformer(
        (
            OneHotEncoder(drop="first", sparse_output=False),
            make_column_selector(dtype_exclude="number"),
        ),
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    est = IVMediationRegressor(
        treatment="r", mediator="m", covariate_transformer=encoder
    )
    return X, y, groups, est


@pytest.mark.parametrize("cov_type", ["HC1", "HC3", "cluster", "CR2"])
def test_closed_form_equals_refit_one_hot_and_pipeline(cov_type):
    X, y, groups, est = _site_trial()
    est.set_params(cov_type=cov_type)
    tau = {"site_south": [0.0, 0.5], "x1": [-1.0, 1.0]}
    pipe = make_pipeline(FunctionTransformer(feature_names_out="one-to-one"), est)
    groups = _groups_for(cov_type, groups)
    closed = SensitivityGrid(pipe, tau_direct=tau, tau_mediator=tau).fit(
        X, y, groups=groups
    )
    refit = SensitivityGrid(
        pipe, tau_direct=tau, tau_mediator=tau, method="refit", n_jobs=2
    )
    refit.fit(X, y, groups=groups)
    assert closed.method_ == "closed_form"
    assert closed.covariate_names_ == ["site_north", "site_south", "site_west", "x1"]
    assert "tau_mediator[site_south]" in closed.results_
    _assert_frames_close(closed.to_frame(), refit.to_frame())


def test_refit_is_identical_for_any_n_jobs(trial):
    X, y, groups, _ = trial
    est = IVMediationRegressor(treatment="r", mediator="m", controls=["z1"])
    one = SensitivityGrid(est, tau_direct=_tau(), method="refit", n_jobs=1).fit(X, y)
    two = SensitivityGrid(est, tau_direct=_tau(), method="refit", n_jobs=2).fit(X, y)
    pd.testing.assert_frame_equal(one.to_frame(), two.to_frame())


def test_paper_table_2_layout_and_additivity(trial):
    X, y, _, _ = trial
    est = IVMediationRegressor(
        treatment="r", mediator="m", controls=["z1"], cov_type="unadjusted"
    )
    values = {"x1": [0, 1], "x2": [0, 1]}
    grid = SensitivityGrid(est, tau_direct=values, tau_mediator=values).fit(X, y)
    frame = grid.to_frame()
    assert len(frame) == 16
    taus = frame[
        ["tau_direct[x1]", "tau_direct[x2]", "tau_mediator[x1]", "tau_mediator[x2]"]
    ]
    # Rows as in the paper: tau_R runs fastest ((0,0),(0,1),(1,0),(1,1)), then tau_M.
    expected = [
        (a, b, c, d) for c in (0, 1) for d in (0, 1) for a in (0, 1) for b in (0, 1)
    ]
    assert [tuple(row) for row in taus.to_numpy().astype(int)] == expected

    plain = clone(est).fit(X, y)
    assert frame.loc[0, "direct_effect"] == pytest.approx(
        plain.direct_effect_, rel=1e-12
    )
    assert frame.loc[0, "mediator_effect"] == pytest.approx(
        plain.mediator_effect_, rel=1e-12
    )
    ci = plain.result_.conf_int()
    assert frame.loc[0, "mediator_effect_lower"] == pytest.approx(
        ci.loc["m", "lower"], rel=1e-12
    )

    # Additivity: each row's shift from tau = 0 is the sum of its components' shifts.
    for effect in ("direct_effect", "mediator_effect"):
        base = frame.loc[0, effect]
        single = {}
        for column in taus.columns:
            others = [c for c in taus.columns if c != column]
            row = frame[(taus[column] == 1) & (taus[others] == 0).all(axis=1)].index[0]
            single[column] = frame.loc[row, effect] - base
        for i in frame.index:
            predicted = base + sum(
                single[c] for c in taus.columns if taus.loc[i, c] == 1
            )
            assert frame.loc[i, effect] == pytest.approx(
                predicted, rel=1e-10, abs=1e-12
            )


def test_array_grid_equals_dict_grid(trial):
    X, y, _, _ = trial
    est = IVMediationRegressor(treatment="r", mediator="m", controls=["z1"])
    by_dict = SensitivityGrid(
        est, tau_direct={"x2": [0.0, 1.0]}, tau_mediator={"x1": [0.5]}
    ).fit(X, y)
    by_array = SensitivityGrid(
        est, tau_direct=[[0.0, 0.0], [0.0, 1.0]], tau_mediator=[[0.5, 0.0], [0.5, 0.0]]
    ).fit(X, y)
    pd.testing.assert_frame_equal(by_dict.to_frame(), by_array.to_frame())
    only_direct = SensitivityGrid(est, tau_direct=np.array([[1.0, -1.0]])).fit(X, y)
    assert only_direct.to_frame()["tau_mediator[x1]"].tolist() == [0.0]


def test_sensitivity_interval(trial):
    X, y, _, _ = trial
    est = IVMediationRegressor(treatment="r", mediator="m", controls=["z1"])
    grid = SensitivityGrid(est, tau_direct=_tau(), tau_mediator=_tau()).fit(X, y)
    frame, interval = grid.to_frame(), grid.sensitivity_interval_
    for effect in ("direct_effect", "mediator_effect"):
        assert interval.loc[effect, "estimate_low"] == frame[effect].min()
        assert interval.loc[effect, "estimate_high"] == frame[effect].max()
        assert interval.loc[effect, "lower"] == frame[f"{effect}_lower"].min()
        assert interval.loc[effect, "upper"] == frame[f"{effect}_upper"].max()


@pytest.mark.parametrize("cov_type", ["classical", "HC1", "HC3", "cluster", "CR2"])
def test_breakdown_values_refit_to_zero(trial, cov_type):
    X, y, groups, weights = trial
    est = IVMediationRegressor(
        treatment="r", mediator="m", controls=["z1"], cov_type=cov_type
    )
    groups = _groups_for(cov_type, groups)
    at_zero = {"x1": [0.0], "x2": [0.0]}
    grid = SensitivityGrid(est, tau_direct=at_zero, tau_mediator=at_zero).fit(
        X, y, sample_weight=weights, groups=groups
    )
    table = grid.breakdown_
    assert table.shape == (8, 3)
    checked = 0
    for (effect, parameter), row in table.iterrows():
        tau = {"tau_direct": {}, "tau_mediator": {}}
        kind, name = parameter[:-1].split("[")
        for column, target in (
            ("sign_change", "estimate"),
            ("ci_covers_zero_up", "bound"),
            ("ci_covers_zero_down", "bound"),
        ):
            value = row[column]
            if not np.isfinite(value) or value == 0:
                continue
            tau[kind] = {name: [value]}
            refit = (
                SensitivityGrid(clone(est), method="refit", **tau)
                .fit(X, y, sample_weight=weights, groups=groups)
                .to_frame()
                .iloc[0]
            )
            if target == "estimate":
                assert abs(refit[effect]) < 1e-8 * max(
                    1.0, abs(grid.forms_.estimate).max()
                )
            else:
                bound = min(
                    abs(refit[f"{effect}_lower"]), abs(refit[f"{effect}_upper"])
                )
                assert bound < 1e-8 * max(1.0, refit[f"{effect}_se"])
            checked += 1
    assert checked >= 8


@pytest.mark.parametrize("cov_type", ["classical", "HC2", "cluster", "CR2"])
def test_grid_over_some_covariates_covers_just_those(cov_type):
    """A grid over a few covariates accumulates only their components of τ, and
    every number agrees with a grid over all of them."""
    X, y, groups = simulate_trial(n=1500, n_covariates=4, n_clusters=40, seed=5)
    groups = _groups_for(cov_type, groups)
    est = IVMediationRegressor(treatment="r", mediator="m", cov_type=cov_type)
    some = SensitivityGrid(
        est, tau_direct={"x3": [0.0, 0.5]}, tau_mediator={"x1": [-0.3, 0.2]}
    ).fit(X, y, groups=groups)
    assert list(some.forms_.directions) == [2, 4]
    assert (
        list(some.breakdown_.index.get_level_values("parameter"))
        == [
            "tau_direct[x3]",
            "tau_mediator[x1]",
        ]
        * 2
    )
    zero = np.zeros((1, 4))
    every = SensitivityGrid(est, tau_direct=zero, tau_mediator=zero).fit(
        X, y, groups=groups
    )
    assert every.forms_.directions.size == 8
    estimates, se = every.forms_.evaluate(some.grid_)
    assert_allclose(some.to_frame()["direct_effect"], estimates[:, 0], rtol=RTOL)
    assert_allclose(some.to_frame()["mediator_effect_se"], se[:, 1], rtol=RTOL)
    assert_allclose(
        some.breakdown_.to_numpy(),
        every.breakdown_.loc[some.breakdown_.index].to_numpy(),
        rtol=RTOL,
    )
    with pytest.raises(ValueError, match="cover the tau components"):
        some.forms_.evaluate(np.ones((1, 8)))


def test_breakdown_is_zero_when_interval_already_covers_zero():
    X, y, _ = simulate_trial(n=300, n_covariates=2, instrument_strength=2.0, seed=43)
    y = y - 2.0 * X["m"] - (-1.0) * X["r"]  # true effects near 0
    grid = SensitivityGrid(
        IVMediationRegressor(treatment="r", mediator="m"), tau_direct={"x1": [0.0]}
    ).fit(X, y)
    covers = [
        effect
        for effect in ("direct_effect", "mediator_effect")
        if grid.results_[f"{effect}_lower"][0]
        <= 0
        <= grid.results_[f"{effect}_upper"][0]
    ]
    assert covers
    for effect in covers:
        assert (grid.breakdown_.loc[effect, "ci_covers_zero_up"] == 0).all()


def test_predict_score_clone_params_pickle(trial):
    X, y, _, _ = trial
    est = IVMediationRegressor(treatment="r", mediator="m", controls=["z1"])
    grid = SensitivityGrid(est, tau_direct=_tau()).fit(X, y)
    plain = clone(est).fit(X, y)
    assert_allclose(grid.predict(X), plain.predict(X))
    assert grid.score(X, y) == pytest.approx(plain.score(X, y))
    assert grid.get_params()["estimator__cov_type"] == "HC1"
    grid2 = clone(grid).set_params(estimator__cov_type="HC0")
    assert grid2.estimator.cov_type == "HC0" and grid.estimator.cov_type == "HC1"
    restored = pickle.loads(pickle.dumps(grid))
    pd.testing.assert_frame_equal(restored.to_frame(), grid.to_frame())
    no_predict = SensitivityGrid(object())
    assert not hasattr(no_predict, "predict")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(tau_direct={"x9": [0, 1]}),
            r"tau_direct names covariate\(s\) \['x9'\].*\['x1', 'x2'\]",
        ),
        (
            dict(tau_mediator=[[0.0, 1.0, 2.0]]),
            r"tau_mediator must have one column per covariate \(2",
        ),
        (dict(tau_direct={"x1": []}), r"tau_direct\['x1'\] is empty"),
        (dict(tau_direct=np.empty((0, 2))), "tau_direct has no rows"),
        (dict(tau_direct={"x1": [0, np.nan]}), "contains NaN or inf"),
        (dict(tau_direct=[[0, np.inf]]), "contains NaN or inf"),
        (dict(tau_direct={"x1": [0]}, tau_mediator=[[0, 0]]), "both be dicts"),
        (
            dict(tau_direct=[[0, 0]], tau_mediator=[[0, 0], [1, 1]]),
            "same number of rows",
        ),
    ],
)
def test_bad_tau(trial, kwargs, message):
    X, y, _, _ = trial
    est = IVMediationRegressor(treatment="r", mediator="m", controls=["z1"])
    with pytest.raises(ValueError, match=message):
        SensitivityGrid(est, **kwargs).fit(X, y)


def test_estimator_lacking_attributes(trial):
    X, y, _, _ = trial
    with pytest.raises(
        TypeError, match=r"needs an IVMediationRegressor .*got LinearRegression"
    ):
        SensitivityGrid(LinearRegression(), tau_direct={"x1": [1]}).fit(
            X[["r", "x1"]], y
        )


def test_closed_form_needs_a_linear_estimator(trial):
    X, y, _, _ = trial

    class Nonlinear(IVMediationRegressor):
        linear_in_y = False

    with pytest.raises(
        ValueError, match="method='closed_form' needs an estimator that is linear"
    ):
        SensitivityGrid(
            Nonlinear(treatment="r", mediator="m"),
            tau_direct={"x1": [1]},
            method="closed_form",
        ).fit(X, y)
    auto = SensitivityGrid(
        Nonlinear(treatment="r", mediator="m"), tau_direct={"x1": [1]}
    ).fit(X, y)
    assert auto.method_ == "refit" and not hasattr(auto, "breakdown_")


@pytest.mark.parametrize("kappa", ["liml", "fuller"])
def test_liml_and_fuller_are_refitted(kappa):
    """Their estimates are not linear in y: no closed form, and auto refits."""
    X, y, _ = simulate_trial(n=400, instrument_strength=2.0, seed=8)
    est = IVMediationRegressor(treatment="r", mediator="m", kappa=kappa)
    tau = {"x1": [0.0, 2.0]}
    with pytest.raises(
        ValueError, match=rf"got IVMediationRegressor\(kappa='{kappa}'\)"
    ):
        SensitivityGrid(est, tau_mediator=tau, method="closed_form").fit(X, y)
    auto = SensitivityGrid(est, tau_direct=tau, tau_mediator=tau).fit(X, y)
    assert auto.method_ == "refit"
    # Each grid point equals a fit of the shifted outcome.
    centered = X.x1 - X.x1.mean()
    frame = auto.to_frame()
    for i, row in frame.iterrows():
        t_r, t_m = row["tau_direct[x1]"], row["tau_mediator[x1]"]
        shifted = y - X.r * centered * t_r - X.m * centered * t_m
        fit = clone(est).fit(X, shifted)
        assert_allclose(
            frame.loc[i, ["direct_effect", "mediator_effect"]],
            [fit.direct_effect_, fit.mediator_effect_],
            rtol=1e-10,
        )


def test_fixed_kappa_closed_form_equals_refit():
    X, y, _ = simulate_trial(n=400, instrument_strength=2.0, seed=8)
    est = IVMediationRegressor(treatment="r", mediator="m", kappa=0.5)
    tau = {"x1": [0.0, 2.0], "x2": [-1.0, 1.0]}
    grids = [
        SensitivityGrid(est, tau_direct=tau, tau_mediator=tau, method=method)
        .fit(X, y)
        .to_frame()
        for method in ("auto", "refit")
    ]
    assert_allclose(grids[0].to_numpy(), grids[1].to_numpy(), rtol=1e-10)


# the checks' data are not trials: the "treatment" column is continuous
@pytest.mark.filterwarnings("ignore::skmediate.TreatmentCodingWarning")
@pytest.mark.filterwarnings("ignore::skmediate.WeakInstrumentWarning")
@parametrize_with_checks(
    [
        SensitivityGrid(NaiveMediationRegressor(treatment=0, mediator=1)),
        SensitivityGrid(IVMediationRegressor(treatment=0, mediator=1)),
        SensitivityGrid(
            make_pipeline(
                FunctionTransformer(), NaiveMediationRegressor(treatment=0, mediator=1)
            )
        ),
    ],
    expected_failed_checks=expected_failed_checks,
    xfail_strict=True,
)
def test_sklearn_checks(estimator, check):
    check(estimator)


@pytest.mark.slow
def test_grid_intervals_cover_at_the_true_tau():
    """With effects that vary by 2 per SD of each covariate, the grid's 95%
    intervals at the true τ cover the average effects within the binomial
    99% band (2000 replications, n = 400). Their variances include the
    estimation of X̄, which the outcome shift depends on."""
    from scipy import stats

    from skmediate.datasets import make_mediation_data

    reps, n, tau = 2000, 400, 2.0
    covered = np.zeros(2)
    for seed in range(reps):
        X, y, truth = make_mediation_data(
            n, tau_direct=tau, tau_mediator=tau, random_state=seed, return_truth=True
        )
        grid = SensitivityGrid(
            IVMediationRegressor(treatment="r", mediator="m"),
            tau_direct={"x1": [tau], "x2": [tau]},
            tau_mediator={"x1": [tau], "x2": [tau]},
        ).fit(X, y)
        row = grid.to_frame().iloc[0]
        for j, (effect, value) in enumerate(
            [("direct_effect", truth.direct_effect), ("mediator_effect", 1.0)]
        ):
            covered[j] += row[f"{effect}_lower"] <= value <= row[f"{effect}_upper"]
    low, high = stats.binom.interval(0.99, reps, 0.95)
    assert np.all((low <= covered) & (covered <= high)), covered / reps


@pytest.mark.parametrize("cov_type", ["HC2", "CR2"])
def test_use_t_intervals_at_zero_are_the_estimators(trial, cov_type):
    """With use_t the grid's intervals use the effects' t degrees of freedom."""
    X, y, groups, weights = trial
    est = IVMediationRegressor(
        treatment="r", mediator="m", controls=["z1"], cov_type=cov_type, use_t=True
    )
    fit_kw = dict(sample_weight=weights, groups=_groups_for(cov_type, groups))
    grid = SensitivityGrid(est, tau_direct=_tau(), tau_mediator={"x1": [0.0, 0.7]})
    grid.fit(X, y, **fit_kw)
    frame = grid.to_frame()
    at_zero = frame[(frame.filter(like="tau_").to_numpy() == 0).all(axis=1)].iloc[0]
    effects = est.fit(X, y, **fit_kw).result_.effects
    for name, effect in (("direct_effect", "direct"), ("mediator_effect", "mediator")):
        assert at_zero[f"{name}_lower"] == pytest.approx(effects.loc[effect, "lower"])
        assert at_zero[f"{name}_upper"] == pytest.approx(effects.loc[effect, "upper"])
    normal = SensitivityGrid(clone(est).set_params(use_t=False), tau_direct=_tau()).fit(
        X, y, **fit_kw
    )
    assert np.all(grid.critical_value_ > normal.critical_value_)


# -- metadata routing and tags ----------------------------------------------


def _in_a_pipeline(est, *steps):
    return make_pipeline(
        *steps, FunctionTransformer(feature_names_out="one-to-one"), est
    )


@pytest.mark.parametrize("method", ["closed_form", "refit"])
@pytest.mark.parametrize("wrap", ["estimator", "pipeline"])
def test_metadata_routing_gives_the_unrouted_grid(trial, method, wrap):
    """With routing enabled, weights and clusters reach the estimator that
    requests them, and the grid equals the one fitted without routing."""
    import sklearn

    X, y, groups, weights = trial
    est = IVMediationRegressor(
        treatment="r", mediator="m", controls=["z1"], cov_type="cluster"
    )
    tau = dict(tau_direct=_tau(), tau_mediator={"x1": [0.0, 0.7]}, method=method)
    fit_kw = dict(sample_weight=weights, groups=groups)
    expected = SensitivityGrid(est, **tau).fit(X, y, **fit_kw)
    with sklearn.config_context(enable_metadata_routing=True):
        requesting = clone(est).set_fit_request(sample_weight=True, groups=True)
        if wrap == "pipeline":
            requesting = _in_a_pipeline(requesting)
        grid = SensitivityGrid(requesting, n_jobs=2, **tau).fit(X, y, **fit_kw)
        final = grid.estimator_[-1] if wrap == "pipeline" else grid.estimator_
        assert final.result_.n_clusters == 30
        assert final.result_.nobs == weights.sum()
        pd.testing.assert_frame_equal(grid.to_frame(), expected.to_frame())


def test_metadata_routing_with_aliases_and_requesting_steps(trial):
    """Aliases (``set_fit_request(sample_weight="w")``) and a first step that
    requests the weights too get what the Pipeline itself would route."""
    import sklearn

    X, y, groups, weights = trial
    with sklearn.config_context(enable_metadata_routing=True):
        scaler = StandardScaler().set_fit_request(sample_weight="w")
        scale = make_column_transformer(
            (scaler, ["x1", "x2"]),
            remainder="passthrough",
            verbose_feature_names_out=False,
        ).set_output(transform="pandas")
        est = IVMediationRegressor(
            treatment="r", mediator="m", controls=["z1"], cov_type="cluster"
        ).set_fit_request(sample_weight="w", groups="clusters")
        pipe = make_pipeline(scale, est)
        direct = clone(pipe).fit(X, y, w=weights, clusters=groups)
        assert direct[0].transformers_[0][1].mean_ == pytest.approx(
            np.average(X[["x1", "x2"]], axis=0, weights=weights)
        )
        frames = []
        for method in ("closed_form", "refit"):
            grid = SensitivityGrid(pipe, tau_direct=_tau(), method=method)
            grid.fit(X, y, w=weights, clusters=groups)
            frames.append(grid.to_frame())
        pd.testing.assert_frame_equal(
            grid.estimator_[-1].result_.to_frame(), direct[-1].result_.to_frame()
        )
        _assert_frames_close(frames[0], frames[1])
        assert grid.score(X, y) == pytest.approx(direct.score(X, y), rel=1e-12)


def test_metadata_routing_errors(trial):
    import sklearn
    from sklearn.exceptions import UnsetMetadataPassedError

    X, y, _, weights = trial
    est = IVMediationRegressor(treatment="r", mediator="m", controls=["z1"])
    with sklearn.config_context(enable_metadata_routing=True):
        with pytest.raises(UnsetMetadataPassedError, match=r"\[sample_weight\]"):
            SensitivityGrid(_in_a_pipeline(est)).fit(X, y, sample_weight=weights)
        grid = SensitivityGrid(est.set_score_request(sample_weight=True)).fit(X, y)
        assert grid.score(X, y, sample_weight=weights) == pytest.approx(
            grid.estimator_.score(X, y, sample_weight=weights)
        )
    with pytest.raises(TypeError, match=r"unexpected argument\(s\) \['w'\]"):
        SensitivityGrid(clone(est)).fit(X, y, w=weights)


def test_base_estimators_request_weights_and_groups():
    import sklearn

    for cls in (IVMediationRegressor, NaiveMediationRegressor):
        requests = cls().get_metadata_routing().fit.requests
        assert set(requests) == {"sample_weight", "groups"}
        with sklearn.config_context(enable_metadata_routing=True):
            est = cls().set_fit_request(sample_weight=True, groups="clusters")
        assert est.get_metadata_routing().fit.requests == {
            "sample_weight": True,
            "groups": "clusters",
        }


def test_tags_come_from_the_estimator():
    from sklearn.base import is_regressor
    from sklearn.utils import get_tags

    for est in (
        IVMediationRegressor(treatment="r", mediator="m"),
        NaiveMediationRegressor(treatment="r", mediator="m"),
        LinearRegression(),
    ):
        for wrapped in (est, _in_a_pipeline(est)):
            grid = SensitivityGrid(wrapped)
            assert is_regressor(grid)
            assert get_tags(grid).target_tags.required
            assert get_tags(grid).regressor_tags == get_tags(wrapped).regressor_tags
    iv = get_tags(SensitivityGrid(IVMediationRegressor()))
    assert iv.regressor_tags.poor_score
    assert not is_regressor(SensitivityGrid(FunctionTransformer()))
    assert get_tags(SensitivityGrid(object())).estimator_type is None


@pytest.mark.filterwarnings("ignore::skmediate.TreatmentCodingWarning")
def test_param_validation_and_column_names():
    from sklearn.utils.estimator_checks import (
        check_dataframe_column_names_consistency,
        check_param_validation,
    )

    grid = SensitivityGrid(NaiveMediationRegressor(treatment=0, mediator=1))
    check_param_validation("SensitivityGrid", grid)
    check_dataframe_column_names_consistency("SensitivityGrid", clone(grid))


# -- progress bars ------------------------------------------------------------


@pytest.mark.parametrize(
    "method, robust_sets, bars",
    [
        # one vectorized evaluation of the whole grid: nothing to count
        ("closed_form", False, []),
        ("closed_form", True, [("robust sets", 6, 6)]),
        ("refit", False, [("sensitivity grid", 6, 6)]),
        ("refit", True, [("sensitivity grid", 6, 6)]),
    ],
)
def test_progress(trial, capsys, method, robust_sets, bars):
    X, y, _, weights = trial
    est = IVMediationRegressor(treatment="r", mediator="m", controls=["z1"])
    kwargs = dict(tau_direct=_tau(), method=method, robust_sets=robust_sets)
    quiet = SensitivityGrid(est, **kwargs).fit(X, y, sample_weight=weights)
    assert capsys.readouterr().err == ""
    shown = SensitivityGrid(est, progress=True, **kwargs).fit(
        X, y, sample_weight=weights
    )
    assert progress_bars(capsys.readouterr().err) == bars
    # the same computation: equal results, to the last bit
    assert quiet.results_.keys() == shown.results_.keys()
    for key, column in quiet.results_.items():
        if column.dtype == object:  # the robust sets
            assert [s.intervals for s in column] == [
                s.intervals for s in shown.results_[key]
            ]
        else:
            np.testing.assert_array_equal(column, shown.results_[key], err_msg=key)
    pd.testing.assert_frame_equal(
        quiet.sensitivity_interval_, shown.sensitivity_interval_
    )
    # a parameter like any other: get_params, clone and set_params keep it
    assert quiet.get_params()["progress"] is False
    assert clone(shown).get_params()["progress"] is True
    assert clone(shown).set_params(progress=False).progress is False


def test_progress_without_tqdm(trial, monkeypatch):
    X, y, _, _ = trial
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm fails
    grid = SensitivityGrid(
        IVMediationRegressor(treatment="r", mediator="m"),
        tau_direct=_tau(),
        method="refit",
        progress=True,
    )
    message = (
        "progress=True needs the optional dependency tqdm; install it with "
        "pip install 'skmediate[progress]'"
    )
    with pytest.raises(ImportError, match=re.escape(message)):
        grid.fit(X, y)
    assert not hasattr(grid, "estimator_")  # refused before any fit
    # without bars tqdm is not needed
    grid.set_params(progress=False).fit(X, y)


@pytest.mark.parametrize("use_t", [False, True])
def test_report_rows_use_the_grid_reference(use_t):
    """The report's grid rows carry the grid's own intervals (t with use_t) and
    p-values from the same reference (checked with scipy.stats)."""
    from scipy import stats

    from skmediate._report.report import sensitivity_from_grid

    X, y, _ = simulate_trial(n=300, n_covariates=2, seed=21)
    est = IVMediationRegressor(
        treatment="r", mediator="m", covariates=["x1", "x2"], use_t=use_t
    )
    grid = SensitivityGrid(
        est, tau_direct={"x1": [0.0, 0.5]}, tau_mediator={"x2": [0.0, -0.3]}
    ).fit(X, y)
    frame = grid.to_frame()
    df = est.fit(X, y).result_.effects["df"] if use_t else None
    sens = sensitivity_from_grid(grid)
    for point, (_, row) in zip(sens.grid, frame.iterrows(), strict=True):
        for effect, name in (
            ("direct_effect", "direct"),
            ("mediator_effect", "mediator"),
        ):
            got = getattr(point, effect)
            assert (got.lower, got.upper) == (
                row[f"{effect}_lower"],
                row[f"{effect}_upper"],
            )
            t = abs(row[effect] / row[f"{effect}_se"])
            ref = stats.t(df[name]) if use_t else stats.norm
            assert got.pvalue == pytest.approx(2 * ref.sf(t), rel=1e-10)
    if use_t:  # t intervals are wider than normal ones
        row = frame.iloc[0]
        z = stats.norm.isf(0.025) * row["mediator_effect_se"]
        assert row["mediator_effect_upper"] - row["mediator_effect"] > z
