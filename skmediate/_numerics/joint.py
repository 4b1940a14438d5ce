r"""Weak-instrument-robust inference with several mediators.

With ``q`` mediators the Anderson–Rubin (1949) test of ``H₀: θ_M = θ₀``
(a vector) regresses ``y - M θ₀`` on all instruments ``Q = [W, R·X]`` and tests
that the coefficients of the ``p`` excluded instruments are zero. In the
factor's coordinates (see :mod:`~skmediate._numerics.weakiv`, whose
:class:`~skmediate._numerics.weakiv.AndersonRubinMoments` hold one row per
mediator) the coefficients are ``π(θ₀) = Cᵀw``, ``w = (1, -θ₀)``, with ``C``
the coefficients of ``[y, M_1..M_q]`` on the excluded coordinates, and

- homoskedastic: ``W(θ₀) = d wᵀEw / wᵀSw`` with ``E`` and ``S`` the
  cross-products of ``[y, M]`` that the excluded instruments explain and that
  all instruments leave, ``d`` the variance divisor (``n - l``, or ``n`` for
  ``"unadjusted"``);
- robust: ``W(θ₀) = πᵀV(w)⁻¹π`` with ``V(w) = Σ_jk w_j w_k V_jk`` the covariance
  of ``π`` from the blocks ``V_jk`` of the reduced-form coefficients'
  covariance (the small-sample meat of ``ar_meat``, as with one mediator).

Both are compared with the reference distribution of the one-mediator test
(:attr:`~skmediate._numerics.weakiv.AndersonRubinMoments.reference`: an F
reference, or ``χ²(p)``).

**Sets for one mediator.** Homoskedastic, ``W(θ) ≤ c`` is the quadric region
``[1, θᵀ] G [1, θᵀ]ᵀ ≤ 0`` with ``G = D(E - κS)D``, ``κ = c/d``,
``D = diag(1, -I)``. Its projection onto ``θ_j`` (Dufour and Taamouti 2005)
is ``{t : min_s g(t, s) ≤ 0}``, ``s`` the other mediators' effects: the whole
line when ``G_ss`` (the others' block) is not positive definite (then ``g`` is
unbounded below in ``s`` for every ``t``), otherwise the quadratic inequality
in ``t`` of the Schur complement of ``G_ss``, solved in closed form: one
interval, two half-lines, the whole line or empty.

The subvector Anderson–Rubin statistic of Guggenberger, Kleibergen,
Mavroeidis and Chen (2012) minimizes ``W`` over the other mediators' effects:
``W_sub(t) = d λ_min(A(t), S(t))`` with ``A`` and ``S`` the explained and
residual cross-products of ``[y - tM_j, M_{-j}]``, compared with the
``p - q + 1`` degrees of freedom of the ``χ²`` (or ``F``) bound. ``W_sub(t) ≤ c``
exactly when ``A(t) - κS(t)`` is not positive definite; only its first row
and column depend on ``t`` (quadratically and linearly), so this is the same
Schur complement at the smaller critical value: the set of the quadric's
projection, exactly. For the direct effect ``θ_R`` the treatment joins the
excluded instruments under ``H₀: θ_R = r₀`` and all ``q`` mediators are
unrestricted: ``[y - r₀R, M]`` with ``p + 1`` excluded instruments and
``p + 1 - q`` degrees of freedom.

With HC and cluster covariances the joint set is no quadric, and its
projection onto one coordinate (a mediator's effect, or the direct effect in
the joint set of ``(θ_R, θ_M)``) is found on the projective line of that
coordinate, for any number of mediators: each arc of it is proved inside (an
accepted segment of the joint set above it) or outside (``zᵀQ(w)z < 0``
above it, ``Q(w) = c·V(w) - ππᵀ``, on simplicial cones, each reduced to
the strict copositivity of a small matrix, checked by the criterion of
Cottle, Habetler and Lemke 1970 with a bound on its rounding), subdividing
where neither proof holds; see the comment before ``START_ANGLES``.

References
----------
.. [1] Dufour, J.-M. and Taamouti, M. (2005). Projection-based statistical
   inference in linear structural models with possibly weak instruments.
   *Econometrica*, 73(4), 1351–1365.
.. [2] Guggenberger, P., Kleibergen, F., Mavroeidis, S. and Chen, L. (2012).
   On the asymptotic sizes of subset Anderson–Rubin and Lagrange multiplier
   tests in linear instrumental variables regression. *Econometrica*, 80(6),
   2649–2666.
.. [3] Cottle, R. W., Habetler, G. J. and Lemke, C. E. (1970). On classes of
   copositive matrices. *Linear Algebra and its Applications*, 3(3),
   295–310.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize

from skmediate._numerics.diagnostics import reference_label, wald_statistic
from skmediate._numerics.sets import merge_intervals, quadratic_set
from skmediate._numerics.weakiv import (
    AndersonRubinMoments,
    _divisor,
    critical_value,
    critical_value_for,
    test_from_wald,
)

__all__ = [
    "AndersonRubinTest",
    "direct_set",
    "direct_subvector_set",
    "joint_anderson_rubin_test",
    "joint_statistic",
    "mediator_set",
    "projection_set",
    "quadric_projection",
    "subvector_set",
    "subvector_test",
]

inf = np.inf


@dataclass(frozen=True)
class AndersonRubinTest:
    """The joint Anderson–Rubin test of ``H₀: θ_M = θ₀`` (every mediator at once).

    Attributes
    ----------
    statistic : float
        ``W / df`` when ``distribution`` is ``"F"``, else the Wald statistic
        ``W`` of the excluded instruments' coefficients in the regression of
        ``y - Mθ₀`` on all instruments.
    pvalue : float
    df : int
        The number of excluded instruments.
    df_denom : float or None
        The F distribution's denominator degrees of freedom, else None.
    distribution : {"chi2", "F"}
    theta0 : tuple of (str, float)
        The tested value of each mediator's effect.
    """

    statistic: float
    pvalue: float
    df: int
    df_denom: float | None
    distribution: str
    theta0: tuple

    def __repr__(self) -> str:
        ref = reference_label(self.distribution, self.df, self.df_denom)
        values = ", ".join(f"{name} = {value:g}" for name, value in self.theta0)
        return (
            f"AndersonRubinTest({values}: {ref} = {self.statistic:.4g}, "
            f"p = {self.pvalue:.4g})"
        )


def _weights(theta0: np.ndarray) -> np.ndarray:
    return np.r_[1.0, -np.asarray(theta0, dtype=float)]


def _cov_blocks(moments: AndersonRubinMoments) -> np.ndarray:
    """The covariance blocks ``V_jk`` (``(1 + q) × (1 + q) × p × p``)."""
    p, blocks = moments.n_instruments, moments.n_mediators + 1
    return moments.cov.reshape(blocks, p, blocks, p).transpose(0, 2, 1, 3)


def joint_statistic(moments: AndersonRubinMoments, theta0) -> float:
    """The Anderson–Rubin Wald statistic ``W(θ₀)`` (``χ²(p)`` scale) at a vector ``θ₀``."""
    w = _weights(theta0)
    if w.size != moments.n_mediators + 1:
        raise ValueError(
            f"theta0 has {w.size - 1} values; the fit has {moments.n_mediators} "
            "mediators"
        )
    if moments.homoskedastic:
        num = w @ moments.excluded_ss @ w
        den = w @ moments.resid_ss @ w
        return float(num / (den / _divisor(moments)))
    pi = moments.coef.T @ w
    v = np.einsum("j,k,jkab->ab", w, w, _cov_blocks(moments))
    return float(wald_statistic(pi, v))


def joint_anderson_rubin_test(
    moments: AndersonRubinMoments, theta0
) -> tuple[float, float, int, float | None]:
    """The joint Anderson–Rubin test of ``H₀: θ_M = θ₀`` for all mediators at once.

    Returns
    -------
    statistic : float
        With an F reference (:attr:`AndersonRubinMoments.reference`) its F
        statistic of ``W`` (compared with ``F(p, df_denom)``), else ``W``
        (compared with ``χ²(p)``); as the one-mediator test
        (:func:`~skmediate._numerics.weakiv.anderson_rubin_test`).
    pvalue : float
    df : int
        ``p``, the excluded instruments.
    df_denom : float or None
        The F distribution's denominator degrees of freedom.
    """
    wald = joint_statistic(moments, theta0)
    p = moments.n_instruments
    stat, pvalue = test_from_wald(moments, wald, p)
    return stat, pvalue, p, moments.f_df


# -- the homoskedastic quadric and its projections ----------------------------


def quadric_projection(g: np.ndarray, index: int) -> list[tuple[float, float]]:
    """``{t : min_s [1, x]ᵀ G [1, x] ≤ 0}`` with ``x_index = t`` and ``s`` the rest.

    ``G`` is symmetric, ``(1 + q) × (1 + q)``, indexed ``(1, x_1..x_q)``;
    ``index`` (0-based among the ``x``) is the projected coordinate.
    """
    g = (g + g.T) / 2
    keep = [0, 1 + index]
    rest = [k for k in range(1, g.shape[0]) if k != 1 + index]
    if rest:
        g_ss = g[np.ix_(rest, rest)]
        eig = np.linalg.eigvalsh(g_ss)
        if eig[0] <= 0:  # unbounded below in the other coordinates
            return [(-inf, inf)]
        g_ks = g[np.ix_(keep, rest)]
        s = g[np.ix_(keep, keep)] - g_ks @ np.linalg.solve(g_ss, g_ks.T)
    else:
        s = g[np.ix_(keep, keep)]
    return quadratic_set(s[0, 0], 2.0 * s[0, 1], s[1, 1])


def quadric_minimizer(g: np.ndarray, index: int, t: float) -> np.ndarray:
    """The point ``x`` with ``x_index = t`` minimizing ``[1, x]ᵀ G [1, x]`` over the rest."""
    g = (g + g.T) / 2
    keep = [0, 1 + index]
    rest = [k for k in range(1, g.shape[0]) if k != 1 + index]
    x = np.empty(g.shape[0] - 1)
    x[index] = t
    if rest:
        g_ss = g[np.ix_(rest, rest)]
        x[np.array(rest) - 1] = -np.linalg.solve(
            g_ss, g[np.ix_(rest, keep)] @ np.array([1.0, t])
        )
    return x


def _homoskedastic_quadric(moments: AndersonRubinMoments, crit: float) -> np.ndarray:
    """``G = D(E - κS)D``: ``W(θ) ≤ crit`` exactly where ``[1, θ]ᵀG[1, θ] ≤ 0``."""
    k = moments.excluded_ss - (crit / _divisor(moments)) * moments.resid_ss
    sign = np.r_[1.0, -np.ones(moments.n_mediators)]
    return k * np.outer(sign, sign)


def _check_mediator(moments: AndersonRubinMoments, index: int) -> None:
    if not 0 <= index < moments.n_mediators:
        raise ValueError(
            f"mediator index {index} out of range for {moments.n_mediators} mediators"
        )


def _require_homoskedastic(moments: AndersonRubinMoments, what: str) -> None:
    if not moments.homoskedastic:
        raise ValueError(
            f"the {what} is available for cov_type 'classical' and 'unadjusted' "
            f"(this fit has {moments.cov_type!r})"
        )


def projection_quadric(
    moments: AndersonRubinMoments, confidence_level: float
) -> np.ndarray:
    """The joint set's quadric ``G`` at the ``p``-degree-of-freedom critical value."""
    _require_homoskedastic(moments, "closed-form projection of the joint set")
    return _homoskedastic_quadric(moments, critical_value(moments, confidence_level))


