"""Covariance estimators for linear fits: unadjusted, classical, HC0, HC1, cluster.

All estimators share the bread ``B = (D̂ᵀWD̂)⁻¹`` of :class:`~._linalg.LinearFit`
and differ in the meat and the small-sample factor. The bread is applied by
triangular solves with the stored, column-scaled QR factor ``R``
(``B = S⁻¹R⁻¹R⁻ᵀS⁻¹``); no normal equations are inverted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._linalg import (
    LinearFit,
    Pass,
    _group_sums,
    cluster_codes,
    is_dask,
    run_step,
    solve_triangular,
    weighted_mean,
)

__all__ = [
    "COV_TYPES",
    "covariance",
    "covariance_steps",
    "encode_groups",
    "score_gram_pass",
    "score_sums_pass",
    "stacked_covariance",
    "stacked_covariance_steps",
]

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
    return run_step(covariance_steps(fit, cov_type, groups))


def score_gram_pass(regressors, resid, weights=None, scale=1.0) -> Pass:
    """The pass of ``Σ_i w_i (ε_i/scale)² x_i x_iᵀ``, the scores formed a chunk at a time."""

    def gram(x, e, *w):
        e = e / scale
        row_weights = e * e if not w else w[0] * e * e
        a = x.toarray()
        return (a * row_weights[:, None]).T @ a

    return Pass(gram, (regressors, resid) + ((weights,) if weights is not None else ()))


def score_sums_pass(regressors, resid, weights, codes, n_groups, scale=1.0) -> Pass:
    """The pass of the cluster sums ``Σ_{i∈g} w_i (ε_i/scale) x_i``."""

    def sums(x, e, cc, *w):
        e = e / scale
        v = e if not w else w[0] * e
        return _group_sums(x.toarray() * v[:, None], cc, n_groups)

    extra = (weights,) if weights is not None else ()
    return Pass(sums, (regressors, resid, codes) + extra)


def covariance_steps(fit: LinearFit, cov_type: str, groups=None):
    """:func:`covariance` as a step (see :class:`~._linalg.Pass`)."""
    n, k = fit.nobs, fit.n_params
    if cov_type in ("unadjusted", "classical"):
        sigma2 = fit.rss / (n if cov_type == "unadjusted" else n - k)
        return sigma2 * fit.bread()
    if cov_type in ("HC0", "HC1"):
        meat = yield score_gram_pass(fit.regressors, fit.resid, fit.weights)
        factor = 1.0 if cov_type == "HC0" else n / (n - k)
    elif cov_type == "cluster":
        if groups is None:
            raise ValueError("cov_type='cluster' needs groups")
        codes, n_groups = cluster_codes(groups)
        sums = yield score_sums_pass(
            fit.regressors, fit.resid, fit.weights, codes, n_groups
        )
        meat = sums.T @ sums
        factor = n_groups / (n_groups - 1) * (n - 1) / (n - k)
    else:
        raise ValueError(f"unknown cov_type {cov_type!r}; expected one of {COV_TYPES}")
    return factor * _sandwich(fit, meat)


def _centered_gram(c: np.ndarray, *w) -> np.ndarray:
    return (c * w[0][:, None]).T @ c if w else c.T @ c


def _small_sample_factor(
    cov_type: str, nobs: float, n_params: np.ndarray, n_groups: int | None
) -> np.ndarray:
    """Per-parameter square roots of the small-sample factors of :func:`covariance`.

    The factor of a covariance entry between parameters of equations with
    ``k_a`` and ``k_b`` parameters is the product of the two roots, so every
    diagonal block is exactly that equation's own covariance and the matrix
    stays positive semi-definite.
    """
    if cov_type == "HC1":
        return np.sqrt(nobs / (nobs - n_params))
    if cov_type == "cluster":
        return np.sqrt(n_groups / (n_groups - 1) * (nobs - 1) / (nobs - n_params))
    return np.ones_like(n_params, dtype=float)


def stacked_covariance(
    fits: Sequence[LinearFit],
    contrasts: Sequence[np.ndarray],
    cov_type: str,
    groups: np.ndarray | None = None,
    means: np.ndarray | None = None,
) -> np.ndarray:
    """Joint covariance of linear combinations of several fits and of sample means.

    The fits are estimating equations on the same rows (for example the
    structural equation, the first stage and the intention-to-treat
    regression); stacking their scores gives the covariance between them,
    which the separate covariances leave out.

    Parameters
    ----------
    fits : sequence of LinearFit
        Fits on the same rows with the same frequency weights.
    contrasts : sequence of ndarray
        For each fit, a matrix ``C_a`` of shape (k_a, m_a): the covariance is
        that of ``C_aᵀ θ_a``.
    cov_type : {"unadjusted", "classical", "HC0", "HC1", "cluster"}
    groups : ndarray of shape (n,) of int, optional
        Cluster codes ``0..G-1``; required for ``"cluster"``.
    means : ndarray of shape (n, q), optional
        Columns whose weighted sample means are further parameters, placed
        last (for example covariates at which instruments are centered).

    Returns
    -------
    ndarray of shape (Σ m_a + q, Σ m_a + q)

    Notes
    -----
    With bread ``B_a``, regressor rows ``d_{a,i}`` and residuals ``ε_{a,i}``,
    ``C_aᵀ(θ̂_a - θ_a) ≈ Σ_i w_i ψ_{a,i}`` with influence
    ``ψ_{a,i} = C_aᵀ B_a d_{a,i} ε_{a,i}``; a sample mean ``x̄`` has
    ``ψ_i = (x_i - x̄) / n``. Then

    - HC0: ``Σ_i w_i ψ_i ψ_iᵀ``; HC1 multiplies the entry between
      parameters of equations with ``k_a`` and ``k_b`` parameters by
      ``n / sqrt((n - k_a)(n - k_b))`` (``k = 1`` for a mean);
    - cluster: ``Σ_g s_g s_gᵀ`` with ``s_g = Σ_{i∈g} w_i ψ_i``, with the
      factor ``G/(G-1) · (n-1) / sqrt((n - k_a)(n - k_b))``;
    - unadjusted and classical: ``σ_ab C_aᵀ B_a (Σ w_i d_{a,i} d_{b,i}ᵀ) B_b C_b``
      between equations, with ``σ_ab = Σ w ε_a ε_b / n`` (unadjusted) or
      ``/ sqrt((n - k_a)(n - k_b))`` (classical), and each equation's own
      block ``σ_aa C_aᵀ B_a C_a`` as in :func:`covariance`; means have
      covariance ``Σ w (x - x̄)(x - x̄)ᵀ / (n d)`` with ``d = n`` or ``n - 1``
      and are uncorrelated with the estimating equations, whose errors have
      mean zero given the regressors.

    Each diagonal block equals :func:`covariance` of that fit, contrasted.
    """
    return run_step(stacked_covariance_steps(fits, contrasts, cov_type, groups, means))


def stacked_covariance_steps(
    fits, contrasts, cov_type, groups=None, means=None, means_center=None
):
    """:func:`stacked_covariance` as a step (see :class:`~._linalg.Pass`).

    ``means_center`` is the weighted mean of ``means`` when already known.
    """
    if len(fits) != len(contrasts):
        raise ValueError("fits and contrasts must have the same length")
    if cov_type not in COV_TYPES:
        raise ValueError(f"unknown cov_type {cov_type!r}; expected one of {COV_TYPES}")
    weights = fits[0].weights
    nobs = fits[0].nobs
    n_rows = fits[0].resid.shape[0]
    contrasts = [
        np.asarray(c, dtype=float).reshape(f.n_params, -1)
        for f, c in zip(fits, contrasts, strict=True)
    ]
    directions = [f.apply_bread(c) for f, c in zip(fits, contrasts, strict=True)]
    widths = [c.shape[1] for c in contrasts]
    centered = None
    if means is not None:
        means = means if is_dask(means) else np.asarray(means, dtype=float)
        means = means.reshape(n_rows, -1)
        center = weighted_mean(means, weights) if means_center is None else means_center
        centered = means  # centered a chunk at a time, at ``center``
        widths.append(centered.shape[1])
    n_params = np.concatenate(
        [np.full(c.shape[1], f.n_params) for f, c in zip(fits, contrasts, strict=True)]
        + ([np.ones(centered.shape[1])] if centered is not None else [])
    )
    edges = np.concatenate([[0], np.cumsum(widths)])
    total = int(edges[-1])

    n_groups = None
    homoskedastic = cov_type in ("unadjusted", "classical")
    codes = None
    if cov_type == "cluster":
        if groups is None:
            raise ValueError("cov_type='cluster' needs groups")
        codes, n_groups = cluster_codes(groups)

    # Fits with the same regressors, bread and contrast (for example the
    # regressions of several outcomes on the same instruments) share T.
    same_as = list(range(len(fits)))
    for j in range(len(fits)):
        for i in range(j):
            if (
                fits[i].regressors is fits[j].regressors
                and fits[i].r_factor is fits[j].r_factor
                and np.array_equal(contrasts[i], contrasts[j])
            ):
                same_as[j] = same_as[i]
                break
    distinct = sorted(set(same_as))
    optional = [
        a
        for a in (weights, codes, None if homoskedastic else centered)
        if a is not None
    ]
    arrays = [f.resid for f in fits] + [fits[j].regressors for j in distinct] + optional

    # The chunk function is sent with every partition of dask data: it
    # captures only small values, never the fits or their arrays.
    n_fits = len(fits)
    has_weights, has_codes = weights is not None, codes is not None
    has_means = centered is not None

    def on_chunk(*chunks):
        resid = chunks[:n_fits]
        regressors = dict(zip(distinct, chunks[n_fits:], strict=False))
        rest = list(chunks[n_fits + len(distinct) :])
        w = rest.pop(0) if has_weights else None
        cc = rest.pop(0) if has_codes else None
        t = {}
        for j, d in enumerate(directions):
            source = same_as[j]
            if source not in t:
                t[source] = regressors[source].dot(d).reshape(-1, d.shape[1])
        if homoskedastic:
            scores = np.hstack([t[same_as[j]] for j in range(n_fits)])
        else:
            scores = np.hstack(
                [t[same_as[j]] * resid[j][:, None] for j in range(n_fits)]
                + ([(rest.pop(0) - center) / nobs] if has_means else [])
            )
        weighted = scores if w is None else scores * w[:, None]
        if cc is not None:
            part = _group_sums(weighted, cc, n_groups)
        else:
            part = weighted.T @ scores
        if not homoskedastic:
            return [part]
        e = np.column_stack(resid)
        we = e if w is None else e * w[:, None]
        return [part, we.T @ e]

    passes = [Pass(on_chunk, tuple(arrays))]
    if homoskedastic and has_means:  # the means' own gram, in the same pass
        passes.append(
            Pass(
                lambda c, *w: _centered_gram(c - center, *w),
                (centered,) + ((weights,) if has_weights else ()),
            )
        )
    parts, *mean_gram = yield passes
    if cov_type == "cluster":
        meat = parts[0].T @ parts[0]
    else:
        meat = parts[0]
    if not homoskedastic:
        root = _small_sample_factor(cov_type, nobs, n_params, n_groups)
        return meat * np.outer(root, root)
    resid_cross = parts[1]

    # Homoskedastic: residual covariances times the cross-products of T.
    cov = np.zeros((total, total))
    for a, fa in enumerate(fits):
        sa = slice(edges[a], edges[a + 1])
        for b in range(a, len(fits)):
            sb = slice(edges[b], edges[b + 1])
            fb = fits[b]
            cross = float(resid_cross[a, b])
            if cov_type == "unadjusted":
                sigma = cross / nobs
            else:
                sigma = cross / np.sqrt((nobs - fa.n_params) * (nobs - fb.n_params))
            if a == b:
                block = sigma * contrasts[a].T @ directions[a]
                cov[sa, sa] = (block + block.T) / 2
            else:
                cov[sa, sb] = sigma * meat[sa, sb]
                cov[sb, sa] = cov[sa, sb].T
    if centered is not None:
        sm = slice(edges[-2], edges[-1])
        divisor = nobs if cov_type == "unadjusted" else nobs - 1
        cov[sm, sm] = mean_gram[0] / (nobs * divisor)
    return cov
