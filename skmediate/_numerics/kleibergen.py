r"""Kleibergen's robust K (LM) and conditional likelihood ratio sets for ``θ_M``.

With heteroskedastic or clustered errors the moments of ``θ_M = θ`` are
``f(θ) = a - θb``, ``a`` and ``b`` the coefficients of the (orthonormalized)
excluded instruments in the reduced forms of ``y`` and ``M``, with the robust
covariance ``V`` of ``[a, b]`` of the fit's covariance type (the one the
robust Anderson–Rubin statistic uses, :mod:`~skmediate._numerics.weakiv`).
Kleibergen (2005) builds from them

- ``V_ff(θ) = Var f(θ)``, quadratic in ``θ``, and ``AR(θ) = fᵀV_ff⁻¹f``;
- the Jacobian ``q = ∂f/∂θ = -b`` made independent of ``f``:
  ``D(θ) = q - V_qf V_ff⁻¹ f`` with ``V_qf = Cov(q, f)``;
- the K statistic ``K(θ) = (fᵀV_ff⁻¹D)² / (DᵀV_ff⁻¹D)``, ``χ²(1)`` under
  ``H₀`` however weak the instruments;
- the rank statistic ``r(θ) = Dᵀ V_qq·f⁻¹ D``, ``V_qq·f = V_qq - V_qf V_ff⁻¹ V_fq``,
  and the conditional likelihood ratio statistic
  ``LR = ½(AR - r + √((AR - r)² + 4 K r))``, compared with the critical value
  of Moreira's (2003) conditional law given ``r`` (``r`` replaces ``Q_T``).

With homoskedastic covariances ``r = Q_T`` and these are Kleibergen's (2002)
K and Moreira's CLR; with one instrument ``K = LR = AR``.

**The circle.** The tested value is a point of the projective line: the
direction ``w`` with ``w ∝ (1, -θ)``, ``θ = ±∞`` included. After a linear
change of the pair ``(y, M)`` and of the instruments (which leaves every
statistic unchanged and makes the average of ``V_ff`` over the directions the
identity), ``w = T(cos ψ, sin ψ)`` with ``ψ ∈ [0, π)``; the moments are
``f = A u``, ``q = A u⊥`` for ``u = (cos ψ, sin ψ)``, ``u⊥ = (-sin ψ, cos ψ)``
(adding a multiple of ``f`` to ``q`` does not change ``D``). Every statistic is a
smooth function of ``ψ``, ``θ = ∞`` is an ordinary point, and a homogeneous
polynomial of degree ``2d`` in ``u`` is a trigonometric polynomial of degree ``d``
in ``2ψ``, given exactly by its values at ``2d + 1`` or more equispaced angles
(the discrete Fourier transform interpolates it, it does not approximate it).

References
----------
.. [1] Kleibergen, F. (2005). Testing parameters in GMM without assuming that
   they are identified. *Econometrica*, 73(4), 1103–1123.
.. [2] Moreira, M. J. (2003). A conditional likelihood ratio test for
   structural models. *Econometrica*, 71(4), 1027–1048.
.. [3] Andrews, I. (2016). Conditional linear combination tests for weakly
   identified models. *Econometrica*, 84(6), 2155–2182.
.. [4] Boyd, J. P. (2006). Computing the zeros of a Fourier series or a
   Chebyshev series or general orthogonal polynomial series with parametric
   interval subdivision. *Journal of Scientific Computing*, 29(1), 1–26.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from skmediate._numerics.sets import merge_intervals
from skmediate._numerics.weakiv import (
    AndersonRubinMoments,
    _check_definite,
    anderson_rubin_set,
    clr_cdfs,
    critical_value_for,
)

__all__ = [
    "KleibergenStatistics",
    "kleibergen_statistics",
    "robust_clr_defined",
    "robust_clr_set",
    "robust_lm_set",
]

# a root of a trigonometric polynomial's z-polynomial this close to the unit
# circle is a candidate end (extra candidates only add evaluation points)
CIRCLE_TOL = 1e-3
# an undecided sub-arc of the robust CLR set's subdivision is cut in this many
SUBARCS = 8
_SPLIT = np.linspace(0.0, 1.0, SUBARCS + 1)


@dataclass(frozen=True, eq=False)
class _Circle:
    """The moments in coordinates where ``θ`` is the angle ``ψ`` (module docstring).

    ``a`` (p × 2) has ``f = a u``; ``blocks[j, k]`` (2 × 2 × p × p) is the
    covariance of columns ``j`` and ``k`` of ``a``; ``t`` maps ``u`` to a
    multiple of ``(1, -θ)``.
    """

    a: np.ndarray
    blocks: np.ndarray
    t: np.ndarray

    @property
    def p(self) -> int:
        return self.a.shape[0]

    def theta(self, psi):
        w = self.t @ np.array([np.cos(psi), np.sin(psi)])
        with np.errstate(divide="ignore"):
            return -w[1] / w[0]

    def psi(self, theta):
        u = np.linalg.solve(self.t, np.array([1.0, -theta]))
        return float(np.mod(np.arctan2(u[1], u[0]), np.pi))

    @property
    def psi_infinity(self) -> float:
        """The angle of ``θ = ±∞`` (where the first entry of ``w`` vanishes)."""
        return float(np.mod(np.arctan2(-self.t[0, 0], self.t[0, 1]), np.pi))


def _circle(moments: AndersonRubinMoments) -> _Circle:
    p = moments.n_instruments
    a = moments.coef.T  # columns: y, M
    cov = moments.cov
    blocks = cov.reshape(2, p, 2, p).transpose(0, 2, 1, 3)
    omega = np.trace(blocks, axis1=2, axis2=3) / p
    t = np.linalg.inv(np.linalg.cholesky(omega)).T  # tᵀ omega t = I
    a = a @ t
    blocks = np.einsum("jJ,kK,jkab->JKab", t, t, blocks)
    s = np.linalg.inv(np.linalg.cholesky((blocks[0, 0] + blocks[1, 1]) / 2))
    a = s @ a
    blocks = np.einsum("ia,JKab,kb->JKik", s, blocks, s)
    return _Circle(a=a, blocks=blocks, t=t)


@dataclass(frozen=True)
class KleibergenStatistics:
    """Kleibergen's statistics at an array of angles (see the module docstring).

    Attributes
    ----------
    ar, k, r : ndarray
        ``AR``, ``K`` and ``r``.
    det : ndarray
        ``det V_ff``.
    g12, g22 : ndarray
        ``fᵀV_ff⁻¹D`` and ``DᵀV_ff⁻¹D`` (``K = g12²/g22``).
    """

    ar: np.ndarray
    k: np.ndarray
    r: np.ndarray
    det: np.ndarray
    g12: np.ndarray
    g22: np.ndarray

    @property
    def lr(self) -> np.ndarray:
        return likelihood_ratio(self.ar, self.k, self.r)


def likelihood_ratio(ar, k, r):
    """``½(AR - r + √((AR - r)² + 4Kr))``: Moreira's LR from ``AR``, ``K`` and ``r``."""
    return 0.5 * (ar - r + np.sqrt((ar - r) ** 2 + 4.0 * k * r))


