"""Least squares and two-stage least squares by column-scaled QR.

Pure functions on numpy arrays. Every fit goes through one Householder QR of
the column-scaled, row-weighted data matrix ``[exog, excluded, endog, y]``; the
first stage, the second stage and the rank checks are all read off its
triangular factor, so no normal equations are ever formed or inverted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .exceptions import RankDeficiencyError

__all__ = [
    "ColumnBlocks",
    "LinearFit",
    "TSLSFit",
    "fit_ols",
    "fit_tsls",
    "rank_tolerance",
    "solve_triangular",
]

# Rows per chunk of the tall-skinny QR are chosen so a chunk takes about this
# many bytes (it then stays in a typical L2/L3 cache).
_CHUNK_BYTES = 4 * 2**20


def solve_triangular(r: np.ndarray, b: np.ndarray, trans: bool = False) -> np.ndarray:
    """Solve ``R x = b`` (``Rᵀ x = b`` with ``trans``) for an upper-triangular ``R``.

    numpy's LAPACK is used rather than scipy's so that a fit runs on one BLAS
    thread pool: when the two libraries ship separate OpenBLAS builds, their
    thread pools alternating on small problems stall each call by milliseconds.
    On a triangular matrix the elimination reduces to the substitution.
    """
    return np.linalg.solve(r.T if trans else r, b)


def rank_tolerance(n_rows: int, n_cols: int) -> float:
    """Relative size below which a diagonal entry of R signals rank deficiency.

    The columns are scaled to unit norm before the QR, so the diagonal of R is
    at most 1; the tolerance follows LAPACK's and numpy's ``matrix_rank``
    convention of ``max(n, k) * eps``.
    """
    return max(n_rows, n_cols) * np.finfo(float).eps


class ColumnBlocks:
    """Column blocks of one matrix ``[B_1, B_2, ...]``, used without concatenating them.

    The design and instrument matrices are made of blocks the caller already
    holds (exogenous regressors, instruments, the mediator); keeping them apart
    avoids copying ``n × k`` data for every product.
    """

    def __init__(self, *blocks: np.ndarray):
        self.blocks = tuple(b.reshape(b.shape[0], -1) for b in blocks)
        widths = [b.shape[1] for b in self.blocks]
        self._edges = np.concatenate([[0], np.cumsum(widths)]).astype(int)

    @property
    def shape(self) -> tuple[int, int]:
        return self.blocks[0].shape[0], int(self._edges[-1])

    def _parts(self):
        for block, lo, hi in zip(
            self.blocks, self._edges[:-1], self._edges[1:], strict=True
        ):
            if hi > lo:
                yield block, slice(lo, hi)

    def dot(self, coef: np.ndarray) -> np.ndarray:
        """``X @ coef`` for ``coef`` of shape (k,) or (k, m)."""
        out = 0.0
        for block, cols in self._parts():
            out = out + block @ coef[cols]
        return out

    def tdot(self, v: np.ndarray) -> np.ndarray:
        """``Xᵀ v`` for ``v`` of shape (n,) or (n, m)."""
        return np.concatenate([block.T @ v for block, _ in self._parts()])

    def chunks(self):
        """Consecutive row slices and the matching rows of ``X`` as one array.

        A chunk takes about ``_CHUNK_BYTES``, so products over chunks run in
        cache and allocate no ``n × k`` temporary.
        """
        n, k = self.shape
        step = max(1024, _CHUNK_BYTES // (8 * max(k, 1)))
        for start in range(0, n, step):
            rows = slice(start, start + step)
            yield rows, np.hstack([block[rows] for block in self.blocks])

    def weighted_gram(self, row_weights: np.ndarray) -> np.ndarray:
        """``Σ_i row_weights_i x_i x_iᵀ``."""
        k = self.shape[1]
        gram = np.zeros((k, k))
        for rows, chunk in self.chunks():
            gram += (chunk * row_weights[rows, None]).T @ chunk
        return gram

    def group_tdot(self, v: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
        """Rows ``Σ_{i∈g} v_i x_i`` for each group ``g``: shape (n_groups, k)."""
        columns = [
            np.bincount(codes, weights=block[:, j] * v, minlength=n_groups)
            for block, _ in self._parts()
            for j in range(block.shape[1])
        ]
        return np.column_stack(columns)

    def toarray(self) -> np.ndarray:
        return np.hstack(self.blocks)


@dataclass(frozen=True, eq=False)
class LinearFit:
    """A fitted linear estimating equation ``regressorsᵀ W (y - design θ) = 0``.

    For least squares ``regressors`` and ``design`` are the same matrix; for
    two-stage least squares ``regressors`` is the projected design ``D̂`` and
    ``design`` the actual one, so that the residuals use the observed
    endogenous variables.

    Attributes
    ----------
    params : ndarray of shape (k,)
    resid : ndarray of shape (n,)
        ``y - design @ params``.
    regressors : ColumnBlocks of shape (n, k)
    design : ColumnBlocks of shape (n, k)
    weights : ndarray of shape (n,) or None
        Frequency weights.
    r_factor : ndarray of shape (k, k)
        Upper-triangular factor with ``sqrt(w) * regressors / scale = U r_factor``
        for an orthonormal ``U``: the bread is
        ``(regressorsᵀ W regressors)⁻¹ = diag(1/scale) R⁻¹ R⁻ᵀ diag(1/scale)``.
    scale : ndarray of shape (k,)
        Column scales of ``regressors``.
    """

    params: np.ndarray
    resid: np.ndarray
    regressors: ColumnBlocks
    design: ColumnBlocks
    weights: np.ndarray | None
    r_factor: np.ndarray
    scale: np.ndarray

    @property
    def nobs(self) -> float:
        """Number of observations: the sum of the frequency weights."""
        if self.weights is None:
            return float(self.resid.shape[0])
        return float(self.weights.sum())

    @property
    def n_params(self) -> int:
        return self.params.shape[0]

    @property
    def df_resid(self) -> float:
        return self.nobs - self.n_params

    @property
    def rss(self) -> float:
        """Weighted residual sum of squares."""
        if self.weights is None:
            return float(self.resid @ self.resid)
        return float((self.weights * self.resid) @ self.resid)

    def bread(self) -> np.ndarray:
        """``(regressorsᵀ W regressors)⁻¹``, from the triangular factor."""
        r_inv = solve_triangular(self.r_factor, np.eye(self.n_params))
        inner = r_inv @ r_inv.T
        return inner / np.outer(self.scale, self.scale)

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """Apply the linear-in-y operator ``H = (D̂ᵀWD̂)⁻¹D̂ᵀW`` to new outcomes.

        Returns the coefficients that the same fit would give with ``rhs`` in
        place of ``y``, without refitting and without forming ``H``: corrected
        semi-normal equations (two triangular solves with the stored factor,
        then one step of iterative refinement).

        Parameters
        ----------
        rhs : ndarray of shape (n,) or (n, m)

        Returns
        -------
        ndarray of shape (k,) or (k, m)
        """
        rhs = np.asarray(rhs, dtype=float)
        vector = rhs.ndim == 1
        rhs = rhs.reshape(rhs.shape[0], -1)
        weighted = rhs if self.weights is None else rhs * self.weights[:, None]

        def normal_solve(right):
            half = solve_triangular(
                self.r_factor, right / self.scale[:, None], trans=True
            )
            return solve_triangular(self.r_factor, half) / self.scale[:, None]

        coef = normal_solve(self.regressors.tdot(weighted))
        remainder = rhs - self.regressors.dot(coef)
        if self.weights is not None:
            remainder *= self.weights[:, None]
        coef += normal_solve(self.regressors.tdot(remainder))
        return coef[:, 0] if vector else coef


@dataclass(frozen=True, eq=False)
class TSLSFit:
    """Result of :func:`fit_tsls`: the structural fit and the first stage.

    ``first_stage`` holds, for each endogenous column, its least squares fit on
    the instruments ``[exog, excluded]`` (empty without endogenous columns).
    """

    structural: LinearFit
    first_stage: tuple[LinearFit, ...]
    n_exog: int
    n_excluded: int


def _column_scale(a: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Weighted column norms (1 for an all-zero column)."""
    if weights is None:
        scale = np.sqrt(np.einsum("ij,ij->j", a, a))
    else:
        scale = np.sqrt(np.einsum("ij,ij,i->j", a, a, weights))
    scale[scale == 0] = 1.0
    return scale


