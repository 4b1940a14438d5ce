"""Kleibergen's robust K (LM) and conditional likelihood ratio sets for the mediator effect.

Checks and tolerances:

- the statistics ``AR``, ``K``, ``r`` and ``LR`` against a direct numpy
  computation from the raw rows (reduced forms by least squares on all
  instruments, sandwich covariances with each type's small-sample factor and
  leverage adjustment, the statistics in the original coordinates of ``θ``),
  to 1e-9 relative, at finite values and in the limit ``θ → ±∞``; and the
  closed form ``AR + r = [a, b]ᵀ V⁻¹ [a, b]`` at every ``θ``;
- every finite end of a K and a CLR set: the raw statistic equals the critical
  value there (K: 1e-7 relative; CLR: the conditional law's probability at
  ``LR`` equals the level to 1e-9), bisection with the raw statistic from a
  bracket around the end lands on it to 1e-8 relative, and a fine grid of
  the raw statistic (20 000 points and an arctangent grid reaching ±∞)
  classifies every point as the set does (points within 1e-7 of an end are
  skipped);
- with one instrument the inversion on the circle (whose polynomial then has
  exact double roots) gives the robust Anderson–Rubin set to 1e-9 relative,
  and the public sets are that set itself;
- fed the homoskedastic covariance ``Ω ⊗ I``, the robust sets equal the
  homoskedastic ``lm_set`` and ``clr_set`` to 1e-9 relative;
- :func:`clr_cdf` against adaptive quadrature of the conditional law to 1e-11.
"""

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special

from skmediate import IVMediationRegressor
from skmediate._numerics.kleibergen import (
    _k_critical,
    _lm_pieces,
    kleibergen_statistics,
    robust_clr_defined,
    robust_clr_set,
    robust_lm_set,
)
from skmediate._numerics.weakiv import (
    anderson_rubin_moments,
    anderson_rubin_set,
    clr_cdf,
    clr_critical_value,
    clr_set,
    critical_value,
    lm_set,
)

from .conftest import fit_arrays

pytestmark = pytest.mark.filterwarnings("ignore::skmediate.WeakInstrumentWarning")


def _draw(strength, seed, n=300, p=3, heteroskedastic=True, n_clusters=40):
    rng = np.random.default_rng(seed)
    r = rng.integers(0, 2, n).astype(float)
    x = rng.normal(size=(n, p))
    u = rng.normal(size=n)
    m = r * (0.3 + x @ np.full(p, strength)) + u + rng.normal(size=n)
    noise = rng.normal(size=n)
    if heteroskedastic:
        noise = noise * (0.25 + 2 * np.abs(x[:, 0]))
    y = 1 + x.sum(axis=1) - r + 2 * m + 1.5 * u + noise
    return dict(r=r, m=m, x=x, y=y, groups=rng.integers(0, n_clusters, n))


def _fit(data, cov_type):
    """The fit with the Anderson-Rubin meat of its own ``cov_type``, which the raw
    statistics below reproduce (the default HC3/CR3 meat is another covariance)."""
    groups = data["groups"] if cov_type in ("cluster", "CR0", "CR2") else None
    return fit_arrays(
        data["r"],
        data["m"],
        data["x"],
        data["y"],
        cov_type=cov_type,
        groups=groups,
        ar_meat="fit",
    )