def projection_set(
    moments: AndersonRubinMoments, index: int, confidence_level: float
) -> list[tuple[float, float]]:
    """The projection onto ``θ_{M_index}`` of the joint Anderson–Rubin set (homoskedastic).

    Covers the mediator's effect with probability at least the confidence
    level whatever the instruments' strength (the joint set does; Dufour and
    Taamouti 2005). Exact: the closed form of the module's description.
    """
    _check_mediator(moments, index)
    return quadric_projection(projection_quadric(moments, confidence_level), index)


def _subvector_df(moments: AndersonRubinMoments, nuisance: int, extra: int = 0) -> int:
    df = moments.n_instruments + extra - nuisance
    if df < 1:
        raise ValueError(
            f"the subvector Anderson-Rubin test needs more excluded instruments "
            f"({moments.n_instruments + extra}) than unrestricted mediators "
            f"({nuisance})"
        )
    return df


def subvector_quadric(
    moments: AndersonRubinMoments, confidence_level: float
) -> np.ndarray:
    """``G`` at the subvector critical value (``p - q + 1`` degrees of freedom)."""
    _require_homoskedastic(moments, "subvector Anderson-Rubin set")
    df = _subvector_df(moments, moments.n_mediators - 1)
    crit = critical_value_for(moments, df, confidence_level)
    return _homoskedastic_quadric(moments, crit)


def subvector_set(
    moments: AndersonRubinMoments, index: int, confidence_level: float
) -> list[tuple[float, float]]:
    """The subvector Anderson–Rubin set for ``θ_{M_index}`` (GKMC 2012; homoskedastic).

    The other mediators are unrestricted endogenous regressors; see the
    module's description for the exact inversion.
    """
    _check_mediator(moments, index)
    return quadric_projection(subvector_quadric(moments, confidence_level), index)