def _tsqr(
    data: ColumnBlocks, sqrt_w: np.ndarray | None, scale: np.ndarray
) -> np.ndarray:
    """Triangular factor of ``sqrt(w) · data / scale`` by a tall-skinny QR.

    Rows are factored in chunks small enough to stay in cache and the stacked
    chunk factors are factored once more; this is as stable as one Householder
    QR of the whole matrix, much faster for tall data, and never forms the
    full scaled matrix.
    """
    factors = []
    for rows, chunk in data.chunks():
        if sqrt_w is not None:
            chunk *= sqrt_w[rows, None]
        chunk /= scale
        factors.append(np.linalg.qr(chunk, mode="r"))
    if len(factors) == 1:
        return factors[0]
    return np.linalg.qr(np.vstack(factors), mode="r")


def _check_rank(diag: np.ndarray, tol: float, block: str, what: str) -> None:
    size = np.abs(diag)
    bad = np.flatnonzero(size <= tol * max(size.max(initial=0.0), 1e-300))
    if bad.size:
        index = int(bad[0])
        raise RankDeficiencyError(
            f"column {index} of the {what} is a linear combination of the "
            f"columns before it (relative size {size[index]:.3g} after "
            f"orthogonalization; tolerance {tol:.3g})",
            block=block,
            index=index,
        )


