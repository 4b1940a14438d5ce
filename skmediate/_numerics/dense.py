"""Small dense linear algebra, by direct calls of LAPACK.

A fit's matrices are small (a few columns), and its cost is the calls'
overhead rather than their arithmetic: numpy's ``linalg`` wrappers spend
microseconds checking and converting before LAPACK runs. These call LAPACK's
routines through scipy's direct bindings (the routines numpy's wrappers call:
the same results) for one matrix, and numpy's broadcasting wrappers for
stacks of matrices.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg.lapack import dgeqrf as _geqrf
from scipy.linalg.lapack import dorgqr as _orgqr
from scipy.linalg.lapack import dpotrf as _potrf
from scipy.linalg.lapack import dsyevd as _syevd
from scipy.linalg.lapack import dtrtrs as _trtrs

__all__ = [
    "cholesky_lower",
    "orthonormal_factors",
    "solve_lower",
    "solve_upper",
    "symmetric_eigenvalues",
    "triangular_factor",
]


def triangular_factor(a: np.ndarray) -> np.ndarray:
    """``R`` of the QR decomposition ``a = QR`` (``min(n, k) × k``, as numpy's).

    LAPACK's Householder QR (``geqrf``, which numpy's ``qr`` calls too),
    without the wrapper's microseconds; stacks of matrices go to numpy.
    """
    a = np.asarray(a, dtype=float)
    if a.ndim != 2 or 0 in a.shape:
        return np.linalg.qr(a, mode="r")
    packed, _, _, _ = _geqrf(a)
    return _upper(packed)


def orthonormal_factors(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reduced QR decomposition ``a = QR``, as numpy's ``qr(a)``."""
    a = np.asarray(a, dtype=float)
    if a.ndim != 2 or 0 in a.shape:
        return np.linalg.qr(a)
    packed, tau, _, _ = _geqrf(a)
    q, _, _ = _orgqr(packed[:, : min(a.shape)], tau)
    return q, _upper(packed)


def _upper(packed: np.ndarray) -> np.ndarray:
    """``R`` from ``geqrf``'s packed factor (reflectors below the diagonal)."""
    k = min(packed.shape)
    r = np.ascontiguousarray(packed[:k])
    for i in range(1, k):  # row by row: cheaper than a mask for a few columns
        r[i, :i] = 0.0
    return r


def solve_upper(r: np.ndarray, b: np.ndarray, trans: bool = False) -> np.ndarray:
    """``r⁻¹ b`` (``r⁻ᵀ b`` with ``trans``) for upper-triangular ``r``, broadcasting.

    One triangular matrix is solved by substitution (LAPACK's ``trtrs``);
    stacks of them by numpy's solver, which on a triangular matrix is
    substitution too.

    Raises
    ------
    numpy.linalg.LinAlgError
        A zero on the diagonal.
    """
    if r.ndim != 2 or b.ndim > 2:
        return np.linalg.solve(np.swapaxes(r, -1, -2) if trans else r, b)
    if r.shape[0] == 0 or b.size == 0:
        return np.zeros(b.shape)
    x, info = _trtrs(r, b, trans=int(trans))
    if info > 0:
        raise np.linalg.LinAlgError("Singular matrix")
    return x


def solve_lower(low: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``low⁻¹ b`` for one lower-triangular ``low`` (a Cholesky factor).

    Raises
    ------
    numpy.linalg.LinAlgError
        A zero on the diagonal.
    """
    if low.shape[0] == 0 or b.size == 0:
        return np.zeros(b.shape)
    x, info = _trtrs(low, b, lower=1)
    if info > 0:
        raise np.linalg.LinAlgError("Singular matrix")
    return x


def cholesky_lower(a: np.ndarray) -> np.ndarray:
    """The lower Cholesky factor of one symmetric positive definite ``a``.

    Raises
    ------
    numpy.linalg.LinAlgError
        ``a`` is not positive definite, as numpy's ``cholesky`` does.
    """
    if a.shape[0] == 0:
        return np.zeros(a.shape)
    low, info = _potrf(a, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError("Matrix is not positive definite")
    return low


def symmetric_eigenvalues(a: np.ndarray) -> np.ndarray:
    """The eigenvalues of one symmetric ``a`` (its lower triangle), increasing."""
    if a.shape[0] == 0:
        return np.zeros(0)
    values, _, info = _syevd(a, compute_v=0, lower=1)
    if info != 0:
        return np.linalg.eigvalsh(a)
    return values
