r"""Subvector tests of the direct effect with conditional critical values (homoskedastic).

Under ``H₀: θ_R = r₀`` the treatment becomes an excluded instrument beside
the ``p`` interactions and the mediator is a nuisance endogenous regressor.
With ``A(r₀) = [y - r₀R, M]ᵀ(P_Q - P_W)[y - r₀R, M]`` (the cross-products
that the excluded instruments ``E = [R, R·X]`` explain after ``[1, X, Z]``),
``B = [y, M]ᵀ M_Q [y, M]`` (the residual cross-products, which do not depend
on ``r₀`` because ``R`` is an instrument) and ``d`` the variance divisor
(``n - l``, or ``n`` for ``cov_type="unadjusted"``), the roots of the pencil

.. math:: \det(A(r_0) - \kappa B / d) = 0, \qquad
          \kappa_{\min}(r_0) \le \kappa_{\max}(r_0),

are the statistics of every test here. ``A`` is quadratic in ``r₀``, so
``κ_min(r₀) ≤ κ`` is a quadratic inequality in ``r₀`` for every fixed ``κ``
(:meth:`SubvectorPencil.below`). The full model's pencil of ``[y, R, M]``
has one infinite root (``R`` has no residual) and two finite ones,
``κ̂₁ ≤ κ̂₂``: those of ``[y, M]`` on the interactions after ``[1, X, Z, R]``
(``κ̂₁`` is the LIML statistic). By the interlacing of the roots of a
pencil and of its compression to a subspace,

.. math:: \hat\kappa_1 \le \kappa_{\min}(r_0) \le \hat\kappa_2
          \le \kappa_{\max}(r_0) \quad\text{for every } r_0.

- **GKM** (Guggenberger, Kleibergen and Mavroeidis 2019): reject when
  ``κ_min(r₀) > c_{1-α}(κ_max(r₀), p)``, the ``1 - α`` quantile of the
  conditional law of the smallest root given the largest,
  with density proportional to ``e^{-x/2} x^{p/2 - 1} √(κ_max - x)`` on
  ``[0, κ_max]`` (their equation (A.21); :func:`gkm_cdf`). The quantile
  increases with ``κ_max`` towards the ``χ²(p)`` quantile of the test of
  Guggenberger, Kleibergen, Mavroeidis and Chen (2012, "GKMC"), so the set
  lies between ``{κ_min ≤ c(κ̂₂)}`` and the GKMC set ``{κ_min ≤ χ²_{p,1-α}}``,
  both exact. Its ends lie in the gaps between the two and are found there
  from Chebyshev interpolants of the p-value, refined until resolved, and
  polished by bisection on the statistic itself (:func:`gkm_set`).
- **CLR** (Kleibergen 2021): ``LR(r₀) = κ_min(r₀) - κ̂₁`` with the
  conditioning statistic ``s(r₀) = κ̂₁ + κ̂₂ - κ_min(r₀)``, compared with the
  conditional critical value of Moreira's (2003) likelihood ratio test with
  ``p`` instruments given ``Q_T = s``. Both are functions of ``κ_min``
  alone, and ``LR - c(s)`` increases with ``κ_min`` (``c`` decreases with
  slope above ``-1``), so the set is ``{κ_min(r₀) ≤ v*}`` with ``v*`` the
  root of one function on ``[κ̂₁, κ̂₂]``: a quadratic inequality, solved in
  closed form (:func:`subvector_clr_set`).

Both conditional distributions are asymptotic (``χ²`` based); the statistics
are scaled by the divisor ``d`` as for the Anderson–Rubin statistic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.polynomial import Chebyshev
from scipy import optimize, special

from skmediate._numerics.sets import merge_intervals, quadratic_set
from skmediate._numerics.weakiv import AndersonRubinMoments, clr_cdf, critical_value_for

__all__ = [
    "SubvectorPencil",
    "gkm_cdf",
    "gkm_critical_value",
    "gkm_set",
    "gkm_test",
    "subvector_clr_set",
    "subvector_ar_set",
    "subvector_clr_test",
    "subvector_pencil",
]

# Gauss-Legendre rule on [0, 1] for :func:`gkm_cdf`
_GL_T, _GL_W = np.polynomial.legendre.leggauss(128)
_GL_T, _GL_W = (_GL_T + 1.0) / 2.0, _GL_W / 2.0
# Chebyshev degrees tried in turn on a gap; a fit stops when its trailing
# coefficients fall below COEF_TOL (the p-value's scale is 1)
DEGREES = (16, 32, 64, 128, 256)
# points (cosine-spaced) at which the interpolant's sign changes are read
N_SCAN = 4096
COEF_TOL = 1e-13


@dataclass(frozen=True, eq=False)
class SubvectorPencil:
    """The pencil ``(A(r₀), B/d)`` of the direct effect's subvector tests.

    Attributes
    ----------
    a0, a1, a2 : ndarray of shape (2, 2)
        ``A(r₀) = a0 + r₀ a1 + r₀² a2`` (order ``y - r₀R``, ``M``).
    resid : ndarray of shape (2, 2)
        ``B``, the residual cross-products of ``[y, M]`` on all instruments.
    divisor : float
        ``d``: ``n - l``, or ``n`` for ``"unadjusted"``.
    dof : int
        ``p``: the excluded instruments (``p + 1``) minus the nuisance regressor.
    treatment : ndarray of shape (2,)
        The coordinates of ``y`` and ``M`` on the treatment's own coordinate.
    treatment_scale : float
        The treatment's own coordinate ``τ``.
    """

    a0: np.ndarray
    a1: np.ndarray
    a2: np.ndarray
    resid: np.ndarray
    divisor: float
    dof: int
    treatment: np.ndarray
    treatment_scale: float

    def roots(self, r) -> tuple[np.ndarray, np.ndarray]:
        """``κ_min(r)`` and ``κ_max(r)`` (scaled by ``d``), vectorized over ``r``."""
        r = np.asarray(r, dtype=float)
        chol = np.linalg.cholesky(self.resid / self.divisor)
        c = [
            np.linalg.solve(chol, np.linalg.solve(chol, a).T)
            for a in (self.a0, self.a1, self.a2)
        ]  # L⁻¹ A L⁻ᵀ, coefficient by coefficient
        s = c[0] + r[..., None, None] * c[1] + (r * r)[..., None, None] * c[2]
        alpha, beta, gamma = s[..., 0, 0], s[..., 0, 1], s[..., 1, 1]
        mean = (alpha + gamma) / 2
        radius = np.hypot((alpha - gamma) / 2, beta)
        kmax = mean + radius
        det = np.maximum(alpha * gamma - beta * beta, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            kmin = np.where(kmax > 0, det / kmax, 0.0)
        return kmin, kmax

    def full_roots(self) -> tuple[float, float]:
        """``κ̂₁ ≤ κ̂₂``: the finite roots of the full model's pencil (scaled by ``d``)."""
        ty, tm = self.treatment
        # the cross-products explained by the interactions after R
        explained = self.a0 - np.outer([ty, tm], [ty, tm])
        chol = np.linalg.cholesky(self.resid / self.divisor)
        c = np.linalg.solve(chol, np.linalg.solve(chol, explained).T)
        low, high = np.linalg.eigvalsh((c + c.T) / 2)
        return max(float(low), 0.0), max(float(high), 0.0)

    def below(self, kappa: float) -> list[tuple[float, float]]:
        """``{r : κ_min(r) ≤ kappa}`` exactly (``kappa`` on the scale of ``d``).

        ``κ_min(r) ≤ κ`` exactly when ``A(r) - κB/d`` is not positive
        definite; its mediator entry does not depend on ``r`` (if it is not
        positive, no ``r`` is rejected) and its determinant is a quadratic in
        ``r``.
        """
        k = [self.a0 - (kappa / self.divisor) * self.resid, self.a1, self.a2]
        k_mm = k[0][1, 1]
        if k_mm <= 0:
            return [(-np.inf, np.inf)]
        # det = k_mm K_yy(r) - K_ym(r)², K_yy = Σ k_i[0,0] rⁱ, K_ym = Σ k_i[0,1] rⁱ
        yy = [m[0, 0] for m in k]
        ym0, ym1 = k[0][0, 1], k[1][0, 1]
        return quadratic_set(
            k_mm * yy[0] - ym0 * ym0,
            k_mm * yy[1] - 2 * ym0 * ym1,
            k_mm * yy[2] - ym1 * ym1,
        )

    def liml(self) -> float:
        """The LIML estimate of ``θ_R``: where ``κ_min`` reaches ``κ̂₁``."""
        k1, _ = self.full_roots()
        ty, tm = self.treatment
        explained = self.a0 - np.outer([ty, tm], [ty, tm])
        g = explained - (k1 / self.divisor) * self.resid
        # (1, -m) spans the null space of g
        m = g[0, 1] / g[1, 1] if g[1, 1] != 0 else 0.0
        return float((ty - m * tm) / self.treatment_scale)