def _at(circle: _Circle, psi) -> KleibergenStatistics:
    psi = np.atleast_1d(np.asarray(psi, dtype=float))
    u = np.stack([np.cos(psi), np.sin(psi)], axis=1)
    up = np.stack([-np.sin(psi), np.cos(psi)], axis=1)
    b = circle.blocks
    v = np.einsum("mj,mk,jkab->mab", u, u, b)
    c = np.einsum("mj,mk,jkab->mab", up, u, b)  # Cov(q, f)
    vqq = np.einsum("mj,mk,jkab->mab", up, up, b)
    f = u @ circle.a.T
    q = up @ circle.a.T
    lower = np.linalg.cholesky(v)
    det = np.prod(np.diagonal(lower, axis1=1, axis2=2), axis=1) ** 2
    vf = np.linalg.solve(v, f[..., None])[..., 0]
    d = q - np.einsum("mab,mb->ma", c, vf)
    vd = np.linalg.solve(v, d[..., None])[..., 0]
    ar = np.einsum("ma,ma->m", f, vf)
    g12 = np.einsum("ma,ma->m", d, vf)
    g22 = np.einsum("ma,ma->m", d, vd)
    cond = vqq - c @ np.linalg.solve(v, np.swapaxes(c, 1, 2))
    r = np.einsum("ma,ma->m", d, np.linalg.solve(cond, d[..., None])[..., 0])
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(g22 > 0, g12 * g12 / np.where(g22 > 0, g22, 1.0), 0.0)
    return KleibergenStatistics(ar=ar, k=k, r=r, det=det, g12=g12, g22=g22)


