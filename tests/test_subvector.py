"""The direct effect's subvector tests with conditional critical values (homoskedastic).

The GKM set (the subvector Anderson-Rubin statistic with the conditional
critical values of Guggenberger, Kleibergen and Mavroeidis 2019) and
Kleibergen's (2021) subvector CLR set, checked

- at every finite end against ivmodels' p-values (``anderson_rubin_test``
  with ``critical_values="gkm"`` and ``conditional_likelihood_ratio_test``,
  the mediator as the nuisance endogenous regressor ``W`` and the treatment
  as the tested exogenous regressor ``D``; the intercept in ``C`` so that
  ivmodels scales both roots by ``n - l``), to 1e-8;
- on a fine grid against the statistics computed from the data directly
  (projections, a generalized symmetric eigenproblem, ivmodels' integrals
  for the conditional laws), everywhere except within 1e-6 of an end;
- the conditional law against quadrature of its density and its limit;
- on three designs: a bounded set, two half-lines, the whole line.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, linalg, special

from skmediate import IVMediationRegressor
from skmediate._numerics.subvector import (
    gkm_cdf,
    gkm_critical_value,
    gkm_set,
    gkm_test,
    subvector_ar_set,
    subvector_clr_set,
    subvector_clr_test,
    subvector_pencil,
)

REFERENCE = "tests/reference"
DESIGNS = {
    "trial_binary": (["x1", "x2"], ["z"]),  # bounded sets
    "trial_weak": (["x1", "x2"], []),  # two half-lines
    "trial_clustered": (["x1", "x2", "x3"], ["z"]),  # bounded, strong
    "unidentified": (["x1", "x2", "x3"], []),  # the whole line
}


def _frame(name):
    if name != "unidentified":
        return pd.read_csv(f"{REFERENCE}/{name}.csv")
    # the mediator does not depend on the interactions: first-stage F ≈ 1
    rng = np.random.default_rng(3)
    n = 300
    x = rng.normal(size=(n, 3))
    r = rng.permutation(np.arange(n) < n // 2).astype(float)
    u = rng.normal(size=n)
    m = r + u + rng.normal(size=n)
    y = 1.0 + x @ [0.5, -0.5, 0.2] - r + 2 * m + u + rng.normal(size=n)
    return pd.DataFrame(
        {"r": r, "m": m, "x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2], "y": y}
    )


def _fit(name, cov_type="classical"):
    covariates, controls = DESIGNS[name]
    df = _frame(name)
    est = IVMediationRegressor(
        treatment="r",
        mediator="m",
        covariates=covariates,
        controls=controls or None,
        cov_type=cov_type,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(df[["r", "m", *covariates, *controls]], df["y"])
    return est, df


def _ivmodels_args(df, name):
    covariates, controls = DESIGNS[name]
    n = len(df)
    x = df[covariates].to_numpy()
    r = df["r"].to_numpy()
    return dict(
        Z=r[:, None] * (x - x.mean(axis=0)),
        X=np.zeros((n, 0)),
        y=df["y"].to_numpy(),
        W=df[["m"]].to_numpy(),
        C=np.column_stack([np.ones(n), df[covariates + controls].to_numpy()]),
        D=r[:, None],
        fit_intercept=False,
    )


def _ivmodels_pvalue(df, name, method, r0):
    from ivmodels.tests import anderson_rubin_test, conditional_likelihood_ratio_test

    args = _ivmodels_args(df, name)
    if method == "AR-GKM":
        return anderson_rubin_test(**args, beta=np.array([r0]), critical_values="gkm")[
            1
        ]
    return conditional_likelihood_ratio_test(
        **args,
        beta=np.array([r0]),
        critical_values="moreira2003conditional",
        tol=1e-12,
    )[1]


def _ends(s):
    return [e for piece in s for e in piece if np.isfinite(e)]


def _probes(s):
    """A point inside each piece, and one between consecutive pieces."""
    inside, outside = [], []
    for lo, hi in s:
        if np.isfinite(lo) and np.isfinite(hi):
            inside.append((lo + hi) / 2)
        elif np.isfinite(hi):
            inside.append(hi - 1.0 - abs(hi))
        elif np.isfinite(lo):
            inside.append(lo + 1.0 + abs(lo))
        else:
            inside.append(0.0)
    for (_, hi), (lo, _) in zip(list(s)[:-1], list(s)[1:], strict=True):
        outside.append((hi + lo) / 2)
    return inside, outside


@pytest.mark.parametrize("method", ["AR-GKM", "CLR"])
@pytest.mark.parametrize("name", list(DESIGNS))
def test_sets_against_ivmodels(name, method):
    est, df = _fit(name)
    s = est.confidence_set("direct", method)
    assert s.method == method
    for e in _ends(s):
        assert _ivmodels_pvalue(df, name, method, e) == pytest.approx(0.05, abs=1e-8)
    inside, outside = _probes(s)
    for r0 in inside:
        assert _ivmodels_pvalue(df, name, method, r0) > 0.05
    for r0 in outside:
        assert _ivmodels_pvalue(df, name, method, r0) < 0.05
    shapes = {
        "trial_binary": (1, True),
        "trial_clustered": (1, True),
        "trial_weak": (2, False),
        "unidentified": (1, False),
    }
    assert (len(s), s.is_bounded) == shapes[name]
    if name == "unidentified":
        assert s.intervals == ((-np.inf, np.inf),)


@pytest.mark.parametrize("name", list(DESIGNS))
def test_p_values_against_ivmodels_off_the_ends(name):
    """The tests themselves, at points inside, outside and far away."""
    est, df = _fit(name)
    moments = est.result_.anderson_rubin_moments
    for r0 in (-50.0, -2.0, -0.3, 0.0, 0.4, 1.0, 3.0, 1e3):
        assert gkm_test(moments, r0)[2] == pytest.approx(
            _ivmodels_pvalue(df, name, "AR-GKM", r0), abs=1e-8
        )
        assert subvector_clr_test(moments, r0)[2] == pytest.approx(
            _ivmodels_pvalue(df, name, "CLR", r0), abs=1e-8
        )


def _statistics_from_data(df, name, grid):
    """κ_min, κ_max of ``[y - rR, M]`` and the full model's two finite roots.

    From the rows: ``C`` partialled out by least squares, the projection on
    ``[R, R·X]`` by QR, and the pencil's roots by a generalized symmetric
    eigensolver (scaled by ``n - l``).
    """
    args = _ivmodels_args(df, name)
    c = args["C"]

    def resid(a, basis):
        return a - basis @ np.linalg.lstsq(basis, a, rcond=None)[0]

    y, m, r = (resid(v, c) for v in (args["y"], args["W"][:, 0], args["D"][:, 0]))
    e = resid(np.column_stack([args["D"], args["Z"]]), c)
    q, _ = np.linalg.qr(e)
    dof = len(y) - c.shape[1] - e.shape[1]

    def pencil(cols):
        v = np.column_stack(cols)
        explained = (q.T @ v).T @ (q.T @ v)
        return explained, v.T @ v - explained

    out = []
    for r0 in grid:
        a, b = pencil([y - r0 * r, m])
        out.append(dof * linalg.eigh(a, b, eigvals_only=True))
    # the full model: [y, M] on the interactions after R
    qi, _ = np.linalg.qr(resid(e[:, 1:], r[:, None]))
    yy = np.column_stack([resid(y, r[:, None]), resid(m, r[:, None])])
    explained = (qi.T @ yy).T @ (qi.T @ yy)
    a, b = pencil([y, m])
    full = dof * linalg.eigh(explained, b, eigvals_only=True)
    return np.array(out), full


@pytest.mark.parametrize("name", list(DESIGNS))
def test_membership_on_a_fine_grid(name):
    """Grid membership from the data's own statistics agrees with the sets."""
    from ivmodels.tests.anderson_rubin import (
        more_powerful_subvector_anderson_rubin_critical_value_function as gkm_pvalue,
    )
    from ivmodels.tests.conditional_likelihood_ratio import (
        conditional_likelihood_ratio_critical_value_function as clr_pvalue,
    )

    est, df = _fit(name)
    gkm = est.confidence_set("direct", "AR-GKM")
    clr = est.confidence_set("direct", "CLR")
    ends = _ends(gkm) + _ends(clr)
    centre = est.direct_effect_
    half = 3 * max([abs(e - centre) for e in ends], default=5.0) + 1.0
    grid = np.linspace(centre - half, centre + half, 601)
    roots, full = _statistics_from_data(df, name, grid)
    p = len(DESIGNS[name][0])
    for method, s in (("AR-GKM", gkm), ("CLR", clr)):
        for r0, (kmin, kmax) in zip(grid, roots, strict=True):
            if min((abs(r0 - e) for e in _ends(s)), default=np.inf) < 1e-6:
                continue
            if method == "AR-GKM":
                pvalue = gkm_pvalue(kmin, kmax, k=p + 1, mw=1)
            else:
                pvalue = clr_pvalue(  # Moreira's law with p instruments
                    k=p - 1,
                    mx=0,
                    md=1,
                    lambdas=np.array([full[0] + full[1] - kmin]),
                    z=kmin - full[0],
                    critical_values="moreira2003conditional",
                    tol=1e-12,
                )
            assert (pvalue > 0.05) == (r0 in s), (method, r0, pvalue)


