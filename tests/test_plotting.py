"""Plots return Figures, draw the right numbers and save non-empty PNGs (Agg)."""

import sys

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

mpl = pytest.importorskip("matplotlib", reason="matplotlib (the plot extra) is needed")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from skmediate import IVMediationRegressor, NaiveMediationRegressor  # noqa: E402
from skmediate.datasets import make_mediation_data, make_prospect_like  # noqa: E402
from skmediate.plotting import (  # noqa: E402
    plot_bootstrap_distribution,
    plot_first_stage,
    plot_forest,
    plot_outcome_by_arm,
)

PROSPECT_ROLES = dict(
    treatment="r", mediator="m", covariates=["past_use", "baseline_use"]
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def prospect():
    return make_prospect_like(random_state=0)


def _saves_png(fig, tmp_path, name="figure.png"):
    assert isinstance(fig, Figure)
    path = tmp_path / name
    fig.savefig(path)
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5000
    return path


def test_backend_is_agg():
    assert mpl.get_backend().lower() == "agg"


# -- outcome by arm ----------------------------------------------------------------


def test_outcome_by_arm(prospect, tmp_path):
    X, y = prospect
    fig = plot_outcome_by_arm(y, X["r"], labels={0: "Usual care", 1: "Intervention"})
    _saves_png(fig, tmp_path)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["Usual care\n(n = 152)", "Intervention\n(n = 145)"]
    means = ax.collections[0].get_offsets()[:, 1]
    np.testing.assert_allclose(means, y.groupby(X["r"]).mean().to_numpy(), rtol=1e-12)
    # The box plot's horizontal segments include each arm's median.
    flat = {
        round(float(line.get_ydata()[0]), 10)
        for line in ax.lines
        if len(line.get_ydata()) == 2 and line.get_ydata()[0] == line.get_ydata()[1]
    }
    assert {round(v, 10) for v in y.groupby(X["r"]).median()} <= flat
    assert ax.get_ylabel() == "hamilton" and ax.get_xlabel() == "r"


def test_outcome_by_arm_into_given_axes(prospect):
    X, y = prospect
    fig, (left, right) = plt.subplots(1, 2)
    assert plot_outcome_by_arm(y, X["r"], ax=right) is fig
    assert not left.has_data() and right.has_data()


def test_outcome_by_arm_bad_input(prospect):
    X, y = prospect
    with pytest.raises(ValueError, match="same length; got 297 and 296"):
        plot_outcome_by_arm(y, X["r"].iloc[1:])
    with pytest.raises(ValueError, match="y contains NaN"):
        plot_outcome_by_arm(y.where(y > 0), X["r"])
    with pytest.raises(ValueError, match="y must be 1-dimensional"):
        plot_outcome_by_arm(np.zeros((297, 2)), X["r"])


# -- first stage -------------------------------------------------------------------


def test_first_stage_numbers(prospect, tmp_path):
    X, _ = prospect
    fig = plot_first_stage(X, **PROSPECT_ROLES)
    _saves_png(fig, tmp_path)
    assert len(fig.axes) == 2

    # The line: the first stage M ~ [1, X, R, R (X - X̄)] by statsmodels.
    x = X[["past_use", "baseline_use"]].to_numpy(float)
    r = X["r"].to_numpy(float)
    design = np.column_stack([np.ones(len(r)), x, r, r[:, None] * (x - x.mean(0))])
    params = sm.OLS(X["m"].to_numpy(float), design).fit().params
    for j, ax in enumerate(fig.axes):
        line = next(li for li in ax.lines if li.get_label() == "linear first stage")
        gx, gy = line.get_data()
        np.testing.assert_allclose(
            gy, params[3] + params[4 + j] * (gx - x[:, j].mean()), rtol=1e-10
        )
    # The points: difference in mean M between arms at each covariate value.
    ax = fig.axes[1]
    points = ax.containers[0].lines[0]
    expected = X.groupby(["baseline_use", "r"])["m"].mean().unstack().diff(axis=1)[1]
    np.testing.assert_allclose(points.get_xdata(), expected.index.to_numpy(float))
    np.testing.assert_allclose(points.get_ydata(), expected.to_numpy(), rtol=1e-12)


def test_first_stage_bins_a_continuous_covariate(tmp_path):
    X, _ = make_mediation_data(2000, n_covariates=4, random_state=0)
    fig = plot_first_stage(
        X, treatment="r", mediator="m", covariates=["x1", "x2", "x3", "x4"], n_bins=4
    )
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 4  # three panels per row, the sixth hidden
    points = visible[0].containers[0].lines[0]
    assert len(points.get_xdata()) == 4
    # The effect of R on M rises with x1 (instrument_strength = 1).
    assert np.all(np.diff(points.get_ydata()) > 0)
    _saves_png(fig, tmp_path)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            dict(covariates=["age"]),
            ValueError,
            r"covariates names column\(s\) \['age'\] that are not in X",
        ),
        (dict(mediator="mm"), ValueError, r"mediator names column\(s\) \['mm'\]"),
        (dict(covariates=[]), ValueError, "covariates is empty"),
        (dict(n_bins=1), ValueError, "n_bins must be an integer of at least 2"),
        (
            dict(confidence_level=95),
            ValueError,
            "confidence_level must be in \\(0, 1\\)",
        ),
        (dict(axes=[None]), ValueError, "axes must hold 2 axes"),
    ],
)
def test_first_stage_bad_input(prospect, kwargs, error, message):
    X, _ = prospect
    args = dict(PROSPECT_ROLES)
    args.update(kwargs)
    with pytest.raises(error, match=message):
        plot_first_stage(X, **args)