def subvector_pencil(moments: AndersonRubinMoments) -> SubvectorPencil:
    """The pencil of the direct effect's subvector tests from the Anderson–Rubin moments.

    Raises
    ------
    ValueError
        For a covariance type that is not homoskedastic.
    """
    if not moments.homoskedastic:
        raise ValueError(
            "the subvector tests of the direct effect (the subvector "
            "Anderson-Rubin test and its conditional forms, method='AR-GKM' and "
            "method='CLR') are available for cov_type 'classical' and "
            f"'unadjusted' (this fit has {moments.cov_type!r}); with it, "
            "method='AR' gives the projection of the joint robust "
            "Anderson-Rubin set, valid for every cov_type"
        )
    y_ex = np.r_[moments.treatment_coef[0], moments.coef[0]]
    m_ex = np.r_[moments.treatment_coef[1], moments.coef[1]]
    t_ex = np.zeros_like(y_ex)
    t_ex[0] = moments.treatment_scale  # the treatment is the first coordinate
    ym = np.column_stack([y_ex, m_ex])
    tm = np.column_stack([t_ex, np.zeros_like(t_ex)])
    # [y - rR, M] = ym - r tm
    a1 = -(ym.T @ tm + tm.T @ ym)
    divisor = moments.nobs if moments.cov_type == "unadjusted" else moments.df_resid
    return SubvectorPencil(
        a0=ym.T @ ym,
        a1=a1,
        a2=tm.T @ tm,
        resid=np.asarray(moments.resid_ss, dtype=float),
        divisor=float(divisor),
        dof=int(moments.n_instruments),
        treatment=np.array([y_ex[0], m_ex[0]]),
        treatment_scale=float(moments.treatment_scale),
    )


