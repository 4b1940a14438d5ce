"""Weak-instrument-robust inference: the Anderson–Rubin test and confidence set.

The Anderson–Rubin (1949) test of ``θ_M = θ₀`` regresses ``y - θ₀M`` on all
instruments ``Q = [W, Z]`` and tests that the coefficients of the excluded
instruments ``Z`` are zero. Its size does not depend on how strongly ``Z``
predicts ``M``, so the set of ``θ₀`` it does not reject is a confidence set
that stays valid with weak instruments. Everything the test needs for any
``θ₀`` is held in :class:`AndersonRubinMoments` (small matrices), so a set at
any level is computed without the data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from scipy import optimize, stats

from ._covariance import stacked_covariance_steps
from ._linalg import TSLSFit, run_step

__all__ = [
    "AndersonRubinMoments",
    "anderson_rubin_moments",
    "anderson_rubin_steps",
    "anderson_rubin_set",
    "anderson_rubin_test",
]

_HOMOSKEDASTIC = ("unadjusted", "classical")
_GRID_SIZE = 512


@dataclass(frozen=True, eq=False)
class AndersonRubinMoments:
    """Reduced-form quantities from which the Anderson–Rubin test follows for any ``θ₀``.

    Attributes
    ----------
    coef : ndarray of shape (2, p)
        Coefficients of the excluded instruments in the least squares fits of
        ``y`` (row 0) and ``M`` (row 1) on all instruments; the fit of
        ``y - θ₀M`` has ``coef[0] - θ₀ coef[1]``.
    cov : ndarray of shape (2p, 2p)
        Joint covariance of ``[coef[0], coef[1]]`` with ``cov_type`` (stacked
        estimating equations, see :func:`~._covariance.stacked_covariance`).
    excluded_ss : ndarray of shape (2, 2)
        ``[y, M]ᵀ W (P_Q - P_W) [y, M]``: the sums of squares and products
        that the excluded instruments explain.
    resid_ss : ndarray of shape (2, 2)
        ``[y, M]ᵀ W M_Q [y, M]``: residual sums of squares and products.
    nobs : float
    df_resid : float
        ``n - l`` with ``l`` instrument columns.
    n_instruments : int
        ``p``, the number of excluded instruments.
    cov_type : str
    """

    coef: np.ndarray
    cov: np.ndarray
    excluded_ss: np.ndarray
    resid_ss: np.ndarray
    nobs: float
    df_resid: float
    n_instruments: int
    cov_type: str


def anderson_rubin_moments(
    fit: TSLSFit, cov_type: str, groups: np.ndarray | None = None
) -> AndersonRubinMoments:
    """Collect the Anderson–Rubin moments from a fit with one endogenous column.

    Parameters
    ----------
    fit : TSLSFit
        From :func:`~._linalg.fit_tsls` with one endogenous column.
    cov_type : {"unadjusted", "classical", "HC0", "HC1", "cluster"}
    groups : ndarray of int, optional
        Cluster codes, for ``"cluster"``.

    Raises
    ------
    ValueError
        Without an excluded instrument (the test is then not defined) or with
        other than one endogenous column.
    """
    return run_step(anderson_rubin_steps(fit, cov_type, groups))


def anderson_rubin_steps(fit: TSLSFit, cov_type: str, groups=None):
    """:func:`anderson_rubin_moments` as a step (see :class:`~._linalg.Pass`)."""
    p = fit.n_excluded
    if p == 0:
        raise ValueError(
            "the Anderson-Rubin test needs at least one excluded instrument "
            "(a treatment x covariate interaction); the fit has none"
        )
    if len(fit.first_stage) != 1:
        raise ValueError(
            "the Anderson-Rubin confidence set is for exactly one endogenous "
            f"regressor; the fit has {len(fit.first_stage)}"
        )
    n_inst, kw = fit.n_instruments, fit.n_exog
    first = fit.first_stage[0]
    # The reduced form of y on the same instruments: same regressors and
    # factor as the first stage, so their stacked scores share one pass.
    reduced_form = fit.leading_regression(n_inst, -1)
    reduced = replace(first, params=reduced_form.params, resid=reduced_form.resid)
    select = np.zeros((n_inst, p))
    select[kw:, :] = np.eye(p)
    cov = yield from stacked_covariance_steps(
        [reduced, first], [select, select], cov_type, groups
    )
    coef = np.vstack([reduced.params[kw:], first.params[kw:]])

    # Columns y (last) and M (column l) of the scaled factor.
    cols = [fit.r_factor.shape[0] - 1, n_inst]
    scale = fit.scale[cols]
    part = fit.r_factor[kw:n_inst][:, cols] * scale
    rest = fit.r_factor[n_inst:][:, cols] * scale
    return AndersonRubinMoments(
        coef=coef,
        cov=cov,
        excluded_ss=part.T @ part,
        resid_ss=rest.T @ rest,
        nobs=first.nobs,
        df_resid=first.df_resid,
        n_instruments=p,
        cov_type=cov_type,
    )


def _quadratic_stat(moments: AndersonRubinMoments, v: np.ndarray) -> np.ndarray:
    """Homoskedastic Wald statistic for directions ``v = (a, b)`` (outcome ``a y + b M``)."""
    num = np.einsum("...i,ij,...j->...", v, moments.excluded_ss, v)
    den = np.einsum("...i,ij,...j->...", v, moments.resid_ss, v)
    divisor = moments.nobs if moments.cov_type == "unadjusted" else moments.df_resid
    return num / (den / divisor)


def _wald_stat(moments: AndersonRubinMoments, v: np.ndarray) -> np.ndarray:
    """Wald statistic with ``moments.cov`` for directions ``v`` of shape (..., 2)."""
    p = moments.n_instruments
    a, b = v[..., 0], v[..., 1]
    pi = a[..., None] * moments.coef[0] + b[..., None] * moments.coef[1]
    c = moments.cov
    vyy, vym, vmm = c[:p, :p], c[:p, p:], c[p:, p:]
    cov = (
        (a * a)[..., None, None] * vyy
        + (a * b)[..., None, None] * (vym + vym.T)
        + (b * b)[..., None, None] * vmm
    )
    try:
        lower = np.linalg.cholesky(cov)
        half = np.linalg.solve(lower, pi[..., None])[..., 0]
        return np.einsum("...i,...i->...", half, half)
    except np.linalg.LinAlgError:
        solved = np.stack(
            [
                np.linalg.lstsq(ci, pii, rcond=None)[0]
                for ci, pii in zip(
                    cov.reshape(-1, p, p), pi.reshape(-1, p), strict=True
                )
            ]
        ).reshape(pi.shape)
        return np.einsum("...i,...i->...", pi, solved)


def _reference(moments: AndersonRubinMoments) -> tuple[str, float]:
    """Distribution of the statistic: ``F(p, n - l)`` on ``W/p`` (classical) or ``χ²(p)``."""
    if moments.cov_type == "classical":
        return "F", float(moments.n_instruments)
    return "chi2", 1.0


def _sf(moments: AndersonRubinMoments, statistic: float) -> float:
    p = moments.n_instruments
    if _reference(moments)[0] == "F":
        return float(stats.f.sf(statistic, p, moments.df_resid))
    return float(stats.chi2.sf(statistic, p))


def anderson_rubin_test(
    moments: AndersonRubinMoments, theta0: float
) -> tuple[float, float]:
    """Anderson–Rubin statistic and p-value for ``H₀: θ_M = θ₀``.

    Returns
    -------
    statistic : float
        ``F = W / p`` compared with ``F(p, n - l)`` for ``cov_type="classical"``
        (exact with normal homoskedastic errors); otherwise the Wald statistic
        ``W`` compared with ``χ²(p)``.
    pvalue : float
    """
    v = np.array([1.0, -float(theta0)])
    if moments.cov_type in _HOMOSKEDASTIC:
        wald = float(_quadratic_stat(moments, v))
    else:
        wald = float(_wald_stat(moments, v))
    statistic = wald / _reference(moments)[1]
    return statistic, _sf(moments, statistic)


def _critical(moments: AndersonRubinMoments, confidence_level: float) -> float:
    """Critical value on the scale of the Wald statistic ``W``."""
    name, divisor = _reference(moments)
    p, alpha = moments.n_instruments, 1.0 - confidence_level
    if name == "F":
        return float(stats.f.isf(alpha, p, moments.df_resid)) * divisor
    return float(stats.chi2.isf(alpha, p))


def anderson_rubin_set(
    moments: AndersonRubinMoments, confidence_level: float = 0.95
) -> list[tuple[float, float]]:
    """Anderson–Rubin confidence set for ``θ_M``: the ``θ₀`` the test does not reject.

    Parameters
    ----------
    moments : AndersonRubinMoments
    confidence_level : float, default=0.95

    Returns
    -------
    list of (low, high)
        Disjoint closed intervals in increasing order, with ``-inf``/``inf``
        for unbounded ends: one interval, two half-lines, the whole line
        ``[(-inf, inf)]``, or ``[]`` (every value rejected, which happens when
        the overidentifying restrictions fail).

    Notes
    -----
    With homoskedastic covariances the statistic is ``W(θ₀) = d N(θ₀)/D(θ₀)``
    with ``N, D`` the quadratic forms :attr:`~AndersonRubinMoments.excluded_ss`
    and :attr:`~AndersonRubinMoments.resid_ss` in ``(1, -θ₀)`` and ``d`` the
    variance divisor, so ``W(θ₀) <= c`` is the quadratic inequality
    ``N(θ₀) - (c/d) D(θ₀) <= 0``, solved exactly.

    With HC and cluster covariances ``W(θ₀) = π(θ₀)ᵀV(θ₀)⁻¹π(θ₀)`` with
    ``π`` linear and ``V`` quadratic in ``θ₀``. ``W`` is evaluated on a grid
    of ``θ₀ = θ̂ + h tan φ`` over ``φ ∈ (-π/2, π/2)`` (so the grid covers the
    whole line, dense near the 2SLS estimate ``θ̂``, ``h`` its classical
    standard error, and reaches ``±∞`` where ``W`` tends to the robust
    first-stage Wald statistic). Every sign change of ``W - c`` is refined by
    Brent's method, and every grid local extremum on the wrong side of ``c``
    is refined by bounded minimization, so that a pair of roots closer than
    the grid spacing is not missed. The ends are accurate to about ``1e-12``
    relative (``1e-8`` for ends beyond ``10⁶`` standard errors).
    """
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1); got {confidence_level}")
    critical = _critical(moments, confidence_level)
    if moments.cov_type in _HOMOSKEDASTIC:
        divisor = moments.nobs if moments.cov_type == "unadjusted" else moments.df_resid
        k = moments.excluded_ss - (critical / divisor) * moments.resid_ss
        return _quadratic_set(k)
    center, spread = _grid_center(moments)
    return _invert_on_circle(lambda v: _wald_stat(moments, v), critical, center, spread)


def _quadratic_set(k: np.ndarray) -> list[tuple[float, float]]:
    """``{θ: (1, -θ) k (1, -θ)ᵀ <= 0}`` for a symmetric 2 × 2 ``k`` (order y, M)."""
    a, b, c = k[1, 1], -2.0 * k[0, 1], k[0, 0]
    inf = np.inf
    if a == 0.0:
        if b == 0.0:
            return [(-inf, inf)] if c <= 0 else []
        root = -c / b
        return [(-inf, root)] if b > 0 else [(root, inf)]
    disc = b * b - 4.0 * a * c
    if disc < 0:
        return [] if a > 0 else [(-inf, inf)]
    q = -0.5 * (b + np.copysign(np.sqrt(disc), b))
    roots = sorted([q / a, c / q] if q != 0.0 else [0.0, 0.0])
    if a > 0:
        return [(float(roots[0]), float(roots[1]))]
    if disc == 0:
        return [(-inf, inf)]
    return [(-inf, float(roots[0])), (float(roots[1]), inf)]


def _grid_center(moments: AndersonRubinMoments) -> tuple[float, float]:
    """2SLS estimate and its classical standard error, from the moments."""
    s, t = moments.excluded_ss, moments.resid_ss
    if s[1, 1] <= 0:
        return 0.0, 1.0
    theta = s[0, 1] / s[1, 1]
    v = np.array([1.0, -theta])
    sigma2 = (v @ (s + t) @ v) / moments.nobs
    spread = np.sqrt(sigma2 / s[1, 1]) if sigma2 > 0 else 1.0
    return float(theta), float(spread) if spread > 0 else 1.0


def _invert_on_circle(
    wald: Callable[[np.ndarray], np.ndarray],
    critical: float,
    center: float,
    spread: float,
    grid_size: int = _GRID_SIZE,
) -> list[tuple[float, float]]:
    """``{θ: wald((1, -θ)) <= critical}`` for a statistic homogeneous of degree 0.

    ``θ = center + spread · tan φ``; the direction ``(cos φ, -(center cos φ +
    spread sin φ))`` is continuous in ``φ`` through ``±π/2`` (``θ = ±∞``) and
    the statistic has period ``π`` in ``φ``.
    """

    def direction(phi):
        phi = np.asarray(phi, dtype=float)
        cos, sin = np.cos(phi), np.sin(phi)
        return np.stack([cos, -(center * cos + spread * sin)], axis=-1)

    def g(phi):
        return float(wald(direction(phi))) - critical

    def theta(phi):
        # φ in (-π/2, 3π/2); θ has period π in φ.
        return center + spread * np.tan(phi)

    step = np.pi / grid_size
    # Grid points -π/2 + (j + 1/2) step, then π/2 itself (θ = ±∞); the circle
    # closes back to the first point plus π.
    phis = -np.pi / 2 + (np.arange(grid_size) + 0.5) * step
    phis = np.append(phis, np.pi / 2)
    values = np.asarray(wald(direction(phis))) - critical
    next_phis = np.append(phis[1:], phis[0] + np.pi)
    next_values = np.roll(values, -1)
    prev_phis = np.insert(phis[:-1], 0, phis[-1] - np.pi)
    prev_values = np.roll(values, 1)

    def brent(lo, hi):
        return optimize.brentq(g, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps)

    roots = list(phis[values == 0.0])
    for i in np.flatnonzero(values * next_values < 0):
        roots.append(brent(phis[i], next_phis[i]))
    # A grid local extremum on the wrong side of the critical value may hide
    # two roots between grid points: refine it.
    sign = np.sign(values)
    extremum = (
        (sign != 0)
        & (sign * prev_values > 0)
        & (sign * next_values > 0)
        & (sign * values <= np.minimum(sign * prev_values, sign * next_values))
    )
    for i in np.flatnonzero(extremum):
        found = optimize.minimize_scalar(
            lambda phi, s=sign[i]: s * g(phi),
            bounds=(prev_phis[i], next_phis[i]),
            method="bounded",
            options={"xatol": 1e-14},
        )
        if found.fun < 0:
            roots.append(brent(prev_phis[i], found.x))
            roots.append(brent(found.x, next_phis[i]))

    # Map every root to φ in [-π/2, π/2) and sort.
    roots = sorted({float((r + np.pi / 2) % np.pi - np.pi / 2) for r in roots})
    at_infinity = values[-1]
    if not roots:
        return [(-np.inf, np.inf)] if at_infinity <= 0 else []
    # Arcs between consecutive roots around the circle; test each at its middle.
    arcs = []
    for j, lo in enumerate(roots):
        hi = roots[j + 1] if j + 1 < len(roots) else roots[0] + np.pi
        arcs.append((lo, hi, g((lo + hi) / 2) <= 0))
    intervals = []
    for lo, hi, accepted in arcs:
        if not accepted:
            continue
        if hi <= np.pi / 2:
            intervals.append((float(theta(lo)), float(theta(hi))))
        else:  # the arc passes through θ = ±∞
            intervals.append((float(theta(lo)), np.inf))
            intervals.append((-np.inf, float(theta(hi - np.pi))))
    intervals.sort()
    merged = []
    for lo, hi in intervals:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged
