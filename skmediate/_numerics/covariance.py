"""The table of covariance types.

A fit's statistics are linear combinations of *score columns*: per row, the
product of a regressor form and a residual form of one estimating equation
(:mod:`skmediate._numerics.scores`). A covariance type is one entry of
:data:`COV_TYPES`: how the meat of the score columns is formed and the
small-sample factor of a column. The covariance of ``Pᵀψ`` (``ψ`` the score
columns, ``P`` their coefficients) is ``Pᵀ D M D P`` with ``M`` the meat and
``D`` the diagonal of the columns' root factors; the bread is inside ``P``.

- ``unadjusted`` and ``classical`` (homoskedastic): the meat between columns
  ``(a, e)`` and ``(b, e')`` is ``(Σ w e e') (Σ w a b)``, read off the
  triangular factor; the root factor is ``1/√n`` or ``1/√(n - k)``.
- ``HC0`` and ``HC1``: ``M = Σ_i w_i ψ_i ψ_iᵀ``; root factor 1 or
  ``√(n / (n - k))``.
- ``cluster``: ``M = Σ_g s_g s_gᵀ`` with ``s_g = Σ_{i∈g} w_i ψ_i``; root factor
  ``√(G/(G-1) · (n-1)/(n-k))``.

``n`` is the number of observations (the sum of the frequency weights), ``k``
the number of parameters of the column's estimating equation and ``G`` the
number of clusters. The factor of an entry between two equations is the
product of their roots, so each equation's own block is its usual covariance
and the stacked matrix stays positive semi-definite.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["COV_TYPES", "CovarianceType", "cov_type"]


@dataclass(frozen=True)
class CovarianceType:
    """One covariance type.

    Attributes
    ----------
    name : str
    meat : {"homoskedastic", "rows", "clusters"}
        Where the meat comes from: the factor (homoskedastic errors), the
        sum of the rows' score outer products, or that of the clusters'
        score sums.
    """

    name: str
    meat: str

    @property
    def homoskedastic(self) -> bool:
        return self.meat == "homoskedastic"

    @property
    def clustered(self) -> bool:
        return self.meat == "clusters"

    def root_factor(self, nobs, n_params, n_clusters=None):
        """Square root of the small-sample factor of columns of equations with ``n_params``."""
        n_params = np.asarray(n_params, dtype=float)
        nobs = np.asarray(nobs, dtype=float)
        if nobs.ndim:  # a batch of fits: one row of factors per fit
            nobs = nobs[..., None]
            if n_clusters is not None:
                n_clusters = np.asarray(n_clusters, dtype=float)[..., None]
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.name == "unadjusted":
                value = 1.0 / nobs + 0 * n_params
            elif self.name == "classical":
                value = 1.0 / (nobs - n_params)
            elif self.name == "HC0":
                value = 1.0 + 0 * n_params + 0 * nobs
            elif self.name == "HC1":
                value = nobs / (nobs - n_params)
            else:
                value = n_clusters / (n_clusters - 1) * (nobs - 1) / (nobs - n_params)
        return np.sqrt(value)

    def dof(self, nobs, n_params, n_clusters=None) -> float:
        """Residual degrees of freedom of the column's equation (for t and F references)."""
        if self.clustered:
            return float(n_clusters - 1)
        return float(nobs - n_params)


COV_TYPES: dict[str, CovarianceType] = {
    "unadjusted": CovarianceType("unadjusted", "homoskedastic"),
    "classical": CovarianceType("classical", "homoskedastic"),
    "HC0": CovarianceType("HC0", "rows"),
    "HC1": CovarianceType("HC1", "rows"),
    "cluster": CovarianceType("cluster", "clusters"),
}


def cov_type(name: str) -> CovarianceType:
    """The entry of :data:`COV_TYPES` named ``name``."""
    try:
        return COV_TYPES[name]
    except KeyError:
        raise ValueError(
            f"unknown cov_type {name!r}; expected one of {list(COV_TYPES)}"
        ) from None