@pytest.mark.parametrize("name", list(DESIGNS))
def test_gkm_set_between_its_exact_bounds(name):
    """Inside the GKMC sets (χ² and F critical values), around ``{κ_min ≤ c(κ̂₂)}``."""
    est, _ = _fit(name)
    moments = est.result_.anderson_rubin_moments
    gkm = est.confidence_set("direct", "AR-GKM")
    pencil = subvector_pencil(moments)
    p = pencil.dof
    chi2 = pencil.below(special.chdtri(p, 0.05))
    inner = pencil.below(gkm_critical_value(pencil.full_roots()[1], p, 0.95))
    f_set = subvector_ar_set(moments, 0.95)
    assert f_set == list(est.confidence_set("direct", "AR"))

    def contains(big, small):
        return all(
            any(
                lo - 1e-12 * (1 + abs(lo)) <= a and b <= hi + 1e-12 * (1 + abs(hi))
                for lo, hi in big
            )
            for a, b in small
        )

    assert contains(chi2, gkm) and contains(f_set, chi2) and contains(gkm, inner)


def test_inversion_on_random_trials():
    """On weak and strong simulated trials: membership equals the test at random
    points, and the GKM set lies in the GKMC set."""
    rng = np.random.default_rng(11)
    checked = 0
    for rep in range(24):
        n = 80 + 10 * (rep % 5)
        p = 1 + rep % 4
        x = rng.normal(size=(n, p))
        r = rng.permutation(np.arange(n) < n // 2).astype(float)
        u = rng.normal(size=n)
        pi = rng.normal(size=p) * [0.0, 0.2, 0.5, 1.5][rep % 4]
        m = r * (1 + x @ pi) + u + rng.normal(size=n)
        y = x.sum(axis=1) - r + 2 * m + u + rng.normal(size=n)
        cols = [f"x{j}" for j in range(p)]
        frame = pd.DataFrame(x, columns=cols).assign(r=r, m=m)
        est = IVMediationRegressor(
            treatment="r", mediator="m", covariates=cols, cov_type="classical"
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(frame, y)
        moments = est.result_.anderson_rubin_moments
        gkm = gkm_set(moments, 0.95)
        clr = subvector_clr_set(moments, 0.95)
        outer = subvector_pencil(moments).below(special.chdtri(p, 0.05))
        points = np.r_[
            rng.normal(est.direct_effect_, 3.0, 30),
            [e + d for e in _ends(gkm) + _ends(clr) for d in (-1e-4, 1e-4)],
        ]
        for r0 in points:
            near = min((abs(r0 - e) for e in _ends(gkm)), default=np.inf)
            if near > 1e-7:
                assert (gkm_test(moments, r0)[2] > 0.05) == any(
                    lo <= r0 <= hi for lo, hi in gkm
                )
            near = min((abs(r0 - e) for e in _ends(clr)), default=np.inf)
            if near > 1e-7:
                assert (subvector_clr_test(moments, r0)[2] > 0.05) == any(
                    lo <= r0 <= hi for lo, hi in clr
                )
            if any(lo <= r0 <= hi for lo, hi in gkm):
                assert any(lo <= r0 <= hi for lo, hi in outer)
        checked += 1
    assert checked == 24


@pytest.mark.parametrize("dof", [1, 2, 3, 5, 23])
def test_gkm_law_against_quadrature(dof):
    """The conditional law against adaptive quadrature of its density."""
    for kappa in (0.05, 2.0, 10.0, 100.0, 1e4, 1e7):
        for frac in (0.01, 0.3, 0.9, 0.999):
            z = min(frac * kappa, special.chdtri(dof, 1e-3))

            def density(x, kappa=kappa):
                return np.exp(-x / 2) * x ** (dof / 2 - 1) * np.sqrt(kappa - x)

            top = min(kappa, 400.0 + 10 * dof)
            opts = dict(epsabs=0, epsrel=1e-13, limit=500)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # quad's roundoff notes
                num = integrate.quad(density, 0, z, **opts)[0]
                den = integrate.quad(density, 0, top, **opts)[0]
            assert gkm_cdf(z, kappa, dof) == pytest.approx(num / den, abs=1e-12)
    # κ_max → ∞: the χ²(dof) law of the GKMC test
    assert gkm_cdf(3.0, 1e12, dof) == pytest.approx(special.chdtr(dof, 3.0), abs=1e-9)


@pytest.mark.parametrize("dof", [1, 3, 10])
def test_gkm_critical_value_increases_to_the_chi2_quantile(dof):
    kappas = np.geomspace(0.1, 1e6, 25)
    c = [gkm_critical_value(k, dof, 0.95) for k in kappas]
    assert np.all(np.diff(c) > 0)
    chi2 = special.chdtri(dof, 0.05)
    assert np.all(np.array(c) < chi2) and np.all(np.array(c) < kappas)
    assert c[-1] == pytest.approx(chi2, rel=1e-4)
    for k, ck in zip(kappas, c, strict=True):
        assert gkm_cdf(ck, k, dof) == pytest.approx(0.95, abs=1e-12)


def test_unadjusted_scales_the_roots_by_n():
    est, _ = _fit("trial_binary")
    plain, _ = _fit("trial_binary", "unadjusted")
    m_c = est.result_.anderson_rubin_moments
    m_u = plain.result_.anderson_rubin_moments
    for r0 in (-1.0, 0.5, 2.0):
        s_c, k_c, _ = gkm_test(m_c, r0)
        s_u, k_u, _ = gkm_test(m_u, r0)
        assert s_u == pytest.approx(s_c * m_u.nobs / m_u.df_resid, rel=1e-12)
        assert k_u == pytest.approx(k_c * m_u.nobs / m_u.df_resid, rel=1e-12)
    # the larger statistic: the unadjusted sets are inside the classical ones
    for method in ("AR-GKM", "CLR"):
        ((lo_u, hi_u),) = plain.confidence_set("direct", method)
        ((lo_c, hi_c),) = est.confidence_set("direct", method)
        assert lo_c < lo_u < hi_u < hi_c


def test_indirect_and_proportion_combine_the_chosen_direct_set():
    from skmediate._numerics.sets import difference_set, one_minus_ratio_set

    est, _ = _fit("trial_binary")
    row = est.result_.effects_at(0.975).loc["intention_to_treat"]
    total = [(row["lower"], row["upper"])]
    for method in ("AR-GKM", "CLR"):
        direct = list(est.confidence_set("direct", method, confidence_level=0.975))
        indirect = est.confidence_set("indirect", method)
        assert indirect.method == method
        assert list(indirect) == difference_set(total, direct)
        proportion = est.confidence_set("proportion_mediated", method)
        assert list(proportion) == one_minus_ratio_set(direct, total)


def test_conditional_sets_need_homoskedastic_covariances():
    est, _ = _fit("trial_binary", "HC1")
    for method in ("AR-GKM", "CLR"):
        with pytest.raises(ValueError, match="'HC1'.*method='AR'"):
            est.confidence_set("direct", method)
        with pytest.raises(ValueError, match="'HC1'"):
            est.confidence_set("indirect", method)
    # the projection set stays available
    assert est.confidence_set("direct", "AR").method == "AR"
    classical, _ = _fit("trial_binary")
    with pytest.raises(ValueError, match="AR-GKM.*direct effect"):
        classical.confidence_set("mediator", "AR-GKM")
    with pytest.raises(ValueError, match="'AR-GKM'"):
        classical.confidence_set("direct", "GKM")
