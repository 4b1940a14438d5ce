"""Score columns: the stacked estimating equations of a fit, in the factor's coordinates.

Every estimating equation the fit reports (the structural equation, the first
stages, the reduced form of the outcome, the intention-to-treat regression,
the covariate means, the control-function regression) has scores of the form
``regressor · residual``. Both are linear forms of a row ``a`` of the data
matrix: the regressor is given by its coordinates ``l`` in the orthonormal
basis ``U`` of the factor (``u = a R⁻¹``, so the form is ``a R⁻¹ l``), the
residual by ``a f``. A *score column* is one such product; a :class:`Layout`
lists the columns of a fit and :meth:`Layout.scores` forms them for a chunk of
rows from one matrix product ``a K``. Statistics are linear combinations ``Pᵀψ`` of
the columns, with covariance ``Pᵀ D M D P`` (:mod:`~.covariance`).

Working in ``U`` keeps the scores well conditioned: the meat is formed from
the rows' coordinates, never from raw regressors whose cross-products would
square a near-collinear design's condition number.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from skmediate._numerics.covariance import cluster_adjusted, row_adjustment
from skmediate._numerics.rows import group_sums
from skmediate._numerics.tsls import solve_leading

__all__ = ["Layout", "LayoutBuilder", "homoskedastic_meat", "meat_of_chunk"]


@dataclass(frozen=True, eq=False)
class Layout:
    """The score columns of a fit.

    Attributes
    ----------
    left : ndarray of shape (c, n_left)
        Regressor forms, as coordinates in ``U``.
    right : ndarray of shape (c, n_right)
        Residual forms, as coefficients of the columns of ``A``.
    left_index, right_index : ndarray of shape (n_cols,) of int
        The forms whose product each column is.
    n_params : ndarray of shape (n_cols,)
        Parameters of each column's estimating equation (for the
        small-sample factors).
    blocks : dict of str to slice
        Named groups of columns.
    hats : ndarray of shape (c, n_hat)
        Orthonormal coordinates in ``U`` of the designs of the estimating
        equations (for the leverages of HC2, HC3 and CR2), side by side.
    hat_slices : tuple of slice
        The columns of ``hats`` of each design.
    hat_index : ndarray of shape (n_cols,) of int
        The design of each column's equation.
    """

    left: np.ndarray
    right: np.ndarray
    left_index: np.ndarray
    right_index: np.ndarray
    n_params: np.ndarray
    blocks: dict = field(default_factory=dict)
    hats: np.ndarray | None = None
    hat_slices: tuple = ()
    hat_index: np.ndarray | None = None

    @property
    def n_cols(self) -> int:
        return self.left_index.shape[0]

    def block(self, name: str) -> slice:
        return self.blocks[name]

    @cached_property
    def segments(self) -> tuple:
        """``(columns, lefts, right)`` runs of columns with one residual form.

        ``lefts`` is a slice when the run's regressor forms are consecutive
        (as the layouts of this package build them), else an index array.
        """
        li, ri = self.left_index, self.right_index
        n_left = self.left.shape[1]
        out, start = [], 0
        for stop in range(1, self.n_cols + 1):
            if (
                stop < self.n_cols
                and ri[stop] == ri[start]
                and li[stop] == li[stop - 1] + 1
            ):
                continue
            run = li[start:stop]
            lefts = slice(int(run[0]), int(run[-1]) + 1) if run.size else run
            out.append((slice(start, stop), lefts, n_left + int(ri[start])))
            start = stop
        return tuple(out)

    def scores(
        self,
        a: np.ndarray,
        kernel: np.ndarray,
        leverage: float = 0.0,
        leverage_weights: np.ndarray | None = None,
    ) -> np.ndarray:
        """The score columns of the rows ``a``, transposed: (n_cols, rows).

        The forms ``Kᵀ aᵀ`` and the scores are held with one row per form or
        column, so every product runs over contiguous memory. With
        ``leverage`` (HC2, HC3; ``kernel`` from ``kernel(r, hats=True)``) each
        row's scores of an equation are multiplied by ``(1 - h)^(-leverage)``,
        ``h`` the row's leverage in the equation's design (times
        ``leverage_weights``, for analytic and probability weights).
        """
        forms = kernel.T @ a.T
        out = self.raw_scores(forms)
        if leverage:
            self.adjust(out, self.leverages(forms, leverage_weights), leverage)
        return out

    def raw_scores(self, forms: np.ndarray) -> np.ndarray:
        """The unadjusted score columns (n_cols, rows) from the forms ``Kᵀ aᵀ``."""
        out = np.empty((self.n_cols, forms.shape[1]))
        for cols, lefts, right in self.segments:
            np.multiply(forms[lefts], forms[right : right + 1], out=out[cols])
        return out

    def leverages(
        self,
        forms: np.ndarray,
        leverage_weights: np.ndarray | None = None,
        equations=None,
    ) -> np.ndarray:
        """Each equation's leverages of the rows, (equations, rows), from the
        forms of ``kernel(r, hats=True)`` (times ``leverage_weights``).

        With ``equations`` (positions among :attr:`hat_slices`) only those are
        formed; the others are left 0.
        """
        start = self.left.shape[1] + self.right.shape[1]
        coords = forms[start:]
        if equations is None:
            equations = range(len(self.hat_slices))
        out = np.zeros((len(self.hat_slices), forms.shape[1]))
        for e in equations:
            part = coords[self.hat_slices[e]]
            squares = part * part
            if leverage_weights is not None:
                squares *= leverage_weights
            out[e] = squares.sum(axis=0)
        return out

    def adjust(self, scores: np.ndarray, leverages: np.ndarray, power: float) -> None:
        """Multiply each column's scores (in place) by ``(1 - h)^(-power)``,
        ``h`` the rows' leverages in the column's equation."""
        for e in np.unique(self.hat_index):
            cols = np.flatnonzero(self.hat_index == e)
            factor = row_adjustment(leverages[e], power)
            if cols.size == cols[-1] - cols[0] + 1:  # a run of columns
                scores[cols[0] : cols[-1] + 1] *= factor
            else:
                scores[cols] *= factor

    def kernel(self, r: np.ndarray, hats: bool = False) -> np.ndarray:
        """``K`` with ``a K`` the forms of a row: ``[R⁻¹ left, right]``.

        The regressor forms live in the coordinates of the regressors' columns
        (those before the outcome), so only that leading block of ``R`` is
        solved with: an outcome that the regressors fit exactly (a zero last
        diagonal entry) leaves the scores defined. With ``hats``, the
        coordinates of the equations' designs follow (``R⁻¹ hats``).
        """
        parts = [solve_leading(r, self.left), self.right]
        if hats:
            parts.append(solve_leading(r, self.hats))
        return np.hstack(parts)

    def cluster_sums(
        self, grams: np.ndarray, resid_sums: np.ndarray, leverage: float = 0.0
    ) -> np.ndarray:
        """Every column's cluster sums, (G, n_cols).

        ``grams`` (G, d, d) holds each cluster's ``Σ w u uᵀ`` over the leading
        ``d = c - 1`` coordinates and ``resid_sums`` (G, d, n_right) its
        ``Σ w u e`` for every residual form. With ``leverage`` (CR2) each
        equation's sums are adjusted by ``(I - H_gg)^(-leverage)``
        (:func:`~skmediate._numerics.covariance.cluster_adjusted`).
        """
        lead = grams.shape[-1]
        out = np.empty((grams.shape[0], self.n_cols))
        pairs = sorted(set(zip(self.right_index, self.hat_index, strict=True)))
        for right, hat in pairs:
            sums = resid_sums[:, :, right]
            if leverage:
                basis = self.hats[:lead, self.hat_slices[hat]]
                sums = cluster_adjusted(sums, grams, basis, leverage)
            cols = np.flatnonzero((self.right_index == right) & (self.hat_index == hat))
            out[:, cols] = sums @ self.left[:lead, self.left_index[cols]]
        return out

    def restrict(self, names) -> tuple[Layout, np.ndarray]:
        """The layout of the columns of ``names`` and their positions here."""
        if tuple(names) == tuple(self.blocks):
            return self, np.arange(self.n_cols)
        cols = np.concatenate(
            [np.arange(self.n_cols)[self.blocks[name]] for name in names]
            + [np.zeros(0, dtype=np.intp)]
        )
        blocks, start = {}, 0
        for name in names:
            size = len(range(self.n_cols)[self.blocks[name]])
            blocks[name] = slice(start, start + size)
            start += size
        sub = Layout(
            self.left,
            self.right,
            self.left_index[cols],
            self.right_index[cols],
            self.n_params[cols],
            blocks,
            self.hats,
            self.hat_slices,
            None if self.hat_index is None else self.hat_index[cols],
        )
        return sub, cols


class LayoutBuilder:
    """Collects score columns block by block.

    The first ``n_units`` regressor forms are the coordinates ``u[0..]``
    themselves (unit vectors); further forms are added explicitly.
    """

    def __init__(self, n_columns: int, n_units: int):
        self.c = n_columns
        self.n_units = n_units
        self.extra: list[np.ndarray] = []
        self.right: list[np.ndarray] = []
        self.left_index: list[int] = []
        self.right_index: list[int] = []
        self.n_params: list[float] = []
        self.hat_index: list[int] = []
        self.hats: list[np.ndarray] = []
        self.hat_keys: dict = {}
        self.blocks: dict[str, slice] = {}

    def add_left(self, form: np.ndarray) -> int:
        self.extra.append(np.asarray(form, dtype=float))
        return self.n_units + len(self.extra) - 1

    def add_right(self, form: np.ndarray) -> int:
        self.right.append(np.asarray(form, dtype=float))
        return len(self.right) - 1

    def add_hat(self, key, basis=None) -> int:
        """The design ``key``: orthonormal coordinates ``basis`` (c × h) in ``U``.

        An integer ``key`` ``j`` (no ``basis``) is the design of the first
        ``j`` columns of the data, whose coordinates are unit vectors.
        """
        if key not in self.hat_keys:
            if basis is None:
                basis = np.eye(self.c)[:, :key]
            self.hat_keys[key] = len(self.hats)
            self.hats.append(np.asarray(basis, dtype=float))
        return self.hat_keys[key]

    def add_block(
        self, name: str, lefts, right: int, n_params: float, hat: int
    ) -> None:
        start = len(self.left_index)
        self.left_index.extend(lefts)
        count = len(self.left_index) - start
        self.right_index.extend([right] * count)
        self.n_params.extend([n_params] * count)
        self.hat_index.extend([hat] * count)
        self.blocks[name] = slice(start, start + count)

    def build(self) -> Layout:
        left = np.zeros((self.c, self.n_units + len(self.extra)))
        left[: self.n_units, : self.n_units] = np.eye(self.n_units)
        if self.extra:
            left[:, self.n_units :] = np.column_stack(self.extra)
        return Layout(
            left=left,
            right=np.column_stack(self.right) if self.right else np.zeros((self.c, 0)),
            left_index=np.asarray(self.left_index, dtype=np.intp),
            right_index=np.asarray(self.right_index, dtype=np.intp),
            n_params=np.asarray(self.n_params, dtype=float),
            blocks=dict(self.blocks),
            hats=np.column_stack(self.hats),
            hat_slices=tuple(
                slice(a, b)
                for a, b in itertools.pairwise(
                    itertools.accumulate([h.shape[1] for h in self.hats], initial=0)
                )
            ),
            hat_index=np.asarray(self.hat_index, dtype=np.intp),
        )


def meat_of_chunk(scores_t, w, codes, n_groups):
    """A chunk's part of the rows' meat ``Σ w ψψᵀ``, or of the cluster sums ``Σ w ψ``.

    ``scores_t`` holds the chunk's score columns as rows (see :meth:`Layout.scores`).
    """
    weighted = scores_t if w is None else scores_t * w
    if codes is None:
        return weighted @ scores_t.T
    return group_sums(weighted.T, codes, n_groups)


def homoskedastic_meat(layout: Layout, r: np.ndarray) -> np.ndarray:
    """``(Σ w e_a e_b)(Σ w l_a l_b)`` for all pairs of columns, from the factor.

    In the basis ``U`` the rows are orthonormal (``Σ w u uᵀ = I``), so the
    cross-products of forms are inner products of their coordinates.
    """
    resid = r @ layout.right  # coordinates of the residual forms
    resid_cross = resid.T @ resid
    left_cross = layout.left.T @ layout.left
    li, ri = layout.left_index, layout.right_index
    return resid_cross[np.ix_(ri, ri)] * left_cross[np.ix_(li, li)]


def sandwich(p: np.ndarray, meat: np.ndarray, roots: np.ndarray) -> np.ndarray:
    """``Pᵀ D M D P`` for ``P`` of shape (..., n_cols, d), symmetrized."""
    scaled = p * roots[..., :, None]
    if scaled.ndim == 2:
        cov = scaled.T @ meat @ scaled
        return (cov + cov.T) / 2
    cov = np.swapaxes(scaled, -1, -2) @ meat @ scaled
    return (cov + np.swapaxes(cov, -1, -2)) / 2