def test_first_stage_bad_data(prospect):
    X, _ = prospect
    with pytest.raises(TypeError, match="X must be a pandas DataFrame"):
        plot_first_stage(X.to_numpy(), **PROSPECT_ROLES)
    with pytest.raises(ValueError, match="column 'site' is not numeric"):
        plot_first_stage(
            X.assign(site="a"), treatment="r", mediator="m", covariates=["site"]
        )
    with pytest.raises(ValueError, match="treatment 'r' must take the values 0 and 1"):
        plot_first_stage(X.assign(r=X["r"] * 2), **PROSPECT_ROLES)


# -- forest ------------------------------------------------------------------------


def test_forest_plots_the_estimates_and_intervals(tmp_path):
    X, y, truth = make_mediation_data(3000, random_state=1, return_truth=True)
    roles = dict(treatment="r", mediator="m", covariates=["x1", "x2"])
    fits = {
        "naive": NaiveMediationRegressor(**roles).fit(X, y),
        "IV": IVMediationRegressor(**roles).fit(X, y),
        "IV (result)": IVMediationRegressor(cov_type="classical", **roles)
        .fit(X, y)
        .result_,
    }
    fig = plot_forest(fits, truth=truth)
    _saves_png(fig, tmp_path)
    for ax, term, effect in zip(
        fig.axes, ("r", "m"), ("direct_effect", "mediator_effect"), strict=True
    ):
        bars = ax.containers[0]
        x = bars.lines[0].get_xdata()
        results = [f if not hasattr(f, "result_") else f.result_ for f in fits.values()]
        np.testing.assert_array_equal(x, [res.params[term] for res in results])
        segments = bars.lines[2][0].get_segments()
        lows = [seg[0][0] for seg in segments]
        highs = [seg[1][0] for seg in segments]
        np.testing.assert_allclose(
            lows, [res.conf_int().loc[term, "lower"] for res in results], rtol=1e-12
        )
        np.testing.assert_allclose(
            highs, [res.conf_int().loc[term, "upper"] for res in results], rtol=1e-12
        )
        truth_line = next(li for li in ax.lines if li.get_label() == "truth")
        assert truth_line.get_xdata()[0] == getattr(truth, effect)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == list(fits)


def test_forest_draws_the_robust_sets():
    from skmediate import WeakInstrumentWarning

    # weak instruments: unbounded robust sets
    X, y = make_mediation_data(300, instrument_strength=0.15, random_state=3)
    roles = dict(treatment="r", mediator="m", covariates=["x1", "x2"])
    with pytest.warns(WeakInstrumentWarning):
        iv = IVMediationRegressor(cov_type="classical", **roles).fit(X, y)
    fits = {"naive": NaiveMediationRegressor(**roles).fit(X, y), "IV": iv}
    fig = plot_forest(fits, robust=True)
    for ax, effect in zip(fig.axes, ("direct", "mediator"), strict=True):
        s = iv.confidence_set(effect)
        pieces = [
            seg
            for c in ax.collections
            if c.get_gid() == "robust-set"
            for seg in c.get_segments()
        ]
        assert len(pieces) == len(s)
        low, high = ax.get_xlim()
        for (lo, hi), seg in zip(s, pieces, strict=True):
            assert seg[0][0] == pytest.approx(max(lo, low))
            assert seg[1][0] == pytest.approx(min(hi, high))
        ends = sum(not np.isfinite(e) for piece in s for e in piece)
        arrows = [li for li in ax.lines if li.get_marker() in ("<", ">")]
        assert len(arrows) == ends
    plt.close(fig)


