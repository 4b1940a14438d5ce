"""Many fits at once, for the bootstrap: from weighted cross-products, or by linearity.

The fits of a batch share the data matrix ``A`` of the design (its rows are
formed once). A pairs or Bayesian resample is a vector of frequency weights
``w_b``; the factor ``R_b`` of ``√w_b A`` is the Cholesky factor of the
weighted cross-product ``Aᵀ W_b A``, formed for the whole batch by one matrix
product of the weights with the rows' outer products (on column-scaled
columns). The estimates then follow from ``R_b`` by
:func:`~skmediate._numerics.tsls.solve_structural`, broadcast over the batch,
and the covariances from the same score columns and the same table of
covariance types as a single fit. The wild bootstrap keeps the design and
perturbs the residuals; the estimates are linear in the outcome, so
``θ̂*_b - θ̂`` is a multiplier-weighted sum of the fit's own score columns.

Cross-products square the condition number of the scaled data, so a fit
whose Cholesky factor has a relatively tiny diagonal entry is flagged
``suspect`` (its numbers are NaN) for the caller to refit exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skmediate._numerics.covariance import cluster_adjusted, row_adjustment
from skmediate._numerics.covariance import cov_type as covariance_type
from skmediate._numerics.dense import solve_upper
from skmediate._numerics.design import Design
from skmediate._numerics.model import FittedModel
from skmediate._numerics.rows import row_slices
from skmediate._numerics.scores import sandwich
from skmediate._numerics.tsls import solve_structural

__all__ = ["BatchFit", "ClusterSpec", "tsls_batch", "wild_batch"]

# Bytes of the temporaries of one row chunk (resamples × rows × forms).
CHUNK_BYTES = 8 * 2**20

# A batched fit whose Cholesky factor has a relative diagonal entry below this
# is not trusted (the cross-products square the condition number).
SUSPECT_RELATIVE_DIAGONAL = 1e-6


@dataclass(frozen=True, eq=False)
class ClusterSpec:
    """How cluster score sums enter the cluster-robust meat of each fit.

    The meat of fit ``b`` is ``Σ_h multiplicity[b, h] s_bh s_bhᵀ`` with
    ``s_bh = Σ_{i∈h} w_bi ψ_bi``, and the small-sample factor uses
    ``n_clusters[b]`` clusters.

    Attributes
    ----------
    codes : ndarray of shape (n,) of int
        Cluster ``h`` of each row, ``0..H-1``.
    multiplicity : ndarray of shape (b, H), or None
        ``None`` means 1 for every cluster.
    n_clusters : ndarray of shape (b,), or None
        ``None`` means the number of clusters with positive total weight.
    """

    codes: np.ndarray
    multiplicity: np.ndarray | None = None
    n_clusters: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class BatchFit:
    """Estimates of a batch of fits.

    Attributes
    ----------
    params : ndarray of shape (b, k)
        Structural coefficients of the reported terms.
    cov : ndarray of shape (b, k, k) or None
    suspect : ndarray of shape (b,) of bool
        Fits the batch cannot vouch for (NaN in ``params`` and ``cov``).
    """

    params: np.ndarray
    cov: np.ndarray | None
    suspect: np.ndarray


def _chunks(n: int, per_row: int):
    return row_slices(n, per_row, CHUNK_BYTES)


def _sorted_group_sums(
    values: np.ndarray, codes: np.ndarray, n_groups: int
) -> np.ndarray:
    """``out[..., h, :] = Σ_{i: codes_i = h} values[..., i, :]`` for sorted ``codes``."""
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    out = np.zeros(values.shape[:-2] + (n_groups, values.shape[-1]))
    out[..., codes[starts], :] = np.add.reduceat(values, starts, axis=-2)
    return out


def _batch_meat(
    a, kernels, weights, n_left: int, cluster, resid_rows=None, hats=None, power=0.0
):
    """``Σ_i w_bi ψ_bi ψ_biᵀ`` (or over clusters) of the scores ``u_bi[:l] ε_bi``.

    ``kernels`` (b, c, l + 1) gives a row's coordinates ``u[:l]`` and residual
    for each fit; with ``resid_rows`` (a function of row indices) the
    residuals come from there and only the first ``l`` columns are used.
    ``weights`` is (b, n) or (n,). With ``power`` (HC2, HC3, CR2) the scores
    are adjusted for the leverages in the designs ``hats`` (b, l, k), as in a
    single fit (:mod:`~skmediate._numerics.covariance`).
    """
    n_batch, n = kernels.shape[0], a.shape[0]
    order = (
        np.arange(n) if cluster is None else np.argsort(cluster.codes, kind="stable")
    )
    n_groups = _groups(cluster)
    by_cluster = cluster is not None and power
    total = grams = None
    per_row = n_batch * (n_left + 1) * 2 + (
        n_batch * n_left * n_left if by_cluster else 0
    )
    for rows in _chunks(n, per_row):
        idx = order[rows]
        forms = np.einsum("ic,bcf->bif", a[idx], kernels)
        resid = forms[..., n_left] if resid_rows is None else resid_rows(idx)
        u = forms[..., :n_left]
        psi = u * resid[..., None]
        if power and cluster is None:
            coords = u @ hats
            psi *= row_adjustment(np.einsum("bik,bik->bi", coords, coords), power)[
                ..., None
            ]
        w = weights[:, idx] if weights.ndim == 2 else weights[idx][None, :]
        if cluster is None:
            part = np.einsum("bi,bij,bik->bjk", w, psi, psi)
        else:
            codes = cluster.codes[idx]
            part = _sorted_group_sums(psi * w[..., None], codes, n_groups)
            if by_cluster:
                outer = (u[..., :, None] * u[..., None, :]) * w[..., None, None]
                gram = _sorted_group_sums(
                    outer.reshape(outer.shape[:2] + (n_left * n_left,)), codes, n_groups
                )
                grams = gram if grams is None else grams + gram
        total = part if total is None else total + part
    if cluster is None:
        return total
    multiplicity = cluster.multiplicity
    if by_cluster:
        grams = grams.reshape(grams.shape[:2] + (n_left, n_left))
        if multiplicity is not None:  # a cell is that many copies of one cluster
            with np.errstate(divide="ignore", invalid="ignore"):
                grams = grams * multiplicity[..., None, None]
        total = cluster_adjusted(total, grams, hats, power)
    if multiplicity is None:
        return np.einsum("bhj,bhk->bjk", total, total)
    return np.einsum("bh,bhj,bhk->bjk", multiplicity, total, total)


def _clusters_with_weight(cluster: ClusterSpec, weights: np.ndarray, n_groups: int):
    if cluster.n_clusters is not None:
        return np.asarray(cluster.n_clusters, dtype=float)
    totals = np.zeros((weights.shape[0], n_groups))
    for b in range(weights.shape[0]):
        totals[b] = np.bincount(cluster.codes, weights=weights[b], minlength=n_groups)
    return (totals > 0).sum(axis=1).astype(float)


def tsls_batch(
    design: Design,
    a: np.ndarray,
    shift: np.ndarray,
    weights: np.ndarray,
    cov_type: str | None = None,
    cluster: ClusterSpec | None = None,
) -> BatchFit:
    """Two-stage least squares (or OLS for the naive design) for many row weightings.

    Row ``b`` equals the fit of :func:`~skmediate._numerics.engine.fit_model`
    with the weights ``weights[b]`` (and its covariance of type ``cov_type``),
    up to rounding, for every fit not flagged ``suspect``.

    Parameters
    ----------
    design : Design
    a : ndarray of shape (n, c)
        The design's data matrix of the rows (shifted by ``shift``).
    shift : ndarray
        The shift of the raw columns (:meth:`Design.shift`).
    weights : ndarray of shape (b, n)
        Non-negative frequency weights of each fit.
    cov_type : str or None
        Covariance to compute (None: estimates only).
    cluster : ClusterSpec, optional
        Required for the cluster-robust types.
    """
    n, c = a.shape
    n_batch = weights.shape[0]
    scale = np.sqrt(np.einsum("ij,ij->j", a, a))
    scale[scale == 0] = 1.0
    upper = np.triu_indices(c)
    flat = np.zeros((n_batch, upper[0].size))
    for rows in _chunks(n, max(upper[0].size, n_batch)):
        z = a[rows] / scale
        flat += weights[:, rows] @ (z[:, upper[0]] * z[:, upper[1]])
    gram = np.zeros((n_batch, c, c))
    gram[:, upper[0], upper[1]] = flat
    gram[:, upper[1], upper[0]] = flat
    positive = np.count_nonzero(weights > 0, axis=1)
    suspect = positive <= max(design.n_instruments, design.n_params)
    r = _cholesky_upper(gram, suspect)
    n_inst = design.n_instruments
    diag = np.abs(np.diagonal(r[:, :n_inst, :n_inst], axis1=1, axis2=2))
    suspect |= diag.min(axis=1) <= SUSPECT_RELATIVE_DIAGONAL * diag.max(axis=1)
    # projected regressors of rank below k: the mediator is not identified
    g = r[:, :n_inst][:, :, design.structural_columns]
    g_diag = np.abs(np.diagonal(np.linalg.qr(g, mode="r"), axis1=1, axis2=2))
    g_norm = np.sqrt(np.einsum("bij,bij->bj", g, g))
    ratio = g_diag / np.where(g_norm > 0, g_norm, 1.0)
    suspect |= ratio.min(axis=1) <= SUSPECT_RELATIVE_DIAGONAL
    r[suspect] = _placeholder(design)
    r = r * scale  # the factor of √w A itself
    structural = solve_structural(r, design, check=False)
    params = design.reported(structural.theta, shift)
    cov = None
    if cov_type is not None:
        nobs = weights.sum(axis=1)
        kernels = np.concatenate(
            [
                solve_upper(
                    r, np.broadcast_to(np.eye(c)[:, :n_inst], (n_batch, c, n_inst))
                ),
                structural.resid_form[:, :, None],
            ],
            axis=2,
        )
        power = covariance_type(cov_type).leverage
        hats = structural.basis if power else None
        cov = _structural_cov(
            design,
            r,
            structural,
            nobs,
            cov_type,
            cluster,
            lambda: _batch_meat(
                a, kernels, weights, n_inst, cluster, hats=hats, power=power
            ),
            weights,
        )
        cov = _report_cov(design, shift, cov)
        cov[suspect] = np.nan
    params[suspect] = np.nan
    return BatchFit(params=params, cov=cov, suspect=suspect)


def _placeholder(design: Design) -> np.ndarray:
    """A regular factor standing in for a suspect fit's (its numbers are discarded)."""
    r = np.eye(design.n_columns)
    r[: design.n_instruments, design.mediator_columns] = 1.0
    return r


