"""confidence_set for every effect: the set object, Fieller, Bonferroni, subvector AR.

The subvector Anderson-Rubin set of the direct effect is checked against
ivmodels (``anderson_rubin_test`` with the mediator as the nuisance
endogenous regressor and the treatment as the tested exogenous regressor,
F critical values) and, for ``"unadjusted"``, against a brute-force
minimization over the mediator effect with two least squares fits per value.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import optimize, special

from skmediate import IVMediationRegressor, NaiveMediationRegressor
from skmediate._numerics.sets import (
    ConfidenceSet,
    difference_set,
    fieller_set,
    one_minus_ratio_set,
    quadratic_set,
)

REFERENCE = "tests/reference"
DESIGNS = {
    "trial_binary": (["x1", "x2"], ["z"]),  # a bounded set
    "trial_weak": (["x1", "x2"], []),  # two half-lines
    "trial_clustered": (["x1", "x2", "x3"], ["z"]),
}


def _fit(name, cov_type="classical", cls=IVMediationRegressor, **params):
    covariates, controls = DESIGNS[name]
    df = pd.read_csv(f"{REFERENCE}/{name}.csv")
    est = cls(
        treatment="r",
        mediator="m",
        covariates=covariates,
        controls=controls or None,
        cov_type=cov_type,
        **params,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(df[["r", "m", *covariates, *controls]], df["y"])
    return est, df


def test_confidence_set_object():
    s = ConfidenceSet(((-np.inf, -1.0), (2.0, 3.0)), "direct", "AR", 0.95)
    assert 2.5 in s and -5 in s and 0 not in s and 3.0 in s
    assert not s.is_bounded and len(s) == 2
    assert list(s) == [(-np.inf, -1.0), (2.0, 3.0)]
    assert repr(s) == "ConfidenceSet((-inf, -1] U [2, 3]; direct, AR, 95%)"
    assert ConfidenceSet(()).is_bounded and ConfidenceSet(()).is_empty
    assert repr(ConfidenceSet(())) == "ConfidenceSet(empty)"


@pytest.mark.parametrize(
    ("coef", "expected"),
    [
        ((-1.0, 0.0, 1.0), [(-1.0, 1.0)]),  # t² - 1 ≤ 0
        ((1.0, 0.0, -1.0), [(-np.inf, -1.0), (1.0, np.inf)]),
        ((1.0, 0.0, 1.0), []),
        ((-1.0, 0.0, -1.0), [(-np.inf, np.inf)]),
        ((-2.0, 1.0, 0.0), [(-np.inf, 2.0)]),  # linear
        ((0.0, 0.0, 0.0), [(-np.inf, np.inf)]),
    ],
)
def test_quadratic_set(coef, expected):
    assert_allclose(
        np.array(quadratic_set(*coef), dtype=float).reshape(-1, 2),
        np.array(expected, dtype=float).reshape(-1, 2),
    )


def test_fieller_against_the_inequality():
    rng = np.random.default_rng(0)
    for _ in range(50):
        a, b = rng.normal(size=2) * 3
        v = rng.normal(size=(2, 2))
        v = v @ v.T + 0.1 * np.eye(2)
        pieces = fieller_set(a, b, v[0, 0], v[0, 1], v[1, 1], 1.96)
        for theta in np.linspace(-20, 20, 801):
            holds = (a - theta * b) ** 2 <= 1.96**2 * (
                v[0, 0] - 2 * theta * v[0, 1] + theta**2 * v[1, 1]
            )
            inside = any(lo <= theta <= hi for lo, hi in pieces)
            gap = min((abs(theta - e) for p in pieces for e in p), default=np.inf)
            if gap > 1e-9:
                assert inside == holds
        # bounded exactly when b is significant at this level
        assert (len(pieces) == 1 and np.isfinite(pieces[0]).all()) == (
            b * b > 1.96**2 * v[1, 1]
        )


def test_set_arithmetic():
    assert difference_set([(1.0, 2.0)], [(0.0, 0.5)]) == [(0.5, 2.0)]
    assert difference_set([(1.0, 2.0)], [(-np.inf, 0.0), (5.0, 6.0)]) == [
        (-5.0, -3.0),
        (1.0, np.inf),
    ]
    # 1 - r/t with t in [2, 4], r in [1, 2]: r/t in [1/4, 1]
    assert_allclose(one_minus_ratio_set([(1.0, 2.0)], [(2.0, 4.0)]), [(0.0, 0.75)])
    assert one_minus_ratio_set([(1.0, 2.0)], [(-1.0, 4.0)]) == [(-np.inf, np.inf)]
    low, high = one_minus_ratio_set([(1.0, np.inf)], [(2.0, 4.0)])[0]
    assert low == -np.inf and high == pytest.approx(0.75)


def _ivmodels_pvalue(df, covariates, controls, r0):
    from ivmodels.tests import anderson_rubin_test

    x = df[covariates].to_numpy()
    r = df["r"].to_numpy()
    z = r[:, None] * (x - x.mean(axis=0))
    _, p = anderson_rubin_test(
        z,
        np.zeros((len(df), 0)),
        df["y"].to_numpy(),
        np.array([r0]),
        W=df[["m"]].to_numpy(),
        C=df[covariates + controls].to_numpy(),
        D=r[:, None],
        critical_values="f",
    )
    return p


@pytest.mark.parametrize("name", list(DESIGNS))
def test_subvector_ar_direct_effect_against_ivmodels(name):
    est, df = _fit(name)
    covariates, controls = DESIGNS[name]
    s = est.confidence_set("direct", "AR")
    assert s.method == "AR" and est.confidence_set("direct").method == "AR"
    ends = [e for piece in s for e in piece if np.isfinite(e)]
    assert ends
    for e in ends:
        assert _ivmodels_pvalue(df, covariates, controls, e) == pytest.approx(
            0.05, abs=1e-8
        )
    for lo, hi in s:
        inside = est.direct_effect_ if lo <= est.direct_effect_ <= hi else None
        if np.isfinite(lo) and np.isfinite(hi):
            inside = (lo + hi) / 2
        elif np.isfinite(hi):
            inside = hi - 1.0
        elif np.isfinite(lo):
            inside = lo + 1.0
        assert _ivmodels_pvalue(df, covariates, controls, inside) > 0.05
    if name == "trial_weak":
        assert len(s) == 2 and not s.is_bounded


def _brute_unadjusted(df, covariates, controls, r0):
    """min over m0 of n·(RSS_W - RSS_Q)/RSS_Q for y - r0 R - m0 M."""
    n = len(df)
    x = df[covariates].to_numpy()
    r = df["r"].to_numpy()
    w_minus = np.column_stack([np.ones(n), df[covariates + controls].to_numpy()])
    q = np.column_stack([w_minus, r, r[:, None] * (x - x.mean(axis=0))])

    def stat(m0):
        target = df["y"].to_numpy() - r0 * r - m0 * df["m"].to_numpy()
        rss_w = np.sum(
            (target - w_minus @ np.linalg.lstsq(w_minus, target, rcond=None)[0]) ** 2
        )
        rss_q = np.sum((target - q @ np.linalg.lstsq(q, target, rcond=None)[0]) ** 2)
        return n * (rss_w - rss_q) / rss_q

    grid = np.linspace(-50, 50, 2001)
    j = int(np.argmin([stat(m0) for m0 in grid]))
    best = optimize.minimize_scalar(
        stat, bracket=(grid[j - 1], grid[j], grid[j + 1]), tol=1e-12
    )
    return best.fun


def test_subvector_ar_unadjusted_against_brute_force():
    est, df = _fit("trial_binary", "unadjusted")
    covariates, controls = DESIGNS["trial_binary"]
    ((lo, hi),) = est.confidence_set("direct", "AR")
    crit = special.chdtri(len(covariates), 0.05)
    for end in (lo, hi):
        assert _brute_unadjusted(df, covariates, controls, end) == pytest.approx(
            crit, rel=1e-6
        )


def test_indirect_and_proportion_are_bonferroni_combinations():
    est, _ = _fit("trial_binary")
    half = 0.975
    direct = est.confidence_set("direct", "AR", confidence_level=half)
    effects = est.result_.effects
    z = special.ndtri(1 - (1 - half) / 2)
    itt = effects.loc["intention_to_treat"]
    total = [(itt.estimate - z * itt.std_error, itt.estimate + z * itt.std_error)]
    indirect = est.confidence_set("indirect")
    assert indirect.method == "AR"
    assert_allclose(list(indirect), difference_set(total, list(direct)))
    proportion = est.confidence_set("proportion_mediated")
    assert_allclose(list(proportion), one_minus_ratio_set(list(direct), total))
    # the point estimates lie inside
    assert effects.loc["indirect", "estimate"] in indirect
    assert effects.loc["proportion_mediated", "estimate"] in proportion


def test_total_effect_is_the_intention_to_treat_interval():
    est, _ = _fit("trial_binary", "HC1")
    row = est.result_.effects.loc["intention_to_treat"]
    ((lo, hi),) = est.confidence_set("total")
    assert (lo, hi) == (row.lower, row.upper)


def test_proportion_unbounded_when_the_total_effect_may_be_zero():
    rng = np.random.default_rng(3)
    n = 400
    x = rng.normal(size=(n, 2))
    r = rng.integers(0, 2, n).astype(float)
    u = rng.normal(size=n)
    m = r * (1 + x @ [1.0, -0.8]) + u + rng.normal(size=n)
    y = -0.5 * r + 0.5 * m + u + rng.normal(size=n)  # total effect about 0
    X = pd.DataFrame({"r": r, "m": m, "x1": x[:, 0], "x2": x[:, 1]})
    est = IVMediationRegressor(treatment="r", mediator="m", cov_type="classical")
    est.fit(X, y)
    row = est.result_.effects.loc["intention_to_treat"]
    assert row.lower < 0 < row.upper
    assert list(est.confidence_set("proportion_mediated")) == [(-np.inf, np.inf)]
    fieller = est.confidence_set("proportion_mediated", "wald")
    assert not fieller.is_bounded  # the total is not significant: Fieller is unbounded
    lo, hi = est.result_.effects.loc["proportion_mediated", ["lower", "upper"]]
    assert np.isfinite(lo) and np.isfinite(hi)  # where the delta method is not


def test_naive_estimator_and_errors():
    est, _ = _fit("trial_binary", "HC1", NaiveMediationRegressor)
    assert est.confidence_set("mediator").method == "wald"
    with pytest.raises(ValueError, match="need an IV fit"):
        est.confidence_set("mediator", "AR")
    iv, _ = _fit("trial_binary", "HC1")
    with pytest.raises(ValueError, match="effect must be one of"):
        iv.confidence_set("itt")
    with pytest.raises(ValueError, match="intention-to-treat Wald"):
        iv.confidence_set("total", "AR")
    with pytest.raises(TypeError, match="unexpected arguments"):
        iv.confidence_set("mediator", "AR", n_resamples=9)
    # AR for the mediator effect is the Anderson-Rubin set, by either name
    assert list(iv.confidence_set("mediator", "AR")) == (
        iv.anderson_rubin_confidence_set()
    )
    assert list(iv.confidence_set("mediator", "anderson_rubin")) == list(
        iv.confidence_set("mediator", "AR")
    )


def _ivmodels_mediator_pvalue(df, covariates, controls, method, beta):
    from ivmodels.tests import (
        conditional_likelihood_ratio_test,
        lagrange_multiplier_test,
    )

    x = df[covariates].to_numpy()
    r = df["r"].to_numpy()
    z = r[:, None] * (x - x.mean(axis=0))
    args = (z, df[["m"]].to_numpy(), df["y"].to_numpy(), np.array([beta]))
    c = df[covariates + controls + ["r"]].to_numpy()
    if method == "LM":
        return lagrange_multiplier_test(*args, C=c)[1]
    return conditional_likelihood_ratio_test(
        *args, C=c, critical_values="moreira2003conditional"
    )[1]


@pytest.mark.parametrize("method", ["LM", "CLR"])
@pytest.mark.parametrize("name", list(DESIGNS))
def test_lm_and_clr_sets_against_ivmodels(name, method):
    est, df = _fit(name)
    covariates, controls = DESIGNS[name]
    s = est.confidence_set("mediator", method)
    ends = [e for piece in s for e in piece if np.isfinite(e)]
    assert ends
    for e in ends:
        p = _ivmodels_mediator_pvalue(df, covariates, controls, method, e)
        assert p == pytest.approx(0.05, abs=1e-7)
    for lo, hi in s:
        if np.isfinite(lo) and np.isfinite(hi):
            p = _ivmodels_mediator_pvalue(
                df, covariates, controls, method, (lo + hi) / 2
            )
            assert p > 0.05
    # between two pieces the test rejects
    for (_, hi), (lo, _) in zip(list(s)[:-1], list(s)[1:], strict=True):
        p = _ivmodels_mediator_pvalue(df, covariates, controls, method, (hi + lo) / 2)
        assert p < 0.05


def test_clr_is_the_default_for_every_cov_type():
    est, _ = _fit("trial_binary")
    assert est.confidence_set("mediator").method == "CLR"
    robust, _ = _fit("trial_binary", "HC1")
    assert robust.confidence_set("mediator").method == "CLR"


def test_clr_critical_value():
    """Between the χ²(1) and χ²(k) quantiles, and the simulated law of LR."""
    from skmediate._numerics.weakiv import clr_critical_value

    k = 3
    assert clr_critical_value(1e-9, k, 0.95) == pytest.approx(
        special.chdtri(k, 0.05), rel=1e-6
    )
    assert clr_critical_value(1e7, k, 0.95) == pytest.approx(
        special.chdtri(1, 0.05), rel=1e-4
    )
    rng = np.random.default_rng(1)
    q1, qk = rng.chisquare(1, 400_000), rng.chisquare(k - 1, 400_000)
    for q in (0.5, 5.0, 30.0):
        lr = 0.5 * (q1 + qk - q + np.sqrt((q1 + qk + q) ** 2 - 4 * qk * q))
        c = clr_critical_value(q, k, 0.95)
        # the share above the critical value is 5% to Monte Carlo error
        assert np.mean(lr > c) == pytest.approx(0.05, abs=4 * np.sqrt(0.0475 / 4e5))


def test_summary_shows_every_effects_sets_with_a_verdict():
    est, _ = _fit("trial_weak")
    text = est.summary().as_text()
    block = text[text.index("confidence sets: Wald | recommended") :]
    for effect in ("direct", "mediator", "indirect", "total", "proportion_mediated"):
        assert f"  {effect}" in block
    assert "(CLR)" in block and "(AR)" in block
    # weak instruments: the robust sets are unbounded, and the summary says so
    # (the notes wrap within 78 characters)
    assert max(len(line) for line in block.splitlines()) <= 78
    assert " ".join(block.split()).count("the data cannot bound this effect") == 4
    strong, _ = _fit("trial_clustered")
    block = strong.summary().as_text()
    block = block[block.index("confidence sets: Wald | recommended") :]
    assert "cannot bound" not in block.split("Diagnostics")[0]


def test_command_line_reports_every_effects_sets(tmp_path, capsys):
    from skmediate._report.cli import main

    est, df = _fit("trial_weak")
    path = tmp_path / "weak.csv"
    df.to_csv(path, index=False)
    args = ["analyze", str(path), "--outcome", "y", "--treatment", "r"]
    args += ["--mediator", "m", "--covariates", "x1", "x2", "--cov-type", "classical"]
    assert main([*args, "--format", "json"]) == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    rows = {row["effect"]: row for row in doc["confidence_sets"]}
    assert list(rows) == [
        "direct",
        "mediator",
        "indirect",
        "total",
        "proportion_mediated",
    ]
    for effect, row in rows.items():
        best = est.confidence_set(effect)
        assert row["method"] == best.method
        got = [[float(v) for v in piece] for piece in row["intervals"]]
        assert_allclose(
            np.array(got).reshape(-1, 2), np.array(list(best)).reshape(-1, 2)
        )
        assert row["verdict"] == est.result_.set_verdict(effect, best)
    assert rows["mediator"]["verdict"] == "unbounded"
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "Confidence sets for every effect" in text
    # the table wraps its widest columns within 100 characters; its notes,
    # read down the Note column, say the sets are unbounded
    section = text[text.index("Confidence sets for every effect") :]
    table = section[section.index("Effect") : section.index("Robust sets:")]
    table = table.splitlines()
    assert max(map(len, table)) <= 100
    column = table[0].index("Note")
    notes = " ".join(" ".join(line[column:] for line in table[2:]).split())
    assert (
        notes.count("the robust set is unbounded: the data cannot bound this effect")
        == 4
    )


# -- the projection of the joint Anderson-Rubin set (robust covariances) ------


def _joint_quadric_projection(df, covariates, controls, level):
    """The classical joint AR set of (θ_R, θ_M) projected on θ_R, by hand.

    ``W(r, m) <= c`` is ``vᵀKv <= 0`` with ``v = (1, -r, -m)`` and ``K`` from
    the cross-products of ``[y, R, M]`` explained by ``[R, R·X]`` after
    ``[1, X, Z]`` and left by all instruments; minimizing over ``m`` leaves a
    quadratic inequality in ``r``.
    """
    n = len(df)
    base = np.column_stack([np.ones(n), df[covariates + controls].to_numpy()])
    interactions = df[covariates].to_numpy() * df[["r"]].to_numpy()
    q = np.column_stack([base, df["r"], interactions])
    big = np.column_stack([df["y"], df["r"], df["m"]])

    def resid(design, v):
        return v - design @ np.linalg.lstsq(design, v, rcond=None)[0]

    e_base, e_q = resid(base, big), resid(q, big)
    explained = e_base.T @ e_base - e_q.T @ e_q
    l_dim = q.shape[1]
    n_excl = 1 + len(covariates)
    crit = special.fdtri(n_excl, n - l_dim, level) * n_excl
    k = explained - crit / (n - l_dim) * (e_q.T @ e_q)
    if k[2, 2] <= 0:
        return [(-np.inf, np.inf)]
    q2 = k[1, 1] * k[2, 2] - k[1, 2] ** 2
    q1 = -2 * k[0, 1] * k[2, 2] + 2 * k[0, 2] * k[1, 2]
    q0 = k[0, 0] * k[2, 2] - k[0, 2] ** 2
    roots = np.sort(np.roots([q2, q1, q0]).real)
    assert q2 > 0  # a bounded interval on these designs
    return [(roots[0], roots[1])]


@pytest.mark.parametrize("name", ["trial_binary", "trial_clustered"])
def test_projection_equals_the_classical_quadric(name):
    from skmediate._numerics.projection import projection_ar_set

    est, df = _fit(name, "classical")
    covariates, controls = DESIGNS[name]
    got = projection_ar_set(est.result_.anderson_rubin_moments, 0.95)
    want = _joint_quadric_projection(df, covariates, controls, 0.95)
    assert_allclose(np.array(got), np.array(want), rtol=1e-8)
    # the subvector set, with p instead of p + 1 degrees of freedom, is inside
    ((lo, hi),) = est.confidence_set("direct", "AR")
    assert got[0][0] < lo and hi < got[0][1]


def _robust_joint_statistic(est, df, covariates, controls, cov_type):
    """``W(r, m)`` from statsmodels: the robust Wald test of ``[R, R·X]`` in the
    regression of ``y - rR - mM`` on all instruments (vectorized over ``m``).

    ``cov_type`` is ``"HC1"`` or ``"HC3"`` (each row's residual divided by
    ``1 - h``, ``h`` its leverage in that regression, read off statsmodels)."""
    import statsmodels.api as sm

    n = len(df)
    q = np.column_stack(
        [
            np.ones(n),
            df[covariates + controls].to_numpy(),
            df["r"],
            df[covariates].to_numpy() * df[["r"]].to_numpy(),
        ]
    )
    fits = [sm.OLS(df[v].to_numpy(), q).fit(cov_type=cov_type) for v in ("y", "r", "m")]
    excl = slice(q.shape[1] - 1 - len(covariates), q.shape[1])
    coefs = [f.params[excl] for f in fits]
    # the robust covariance of a - m b: scores of the residual e_y - m e_M
    bread = np.linalg.inv(q.T @ q)
    ey, em = fits[0].resid, fits[2].resid
    factor = n / (n - q.shape[1]) if cov_type == "HC1" else 1.0
    scale = 1.0
    if cov_type == "HC3":
        scale = 1.0 / (1.0 - fits[0].get_influence().hat_matrix_diag)

    def statistic(r0, m):
        m = np.atleast_1d(m)
        out = np.empty(m.size)
        for i, mi in enumerate(m):
            e = (ey - mi * em) * scale
            meat = (q * e[:, None]).T @ (q * e[:, None]) * factor
            v = (bread @ meat @ bread)[excl, excl]
            pi = coefs[0] - r0 * coefs[1] - mi * coefs[2]
            out[i] = pi @ np.linalg.solve(v, pi)
        return out

    return statistic


def _admitted(statistic, r0, crit, span=80.0):
    """Whether some ``m`` has ``W(r0, m) <= crit`` (grid, then a local minimum)."""
    ms = np.linspace(-span, span, 1601)
    values = statistic(r0, ms)
    i = int(np.argmin(values))
    lo, hi = ms[max(i - 1, 0)], ms[min(i + 1, ms.size - 1)]
    best = optimize.minimize_scalar(
        lambda m: statistic(r0, m)[0],
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-12},
    )
    return min(best.fun, values[i]) <= crit


def _weak_frame(seed=0):
    rng = np.random.default_rng(seed)
    n = 300
    x = rng.normal(size=(n, 2))
    r = rng.integers(0, 2, n).astype(float)
    u = rng.normal(size=n)
    m = r * (0.8 + x @ [0.25, -0.1]) + u + rng.normal(size=n)
    y = 1 + x.sum(axis=1) + 0.5 * r + m + u + rng.normal(size=n) * (1 + r)
    return pd.DataFrame({"r": r, "m": m, "x1": x[:, 0], "x2": x[:, 1], "y": y})


@pytest.mark.parametrize("ar_meat, meat", [("leverage", "HC3"), ("fit", "HC1")])
@pytest.mark.parametrize("case", ["bounded", "half_lines"])
def test_robust_projection_against_brute_force(case, ar_meat, meat):
    """Each finite end of the projection of an HC1 fit (with the default HC3
    meat of the Anderson–Rubin statistic, and with the fit's HC1) separates
    admitted from rejected values of θ_R, by a brute-force minimization of the
    statsmodels statistic."""
    if case == "bounded":
        est, df = _fit("trial_binary", "HC1", ar_meat=ar_meat)
        covariates, controls = DESIGNS["trial_binary"]
    else:
        df = _weak_frame()
        covariates, controls = ["x1", "x2"], []
        est = IVMediationRegressor(
            treatment="r", mediator="m", cov_type="HC1", ar_meat=ar_meat
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(df[["r", "m", "x1", "x2"]], df["y"])
    got = est.confidence_set("direct")
    assert got.method == "AR"  # the default for robust covariances
    if case == "bounded":
        assert got.is_bounded and len(got) == 1
    else:
        assert len(got) == 2 and not got.is_bounded
    statistic = _robust_joint_statistic(est, df, covariates, controls, meat)
    k = 1 + len(covariates)
    crit = special.chdtri(k, 0.05)
    if ar_meat == "leverage":  # compared with (p + 1) F(p + 1, n - l)
        n_inst = 2 + 2 * len(covariates) + len(controls)
        crit = k * special.fdtri(k, len(df) - n_inst, 0.95)
    ends = [e for piece in got for e in piece if np.isfinite(e)]
    for end in ends:
        step = 1e-6 * (1 + abs(end))
        inside = [end - step, end + step]
        flags = [_admitted(statistic, v, crit) for v in inside]
        assert flags[0] != flags[1]
        assert all(f == (v in got) for f, v in zip(flags, inside, strict=True))


def test_robust_indirect_and_proportion_use_the_projection():
    from skmediate._numerics.projection import projection_ar_set

    est, _ = _fit("trial_binary", "HC1")
    direct = projection_ar_set(est.result_.anderson_rubin_moments, 0.975)
    row = est.result_.effects_at(0.975).loc["intention_to_treat"]
    total = [(row["lower"], row["upper"])]
    assert_allclose(list(est.confidence_set("indirect")), difference_set(total, direct))
    assert_allclose(
        list(est.confidence_set("proportion_mediated")),
        one_minus_ratio_set(direct, total),
    )