def kleibergen_statistics(
    moments: AndersonRubinMoments, theta0
) -> KleibergenStatistics:
    """``AR``, ``K``, ``r`` (and ``LR``) at ``θ₀`` (an array; ``±inf`` allowed)."""
    circle = _circle(moments)
    psi = [circle.psi(t) if np.isfinite(t) else circle.psi_infinity for t in theta0]
    return _at(circle, np.asarray(psi))


# -- trigonometric polynomials on the circle --------------------------------


def _nodes(degree: int) -> np.ndarray:
    """Equispaced angles in ``[0, π)``: enough for trigonometric degree ``degree``
    in ``2ψ``, twice over (the signs there are also read)."""
    m = 4 * degree + 8
    return np.pi * np.arange(m) / m


def _coefficients(values: np.ndarray, degree: int) -> np.ndarray:
    """Fourier coefficients ``c_{-d}..c_d`` in ``ω = 2ψ`` from values at :func:`_nodes`."""
    c = np.fft.fft(values) / len(values)
    return np.concatenate([c[len(c) - degree :], c[: degree + 1]])


def _derivative(coef: np.ndarray) -> np.ndarray:
    d = (len(coef) - 1) // 2
    return 1j * np.arange(-d, d + 1) * coef


def _circle_roots(coef: np.ndarray) -> np.ndarray:
    """Angles ``ψ ∈ [0, π)`` of the roots of ``Σ c_k e^{2ikψ}`` (those near the circle)."""
    coef = np.asarray(coef, dtype=complex)
    scale = np.max(np.abs(coef))
    if scale == 0:
        return np.array([])
    coef = coef / scale
    # z^d Σ c_k z^k = Σ c_k z^(k+d): np.roots wants the highest power first
    z = np.roots(coef[::-1])
    near = np.abs(np.abs(z) - 1.0) <= CIRCLE_TOL
    return np.sort(np.mod(np.angle(z[near]) / 2.0, np.pi))


# -- assembling a set from the circle ---------------------------------------


def _cut_points(cuts: np.ndarray) -> np.ndarray:
    """Midpoints between consecutive (circularly) sorted angles."""
    cuts = np.sort(np.mod(cuts, np.pi))
    if cuts.size == 0:
        return cuts
    after = np.append(cuts[1:], cuts[0] + np.pi)
    return np.mod((cuts + after) / 2, np.pi)


def _to_intervals(circle: _Circle, arcs) -> list[tuple[float, float]]:
    """The ``θ`` intervals of accepted arcs ``(ψ_lo, ψ_hi)``, ``ψ_hi > ψ_lo``."""
    psi_inf = circle.psi_infinity
    pieces = []
    for lo, hi in arcs:
        ends = sorted([float(circle.theta(lo)), float(circle.theta(hi))])
        k = np.ceil((lo - psi_inf) / np.pi)
        if psi_inf + k * np.pi < hi:  # the arc passes θ = ±∞
            pieces += [(-np.inf, ends[0]), (ends[1], np.inf)]
        else:
            pieces.append((ends[0], ends[1]))
    return merge_intervals(pieces)


