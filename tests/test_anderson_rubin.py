"""Anderson-Rubin confidence sets, inverted exactly for every covariance type.

Checks and tolerances:

- homoskedastic sets against the brute-force reference in
  ``tests/reference/anderson_rubin.json`` (grid + bisection of the F statistic
  from numpy least squares, see ``anderson_rubin_reference.py``) to 1e-8
  relative, and against a direct grid classification here;
- robust sets (HC0, HC1, cluster with ``ar_meat="fit"``; HC1 and cluster
  fits with the default leverage-adjusted meat, HC3 and CR3): at every finite
  end the robust Wald statistic of statsmodels' regression of ``y - θ₀m`` on
  the instruments (for CR3 that regression's residuals, multiplied per
  cluster by an explicit ``(I - H_gg)⁻¹``) equals the critical value to 1e-7
  relative, and bisection with that statistic from the library's end lands
  on the same end to 1e-8 relative; the statistic itself equals statsmodels'
  on a grid of ``θ₀`` to 1e-9 relative;
- the robust inversion (roots of a quadratic matrix polynomial) reproduces
  the exact quadratic solution to 1e-10 relative when given the homoskedastic
  covariance, for every shape of set, and every robust set agrees with a
  brute-force classification of a fine grid (excluding points within 1e-7 of
  an end).
"""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from skmediate import IVMediationRegressor, NaiveMediationRegressor
from skmediate._numerics.weakiv import (
    anderson_rubin_moments,
    anderson_rubin_set,
    anderson_rubin_test,
    critical_value,
)

from .conftest import fit_arrays, simulate_trial

REFERENCE = Path(__file__).parent / "reference"
pytestmark = pytest.mark.filterwarnings("ignore::skmediate.WeakInstrumentWarning")


def _load(name):
    data = pd.read_csv(REFERENCE / f"{name}.csv")
    covariates = [c for c in data.columns if c.startswith("x")]
    controls = [c for c in data.columns if c == "z"] or None
    groups = data["cluster"].to_numpy() if "cluster" in data else None
    roles = dict(treatment="r", mediator="m", covariates=covariates, controls=controls)
    return data, data["y"], roles, groups


def _decode(value):
    return {"inf": np.inf, "-inf": -np.inf}.get(value, value)


REFERENCE_SETS = json.loads((REFERENCE / "anderson_rubin.json").read_text())["sets"]


@pytest.mark.parametrize(
    "case",
    REFERENCE_SETS,
    ids=lambda c: f"{c['dataset']}-{c['cov_type']}-{c['confidence_level']}",
)
def test_homoskedastic_set_matches_saved_reference(case):
    data, y, roles, _ = _load(case["dataset"])
    est = IVMediationRegressor(**roles, cov_type=case["cov_type"]).fit(data, y)
    got = est.anderson_rubin_confidence_set(case["confidence_level"])
    expected = [tuple(_decode(v) for v in pair) for pair in case["intervals"]]
    assert len(got) == len(expected)
    for (lo, hi), (elo, ehi) in zip(got, expected, strict=True):
        for a, b in ((lo, elo), (hi, ehi)):
            if np.isinf(b):
                assert a == b
            else:
                assert a == pytest.approx(b, rel=1e-8)


def _ar_f(data, roles, theta, cov_type="classical"):
    """F statistic of the excluded instruments in y - θ m on Q, from statsmodels."""
    w, q = _matrices(data, roles)
    target = data["y"] - theta * data["m"]
    full = sm.OLS(target, q).fit()
    restricted = sm.OLS(target, w).fit()
    f_value, p_value, _ = full.compare_f_test(restricted)
    return f_value, p_value


def _matrices(data, roles):
    x = data[roles["covariates"]]
    controls = (
        data[roles["controls"]] if roles["controls"] else pd.DataFrame(index=data.index)
    )
    w = pd.concat(
        [pd.Series(1.0, index=data.index, name="const"), x, controls, data["r"]], axis=1
    )
    z = (x - x.mean()).mul(data["r"], axis=0).add_prefix("r:")
    return w, pd.concat([w, z], axis=1)