def subvector_test(
    moments: AndersonRubinMoments, index: int, value: float
) -> tuple[float, float]:
    """The subvector Anderson–Rubin statistic and p-value of ``H₀: θ_{M_index} = value``.

    ``d λ_min`` of the pencil of explained and residual cross-products of
    ``[y - value·M_index, M_others]``; ``W / df`` against ``F(df, n - l)``
    for ``"classical"``, ``W`` against ``χ²(df)`` for ``"unadjusted"``, with
    ``df = p - q + 1``.
    """
    _require_homoskedastic(moments, "subvector Anderson-Rubin test")
    _check_mediator(moments, index)
    q = moments.n_mediators
    df = _subvector_df(moments, q - 1)
    others = [k for k in range(1, q + 1) if k != 1 + index]
    basis = np.zeros((q + 1, q))
    basis[0, 0], basis[1 + index, 0] = 1.0, -value
    for col, k in enumerate(others, start=1):
        basis[k, col] = 1.0
    a = basis.T @ moments.excluded_ss @ basis
    s = basis.T @ moments.resid_ss @ basis
    lam = float(np.min(np.linalg.eigvals(np.linalg.solve(s, a)).real))
    wald = _divisor(moments) * lam
    return test_from_wald(moments, wald, df)


# -- the direct effect with several mediators ---------------------------------


def _direct_moments(moments: AndersonRubinMoments):
    """Explained cross-products of ``[y, R, M]`` on ``[R, R·X]`` (after ``[1, X, Z]``)."""
    q = moments.n_mediators
    coords = np.vstack([moments.treatment_coef, moments.coef.T])  # (p + 1) × (1 + q)
    t = np.zeros(coords.shape[0])
    t[0] = moments.treatment_scale
    full = np.column_stack([coords[:, 0], t, coords[:, 1:]])  # y, R, M
    explained = full.T @ full
    resid = np.zeros((q + 2, q + 2))
    keep = np.r_[0, 2 : q + 2]
    resid[np.ix_(keep, keep)] = moments.resid_ss  # R has no residual on Q
    return explained, resid


def direct_subvector_quadric(
    moments: AndersonRubinMoments, confidence_level: float, df: int | None = None
) -> np.ndarray:
    """``G`` over ``(1, θ_R, θ_M)`` at the critical value with ``df`` degrees of
    freedom (default ``p + 1 - q``, the subvector test's)."""
    _require_homoskedastic(
        moments, "subvector Anderson-Rubin set for the direct effect"
    )
    q = moments.n_mediators
    if df is None:
        df = _subvector_df(moments, q, extra=1)
    crit = critical_value_for(moments, df, confidence_level)
    explained, resid = _direct_moments(moments)
    k = explained - (crit / _divisor(moments)) * resid
    sign = np.r_[1.0, -np.ones(q + 1)]
    return k * np.outer(sign, sign)


def direct_subvector_set(
    moments: AndersonRubinMoments, confidence_level: float
) -> list[tuple[float, float]]:
    """The subvector Anderson–Rubin set for ``θ_R`` with all mediators unrestricted.

    Under ``H₀: θ_R = r₀`` the treatment is one more excluded instrument
    (``p + 1``) and the ``q`` mediators are nuisance endogenous regressors:
    ``p + 1 - q`` degrees of freedom. Homoskedastic; exact (the module's
    description).
    """
    return quadric_projection(direct_subvector_quadric(moments, confidence_level), 0)


def direct_set(
    moments: AndersonRubinMoments, confidence_level: float, method: str = "AR"
) -> list[tuple[float, float]]:
    """The direct effect's weak-instrument-robust set with any number of mediators.

    ``"AR"``: the subvector set (homoskedastic); ``"projection"``: the
    projection of the joint set of ``(θ_R, θ_M)`` at ``p + 1`` degrees of
    freedom, in closed form (homoskedastic). With HC and cluster covariances
    both are the robust projection (:func:`robust_direct_projection_set`).
    """
    if not moments.homoskedastic:
        return robust_direct_projection_set(moments, confidence_level)
    if method == "AR":
        return direct_subvector_set(moments, confidence_level)
    df = moments.n_instruments + 1
    return quadric_projection(
        direct_subvector_quadric(moments, confidence_level, df), 0
    )


def mediator_set(
    moments: AndersonRubinMoments,
    index: int,
    confidence_level: float,
    method: str = "AR",
) -> list[tuple[float, float]]:
    """One mediator's weak-instrument-robust set in a fit with several.

    ``"AR"``: the subvector set (homoskedastic); ``"projection"``: the
    projection of the joint set. With HC and cluster covariances both are the
    robust projection (:func:`robust_projection_set`).
    """
    if not moments.homoskedastic:
        return robust_projection_set(moments, index, confidence_level)
    if method == "AR":
        return subvector_set(moments, index, confidence_level)
    return projection_set(moments, index, confidence_level)


def direct_subvector_test(
    moments: AndersonRubinMoments, value: float
) -> tuple[float, float]:
    """The subvector Anderson–Rubin statistic and p-value of ``H₀: θ_R = value``."""
    _require_homoskedastic(moments, "subvector Anderson-Rubin test")
    q = moments.n_mediators
    df = _subvector_df(moments, q, extra=1)
    explained, resid = _direct_moments(moments)
    basis = np.zeros((q + 2, q + 1))
    basis[0, 0], basis[1, 0] = 1.0, -value
    basis[2:, 1:] = np.eye(q)
    a = basis.T @ explained @ basis
    s = basis.T @ resid @ basis
    lam = float(np.min(np.linalg.eigvals(np.linalg.solve(s, a)).real))
    wald = _divisor(moments) * lam
    return test_from_wald(moments, wald, df)


