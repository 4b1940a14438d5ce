"""Weak-instrument-robust inference: the Anderson–Rubin test and its exact inversion.

The Anderson–Rubin (1949) test of ``θ_M = θ₀`` regresses ``y - θ₀M`` on all
instruments ``Q = [W, Z]`` and tests that the coefficients of the excluded
instruments ``Z`` are zero. Its size does not depend on how strongly ``Z``
predicts ``M``, so the set of ``θ₀`` it does not reject is a confidence set
that stays valid with weak instruments.

Everything is written in the orthonormal basis of the excluded instruments
after the exogenous regressors (the factor's coordinates ``U[:, kw:l]``), in
which the test statistic is unchanged and the coefficients and their
covariance are read off the factor and the score meat directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, special

from skmediate._numerics.covariance import FReference, anderson_rubin_reference
from skmediate._numerics.diagnostics import wald_statistic
from skmediate._numerics.model import FittedModel

__all__ = [
    "AndersonRubinMoments",
    "anderson_rubin_moments",
    "anderson_rubin_set",
    "anderson_rubin_test",
]


@dataclass(frozen=True, eq=False)
class AndersonRubinMoments:
    """Reduced-form quantities from which the Anderson–Rubin test follows for any ``θ₀``.

    Attributes
    ----------
    coef : ndarray of shape (1 + q, p)
        Coefficients of the (orthonormalized) excluded instruments in the
        least squares fits of ``y`` (row 0) and of each of the ``q`` mediators
        (rows 1..q) on all instruments; with one mediator the fit of
        ``y - θ₀M`` has ``coef[0] - θ₀ coef[1]``.
    cov : ndarray of shape ((1 + q)p, (1 + q)p)
        Joint covariance of ``[coef[0], ..., coef[q]]`` with the covariance
        type ``meat`` (stacked score columns).
    excluded_ss : ndarray of shape (1 + q, 1 + q)
        ``[y, M]ᵀ W (P_Q - P_W) [y, M]``: the sums of squares and products
        that the excluded instruments explain.
    resid_ss : ndarray of shape (1 + q, 1 + q)
        ``[y, M]ᵀ W M_Q [y, M]``: residual sums of squares and products.
    nobs : float
    df_resid : float
        ``n - l`` with ``l`` instrument columns.
    n_instruments : int
        ``p``, the number of excluded instruments.
    cov_type : str
        The fit's covariance type.
    n_clusters : int or None
    reference : FReference or None
        The F reference of the robust and ``"classical"`` statistics (None:
        ``χ²``), for any number of restrictions (:func:`test_from_wald`):
        ``W/p`` against ``F(p, n - l)`` for ``cov_type="classical"`` and for
        the row-robust types with the default ``ar_meat="leverage"``,
        Hotelling's ``T²`` with ``G - 1`` degrees of freedom for the
        cluster-robust ones
        (:func:`~skmediate._numerics.covariance.anderson_rubin_reference`);
        with ``ar_meat="fit"`` ``W/p`` against ``F(p, df)`` with the fit's
        :meth:`~skmediate._numerics.model.FittedModel.reference_df` when it
        has ``use_t``.
    treatment_coef : ndarray of shape (1 + q,) or None
        The coefficients of ``y`` and the mediators on the treatment's own coordinate
        (after ``[1, X, Z]``), which the direct effect's sets test.
    treatment_scale : float
        The treatment's own coordinate (its residual norm after ``[1, X, Z]``).
    joint_cov : ndarray of shape ((1 + q)(p + 1), (1 + q)(p + 1)) or None
        The covariance of the coefficients of ``y`` and of the mediators on the
        treatment's and the excluded instruments' coordinates (treatment
        first); ``cov`` is its block without the treatment.
    meat : str or None
        The covariance type of ``cov``: with the default ``ar_meat="leverage"``
        of a robust fit ``"HC3"`` or ``"CR3"``, else ``cov_type``.
    """

    coef: np.ndarray
    cov: np.ndarray
    excluded_ss: np.ndarray
    resid_ss: np.ndarray
    nobs: float
    df_resid: float
    n_instruments: int
    cov_type: str
    n_clusters: int | None = None
    reference: FReference | None = None
    treatment_coef: np.ndarray | None = None
    treatment_scale: float = np.nan
    joint_cov: np.ndarray | None = None
    meat: str | None = None

    @property
    def homoskedastic(self) -> bool:
        return self.cov_type in ("unadjusted", "classical")

    @property
    def n_mediators(self) -> int:
        """``q``: the rows of :attr:`coef` after the outcome's."""
        return self.coef.shape[0] - 1

    @property
    def f_df(self) -> float | None:
        """The F's denominator degrees of freedom for the ``p`` restrictions (None: ``χ²``)."""
        if self.reference is None:
            return None
        return self.reference.df_denom(self.n_instruments)


