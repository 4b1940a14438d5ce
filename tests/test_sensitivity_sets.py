"""SensitivityGrid(robust_sets=True): the weak-instrument-robust sets over the grid.

At every grid point the sets must be those of an IV fit on the outcome
shifted by hand, ``ỹ(τ) = y - τ_Rᵀ(x - X̄)·R - τ_Mᵀ(x - X̄)·M`` with the
(weighted) sample mean ``X̄``, to 1e-8 (relative, on every finite end; the
infinite ends and the number of pieces exactly), whether the grid uses the
closed form or refits; the homoskedastic Anderson–Rubin set is also checked
against ivmodels' Anderson–Rubin test on the shifted outcome (its p-value is
the level at the set's ends, to 1e-7, and above it inside).
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from skmediate import IVMediationRegressor, NaiveMediationRegressor, SensitivityGrid
from skmediate._numerics.design import Design
from skmediate._numerics.sensitivity import SensitivityPlan

from .conftest import assert_same_set, simulate_trial

TOL = 1e-8
# τ_R then τ_M on (x1, x2): the first point is the fit itself
TAU = np.array(
    [
        [0.0, 0.0, 0.0, 0.0],
        [0.5, -0.3, 0.05, 0.0],  # rejected by the data: every set is empty
        [-0.4, 0.2, -0.06, 0.04],
        [0.0, 0.0, 0.0, -0.05],
        [0.3, 0.0, 0.02, 0.03],
    ]
)
CLUSTERED = ("cluster", "CR0", "CR2")


@pytest.fixture(scope="module")
def trial():
    X, y, groups = simulate_trial(
        n=800, n_covariates=2, n_controls=1, n_clusters=40, seed=7
    )
    weights = np.random.default_rng(3).integers(1, 4, len(y)).astype(float)
    return X, np.asarray(y, dtype=float), groups, weights


def _estimator(cov_type, weight_type="frequency", ar_meat="leverage"):
    return IVMediationRegressor(
        treatment="r",
        mediator="m",
        controls=["z1"],
        cov_type=cov_type,
        weight_type=weight_type,
        ar_meat=ar_meat,
    )


def _fit_kw(cov_type, groups, weights):
    return dict(sample_weight=weights, groups=groups if cov_type in CLUSTERED else None)


def _shifted(X, y, tau, weights):
    """``ỹ(τ)`` by hand, with the weighted mean of the covariates."""
    x = X[["x1", "x2"]].to_numpy()
    centred = x - np.average(x, axis=0, weights=weights)
    r, m = X["r"].to_numpy(), X["m"].to_numpy()
    return y - (r[:, None] * centred) @ tau[:2] - (m[:, None] * centred) @ tau[2:]


def _sets_of_fit(est, cov_type):
    sets = {
        "direct_effect_ar": est.confidence_set("direct"),
        "mediator_effect_ar": est.confidence_set("mediator", "AR"),
    }
    # Moreira's CLR, or the robust CLR (defined here: 40 clusters, 2 instruments)
    sets["mediator_effect_clr"] = est.confidence_set("mediator", "CLR")
    return sets


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.mark.parametrize("method", ["closed_form", "refit"])
@pytest.mark.parametrize(
    "cov_type", ["classical", "unadjusted", "HC0", "HC1", "HC3", "cluster", "CR0"]
)
def test_sets_equal_those_of_a_fit_on_the_shifted_outcome(trial, cov_type, method):
    X, y, groups, weights = trial
    kw = _fit_kw(cov_type, groups, weights)
    # the closed form has the clusters' own meat, not CR3's leverage adjustment
    ar_meat = "fit" if method == "closed_form" and cov_type in CLUSTERED else "leverage"
    grid = _quiet(
        SensitivityGrid(
            _estimator(cov_type, ar_meat=ar_meat),
            tau_direct=TAU[:, :2],
            tau_mediator=TAU[:, 2:],
            method=method,
            robust_sets=True,
        ).fit,
        X,
        y,
        **kw,
    )
    frame = grid.to_frame()
    bounded = 0
    for i, tau in enumerate(TAU):
        est = _quiet(
            _estimator(cov_type, ar_meat=ar_meat).fit,
            X,
            _shifted(X, y, tau, weights),
            **kw,
        )
        want = _sets_of_fit(est, cov_type)
        assert {c for c in frame if c.endswith(("_ar", "_clr"))} == set(want)
        for column, expected in want.items():
            got = frame.loc[i, column]
            assert (got.effect, got.method) == (expected.effect, expected.method)
            assert got.confidence_level == 0.95
            assert_same_set(got, expected, rtol=TOL)
            bounded += got.is_bounded and not got.is_empty
    assert bounded >= len(TAU)  # the comparison covers bounded sets


@pytest.mark.parametrize("weight_type", ["analytic", "probability"])
@pytest.mark.parametrize("cov_type", ["HC1", "HC3", "cluster"])
def test_sets_follow_the_weight_type(trial, cov_type, weight_type):
    """Analytic and probability weights enter the rows' meat as ``w²``."""
    X, y, groups, weights = trial
    kw = _fit_kw(cov_type, groups, weights)
    grid = _quiet(
        SensitivityGrid(
            _estimator(cov_type, weight_type),
            tau_direct=TAU[:, :2],
            tau_mediator=TAU[:, 2:],
            robust_sets=True,
        ).fit,
        X,
        y,
        **kw,
    )
    frame = grid.to_frame()
    for i in (0, 2, 4):
        est = _quiet(
            _estimator(cov_type, weight_type).fit,
            X,
            _shifted(X, y, TAU[i], weights),
            **kw,
        )
        for column, expected in _sets_of_fit(est, cov_type).items():
            assert_same_set(frame.loc[i, column], expected, rtol=TOL)