# -- robust projections ---------------------------------------------------------
#
# With HC and cluster covariances ``V`` depends on every tested value, and the
# joint set is no quadric. It is the set of weights ``w`` (rows: outcome, the
# projected coordinate, the others) with ``Q(w) = c·V(w) - π(w)π(w)ᵀ`` positive
# semidefinite, a cone, read on the projective space of ``w``. Its projection
# onto the projected coordinate is read on the projective line of the first
# two weights (angle ψ in the normalized coordinates of
# :mod:`~skmediate._numerics.kleibergen`; ``θ = ±∞`` an ordinary point): ψ
# belongs to it when the fibre above ψ (the outcome row replaced by
# ``cos ψ·outcome + sin ψ·target``) has an accepted point. With one other
# coordinate the fibre is a one-mediator robust set, exact (its ends are the
# real eigenvalues of a quadratic matrix polynomial); with more, accepted
# points of the fibre are sought at angles of its own first two rows and by
# descent from the two-step estimate (:func:`_witnesses`), which proves
# membership when it finds one.
#
# Every arc of the line is proved inside or outside (``_Projection``):
#
# - inside: accepted points ``w_a``, ``w_b`` above its two ends whose segment
#   ``(1 - s)w_a + s w_b``, ``0 ≤ s ≤ 1``, is accepted throughout. Along a line
#   the statistic is that of a one-mediator set (:func:`_one_nuisance_set` of
#   the rows ``w_aᵀC`` and ``dᵀC``, ``d`` the unit direction of
#   ``w_b - w_a``), and the segment lies above every angle of the arc.
# - outside: the arc's column (the cone of the two end directions and every
#   other axis, either sign) is covered by simplicial cones, each with a
#   vector ``z`` such that ``zᵀQ(w)z < 0`` throughout. With ``R`` the cone's
#   rays this is the strict copositivity of ``ggᵀ - c·RᵀV_z R``,
#   ``(V_z)_jk = zᵀV_jk z``, ``g = RᵀCz`` (:func:`_copositive`, the criterion
#   of Cottle, Habetler and Lemke at any order), tested with a bound on its
#   rounding subtracted; ``z`` is the
#   eigenvector of the least eigenvalue of ``Q`` at the cone's centre or one
#   of its rays. A cone without a proof is halved across its longest edge;
#   an accepted centre is an accepted angle, where the arc is cut.
#
# Arcs with neither proof are halved. Where the verdicts at an arc's two ends
# differ, the change is bisected to rounding, and the rejected side is proved
# from where the least statistic clears the critical value by ``CLEARANCE``
# of it (at the bracket itself the margin is rounding), at most
# ``MAX_CLEARANCE`` beyond the bracket. Only these remnants and the arcs and
# cones narrower than ``MIN_WIDTH`` are left unproved: tangencies, decided by
# the verdict at their midpoints; so are the ends of an inside segment within
# ``MIN_WIDTH`` of an accepted end. An accepted point where the first two
# weights vanish (the other coordinates' infinity) lies in the closure of
# every column: the whole line.
#
# With one other coordinate the verdict at an angle is exact; with more, an
# accepted point missed by :func:`_witnesses` leaves its arc to the outside
# proof, which then fails (the arc is halved) or meets an accepted centre:
# a miss costs time, never a piece wider than a remnant.

# the first partition of the projective line
START_ANGLES = 8
# arcs and cones narrower than this (radians) take their midpoint's verdict
MIN_WIDTH = 1e-12
# the rejected side of an end is proved from where its least statistic
# exceeds the critical value by this fraction of it (nearer, the margin is
# within the certificates' rounding)
CLEARANCE = 1e-9
# ... within this width of it (radians); where it is not, the rejected side
# is an ordinary arc and only the bracket is a remnant
MAX_CLEARANCE = 1e-6
# bisection steps on an end's bracket (π/8 / 2⁵² is below rounding)
BISECTIONS = 52
# cones tried for one arc, per cone of the first cover, before the arc is
# halved instead
CELL_BUDGET = 5000
# arcs decided before the rest are kept unproved (conservatively)
ARC_BUDGET = 4000
# angles of the first two rows at which :func:`_witnesses` seeks a point
WITNESS_ANGLES = 16


def _combine(coef, blocks, rows: np.ndarray, keep: list[int]):
    """The moments with outcome ``Σ rows[i]·row_i`` (over the first two rows) and
    the remaining rows ``keep``."""
    lead = np.einsum("i,ia->a", rows, coef[:2])
    new_coef = np.vstack([lead[None], coef[keep]])
    lin = np.zeros((1 + len(keep), coef.shape[0]))
    lin[0, :2] = rows
    for r, k in enumerate(keep, start=1):
        lin[r, k] = 1.0
    new_blocks = np.einsum("Jj,Kk,jkab->JKab", lin, lin, blocks)
    return new_coef, new_blocks


def _stat(coef, blocks, w) -> float:
    """``πᵀV⁻¹π`` at ``w``; ``inf`` where ``V(w)`` is not positive definite."""
    return float(_stats(coef, blocks, np.asarray(w, dtype=float)[None])[0])


def _stats(coef, blocks, ws: np.ndarray) -> np.ndarray:
    """:func:`_stat` at each row of ``ws`` (one batched factorization)."""
    pi = ws @ coef  # (m, p)
    v = np.einsum("mj,mk,jkab->mab", ws, ws, blocks)
    try:
        lower = np.linalg.cholesky(v)
    except np.linalg.LinAlgError:  # one of them is not definite: each on its own
        out = np.empty(len(ws))
        for i in range(len(ws)):
            try:
                low = np.linalg.cholesky(v[i])
            except np.linalg.LinAlgError:
                out[i] = inf
                continue
            half = linalg.solve_triangular(low, pi[i], lower=True, check_finite=False)
            out[i] = half @ half
        return out
    half = np.linalg.solve(lower, pi[..., None])[..., 0]
    return np.einsum("ma,ma->m", half, half)


def _one_nuisance_set(coef, blocks, crit: float) -> list[tuple[float, float]]:
    """``{s : W(s) ≤ crit}`` for moments ``[outcome, one mediator]`` (exact)."""
    a, b = coef
    v00, v01, v11 = blocks[0, 0], blocks[0, 1], blocks[1, 1]
    p = a.size
    # the linearization of the quadratic matrix polynomial m0 + s m1 + s² m2
    left = np.zeros((2 * p, 2 * p))
    right = np.zeros((2 * p, 2 * p))
    left[:p, p:] = np.eye(p)
    left[p:, :p] = np.outer(a, a) / crit - v00
    left[p:, p:] = v01 + v01.T - (np.outer(a, b) + np.outer(b, a)) / crit
    right[:p, :p] = np.eye(p)
    right[p:, p:] = v11 - np.outer(b, b) / crit
    alpha, beta = linalg.eig(
        left, right, right=False, homogeneous_eigvals=True, check_finite=False
    )
    finite = np.abs(beta) > 1e-14 * np.abs(alpha)
    near = alpha[finite] / beta[finite]
    real = np.abs(near.imag) <= 1e-6 * np.maximum(np.abs(near.real), 1.0)
    roots = np.sort(near.real[real])
    if not roots.size:  # one verdict everywhere: that of s = 0 (the
        # statistic at infinity is that of the second row alone, which may be
        # all but zero)
        return (
            [(-inf, inf)] if _stat(coef, blocks, np.array([1.0, 0.0])) <= crit else []
        )
    # the statistic between and beyond the roots
    points = [roots[0] - 1.0 - abs(roots[0])]
    points += list((roots[:-1] + roots[1:]) / 2)
    points += [roots[-1] + 1.0 + abs(roots[-1])]
    ws = np.ones((len(points), 2))
    ws[:, 1] = -np.array(points, dtype=float)
    values = _stats(coef, blocks, ws)
    edges = [-inf, *roots.tolist(), inf]
    out: list[tuple[float, float]] = []
    for lo, hi, value in zip(edges[:-1], edges[1:], values, strict=True):
        if not value <= crit:
            continue
        if out and out[-1][1] == lo:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def _normalizer(coef, blocks) -> np.ndarray:
    """``T`` with ``Tᵀ Ω T = I``: ``Ω`` the average over the instruments of the
    outcome-target blocks plus the coefficients' cross-products (definite even
    when a row, such as the treatment's, has no variance)."""
    p = blocks.shape[-1]
    omega = (np.trace(blocks[:2, :2], axis1=2, axis2=3) + coef[:2] @ coef[:2].T) / p
    return np.linalg.inv(np.linalg.cholesky(omega)).T