def anderson_rubin_moments(model: FittedModel) -> AndersonRubinMoments:
    """The Anderson–Rubin moments of an IV fit (one mediator or several).

    Raises
    ------
    ValueError
        Without an excluded instrument.
    """
    d = model.design
    p = d.n_excluded
    if p == 0:
        raise ValueError(
            "the Anderson-Rubin test needs at least one excluded instrument "
            "(a treatment x covariate interaction); the fit has none"
        )
    kw, n_inst = d.n_exog, d.n_instruments
    mediators = list(range(d.n_columns)[d.mediator_columns])
    cols = [d.n_columns - 1, *mediators, kw - 1]
    r = model.r
    rest = r[n_inst:][:, cols[:-1]]
    return moments_from(
        r[kw - 1 : n_inst][:, cols],
        rest.T @ rest,
        reduced_form_cov(model),
        **moment_counts(model),
    )


def moment_counts(model: FittedModel) -> dict:
    """The moments' fields that do not depend on the outcome: counts and reference."""
    n_inst = model.design.n_instruments
    return dict(
        nobs=model.nobs,
        df_resid=model.nobs - n_inst,
        cov_type=model.kind.name,
        n_clusters=model.n_clusters,
        reference=_reference(model, n_inst),
        meat=(model.ar_kind or model.kind).name,
    )


def moments_from(
    coordinates: np.ndarray, resid_ss: np.ndarray, joint_cov: np.ndarray, **counts
) -> AndersonRubinMoments:
    """The moments from the reduced form in the factor's coordinates.

    ``coordinates`` holds, on the treatment's coordinate and then the
    excluded instruments' (``p + 1`` rows), the coordinates of ``y``, ``M``
    and ``R`` (columns); ``resid_ss`` the residual cross-products of
    ``[y, M]`` on all instruments; ``joint_cov`` the covariance of the
    coefficients of ``y`` and ``M`` on those ``p + 1`` coordinates. ``counts``
    are the remaining fields (``nobs``, ``df_resid``, ``cov_type``,
    ``n_clusters``, ``reference``, ``meat``). The fit's sets and those of the sensitivity
    analysis at each ``τ`` are built here alike.
    """
    p = coordinates.shape[0] - 1
    part = coordinates[1:, :-1]
    blocks = part.shape[1]  # y and each mediator
    keep = np.concatenate([b * (p + 1) + np.arange(1, p + 1) for b in range(blocks)])
    return AndersonRubinMoments(
        coef=part.T.copy(),
        cov=joint_cov[np.ix_(keep, keep)],
        excluded_ss=part.T @ part,
        resid_ss=resid_ss,
        n_instruments=p,
        treatment_coef=coordinates[0, :-1].copy(),
        treatment_scale=float(coordinates[0, -1]),
        joint_cov=joint_cov,
        **counts,
    )


def _reference(model: FittedModel, n_inst: int) -> FReference | None:
    """The F reference of the Anderson–Rubin statistic (None: ``χ²``).

    ``F(p, n - l)`` for ``"classical"``; for a robust fit with the
    small-sample meat (:attr:`FittedModel.ar_kind`) that meat's reference
    (:func:`~skmediate._numerics.covariance.anderson_rubin_reference`);
    otherwise the fit's :meth:`FittedModel.reference_df`.
    """
    if model.kind.name == "classical":
        return FReference(float(model.nobs - n_inst))
    if model.ar_kind is not None:
        return anderson_rubin_reference(
            model.ar_kind, model.nobs, n_inst, model.n_clusters
        )
    df = model.reference_df(n_inst)
    return None if df is None else FReference(df)