def subvector_ar_set(
    moments: AndersonRubinMoments, confidence_level: float
) -> list[tuple[float, float]]:
    """Subvector Anderson–Rubin set for the direct effect ``θ_R`` (homoskedastic).

    The statistic of Guggenberger, Kleibergen, Mavroeidis and Chen (2012)
    minimizes the Anderson–Rubin statistic of ``(r₀, m₀)`` over ``m₀``:
    ``κ_min(r₀)``. It is compared with ``p F(p, n - l)`` (``"classical"``) or
    ``χ²(p)`` (``"unadjusted"``), ``p`` the interactions: the number of
    excluded instruments minus the one nuisance regressor. The set is
    ``{κ_min(r₀) ≤ c}``, a quadratic inequality
    (:meth:`SubvectorPencil.below`).

    Parameters
    ----------
    moments : AndersonRubinMoments
        Of a homoskedastic fit.
    confidence_level : float

    Returns
    -------
    list of (low, high)
        Disjoint closed intervals in increasing order.
    """
    pencil = subvector_pencil(moments)
    return pencil.below(critical_value_for(moments, pencil.dof, confidence_level))


# -- the conditional law of Guggenberger, Kleibergen and Mavroeidis (2019) ----


def _gkm_integral(upper, kappa, dof):
    """``∫₀^upper e^{-x/2} x^{dof/2-1} √(κ - x) dx / (2κ^{(dof+1)/2})``, ``upper ≤ κ``.

    With ``x = κ sin²φ`` the integrand is ``e^{-κ sin²φ/2} sin^{dof-1}φ cos²φ``
    on ``[0, arcsin √(upper/κ)]``: smooth (both end singularities absorbed),
    integrated by a 128-point Gauss–Legendre rule.
    """
    phi_top = np.arcsin(np.sqrt(np.clip(upper / kappa, 0.0, 1.0)))
    phi = phi_top[..., None] * _GL_T
    sin, cos = np.sin(phi), np.cos(phi)
    f = np.exp(-kappa[..., None] * sin * sin / 2) * sin ** (dof - 1) * cos * cos
    return phi_top * np.sum(_GL_W * f, axis=-1)


