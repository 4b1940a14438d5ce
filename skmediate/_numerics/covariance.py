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
- ``HC2`` and ``HC3``: each row's scores of an equation are multiplied by
  ``(1 - h_i)^(-1/2)`` or ``(1 - h_i)^(-1)``, ``h_i`` the row's leverage in
  that equation's design (for the structural equation the projected
  regressors ``D̂ = P_Q D``, as ``estimatr::iv_robust`` defines it); root
  factor 1.
- ``cluster`` (CR1) and ``CR0``: ``M = Σ_g s_g s_gᵀ`` with
  ``s_g = Σ_{i∈g} w_i ψ_i``; root factor ``√(G/(G-1) · (n-1)/(n-k))`` or 1.
- ``CR2`` (Bell and McCaffrey 2002): ``s_g`` is formed from the scores
  adjusted by ``(I - H_gg)^(-1/2)``, ``H_gg`` the cluster's block of the
  equation's hat matrix (see :func:`cluster_adjusted`); root factor 1.

How the weights enter is the fit's *weight type* (:data:`WEIGHT_TYPES`, as
Stata's ``fweight``, ``aweight`` and ``pweight``):

- ``frequency``: a row of weight ``w`` stands for ``w`` identical rows, each
  with leverage ``h_i = x_iᵀ(Σ w x xᵀ)⁻¹x_i``; ``n = Σ w`` and the rows' meat
  is ``Σ w ψψᵀ``, so a weighted fit equals the fit on the repeated rows.
- ``analytic`` and ``probability``: each row is one observation, and the
  weights are first rescaled to sum to the number ``N`` of rows with
  positive weight (which changes no estimate): ``n = N``. A fit is then the
  unweighted fit on the rows scaled by ``√w``: the rows' meat is
  ``Σ w² ψψᵀ`` (the score of a row is ``w ψ``), the leverage is
  ``h_i = w_i x_iᵀ(Σ w x xᵀ)⁻¹x_i`` (Stata's ``regress [aw=]``, R's
  ``lm(weights=)`` with sandwich, estimatr), and the cluster sums
  ``Σ_{i∈g} w_i ψ_i`` and the CR2 adjustment are those of frequency weights.
  Probability weights allow only the robust types (Stata makes every
  ``pweight`` fit robust): the homoskedastic ones assume errors whose
  variance the weights describe, which sampling weights do not.
  Rescaling either by a constant changes nothing.

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
from scipy import special

__all__ = [
    "AR_MEATS",
    "COV_TYPES",
    "WEIGHT_TYPES",
    "CovarianceType",
    "FReference",
    "WeightType",
    "anderson_rubin_kind",
    "anderson_rubin_reference",
    "bell_mccaffrey_df",
    "cluster_adjusted",
    "cov_type",
    "check_weighted_cov_type",
    "row_adjustment",
    "weight_type",
]