def test_forest_one_effect_into_given_axes():
    X, y = make_mediation_data(500, random_state=2)
    iv = IVMediationRegressor(treatment="r", mediator="m").fit(X, y)
    fig, ax = plt.subplots()
    assert plot_forest({"IV": iv}, effects="mediator_effect", axes=ax) is fig


def test_forest_bad_input():
    X, y = make_mediation_data(500, random_state=2)
    iv = IVMediationRegressor(treatment="r", mediator="m").fit(X, y)
    with pytest.raises(ValueError, match="non-empty dict"):
        plot_forest({})
    with pytest.raises(ValueError, match="effects must be among"):
        plot_forest({"IV": iv}, effects=["total"])
    with pytest.raises(TypeError, match="expected a fitted IVMediationRegressor"):
        plot_forest({"IV": IVMediationRegressor()})


def test_forest_effects_from_the_effects_table(tmp_path):
    X, y, truth = make_mediation_data(2000, random_state=4, return_truth=True)
    iv = IVMediationRegressor(treatment="r", mediator="m").fit(X, y)
    effects = ["effect_on_mediator", "indirect_effect", "total_effect"]
    fig = plot_forest({"IV": iv}, effects=effects, truth=truth)
    table = iv.result_.effects
    for ax, row, effect in zip(
        fig.axes, ("effect_on_mediator", "indirect", "total"), effects, strict=True
    ):
        bars = ax.containers[0]
        assert bars.lines[0].get_xdata()[0] == table.loc[row, "estimate"]
        (segment,) = bars.lines[2][0].get_segments()
        assert segment[0][0] == pytest.approx(table.loc[row, "lower"], rel=1e-12)
        assert segment[1][0] == pytest.approx(table.loc[row, "upper"], rel=1e-12)
        truth_line = next(li for li in ax.lines if li.get_label() == "truth")
        assert truth_line.get_xdata()[0] == getattr(truth, effect)


SEVERAL = dict(treatment="r", mediator=["m1", "m2"], covariates=["x1", "x2", "x3"])


def test_forest_has_a_panel_per_mediator(tmp_path):
    X, y, truth = make_mediation_data(
        3000,
        n_covariates=3,
        n_mediators=2,
        mediator_effect=[1.0, -0.5],
        random_state=5,
        return_truth=True,
    )
    fits = {
        "naive": NaiveMediationRegressor(**SEVERAL).fit(X, y),
        "IV": IVMediationRegressor(**SEVERAL).fit(X, y),
        "IV m1": IVMediationRegressor(
            treatment="r", mediator="m1", covariates=["x1", "x2", "x3"]
        ).fit(X, y),
    }
    fig = plot_forest(
        fits,
        effects=["direct_effect", "mediator_effect", "indirect_effect"],
        truth=truth,
    )
    _saves_png(fig, tmp_path)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == [
        "Direct effect of the treatment",
        "Effect of m1",
        "Effect of m2",
        "Effect of the mediator",  # the one-mediator fit's own panel
        "Indirect effect through m1",
        "Indirect effect through m2",
        "Indirect effect",
    ]
    results = [f.result_ for f in fits.values()]
    for ax, m in zip(fig.axes[1:3], ("m1", "m2"), strict=True):
        x = ax.containers[0].lines[0].get_xdata()
        expected = [res.params[m] for res in results[:2]]
        np.testing.assert_array_equal(x[:2], expected)
        assert np.isnan(x[2])  # the one-mediator fit has no row here
        truth_line = next(li for li in ax.lines if li.get_label() == "truth")
        assert truth_line.get_xdata()[0] == truth.mediator_effect[m]
    for ax, m in zip(fig.axes[4:6], ("m1", "m2"), strict=True):
        x = ax.containers[0].lines[0].get_xdata()
        expected = [
            res.effects.loc[f"indirect[{m}]", "estimate"] for res in results[:2]
        ]
        np.testing.assert_array_equal(x[:2], expected)
        truth_line = next(li for li in ax.lines if li.get_label() == "truth")
        assert truth_line.get_xdata()[0] == truth.indirect_effect[m]
    # a panel's annotations: one per fit with an estimate there
    assert len(fig.axes[1].texts) == 2 and len(fig.axes[3].texts) == 1