class RawStatistics:
    """The robust statistics from the rows, in the original coordinates of ``θ``."""

    def __init__(self, data, cov_type):
        r, x = data["r"], data["x"]
        n, p = x.shape
        w = np.column_stack([np.ones(n), x, r])
        z = r[:, None] * (x - x.mean(axis=0))
        q = np.column_stack([w, z])
        ys = np.column_stack([data["y"], data["m"]])
        resid = ys - q @ np.linalg.lstsq(q, ys, rcond=None)[0]
        zt = z - w @ np.linalg.lstsq(w, z, rcond=None)[0]  # Frisch-Waugh-Lovell
        bread = np.linalg.inv(zt.T @ zt)
        coef = bread @ zt.T @ ys  # p x 2
        l_inst = q.shape[1]
        hat = np.einsum("ij,jk,ik->i", q, np.linalg.inv(q.T @ q), q)
        factor = 1.0
        scale = np.ones(n)
        if cov_type == "HC1":
            factor = n / (n - l_inst)
        elif cov_type == "HC2":
            scale = (1 - hat) ** -0.5
        elif cov_type == "HC3":
            scale = (1 - hat) ** -1.0
        scores = np.concatenate(
            [
                zt * (resid[:, [0]] * scale[:, None]),
                zt * (resid[:, [1]] * scale[:, None]),
            ],
            axis=1,
        )
        if cov_type in ("cluster", "CR0"):
            groups = data["groups"]
            labels = np.unique(groups)
            scores = np.array([scores[groups == g].sum(axis=0) for g in labels])
            g = len(labels)
            if cov_type == "cluster":
                factor = g / (g - 1) * (n - 1) / (n - l_inst)
        big_bread = np.kron(np.eye(2), bread)
        self.cov = factor * big_bread @ (scores.T @ scores) @ big_bread
        self.a, self.b = coef[:, 0], coef[:, 1]
        self.p = p

    def at(self, theta):
        """``(AR, K, r, LR)`` at ``θ`` (``±inf``: the limit, in ``1/θ`` coordinates)."""
        return tuple(s[0] for s in self.many(np.array([theta], dtype=float)))

    def many(self, thetas):
        """``(AR, K, r, LR)``, each an array over ``thetas``."""
        p, v = self.p, self.cov
        vyy, vym, vmy, vmm = v[:p, :p], v[:p, p:], v[p:, :p], v[p:, p:]
        t = np.where(np.isinf(thetas), 0.0, thetas)[:, None, None]
        inf = np.isinf(thetas)[:, None]
        # finite θ: f = a - θb, q = -b; θ = ±∞ (in 1/θ): f = -b, q = a
        f = np.where(inf, -self.b, self.a - t[:, :, 0] * self.b)
        q = np.where(inf, self.a, -self.b)
        big = inf[:, :, None]
        vff = np.where(big, vmm, vyy - t * (vym + vmy) + t**2 * vmm)
        vqf = np.where(big, -vym, -(vmy - t * vmm))
        vqq = np.where(big, vyy, vmm)
        vf = np.linalg.solve(vff, f[..., None])[..., 0]
        d = q - np.einsum("mab,mb->ma", vqf, vf)
        vd = np.linalg.solve(vff, d[..., None])[..., 0]
        ar = np.einsum("ma,ma->m", f, vf)
        k = np.einsum("ma,ma->m", d, vf) ** 2 / np.einsum("ma,ma->m", d, vd)
        cond = vqq - vqf @ np.linalg.solve(vff, np.swapaxes(vqf, 1, 2))
        r = np.einsum("ma,ma->m", d, np.linalg.solve(cond, d[..., None])[..., 0])
        lr = 0.5 * (ar - r + np.sqrt((ar - r) ** 2 + 4 * k * r))
        return ar, k, r, lr


COV_TYPES = ["HC0", "HC1", "HC2", "HC3", "cluster", "CR0"]


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_statistics_match_the_raw_computation(cov_type):
    data = _draw(0.2, 4)
    raw = RawStatistics(data, cov_type)
    moments = anderson_rubin_moments(_fit(data, cov_type))
    # (the raw form of r cancels like θ² ε: moderate |θ| here, and θ = ±∞ exactly)
    thetas = np.array([-300.0, -7.0, -0.3, 0.0, 1.5, 2.0, 33.0, 1e3, np.inf])
    got = kleibergen_statistics(moments, thetas)
    expected = np.array([raw.at(t) for t in thetas])
    np.testing.assert_allclose(np.array(raw.many(thetas)).T, expected, rtol=1e-12)
    for j, name in enumerate(["ar", "k", "r", "lr"]):
        np.testing.assert_allclose(
            getattr(got, name), expected[:, j], rtol=1e-9, atol=1e-12, err_msg=name
        )
    # the robust form of "Q_S + Q_T is the same at every θ"
    x = np.concatenate([raw.a, raw.b])
    total = x @ np.linalg.solve(raw.cov, x)
    np.testing.assert_allclose(expected[:, 0] + expected[:, 2], total, rtol=1e-9)


CASES = {
    "strong": dict(strength=0.5, seed=0),
    "weak": dict(strength=0.1, seed=3),
    "weaker": dict(strength=0.15, seed=11),
    "several_pieces": dict(strength=0.2, seed=5, p=2),
    "unidentified": dict(strength=0.0, seed=1),
    "two_half_lines": dict(strength=0.05, seed=7, p=2),
    "five": dict(strength=0.1, seed=3, p=5),
}