def _groups(cluster: ClusterSpec | None):
    return None if cluster is None else int(cluster.codes.max()) + 1


def _structural_cov(design, r, structural, nobs, cov_type, cluster, meat, weights):
    """Covariances of the structural coefficients of a batch, by the table."""
    kind = covariance_type(cov_type)
    k = design.n_params
    p = np.swapaxes(structural.influence, -1, -2)  # (b, l, k)
    n_clusters = None
    if kind.homoskedastic:
        g = structural.resid_coordinates(r)
        rss = np.einsum("bi,bi->b", g, g)
        l_dim = design.n_instruments
        m = rss[:, None, None] * np.eye(l_dim)
    else:
        m = meat()
        if kind.clustered:
            n_clusters = _clusters_with_weight(cluster, weights, _groups(cluster))
    roots = kind.root_factor(nobs, np.full(design.n_instruments, float(k)), n_clusters)
    return sandwich(p, m, roots)


def _report_cov(design: Design, shift, cov):
    s = design.reporting_matrix(shift)
    out = s @ cov @ s.T
    return (out + np.swapaxes(out, -1, -2)) / 2


def _cholesky_upper(gram: np.ndarray, suspect: np.ndarray) -> np.ndarray:
    """Upper-triangular Cholesky factors; a failed factorization marks the fit suspect."""
    try:
        return np.swapaxes(np.linalg.cholesky(gram), 1, 2).copy()
    except np.linalg.LinAlgError:
        r = np.empty_like(gram)
        for b in range(gram.shape[0]):
            try:
                r[b] = np.linalg.cholesky(gram[b]).T
            except np.linalg.LinAlgError:
                suspect[b] = True
                r[b] = np.eye(gram.shape[1])
        return r