def test_first_stage_has_a_row_per_mediator(tmp_path):
    X, _ = make_mediation_data(1500, n_covariates=3, n_mediators=2, random_state=6)
    covariates = SEVERAL["covariates"]
    fig = plot_first_stage(
        X, treatment="r", mediator=["m1", "m2"], covariates=covariates
    )
    _saves_png(fig, tmp_path)
    assert len(fig.axes) == 6
    x = X[covariates].to_numpy(float)
    r = X["r"].to_numpy(float)
    design = np.column_stack([np.ones(len(r)), x, r, r[:, None] * (x - x.mean(0))])
    for k, m in enumerate(("m1", "m2")):
        # each mediator's own first stage, by statsmodels
        params = sm.OLS(X[m].to_numpy(float), design).fit().params
        row = fig.axes[3 * k : 3 * k + 3]
        assert row[0].get_ylabel() == f"effect of r on {m}"
        for j, ax in enumerate(row):
            line = next(li for li in ax.lines if li.get_label() == "linear first stage")
            gx, gy = line.get_data()
            np.testing.assert_allclose(
                gy, params[4] + params[5 + j] * (gx - x[:, j].mean()), rtol=1e-10
            )
        # the points: the arms' difference in mean M_j by x1 quintile
        points = row[0].containers[0].lines[0]
        groups = pd.qcut(X["x1"], 5, labels=False)
        diff = X.groupby([groups, "r"])[m].mean().unstack().diff(axis=1)[1]
        np.testing.assert_allclose(points.get_ydata(), diff.to_numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="3 mediators .* at least as many covariates"):
        plot_first_stage(
            X.assign(m3=X["m1"]),
            treatment="r",
            mediator=["m1", "m2", "m3"],
            covariates=["x1", "x2"],
        )


# -- bootstrap distribution --------------------------------------------------------


def test_bootstrap_distribution(tmp_path):
    draws = np.random.default_rng(0).normal(2.0, 0.5, 1000)
    draws[:4] = np.nan
    fig = plot_bootstrap_distribution(draws, 2.0, (1.1, 2.9), label="indirect effect")
    _saves_png(fig, tmp_path)
    ax = fig.axes[0]
    assert sum(bar.get_height() for bar in ax.containers[0]) == 996
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0] == "996 resamples (4 non-finite left out)"
    assert "interval [1.1, 2.9]" in legend and "estimate 2" in legend
    assert ax.get_xlabel() == "indirect effect"


def test_bootstrap_distribution_takes_an_interval_object():
    from scipy import stats

    data = np.random.default_rng(1).normal(size=50)
    res = stats.bootstrap((data,), np.mean, n_resamples=200, random_state=0)
    fig = plot_bootstrap_distribution(
        res.bootstrap_distribution, data.mean(), res.confidence_interval
    )
    span = fig.axes[0].patches[-1]  # the shaded interval
    x0, x1 = span.get_x(), span.get_x() + span.get_width()
    assert (x0, x1) == pytest.approx(tuple(res.confidence_interval))


