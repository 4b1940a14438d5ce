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
projection onto one mediator is found on the projective line of that
mediator's effect: with two mediators each arc of it is proved inside (an
accepted segment of the joint set above it) or outside (``zᵀQ(w)z < 0``
above it, ``Q(w) = c·V(w) - ππᵀ``, on cones whose strict copositivity is
checked in closed form; Hadeler 1983, Chang and Sederberg 1994), subdividing
where neither proof holds; see the comment before ``ANGLES_PER_INSTRUMENT``.

References
----------
.. [1] Dufour, J.-M. and Taamouti, M. (2005). Projection-based statistical
   inference in linear structural models with possibly weak instruments.
   *Econometrica*, 73(4), 1351–1365.
.. [2] Guggenberger, P., Kleibergen, F., Mavroeidis, S. and Chen, L. (2012).
   On the asymptotic sizes of subset Anderson–Rubin and Lagrange multiplier
   tests in linear instrumental variables regression. *Econometrica*, 80(6),
   2649–2666.
.. [3] Hadeler, K. P. (1983). On copositive matrices. *Linear Algebra and
   its Applications*, 49, 79–89.
.. [4] Chang, G. and Sederberg, T. W. (1994). Nonnegative quadratic Bézier
   triangular patches. *Computer Aided Geometric Design*, 11(1), 113–116.
"""

from __future__ import annotations

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
# joint set is no quadric. A value ``t`` of the projected coordinate belongs to
# the projection exactly when the joint set of the remaining coordinates, with
# the outcome row replaced by ``outcome - t·target``, is not empty. With one
# remaining coordinate that set is a one-mediator robust Anderson–Rubin set,
# whose ends are the real eigenvalues of a quadratic matrix polynomial (QZ) and
# whose pieces are read at points inside: membership is decided exactly. With
# more, the same question is asked recursively. The projected coordinate is
# an angle on the projective line (``t = ±∞`` an ordinary point), in the
# normalized coordinates of :mod:`~skmediate._numerics.kleibergen`.
#
# With two coordinates every arc of that line is proved inside or outside the
# projection (the certified subdivision below, ``_TwoCoordinates``), so no
# piece or gap is missed, however narrow. With three or more, membership is
# read at equispaced angles (the inner set's nonemptiness itself by such a
# scan, refined on the margin of its one-coordinate sets), which can miss a
# piece narrower than the spacing. In both, each change of verdict between
# neighbours is a bracket, bisected to rounding.

# equispaced angles per excluded instrument (and a floor) of the search with
# three or more coordinates
ANGLES_PER_INSTRUMENT = 12
MIN_ANGLES = 48
# bisection steps on an end's bracket (π/48 / 2⁴⁴ is below rounding)
BISECTIONS = 44
# local minima of the margin refined when no sampled angle is accepted
REFINED_MINIMA = 2
# ... if their margin is below this fraction of the critical value
NEAR_MARGIN = 0.25


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


def _one_nuisance_set(
    coef, blocks, crit: float, margin: list | None = None
) -> list[tuple[float, float]]:
    """``{s : W(s) ≤ crit}`` for moments ``[outcome, one mediator]`` (exact).

    With ``margin`` (a list), appends ``min W - crit`` over the real parts of
    the eigenvalues and ``s = ±∞``: where the set has just vanished, its two
    ends have become a complex pair whose real part is near the minimum, so
    the margin says how far the set is from appearing.
    """
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
    # the statistic at s = ±∞, between and beyond the roots, and (for the
    # margin) at the real parts of the two most nearly real eigenvalues
    points = []
    if roots.size:
        points = [roots[0] - 1.0 - abs(roots[0])]
        points += list((roots[:-1] + roots[1:]) / 2)
        points += [roots[-1] + 1.0 + abs(roots[-1])]
    nearest = []
    if margin is not None:
        order = np.argsort(np.abs(near.imag) / np.maximum(np.abs(near.real), 1.0))
        nearest = list(near.real[order[:2]])
    ws = np.zeros((1 + len(points) + len(nearest), 2))
    ws[0] = [0.0, -1.0]
    ws[1:, 0] = 1.0
    ws[1:, 1] = -np.array(points + nearest, dtype=float)
    values = _stats(coef, blocks, ws)
    if margin is not None:  # the least statistic near the most nearly real pair
        margin.append(min([values[0], *values[1 + len(points) :]]) - crit)
    at_infinity = values[0] <= crit
    if not roots.size:
        return [(-inf, inf)] if at_infinity else []
    edges = [-inf, *roots.tolist(), inf]
    out: list[tuple[float, float]] = []
    for lo, hi, value in zip(
        edges[:-1], edges[1:], values[1 : 1 + len(points)], strict=True
    ):
        if not value <= crit:
            continue
        if out and out[-1][1] == lo:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def _nonempty(coef, blocks, crit: float, hint: list, margin=None) -> bool:
    """Whether the joint set of moments ``[outcome, mediators...]`` has a point.

    ``hint`` holds, per level of the recursion, the angle accepted last (the
    scan starts there; only the speed depends on it).
    """
    q = coef.shape[0] - 1
    if q == 0:
        return _stat(coef, blocks, np.array([1.0])) <= crit
    if q == 1:
        return bool(_one_nuisance_set(coef, blocks, crit, margin))
    found = _scan(coef, blocks, 0, crit, hint, first_only=True) is not None
    if margin is not None:
        margin.append(-1.0 if found else 1.0)
    return found


def _normalizer(coef, blocks) -> np.ndarray:
    """``T`` with ``Tᵀ Ω T = I``: ``Ω`` the average over the instruments of the
    outcome-target blocks plus the coefficients' cross-products (definite even
    when a row, such as the treatment's, has no variance)."""
    p = blocks.shape[-1]
    omega = (np.trace(blocks[:2, :2], axis1=2, axis2=3) + coef[:2] @ coef[:2].T) / p
    return np.linalg.inv(np.linalg.cholesky(omega)).T