def _theta(t, psi) -> float:
    """The projected coordinate's value at angle ``psi`` (normalizer ``t``)."""
    u = t @ np.array([np.cos(psi), np.sin(psi)])
    with np.errstate(divide="ignore"):
        return float(-u[1] / u[0])


def _piece_point(lo: float, hi: float) -> np.ndarray:
    """A point ``(cos m, sin m)`` of the weights ``(1, -s)``, ``lo ≤ s ≤ hi``: the
    middle ``m`` of the piece's angles."""
    mid = (np.arctan(-lo) + np.arctan(-hi)) / 2
    return np.array([np.cos(mid), np.sin(mid)])


def _witnesses(coef, blocks, crit: float, hint=None) -> list:
    """Accepted weights ``w`` (``W(w) ≤ crit``) of moments with ``k`` rows.

    With ``k ≤ 2`` one per piece of the set, exactly; with more, a search,
    which can miss a small set (a point found is accepted): the fibres at
    ``WITNESS_ANGLES`` angles of the first two rows, and the least statistic
    found by descent from the two-step estimate (:func:`_least`), first with
    four rows or more (where each angle is itself a scan), last with three.
    ``hint`` (a dict) keeps, per number of rows, the angle that gave a point
    last, where the next scan starts (only the speed depends on it).
    """
    k = coef.shape[0]
    if k == 1:
        return [np.ones(1)] if _stat(coef, blocks, np.ones(1)) <= crit else []
    if k == 2:
        return [
            _piece_point(lo, hi) for lo, hi in _one_nuisance_set(coef, blocks, crit)
        ]

    def descend():
        y = _accepted_least(coef, blocks, crit, _start(coef, blocks))
        return [] if y is None else [np.r_[1.0, y]]

    if k > 3:
        found = descend()
        if found:
            return found
    t = _normalizer(coef, blocks)
    keep = list(range(2, k))
    hint = {} if hint is None else hint
    step = np.pi / WITNESS_ANGLES
    first = hint.get(k, 0.0)
    for phi in np.mod(first + step * np.arange(WITNESS_ANGLES), np.pi):
        u = t @ np.array([np.cos(phi), np.sin(phi)])
        c2, b2 = _combine(coef, blocks, u, keep)
        found = _witnesses(c2, b2, crit, hint)
        if found:
            hint[k] = phi
            return [np.r_[v[0] * u, v[1:]] for v in found]
    return descend() if k == 3 else []


def _least(coef, blocks, start: np.ndarray) -> tuple[float, np.ndarray]:
    """The least statistic at weights ``(1, y)`` found from ``y = start`` (BFGS,
    with its gradient) and the ``y`` where it is."""

    def value(y):
        x = np.r_[1.0, y]
        pi = x @ coef
        v = np.einsum("j,k,jkab->ab", x, x, blocks)
        try:
            low = np.linalg.cholesky(v)
        except np.linalg.LinAlgError:
            return inf, np.zeros_like(y)
        a = linalg.cho_solve((low, True), pi, check_finite=False)
        grad = 2 * (coef[1:] @ a) - 2 * np.einsum("a,jkab,k,b->j", a, blocks[1:], x, a)
        return float(pi @ a), grad

    found = optimize.minimize(value, start, jac=True, method="BFGS")
    return float(found.fun), found.x


def _accepted_least(coef, blocks, crit: float, start: np.ndarray):
    """The ``y`` of :func:`_least` from ``start`` if ``(1, y)`` is accepted (the
    statistic recomputed there), else None."""
    value, y = _least(coef, blocks, start)
    if value <= crit and _stat(coef, blocks, np.r_[1.0, y]) <= crit:
        return y
    return None


def _start(coef, blocks) -> np.ndarray:
    """Weights ``y`` near the least statistic at ``(1, y)``: least squares of the
    outcome's coefficients on the others', reweighted twice by ``V(1, y)⁻¹``
    (the two-step estimate; the statistic's minimizer when ``V`` is constant)."""
    a, b = coef[0], coef[1:]
    y = -np.linalg.lstsq(b.T, a, rcond=None)[0]
    for _ in range(2):
        x = np.r_[1.0, y]
        try:
            low = np.linalg.cholesky(np.einsum("j,k,jkab->ab", x, x, blocks))
        except np.linalg.LinAlgError:
            break
        whiten = linalg.solve_triangular(low, np.vstack([a, b]).T, lower=True)
        y = -np.linalg.lstsq(whiten[:, 1:], whiten[:, 0], rcond=None)[0]
    return y


