"""Many weighted least squares and 2SLS fits at once, from weighted cross-products.

Pure functions on numpy arrays, used by the vectorized bootstrap. Each fit of a
batch is the fit of :func:`~._linalg.fit_tsls` with its own row weights (or, for
the wild bootstrap, with its own outcome); the batch shares the data and never
copies it per fit.

For row weights ``w_b`` the fit depends on the data only through the weighted
cross-products ``Σ_i w_bi z_i z_iᵀ`` of the rows ``z_i = [exog, excluded,
endog, y]_i``. They are formed for the whole batch as one matrix product of the
weights with the rows' outer products, on data centered at the mean and scaled
to unit norm (so the cross-product matrices are well conditioned), and each is
factored by a batched Cholesky decomposition, whose triangular factor is the
``R`` of the QR decomposition that :func:`~._linalg.fit_tsls` computes. The
rest mirrors that function on the small ``k × k`` systems: triangular solves
and a batched QR, no inverses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._linalg import LinearFit

__all__ = ["BatchFit", "ClusterSpec", "tsls_batch", "wild_batch"]

# Bytes of temporaries per row chunk (the batch's weights restricted to the
# chunk, residuals and fitted values of the endogenous columns).
_CHUNK_BYTES = 8 * 2**20

# A batched fit whose Cholesky factor has a relative diagonal entry below this
# is not trusted: the cross-products square the condition number, so the
# factor cannot tell a rank-deficient fit (which fit_tsls rejects at a
# tolerance near n * eps) from a merely ill-conditioned one. Such fits are
# flagged for an exact refit by the caller.
_SUSPECT_RELATIVE_DIAGONAL = 1e-6


@dataclass(frozen=True, eq=False)
class ClusterSpec:
    """How cluster score sums enter the cluster-robust meat of each fit.

    The meat of fit ``b`` is ``Σ_h multiplicity[b, h] s_bh s_bhᵀ`` with
    ``s_bh = Σ_{i∈h} w_bi ε_bi d̂_bi`` and the small-sample factor uses
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
        Ordered ``[exog, endog]`` as in :func:`~._linalg.fit_tsls`.
    cov : ndarray of shape (b, k, k) or None
        Covariance matrices, when a ``cov_type`` was asked for.
    suspect : ndarray of shape (b,) of bool
        Fits that the batched computation cannot vouch for (a near-singular
        cross-product matrix or too few rows with positive weight); their
        ``params`` and ``cov`` are NaN and must be recomputed exactly.
    """

    params: np.ndarray
    cov: np.ndarray | None
    suspect: np.ndarray


def _row_chunks(n: int, width: int):
    step = max(1, _CHUNK_BYTES // (8 * max(width, 1)))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched ``a⁻¹ b`` for triangular ``a`` (numpy's LU reduces to substitution)."""
    return np.linalg.solve(a, b)


def _sandwich(r: np.ndarray, meat: np.ndarray) -> np.ndarray:
    """Batched ``R⁻¹R⁻ᵀ meat R⁻¹R⁻ᵀ`` by triangular solves (``r`` upper triangular)."""
    rt = np.swapaxes(r, -1, -2)
    inner = _solve(rt, meat)  # R⁻ᵀ M
    inner = _solve(rt, np.swapaxes(inner, -1, -2))  # R⁻ᵀ M R⁻¹ (symmetric)
    half = _solve(r, inner)  # R⁻¹ R⁻ᵀ M R⁻¹
    cov = _solve(r, np.swapaxes(half, -1, -2))
    return (cov + np.swapaxes(cov, -1, -2)) / 2


def _bread(r: np.ndarray) -> np.ndarray:
    """Batched ``R⁻¹R⁻ᵀ``."""
    eye = np.broadcast_to(np.eye(r.shape[-1]), r.shape)
    r_inv = _solve(r, eye)
    return r_inv @ np.swapaxes(r_inv, -1, -2)