def _assemble(circle: _Circle, points, accepted, boundaries):
    """The set from sorted boundary angles and the verdict at sample angles."""
    points = np.asarray(points)
    accepted = np.asarray(accepted, dtype=bool)
    if not boundaries:
        return [(-np.inf, np.inf)] if accepted.all() else []
    bounds = np.sort(boundaries)
    arcs = []
    for lo, hi in zip(bounds, np.append(bounds[1:], bounds[0] + np.pi), strict=True):
        inside = (np.mod(points - lo, np.pi) < hi - lo) & (
            np.mod(points - lo, np.pi) > 0
        )
        if inside.any() and accepted[inside][0]:
            arcs.append((lo, hi))
    return _to_intervals(circle, arcs)


def _polish(circle: _Circle, excess, psi: float) -> float:
    """``θ`` of a boundary angle, refined by bisection on the statistic in ``θ``."""
    theta = float(circle.theta(psi))
    if not np.isfinite(theta):
        return theta
    width = 1e-9 * max(1.0, abs(theta))
    lo, hi = theta - width, theta + width
    f_lo, f_hi = excess(circle.psi(lo)), excess(circle.psi(hi))
    if f_lo * f_hi >= 0:
        return theta
    return float(
        optimize.brentq(
            lambda t: excess(circle.psi(t)),
            lo,
            hi,
            xtol=1e-300,
            rtol=4 * np.finfo(float).eps,
        )
    )


def _k_critical(moments: AndersonRubinMoments, confidence_level: float) -> float:
    """``χ²(1)``, or the Anderson–Rubin test's F reference for one restriction."""
    return critical_value_for(moments, 1, confidence_level)


def _check_level(confidence_level: float) -> None:
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1); got {confidence_level}")


def robust_lm_set(
    moments: AndersonRubinMoments, confidence_level: float = 0.95
) -> list[tuple[float, float]]:
    r"""Kleibergen's (2005) robust K (LM) confidence set for ``θ_M``, exactly.

    Parameters
    ----------
    moments : AndersonRubinMoments
        With a robust (HC or cluster) covariance.
    confidence_level : float, default=0.95

    Returns
    -------
    list of (low, high)
        Disjoint closed intervals in increasing order (``±inf`` for unbounded
        ends). K vanishes where the Anderson–Rubin statistic is stationary
        (its minimum, the LIML-like estimate, and its other stationary
        points, maxima included), so the set often has several pieces.

    Notes
    -----
    ``K(θ) ≤ c`` with ``c`` the ``χ²(1)`` quantile, or the quantile of the
    Anderson–Rubin test's F reference for one restriction when it has one
    (``F(1, n - l)`` or ``F(1, G - 1)``), so that with one instrument, where
    ``K = AR``, the two sets are the same; that case returns the
    Anderson–Rubin set itself.

    Inversion. With ``g₁₂ = fᵀV_ff⁻¹D`` and ``g₂₂ = DᵀV_ff⁻¹D``,

    .. math::

        P = \det(V_{ff})^4 \, (c\, g_{22} - g_{12}^2)

    is a polynomial, homogeneous of degree ``8p`` in ``u`` (``det V_ff·D`` and
    ``det² g₁₂``, ``det³ g₂₂`` are polynomials), and ``K ≤ c`` where ``P ≥ 0``.
    On the circle it is a trigonometric polynomial of degree ``4p`` in ``2ψ``,
    which its values at ``16p + 8`` equispaced angles give exactly; its zeros are
    the roots on the unit circle of a polynomial of degree ``8p`` in
    ``z = e^{2iψ}`` (the eigenvalues of its companion matrix, Boyd 2006). The
    coordinates make ``V_ff`` average to the identity, so ``det V_ff`` (and the
    multiple roots ``det⁴`` would bring with homoskedastic-like covariances) is
    nearly constant. The roots near the circle are candidate ends; they are
    never trusted on their own: the statistic ``K`` itself is evaluated at the
    midpoints between consecutive candidates and at the equispaced angles, and
    each change of verdict between consecutive evaluation points is a
    bracket in which the end is found by Brent's method on ``K - c``, then
    refined in ``θ``. Spurious candidates (complex roots near the circle,
    multiple roots split by rounding) only add evaluation points; ``θ = ±∞``
    is an angle like any other.

    Raises
    ------
    ValueError
        When ``V_ff(θ)`` is singular for some ``θ`` (fewer clusters than
        instruments).

    References
    ----------
    .. [1] Kleibergen, F. (2005). Testing parameters in GMM without assuming
       that they are identified. *Econometrica*, 73(4), 1103–1123.
    """
    _check_level(confidence_level)
    _check_definite(moments, "Kleibergen K")
    if moments.n_instruments == 1:
        return anderson_rubin_set(moments, confidence_level)
    return _lm_pieces(moments, _k_critical(moments, confidence_level))