def fit_tsls(
    exog: np.ndarray,
    endog: np.ndarray,
    excluded: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None = None,
) -> TSLSFit:
    """Two-stage least squares of ``y`` on ``[exog, endog]``.

    The instruments are ``Q = [exog, excluded]``. With no endogenous columns
    (and no excluded instruments) this is ordinary least squares of ``y`` on
    ``exog``.

    Parameters
    ----------
    exog : ndarray of shape (n, kw)
        Exogenous regressors, including the intercept column if wanted.
    endog : ndarray of shape (n, ke)
        Endogenous regressors.
    excluded : ndarray of shape (n, p)
        Excluded instruments, ``p >= ke``.
    y : ndarray of shape (n,)
    weights : ndarray of shape (n,), optional
        Frequency weights (positive): the fit equals the fit on rows repeated
        ``weights`` times.

    Returns
    -------
    TSLSFit
        ``structural.params`` is ordered ``[exog, endog]``.

    Raises
    ------
    RankDeficiencyError
        With ``block="instruments"`` when a column of ``Q`` is a linear
        combination of the columns before it, or ``block="regressors"`` when an
        endogenous column is not identified (its projection on ``Q`` is a
        linear combination of the exogenous columns and the other projections).

    Notes
    -----
    With ``A = sqrt(w) [exog, excluded, endog, y] S⁻¹`` (``S`` the column
    norms) and ``A = U R``, the instruments span ``U[:, :l]``. In that basis
    the projected design is ``D̂ = U[:, :l] G`` with
    ``G = [R[:l, :kw], R[:l, endog]]`` and ``P_Q y = U[:, :l] R[:l, y]``, so
    the second stage is the small least squares problem
    ``min ‖R[:l, y] - G θ‖``, solved by a QR of ``G``.
    """
    exog = np.asarray(exog, dtype=float)
    n, kw = exog.shape
    endog = np.asarray(endog, dtype=float).reshape(n, -1)
    excluded = np.asarray(excluded, dtype=float).reshape(n, -1)
    y = np.asarray(y, dtype=float)
    ke, p = endog.shape[1], excluded.shape[1]
    if p < ke:
        raise ValueError(
            f"{ke} endogenous regressor(s) need at least as many excluded "
            f"instruments; got {p}"
        )
    n_inst = kw + p
    if n <= n_inst + ke:
        raise ValueError(
            f"too few rows: n_samples={n}, but the model has {n_inst + ke} "
            "instrument and regressor columns"
        )

    data = ColumnBlocks(exog, excluded, endog, y)
    sqrt_w = None
    if weights is not None:
        weights = np.asarray(weights, dtype=float)
        sqrt_w = np.sqrt(weights)
    scale = np.concatenate([_column_scale(b, weights) for b in data.blocks])
    r = _tsqr(data, sqrt_w, scale)
    tol = rank_tolerance(n, scale.shape[0])
    _check_rank(np.diag(r)[:n_inst], tol, "instruments", "instrument matrix")

    inst_scale, endog_scale, y_scale = (
        scale[:n_inst],
        scale[n_inst : n_inst + ke],
        scale[-1],
    )
    r_inst = r[:n_inst, :n_inst]
    r_endog = r[:n_inst, n_inst : n_inst + ke]
    instruments = ColumnBlocks(exog, excluded)

    first_stage = ()
    fitted_endog = np.empty((n, 0))
    if ke:
        gamma = solve_triangular(r_inst, r_endog) * endog_scale / inst_scale[:, None]
        fitted_endog = instruments.dot(gamma)
        first_stage = tuple(
            LinearFit(
                params=gamma[:, j],
                resid=endog[:, j] - fitted_endog[:, j],
                regressors=instruments,
                design=instruments,
                weights=weights,
                r_factor=r_inst,
                scale=inst_scale,
            )
            for j in range(ke)
        )

    g = np.hstack([r_inst[:, :kw], r_endog])
    q_g, r_g = np.linalg.qr(g)
    _check_rank(np.diag(r_g), tol, "regressors", "projected regressors")
    theta = solve_triangular(r_g, q_g.T @ r[:n_inst, -1])
    reg_scale = np.concatenate([scale[:kw], endog_scale])
    theta *= y_scale / reg_scale
    design = ColumnBlocks(exog, endog)
    structural = LinearFit(
        params=theta,
        resid=y - design.dot(theta),
        regressors=ColumnBlocks(exog, fitted_endog),
        design=design,
        weights=weights,
        r_factor=r_g,
        scale=reg_scale,
    )
    return TSLSFit(structural, first_stage, n_exog=kw, n_excluded=p)


def fit_ols(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None
) -> LinearFit:
    """Weighted least squares of ``y`` on ``x`` (see :func:`fit_tsls`)."""
    x = np.asarray(x, dtype=float)
    empty = np.empty((x.shape[0], 0))
    return fit_tsls(x, empty, empty, y, weights).structural