def wild_batch(
    model: FittedModel,
    a: np.ndarray,
    multipliers: np.ndarray,
    weights: np.ndarray | None = None,
    cov_type: str | None = None,
    cluster: ClusterSpec | None = None,
) -> BatchFit:
    """Refit a linear fit on the outcomes ``ŷ + ε̂ ⊙ v_b`` of the wild bootstrap.

    Parameters
    ----------
    model : FittedModel
        The fit on the data (two-stage least squares or OLS).
    a : ndarray of shape (n, c)
        Its data matrix.
    multipliers : ndarray of shape (b, n)
    weights : ndarray of shape (n,), optional
        The fit's frequency weights.
    cov_type, cluster
        As for :func:`tsls_batch`.

    Notes
    -----
    In the factor's coordinates ``θ̂ = P Σ_i w_i u_i[:l] y_i`` with the fit's
    ``P``, so ``θ̂*_b = θ̂ + P Σ_i w_i v_bi u_i[:l] ε̂_i``: a multiplier-weighted
    sum of the fit's score columns ``u[:l] ε̂``. The residuals are
    ``ε*_b = ε̂ ⊙ v_b - D (θ̂*_b - θ̂)``; the bread is the fit's.
    """
    design, r = model.design, model.r
    n_batch, n = multipliers.shape
    n_inst = design.n_instruments
    structural = model.structural
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    kernel = np.concatenate(
        [
            solve_upper(r, np.eye(design.n_columns)[:, :n_inst]),
            structural.resid_form[:, None],
        ],
        axis=1,
    )
    sums = np.zeros((n_batch, n_inst))
    for rows in _chunks(n, n_batch + n_inst + 1):
        forms = a[rows] @ kernel
        scores = forms[:, :n_inst] * (forms[:, n_inst] * w[rows])[:, None]
        sums += multipliers[:, rows] @ scores
    shift_c = sums @ structural.influence.T  # (b, k), shifted columns
    s = design.reporting_matrix(model.shift)
    params = model.params + shift_c @ s.T
    cov = None
    if cov_type is not None:
        d_cols = design.structural_columns

        def resid_rows(rows):
            e = a[rows] @ structural.resid_form
            return e[None, :] * multipliers[:, rows] - shift_c @ a[rows][:, d_cols].T

        kind = covariance_type(cov_type)
        nobs = np.full(n_batch, model.nobs)
        k = design.n_params
        p = structural.influence.T
        n_clusters = None
        if kind.homoskedastic:
            rss = np.zeros(n_batch)
            for rows in _chunks(n, n_batch * 2):
                e = resid_rows(rows)
                rss += (e * e) @ w[rows]
            m = rss[:, None, None] * np.eye(n_inst)
        else:
            kernels = np.broadcast_to(
                kernel[:, :n_inst], (n_batch, design.n_columns, n_inst)
            )
            hats = None
            if kind.leverage:
                hats = np.broadcast_to(
                    structural.basis,
                    (n_batch, n_inst, design.n_params),
                )
            m = _batch_meat(
                a, kernels, w, n_inst, cluster, resid_rows, hats, kind.leverage
            )
            if kind.clustered:
                full = np.broadcast_to(w, (n_batch, n))
                n_clusters = _clusters_with_weight(cluster, full, _groups(cluster))
        roots = kind.root_factor(nobs, np.full(n_inst, float(k)), n_clusters)
        cov = _report_cov(
            design,
            model.shift,
            sandwich(np.broadcast_to(p, (n_batch,) + p.shape), m, roots),
        )
    return BatchFit(params=params, cov=cov, suspect=np.zeros(n_batch, dtype=bool))