def _grid(pieces):
    finite = [v for piece in pieces for v in piece if np.isfinite(v)]
    span = max([1.0, *(abs(v) for v in finite)])
    grid = np.concatenate(
        [
            np.linspace(-20 * span, 20 * span, 20001),
            span * np.tan(np.linspace(-1.5707, 1.5707, 2001)),
            [-np.inf, np.inf],
        ]
    )
    keep = [
        t
        for t in grid
        if not finite or min(abs(t - v) for v in finite) >= 1e-7 * max(1.0, abs(t))
    ]
    return np.array(keep)


def _inside(pieces, t):
    return any(lo <= t <= hi for lo, hi in pieces)


def _bisect_end(excess, end):
    width = 1e-5 * max(1.0, abs(end))
    lo, hi = end - width, end + width
    f_lo = excess(lo)
    assert f_lo * excess(hi) < 0
    for _ in range(24):  # 2e-5 relative -> about 1e-12 relative
        mid = 0.5 * (lo + hi)
        if excess(mid) * f_lo > 0:
            lo = mid
        else:
            hi = mid
    assert end == pytest.approx(0.5 * (lo + hi), rel=1e-8, abs=1e-12)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("cov_type", ["HC1", "HC3", "cluster"])
def test_lm_set_against_the_raw_statistic(case, cov_type):
    data = _draw(**CASES[case])
    raw = RawStatistics(data, cov_type)
    moments = anderson_rubin_moments(_fit(data, cov_type))
    for level in (0.5, 0.95):
        crit = special.chdtri(1, 1 - level)
        pieces = robust_lm_set(moments, level)
        ends = [v for piece in pieces for v in piece if np.isfinite(v)]

        def excess(t, crit=crit):
            return raw.at(t)[1] - crit

        for end in ends:
            assert excess(end) == pytest.approx(0.0, abs=1e-7 * crit)
            _bisect_end(excess, end)
        grid = _grid(pieces)
        accepted = raw.many(grid)[1] <= crit
        inside = np.array([_inside(pieces, t) for t in grid])
        assert np.array_equal(accepted, inside), (level, grid[accepted != inside])


@pytest.mark.parametrize("case", ["strong", "weak", "weaker", "two_half_lines"])
@pytest.mark.parametrize("cov_type", ["HC1", "cluster"])
def test_clr_set_against_the_raw_statistic(case, cov_type):
    data = _draw(**CASES[case])
    raw = RawStatistics(data, cov_type)
    moments = anderson_rubin_moments(_fit(data, cov_type))
    level = 0.95
    p = moments.n_instruments
    pieces = robust_clr_set(moments, level)

    def excess(t):
        _, _, r, lr = raw.at(t)
        return clr_cdf(lr, r, p) - level

    for end in [v for piece in pieces for v in piece if np.isfinite(v)]:
        assert excess(end) == pytest.approx(0.0, abs=1e-9)
        _, _, r, lr = raw.at(end)
        assert lr == pytest.approx(clr_critical_value(r, p, level), rel=1e-8)
        _bisect_end(excess, end)
    grid = _grid(pieces)[::4]  # each point is one quadrature
    _, _, r, lr = raw.many(grid)
    accepted = np.array([clr_cdf(x, q, p) <= level for x, q in zip(lr, r, strict=True)])
    inside = np.array([_inside(pieces, t) for t in grid])
    assert np.array_equal(accepted, inside), grid[accepted != inside]


def _assert_same_set(got, expected, rel):
    assert len(got) == len(expected), (got, expected)
    for (a, b), (c, d) in zip(got, expected, strict=True):
        assert a == pytest.approx(c, rel=rel) if np.isfinite(c) else a == c
        assert b == pytest.approx(d, rel=rel) if np.isfinite(d) else b == d


@pytest.mark.parametrize("case", ["strong", "weak", "unidentified", "two_half_lines"])
@pytest.mark.parametrize("cov_type", ["HC1", "cluster", "CR2"])
def test_just_identified_k_and_clr_are_the_anderson_rubin_set(case, cov_type):
    data = _draw(**{**CASES[case], "p": 1})
    moments = anderson_rubin_moments(_fit(data, cov_type))
    for level in (0.5, 0.95):
        ar = anderson_rubin_set(moments, level)
        assert robust_lm_set(moments, level) == ar
        assert robust_clr_set(moments, level) == ar
        # the inversion on the circle itself, whose polynomial has the exact
        # double roots of det(V)·D (K = AR, but the polynomial is (det V·D)²(cV - π²))
        assert _k_critical(moments, level) == critical_value(moments, level)
        _assert_same_set(
            _lm_pieces(moments, critical_value(moments, level)), ar, rel=1e-9
        )