def _copositive(a: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """Whether each symmetric ``n × n`` matrix of ``a`` (``... × n × n``) is
    strictly copositive: ``λᵀaλ > 0`` for every ``λ ≥ 0``, ``λ ≠ 0``.

    With the diagonal scaled to ones (``a_ii > 0`` is necessary), a matrix
    whose principal submatrices of order ``n - 1`` are strictly copositive is
    strictly copositive unless ``det a ≤ 0`` and ``adj a ≥ 0`` (Cottle,
    Habetler and Lemke 1970), applied to every principal submatrix in order
    of size (a matrix leaves the batch at its first failed submatrix); a
    submatrix whose entries all exceed ``tol`` is strictly copositive at
    once. The determinants and cofactors must clear a bound on their
    rounding plus ``tol``.
    """
    a = np.asarray(a, dtype=float)
    n = a.shape[-1]
    lead = a.shape[:-2]
    flat = a.reshape(-1, n, n)
    out = np.zeros(len(flat), dtype=bool)
    d = np.diagonal(flat, axis1=-2, axis2=-1)
    # the matrices still possibly strictly copositive: each face of a strictly
    # copositive matrix is, so one failed face rules its matrix out
    alive = np.flatnonzero(np.all(d > 0, axis=-1))
    scale = 1.0 / np.sqrt(d[alive])
    b = flat[alive] * scale[:, :, None] * scale[:, None, :]
    # a positive matrix is strictly copositive, including where the
    # determinants and cofactors are lost to rounding (a nearly rank-one ``ggᵀ``
    # with ``g`` of one sign)
    positive = np.all(b > tol, axis=(-2, -1))
    out[alive[positive]] = True
    alive, b = alive[~positive], b[~positive]
    for size in range(2, n + 1):
        if not len(alive):
            break
        idx = np.array(list(itertools.combinations(range(n), size)))  # face, entry
        sub = b[:, idx[:, :, None], idx[:, None, :]]  # matrix, face, s, s
        det = _det(sub)
        bound = _det_rounding(size) * np.prod(np.abs(sub).sum(axis=-1), axis=-1)
        rest = np.array([[j for j in range(size) if j != i] for i in range(size)])
        minors = sub[..., rest[:, None, :, None], rest[None, :, None, :]]
        sign = (-1.0) ** np.add.outer(np.arange(size), np.arange(size))
        cofactor = sign * _det(minors)
        minor_bound = _det_rounding(size - 1) * np.prod(np.abs(minors).sum(axis=-1), -1)
        negative = np.any(cofactor < -(minor_bound + tol), axis=(-2, -1))
        positive = np.all(sub > tol, axis=(-2, -1))
        strict = (det > bound + tol) | negative | positive
        keep = np.all(strict, axis=-1)
        alive, b = alive[keep], b[keep]
    out[alive] = True
    return out.reshape(lead)


def _det_rounding(s: int) -> float:
    """The rounding of :func:`_det` of order ``s`` relative to the product of
    the rows' 1-norms (which bounds ``|det|``): ``8s·ε`` for the expansions, and
    times ``2^(s-1)``, the worst pivot growth of partial pivoting, for LU."""
    growth = 1.0 if s <= 3 else 2.0 ** (s - 1)
    return 8 * s * np.finfo(float).eps * growth


def _det(x: np.ndarray) -> np.ndarray:
    """Determinants of the ``... × s × s`` matrices ``x``, expanded for ``s ≤ 3``."""
    s = x.shape[-1]
    if s == 1:
        return x[..., 0, 0]
    if s == 2:
        return x[..., 0, 0] * x[..., 1, 1] - x[..., 0, 1] * x[..., 1, 0]
    if s == 3:
        return (
            x[..., 0, 0] * (x[..., 1, 1] * x[..., 2, 2] - x[..., 1, 2] * x[..., 2, 1])
            - x[..., 0, 1] * (x[..., 1, 0] * x[..., 2, 2] - x[..., 1, 2] * x[..., 2, 0])
            + x[..., 0, 2] * (x[..., 1, 0] * x[..., 2, 1] - x[..., 1, 1] * x[..., 2, 0])
        )
    return np.linalg.det(x)


class _Projection:
    """The set of moments ``[outcome, target, others...]`` (``k ≥ 3`` rows) and
    its projection's proofs, in normalized coordinates (see the comment above)."""

    def __init__(self, coef, blocks, crit: float):
        k, p = coef.shape
        self.t = _normalizer(coef, blocks)
        normal = np.zeros((k, k))
        normal[:2, :2] = self.t
        for j in range(2, k):
            omega = (np.trace(blocks[j, j]) + coef[j] @ coef[j]) / p
            normal[j, j] = 1.0 / np.sqrt(omega) if omega > 0 else 1.0
        self.coef = normal.T @ coef
        self.blocks = np.einsum("jJ,kK,jkab->JKab", normal, normal, blocks)
        self.crit, self.k = crit, k
        outer = np.einsum("ja,kb->jkab", self.coef, self.coef)
        # (a, b) × (j, k), for products with outer products of rays or vectors
        flat = (crit * self.blocks - outer).reshape(k * k, p, p).transpose(1, 2, 0)
        self.k_flat = flat.reshape(p * p, k * k)
        v_flat = self.blocks.reshape(k * k, p, p).transpose(1, 2, 0)
        self.v_flat = v_flat.reshape(p * p, k * k)
        self.v_abs_flat = np.abs(self.v_flat)
        # the relative rounding of sums of at most p² + 2k² products
        self.rounding = 2.0 * (p * p + 2 * k * k) * np.finfo(float).eps
        self.memo: dict[float, list] = {}
        self.hint: dict[int, float] = {}

    def direction(self, psi: float) -> np.ndarray:
        """The weights ``(cos ψ, sin ψ, 0, ...)`` (exactly ``-e₀`` at ``ψ = π``)."""
        out = np.zeros(self.k)
        if psi == np.pi:
            out[0] = -1.0
        else:
            out[:2] = np.cos(psi), np.sin(psi)
        return out

    def points(self, psi: float) -> list[np.ndarray]:
        """Accepted weights above ``psi``, their first two ``(cos ψ, sin ψ)``:
        one per piece with one other coordinate (exact), else those found
        (:func:`_witnesses`), each moved to the least statistic found from it
        by :func:`_least` (deep in the fibre, where the segments of
        :meth:`inside` start); memoized."""
        if psi not in self.memo:
            e, c2, b2 = self.fibre(psi)
            found = []
            for v in _witnesses(c2, b2, self.crit, hint=self.hint):
                if v[0] == 0.0:
                    continue
                y = v[1:] / v[0]
                if self.k > 3:
                    deep = _accepted_least(c2, b2, self.crit, y)
                    y = y if deep is None else deep
                found.append(np.r_[e, y])
            self.memo[psi] = found
        return self.memo[psi]

    def member(self, psi: float) -> bool:
        return bool(self.points(psi))

    def accepts(self, psi: float, start: np.ndarray, search: bool = True) -> bool:
        """The verdict at ``psi``: exact with one other coordinate; with more,
        whether a point is found from the other weights ``start`` (a local
        search, for the bisection of an end and the tangency remnants next to
        accepted points) or, with ``search``, by :meth:`points`."""
        if self.k == 3 or self.memo.get(psi):
            return self.member(psi)
        return self.nearby(psi, start) or (search and self.member(psi))

    def fibre(self, psi: float):
        """``(cos ψ, sin ψ)`` and the moments of the fibre above ``psi`` (its
        outcome row the combination of the first two)."""
        e = self.direction(psi)[:2]
        return e, *_combine(self.coef, self.blocks, e, list(range(2, self.k)))

    def least(self, psi: float, start: np.ndarray) -> float:
        """The least statistic above ``psi`` found from the other weights
        ``start`` (:func:`_least`)."""
        _, c2, b2 = self.fibre(psi)
        return _least(c2, b2, start)[0]

    def nearby(self, psi: float, start: np.ndarray) -> bool:
        """Whether the least statistic above ``psi`` found from ``start`` is
        accepted; a point found is kept. A local search, for the bisection of
        an end with three or more coordinates (the arcs beside it are proved
        by :meth:`inside` and :meth:`outside`)."""
        e, c2, b2 = self.fibre(psi)
        y = _accepted_least(c2, b2, self.crit, start)
        if y is None:
            return False
        if not self.memo.get(psi):
            self.memo[psi] = [np.r_[e, y]]
        return True

    def clearance(self, end: float, side: int, start: np.ndarray, room: float):
        """How far beyond ``end`` (towards ``side``) the least statistic found
        from ``start`` exceeds the critical value by ``CLEARANCE`` of it: from
        ``MIN_WIDTH``, by factors of 8, within ``room`` and ``MAX_CLEARANCE``;
        0 if it does not (the side is then an ordinary arc)."""
        width = MIN_WIDTH
        while width < min(room, MAX_CLEARANCE):
            if self.least(end + side * width, start) > (1.0 + CLEARANCE) * self.crit:
                return width
            width *= 8.0
        return 0.0

    @staticmethod
    def angle(a: float, b: float, s):
        """The angle of ``(1 - s)·e(a) + s·e(b)``, ``e(ψ) = (cos ψ, sin ψ)``."""
        s = np.asarray(s, dtype=float)
        x = (1 - s) + s * np.cos(b - a)
        y = s * np.sin(b - a)
        return a + np.arctan2(y, x)

    def inside(self, a: float, b: float) -> list[tuple[float, float]] | None:
        """Arcs of ``[a, b]`` proved inside by a segment, or None."""
        for wa in self.points(a):
            for wb in self.points(b):
                # the line wa + s·(wb - wa), its direction of unit length (the
                # ends of a short arc are all but equal)
                step = wb - wa
                length = np.linalg.norm(step)
                lin = np.vstack([wa, -step / length])
                c2 = lin @ self.coef
                b2 = np.einsum("Jj,Kk,jkab->JKab", lin, lin, self.blocks)
                along = [
                    (lo / length, hi / length)
                    for lo, hi in _one_nuisance_set(c2, b2, self.crit)
                ]
                if not along:
                    continue
                lo, hi = max(along, key=lambda ab: min(ab[1], 1) - max(ab[0], 0))
                left = a if lo <= 0.0 else float(self.angle(a, b, lo))
                right = b if hi >= 1.0 else float(self.angle(a, b, hi))
                if left - a >= MIN_WIDTH or b - right >= MIN_WIDTH:
                    continue
                arcs = [(left, right)]
                # the remnants at the ends: their midpoints' verdicts
                for x, y, w in ((a, left, wa), (right, b, wb)):
                    if y > x and self.accepts((x + y) / 2, w[2:]):
                        arcs.append((x, y))
                return arcs
        return None

    def outside(self, a: float, b: float):
        """Prove ``[a, b]`` outside: True, an accepted angle inside it, or None.

        The column is covered by the simplicial cones of the rays ``e(a)``,
        ``e(b)`` and ``±`` each other axis; each is proved with ``z`` from its
        centre or a ray, or halved across its longest edge.
        """
        k = self.k
        signs = np.array(list(itertools.product([1.0, -1.0], repeat=k - 2)))
        cells = np.zeros((len(signs), k, k))  # cone, ray, coordinate
        cells[:, 0] = self.direction(a)
        cells[:, 1] = self.direction(b)
        for j in range(2, k):
            cells[:, j, j] = signs[:, j - 2]
        budget = CELL_BUDGET * len(cells)
        upper = np.triu_indices(k, 1)
        tried = 0
        while len(cells):
            tried += len(cells)
            if tried > budget:
                return None
            cosines = np.einsum("mik,mjk->mij", cells, cells)[:, upper[0], upper[1]]
            edges = np.arccos(np.clip(cosines, -1.0, 1.0))
            centre = cells.sum(axis=1)
            centre /= np.linalg.norm(centre, axis=1, keepdims=True)
            psi = np.arctan2(centre[:, 1], centre[:, 0])
            thin = edges.max(axis=1) < MIN_WIDTH  # a tangency: its centre's verdict
            for angle in psi[thin]:
                if self.member(float(angle)):
                    return float(angle)
            cells, edges, centre, psi = (
                cells[~thin],
                edges[~thin],
                centre[~thin],
                psi[~thin],
            )
            if not len(cells):
                break
            rays = np.concatenate([centre[:, None], cells], axis=1)
            outer = (rays[..., :, None] * rays[..., None, :]).reshape(
                *rays.shape[:2], k * k
            )
            q = (outer @ self.k_flat.T).reshape(*rays.shape[:2], *self.blocks.shape[2:])
            lam, vec = np.linalg.eigh(q)
            for i in np.flatnonzero(lam[:, 0, 0] >= 0):
                if _stat(self.coef, self.blocks, centre[i]) <= self.crit:
                    if not self.memo.get(float(psi[i])):
                        point = centre[i] / np.linalg.norm(centre[i, :2])
                        self.memo[float(psi[i])] = [point]
                    return float(psi[i])
            proved = self.rejects(cells, vec[..., 0])
            cells, edges = cells[~proved], edges[~proved]
            # halve across the longest edge
            longest = np.argmax(edges, axis=1)
            i, j = upper[0][longest], upper[1][longest]
            rows = np.arange(len(cells))
            mid = cells[rows, i] + cells[rows, j]
            mid /= np.linalg.norm(mid, axis=1, keepdims=True)
            first, second = cells.copy(), cells.copy()
            first[rows, i] = mid
            second[rows, j] = mid
            cells = np.concatenate([first, second])
        return True

    def rejects(self, cells, vectors) -> np.ndarray:
        """Per cone, whether one of its ``vectors`` ``z`` has ``zᵀQ(w)z < 0`` on it.

        ``zᵀQ(Rλ)z = c·λᵀRᵀV_z Rλ - (gᵀλ)²`` with ``(V_z)_jk = zᵀV_jk z`` and
        ``g = RᵀCz``: the outcome's large cross-products cancel before they
        are formed. A bound on the rounding of both terms is subtracted.
        """
        u = self.rounding
        r = cells[:, None]  # cone, -, ray, coordinate
        rt, size = np.swapaxes(r, -1, -2), np.abs(r)
        vz = self.forms(vectors, self.v_flat)
        vz_abs = self.forms(np.abs(vectors), self.v_abs_flat)
        h = (vectors @ self.coef.T)[..., None]  # C z
        h_abs = (np.abs(vectors) @ np.abs(self.coef).T)[..., None]
        g = (r @ h)[..., 0]  # cone, vector, ray
        slack = u * (size @ h_abs)[..., 0]
        big = np.abs(g) + slack
        outer = g[..., :, None] * g[..., None, :]
        m = outer - self.crit * (r @ vz @ rt)
        m -= u * self.crit * (size @ vz_abs @ np.swapaxes(size, -1, -2))
        m -= big[..., :, None] * big[..., None, :] * (1 + u) - np.abs(outer)
        return np.any(_copositive(m), axis=1)

    def forms(self, vectors, flat) -> np.ndarray:
        """``(zᵀX_jk z)_jk`` for each vector ``z`` (``... × p``) of blocks ``X``
        stored as ``flat`` (``(a, b) × (j, k)``)."""
        outer = vectors[..., :, None] * vectors[..., None, :]
        lead = vectors.shape[:-1]
        return (outer.reshape(*lead, -1) @ flat).reshape(*lead, self.k, self.k)

    def arcs(self) -> list[tuple[float, float]]:
        """The proved-inside arcs of ``[0, π]`` (angles of the projected coordinate).

        After ``ARC_BUDGET`` arcs the arcs still unresolved are kept (a larger
        set keeps its coverage), with a warning.
        """
        grid = np.pi * np.arange(START_ANGLES + 1) / START_ANGLES
        stack = [(float(x), float(y)) for x, y in zip(grid[:-1], grid[1:], strict=True)]
        arcs: list[tuple[float, float]] = []
        for _ in range(ARC_BUDGET):
            if not stack:
                break
            a, b = stack.pop()
            in_a, in_b = self.member(a), self.member(b)
            if in_a != in_b:  # an end: bisected to rounding
                lo, hi = a, b
                last = self.points(a if in_a else b)[0][2:]
                for _ in range(BISECTIONS):
                    mid = (lo + hi) / 2
                    if mid in (lo, hi):
                        break
                    accepted = self.accepts(mid, last, search=False)
                    if accepted:
                        last = self.points(mid)[0][2:]
                    if accepted == in_a:
                        lo = mid
                    else:
                        hi = mid
                # the rejected side keeps off the end by its clearance: a
                # tangency remnant (with the bracket), decided by its
                # midpoint's verdict
                if in_a:
                    edge = hi + self.clearance(hi, 1, last, b - hi)
                    stack += [(a, lo), (edge, b)]
                    remnant = (lo, edge)
                else:
                    edge = lo - self.clearance(lo, -1, last, lo - a)
                    stack += [(a, edge), (hi, b)]
                    remnant = (edge, hi)
                if self.accepts(sum(remnant) / 2, last):
                    arcs.append(remnant)
                continue
            if b - a < MIN_WIDTH:  # a tangency: the midpoint's verdict
                if self.member((a + b) / 2):
                    arcs.append((a, b))
                continue
            if in_a:
                proved = self.inside(a, b)
                if proved is not None:
                    arcs += proved
                    continue
                cut = (a + b) / 2
            else:
                proved = self.outside(a, b)
                if proved is True:
                    continue
                cut = (a + b) / 2 if proved is None else proved
                if not a < cut < b:
                    cut = (a + b) / 2
            stack += [(a, cut), (cut, b)]
        if stack:
            warnings.warn(
                f"the projection of the joint robust Anderson-Rubin set did not "
                f"resolve within {ARC_BUDGET} arcs; {len(stack)} unresolved arcs "
                f"of its projective line are kept in the set, which is therefore "
                f"conservative",
                RuntimeWarning,
                stacklevel=2,
            )
            arcs += stack
        return merge_intervals(arcs)


def _robust_projection(coef, blocks, target: int, crit: float):
    """The projection onto coordinate ``target`` of ``{θ : W(θ) ≤ crit}``.

    ``coef`` (``1 + q`` rows, ``q ≥ 2``: outcome, then the coordinates) and
    ``blocks`` (``(1 + q) × (1 + q) × p × p``) are the moments; see the
    comment above.
    """
    q = coef.shape[0] - 1
    order = [0, 1 + target] + [j for j in range(1, q + 1) if j != 1 + target]
    coef, blocks = coef[order], blocks[np.ix_(order, order)]
    if _witnesses(coef[2:], blocks[2:, 2:], crit):
        return [(-inf, inf)]  # the other coordinates' infinity: every angle
    plane = _Projection(coef, blocks, crit)
    arcs = plane.arcs()
    if not arcs:
        return []
    if arcs[0][0] == 0.0 and arcs[-1][1] == np.pi:
        if len(arcs) == 1:
            return [(-inf, inf)]
        first = arcs.pop(0)
        arcs[-1] = (arcs[-1][0], first[1] + np.pi)
    t = plane.t
    psi_inf = float(np.mod(np.arctan2(-t[0, 0], t[0, 1]), np.pi))
    pieces = []
    for lo, hi in arcs:
        a, b = sorted([_theta(t, lo), _theta(t, hi)])
        k = np.floor((lo - psi_inf) / np.pi) + 1
        if psi_inf + k * np.pi < hi:  # the arc passes θ = ±∞
            pieces += [(-inf, a), (b, inf)]
        else:
            pieces.append((a, b))
    return merge_intervals(pieces)


def robust_projection_set(
    moments: AndersonRubinMoments, index: int, confidence_level: float
) -> list[tuple[float, float]]:
    """The projection onto ``θ_{M_index}`` of the joint robust Anderson–Rubin set.

    Valid with every covariance type (Dufour and Taamouti 2005). Every arc of
    the projective line is proved inside (an accepted segment of the joint
    set above it) or outside (copositive certificates that the joint
    statistic exceeds the critical value above it), and the ends are bisected
    to rounding. Unproved, and decided by the verdict at their midpoint, are
    only the arcs and cones narrower than ``MIN_WIDTH`` (tangencies) and the
    remnants beside an end where the statistic is within ``CLEARANCE`` of
    the critical value (at most ``MAX_CLEARANCE`` radians); with three or
    more mediators that verdict comes from a search, which can miss a point.
    After ``ARC_BUDGET`` arcs the unresolved ones are kept, with a warning.
    """
    _check_mediator(moments, index)
    crit = critical_value(moments, confidence_level)
    return _robust_projection(moments.coef, _cov_blocks(moments), index, crit)


def direct_rows(moments: AndersonRubinMoments):
    """The moments ``[y, R, M_1..M_q]`` of the joint set of ``(θ_R, θ_M)``: ``p + 1``
    instruments (the treatment's own coordinate first), the treatment's rows
    of the covariance zero (it has no residual on the instruments)."""
    q, p1 = moments.n_mediators, moments.n_instruments + 1
    coords = np.vstack([moments.treatment_coef, moments.coef.T])  # (p + 1) × (1 + q)
    treatment = np.zeros(p1)
    treatment[0] = moments.treatment_scale
    coef = np.vstack([coords[:, 0], treatment, coords[:, 1:].T])
    cov = moments.joint_cov.reshape(1 + q, p1, 1 + q, p1).transpose(0, 2, 1, 3)
    blocks = np.zeros((q + 2, q + 2, p1, p1))
    keep = np.r_[0, 2 : q + 2]
    blocks[np.ix_(keep, keep)] = cov
    return coef, blocks


def robust_direct_projection_set(
    moments: AndersonRubinMoments, confidence_level: float
) -> list[tuple[float, float]]:
    """The projection onto ``θ_R`` of the joint robust set of ``(θ_R, θ_M)``.

    Under ``H₀: (θ_R, θ_M) = (r, θ)`` the treatment is one more excluded
    instrument (``p + 1`` of them, ``p + 1`` degrees of freedom): the joint set
    of the moments of :func:`direct_rows`, projected onto the treatment's row
    as :func:`robust_projection_set` projects onto a mediator's.
    """
    coef, blocks = direct_rows(moments)
    crit = critical_value_for(moments, coef.shape[1], confidence_level)
    return _robust_projection(coef, blocks, 0, crit)
