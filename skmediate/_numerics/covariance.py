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

from collections.abc import Callable
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
    factor : callable
        ``factor(n, k, G)``: the small-sample factor of a column whose
        equation has ``k`` parameters (arrays broadcast).
    """

    name: str
    meat: str
    factor: Callable

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
            value = self.factor(nobs, n_params, n_clusters)
        return np.sqrt(
            np.broadcast_to(value, np.broadcast_shapes(nobs.shape, n_params.shape))
        )


# the small-sample factors (n observations, k parameters, g clusters)
def _unadjusted(n, k, g):
    return 1.0 / n


def _classical(n, k, g):
    return 1.0 / (n - k)


def _hc0(n, k, g):
    return 1.0


def _hc1(n, k, g):
    return n / (n - k)


def _cluster(n, k, g):
    return g / (g - 1) * (n - 1) / (n - k)


COV_TYPES: dict[str, CovarianceType] = {
    "unadjusted": CovarianceType("unadjusted", "homoskedastic", _unadjusted),
    "classical": CovarianceType("classical", "homoskedastic", _classical),
    "HC0": CovarianceType("HC0", "rows", _hc0),
    "HC1": CovarianceType("HC1", "rows", _hc1),
    "cluster": CovarianceType("cluster", "clusters", _cluster),
}


def cov_type(name: str) -> CovarianceType:
    """The entry of :data:`COV_TYPES` named ``name``."""
    try:
        return COV_TYPES[name]
    except KeyError:
        raise ValueError(
            f"unknown cov_type {name!r}; expected one of {list(COV_TYPES)}"
        ) from None