# A leverage within this of 1 (a row or cluster its equation fits exactly)
# gets adjustment 0, as in estimatr.
LEVERAGE_TOL = 1e-12


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
    leverage : float
        The power ``a`` of the leverage adjustment ``(1 - h)^(-a)`` of a row's
        scores (``(I - H_gg)^(-a)`` of a cluster's): 0 for none.
    """

    name: str
    meat: str
    factor: Callable
    leverage: float = 0.0

    @property
    def homoskedastic(self) -> bool:
        return self.meat == "homoskedastic"

    @property
    def clustered(self) -> bool:
        return self.meat == "clusters"

    def root_factor(self, nobs, n_params, n_clusters=None):
        """Square root of the small-sample factor of columns of equations with ``n_params``."""
        n_params = np.asarray(n_params, dtype=float)
        if np.isscalar(nobs) and (n_clusters is None or np.isscalar(n_clusters)):
            with np.errstate(divide="ignore", invalid="ignore"):  # one fit
                value = self.factor(float(nobs), n_params, n_clusters)
            return np.sqrt(value + np.zeros_like(n_params))
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
    "HC2": CovarianceType("HC2", "rows", _hc0, leverage=0.5),
    "HC3": CovarianceType("HC3", "rows", _hc0, leverage=1.0),
    "cluster": CovarianceType("cluster", "clusters", _cluster),
    "CR0": CovarianceType("CR0", "clusters", _hc0),
    "CR2": CovarianceType("CR2", "clusters", _hc0, leverage=0.5),
}


# The meat of the robust Anderson–Rubin statistic: "leverage" multiplies each
# row's reduced-form residual by (1 - h)^(-1) (a cluster's by (I - H_gg)^(-1)),
# h the leverage in the regression on all instruments (HC3, CR3), with the
# reference of anderson_rubin_reference; "fit" uses the fit's own covariance
# type and reference distribution.
AR_MEATS = ("leverage", "fit")


def anderson_rubin_kind(kind: CovarianceType, ar_meat: str) -> CovarianceType | None:
    """The covariance type of the robust Anderson–Rubin statistic of a fit of ``kind``.

    ``ar_meat="leverage"`` gives HC3 for the row-robust types and CR3 (the
    residuals of a cluster multiplied by ``(I - H_gg)^(-1)``, no factor) for
    the cluster-robust ones, with the reference distribution of
    :func:`anderson_rubin_reference`; ``"fit"`` (the fit's own type and
    reference distribution) and a homoskedastic ``kind`` (whose statistic
    needs no meat) give None.
    """
    if ar_meat not in AR_MEATS:
        raise ValueError(f"ar_meat must be one of {list(AR_MEATS)}; got {ar_meat!r}")
    if ar_meat == "fit" or kind.homoskedastic:
        return None
    if kind.clustered:
        return CovarianceType("CR3", "clusters", _hc0, leverage=1.0)
    return COV_TYPES["HC3"]


@dataclass(frozen=True)
class FReference:
    """An F reference distribution of Wald statistics ``W`` of ``k`` restrictions.

    ``W/k`` against ``F(k, df)``; with ``hotelling``, ``W`` is taken as
    Hotelling's ``T²`` from a covariance with ``df`` degrees of freedom:
    ``W (df - k + 1)/(k df)`` against ``F(k, df - k + 1)``. The two agree
    for ``k = 1`` (``t²(df)``).

    Attributes
    ----------
    df : float
    hotelling : bool
    """

    df: float
    hotelling: bool = False

    def df_denom(self, k: int) -> float:
        """The F distribution's denominator degrees of freedom for ``k`` restrictions."""
        return float(self.df - k + 1) if self.hotelling else float(self.df)

    def statistic(self, wald: float, k: int) -> float:
        """The F statistic of the Wald statistic ``wald`` of ``k`` restrictions.

        ``nan`` without a positive denominator degree of freedom (with
        ``hotelling``, ``k`` above ``df``): the test is not defined.
        """
        df_denom = self.df_denom(k)
        if df_denom <= 0:
            return np.nan
        if self.hotelling:
            return float(wald) * df_denom / (k * self.df)
        return float(wald) / k

    def pvalue(self, wald: float, k: int) -> float:
        """The p-value of the Wald statistic ``wald`` of ``k`` restrictions (or ``nan``)."""
        statistic = self.statistic(wald, k)
        if np.isnan(statistic):
            return np.nan
        return float(special.fdtrc(k, self.df_denom(k), statistic))

    def critical_value(self, k: int, confidence_level: float) -> float:
        """The ``confidence_level`` critical value on the scale of ``W`` (or ``nan``)."""
        df_denom = self.df_denom(k)
        if df_denom <= 0:
            return np.nan
        quantile = float(special.fdtri(k, df_denom, confidence_level)) * k
        if self.hotelling:
            return quantile * self.df / df_denom
        return quantile


def anderson_rubin_reference(
    kind: CovarianceType, nobs: float, n_instruments: int, n_clusters: int | None
) -> FReference:
    """The reference distribution of the robust Anderson–Rubin statistic of ``kind``.

    ``kind`` is the statistic's covariance type of ``ar_meat="leverage"``
    (:func:`anderson_rubin_kind`). With the HC3 meat ``W/p`` is compared with
    ``F(p, n - l)``, ``l`` the instrument columns. With the CR3 meat ``W`` is
    Hotelling's ``T²`` with ``G - 1`` degrees of freedom: ``W (G - p)/(p (G -
    1))`` against ``F(p, G - p)``, the simplest form of the approximation of
    Pustejovsky and Tipton (2018) (``F(1, G - 1)`` for one restriction, as
    the t tests with ``use_t``); ``W/p`` against ``F(p, G - 1)`` rejects a
    true value too often when ``p`` is not small against ``G``.

    References
    ----------
    .. [1] Pustejovsky, J. E. and Tipton, E. (2018). Small-sample methods for
       cluster-robust variance estimation and hypothesis testing in fixed
       effects models. *Journal of Business & Economic Statistics*, 36(4),
       672–683.
    """
    if kind.clustered:
        return FReference(float(n_clusters - 1), hotelling=True)
    return FReference(float(nobs - n_instruments))


def cov_type(name: str) -> CovarianceType:
    """The entry of :data:`COV_TYPES` named ``name``."""
    try:
        return COV_TYPES[name]
    except KeyError:
        raise ValueError(
            f"unknown cov_type {name!r}; expected one of {list(COV_TYPES)}"
        ) from None


@dataclass(frozen=True)
class WeightType:
    """How sample weights enter a fit (see the module docstring).

    Attributes
    ----------
    name : str
    counts : bool
        Whether a weight counts observations (frequency weights: ``n = Σ w``);
        otherwise each row with positive weight is one observation and the
        weights are rescaled to sum to their number.
    robust_only : bool
        Whether only the heteroskedasticity- and cluster-robust covariance
        types are allowed (probability weights).
    """

    name: str
    counts: bool
    robust_only: bool = False

    def normalize(self, weights):
        """The weights a fit uses: rescaled to sum to their positive count
        unless they count observations (numpy or dask; None stays None)."""
        if weights is None or self.counts:
            return weights
        positive = (weights > 0) & (weights < np.inf)
        total = (weights * positive).sum()
        count = positive.sum()
        ok = total > 0  # else the fit refuses them: left as they are
        scale = np.where(ok, count / np.where(ok, total, 1.0), 1.0)
        return weights * scale

    def row_weights(self, w):
        """The weights of the rows' score outer products in the meat (HC types)."""
        return w if w is None or self.counts else w * w

    def leverage_weights(self, w):
        """What multiplies a row's leverage ``xᵀ(Σ w x xᵀ)⁻¹x`` (None: nothing)."""
        return None if self.counts else w


WEIGHT_TYPES: dict[str, WeightType] = {
    "frequency": WeightType("frequency", counts=True),
    "analytic": WeightType("analytic", counts=False),
    "probability": WeightType("probability", counts=False, robust_only=True),
}


def weight_type(name: str) -> WeightType:
    """The entry of :data:`WEIGHT_TYPES` named ``name``."""
    try:
        return WEIGHT_TYPES[name]
    except KeyError:
        raise ValueError(
            f"unknown weight_type {name!r}; expected one of {list(WEIGHT_TYPES)}"
        ) from None


def check_weighted_cov_type(weights: WeightType, kind: CovarianceType) -> None:
    """Refuse a homoskedastic covariance with probability weights."""
    if weights.robust_only and kind.homoskedastic:
        raise ValueError(
            f"cov_type={kind.name!r} does not apply with "
            f"weight_type={weights.name!r}: probability (sampling) weights say "
            "how many population units a row stands for, not how precise it "
            "is, so the homoskedastic covariance is not valid. Use a robust "
            "cov_type ('HC1', as Stata does for pweights; 'HC0', 'HC2', "
            "'HC3'; or a cluster-robust one with groups), or "
            "weight_type='analytic' for weights inversely proportional to "
            "the error variance."
        )


def row_adjustment(leverage: np.ndarray, power: float) -> np.ndarray:
    """``(1 - h)^(-power)`` of leverages ``h``; 0 where ``1 - h ≤`` :data:`LEVERAGE_TOL`."""
    room = 1.0 - leverage
    ok = room > LEVERAGE_TOL
    return np.where(ok, np.where(ok, room, 1.0) ** -power, 0.0)


def cluster_adjusted(
    sums: np.ndarray, grams: np.ndarray, hat: np.ndarray, power: float = 0.5
) -> np.ndarray:
    """Cluster score sums of coordinates, adjusted by ``(I - H_gg)^(-power)``.

    Parameters
    ----------
    sums : ndarray of shape (..., G, d)
        ``t_g = Σ_{i∈g} w_i u_i e_i``: cluster sums of the coordinates ``u``
        (in an orthonormal basis of the data, ``Σ w u uᵀ = I``) times a
        residual.
    grams : ndarray of shape (..., G, d, d)
        ``Γ_g = Σ_{i∈g} w_i u_i u_iᵀ``.
    hat : ndarray of shape (..., d, h)
        Orthonormal coordinates of the equation's design (one per leading
        index of ``sums``, the same for every cluster).

    Returns
    -------
    ndarray of shape (..., G, d)
        ``Σ_{i∈g} u_i (A_g e_g)_i`` with ``A_g = (I - H_gg)^(-power)`` and
        ``H_gg = X_g X_gᵀ`` the cluster's block of the hat matrix of the design
        ``X = U hat``.

    Notes
    -----
    ``H_gg`` is an ``n_g × n_g`` matrix of rank at most ``h``: with the thin
    SVD ``X_g = V Λ^½ Eᵀ``, where ``E Λ Eᵀ = hatᵀ Γ_g hat``, its powers act
    as the identity outside ``V``, so ``A_g = I + V diag(f(λ) - 1) Vᵀ`` with
    ``f(λ) = (1 - λ)^(-power)`` and ``Σ u (A_g e) = t_g + Γ_g hat E
    diag((f(λ) - 1)/λ) Eᵀ hatᵀ t_g``: small matrices per cluster, never
    ``n_g × n_g``. An eigenvalue of ``I - H_gg`` below
    :data:`LEVERAGE_TOL` is left out (``f = 0``), as in estimatr.
    """
    hat = np.asarray(hat)[..., None, :, :]  # the same design for every cluster
    g_hat = grams @ hat  # (..., G, d, h)
    inner = np.swapaxes(hat, -1, -2) @ g_hat
    inner = (inner + np.swapaxes(inner, -1, -2)) / 2
    lam, vec = np.linalg.eigh(inner)
    lam = np.clip(lam, 0.0, None)
    room = 1.0 - lam
    ok = room > LEVERAGE_TOL
    with np.errstate(divide="ignore", invalid="ignore"):
        # (f(λ) - 1)/λ without cancellation; its limit as λ → 0 is ``power``
        step = np.expm1(-power * np.log1p(-np.where(ok, lam, 0.0)))
        coef = np.where(lam > 0, step / np.where(lam > 0, lam, 1.0), power)
    coef = np.where(ok, coef, -1.0 / np.where(lam > 0, lam, 1.0))
    th = (sums[..., None, :] @ hat)[..., 0, :]  # (..., G, h)
    mid = vec @ (coef * (th[..., None, :] @ vec)[..., 0, :])[..., None]
    return sums + (g_hat @ mid)[..., 0]


def bell_mccaffrey_df(grams: np.ndarray, contrasts: np.ndarray) -> np.ndarray:
    """Bell–McCaffrey (Satterthwaite) degrees of freedom of CR2 t tests.

    Parameters
    ----------
    grams : ndarray of shape (G, h, h)
        Per cluster ``Γ_g = Σ_{i∈g} w_i q_i q_iᵀ`` in orthonormal coordinates
        ``q`` of the equation's design (``Σ_g Γ_g = I``).
    contrasts : ndarray of shape (h, d)
        Each tested combination ``cᵀ Σ q e`` of the scores.

    Returns
    -------
    ndarray of shape (d,)

    Notes
    -----
    Under the working model of independent homoskedastic errors the CR2
    variance of ``cᵀβ̂`` is ``Σ_g (a_gᵀ(I - H) ε)²`` with
    ``a_g = A_g X_g c``, a quadratic form in ``ε`` with the ``G × G`` matrix
    ``P = diag(d_g) - B Bᵀ``, where ``d_g = cᵀ Γ_g(I - Γ_g)⁻¹ c`` and the rows
    of ``B`` are ``b_g = Γ_g (I - Γ_g)^(-½) c``. The degrees of freedom are
    ``tr(P)² / ‖P‖²_F`` (as estimatr and clubSandwich compute them), here
    from the ``h × h`` matrices alone.
    """
    lam, vec = np.linalg.eigh((grams + np.swapaxes(grams, -1, -2)) / 2)
    lam = np.clip(lam, 0.0, None)
    room = 1.0 - lam
    ok = room > LEVERAGE_TOL
    safe = np.where(ok, room, 1.0)
    inv = np.where(ok, lam / safe, 0.0)
    inv_half = np.where(ok, lam / np.sqrt(safe), 0.0)
    ec = np.einsum("ghj,hd->gjd", vec, contrasts)
    d_g = np.einsum("gj,gjd->gd", inv, ec * ec)
    b = np.einsum("ghj,gj,gjd->ghd", vec, inv_half, ec)
    norms = np.einsum("ghd,ghd->gd", b, b)
    btb = np.einsum("ghd,gkd->hkd", b, b)
    trace = d_g.sum(axis=0) - norms.sum(axis=0)
    frobenius = (
        (d_g * d_g).sum(axis=0)
        - 2 * (d_g * norms).sum(axis=0)
        + np.einsum("hkd,hkd->d", btb, btb)
    )
    return trace * trace / frobenius