def _lm_pieces(moments: AndersonRubinMoments, crit: float):
    """``{θ : K(θ) ≤ crit}`` by the inversion on the circle (any ``p``)."""
    circle = _circle(moments)
    p = circle.p
    nodes = _nodes(4 * p)
    at = _at(circle, nodes)
    values = at.det**4 * (crit * at.g22 - at.g12**2)
    candidates = _circle_roots(_coefficients(values, 4 * p))

    def excess(psi):
        return float(_at(circle, psi).k[0] - crit)

    mids = _cut_points(candidates)
    points = np.concatenate([nodes, mids])
    order = np.argsort(points)
    points = points[order]
    k_values = np.concatenate([at.k, _at(circle, mids).k if mids.size else []])[order]
    accepted = k_values <= crit
    boundaries = _boundaries(points, accepted, excess)
    pieces = _assemble(circle, points, accepted, boundaries)
    return _polished(circle, pieces, excess)


def _boundaries(points, accepted, excess) -> list[float]:
    """Each change of verdict between consecutive (circularly) angles: its root."""
    roots = []
    nxt = np.append(points[1:], points[0] + np.pi)
    for lo, hi, a, b in zip(points, nxt, accepted, np.roll(accepted, -1), strict=True):
        if a != b:
            roots.append(
                optimize.brentq(
                    lambda s: excess(np.mod(s, np.pi)),
                    lo,
                    hi,
                    xtol=1e-15,
                    rtol=4 * np.finfo(float).eps,
                )
                % np.pi
            )
    return roots


def _polished(circle, pieces, excess):
    out = []
    for lo, hi in pieces:
        lo = _polish(circle, excess, circle.psi(lo)) if np.isfinite(lo) else lo
        hi = _polish(circle, excess, circle.psi(hi)) if np.isfinite(hi) else hi
        out.append((float(lo), float(hi)))
    return out


# -- the robust conditional likelihood ratio set ---------------------------