def reduced_form_cov(model: FittedModel) -> np.ndarray:
    """Covariance of the coefficients of ``y`` and ``M`` on the excluded coordinates.

    The coordinates are those of the treatment and the interactions after
    ``[1, X, Z]`` (``U[:, kw-1:l]``), ``p + 1`` of them; the result is the
    ``(1 + q)(p + 1)``-square covariance of ``[coef_y, coef_M1, ..., coef_Mq]``
    (the score blocks ``RF`` and ``F0``, ..., ``F{q-1}``) with the covariance type of the Anderson–Rubin
    statistic (:meth:`FittedModel.anderson_rubin_cov_of`): by default the
    leverage-adjusted HC3 or CR3 meat for robust fits.
    """
    layout = model.layout
    n = len(range(layout.n_cols)[layout.blocks["RF"]])
    q = model.design.n_mediators
    p_coef = np.zeros((layout.n_cols, (1 + q) * n))
    p_coef[layout.blocks["RF"], :n] = np.eye(n)
    for j in range(q):
        p_coef[layout.blocks[f"F{j}"], (1 + j) * n : (2 + j) * n] = np.eye(n)
    return model.anderson_rubin_cov_of(p_coef)


def _divisor(moments: AndersonRubinMoments) -> float:
    return moments.nobs if moments.cov_type == "unadjusted" else moments.df_resid


def _quadratic_stat(moments: AndersonRubinMoments, theta0: float) -> float:
    v = np.array([1.0, -theta0])
    num = v @ moments.excluded_ss @ v
    den = v @ moments.resid_ss @ v
    return float(num / (den / _divisor(moments)))


def _blocks(moments: AndersonRubinMoments):
    p = moments.n_instruments
    c = moments.cov
    return moments.coef[0], moments.coef[1], c[:p, :p], c[:p, p:], c[p:, p:]


def _robust_stat(moments: AndersonRubinMoments, theta0: float) -> float:
    a, b, vyy, vym, vmm = _blocks(moments)
    pi = a - theta0 * b
    return wald_statistic(pi, vyy - theta0 * (vym + vym.T) + theta0**2 * vmm)


def test_from_wald(
    moments: AndersonRubinMoments, wald: float, k: int
) -> tuple[float, float]:
    """``(statistic, pvalue)`` of a Wald statistic of ``k`` restrictions.

    The F statistic of the moments' :attr:`~AndersonRubinMoments.reference`
    when there is one, else ``W`` against ``χ²(k)``. Every test and set built
    on the moments (one mediator or several, the projections with ``p + 1``
    restrictions, the K test with one) follows this rule and
    :func:`critical_value_for`.
    """
    reference = moments.reference
    if reference is None:
        return float(wald), float(special.chdtrc(k, wald))
    return reference.statistic(wald, k), reference.pvalue(wald, k)


def anderson_rubin_test(
    moments: AndersonRubinMoments, theta0: float
) -> tuple[float, float]:
    """Anderson–Rubin statistic and p-value for ``H₀: θ_M = θ₀``.

    Returns
    -------
    statistic : float
        With an F reference (:attr:`AndersonRubinMoments.reference`) the F
        statistic: ``W / p`` compared with ``F(p, n - l)`` for
        ``cov_type="classical"`` (exact with normal homoskedastic errors)
        and for the row-robust types with the default leverage meat,
        ``W (G - p)/(p (G - 1))`` compared with ``F(p, G - p)`` for the
        cluster-robust ones, ``W / p`` compared with ``F(p, df)`` with
        ``ar_meat="fit"`` and ``use_t``; otherwise the Wald statistic ``W``
        compared with ``χ²(p)``.
    pvalue : float
    """
    if moments.homoskedastic:
        wald = _quadratic_stat(moments, float(theta0))
    else:
        wald = _robust_stat(moments, float(theta0))
    return test_from_wald(moments, wald, moments.n_instruments)


def critical_value(moments: AndersonRubinMoments, confidence_level: float) -> float:
    """Critical value on the scale of the Wald statistic ``W`` (``p`` restrictions)."""
    return critical_value_for(moments, moments.n_instruments, confidence_level)