@pytest.mark.parametrize(
    "case", ["strong", "weak", "several_pieces", "unidentified", "two_half_lines"]
)
def test_homoskedastic_covariance_gives_the_homoskedastic_sets(case):
    """Fed ``Ω ⊗ I`` (the unadjusted covariance in orthonormal coordinates), the
    robust K and CLR are Kleibergen's (2002) K and Moreira's (2003) CLR."""
    data = _draw(**CASES[case], heteroskedastic=False)
    model = _fit(data, "unadjusted")
    moments = anderson_rubin_moments(model)
    p = moments.n_instruments
    robust = dataclasses.replace(
        moments, cov_type="HC0", cov=np.kron(moments.resid_ss / moments.nobs, np.eye(p))
    )
    for level in (0.5, 0.95):
        _assert_same_set(robust_lm_set(robust, level), lm_set(moments, level), 1e-9)
        _assert_same_set(robust_clr_set(robust, level), clr_set(moments, level), 1e-9)


def test_clr_cdf_against_adaptive_quadrature():
    for k in (2, 3, 5, 12):
        for x in (0.2, 3.84, 9.0, 30.0):
            for q in (0.0, 0.5, 8.0, 300.0):
                u = x + q

                def integrand(s, x=x, u=u, k=k):
                    return special.chdtr(1, x * (u - s) / u) * np.exp(
                        (k - 3) / 2 * np.log(s)
                        - s / 2
                        - (k - 1) / 2 * np.log(2)
                        - special.gammaln((k - 1) / 2)
                    )

                expected, _ = integrate.quad(
                    integrand, 0, u, epsabs=1e-14, epsrel=1e-13, limit=400
                )
                assert clr_cdf(x, q, k) == pytest.approx(expected, abs=1e-11)


def test_confidence_set_uses_the_robust_sets_and_clr_is_the_default():
    data = _draw(0.3, 2)
    x = pd.DataFrame(
        {"r": data["r"], "m": data["m"]}
        | {f"x{j + 1}": data["x"][:, j] for j in range(3)}
    )
    est = IVMediationRegressor(
        treatment="r", mediator="m", covariates=["x1", "x2", "x3"], cov_type="HC1"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(x, data["y"])
    moments = est.result_.anderson_rubin_moments
    lm = est.confidence_set("mediator", "LM", confidence_level=0.9)
    assert lm.method == "LM" and list(lm) == robust_lm_set(moments, 0.9)
    clr = est.confidence_set("mediator", "CLR")
    assert list(clr) == robust_clr_set(moments, 0.95)
    assert est.confidence_set("mediator").method == "CLR"
    assert est.mediator_effect_ in clr


def test_few_clusters_fall_back_to_anderson_rubin_and_say_why():
    """With ``p < G ≤ 2p`` clusters the robust AR is defined, CLR is not."""
    data = _draw(0.3, 2, n=300, p=3, n_clusters=5)
    model = _fit(data, "cluster")
    moments = anderson_rubin_moments(model)
    assert not robust_clr_defined(moments)
    with pytest.raises(ValueError, match="conditional likelihood ratio statistic"):
        robust_clr_set(moments, 0.95)
    few = _draw(0.3, 2, n=300, p=3, n_clusters=3)
    with pytest.raises(ValueError, match="Kleibergen K statistic is not defined"):
        robust_lm_set(anderson_rubin_moments(_fit(few, "cluster")), 0.95)
    with pytest.raises(ValueError, match="confidence_level must be in"):
        robust_lm_set(moments, 1.5)


def test_sets_follow_a_rescaled_mediator():
    """``M → sM`` maps ``θ_M → θ_M/s``: the sets scale exactly (to rounding)."""
    data = _draw(0.15, 11)
    scaled = {**data, "m": 4.0 * data["m"]}
    for fn in (robust_lm_set, robust_clr_set):
        base = fn(anderson_rubin_moments(_fit(data, "HC1")), 0.95)
        other = fn(anderson_rubin_moments(_fit(scaled, "HC1")), 0.95)
        _assert_same_set(other, [(lo / 4, hi / 4) for lo, hi in base], 1e-9)