def robust_clr_set(
    moments: AndersonRubinMoments, confidence_level: float = 0.95
) -> list[tuple[float, float]]:
    r"""Kleibergen's (2005) robust conditional likelihood ratio set for ``θ_M``.

    The test rejects ``θ_M = θ₀`` when ``LR(θ₀) > c(r(θ₀))``, ``c(q)`` the
    ``confidence_level`` quantile of Moreira's (2003) conditional law of
    ``LR`` given ``Q_T = q`` with ``p`` instruments
    (:func:`~skmediate._numerics.weakiv.clr_critical_value`) and ``r`` the
    robust rank statistic in place of ``Q_T`` (module docstring). With one
    instrument it is the Anderson–Rubin set. The reference is asymptotic
    (``χ²``-based) even when the fit uses t and F references.

    Parameters
    ----------
    moments : AndersonRubinMoments
        With a robust (HC or cluster) covariance.
    confidence_level : float, default=0.95

    Returns
    -------
    list of (low, high)

    Notes
    -----
    ``LR ≤ x`` exactly when ``K r ≤ x(x + r - AR)``, so the test accepts when

    .. math::

        \frac{K}{c(r)} + \frac{AR - K}{c(r) + r} \le 1,

    a linear combination of ``K`` and ``AR - K`` with weights set by ``r``: a
    conditional linear combination test in the sense of I. Andrews (2016).
    ``AR + r = [a, b]ᵀV⁻¹[a, b]`` is the same for every ``θ`` (the robust
    form of ``Q_S + Q_T`` constant), so ``r`` is stationary exactly where
    ``AR`` is, where ``g₁₂ = 0``. ``LR`` increases with ``AR`` and ``K`` and
    decreases with ``r``, and ``c`` decreases with ``r``.

    Inversion (certified, no grid). The circle is cut at the angles where
    ``AR`` (and so ``r``) or ``K`` is stationary: the roots of the
    trigonometric polynomials ``det² g₁₂`` and ``2 g₁₂' G₂₂ - g₁₂ G₂₂'``
    (``G₂₂ = det⁴ g₂₂``; ``K = (det² g₁₂)²/G₂₂``), found exactly as in
    :func:`robust_lm_set`. On each piece ``AR``, ``K`` and ``r`` are monotone,
    so on any sub-arc their ranges are read at its ends, and

    .. math::

        LR(AR_{lo}, K_{lo}, r_{hi}) - c(r_{lo}) \le LR - c(r)
        \le LR(AR_{hi}, K_{hi}, r_{lo}) - c(r_{hi})

    decides the whole sub-arc when both bounds have one sign (each bound is
    one quadrature of the conditional law, :func:`~skmediate._numerics.weakiv.clr_cdf`,
    or none when it is beyond the ``χ²(1)`` and ``χ²(p)`` quantiles, between
    which ``c`` lies). Undecided sub-arcs are cut in eight until they are ``10⁻⁷``
    wide; each end is then located by bisection on the verdict to ``10⁻¹⁵``
    and refined in ``θ``. Only a piece of the set narrower than ``10⁻⁷`` in
    angle, inside one undecided sub-arc, could be missed.

    Raises
    ------
    ValueError
        When the covariance of the reduced-form coefficients is singular.

    References
    ----------
    .. [1] Kleibergen, F. (2005). Testing parameters in GMM without assuming
       that they are identified. *Econometrica*, 73(4), 1103–1123.
    .. [2] Moreira, M. J. (2003). A conditional likelihood ratio test for
       structural models. *Econometrica*, 71(4), 1027–1048.
    .. [3] Andrews, I. (2016). Conditional linear combination tests for
       weakly identified models. *Econometrica*, 84(6), 2155–2182.
    """
    _check_level(confidence_level)
    _check_definite(moments, "conditional likelihood ratio")
    p = moments.n_instruments
    if p == 1:
        return anderson_rubin_set(moments, confidence_level)
    if not robust_clr_defined(moments):
        raise ValueError(
            "the robust conditional likelihood ratio statistic is not defined: "
            "the covariance of the reduced-form coefficients is singular"
            + (
                f" ({moments.n_clusters} clusters for {2 * p} coefficients)"
                if moments.n_clusters is not None
                else ""
            )
            + "; use method='AR' or method='LM'"
        )
    circle = _circle(moments)
    level = confidence_level
    c_low = float(special.chdtri(1, 1.0 - level))
    c_high = float(special.chdtri(p, 1.0 - level))

    nodes = _nodes(4 * p)
    at = _at(circle, nodes)
    g1 = _coefficients(at.det**2 * at.g12, 2 * p)
    g2 = _coefficients(at.det**4 * at.g22, 4 * p)
    turning = np.convolve(2 * _derivative(g1), g2) - np.convolve(g1, _derivative(g2))
    cuts = np.sort(np.concatenate([_circle_roots(g1), _circle_roots(turning)]))
    if cuts.size == 0:  # (a constant statistic: no piece ends)
        cuts = np.array([0.0])

    cache: dict[float, tuple[float, float, float]] = {}

    def stats(psis) -> np.ndarray:
        """``(AR, K, r)`` at each angle (one evaluation for those not seen yet)."""
        keys = [float(psi) for psi in np.atleast_1d(psis)]
        new = [key for key in dict.fromkeys(keys) if key not in cache]
        if new:
            s = _at(circle, np.array(new))
            for key, ar, k, r in zip(new, s.ar, s.k, s.r, strict=True):
                cache[key] = (float(ar), float(k), float(r))
        return np.array([cache[key] for key in keys]).reshape(-1, 3)

    def excesses(psis) -> np.ndarray:
        """Positive exactly where the test rejects (continuous inside ``(c₁, c_p)``)."""
        ar, k, r = stats(np.mod(psis, np.pi)).T
        lr = likelihood_ratio(ar, k, r)
        out = np.where(lr <= c_low, lr - c_low, lr - c_high)
        middle = (lr > c_low) & (lr <= c_high)
        if middle.any():
            out[middle] = clr_cdfs(lr[middle], r[middle], p) - level
        return out

    def excess(psi) -> float:
        return float(excesses(psi)[0])

    def verdicts(lo, hi) -> np.ndarray:
        """Per sub-arc: 1 accepted, 0 rejected, -1 undecided."""
        (ar0, k0, r0), (ar1, k1, r1) = stats(lo).T, stats(hi).T
        r_lo, r_hi = np.minimum(r0, r1), np.maximum(r0, r1)
        lr_hi = likelihood_ratio(np.maximum(ar0, ar1), np.maximum(k0, k1), r_lo)
        lr_lo = likelihood_ratio(np.minimum(ar0, ar1), np.minimum(k0, k1), r_hi)
        out = np.full(lo.size, -1)
        out[lr_lo > c_high] = 0
        out[lr_hi <= c_low] = 1
        # the conditional law where the bounds lie between the quantiles
        ask = (out < 0) & (lr_hi <= c_high)
        if ask.any():
            below = clr_cdfs(lr_hi[ask], r_hi[ask], p) <= level
            out[np.flatnonzero(ask)[below]] = 1
        ask = (out < 0) & (lr_lo > c_low)
        if ask.any():
            above = clr_cdfs(lr_lo[ask], r_lo[ask], p) > level
            out[np.flatnonzero(ask)[above]] = 0
        return out

    # the sub-arcs of one depth at a time (each undecided one cut in
    # SUBARCS), each depth's angles in one evaluation
    points, accepted = [], []
    ends = np.append(cuts, cuts[0] + np.pi)
    arcs = np.column_stack([ends[:-1], ends[1:]])
    while arcs.size:
        v = verdicts(arcs[:, 0], arcs[:, 1])
        decided = v >= 0
        points.append(arcs[decided].mean(axis=1))
        accepted.append(v[decided] == 1)
        open_arcs = arcs[~decided]
        small = open_arcs[:, 1] - open_arcs[:, 0] <= 1e-7
        if small.any():
            ends_small = open_arcs[small]
            at = np.concatenate(
                [ends_small[:, 0], ends_small.mean(axis=1), ends_small[:, 1]]
            )
            points.append(at)
            accepted.append(excesses(at) <= 0)
        split = open_arcs[~small]
        cuts_at = split[:, :1] + np.outer(split[:, 1] - split[:, 0], _SPLIT)
        cuts_at[:, -1] = split[:, 1]
        arcs = np.column_stack([cuts_at[:, :-1].ravel(), cuts_at[:, 1:].ravel()])
    points = np.mod(np.concatenate(points), np.pi)
    order = np.argsort(points, kind="stable")
    points, accepted = points[order], np.concatenate(accepted)[order]
    boundaries = _boundaries(points, accepted, excess)
    pieces = _assemble(circle, points, accepted, boundaries)
    return _polished(circle, pieces, excess)


def robust_clr_defined(moments: AndersonRubinMoments) -> bool:
    """Whether the robust CLR statistic is defined: ``r`` needs the inverse of
    the whole ``2p × 2p`` covariance of the reduced-form coefficients (with
    ``G`` clusters it has rank at most ``G``); then every ``V_ff(θ)`` is
    definite too."""
    cov = moments.cov
    if not np.isfinite(cov).all():
        return False
    eig = np.linalg.eigvalsh((cov + cov.T) / 2)
    return bool(eig[0] > 1e-12 * max(eig[-1], 0.0))
