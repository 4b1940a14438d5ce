"""Weak-instrument-robust inference with several mediators.

Checks and tolerances:

- the joint Anderson-Rubin statistic and p-value (``"classical"``) against
  ivmodels' ``anderson_rubin_test`` with the mediators as the tested
  endogenous regressors, to 1e-8 relative; the robust statistic (default
  leverage meat) against statsmodels' HC3 Wald F test of the interactions in
  the regression of ``y - Mθ₀`` on all instruments, to 1e-8;
- the subvector Anderson-Rubin sets of each mediator and of the direct
  effect: the p-value of ivmodels' subvector test (``W=`` the other
  mediators, F critical values) is the level's complement at every finite
  end, to 1e-7, on a bounded, a split (two half-lines) and an unbounded
  design, and it is above (inside) or below (outside) at points around;
- the projection of the homoskedastic joint set: at each end the joint
  statistic at the minimizing other effect equals the critical value (1e-8),
  and a brute-force minimization over the other mediator's effect
  (scipy ``minimize_scalar``) agrees (1e-6);
- the robust projections: with a ``"classical"`` covariance the robust
  algorithm reproduces the closed-form projections (1e-9); with HC1 the
  minimum over the other effect of the joint statistic is the critical value
  at each end (brute force, 1e-6); with three mediators and HC1, the same
  for the projection onto one mediator (the minimum over the other two) and
  for the robust direct-effect set (the minimum over the three mediators'
  effects of the joint statistic of ``(θ_R, θ_M)``, which is ``p + 1`` times
  statsmodels' HC3 Wald F of the treatment and the interactions, 1e-8),
  Nelder-Mead from several starts, 1e-6, and the minimum is below the
  critical value inside and above it outside each end;
- with one mediator, naming it changes nothing (exact equality).
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from numpy.testing import assert_allclose
from scipy import optimize

from skmediate import IVMediationRegressor
from skmediate._numerics import joint
from skmediate._numerics.weakiv import critical_value

LEVEL = 0.95
NAMES = ["m1", "m2"]
COVARIATES = ["x1", "x2", "x3"]
# (strength, seed): the shapes of the sets (see the test of the shapes)
DESIGNS = {"bounded": (0.2, 3), "split": (0.2, 2), "unbounded": (0.05, 0)}


def trial(strength, seed, n=500, heteroskedastic=False):
    """Two mediators sharing an unmeasured confounder with ``y``; the
    interactions' strength scales with ``strength``. ``heteroskedastic``
    scales the outcome's own noise by ``(1 + |x1|) / 1.8`` (its variance then
    grows with the first covariate; the same draws otherwise)."""
    rng = np.random.default_rng(seed)
    r = rng.integers(0, 2, n).astype(float)
    x = rng.normal(size=(n, 3))
    u = rng.normal(size=n)
    modifiers = strength * (np.eye(3, 2) + 0.5 * rng.normal(size=(3, 2)))
    m = r[:, None] * (x @ modifiers) + u[:, None] + rng.normal(size=(n, 2))
    noise = rng.normal(size=n)
    if heteroskedastic:
        noise *= (1 + np.abs(x[:, 0])) / 1.8
    y = 0.5 * r + m @ [1.0, 0.5] + u + noise
    frame = pd.DataFrame({"r": r, "m1": m[:, 0], "m2": m[:, 1]})
    for j in range(3):
        frame[f"x{j + 1}"] = x[:, j]
    return frame, pd.Series(y, name="y")


def fit(design, cov_type="classical", **params):
    frame, y = trial(*(DESIGNS[design] if isinstance(design, str) else design))
    est = IVMediationRegressor(
        treatment="r",
        mediator=NAMES,
        covariates=COVARIATES,
        cov_type=cov_type,
        **params,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(frame, y)
    return est, frame, y


def _arrays(frame):
    x = frame[COVARIATES].to_numpy()
    r = frame["r"].to_numpy()
    z = r[:, None] * (x - x.mean(axis=0))
    return x, r, z, frame[NAMES].to_numpy()


def test_shapes_of_the_designs():
    shapes = {}
    for design in DESIGNS:
        est, _, _ = fit(design)
        sets = [est.confidence_set("mediator", mediator=m) for m in NAMES]
        shapes[design] = [
            "bounded" if s.is_bounded else "split" if len(s) == 2 else "line"
            for s in sets
        ]
    assert shapes["bounded"] == ["bounded", "bounded"]
    assert shapes["split"] == ["split", "split"]
    assert shapes["unbounded"] == ["line", "line"]


@pytest.mark.parametrize("design", list(DESIGNS))
def test_joint_anderson_rubin_against_ivmodels(design):
    from ivmodels.tests import anderson_rubin_test

    est, frame, y = fit(design)
    x, r, z, m = _arrays(frame)
    for theta in ([1.0, 0.5], [0.3, -2.0], [4.0, 1.0]):
        ours = est.anderson_rubin_test(theta)
        stat, p = anderson_rubin_test(
            z,
            m,
            y.to_numpy(),
            np.array(theta),
            C=np.column_stack([x, r]),
            critical_values="f",
        )
        assert ours.distribution == "F" and ours.df == 3
        assert_allclose(ours.statistic, stat, rtol=1e-8)
        assert_allclose(ours.pvalue, p, rtol=1e-8, atol=1e-14)
        by_name = est.anderson_rubin_test(dict(zip(NAMES, theta, strict=True)))
        assert by_name.statistic == ours.statistic


@pytest.mark.parametrize("design", ["bounded", "unbounded"])
def test_robust_joint_anderson_rubin_against_statsmodels(design):
    est, frame, y = fit(design, "HC1")
    x, r, z, m = _arrays(frame)
    q = np.column_stack([np.ones(len(r)), x, r, z])
    for theta in ([1.0, 0.5], [0.3, -2.0]):
        ols = sm.OLS(y.to_numpy() - m @ theta, q).fit(cov_type="HC3")
        restriction = np.zeros((3, q.shape[1]))
        restriction[:, -3:] = np.eye(3)
        ref = ols.wald_test(restriction, use_f=True, scalar=True)
        ours = est.anderson_rubin_test(theta)
        assert_allclose(ours.statistic, ref.statistic, rtol=1e-8)
        assert ours.df_denom == len(r) - q.shape[1]


def _subvector_pvalue(frame, y, j, value):
    from ivmodels.tests import anderson_rubin_test

    x, r, z, m = _arrays(frame)
    return anderson_rubin_test(
        z,
        m[:, [j]],
        y.to_numpy(),
        np.array([value]),
        W=m[:, [1 - j]],
        C=np.column_stack([x, r]),
        critical_values="f",
    )[1]


def _direct_pvalue(frame, y, value):
    from ivmodels.tests import anderson_rubin_test

    x, r, z, m = _arrays(frame)
    return anderson_rubin_test(
        z,
        np.zeros((len(r), 0)),
        y.to_numpy(),
        np.array([value]),
        W=m,
        C=x,
        D=r[:, None],
        critical_values="f",
    )[1]


def _check_ends(s, pvalue):
    ends = [e for piece in s for e in piece if np.isfinite(e)]
    for e in ends:
        assert_allclose(pvalue(e), 1 - LEVEL, atol=1e-7)
        step = 1e-3 * max(1.0, abs(e))
        inside = [e + step if e + step in s else e - step]
        outside = [e - step if e + step in s else e + step]
        assert pvalue(inside[0]) > 1 - LEVEL > pvalue(outside[0])
    if not ends:
        assert s.intervals == ((-np.inf, np.inf),)
        assert pvalue(0.0) > 1 - LEVEL and pvalue(1e6) > 1 - LEVEL


@pytest.mark.parametrize("design", list(DESIGNS))
def test_subvector_sets_against_ivmodels(design):
    est, frame, y = fit(design)
    for j, name in enumerate(NAMES):
        s = est.confidence_set("mediator", "AR", mediator=name)
        assert s.mediator == name and s.method == "AR"
        _check_ends(s, lambda v, j=j: _subvector_pvalue(frame, y, j, v))
    direct = est.confidence_set("direct")
    assert direct.method == "AR"
    _check_ends(direct, lambda v: _direct_pvalue(frame, y, v))


def _brute_min(stat, t, start):
    """``min_s stat(t, s)`` from several starts (a numerical minimization)."""
    best = np.inf
    for s0 in (start, start + 1.0, start - 1.0, 10 * start + 5.0):
        res = optimize.minimize(
            lambda s: stat(t, s[0]),
            [s0],
            method="Nelder-Mead",
            options={"xatol": 1e-12, "fatol": 1e-13},
        )
        best = min(best, res.fun)
    return best


@pytest.mark.parametrize("design", ["bounded", (0.2, 0), (0.4, 2)])
def test_projection_ends(design):
    est, _, _ = fit(design)
    moments = est.result_.anderson_rubin_moments
    crit = critical_value(moments, LEVEL)
    g = joint.projection_quadric(moments, LEVEL)
    for j in range(2):
        s = est.confidence_set("mediator", "projection", mediator=NAMES[j])
        ends = [e for piece in s for e in piece if np.isfinite(e)]
        assert ends
        for e in ends:
            point = joint.quadric_minimizer(g, j, e)
            assert_allclose(joint.joint_statistic(moments, point), crit, rtol=1e-8)

            def stat(t, other, j=j):
                theta = np.empty(2)
                theta[j], theta[1 - j] = t, other
                return joint.joint_statistic(moments, theta)

            assert_allclose(_brute_min(stat, e, point[1 - j]), crit, rtol=1e-6)
        # the robust algorithm, given the classical covariance, agrees
        robust = joint._robust_projection(
            moments.coef, joint._cov_blocks(moments), j, crit
        )
        assert_allclose(np.array(robust), np.array(s.intervals), rtol=1e-9)


def test_direct_projection_robust_algorithm_matches_closed_form():
    est, _, _ = fit("bounded")
    moments = est.result_.anderson_rubin_moments
    closed = est.confidence_set("direct", "projection")
    assert_allclose(
        np.array(joint.robust_direct_projection_set(moments, LEVEL)),
        np.array(closed.intervals),
        rtol=1e-9,
    )


def test_robust_projection_ends_by_brute_force():
    est, _, _ = fit("bounded", "HC1")
    moments = est.result_.anderson_rubin_moments
    crit = critical_value(moments, LEVEL)
    estimates = est.result_.params[NAMES].to_numpy()
    for j in range(2):
        s = est.confidence_set("mediator", mediator=NAMES[j])
        assert s.method == "AR" and s.is_bounded and len(s) == 1

        def stat(t, other, j=j):
            theta = np.empty(2)
            theta[j], theta[1 - j] = t, other
            return joint.joint_statistic(moments, theta)

        for e in s.intervals[0]:
            assert_allclose(_brute_min(stat, e, estimates[1 - j]), crit, rtol=1e-6)
    assert est.confidence_set("direct").is_bounded


def _three_mediator_fit():
    """An HC1 fit of three mediators with four covariates."""
    rng = np.random.default_rng(7)
    n = 400
    r = rng.integers(0, 2, n).astype(float)
    x = rng.normal(size=(n, 4))
    u = rng.normal(size=n)
    modifiers = np.eye(4, 3) + 0.5 * rng.normal(size=(4, 3))
    m = r[:, None] * (1.0 + x @ modifiers) + u[:, None] + rng.normal(size=(n, 3))
    noise = rng.normal(size=n) * (1 + np.abs(x[:, 0]))
    y = 0.5 * r + m @ [1.0, 0.5, -0.5] + u + noise
    names = ["m1", "m2", "m3"]
    frame = pd.DataFrame(
        np.column_stack([r, m, x]), columns=["r", *names, "x1", "x2", "x3", "x4"]
    )
    est = IVMediationRegressor(treatment="r", mediator=names, cov_type="HC1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(frame, y)
    return est, names, frame, y


def _least(stat, starts):
    """The least of ``stat`` by Nelder-Mead from each start."""
    return min(
        optimize.minimize(
            stat,
            start,
            method="Nelder-Mead",
            options={"xatol": 1e-10, "fatol": 1e-12, "maxfev": 20000},
        ).fun
        for start in starts
    )


def test_robust_projection_three_mediators_by_brute_force():
    est, names, _, _ = _three_mediator_fit()
    moments = est.result_.anderson_rubin_moments
    crit = critical_value(moments, LEVEL)
    s = est.confidence_set("mediator", mediator="m1")
    assert s.is_bounded and len(s) == 1
    others = est.result_.params[names[1:]].to_numpy()
    starts = [others + shift for shift in (0.0, 1.0, -1.0)]

    def least(value):
        return _least(
            lambda rest: joint.joint_statistic(moments, np.r_[value, rest]), starts
        )

    low, high = s.intervals[0]
    for end, inward in ((low, 1.0), (high, -1.0)):
        assert_allclose(least(end), crit, rtol=1e-6)
        step = 1e-3 * max(1.0, abs(end))
        assert least(end + inward * step) < crit < least(end - inward * step)


def test_robust_direct_set_three_mediators_by_brute_force():
    from dataclasses import replace

    est, names, frame, y = _three_mediator_fit()
    moments = est.result_.anderson_rubin_moments
    s = est.confidence_set("direct")
    assert s.is_bounded and len(s) == 1
    coef, blocks = joint.direct_rows(moments)
    # the joint statistic of (θ_R, θ_M) is (p + 1) times statsmodels' HC3 Wald
    # F of the treatment and the interactions in the regression of
    # y - θ_R·R - Mθ_M on all instruments (the default leverage meat)
    r, m = frame["r"].to_numpy(), frame[names].to_numpy()
    x = frame[["x1", "x2", "x3", "x4"]].to_numpy()
    q = np.column_stack([np.ones(len(r)), x, r, r[:, None] * (x - x.mean(axis=0))])
    restriction = np.zeros((5, q.shape[1]))
    restriction[:, -5:] = np.eye(5)
    for value, theta in ((0.3, [1.0, 0.5, -0.5]), (2.0, [0.2, 0.1, 0.0])):
        ols = sm.OLS(y - value * r - m @ theta, q).fit(cov_type="HC3")
        ref = ols.wald_test(restriction, use_f=True, scalar=True).statistic
        ours = joint._stat(coef, blocks, np.r_[1.0, -value, -np.array(theta)])
        assert_allclose(ours, 5 * ref, rtol=1e-8)
    crit = critical_value(
        replace(moments, n_instruments=coef.shape[1], coef=coef), LEVEL
    )
    starts = [
        est.result_.params[names].to_numpy() + shift for shift in (0.0, 1.0, -1.0)
    ]

    def least(value):
        return _least(
            lambda theta: joint._stat(coef, blocks, np.r_[1.0, -value, -theta]),
            starts,
        )

    low, high = s.intervals[0]
    for end, inward in ((low, 1.0), (high, -1.0)):
        assert_allclose(least(end), crit, rtol=1e-6)
        step = 1e-3 * max(1.0, abs(end))
        assert least(end + inward * step) < crit < least(end - inward * step)


def test_one_mediator_unchanged():
    frame, y = trial(0.2, 3)
    est = IVMediationRegressor(treatment="r", mediator="m1", covariates=COVARIATES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(frame, y)
    for effect in ("direct", "mediator", "indirect", "proportion_mediated"):
        a = est.confidence_set(effect)
        b = est.confidence_set(effect, mediator="m1")
        assert a == b
    test = est.anderson_rubin_test(1.0)
    from skmediate._numerics.weakiv import anderson_rubin_test

    stat, p = anderson_rubin_test(est.result_.anderson_rubin_moments, 1.0)
    assert (test.statistic, test.pvalue) == (stat, p)


def test_bad_input():
    est, _, _ = fit("bounded")
    with pytest.raises(ValueError, match="name one with mediator="):
        est.confidence_set("mediator")
    with pytest.raises(ValueError, match="unknown mediator 'm3'"):
        est.confidence_set("mediator", mediator="m3")
    with pytest.raises(ValueError, match="selects the mediator of effect='mediator'"):
        est.confidence_set("direct", mediator="m1")
    with pytest.raises(ValueError, match="is for one mediator"):
        est.confidence_set("mediator", "CLR", mediator="m1")
    with pytest.raises(ValueError, match="one value per mediator"):
        est.anderson_rubin_test([1.0])
    with pytest.raises(ValueError, match="missing"):
        est.anderson_rubin_test({"m1": 1.0})
    with pytest.raises(ValueError, match="anderson_rubin_test"):
        est.anderson_rubin_confidence_set()


def test_summary_lists_each_mediator():
    est, _, _ = fit("split")
    text = est.summary().as_text()
    for name in NAMES:
        assert f"mediator[{name}]" in text
    assert "not defined" not in text.split("confidence sets")[1].split("===")[0]