def gkm_cdf(z, kappa_max, dof: int):
    r"""``P(κ_min ≤ z | κ_max)``: the conditional law of Guggenberger et al. (2019).

    The density of the smallest root given the largest, ``κ_max``, is

    .. math:: f(x \mid \kappa) \propto e^{-x/2}\, x^{(k - m_W)/2 - 1}
              \sqrt{\kappa - x}, \qquad 0 \le x \le \kappa,

    with ``k - m_W = dof`` (their (A.21) with ``k - 1`` replaced by ``k - m_W``).
    The mass beyond the ``1 - 10⁻¹⁷`` quantile of ``χ²(dof)`` is dropped from
    both integrals (it is below rounding), which keeps the rule accurate for
    any ``κ_max``.

    Parameters
    ----------
    z, kappa_max : float or array_like
        The statistic and the conditioning root (broadcast together).
    dof : int

    Returns
    -------
    ndarray or float
    """
    z, kappa = np.broadcast_arrays(
        np.asarray(z, dtype=float), np.asarray(kappa_max, dtype=float)
    )
    kappa = np.maximum(kappa, np.finfo(float).tiny)
    top = float(special.chdtri(dof, 1e-17))
    cap = np.minimum(kappa, top)
    num = _gkm_integral(np.clip(z, 0.0, cap), kappa, dof)
    den = _gkm_integral(cap, kappa, dof)
    out = np.clip(num / den, 0.0, 1.0)
    return out if out.ndim else float(out)


def gkm_critical_value(kappa_max: float, dof: int, confidence_level: float) -> float:
    """``c_{1-α}(κ_max, dof)``: the conditional quantile of :func:`gkm_cdf`.

    It lies in ``[0, min(κ_max, χ²_{dof,1-α})]`` and increases with
    ``κ_max`` (the density ratio of two ``κ_max`` increases in ``x``).
    """
    high = min(float(kappa_max), float(special.chdtri(dof, 1.0 - confidence_level)))
    if high <= 0:
        return 0.0
    if gkm_cdf(high, kappa_max, dof) <= confidence_level:
        return high
    return float(
        optimize.brentq(
            lambda c: gkm_cdf(c, kappa_max, dof) - confidence_level,
            0.0,
            high,
            xtol=1e-14,
            rtol=1e-14,
        )
    )