@pytest.mark.parametrize("name", ["trial_binary", "trial_weak"])
def test_homoskedastic_set_matches_a_direct_grid(name):
    data, y, roles, _ = _load(name)
    est = IVMediationRegressor(**roles, cov_type="classical").fit(data, y)
    pieces = est.anderson_rubin_confidence_set(0.9)
    p = len(roles["covariates"])
    n_inst = 2 + p + (1 if roles["controls"] else 0) + p
    critical = stats.f.ppf(0.9, p, len(y) - n_inst)
    finite = [v for piece in pieces for v in piece if np.isfinite(v)]
    span = max(abs(v) for v in finite) if finite else 10.0
    for theta in np.linspace(-3 * span, 3 * span, 301):
        if finite and min(abs(theta - v) for v in finite) < 1e-6 * span:
            continue
        inside = any(lo <= theta <= hi for lo, hi in pieces)
        assert inside == (_ar_f(data, roles, theta)[0] <= critical)
    # The statistic equals the critical value at every finite end.
    for end in finite:
        assert _ar_f(data, roles, end)[0] == pytest.approx(critical, rel=1e-7)


def test_ar_test_matches_the_f_test():
    data, y, roles, _ = _load("trial_binary")
    est = IVMediationRegressor(**roles, cov_type="classical").fit(data, y)
    for theta in (-4.0, 0.0, 2.5):
        stat, pvalue = anderson_rubin_test(est.result_.anderson_rubin_moments, theta)
        f_value, p_value = _ar_f(data, roles, theta)
        assert stat == pytest.approx(f_value, rel=1e-8)
        assert pvalue == pytest.approx(p_value, rel=1e-8)


def _cr3_cov(q, resid, groups):
    """The CR3 covariance of least squares coefficients, by explicit inverses."""
    bread = np.linalg.inv(q.T @ q)
    meat = np.zeros_like(bread)
    for g in np.unique(groups):
        rows = groups == g
        qg = q[rows]
        adjusted = np.linalg.solve(np.eye(qg.shape[0]) - qg @ bread @ qg.T, resid[rows])
        s = qg.T @ adjusted
        meat += np.outer(s, s)
    return bread @ meat @ bread


def _robust_wald(data, roles, theta, cov_type, groups):
    """The robust Wald statistic of the interactions in ``y - θm`` on ``Q``
    (``cov_type`` a statsmodels type, ``"cluster"`` or ``"CR3"``)."""
    _, q = _matrices(data, roles)
    target = data["y"] - theta * data["m"]
    names = [c for c in q.columns if c.startswith("r:")]
    if cov_type == "CR3":
        fit = sm.OLS(target, q).fit()
        cov = _cr3_cov(q.to_numpy(), fit.resid.to_numpy(), groups)
        cols = [q.columns.get_loc(c) for c in names]
        b = fit.params[names].to_numpy()
        return float(b @ np.linalg.solve(cov[np.ix_(cols, cols)], b))
    if cov_type == "cluster":
        fit = sm.OLS(target, q).fit(
            cov_type="cluster", cov_kwds={"groups": groups, "use_correction": True}
        )
    else:
        fit = sm.OLS(target, q).fit(cov_type=cov_type)
    b = fit.params[names].to_numpy()
    v = fit.cov_params().loc[names, names].to_numpy()
    return float(b @ np.linalg.solve(v, b))


# (data set, the fit's cov_type, ar_meat, the reference's covariance)
ROBUST_CASES = [
    ("trial_binary", "HC1", "fit", "HC1"),
    ("trial_binary", "HC0", "fit", "HC0"),
    ("trial_binary", "HC1", "leverage", "HC3"),
    ("trial_binary", "HC0", "leverage", "HC3"),
    ("trial_weak", "HC1", "leverage", "HC3"),
    ("trial_clustered", "HC1", "leverage", "HC3"),
    ("trial_clustered", "cluster", "fit", "cluster"),
    ("trial_clustered", "cluster", "leverage", "CR3"),
]


def _robust_fit(name, cov_type, ar_meat):
    data, y, roles, groups = _load(name)
    est = IVMediationRegressor(**roles, cov_type=cov_type, ar_meat=ar_meat).fit(
        data, y, groups=groups if cov_type == "cluster" else None
    )
    return est, data, roles, groups


@pytest.mark.parametrize("name, cov_type, ar_meat, reference", ROBUST_CASES)
def test_robust_statistic_matches_statsmodels_on_a_grid(
    name, cov_type, ar_meat, reference
):
    est, data, roles, groups = _robust_fit(name, cov_type, ar_meat)
    moments = est.result_.anderson_rubin_moments
    assert moments.meat == reference
    p = len(roles["covariates"])
    # the leverage meat: W/p against F(p, n - l); with clusters Hotelling's T²
    # with G - 1 degrees of freedom, W (G - p)/(p (G - 1)) against F(p, G - p)
    scale = 1.0 / p
    if ar_meat == "leverage":
        n_inst = 2 + 2 * p + (1 if roles["controls"] else 0)
        df = len(data) - n_inst
        if cov_type == "cluster":
            g = len(np.unique(groups))
            df, scale = g - p, (g - p) / (p * (g - 1))
        assert moments.f_df == df
    else:
        assert moments.f_df is None
    for theta in np.linspace(-6.0, 6.0, 25):
        got, pvalue = anderson_rubin_test(moments, theta)
        want = _robust_wald(data, roles, theta, reference, groups)
        if ar_meat == "leverage":
            assert got == pytest.approx(want * scale, rel=1e-9)
            assert pvalue == pytest.approx(stats.f.sf(want * scale, p, df), rel=1e-7)
        else:
            assert got == pytest.approx(want, rel=1e-9)
            assert pvalue == pytest.approx(stats.chi2.sf(want, p), rel=1e-7)


