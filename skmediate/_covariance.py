"""Covariance estimators for linear fits: unadjusted, classical, HC0, HC1, cluster.

All estimators share the bread ``B = (D̂ᵀWD̂)⁻¹`` of :class:`~._linalg.LinearFit`
and differ in the meat and the small-sample factor. The bread is applied by
triangular solves with the stored, column-scaled QR factor ``R``
(``B = S⁻¹R⁻¹R⁻ᵀS⁻¹``); no normal equations are inverted.
"""

from __future__ import annotations

import numpy as np

from ._linalg import LinearFit, solve_triangular

__all__ = ["COV_TYPES", "covariance", "encode_groups"]

COV_TYPES = ("unadjusted", "classical", "HC0", "HC1", "cluster")


def encode_groups(groups: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer codes ``0..G-1`` for cluster labels, and the number of clusters."""
    _, codes = np.unique(np.asarray(groups), return_inverse=True)
    codes = codes.reshape(-1)
    return codes, int(codes.max()) + 1 if codes.size else 0


def _sandwich(fit: LinearFit, meat: np.ndarray) -> np.ndarray:
    """``B meat B`` with ``B = S⁻¹R⁻¹R⁻ᵀS⁻¹``, by triangular solves on k × k matrices."""
    r = fit.r_factor
    scaled = meat / np.outer(fit.scale, fit.scale)
    inner = solve_triangular(r, scaled, trans=True)  # R⁻ᵀ M
    inner = solve_triangular(r, inner.T, trans=True)  # R⁻ᵀ M R⁻¹
    half = solve_triangular(r, inner)  # R⁻¹ R⁻ᵀ M R⁻¹
    cov = solve_triangular(r, half.T)  # R⁻¹ R⁻ᵀ M R⁻¹ R⁻ᵀ
    cov = (cov + cov.T) / 2
    return cov / np.outer(fit.scale, fit.scale)


def covariance(
    fit: LinearFit,
    cov_type: str,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Covariance matrix of ``fit.params``.

    Parameters
    ----------
    fit : LinearFit
    cov_type : {"unadjusted", "classical", "HC0", "HC1", "cluster"}
    groups : ndarray of shape (n,) of int, optional
        Cluster codes ``0..G-1`` (see :func:`encode_groups`); required for
        ``"cluster"``.

    Returns
    -------
    ndarray of shape (k, k)

    Notes
    -----
    With ``n = Σ w_i`` observations, ``k`` parameters, residuals ``ε̂`` and
    regressor rows ``d̂_i`` (frequency weights ``w_i`` count repeated rows):

    - unadjusted: ``(Σ w ε̂² / n) B``;
    - classical: ``(Σ w ε̂² / (n - k)) B``;
    - HC0: ``B (Σ w_i ε̂_i² d̂_i d̂_iᵀ) B``;
    - HC1: HC0 times ``n / (n - k)``;
    - cluster: ``B (Σ_g s_g s_gᵀ) B`` with ``s_g = Σ_{i∈g} w_i ε̂_i d̂_i``, times
      ``G/(G-1) · (n-1)/(n-k)``.
    """
    n, k = fit.nobs, fit.n_params
    if cov_type in ("unadjusted", "classical"):
        sigma2 = fit.rss / (n if cov_type == "unadjusted" else n - k)
        return sigma2 * fit.bread()
    weighted_resid = fit.resid if fit.weights is None else fit.weights * fit.resid
    if cov_type in ("HC0", "HC1"):
        meat = fit.regressors.weighted_gram(weighted_resid * fit.resid)
        factor = 1.0 if cov_type == "HC0" else n / (n - k)
    elif cov_type == "cluster":
        if groups is None:
            raise ValueError("cov_type='cluster' needs groups")
        codes = np.asarray(groups)
        n_groups = int(codes.max()) + 1
        sums = fit.regressors.group_tdot(weighted_resid, codes, n_groups)
        meat = sums.T @ sums
        factor = n_groups / (n_groups - 1) * (n - 1) / (n - k)
    else:
        raise ValueError(f"unknown cov_type {cov_type!r}; expected one of {COV_TYPES}")
    return factor * _sandwich(fit, meat)