def gkm_test(moments: AndersonRubinMoments, r0: float) -> tuple[float, float, float]:
    """The GKM test of ``H₀: θ_R = r₀``.

    Returns
    -------
    statistic : float
        ``κ_min(r₀)``, the subvector Anderson–Rubin statistic (``χ²`` scale).
    kappa_max : float
        ``κ_max(r₀)``, the conditioning statistic.
    pvalue : float
        ``1 - P(κ_min ≤ statistic | κ_max)``.
    """
    pencil = subvector_pencil(moments)
    kmin, kmax = pencil.roots(float(r0))
    return float(kmin), float(kmax), 1.0 - gkm_cdf(kmin, kmax, pencil.dof)


def gkm_set(
    moments: AndersonRubinMoments, confidence_level: float
) -> list[tuple[float, float]]:
    """The GKM (2019) set for the direct effect: the ``r₀`` the GKM test does not reject.

    The set contains the exact inner set ``{κ_min ≤ c(κ̂₂)}`` and lies in
    the GKMC set ``{κ_min ≤ χ²_{p,1-α}}``; on each gap between them the
    p-value minus ``α`` is interpolated by Chebyshev polynomials (a bounded
    gap in ``r``, a half-line in ``u`` with ``r = e ± S(1 + u)/(1 - u)``, in
    which the statistics are analytic up to ``r = ±∞``), refined until the
    trailing coefficients are below ``10⁻¹³`` (degree 256 at most); the
    interpolant's sign changes, read at 4096 cosine-spaced points, bracket
    the roots, which Brent's method finds on the test itself; each piece
    between consecutive roots is kept if the test does not reject at its
    midpoint.

    Parameters
    ----------
    moments : AndersonRubinMoments
        Of a homoskedastic fit.
    confidence_level : float

    Returns
    -------
    list of (low, high)
        Disjoint closed intervals in increasing order.
    """
    pencil = subvector_pencil(moments)
    p = pencil.dof
    _, k2 = pencil.full_roots()
    outer = pencil.below(float(special.chdtri(p, 1.0 - confidence_level)))
    inner = pencil.below(gkm_critical_value(k2, p, confidence_level))

    def excess(r):  # > 0 where the test rejects
        kmin, kmax = pencil.roots(r)
        return gkm_cdf(kmin, kmax, p) - confidence_level

    centre = pencil.liml()
    pieces = list(inner)
    for lo, hi in _subtract(outer, inner):
        pieces += _accepted(excess, lo, hi, centre)
    return merge_intervals(pieces)


def _subtract(outer, inner) -> list[tuple[float, float]]:
    """The closures of the pieces of ``outer`` not in ``inner`` (unions of intervals)."""
    gaps = []
    for lo, hi in outer:
        start = lo
        for a, b in inner:
            if b < start or a > hi:
                continue
            if a > start:
                gaps.append((start, a))
            start = max(start, b)
        if start < hi:
            gaps.append((start, hi))
    return gaps


def _accepted(excess, lo, hi, centre) -> list[tuple[float, float]]:
    """The pieces of ``[lo, hi]`` where ``excess ≤ 0``."""
    if np.isinf(lo) and np.isinf(hi):
        return _accepted(excess, -np.inf, centre, centre) + _accepted(
            excess, centre, np.inf, centre
        )
    if np.isfinite(lo) and np.isfinite(hi):
        width, start, stop = hi - lo, lo, hi

        def r_of(u):
            return lo + (np.asarray(u) + 1.0) * width / 2
    else:
        end = lo if np.isfinite(lo) else hi
        sign = 1.0 if np.isfinite(lo) else -1.0
        scale = 1.0 + abs(end - centre)
        start, stop = end, sign * np.inf

        def r_of(u):
            u = np.asarray(u, dtype=float)
            with np.errstate(divide="ignore"):
                return end + sign * scale * (1.0 + u) / (1.0 - u)

    def fun(u):
        return excess(r_of(u))

    cheb = _fit(fun)
    scan = -np.cos(np.linspace(0.0, np.pi, N_SCAN))
    values = cheb(scan)
    change = np.flatnonzero(np.sign(values[:-1]) != np.sign(values[1:]))
    us = sorted(_bracketed(fun, scan[i], scan[i + 1]) for i in change)
    edges = [-1.0, *us, 1.0]
    ends = [start, *(float(r_of(u)) for u in us), stop]  # the gap's own ends exactly
    kept = []
    for i in range(len(edges) - 1):
        if edges[i + 1] > edges[i] and fun((edges[i] + edges[i + 1]) / 2) <= 0:
            kept.append(tuple(sorted((ends[i], ends[i + 1]))))
    return merge_intervals(kept)