@pytest.mark.parametrize("name, cov_type, ar_meat, reference", ROBUST_CASES)
@pytest.mark.parametrize("level", [0.5, 0.95])
def test_robust_set_ends_are_roots_of_the_robust_wald_statistic(
    name, cov_type, ar_meat, reference, level
):
    est, data, roles, groups = _robust_fit(name, cov_type, ar_meat)
    pieces = est.anderson_rubin_confidence_set(level)
    p = len(roles["covariates"])
    critical = stats.chi2.ppf(level, p)
    if ar_meat == "leverage" and cov_type == "cluster":  # Hotelling's T², G - 1
        g = len(np.unique(groups))
        critical = p * (g - 1) / (g - p) * stats.f.ppf(level, p, g - p)
    elif ar_meat == "leverage":
        n_inst = 2 + 2 * p + (1 if roles["controls"] else 0)
        critical = p * stats.f.ppf(level, p, len(data) - n_inst)

    def excess(theta):
        return _robust_wald(data, roles, theta, reference, groups) - critical

    ends = [v for piece in pieces for v in piece if np.isfinite(v)]
    for lo, hi in pieces:  # accepted inside
        probe = (lo + hi) / 2 if np.isfinite(lo) and np.isfinite(hi) else None
        if probe is None:
            probe = (hi - 1.0) if np.isfinite(hi) else (lo + 1.0)
        if not np.isfinite(probe):
            probe = 0.0
        assert excess(probe) <= 0
    for end in ends:
        assert excess(end) == pytest.approx(0.0, abs=1e-7 * critical)
        # Bisection with statsmodels' statistic from a bracket around the end.
        width = 1e-5 * max(1.0, abs(end))
        lo, hi = end - width, end + width
        f_lo = excess(lo)
        assert f_lo * excess(hi) < 0
        for _ in range(20):  # bracket 2e-5 relative -> 2e-11 relative
            mid = 0.5 * (lo + hi)
            if excess(mid) * f_lo > 0:
                lo = mid
            else:
                hi = mid
        assert end == pytest.approx(0.5 * (lo + hi), rel=1e-8, abs=1e-12)


def _problem(strength, seed, n=400, p=3, invalid=0.0, cov_type="classical"):
    rng = np.random.default_rng(seed)
    r = rng.integers(0, 2, n).astype(float)
    x = rng.normal(size=(n, p))
    u = rng.normal(size=n)
    m = r * (0.3 + x @ np.full(p, strength)) + u + rng.normal(size=n)
    z = r[:, None] * (x - x.mean(axis=0))
    y = 1 + x.sum(axis=1) - r + 2 * m + 1.5 * u + invalid * z[:, 0] + rng.normal(size=n)
    return fit_arrays(r, m, x, y, cov_type=cov_type, groups=rng.integers(0, 40, n))