def _group_sums(values: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """``out[..., h, :] = Σ_{i: codes_i = h} values[..., i, :]`` for sorted ``codes``."""
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    out = np.zeros(values.shape[:-2] + (n_groups, values.shape[-1]))
    out[..., codes[starts], :] = np.add.reduceat(values, starts, axis=-2)
    return out


def _factor(cov_type: str, nobs, k: int, n_clusters=None):
    """What multiplies ``RSS · bread`` (unadjusted, classical) or the sandwich."""
    return {
        "unadjusted": lambda: 1.0 / nobs,
        "classical": lambda: 1.0 / (nobs - k),
        "HC0": lambda: np.ones_like(nobs),
        "HC1": lambda: nobs / (nobs - k),
        "cluster": lambda: n_clusters / (n_clusters - 1) * (nobs - 1) / (nobs - k),
    }[cov_type]()


class _Meat:
    """Accumulates the HC or cluster meat of a batch over row chunks.

    ``scores`` per chunk are ``a_bi d̂_bi`` split into the columns common to
    every fit (``fixed``: rows × kf) and those that differ (``varying``:
    b × rows × kv); HC accumulates ``Σ a_bi ε_bi d̂ d̂ᵀ`` and cluster the
    per-cluster sums of ``w ε d̂``.
    """

    def __init__(self, cov_type, n_batch, k, cluster: ClusterSpec | None):
        self.cov_type = cov_type
        self.k = k
        if cov_type == "cluster":
            self.n_groups = int(cluster.codes.max()) + 1
            self.sums = np.zeros((n_batch, self.n_groups, k))
        else:
            self.meat = np.zeros((n_batch, k, k))

    def add(self, rows, weighted_resid, resid, fixed, varying, codes=None):
        """``weighted_resid = w ε`` and ``resid = ε``, each (b × rows)."""
        kf = fixed.shape[1]
        if self.cov_type == "cluster":
            scores = np.concatenate(
                [
                    weighted_resid[:, :, None] * fixed[None],
                    weighted_resid[:, :, None] * varying,
                ],
                axis=2,
            )
            self.sums += _group_sums(scores, codes[rows], self.n_groups)
            return
        a = weighted_resid * resid  # w ε²
        m = self.meat
        outer = (fixed[:, :, None] * fixed[:, None, :]).reshape(fixed.shape[0], -1)
        m[:, :kf, :kf] += (a @ outer).reshape(-1, kf, kf)
        for e in range(varying.shape[2]):
            av = a * varying[:, :, e]
            cross = av @ fixed
            m[:, :kf, kf + e] += cross
            m[:, kf + e, :kf] += cross
            for g in range(e, varying.shape[2]):
                m[:, kf + e, kf + g] += (av * varying[:, :, g]).sum(axis=1)
                m[:, kf + g, kf + e] = m[:, kf + e, kf + g]

    def finish(self, multiplicity):
        if self.cov_type != "cluster":
            return self.meat
        if multiplicity is None:
            return np.einsum("bhj,bhk->bjk", self.sums, self.sums)
        return np.einsum("bh,bhj,bhk->bjk", multiplicity, self.sums, self.sums)


def _cluster_setup(cluster: ClusterSpec, row_weights: np.ndarray):
    """Sorted order of the rows by cluster, and the clusters per fit."""
    order = np.argsort(cluster.codes, kind="stable")
    n_clusters = cluster.n_clusters
    if n_clusters is None:
        codes = cluster.codes[order]
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        totals = np.add.reduceat(row_weights[:, order], starts, axis=1)
        n_clusters = (totals > 0).sum(axis=1).astype(float)
    return order, n_clusters


def tsls_batch(
    exog: np.ndarray,
    endog: np.ndarray,
    excluded: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    cov_type: str | None = None,
    cluster: ClusterSpec | None = None,
) -> BatchFit:
    """Two-stage least squares of ``y`` on ``[exog, endog]`` for many row weightings.

    Row ``b`` of the result equals ``fit_tsls(exog, endog, excluded, y,
    weights[b])`` (and its covariance of type ``cov_type``), up to rounding,
    for every fit not flagged ``suspect``.

    Parameters
    ----------
    exog : ndarray of shape (n, kw)
        Exogenous regressors; the first column must be the intercept (ones).
    endog : ndarray of shape (n, ke)
    excluded : ndarray of shape (n, p)
    y : ndarray of shape (n,)
    weights : ndarray of shape (b, n)
        Non-negative frequency weights of each fit.
    cov_type : {None, "unadjusted", "classical", "HC0", "HC1", "cluster"}
        Covariance to compute (None: estimates only).
    cluster : ClusterSpec, optional
        Required for ``cov_type="cluster"``.

    Returns
    -------
    BatchFit

    Notes
    -----
    With ``Z = [exog, excluded, endog, y]`` centered at its (unweighted)
    column means and scaled to unit norm, apart from the intercept,
    ``Z̃ = Z T`` for an upper-triangular ``T``. For the weights ``w_b`` the
    upper-triangular Cholesky factor ``R_b`` of ``Z̃ᵀ diag(w_b) Z̃`` equals, up
    to the signs of its rows, the ``R`` of ``sqrt(w_b) Z̃ = U R``, so the 2SLS
    estimates follow as in :func:`~._linalg.fit_tsls`; they are mapped back
    through ``T`` (2SLS is equivariant under a change of basis of the
    instruments and of the regressors). The residual sum of squares is
    ``‖R_b a_b‖²`` with ``a_b = [−θ̃_b, 1]`` on the regressor and outcome
    columns. The HC and cluster meats need every row's residual under every
    fit; they are accumulated over row chunks so that the temporaries take
    ``O(b × chunk)`` memory, about ``_CHUNK_BYTES`` per array.

    The cross-products square the condition number of the scaled data, so
    agreement with the QR-based fit is about ``κ(Z̃)² · eps`` relative; fits
    whose factor has a relative diagonal entry below
    ``_SUSPECT_RELATIVE_DIAGONAL`` are flagged instead.
    """
    exog = np.asarray(exog, dtype=float)
    n, kw = exog.shape
    endog = np.asarray(endog, dtype=float).reshape(n, -1)
    excluded = np.asarray(excluded, dtype=float).reshape(n, -1)
    y = np.asarray(y, dtype=float)
    weights = np.asarray(weights, dtype=float)
    n_batch = weights.shape[0]
    ke, p = endog.shape[1], excluded.shape[1]
    n_inst, k = kw + p, kw + ke
    data = np.column_stack([exog, excluded, endog, y])
    n_cols = data.shape[1]

    # Center (apart from the intercept) and scale to unit norm: Z̃ = Z T.
    mean = data.mean(axis=0)
    mean[0] = 0.0
    centered = data - mean
    scale = np.sqrt(np.einsum("ij,ij->j", centered, centered))
    scale[scale == 0] = 1.0

    def scaled(rows):
        return (data[rows] - mean) / scale

    # Weighted cross-products of all fits: weights @ (row outer products).
    upper = np.triu_indices(n_cols)
    flat = np.zeros((n_batch, upper[0].size))
    for rows in _row_chunks(n, max(upper[0].size, n_batch)):
        z = scaled(rows)
        flat += weights[:, rows] @ (z[:, upper[0]] * z[:, upper[1]])
    gram = np.zeros((n_batch, n_cols, n_cols))
    gram[:, upper[0], upper[1]] = flat
    gram[:, upper[1], upper[0]] = flat

    n_positive = np.count_nonzero(weights > 0, axis=1)
    suspect = n_positive <= n_cols
    r = _cholesky_upper(gram, suspect)
    diag = np.abs(np.diagonal(r[:, :n_inst, :n_inst], axis1=1, axis2=2))
    suspect |= diag.min(axis=1) <= _SUSPECT_RELATIVE_DIAGONAL * diag.max(axis=1)
    r[suspect] = np.eye(n_cols)

    r_inst = r[:, :n_inst, :n_inst]
    r_endog = r[:, :n_inst, n_inst : n_inst + ke]
    g = np.concatenate([r_inst[:, :, :kw], r_endog], axis=2)
    q_g, r_g = np.linalg.qr(g)
    diag_g = np.abs(np.diagonal(r_g, axis1=1, axis2=2))
    bad_g = diag_g.min(axis=1) <= _SUSPECT_RELATIVE_DIAGONAL * diag_g.max(axis=1)
    suspect |= bad_g
    r_g[bad_g] = np.eye(k)
    rhs = np.einsum("bli,bl->bi", q_g, r[:, :n_inst, -1])
    theta_scaled = _solve(r_g, rhs[:, :, None])[:, :, 0]

    # Back to the original columns: the regressors are [exog, endog].
    reg_cols = np.r_[np.arange(kw), n_inst + np.arange(ke)]
    transform = _basis_change(mean[reg_cols], scale[reg_cols])
    params = scale[-1] * theta_scaled @ transform.T
    params[:, 0] += mean[-1]  # the outcome's mean enters the intercept

    cov = None
    if cov_type is not None:
        nobs = weights.sum(axis=1)
        coefs = np.zeros((n_batch, n_cols))
        coefs[:, reg_cols] = -theta_scaled
        coefs[:, -1] = 1.0
        if cov_type in ("unadjusted", "classical"):
            resid = np.einsum("bij,bj->bi", r, coefs)
            rss = np.einsum("bi,bi->b", resid, resid)
            factor = _factor(cov_type, nobs, k, None)
            cov_scaled = (factor * rss)[:, None, None] * _bread(r_g)
        else:
            gamma = _solve(r_inst, r_endog)  # first stage in the scaled basis
            n_clusters, order = None, None
            if cov_type == "cluster":
                order, n_clusters = _cluster_setup(cluster, weights)
            meat = _Meat(cov_type, n_batch, k, cluster)
            codes = None if order is None else cluster.codes[order]
            row_index = np.arange(n) if order is None else order
            for rows in _row_chunks(n, n_batch * max(k, 1) * 2):
                idx = row_index[rows]
                z = scaled(idx)
                resid = z @ coefs.T  # (rows, b)
                resid = resid.T
                varying = np.empty((n_batch, z.shape[0], ke))
                for e in range(ke):
                    varying[:, :, e] = gamma[:, :, e] @ z[:, :n_inst].T
                w = weights[:, idx]
                meat.add(rows, w * resid, resid, z[:, :kw], varying, codes)
            factor = _factor(cov_type, nobs, k, n_clusters)
            meat_total = meat.finish(None if cluster is None else cluster.multiplicity)
            cov_scaled = factor[:, None, None] * _sandwich(r_g, meat_total)
        cov = scale[-1] ** 2 * transform @ cov_scaled @ transform.T
        cov[suspect] = np.nan
    params[suspect] = np.nan
    return BatchFit(params=params, cov=cov, suspect=suspect)


def _basis_change(mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``T`` with ``Z̃ = Z T`` for columns centered at ``mean`` (not column 0) and scaled.

    Coefficients in the scaled basis map back as ``θ = T θ̃``.
    """
    t = np.diag(1.0 / scale)
    t[0, 1:] = -mean[1:] / scale[1:]
    t[0, 0] = 1.0 / scale[0]
    return t


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
    fit: LinearFit,
    multipliers: np.ndarray,
    cov_type: str | None = None,
    cluster: ClusterSpec | None = None,
) -> BatchFit:
    """Refit a linear fit on the outcomes ``ŷ + ε̂ ⊙ v_b`` of the wild bootstrap.

    Parameters
    ----------
    fit : LinearFit
        The fit on the data (its residuals ``ε̂ = y - design @ params``).
    multipliers : ndarray of shape (b, n)
        Multipliers ``v_b``.
    cov_type : {None, "unadjusted", "classical", "HC0", "HC1", "cluster"}
    cluster : ClusterSpec, optional
        Required for ``cov_type="cluster"``.

    Returns
    -------
    BatchFit

    Notes
    -----
    The estimates are linear in the outcome, ``θ̂ = H y`` with
    ``H = (D̂ᵀWD̂)⁻¹D̂ᵀW``, and ``H D = I`` (for 2SLS because
    ``D̂ᵀWD = D̂ᵀWD̂``), so ``θ̂*_b = θ̂ + H(ε̂ ⊙ v_b)``, computed by
    :meth:`LinearFit.solve` for the whole batch. The residuals are
    ``ε*_b = ε̂ ⊙ v_b − D (θ̂*_b − θ̂)``; the bread is that of ``fit``.
    """
    multipliers = np.asarray(multipliers, dtype=float)
    n_batch, n = multipliers.shape
    k = fit.n_params
    shift = fit.solve((fit.resid[None, :] * multipliers).T).T  # (b, k)
    params = fit.params + shift
    cov = None
    if cov_type is not None:
        weights = np.ones(n) if fit.weights is None else fit.weights
        nobs = np.full(n_batch, fit.nobs)
        if cov_type in ("unadjusted", "classical"):
            rss = np.zeros(n_batch)
            for rows in _row_chunks(n, n_batch):
                resid = _wild_resid(fit, multipliers, shift, rows)
                rss += (resid**2) @ weights[rows]
            factor = _factor(cov_type, nobs, k, None)
            bread = fit.bread()
            cov = (factor * rss)[:, None, None] * bread[None]
        else:
            n_clusters, order = None, None
            if cov_type == "cluster":
                full = np.broadcast_to(weights, (n_batch, n))
                order, n_clusters = _cluster_setup(cluster, full)
            meat = _Meat(cov_type, n_batch, k, cluster)
            codes = None if order is None else cluster.codes[order]
            row_index = np.arange(n) if order is None else order
            for rows in _row_chunks(n, n_batch * max(k, 1) * 2):
                idx = row_index[rows]
                resid = _wild_resid(fit, multipliers, shift, idx)
                regressors = np.hstack([b[idx] for b in fit.regressors.blocks])
                meat.add(
                    rows,
                    weights[idx] * resid,
                    resid,
                    regressors,
                    np.empty((n_batch, idx.size, 0)),
                    codes,
                )
            factor = _factor(cov_type, nobs, k, n_clusters)
            meat_total = meat.finish(None if cluster is None else cluster.multiplicity)
            scale = np.outer(fit.scale, fit.scale)
            r = np.broadcast_to(fit.r_factor, (n_batch, k, k))
            cov = factor[:, None, None] * _sandwich(r, meat_total / scale) / scale
    return BatchFit(params=params, cov=cov, suspect=np.zeros(n_batch, dtype=bool))


def _wild_resid(fit: LinearFit, multipliers, shift, rows) -> np.ndarray:
    """``ε*_b = ε̂ ⊙ v_b − D (θ̂*_b − θ̂)`` on ``rows``, shape (b, rows)."""
    design = np.hstack([b[rows] for b in fit.design.blocks])
    return fit.resid[rows] * multipliers[:, rows] - shift @ design.T