@pytest.mark.parametrize("cov_type", ["classical", "HC1", "cluster"])
def test_union_contains_every_point_set_and_hulls_match(trial, cov_type):
    X, y, groups, weights = trial
    grid = _quiet(
        SensitivityGrid(
            _estimator(cov_type),
            tau_direct={"x1": [-0.5, 0.0, 0.5]},
            tau_mediator={"x1": [-0.05, 0.0, 0.05], "x2": [0.0, 0.04]},
            robust_sets=True,
        ).fit,
        X,
        y,
        **_fit_kw(cov_type, groups, weights),
    )
    frame = grid.to_frame()
    interval = grid.sensitivity_interval_
    for column, union in grid.sensitivity_sets_.items():
        effect, method = column.rsplit("_", 1)
        pieces = list(union)
        for s in frame[column]:
            for lo, hi in s:
                # each piece lies inside one piece of the union
                assert any(a <= lo and hi <= b for a, b in pieces), (s, union)
        low = [s.intervals[0][0] if len(s) else np.nan for s in frame[column]]
        high = [s.intervals[-1][1] if len(s) else np.nan for s in frame[column]]
        assert_allclose(frame[f"{column}_lower"], low, rtol=0, atol=0)
        assert_allclose(frame[f"{column}_upper"], high, rtol=0, atol=0)
        # the union's hull sits beside the Wald sensitivity interval
        assert interval.loc[effect, f"{method}_lower"] == np.nanmin(low)
        assert interval.loc[effect, f"{method}_upper"] == np.nanmax(high)
        # and the union's ends are ends of the points' sets
        ends = {e for s in frame[column] for piece in s for e in piece}
        assert all(e in ends for piece in pieces for e in piece)
    assert np.isnan(interval.loc["direct_effect"].get("clr_lower", np.nan))


def _ivmodels_ar_pvalue(X, y_shifted, beta):
    from ivmodels.tests import anderson_rubin_test

    x = X[["x1", "x2"]].to_numpy()
    r = X["r"].to_numpy()
    z = r[:, None] * (x - x.mean(axis=0))
    c = X[["x1", "x2", "z1", "r"]].to_numpy()
    _, p = anderson_rubin_test(
        z, X[["m"]].to_numpy(), y_shifted, np.array([beta]), C=c, critical_values="f"
    )
    return p


def test_classical_ar_sets_against_ivmodels(trial):
    """``F(p, n - l)`` critical values: ivmodels' ``critical_values="f"``."""
    X, y, _, _ = trial
    grid = _quiet(
        SensitivityGrid(
            _estimator("classical"),
            tau_direct=TAU[:, :2],
            tau_mediator=TAU[:, 2:],
            robust_sets=True,
        ).fit,
        X,
        y,
    )
    checked = 0
    frame = grid.to_frame()
    for i, tau in enumerate(TAU):
        y_tau = _shifted(X, y, tau, np.ones(len(y)))
        s = frame.loc[i, "mediator_effect_ar"]
        if s.is_empty:  # τ that the data reject: so does every mediator effect
            estimate = frame.loc[i, "mediator_effect"]
            for beta in (estimate - 1.0, estimate, estimate + 1.0):
                assert _ivmodels_ar_pvalue(X, y_tau, beta) < 0.05
        for lo, hi in s:
            for end in (lo, hi):
                if np.isfinite(end):
                    p = _ivmodels_ar_pvalue(X, y_tau, end)
                    assert p == pytest.approx(0.05, abs=1e-7)
                    checked += 1
            if np.isfinite(lo) and np.isfinite(hi):
                assert _ivmodels_ar_pvalue(X, y_tau, (lo + hi) / 2) > 0.05
                width = hi - lo
                assert _ivmodels_ar_pvalue(X, y_tau, hi + width) < 0.05
    n_empty = sum(s.is_empty for s in frame["mediator_effect_ar"])
    assert 0 < n_empty < len(TAU) and checked >= 2 * (len(TAU) - n_empty)