def _scan(coef, blocks, target: int, crit: float, hint: list, first_only: bool):
    """Membership of the projection onto ``target`` at equispaced angles.

    Returns ``(angles, verdicts, member, t)``, or with ``first_only`` an
    accepted angle (None if there is none).
    """
    q = coef.shape[0] - 1
    order = [0, 1 + target] + [k for k in range(1, q + 1) if k != 1 + target]
    coef, blocks = coef[order], blocks[np.ix_(order, order)]
    keep = list(range(2, q + 1))
    t = _normalizer(coef, blocks)
    depth = q - 1  # the levels below use hint[depth - 1], ...
    while len(hint) < depth + 1:
        hint.append(0.0)

    def member(psi, margin=None):
        u = t @ np.array([np.cos(psi), np.sin(psi)])
        c2, b2 = _combine(coef, blocks, u, keep)
        return _nonempty(c2, b2, crit, hint, margin)

    n = max(MIN_ANGLES, ANGLES_PER_INSTRUMENT * coef.shape[1])
    if first_only:  # the margin's refinement finds what the coarser scan misses
        n = max(n // 2, 8)
    angles = np.pi * np.arange(n) / n
    if first_only:
        start = int(np.argmin(np.abs(angles - hint[depth])))
        margins = np.empty(n)
        for i in np.r_[start:n, 0:start]:
            out: list = []
            if member(angles[i], out):
                hint[depth] = angles[i]
                return angles[i]
            margins[i] = out[0]
        # no sampled angle is accepted: a piece narrower than the spacing is
        # sought where the margin has a local minimum
        step = np.pi / n
        local = [
            i
            for i in range(n)
            if margins[i] <= margins[i - 1] and margins[i] <= margins[(i + 1) % n]
        ]
        near = [i for i in local if margins[i] <= NEAR_MARGIN * crit]
        for i in sorted(near, key=lambda k: margins[k])[:REFINED_MINIMA]:
            found = _golden(member, angles[i] - step, angles[i] + step)
            if found is not None:
                hint[depth] = found
                return found
        return None
    verdicts = np.array([member(psi) for psi in angles])
    return angles, verdicts, member, t


def _golden(member, lo: float, hi: float) -> float | None:
    """Golden-section search for an accepted angle in ``[lo, hi]``, on the margin.

    Stops at the first accepted angle; None if the margin's minimum (to
    ``1e-10`` of the bracket) is not accepted.
    """
    step = hi - lo
    ratio = (np.sqrt(5.0) - 1.0) / 2.0

    def margin(psi):
        out: list = []
        return member(psi % np.pi, out), out[0]

    x1, x2 = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    (ok1, f1), (ok2, f2) = margin(x1), margin(x2)
    while True:
        if ok1:
            return x1 % np.pi
        if ok2:
            return x2 % np.pi
        if hi - lo <= 1e-10 * step:
            return None
        if f1 <= f2:
            hi, x2, ok2, f2 = x2, x1, ok1, f1
            x1 = hi - ratio * (hi - lo)
            ok1, f1 = margin(x1)
        else:
            lo, x1, ok1, f1 = x1, x2, ok2, f2
            x2 = lo + ratio * (hi - lo)
            ok2, f2 = margin(x2)


def _robust_projection(coef, blocks, target: int, crit: float):
    """The projection onto coordinate ``target`` of ``{θ : W(θ) ≤ crit}``.

    ``coef`` (``1 + q`` rows: outcome, then the coordinates) and ``blocks``
    (``(1 + q) × (1 + q) × p × p``) are the moments; see the comment above.
    """
    if coef.shape[0] == 3:
        return _certified_projection(coef, blocks, target, crit)
    angles, verdicts, member, t = _scan(coef, blocks, target, crit, [], False)
    n = angles.size
    if verdicts.all():
        return [(-inf, inf)]
    if not verdicts.any():
        return []
    # ends: bisection on each bracket (circularly), to rounding in ψ
    ends = []
    nxt = np.append(angles[1:], np.pi)
    for i in range(n):
        if verdicts[i] == verdicts[(i + 1) % n]:
            continue
        lo, hi, inside_lo = angles[i], nxt[i], bool(verdicts[i])
        for _ in range(BISECTIONS):
            mid = (lo + hi) / 2
            if mid in (lo, hi):
                break
            if member(mid % np.pi) == inside_lo:
                lo = mid
            else:
                hi = mid
        ends.append(((lo if inside_lo else hi) % np.pi, inside_lo))
    ends.sort()
    psi_inf = float(np.mod(np.arctan2(-t[0, 0], t[0, 1]), np.pi))
    starts = [e for e, leaving in ends if not leaving]
    stops = [e for e, leaving in ends if leaving]
    pieces = []
    for lo in starts:
        later = [s for s in stops if s > lo]
        hi = later[0] if later else stops[0] + np.pi
        a, b = sorted([_theta(t, lo), _theta(t, hi)])
        k = np.ceil((lo - psi_inf) / np.pi)
        if psi_inf + k * np.pi < hi:  # the arc passes θ = ±∞
            pieces += [(-inf, a), (b, inf)]
        else:
            pieces.append((a, b))
    return merge_intervals(pieces)


def _theta(t, psi) -> float:
    u = t @ np.array([np.cos(psi), np.sin(psi)])
    with np.errstate(divide="ignore"):
        return float(-u[1] / u[0])


# -- the certified projection with two coordinates -------------------------------
#
# The projective line of the projected coordinate (angle ψ) is cut into arcs
# and each arc is proved to lie inside or outside the projection:
#
# - inside: accepted points ``w_a``, ``w_b`` above its two ends (the first two
#   entries of each a positive multiple of the end's direction) whose segment
#   ``(1 - s)w_a + s w_b``, ``0 ≤ s ≤ 1``, is accepted throughout. Along a line
#   the statistic is that of a one-mediator set (:func:`_one_nuisance_set` of
#   the two rows ``w_aᵀC`` and ``(w_a - w_b)ᵀC``), and the segment's points lie
#   above every angle of the arc.
# - outside: the arc's column (its angles × the other coordinate's projective
#   line, a rectangle in ``s`` and the other coordinate's angle ``f``) is
#   covered by cells, each the cone of its four corners' rays (two triangles;
#   one at a pole, where the other coordinate is infinite), and each cell has
#   a vector ``z`` with ``zᵀQ(w)z < 0`` throughout, ``Q(w) = c·V(w) - π(w)π(w)ᵀ``
#   (``Q(w)`` positive semidefinite is the acceptance of ``w``). With ``R``
#   the rays this is the strict copositivity of ``ggᵀ - c·RᵀV_z R``,
#   ``(V_z)_jk = zᵀV_jk z``, ``g = RᵀCz`` (closed form in :func:`_copositive`),
#   tested with a bound on its rounding subtracted; ``z`` is the eigenvector
#   of the least eigenvalue of ``Q`` at the cell's centre or one of its
#   corners.
#
# Arcs with neither proof are halved, and cells without one are cut (an
# accepted centre is an accepted angle: the arc is cut there). Where the
# verdicts at an arc's two ends differ, the change is bisected to rounding,
# and the rejected side is proved from ``MIN_WIDTH`` beyond the bracket (at
# the bracket itself the margin is rounding). Only arcs (and cells' ranges of
# angles) narrower than ``MIN_WIDTH`` are left unproved: tangencies, decided
# by the exact membership of their midpoints; so are the ends of an inside
# segment within ``MIN_WIDTH`` of an accepted end.

# the first partition of the projective line
START_ANGLES = 8
# arcs and cones narrower than this (radians) take their midpoint's verdict
MIN_WIDTH = 1e-12
# cells tried for one arc before the arc is halved instead
CELL_BUDGET = 2000
# parts a cell without a proof is cut into across each of its sides
CUTS = 3


def _copositive(a: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """Whether each symmetric ``n × n`` (``n ≤ 3``) matrix of ``a`` (``... × n × n``)
    is strictly copositive: ``λᵀaλ > 0`` for every ``λ ≥ 0``, ``λ ≠ 0``.

    With the diagonal scaled to ones (``a_ii > 0`` is necessary), ``a_ij > -1``
    and, for ``n = 3``, ``1 + a12 + a13 + a23 + √(2(1 + a12)(1 + a13)(1 + a23))
    > 0`` (Hadeler 1983; Chang and Sederberg 1994), each with margin ``tol``.
    """
    a = np.asarray(a, dtype=float)
    n = a.shape[-1]
    d = np.diagonal(a, axis1=-2, axis2=-1)
    ok = np.all(d > 0, axis=-1)
    scale = 1.0 / np.sqrt(np.where(d > 0, d, 1.0))
    b = a * scale[..., :, None] * scale[..., None, :]
    upper = np.triu_indices(n, 1)
    ok &= np.all(b[..., upper[0], upper[1]] > -1.0 + tol, axis=-1)
    if n < 3:
        return ok
    b12, b13, b23 = b[..., 0, 1], b[..., 0, 2], b[..., 1, 2]
    product = np.maximum((1.0 + b12) * (1.0 + b13) * (1.0 + b23), 0.0)
    return ok & (1.0 + b12 + b13 + b23 + np.sqrt(2.0 * product) > tol)


def _cut(cells: np.ndarray, lo: int, which: np.ndarray, mark: np.ndarray):
    """``cells`` (rows ``s0, s1, f0, f1``) with those ``which`` cut in
    ``CUTS`` equal parts across columns ``lo, lo + 1``; and ``mark``, carried
    to the parts."""
    cut = cells[which]
    step = (cut[:, lo + 1] - cut[:, lo]) / CUTS
    parts = []
    for i in range(CUTS):
        part = cut.copy()
        part[:, lo] = cut[:, lo] + i * step
        if i < CUTS - 1:
            part[:, lo + 1] = cut[:, lo] + (i + 1) * step
        if i > 0:
            part[:, lo] = parts[-1][:, lo + 1]
        parts.append(part)
    out = np.vstack([cells[~which], *parts])
    return out, np.r_[mark[~which], np.tile(mark[which], CUTS)]


class _TwoCoordinates:
    """The set of moments ``[outcome, target, other]`` and its projection's proofs."""

    def __init__(self, coef, blocks, crit: float):
        self.coef, self.blocks, self.crit = coef, blocks, crit
        self.t = _normalizer(coef, blocks)
        p = coef.shape[1]
        omega = (np.trace(blocks[2, 2]) + coef[2] @ coef[2]) / p
        self.sigma = np.sqrt(omega) if omega > 0 else 1.0
        outer = np.einsum("ja,kb->jkab", coef, coef)
        # (j, k) × (a, b), for products with outer products of rays or vectors
        flat = (crit * blocks - outer).reshape(9, p, p).transpose(1, 2, 0)
        self.k_flat = flat.reshape(p * p, 9)
        self.v_flat = blocks.reshape(9, p, p).transpose(1, 2, 0).reshape(p * p, 9)
        self.v_abs_flat = np.abs(self.v_flat)
        # the relative rounding of sums of at most p² + 16 products
        self.rounding = 2.0 * (p * p + 16) * np.finfo(float).eps
        self.memo: dict[float, list] = {}

    def direction(self, psi: float) -> np.ndarray:
        """``(u, 0)``: the outcome and target weights at angle ``psi``."""
        if psi == np.pi:
            return -self.direction(0.0)
        return np.r_[self.t @ np.array([np.cos(psi), np.sin(psi)]), 0.0]

    def pieces(self, psi: float) -> list[tuple[float, float]]:
        """``{s : W(u, -s) ≤ c}`` at angle ``psi`` (exact; memoized)."""
        if psi not in self.memo:
            if psi == np.pi:
                found = [(-hi, -lo) for lo, hi in reversed(self.pieces(0.0))]
            else:
                u = self.direction(psi)[:2]
                c2, b2 = _combine(self.coef, self.blocks, u, [2])
                found = _one_nuisance_set(c2, b2, self.crit)
            self.memo[psi] = found
        return self.memo[psi]

    def points(self, psi: float) -> list[np.ndarray]:
        """An accepted point per piece at ``psi``: the middle of its angle."""
        out = []
        for lo, hi in self.pieces(psi):
            mid = (np.arctan(-lo * self.sigma) + np.arctan(-hi * self.sigma)) / 2
            w = self.direction(psi)
            w[2] = np.tan(mid) / self.sigma
            out.append(w)
        return out

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
                lin = np.vstack([wa, wa - wb])
                c2 = lin @ self.coef
                b2 = np.einsum("Jj,Kk,jkab->JKab", lin, lin, self.blocks)
                along = _one_nuisance_set(c2, b2, self.crit)
                if not along:
                    continue
                lo, hi = max(along, key=lambda ab: min(ab[1], 1) - max(ab[0], 0))
                left = self.angle(a, b, max(lo, 0.0))
                right = self.angle(a, b, min(hi, 1.0))
                if left - a >= MIN_WIDTH or b - right >= MIN_WIDTH:
                    continue
                arcs = [(left, right)]
                # the remnants at the ends: their midpoints' verdicts
                for x, y in ((a, left), (right, b)):
                    if y > x and self.pieces((x + y) / 2):
                        arcs.append((x, y))
                return arcs
        return None

    def rays(self, ua, ub, s, f) -> np.ndarray:
        """``cos f·((1 - s)u_a + s u_b) + sin f·e/σ`` (``e`` the other
        coordinate's axis), exactly ``±e/σ`` at ``f = ±π/2``."""
        pole = np.abs(f) == np.pi / 2
        cos = np.where(pole, 0.0, np.cos(f))
        sin = np.where(pole, np.sign(f), np.sin(f))
        out = cos[..., None] * ((1 - s)[..., None] * ua + s[..., None] * ub)
        out[..., 2] = sin / self.sigma
        return out

    def outside(self, a: float, b: float):
        """Prove ``[a, b]`` outside: True, an accepted angle inside it, or None.

        The column is the rectangle ``0 ≤ s ≤ 1`` (the angle of
        ``(1 - s)u_a + s u_b``), ``-π/2 ≤ f ≤ π/2`` (the other coordinate's
        angle); each cell of it is the cone of its four corners' rays (two
        triangles; one at the poles), proved with ``z`` from the centre or a
        corner, or halved across its longer side (``s`` measured by its angle).
        """
        ua, ub = self.direction(a), self.direction(b)
        edges = np.pi / 4 * np.arange(-2, 3)
        cells = np.column_stack(
            [np.zeros(4), np.ones(4), edges[:-1], edges[1:]]
        )  # s0, s1, f0, f1
        tried = 0
        while len(cells):
            tried += len(cells)
            if tried > CELL_BUDGET:
                return None
            s0, s1, f0, f1 = cells.T
            width = self.angle(a, b, s1) - self.angle(a, b, s0)
            thin = width < MIN_WIDTH  # a tangency: the midpoint's verdict
            for psi in self.angle(a, b, (s0[thin] + s1[thin]) / 2):
                if self.pieces(float(psi)):
                    return float(psi)
            cells, width = cells[~thin], width[~thin]
            if not len(cells):
                break
            s0, s1, f0, f1 = cells.T
            sm, fm = (s0 + s1) / 2, (f0 + f1) / 2
            s = np.column_stack([sm, s0, s1, s1, s0])
            f = np.column_stack([fm, f0, f0, f1, f1])
            rays = self.rays(ua, ub, s, f)  # cell, point, coordinate
            outer = (rays[..., :, None] * rays[..., None, :]).reshape(
                *rays.shape[:2], 9
            )
            q = (outer @ self.k_flat.T).reshape(*rays.shape[:2], *self.blocks.shape[2:])
            lam, vec = np.linalg.eigh(q)
            for i in np.flatnonzero(lam[:, 0, 0] >= 0):
                if _stat(self.coef, self.blocks, rays[i, 0]) <= self.crit:
                    return float(self.angle(a, b, sm[i]))
            proved = self.rejects(rays, vec[..., 0])
            cells, width = cells[~proved], width[~proved]
            height = cells[:, 3] - cells[:, 2]
            by_s, by_f = width > height / 4, height > width / 4
            cells, by_f = _cut(cells, 0, by_s, by_f)
            cells, _ = _cut(cells, 2, by_f, by_f)
        return True

    def rejects(self, rays, vectors) -> np.ndarray:
        """Per cell, whether one of its ``vectors`` ``z`` has ``zᵀQ(w)z < 0`` on
        the cones of its corners ``rays[:, 1:]`` (a degenerate triangle at a
        pole repeats a ray: harmless).

        ``zᵀQ(Rλ)z = c·λᵀRᵀV_z Rλ - (gᵀλ)²`` with ``(V_z)_jk = zᵀV_jk z`` and
        ``g = RᵀCz``: the outcome's large cross-products cancel before they
        are formed. A bound on the rounding of both terms is subtracted.
        """
        u = self.rounding
        r = rays[:, None, [[1, 2, 3], [1, 3, 4]]]  # cell, -, cone, ray, coordinate
        rt, size = np.swapaxes(r, -1, -2), np.abs(r)
        vz = self.forms(vectors, self.v_flat)[:, :, None]
        vz_abs = self.forms(np.abs(vectors), self.v_abs_flat)[:, :, None]
        h = (vectors @ self.coef.T)[:, :, None, :, None]  # C z
        h_abs = (np.abs(vectors) @ np.abs(self.coef).T)[:, :, None, :, None]
        g = (r @ h)[..., 0]  # cell, vector, cone, ray
        slack = u * (size @ h_abs)[..., 0]
        big = np.abs(g) + slack
        m = (g[..., :, None] * g[..., None, :]) - self.crit * (r @ vz @ rt)
        m -= u * self.crit * (size @ vz_abs @ np.swapaxes(size, -1, -2))
        m -= big[..., :, None] * big[..., None, :] * (1 + u) - np.abs(
            g[..., :, None] * g[..., None, :]
        )
        return np.any(np.all(_copositive(m), axis=2), axis=1)

    def forms(self, vectors, flat) -> np.ndarray:
        """``(zᵀX_jk z)_jk`` for each vector ``z`` (``... × p``) of blocks ``X``
        stored as ``flat`` (``(a, b) × (j, k)``)."""
        outer = vectors[..., :, None] * vectors[..., None, :]
        lead = vectors.shape[:-1]
        return (outer.reshape(*lead, -1) @ flat).reshape(*lead, 3, 3)

    def arcs(self) -> list[tuple[float, float]]:
        """The proved-inside arcs of ``[0, π]`` (angles of the projected coordinate)."""
        grid = np.pi * np.arange(START_ANGLES + 1) / START_ANGLES
        grid[-1] = np.pi
        stack = [(float(x), float(y)) for x, y in zip(grid[:-1], grid[1:], strict=True)]
        arcs: list[tuple[float, float]] = []
        while stack:
            a, b = stack.pop()
            in_a, in_b = bool(self.pieces(a)), bool(self.pieces(b))
            if in_a != in_b:  # an end: bisected to rounding
                lo, hi = a, b
                for _ in range(BISECTIONS):
                    mid = (lo + hi) / 2
                    if mid in (lo, hi):
                        break
                    if bool(self.pieces(mid)) == in_a:
                        lo = mid
                    else:
                        hi = mid
                # the rejected side keeps off the end by MIN_WIDTH: a
                # tangency remnant, decided by its midpoint's verdict
                if in_a:
                    edge = min(hi + MIN_WIDTH, b)
                    stack += [(a, lo), (edge, b)]
                    remnant = (hi, edge)
                else:
                    edge = max(lo - MIN_WIDTH, a)
                    stack += [(a, edge), (hi, b)]
                    remnant = (edge, lo)
                if self.pieces(sum(remnant) / 2):
                    arcs.append(remnant)
                continue
            if b - a < MIN_WIDTH:  # a tangency: the midpoint's verdict
                if self.pieces((a + b) / 2):
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
        return merge_intervals(arcs)


def _certified_projection(coef, blocks, target: int, crit: float):
    """:func:`_robust_projection` with two coordinates, every arc proved."""
    order = [0, 1 + target, 2 - target]
    coef, blocks = coef[order], blocks[np.ix_(order, order)]
    if _stat(coef, blocks, np.array([0.0, 0.0, 1.0])) <= crit:
        return [(-inf, inf)]  # the other coordinate's infinity: every angle
    plane = _TwoCoordinates(coef, blocks, crit)
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

    Valid with every covariance type (Dufour and Taamouti 2005). With two
    mediators every arc of the projective line is proved inside (an accepted
    segment of the joint set above it) or outside (copositive certificates
    that the joint statistic exceeds the critical value above it), and the
    ends are bisected to rounding; only arcs narrower than ``MIN_WIDTH``
    (tangencies) take the exact verdict of their midpoint. With more, the
    ends are bisected between equispaced angles.
    """
    _check_mediator(moments, index)
    crit = critical_value(moments, confidence_level)
    return _robust_projection(moments.coef, _cov_blocks(moments), index, crit)


def robust_direct_projection_set(
    moments: AndersonRubinMoments, confidence_level: float
) -> list[tuple[float, float]]:
    """The projection onto ``θ_R`` of the joint robust set of ``(θ_R, θ_M)``.

    Under ``H₀: (θ_R, θ_M) = (r, θ)`` the treatment is one more excluded
    instrument (``p + 1`` of them, ``p + 1`` degrees of freedom); the
    treatment has no residual on the instruments, so its rows of the
    covariance are zero. Fixing the first mediator's effect ``θ₁`` leaves the
    problem of one mediator fewer (outcome ``y - θ₁M₁``): with one mediator
    left, that of :func:`~skmediate._numerics.projection.projection_ar_set`,
    whose admitted ``θ_R`` it gives exactly; with more, this one again. The
    projection is their union over ``θ₁`` on the projective line, whose ends
    are the extremes of those sets' ends: found at equispaced angles and
    refined by Brent's bounded search (continuous functions of the angle).
    """
    return _direct_by_first(moments, confidence_level)


def _fold_first(moments: AndersonRubinMoments, u: np.ndarray):
    """The moments of outcome ``u₀y + u₁M₁`` and the mediators ``M₂..M_q``."""
    from dataclasses import replace

    q, p = moments.n_mediators, moments.n_instruments
    lin = np.zeros((q, 1 + q))
    lin[0, :2] = u
    lin[1:, 2:] = np.eye(q - 1)
    coef = lin @ moments.coef
    cov = moments.cov.reshape(1 + q, p, 1 + q, p)
    cov = np.einsum("Jj,jakb,Kk->JaKb", lin, cov, lin).reshape(q * p, q * p)
    jc = moments.joint_cov.reshape(1 + q, p + 1, 1 + q, p + 1)
    jc = np.einsum("Jj,jakb,Kk->JaKb", lin, jc, lin).reshape(q * (p + 1), -1)
    resid = lin @ moments.resid_ss @ lin.T
    return replace(
        moments,
        coef=coef,
        cov=cov,
        excluded_ss=coef @ coef.T,
        resid_ss=resid,
        treatment_coef=lin @ moments.treatment_coef,
        joint_cov=jc,
    )


def _direct_by_first(moments: AndersonRubinMoments, level: float):
    from skmediate._numerics.projection import projection_ar_set

    pair = np.vstack([moments.coef[:2]])
    blocks = _cov_blocks(moments)[:2, :2]
    t = _normalizer(pair, blocks)
    psi_inf = float(np.mod(np.arctan2(-t[0, 0], t[0, 1]), np.pi))

    def admitted(psi):
        """The ``θ_R`` admitted at the first mediator's angle ``ψ`` (scaled)."""
        u = t @ np.array([np.cos(psi), np.sin(psi)])
        rest = _fold_first(moments, u)
        if rest.n_mediators == 1:
            return projection_ar_set(rest, level), u[0]
        return _direct_by_first(rest, level), u[0]

    def sets_at(psi):
        pieces, u0 = admitted(psi)
        if u0 == 0.0:
            return []
        scaled = [sorted((lo / u0, hi / u0)) for lo, hi in pieces]
        return merge_intervals([(lo, hi) for lo, hi in scaled])

    n = max(MIN_ANGLES // 2, ANGLES_PER_INSTRUMENT // 2 * (moments.n_instruments + 1))
    angles = np.pi * np.arange(n) / n + psi_inf + 0.5 * np.pi / n  # avoid ψ_inf
    samples = [sets_at(psi) for psi in angles]
    union = merge_intervals([piece for pieces in samples for piece in pieces])
    at_inf, _ = admitted(psi_inf)  # θ₁ = ±∞: values of θ_R/θ₁
    if any(lo < 0 or hi > 0 for lo, hi in at_inf) and union:
        union[0] = (-inf, union[0][1])
        union[-1] = (union[-1][0], inf)
    step = np.pi / n
    refined = []
    for lo, hi in union:
        if np.isfinite(lo):
            i = _best(samples, lambda ps, lo=lo, hi=hi: _end(ps, lo, hi, False))
            lo = min(lo, _refined_extreme(sets_at, angles[i], step, lo, hi, False))
        if np.isfinite(hi):
            i = _best(samples, lambda ps, lo=lo, hi=hi: -_end(ps, lo, hi, True))
            hi = max(hi, _refined_extreme(sets_at, angles[i], step, lo, hi, True))
        refined.append((lo, hi))
    return merge_intervals(refined)


def _end(pieces, lo, hi, upper: bool) -> float:
    """The extreme end of the ``pieces`` that meet ``[lo, hi]``."""
    inside = [(a, b) for a, b in pieces if a <= hi and b >= lo]
    if not inside:
        return -inf if upper else inf
    return max(b for _, b in inside) if upper else min(a for a, _ in inside)


def _best(samples, key) -> int:
    return int(np.argmin([key(pieces) for pieces in samples]))


def _refined_extreme(sets_at, centre, step, lo, hi, upper: bool) -> float:
    """The extreme end near ``centre`` by Brent's bounded search in the angle."""
    sign = -1.0 if upper else 1.0

    def raw(psi):
        return sign * _end(sets_at(psi), lo, hi, upper)

    at_centre = raw(centre)
    penalty = at_centre + 1.0 + abs(at_centre)  # where no piece meets [lo, hi]

    def f(psi):
        value = raw(psi)
        return value if np.isfinite(value) else penalty

    found = optimize.minimize_scalar(
        f,
        bounds=(centre - step, centre + step),
        method="bounded",
        options={"xatol": 1e-11 * step},
    )
    best = min(at_centre, float(found.fun))
    return sign * best
