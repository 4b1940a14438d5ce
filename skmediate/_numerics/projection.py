"""The direct effect's set from the joint Anderson–Rubin set of ``(θ_R, θ_M)``, projected.

Under ``H₀: (θ_R, θ_M) = (r, m)`` the treatment becomes an excluded
instrument beside the interactions, and the Anderson–Rubin statistic tests
the coefficients of ``E = [R, R·X]`` (after ``[1, X, Z]``) in the regression
of ``y - rR - mM`` on all instruments:

``W(r, m) = π(r, m)ᵀ V(m)⁻¹ π(r, m)``, ``π = a - r t - m b``,

with ``a`` and ``b`` the coefficients of ``y`` and ``M`` on ``E``'s orthonormal
coordinates, ``t`` the treatment's own coordinates (``(τ, 0, ..., 0)``: ``R``
is the first of them), and ``V(m)`` the covariance of ``a - m b`` with the
fit's covariance type. The residual of ``R`` on the instruments is zero, so
``V`` depends on ``m`` only. The set of ``r`` for which some ``m`` is not
rejected at the ``χ²(p + 1)`` critical value ``c`` covers ``θ_R`` with
probability at least the confidence level whatever the instruments' strength
(Dufour and Taamouti 2005).

Splitting ``E`` into the treatment's coordinate (1) and the interactions' (2),

``W(r, m) = W_M(m) + (h(m) - r)² τ² / V₁|₂(m)``,

with ``W_M = π₂ᵀ V₂₂⁻¹ π₂`` the Anderson–Rubin statistic of ``θ_M`` alone,
``h = (π₁ - V₁₂ V₂₂⁻¹ π₂)|_{r=0} / τ`` and ``V₁|₂ = V₁₁ - V₁₂ V₂₂⁻¹ V₂₁``.
So ``m`` admits some ``r`` exactly where ``W_M(m) ≤ c`` (the Anderson–Rubin
set of ``θ_M`` at the critical value ``c``, inverted exactly), and there the
admitted ``r`` form the interval ``h(m) ± s(m)``, ``s = √((c - W_M) V₁|₂)/|τ|``.
Each connected piece of the ``m``-set projects to one interval, from the
least ``h - s`` to the greatest ``h + s`` over the piece.

Those extremes are found from Chebyshev interpolants of the branches in a
variable in which they are smooth (``m = m̄ - w cos φ`` on a bounded piece,
which absorbs the square roots at its ends; ``m = m₁ ± S tan²(φ/2)`` on a
half-line, with the branch scaled by ``cos²(φ/2)``), refined until their
coefficients have decayed, and the roots of their derivatives: the
extremes of smooth functions resolved to rounding, not a grid search. On
unbounded pieces the branches grow linearly in ``m``, with slopes read off
the limit ``V(m)/m² → V_MM``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.polynomial import Chebyshev

from skmediate._numerics.sets import merge_intervals
from skmediate._numerics.subvector import subvector_ar_set
from skmediate._numerics.weakiv import (
    AndersonRubinMoments,
    _check_definite,
    _robust_set,
    critical_value,
)

__all__ = ["direct_ar_set", "projection_ar_set"]

# Chebyshev degrees tried in turn; a fit stops when the trailing coefficients
# fall below COEF_TOL of the largest.
DEGREES = (32, 64, 128, 256, 512, 1024)
COEF_TOL = 1e-12


def direct_ar_set(
    moments: AndersonRubinMoments, confidence_level: float
) -> list[tuple[float, float]]:
    """The weak-instrument-robust set of the direct effect for the fit's covariance.

    The subvector Anderson–Rubin set (Guggenberger, Kleibergen, Mavroeidis
    and Chen 2012) with homoskedastic covariances, where it is exact and
    less conservative; the projection of the joint robust set otherwise.
    """
    if moments.homoskedastic:
        return subvector_ar_set(moments, confidence_level)
    return projection_ar_set(moments, confidence_level)


def projection_ar_set(
    moments: AndersonRubinMoments, confidence_level: float
) -> list[tuple[float, float]]:
    """The projection onto ``θ_R`` of the joint Anderson–Rubin set of ``(θ_R, θ_M)``.

    Valid with any covariance type (the robust statistic with HC and cluster
    covariances); conservative, since the joint set has ``p + 1`` degrees of
    freedom. See the module's description for the inversion.

    Raises
    ------
    ValueError
        Where the robust statistic is not defined (its covariance singular).
    """
    a = np.r_[moments.treatment_coef[0], moments.coef[0]]
    b = np.r_[moments.treatment_coef[1], moments.coef[1]]
    cov = moments.joint_cov
    joint = replace(
        moments,
        coef=np.vstack([a, b]),
        cov=cov,
        excluded_ss=np.zeros((2, 2)),
        resid_ss=np.zeros((2, 2)),
        n_instruments=a.size,
    )
    _check_definite(joint)
    crit = critical_value(joint, confidence_level)  # p + 1 restrictions
    branches = _Branches(a, b, moments.treatment_scale, cov, crit)
    return merge_intervals(
        [_project(branches, lo, hi) for lo, hi in _robust_set(moments, crit)]
    )


class _Branches:
    """``h(m)`` and ``s(m)`` (the admitted ``r`` are ``h ± s``), vectorized over ``m``."""

    def __init__(self, a, b, tau, cov, crit):
        n = a.size
        self.a, self.b, self.tau, self.crit = a, b, tau, crit
        vyy, vym, vmm = cov[:n, :n], cov[:n, n:], cov[n:, n:]
        self.v0, self.v1, self.v2 = vyy, -(vym + vym.T), vmm

    def __call__(self, m):
        m = np.asarray(m, dtype=float)
        v = self.v0 + m[:, None, None] * self.v1 + (m * m)[:, None, None] * self.v2
        pi = self.a - m[:, None] * self.b
        return self._split(v, pi)

    def _split(self, v, pi):
        v22, v21 = v[:, 1:, 1:], v[:, 1:, :1]
        pi2 = pi[:, 1:, None]
        solved = np.linalg.solve(v22, np.concatenate([pi2, v21], axis=2))
        w_m = np.einsum("gi,gi->g", pi[:, 1:], solved[:, :, 0])
        v_cond = v[:, 0, 0] - np.einsum("gi,gi->g", v21[:, :, 0], solved[:, :, 1])
        h = (pi[:, 0] - np.einsum("gi,gi->g", v21[:, :, 0], solved[:, :, 0])) / self.tau
        s = np.sqrt(np.maximum((self.crit - w_m) * v_cond, 0.0)) / abs(self.tau)
        return h, s

    def slopes(self):
        """``lim h/m`` and ``lim s/|m|`` as ``|m| → ∞``."""
        h, s = self._split(self.v2[None], -self.b[None])
        return float(h[0]), float(s[0])


def _project(branches: _Branches, lo: float, hi: float) -> tuple[float, float]:
    """The interval of ``r`` admitted by the ``m`` of one piece ``[lo, hi]``."""
    inf = np.inf
    if np.isinf(lo) and np.isinf(hi):
        return (-inf, inf)
    if np.isfinite(lo) and np.isfinite(hi):
        if hi == lo:
            h, _ = branches(np.array([lo]))
            return (float(h[0]), float(h[0]))
        centre, half = (lo + hi) / 2, (hi - lo) / 2

        def m_of(phi):
            return centre - half * np.cos(phi)

        upper = _extreme(lambda phi: _branch(branches, m_of(phi), 1), True)
        lower = _extreme(lambda phi: _branch(branches, m_of(phi), -1), False)
        return (lower, upper)
    beta, sigma = branches.slopes()
    if np.isfinite(lo):  # [lo, inf): h ± s ~ m (β ± σ)
        end, direction = lo, 1.0
        up_slope, down_slope = beta + sigma, beta - sigma
    else:  # (-inf, hi]: h + s ~ |m| (σ - β), h - s ~ -|m| (β + σ)
        end, direction = hi, -1.0
        up_slope, down_slope = sigma - beta, -(beta + sigma)
    upper = inf if up_slope > 0 else _half_line(branches, end, direction, 1, True)
    lower = -inf if down_slope < 0 else _half_line(branches, end, direction, -1, False)
    return (lower, upper)


def _branch(branches, m, sign):
    h, s = branches(m)
    return h + sign * s


def _fit(fun) -> Chebyshev:
    """A Chebyshev interpolant of ``fun`` on ``[0, π]``, refined until resolved."""
    for degree in DEGREES:
        p = Chebyshev.interpolate(fun, degree, domain=[0.0, np.pi])
        coef = np.abs(p.coef)
        if coef[-4:].max() <= COEF_TOL * max(coef.max(), np.finfo(float).tiny):
            break
    return p


def _roots_inside(p: Chebyshev) -> np.ndarray:
    """The real roots of ``p`` inside ``(0, π)``."""
    roots = p.roots()
    real = roots[np.abs(roots.imag) <= 1e-8 * (1.0 + np.abs(roots.real))].real
    return real[(real > 0.0) & (real < np.pi)]


def _extreme(fun, maximize: bool) -> float:
    """The maximum (or minimum) of a smooth ``fun`` on ``[0, π]``."""
    p = _fit(fun)
    candidates = np.concatenate([[0.0, np.pi], _roots_inside(p.deriv())])
    values = fun(candidates)
    return float(values.max() if maximize else values.min())


def _half_line(branches, end, direction, sign, maximize) -> float:
    """The extreme of ``h + sign·s`` over ``m = end + direction·S tan²(φ/2)``.

    The branch grows like ``|m|`` towards the open end in the direction that
    makes that extreme finite; ``cos²(φ/2)`` times it is smooth on ``[0, π]``,
    and the extreme of the branch is at ``φ = 0`` or a root of the derivative
    of ``scaled / cos²(φ/2)``: ``scaled' cos(φ/2) + scaled sin(φ/2)``.
    """
    scale = 1.0 + abs(end)

    def m_of(phi):
        return end + direction * scale * np.tan(phi / 2) ** 2

    def scaled(phi):
        return np.cos(phi / 2) ** 2 * _branch(branches, m_of(phi), sign)

    p = _fit(scaled)
    dp = p.deriv()

    def stationary(phi):
        return dp(phi) * np.cos(phi / 2) + p(phi) * np.sin(phi / 2)

    phis = np.concatenate([[0.0], _roots_inside(_fit(stationary))])
    values = _branch(branches, m_of(phis), sign)
    return float(values.max() if maximize else values.min())