def test_cr2_needs_refit_and_refit_gives_the_shifted_fits_sets(trial):
    X, y, groups, weights = trial
    kwargs = dict(tau_direct=TAU[:2, :2], tau_mediator=TAU[:2, 2:], robust_sets=True)
    with pytest.raises(ValueError, match="method='refit'"):
        _quiet(
            SensitivityGrid(_estimator("CR2"), method="closed_form", **kwargs).fit,
            X,
            y,
            groups=groups,
        )
    grid = _quiet(
        SensitivityGrid(_estimator("CR2"), method="refit", **kwargs).fit,
        X,
        y,
        groups=groups,
    )
    for i, tau in enumerate(TAU[:2]):
        est = _quiet(
            _estimator("CR2").fit,
            X,
            _shifted(X, y, tau, np.ones(len(y))),
            groups=groups,
        )
        for column, expected in _sets_of_fit(est, "CR2").items():
            assert_same_set(grid.to_frame().loc[i, column], expected, rtol=TOL)


def test_without_robust_sets_the_grid_is_unchanged(trial):
    X, y, _, _ = trial
    kwargs = dict(tau_direct={"x1": [0.0, 0.5]}, tau_mediator={"x2": [0.0, 0.05]})
    bare = _quiet(SensitivityGrid(_estimator("HC1"), **kwargs).fit, X, y)
    robust = _quiet(
        SensitivityGrid(_estimator("HC1"), robust_sets=True, **kwargs).fit, X, y
    )
    assert not hasattr(bare, "sensitivity_sets_")
    assert bare.forms_.reduced is None and robust.forms_.reduced is not None
    assert list(bare.sensitivity_interval_.columns) == [
        "estimate_low",
        "estimate_high",
        "lower",
        "upper",
    ]
    shared = list(bare.to_frame().columns)
    assert len(shared) == 12
    pd.testing.assert_frame_equal(
        robust.to_frame()[shared], bare.to_frame(), check_exact=True
    )
    pd.testing.assert_frame_equal(
        robust.sensitivity_interval_[bare.sensitivity_interval_.columns],
        bare.sensitivity_interval_,
        check_exact=True,
    )


def test_robust_sets_need_an_iv_fit_with_a_covariate(trial):
    X, y, _, _ = trial
    naive = NaiveMediationRegressor(treatment="r", mediator="m")
    for method in ("closed_form", "refit"):
        with pytest.raises(ValueError, match="IVMediationRegressor"):
            SensitivityGrid(
                naive, tau_direct={"x1": [0.0]}, method=method, robust_sets=True
            ).fit(X, y)
    with pytest.raises(ValueError, match="at least one covariate"):
        SensitivityPlan(Design("r", ("m",), (), ()), robust_sets=True)
    # several mediators have the sets too (tests/test_sensitivity_mediators.py)
    plan = SensitivityPlan(
        Design("r", ("m1", "m2"), ("x1", "x2"), ()), robust_sets=True
    )
    assert plan.robust_sets


def test_summary_sets_the_unions_beside_the_wald_interval(trial):
    from skmediate._report.render import fmt_set

    X, y, _, _ = trial
    kwargs = dict(tau_direct={"x1": [0.0, 0.5]}, tau_mediator={"x2": [0.0, 0.05]})
    robust = _quiet(
        SensitivityGrid(_estimator("classical"), robust_sets=True, **kwargs).fit, X, y
    )
    summary = robust.summary()
    text = str(summary)
    assert "Weak-instrument-robust sets over the grid" in text
    for header in ("Union of 95% CIs", "Union of 95% AR sets", "Union of 95% CLR sets"):
        assert header in text
    table = summary.tables[-1]
    for column, union in robust.sensitivity_sets_.items():
        effect, method = column.rsplit("_", 1)
        assert table.loc[effect, method.upper()] == union
    lines = text.splitlines()
    for column, union in robust.sensitivity_sets_.items():
        label = column.rsplit("_", 1)[0].replace("_", " ")
        row = [line for line in lines if line.startswith(f"{label}  ")][-1]
        assert fmt_set(list(union)) in row
    bare = _quiet(SensitivityGrid(_estimator("classical"), **kwargs).fit, X, y)
    assert "AR sets" not in bare.summary()


def test_cluster_sets_with_the_cr3_meat_are_refitted(trial):
    """With the default CR3 meat the closed form has no sets: ``auto`` refits."""
    X, y, groups, weights = trial
    kw = dict(tau_direct={"x1": [0.0, 0.5]}, tau_mediator={"x2": [0.05]})
    est = _estimator("cluster")
    with pytest.raises(ValueError, match="use method='refit'"):
        SensitivityGrid(est, method="closed_form", robust_sets=True, **kw).fit(
            X, y, groups=groups
        )
    grid = _quiet(SensitivityGrid(est, robust_sets=True, **kw).fit, X, y, groups=groups)
    assert grid.method_ == "refit"
    frame = grid.to_frame()
    tau = np.r_[0.5, 0.0, 0.0, 0.05]
    fit = _quiet(est.fit, X, _shifted(X, y, tau, None), groups=groups)
    for column, expected in _sets_of_fit(fit, "cluster").items():
        assert_same_set(frame.loc[1, column], expected, rtol=TOL)