def critical_value_for(
    moments: AndersonRubinMoments, k: int, confidence_level: float
) -> float:
    """Critical value on the scale of ``W`` for ``k`` restrictions (see :func:`test_from_wald`).

    Raises
    ------
    ValueError
        When the reference has no positive degrees of freedom for ``k``
        restrictions (Hotelling's ``T²`` from ``G ≤ k`` clusters, whose
        covariance of ``k`` coefficients is singular).
    """
    reference = moments.reference
    if reference is None:
        return float(special.chdtri(k, 1.0 - confidence_level))
    if reference.df_denom(k) <= 0:
        raise _not_defined(moments, k, "Anderson-Rubin", few=True)
    return reference.critical_value(k, confidence_level)


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
    The set is inverted exactly. With homoskedastic covariances the
    statistic is ``W(θ₀) = d N(θ₀)/D(θ₀)`` with ``N, D`` quadratic forms in
    ``(1, -θ₀)`` and ``d`` the variance divisor, so ``W(θ₀) <= c`` is a
    quadratic inequality, solved in closed form.

    With HC and cluster covariances ``W(θ₀) = π(θ₀)ᵀV(θ₀)⁻¹π(θ₀)`` with ``π``
    linear and ``V`` quadratic in ``θ₀``. Where ``V(θ₀)`` is positive
    definite, ``det(V - ππᵀ/c) = det V · (1 - W/c)``, so the ends of the set
    are the real roots of the quadratic matrix polynomial
    ``M(θ) = V(θ) - π(θ)π(θ)ᵀ/c``: the eigenvalues of a ``2p × 2p``
    linearization, found by the QZ algorithm. Between consecutive roots, and
    beyond the outermost ones, ``W - c`` has one sign, read at a point inside.
    No grid is involved, so no narrow piece of the set can be missed.

    Raises
    ------
    ValueError
        When the robust covariance of the reduced form is singular (fewer
        clusters than instruments), where the statistic is not defined.
    """
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1); got {confidence_level}")
    c = critical_value(moments, confidence_level)
    if moments.homoskedastic:
        k = moments.excluded_ss - (c / _divisor(moments)) * moments.resid_ss
        return _quadratic_set(k)
    return _robust_set(moments, c)


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


def _check_definite(
    moments: AndersonRubinMoments, statistic: str = "Anderson-Rubin"
) -> None:
    """Raise unless ``V(θ₀)`` is positive definite for every ``θ₀``, ``±∞`` included.

    ``V(θ₀) = [I, -θ₀I] V [I, -θ₀I]ᵀ`` with ``V`` the ``2p × 2p`` covariance of
    the reduced-form coefficients. ``V`` itself may be singular (with ``G``
    clusters its rank is at most about ``G``, which can be below ``2p`` and
    above ``p``) while every ``V(θ₀)`` is definite. ``V(θ₀)`` is singular
    somewhere only if ``det V(θ) = 0`` has a real root, a root of the quadratic
    eigenvalue problem of ``(Vyy, -(Vym + Vmy), Vmm)``; the smallest
    eigenvalue of ``V(θ₀)`` is read at the real parts of its roots, and at
    infinity (``Vmm``).
    """
    _, _, vyy, vym, vmm = _blocks(moments)
    p = moments.n_instruments
    few = moments.n_clusters is not None and moments.n_clusters <= p
    if not few and np.isfinite(moments.cov).all():
        m1 = -(vym + vym.T)
        eye, zero = np.eye(p), np.zeros((p, p))
        left = np.block([[zero, eye], [-vyy, -m1]])
        right = np.block([[eye, zero], [zero, vmm]])
        alpha, beta = linalg.eig(left, right, right=False, homogeneous_eigvals=True)
        finite = np.abs(beta) > 1e-14 * np.abs(alpha)
        candidates = [0.0, *np.real(alpha[finite] / beta[finite])]
        matrices = [vyy + t * m1 + t * t * vmm for t in candidates]
        if all(_relatively_definite(v) for v in [*matrices, vmm]):
            return
    raise _not_defined(moments, p, statistic, few)


def _not_defined(
    moments: AndersonRubinMoments, p: int, statistic: str, few: bool
) -> ValueError:
    """The error of a robust statistic whose covariance is singular (``few``: ``G ≤ p``)."""
    extra = ""
    if few:
        extra = (
            f" (there are {moments.n_clusters} clusters and {p} excluded "
            "instruments; the robust statistic needs more clusters than "
            "instruments)"
        )
    elif moments.n_clusters is not None and moments.n_clusters <= 2 * p:
        extra = (
            f" at some value of the mediator effect (the covariance of the {2 * p} "
            f"reduced-form coefficients from {moments.n_clusters} clusters has "
            f"rank at most {moments.n_clusters})"
        )
    return ValueError(
        f"the robust {statistic} statistic is not defined: the covariance "
        f"of the reduced-form coefficients is singular{extra}; use "
        f"cov_type='classical' for the {statistic} set"
    )


def _relatively_definite(v: np.ndarray) -> bool:
    eig = np.linalg.eigvalsh((v + v.T) / 2)
    return bool(eig[0] > 1e-12 * max(eig[-1], 0.0))


def _robust_set(moments: AndersonRubinMoments, c: float) -> list[tuple[float, float]]:
    _check_definite(moments)
    a, b, vyy, vym, vmm = _blocks(moments)
    p = moments.n_instruments
    # M(θ) = M0 + θ M1 + θ² M2
    m0 = vyy - np.outer(a, a) / c
    m1 = -(vym + vym.T) + (np.outer(a, b) + np.outer(b, a)) / c
    m2 = vmm - np.outer(b, b) / c
    # Companion linearization: [0 I; -M0 -M1] z = θ [I 0; 0 M2] z.
    eye, zero = np.eye(p), np.zeros((p, p))
    left = np.block([[zero, eye], [-m0, -m1]])
    right = np.block([[eye, zero], [zero, m2]])
    alpha, beta = linalg.eig(left, right, right=False, homogeneous_eigvals=True)
    roots = []
    for al, be in zip(alpha, beta, strict=True):
        if abs(be) <= 1e-14 * abs(al):
            continue  # an infinite eigenvalue (M2 singular)
        theta = al / be
        if abs(theta.imag) <= 1e-6 * max(abs(theta.real), 1.0):
            roots.append(float(theta.real))
    roots = sorted(_polish(moments, c, t) for t in roots if np.isfinite(t))

    def rejects(theta):
        return _robust_stat(moments, theta) > c

    at_infinity = wald_at_infinity(moments) > c
    if not roots:
        return [] if at_infinity else [(-np.inf, np.inf)]
    # sample each piece between consecutive roots
    points = [roots[0] - 1.0 - abs(roots[0])]
    points += [(lo + hi) / 2 for lo, hi in zip(roots[:-1], roots[1:], strict=True)]
    points += [roots[-1] + 1.0 + abs(roots[-1])]
    accepted = [not rejects(t) for t in points]
    edges = [-np.inf, *roots, np.inf]
    intervals = []
    for (lo, hi), keep in zip(
        zip(edges[:-1], edges[1:], strict=True), accepted, strict=True
    ):
        if not keep:
            continue
        if intervals and intervals[-1][1] == lo:
            intervals[-1] = (intervals[-1][0], hi)
        else:
            intervals.append((lo, hi))
    return [(float(lo), float(hi)) for lo, hi in intervals]


def wald_at_infinity(moments: AndersonRubinMoments) -> float:
    """``lim W(θ₀)`` as ``θ₀ → ±∞``: the robust first-stage Wald statistic ``bᵀVmm⁻¹b``."""
    _, b, _, _, vmm = _blocks(moments)
    return wald_statistic(b, vmm)


def _polish(moments, c, theta, steps: int = 3) -> float:
    """A few secant steps on ``W(θ) - c`` from a QZ root (keeps the root if they fail)."""
    h = 1e-7 * max(abs(theta), 1.0)
    x0, x1 = theta - h, theta
    f0 = _robust_stat(moments, x0) - c
    f1 = _robust_stat(moments, x1) - c
    for _ in range(steps):
        if f1 == 0 or f1 == f0:
            break
        x2 = x1 - f1 * (x1 - x0) / (f1 - f0)
        if not np.isfinite(x2) or abs(x2 - theta) > 1e-4 * max(abs(theta), 1.0):
            return theta
        x0, f0 = x1, f1
        x1, f1 = x2, _robust_stat(moments, x2) - c
    return float(x1)


# -- Kleibergen's K (LM) and Moreira's conditional likelihood ratio test ------


def _moreira_matrices(moments: AndersonRubinMoments):
    """``M₂ = Yᵀ(P_Q - P_W)Y`` and ``Ω`` (the reduced-form error covariance), ``Y = [y, M]``."""
    if not moments.homoskedastic:
        raise ValueError(
            "the LM and CLR sets are available for cov_type 'classical' and "
            f"'unadjusted' (this fit has {moments.cov_type!r}); the Anderson-Rubin "
            "set (method='AR') is robust for every cov_type"
        )
    return (
        moments.excluded_ss,
        moments.resid_ss / _divisor(moments),
        moments.n_instruments,
    )


def _bilinear(x):
    """``b₀ᵀ X a₀`` with ``b₀ = (1, -β)``, ``a₀ = (β, 1)``: polynomial coefficients in β."""
    return np.array([-x[1, 0], x[0, 0] - x[1, 1], x[0, 1]])  # highest power first


def _real_roots(poly) -> list[float]:
    roots = np.roots(np.trim_zeros(poly, "f")) if np.any(poly) else np.array([])
    scale = max(1.0, *(abs(z.real) for z in roots)) if roots.size else 1.0
    return sorted(
        float(z.real) for z in roots if abs(z.imag) <= 1e-8 * max(abs(z.real), scale)
    )


def _polynomial_set(poly) -> list[tuple[float, float]]:
    """``{β : poly(β) ≤ 0}`` from the real roots and the signs between them."""
    roots = _real_roots(poly)
    edges = [-np.inf, *roots, np.inf]
    pieces = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        if np.isinf(lo) and np.isinf(hi):
            point = 0.0
        elif np.isinf(lo):
            point = hi - 1.0 - abs(hi)
        elif np.isinf(hi):
            point = lo + 1.0 + abs(lo)
        else:
            point = (lo + hi) / 2
        if np.polyval(poly, point) <= 0:
            if pieces and pieces[-1][1] == lo:
                pieces[-1] = (pieces[-1][0], hi)
            else:
                pieces.append((lo, hi))
    return [(float(lo), float(hi)) for lo, hi in pieces]


def lm_set(
    moments: AndersonRubinMoments, confidence_level: float
) -> list[tuple[float, float]]:
    """Kleibergen's (2002) K (LM) set for ``θ_M`` (homoskedastic), exactly.

    ``K(β) = (Sᵀ T)² / Tᵀ T = (b₀ᵀM₂Ω⁻¹a₀)² / ((b₀ᵀΩb₀)(a₀ᵀΩ⁻¹M₂Ω⁻¹a₀))`` in
    Moreira's (2003) notation, compared with ``χ²(1)``. Numerator and
    denominator are quartics in ``β``, so the set is where a quartic is not
    positive: its real roots and the signs between them.
    """
    m2, omega, _ = _moreira_matrices(moments)
    crit = float(special.chdtri(1, 1.0 - confidence_level))
    inv = np.linalg.inv(omega)
    num = np.polymul(_bilinear(m2 @ inv), _bilinear(m2 @ inv))
    b_omega_b = np.array([omega[1, 1], -2 * omega[0, 1], omega[0, 0]])
    t_mat = inv @ m2 @ inv
    a_t_a = np.array([t_mat[0, 0], 2 * t_mat[0, 1], t_mat[1, 1]])
    den = np.polymul(b_omega_b, a_t_a)
    poly = np.polysub(num, crit * den)
    return _polynomial_set(poly / np.max(np.abs(poly)))


# Gauss-Legendre rule on [0, π/2] for :func:`clr_cdf`
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(96)
_GL_PHI = (_GL_NODES + 1.0) * np.pi / 4.0
_GL_WEIGHTS = _GL_WEIGHTS * np.pi / 4.0


def clr_cdf(x: float, q_t: float, k: int) -> float:
    """``P(LR ≤ x | Q_T = q_t)`` under ``H₀`` with ``k`` instruments.

    ``∫₀^U F₁(x(x + q - s)/(x + q)) f_{k-1}(s) ds`` (see
    :func:`clr_critical_value`) with ``U = x + q``, or the ``1 - 10⁻¹⁶``
    quantile of ``χ²(k - 1)`` if smaller. The substitution ``s = U sin²φ``
    removes both end singularities (``f_{k-1}(s) ∝ s^((k-3)/2)`` at 0 and
    ``F₁(t) ∝ √t`` at ``s = x + q``), leaving a smooth integrand on
    ``[0, π/2]`` that a 96-point Gauss–Legendre rule integrates to about
    ``10⁻¹³``. :func:`clr_cdfs` gives it at arrays of ``(x, q_t)``.
    """
    return float(
        clr_cdfs(np.array([x], dtype=float), np.array([q_t], dtype=float), k)[0]
    )


def clr_cdfs(x: np.ndarray, q_t: np.ndarray, k: int) -> np.ndarray:
    """:func:`clr_cdf` at each pair of the arrays ``x`` and ``q_t`` (one quadrature)."""
    x = np.asarray(x, dtype=float)
    q_t = np.asarray(q_t, dtype=float)
    if k == 1:
        return np.where(x > 0, special.chdtr(1, np.maximum(x, 0.0)), 0.0)
    positive = x > 0
    xs = np.where(positive, x, 1.0)[:, None]
    upper = xs + q_t[:, None]
    top = np.minimum(upper, float(special.chdtri(k - 1, 1e-16)))
    sin, cos = np.sin(_GL_PHI), np.cos(_GL_PHI)
    s = top * (sin * sin)
    half = (k - 1) / 2.0
    # f_{k-1}(s) ds = 2 top^half sin^(k-2) cos exp(-s/2) / (2^half Γ(half)) dφ
    density = (
        2.0
        * np.exp(-s / 2 + half * np.log(top / 2.0) - special.gammaln(half))
        * (sin ** (k - 2) * cos)
    )
    # F₁(t) = erf(√(t/2)), the χ²(1) law
    inner = special.erf(np.sqrt(xs * (upper - s) / (2.0 * upper)))
    return np.where(positive, (inner * density) @ _GL_WEIGHTS, 0.0)


def clr_critical_value(q_t: float, k: int, confidence_level: float) -> float:
    """The conditional critical value of Moreira's LR given ``Q_T = q_t``, ``k`` instruments.

    Under ``H₀``, ``LR = ½(Q₁ + Q_{k-1} - q + √((Q₁ + Q_{k-1} + q)² - 4Q_{k-1}q))``
    with independent ``Q₁ ~ χ²(1)``, ``Q_{k-1} ~ χ²(k - 1)``; ``LR ≤ x`` exactly
    when ``Q₁ ≤ x(x + q - Q_{k-1})/(x + q)``, so
    ``P(LR ≤ x) = ∫₀^{x+q} F₁(x(x + q - s)/(x + q)) f_{k-1}(s) ds``, integrated
    by quadrature (:func:`clr_cdf`), and the quantile is its root in ``x``.
    """
    from scipy import optimize

    if k == 1:
        return float(special.chdtri(1, 1.0 - confidence_level))
    low = float(special.chdtri(1, 1.0 - confidence_level))
    high = float(special.chdtri(k, 1.0 - confidence_level))
    if high - low <= 1e-12:
        return high
    return float(
        optimize.brentq(
            lambda x: clr_cdf(x, q_t, k) - confidence_level,
            low * (1 - 1e-9),
            high * (1 + 1e-9),
            xtol=1e-13,
            rtol=1e-13,
        )
    )


def clr_set(
    moments: AndersonRubinMoments, confidence_level: float
) -> list[tuple[float, float]]:
    """Moreira's (2003) conditional likelihood ratio set for ``θ_M`` (homoskedastic).

    With ``Q_S + Q_T`` and ``Q_S Q_T - Q_{ST}²`` the same for every ``β``
    (the trace and determinant of ``Ω^(-½)M₂Ω^(-½)``), the statistic is
    ``LR(β) = λ_max - Q_T(β)``, ``λ_max`` that matrix's largest eigenvalue
    (Mikusheva 2010). ``LR(β) ≤ c(Q_T(β))`` holds exactly when
    ``Q_T(β) ≥ q*``, the root of the decreasing ``λ_max - q - c(q)``; and
    ``Q_T(β) ≥ q*`` is a quadratic inequality in ``β``. With ``k > 1``,
    ``λ_max - q - c(q)`` has the sign of ``P(LR ≤ λ_max - q | q) - level``
    (``c(q)`` is that distribution's quantile), whose root is found without
    computing any ``c(q)``.
    """
    from scipy import optimize

    from skmediate._numerics.sets import quadratic_set

    m2, omega, k = _moreira_matrices(moments)
    inv = np.linalg.inv(omega)
    lam_max = float(np.max(np.linalg.eigvals(inv @ m2).real))

    if k == 1:
        q_star = lam_max - clr_critical_value(0.0, 1, confidence_level)

        def gap(q):
            return q_star - q
    else:

        def gap(q):
            return clr_cdf(lam_max - q, q, k) - confidence_level

    if gap(0.0) <= 0:
        return [(-np.inf, np.inf)]
    q_star = float(optimize.brentq(gap, 0.0, lam_max, xtol=1e-12, rtol=1e-12))
    # Q_T(β) ≥ q*  ⇔  a₀ᵀ(Ω⁻¹M₂Ω⁻¹ - q*Ω⁻¹)a₀ ≥ 0, a₀ = (β, 1)
    g = inv @ m2 @ inv - q_star * inv
    return quadratic_set(-g[1, 1], -2 * g[0, 1], -g[0, 0])