def _fit(fun) -> Chebyshev:
    """A Chebyshev interpolant of ``fun`` on ``[-1, 1]``, refined until resolved."""
    for degree in DEGREES:
        p = Chebyshev.interpolate(fun, degree)
        if np.abs(p.coef[-4:]).max() <= COEF_TOL:
            break
    return p


def _bracketed(fun, a: float, b: float) -> float:
    """The root of ``fun`` in ``[a, b]`` where the interpolant changes sign.

    Brent's method on the test itself; if ``fun`` has one sign at both ends
    (the interpolant's root is a rounding artefact of a tangency), the end
    nearer zero.
    """
    fa, fb = fun(a), fun(b)
    if fa == 0 or fb == 0 or np.sign(fa) != np.sign(fb):
        return float(optimize.brentq(fun, a, b, xtol=1e-15, rtol=1e-15))
    return float(a if abs(fa) < abs(fb) else b)


# -- Kleibergen's (2021) subvector conditional likelihood ratio test ---------


def subvector_clr_test(
    moments: AndersonRubinMoments, r0: float
) -> tuple[float, float, float]:
    """Kleibergen's (2021) subvector CLR test of ``H₀: θ_R = r₀``.

    Returns
    -------
    statistic : float
        ``LR(r₀) = κ_min(r₀) - κ̂₁``.
    conditioning : float
        ``s(r₀) = κ̂₁ + κ̂₂ - κ_min(r₀)``.
    pvalue : float
        ``1 - P(LR ≤ statistic | Q_T = s)`` for Moreira's law with ``p``
        instruments (:func:`~skmediate._numerics.weakiv.clr_cdf`).
    """
    pencil = subvector_pencil(moments)
    k1, k2 = pencil.full_roots()
    kmin, _ = pencil.roots(float(r0))
    stat, cond = float(kmin) - k1, k1 + k2 - float(kmin)
    return stat, cond, 1.0 - clr_cdf(stat, max(cond, 0.0), pencil.dof)


def subvector_clr_set(
    moments: AndersonRubinMoments, confidence_level: float
) -> list[tuple[float, float]]:
    """Kleibergen's (2021) subvector CLR set for the direct effect (homoskedastic).

    ``LR ≤ c(s)`` exactly when ``P(LR ≤ v - κ̂₁ | Q_T = κ̂₁ + κ̂₂ - v) ≤ 1 - α``
    at ``v = κ_min(r₀)``; the left side increases with ``v`` on
    ``[κ̂₁, κ̂₂]``, so the set is ``{κ_min ≤ v*}`` (:meth:`SubvectorPencil.below`)
    with ``v*`` its root, or the whole line if ``v = κ̂₂`` is not rejected.

    Parameters
    ----------
    moments : AndersonRubinMoments
        Of a homoskedastic fit.
    confidence_level : float

    Returns
    -------
    list of (low, high)
        Disjoint closed intervals in increasing order.
    """
    pencil = subvector_pencil(moments)
    k1, k2 = pencil.full_roots()
    p = pencil.dof

    def excess(v):
        return clr_cdf(v - k1, max(k1 + k2 - v, 0.0), p) - confidence_level

    if excess(k2) <= 0:
        return [(-np.inf, np.inf)]
    v_star = float(optimize.brentq(excess, k1, k2, xtol=1e-14, rtol=1e-15))
    return pencil.below(v_star)