def test_bootstrap_distribution_bad_input():
    with pytest.raises(ValueError, match="interval must be a pair"):
        plot_bootstrap_distribution([1.0, 2.0], 1.5, (1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="low <= high"):
        plot_bootstrap_distribution([1.0, 2.0], 1.5, (2.0, 1.0))
    with pytest.raises(ValueError, match="no finite values"):
        plot_bootstrap_distribution([np.nan, np.inf], 1.5, (1.0, 2.0))
    with pytest.raises(ValueError, match="distribution must be 1-dimensional"):
        plot_bootstrap_distribution(np.ones((3, 3)), 1.5, (1.0, 2.0))


# -- without matplotlib ------------------------------------------------------------


def test_install_hint_without_matplotlib(monkeypatch, prospect):
    X, y = prospect
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_outcome_by_arm(y, X["r"])
    with pytest.raises(ImportError, match=r"skmediate\[plot\]"):
        plot_bootstrap_distribution([1.0, 2.0], 1.5, (1.0, 2.0))


def test_plotting_does_not_modify_input(prospect):
    X, y = prospect
    X0, y0 = X.copy(), y.copy()
    plot_first_stage(X, **PROSPECT_ROLES)
    plot_outcome_by_arm(y, X["r"])
    pd.testing.assert_frame_equal(X, X0)
    pd.testing.assert_series_equal(y, y0)


# -- sensitivity analysis ------------------------------------------------------


@pytest.fixture(scope="module")
def sensitivity(prospect):
    from skmediate import SensitivityGrid

    X, y = prospect
    values = {"past_use": [0, 1], "baseline_use": [0, 1]}
    est = IVMediationRegressor(**PROSPECT_ROLES)
    closed = SensitivityGrid(est, tau_direct=values, tau_mediator=values).fit(X, y)
    refit = SensitivityGrid(est, tau_direct=values, method="refit").fit(X, y)
    return closed, refit


def test_sensitivity_forest_plots_every_grid_row(sensitivity, tmp_path):
    from skmediate.plotting import plot_sensitivity_forest

    closed, _ = sensitivity
    fig = plot_sensitivity_forest(closed)
    _saves_png(fig, tmp_path)
    frame = closed.to_frame()
    direct_ax, mediator_ax = fig.axes[:2]
    labels = [t.get_text() for t in direct_ax.get_yticklabels()]
    assert labels[0] == "(0,0) (0,0)" and labels[-1] == "(1,1) (1,1)"
    for ax, effect in ((direct_ax, "direct_effect"), (mediator_ax, "mediator_effect")):
        points = ax.lines[0].get_xdata()
        np.testing.assert_allclose(points, frame[effect])


def test_sensitivity_surface_closed_form_and_lattice(sensitivity, tmp_path):
    from skmediate.plotting import plot_sensitivity_surface

    closed, refit = sensitivity
    fig = plot_sensitivity_surface(
        closed,
        effect="direct_effect",
        x="tau_direct[past_use]",
        y="tau_direct[baseline_use]",
    )
    _saves_png(fig, tmp_path, "closed.png")
    assert fig.axes[0].get_xlabel() == "tau_direct[past_use]"
    # The refit grid is a 2 x 2 lattice in the two direct components.
    fig = plot_sensitivity_surface(refit, effect="mediator_effect")
    _saves_png(fig, tmp_path, "refit.png")
    assert fig.axes[0].get_ylabel() == "tau_direct[baseline_use]"


def test_sensitivity_plot_bad_input(sensitivity):
    from skmediate import SensitivityGrid
    from skmediate.plotting import plot_sensitivity_surface

    closed, _ = sensitivity
    with pytest.raises(ValueError, match="effect must be one of"):
        plot_sensitivity_surface(closed, effect="total")
    with pytest.raises(ValueError, match=r"x must name a tau column of the grid"):
        plot_sensitivity_surface(closed, x="tau_direct[age]")
    with pytest.raises(ValueError, match="x and y must be different"):
        plot_sensitivity_surface(
            closed, x="tau_direct[past_use]", y="tau_direct[past_use]"
        )
    unfitted = SensitivityGrid(IVMediationRegressor(**PROSPECT_ROLES))
    with pytest.raises(Exception, match="not fitted"):
        plot_sensitivity_surface(unfitted)


def test_bootstrap_distribution_takes_a_bootstrap_result():
    from skmediate import bootstrap

    X, y = make_mediation_data(400, random_state=4)
    iv = IVMediationRegressor(treatment="r", mediator="m")
    result = bootstrap(iv, X, y, n_resamples=50, random_state=0)
    fig = plot_bootstrap_distribution(result, statistic="mediator_effect_")
    ax = fig.axes[0]
    j = list(result.statistic_names).index("mediator_effect_")
    assert ax.get_xlabel() == "mediator_effect_"
    estimate_line = next(li for li in ax.lines if li.get_label().startswith("estimate"))
    assert estimate_line.get_xdata()[0] == pytest.approx(result.estimate[j])
    plt.close(fig)
    with pytest.raises(ValueError, match="give estimate and interval"):
        plot_bootstrap_distribution(np.arange(10.0))
