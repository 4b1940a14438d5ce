"""Two-stage least squares and k-class estimates read off one triangular factor.

Everything here is small-matrix algebra on the upper-triangular factor ``R``
of the row-weighted data matrix ``√w A = U R`` (``U`` with orthonormal
columns). A linear combination ``A f`` of the columns of ``A`` has the
coordinates ``R f`` in the basis ``U``; a least squares fit of one column on
the columns before it is a triangular solve; its residual sum of squares is
the squared norm of the factor's column below the regressors. The functions
broadcast over leading axes of ``R`` (a batch of fits), except for the
k-class estimators other than two-stage least squares.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skmediate._numerics.dense import orthonormal_factors, solve_upper
from skmediate._numerics.design import Design
from skmediate.exceptions import RankDeficiencyError

__all__ = [
    "Structural",
    "column_norms",
    "leading_fit",
    "liml_kappa",
    "rank_tolerance",
    "solve_leading",
    "solve_structural",
]


def solve_leading(r: np.ndarray, forms: np.ndarray) -> np.ndarray:
    """``R⁻¹ forms`` for forms that are zero below their leading rows.

    Only the leading block of ``R`` that the forms touch is solved with, so a
    singular trailing diagonal (an outcome fitted exactly) does not matter.
    """
    used = np.flatnonzero((forms != 0).reshape(forms.shape[0], -1).any(axis=1))
    rows = int(used[-1]) + 1 if used.size else 0
    out = np.zeros_like(forms, dtype=float)
    out[:rows] = solve_upper(r[:rows, :rows], forms[:rows])
    return out


def column_norms(r: np.ndarray) -> np.ndarray:
    """Norms of the columns of the data (those of its factor), without overflow."""
    with np.errstate(over="ignore"):
        norms = np.sqrt(np.add.reduce(r * r, axis=-2))
    if np.isfinite(norms).all():
        return norms
    big = np.abs(r).max(axis=-2, keepdims=True)
    big = np.where(big > 0, big, 1.0)
    return big[..., 0, :] * np.sqrt(np.sum((r / big) ** 2, axis=-2))


def rank_tolerance(n_rows: float, n_columns: int) -> float:
    """Relative size below which a column counts as a combination of those before it.

    LAPACK's and numpy's ``matrix_rank`` convention, ``max(n, k) · eps``, for
    the diagonal of the factor relative to its column's norm.
    """
    return max(float(n_rows), float(n_columns)) * np.finfo(float).eps


def check_rank(diag: np.ndarray, norms: np.ndarray, tol: float, block: str) -> None:
    """Raise :class:`RankDeficiencyError` for the first relatively tiny diagonal entry."""
    size = np.abs(diag) / np.where(norms > 0, norms, 1.0)
    bad = np.flatnonzero(size <= tol)
    if bad.size:
        index = int(bad[0])
        raise RankDeficiencyError(
            f"column {index} of the {block} is a linear combination of the columns "
            f"before it (relative size {size[index]:.3g}; tolerance {tol:.3g})",
            block=block,
            index=index,
        )


@dataclass(frozen=True, eq=False)
class Structural:
    """The structural fit ``y`` on ``D = [W, M]`` with instruments ``Q``.

    Attributes
    ----------
    theta : ndarray of shape (..., k)
        Coefficients of the shifted columns ``D`` (see :class:`~.design.Design`).
    g : ndarray of shape (..., l, k)
        ``R[:l, D]``: the coordinates of the projected regressors ``D̂ = P_Q D``.
    factor : ndarray of shape (..., k, k)
        Upper-triangular ``F`` with bread ``(FᵀF)⁻¹``: the factor of ``D̂ᵀWD̂``
        for two-stage least squares, of ``Dᵀ W (I - κ M_Q) D`` for k-class.
    influence : ndarray of shape (..., k, l)
        ``P`` with ``θ̂ - θ ≈ P Σ_i w_i u_i[:l] ε_i`` (``u_i`` the rows of ``U``):
        ``(FᵀF)⁻¹ Gᵀ``.
    resid_form : ndarray of shape (..., c)
        ``f`` with residuals ``ε = A f``.
    basis : ndarray of shape (..., l, k)
        ``Q_G`` of ``G = Q_G R_G``: orthonormal coordinates of ``D̂`` (the
        design of the structural equation's leverages).
    kappa : float
    """

    theta: np.ndarray
    g: np.ndarray
    factor: np.ndarray
    influence: np.ndarray
    resid_form: np.ndarray
    basis: np.ndarray
    kappa: float = 1.0

    def resid_coordinates(self, r: np.ndarray) -> np.ndarray:
        """Coordinates ``R f`` of the residuals in the basis ``U``."""
        return np.einsum("...ij,...j->...i", r, self.resid_form)


def solve_structural(
    r: np.ndarray,
    design: Design,
    *,
    kappa: float = 1.0,
    n_rows: float | None = None,
    check: bool = True,
) -> Structural:
    """The structural coefficients from the factor ``R`` of ``√w A``.

    Parameters
    ----------
    r : ndarray of shape (..., c, c)
    design : Design
    kappa : float, default=1.0
        ``κ`` of the k-class estimator (1: two-stage least squares; for the
        naive design the instruments are the regressors and ``κ`` is moot).
    n_rows : float, optional
        Number of rows, for the rank tolerance (default ``c``).
    check : bool, default=True
        Raise :class:`RankDeficiencyError` when the instruments or the
        projected regressors are rank-deficient (a single fit only).

    Notes
    -----
    With ``D̂ = U[:, :l] G``, ``G = R[:l, D]``, two-stage least squares is the
    small least squares problem ``min ‖R[:l, y] - G θ‖``, solved by the QR
    factorization ``G = Q_G R_G``. The k-class normal matrix is
    ``Dᵀ W (I - κ M_Q) D = R_Gᵀ (I + (1 - κ) F Fᵀ) R_G`` with
    ``F = R_G⁻ᵀ [0, H]ᵀ``, ``H = R[l:l+m, M]`` the coordinates of the
    mediators' first-stage residuals; its triangular factor is ``C R_G`` with
    ``C`` the Cholesky factor of the small matrix (identity outside its last
    ``m × m`` block).
    """
    n_inst, m, c = design.n_instruments, design.n_mediators, design.n_columns
    d_cols = design.structural_columns
    g = r[..., :n_inst, :][..., :, d_cols]
    if check:
        tol = rank_tolerance(c if n_rows is None else n_rows, c)
        norms = column_norms(r[:n_inst, :n_inst])
        check_rank(np.diagonal(r)[:n_inst], norms, tol, "instruments")
    if design.instrumented:
        q_g, r_g = orthonormal_factors(g)
        if check:
            check_rank(np.diagonal(r_g), column_norms(g), tol, "regressors")
        rhs = np.einsum("...li,...l->...i", q_g, r[..., :n_inst, -1])
    else:  # the regressors are the instruments (checked): G = R[:k, :k]
        q_g = np.eye(g.shape[-1])
        if g.ndim > 2:
            q_g = np.broadcast_to(q_g, g.shape)
        r_g = g
        rhs = r[..., :n_inst, -1]
    factor = r_g
    if kappa != 1.0 and design.instrumented:
        factor, rhs = _kclass(r, r_g, rhs, n_inst, m, kappa)
        influence = solve_upper(
            factor, solve_upper(factor, np.swapaxes(g, -1, -2), trans=True)
        )
        theta = solve_upper(factor, rhs[..., None])[..., 0]
    else:  # the influence and the estimates in one solve
        both = solve_upper(
            r_g, np.concatenate([np.swapaxes(q_g, -1, -2), rhs[..., None]], axis=-1)
        )
        influence, theta = both[..., :-1], both[..., -1]
    resid_form = np.zeros(theta.shape[:-1] + (c,))
    resid_form[..., d_cols] = -theta
    resid_form[..., -1] = 1.0
    return Structural(
        theta=theta,
        g=g,
        factor=factor,
        influence=influence,
        resid_form=resid_form,
        basis=q_g,
        kappa=float(kappa) if design.instrumented else 1.0,
    )


def _kclass(r, r_g, rhs, n_inst: int, m: int, kappa: float):
    """Factor and right-hand side of the k-class normal equations (see Notes above)."""
    h = r[n_inst : n_inst + m, n_inst : n_inst + m]
    h_y = r[n_inst : n_inst + m, -1]
    f_last = solve_upper(r_g[-m:, -m:], h.T, trans=True)
    inner = np.eye(m) + (1.0 - kappa) * (f_last @ f_last.T)
    try:
        c_last = np.linalg.cholesky(inner).T
    except np.linalg.LinAlgError:
        c_last = None
    if c_last is None or np.diag(c_last).min() <= np.sqrt(np.finfo(float).eps):
        bound = 1.0 + 1.0 / np.linalg.eigvalsh(f_last @ f_last.T).max()
        raise ValueError(
            f"kappa={kappa:.6g} is too large: the k-class estimator needs "
            f"Dᵀ(I - κ M_Q)D to be positive definite, which holds for kappa "
            f"below {bound:.6g} on these data"
        )
    factor = r_g.copy()
    factor[-m:, :] = c_last @ r_g[-m:, :]
    rhs = rhs.copy()
    rhs[-m:] = solve_upper(c_last, rhs[-m:] + (1.0 - kappa) * f_last @ h_y, trans=True)
    return factor, rhs


def liml_kappa(r: np.ndarray, design: Design) -> float:
    """LIML ``κ``: the smallest eigenvalue of ``(Eᵀ M_W E)(Eᵀ M_Q E)⁻¹``, ``E = [M, y]``.

    In the factor, ``Eᵀ M_Q E = CᵀC`` with ``C = R[l:, E]`` and
    ``Eᵀ M_W E = CᵀC + BᵀB`` with ``B = R[kw:l, E]``, so
    ``κ = 1 + σ_min(B C⁻¹)²``: no cancellation, and exactly 1 when there are
    no more excluded instruments than mediators. ``nan`` when ``C`` is
    singular (an outcome or mediator fitted exactly).
    """
    kw, n_inst = design.n_exog, design.n_instruments
    b = r[kw:n_inst, n_inst:]
    cc = r[n_inst:, n_inst:]
    if b.shape[0] < cc.shape[0]:
        return 1.0
    if (
        np.abs(np.diag(cc)).min()
        <= np.finfo(float).eps * column_norms(r)[n_inst:].max()
    ):
        return np.nan
    ratio = solve_upper(cc, b.T, trans=True).T
    return 1.0 + float(np.linalg.svd(ratio, compute_uv=False)[-1]) ** 2


def leading_fit(r: np.ndarray, n_regressors: int, targets):
    """Least squares of columns ``targets`` on the first ``n_regressors`` columns.

    Returns ``(coef, resid_form)``: the coefficients (shifted columns, one
    column per target) and the forms ``f`` (one column per target) with
    residuals ``A f``; the residuals' coordinates in ``U`` are ``R[:, t]``
    with its first ``n_regressors`` entries set to 0.
    """
    targets = list(targets)
    lead = r[:n_regressors, :n_regressors]
    coef = solve_upper(lead, r[:n_regressors][:, targets])
    form = np.zeros((r.shape[-1], len(targets)))
    form[:n_regressors] = -coef
    form[targets, np.arange(len(targets))] = 1.0
    return coef, form