SHAPES = {
    "interval": dict(strength=0.5, seed=0),
    "two_half_lines": dict(strength=0.1, seed=3),
    "whole_line": dict(strength=0.0, seed=1),
    "empty": dict(strength=0.5, seed=2, invalid=3.0),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_robust_inversion_reproduces_the_exact_quadratic(shape):
    """Fed the homoskedastic covariance, the robust inversion gives the quadratic's set.

    In the orthonormal coordinates of the moments the unadjusted covariance of
    the reduced-form coefficients is ``(Σ/n) ⊗ I_p`` with ``Σ`` the residual
    sums of squares and products, and both use ``χ²(p)``.
    """
    moments = anderson_rubin_moments(_problem(**SHAPES[shape], cov_type="unadjusted"))
    exact = anderson_rubin_set(moments, 0.95)
    expected_pieces = {"interval": 1, "two_half_lines": 2, "whole_line": 1, "empty": 0}
    assert len(exact) == expected_pieces[shape]
    if shape == "whole_line":
        assert exact == [(-np.inf, np.inf)]
    if shape == "two_half_lines":
        assert exact[0][0] == -np.inf and exact[1][1] == np.inf
    p = moments.n_instruments
    robust = dataclasses.replace(
        moments,
        cov_type="HC0",
        cov=np.kron(moments.resid_ss / moments.nobs, np.eye(p)),
    )
    assert critical_value(robust, 0.95) == critical_value(moments, 0.95)
    inverted = anderson_rubin_set(robust, 0.95)
    assert len(inverted) == len(exact)
    for (a, b), (c, d) in zip(inverted, exact, strict=True):
        assert a == pytest.approx(c, rel=1e-10) if np.isfinite(c) else a == c
        assert b == pytest.approx(d, rel=1e-10) if np.isfinite(d) else b == d


def test_empty_set_means_the_overidentifying_restrictions_fail():
    model = _problem(**SHAPES["empty"])
    moments = anderson_rubin_moments(model)
    assert anderson_rubin_set(moments, 0.95) == []
    # Empty exactly when even the LIML direction is rejected.
    p = moments.n_instruments
    critical = stats.f.isf(0.05, p, moments.df_resid) * p / moments.df_resid
    assert model.liml_kappa - 1 > critical


def _brute_force(moments, pieces, level):
    """Every point of a fine grid is in the set exactly when the test accepts it."""
    c = critical_value(moments, level)
    finite = [v for piece in pieces for v in piece if np.isfinite(v)]
    span = max([1.0, *(abs(v) for v in finite)])
    grid = np.concatenate(
        [
            np.linspace(-20 * span, 20 * span, 6001),
            span * np.tan(np.linspace(-1.57, 1.57, 1001)),
        ]
    )
    for theta in grid:
        if finite and min(abs(theta - v) for v in finite) < 1e-7 * span:
            continue
        stat, _ = anderson_rubin_test(moments, theta)
        # an F statistic against its F(p, f_df) quantile, else W against c
        accepted = stat <= (
            stats.f.ppf(level, moments.n_instruments, moments.f_df)
            if moments.f_df is not None
            else c
        )
        assert accepted == any(lo <= theta <= hi for lo, hi in pieces), theta


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("cov_type", ["HC1", "cluster"])
def test_robust_sets_agree_with_a_fine_grid(shape, cov_type):
    moments = anderson_rubin_moments(_problem(**SHAPES[shape], cov_type=cov_type))
    for level in (0.5, 0.95):
        _brute_force(moments, anderson_rubin_set(moments, level), level)


def test_levels_nest_and_default_level():
    data, y, roles, _ = _load("trial_binary")
    est = IVMediationRegressor(**roles, confidence_level=0.9).fit(data, y)
    assert est.anderson_rubin_confidence_set() == est.anderson_rubin_confidence_set(0.9)
    (lo90, hi90), (lo99, hi99) = (
        est.anderson_rubin_confidence_set(0.9)[0],
        est.anderson_rubin_confidence_set(0.99)[0],
    )
    assert lo99 < lo90 < hi90 < hi99
    with pytest.raises(ValueError, match="confidence_level must be in"):
        est.anderson_rubin_confidence_set(1.5)


def test_no_excluded_instrument_is_a_clear_error():
    rng = np.random.default_rng(0)
    n = 100
    r = np.arange(n) % 2.0
    ols = fit_arrays(
        r,
        rng.normal(size=n),
        rng.normal(size=n),
        rng.normal(size=n),
        instrumented=False,
    )
    with pytest.raises(ValueError, match="needs at least one excluded instrument"):
        anderson_rubin_moments(ols)
    X, y, _ = simulate_trial(n=200, seed=1)
    naive = NaiveMediationRegressor(treatment="r", mediator="m").fit(X, y)
    assert not hasattr(naive, "anderson_rubin_confidence_set")
    with pytest.raises(ValueError, match="needs excluded instruments"):
        naive.result_.anderson_rubin_set()


def test_summary_shows_both_sets_and_says_when_they_disagree():
    data, y, roles, _ = _load("trial_weak")
    weak = IVMediationRegressor(**roles).fit(data, y)
    text = weak.summary().as_text()
    assert "Anderson-Rubin:" in text and "Wald (IV-2SLS):" in text
    assert "-inf" in text and "unbounded" in text

    data, y, roles, _ = _load("trial_binary")
    binary = IVMediationRegressor(**roles).fit(data, y)
    eff = binary.first_stage_.effective_f
    assert eff.statistic < eff.critical_value
    assert "disagree because the instruments are weak" in binary.summary()

    data, y, roles, groups = _load("trial_clustered")
    strong = IVMediationRegressor(**roles).fit(data, y)
    assert "The Wald interval and the Anderson-Rubin set agree." in strong.summary()
