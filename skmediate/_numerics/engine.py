"""One fit in two passes over the rows.

:func:`fit_model` turns the role columns of a mediation model into a
:class:`~skmediate._numerics.model.FittedModel`, which holds only small
matrices and answers every question about the fit without the data.

1. **Values and factor.** One pass checks the values (non-finite entries by
   column, negative weights), counts the rows and clusters with positive
   weight and the treatment's range, and accumulates the triangular factor
   ``R`` of ``√w A`` by a tall-skinny QR (chunk factors stacked and factored
   again). The column scales, the covariate means ``X̄`` and every
   residual sum of squares are read off ``R``. (With a sensitivity analysis,
   the pass also accumulates ``Aᵀ W V`` for the outcome shifts ``V``.)
2. **Scores.** A second pass forms the score columns of every estimating
   equation the fit reports (:mod:`~skmediate._numerics.scores`) in the
   coordinates of ``R``, and accumulates their meat: ``Σ w ψψᵀ`` over rows or
   clusters. With homoskedastic covariances only the instruments' scores of
   the overidentification test need it. (With a sensitivity analysis, the
   pass also accumulates the triangular factors of the outcome shifts' score
   columns.)

For dask data each pass reduces every partition where it lives; the shift of
the columns is read from the first rows of the first partition, so that
partition is read three times and every other twice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skmediate._numerics.covariance import (
    CovarianceType,
    WeightType,
    anderson_rubin_kind,
    check_weighted_cov_type,
    cov_type,
    weight_type,
)
from skmediate._numerics.dense import triangular_factor
from skmediate._numerics.design import SHIFT_ROWS, Design
from skmediate._numerics.model import FittedModel
from skmediate._numerics.rows import (
    group_grams,
    is_dask,
    one_blas_thread,
    reduce_rows,
    row_slices,
)
from skmediate._numerics.scores import Layout, meat_of_chunk
from skmediate._numerics.sensitivity import SensitivityPlan
from skmediate._numerics.tsls import (
    column_norms,
    liml_kappa,
    solve_leading,
    solve_structural,
)

__all__ = ["KEEP_CLUSTER_GRAMS", "fit_model"]

# A cluster-robust fit with at most this many clusters keeps each cluster's
# cross-products (small matrices) for the wild cluster bootstrap.
KEEP_CLUSTER_GRAMS = 200


def _stack_qr(factors):
    factors = [f for f in factors if f.shape[0]]
    if not factors:
        return np.zeros((0, 0))
    if len(factors) == 1:
        return factors[0]
    return triangular_factor(np.vstack(factors))


def _head(raw, y, rows: int = SHIFT_ROWS):
    """The first rows of ``raw`` and ``y`` (for dask data, of their first partition)."""
    if not is_dask(raw):
        return np.asarray(raw[:rows]), np.asarray(y[:rows])
    import dask

    first_raw = raw.to_delayed(optimize_graph=False).reshape(-1)[0]
    first_y = y.to_delayed(optimize_graph=False).reshape(-1)[0]
    head_raw, head_y = dask.compute(first_raw[:rows], first_y[:rows])
    return np.asarray(head_raw), np.asarray(head_y)


def fit_model(
    design: Design,
    raw,
    y,
    *,
    columns=None,
    weights=None,
    groups=None,
    cov_type_name: str = "HC1",
    weight_type_name: str = "frequency",
    kappa: float | str = 1.0,
    fuller_alpha: float = 0.0,
    sensitivity=False,
    sensitivity_sets: bool = False,
    use_t: bool = False,
    ar_meat: str = "leverage",
) -> FittedModel:
    """Fit a mediation model in two passes over the rows.

    Parameters
    ----------
    design : Design
    raw : ndarray or dask array of shape (n, design.n_raw)
        The role columns: treatment, mediators, covariates, controls (with
        ``columns``, ``raw[:, columns]``).
    y : ndarray or dask array of shape (n,)
    columns : ndarray of int, optional
        The role columns' positions in ``raw`` (a numeric array of the caller's,
        read a chunk at a time and never copied whole).
    weights : ndarray or dask array of shape (n,), optional
        Sample weights, of the type ``weight_type_name``; rows with weight 0
        contribute nothing (and count for no row or cluster).
    groups : array of shape (n,), optional
        Cluster labels (any sortable values); required by the cluster-robust types.
    cov_type_name : str
    weight_type_name : {"frequency", "analytic", "probability"}
        How the weights enter (:data:`~skmediate._numerics.covariance.WEIGHT_TYPES`):
        analytic and probability weights are rescaled to sum to the number of
        rows with positive weight, which is then ``n``.
    kappa : float or "liml"
        ``κ`` of the k-class estimator (1: two-stage least squares).
    fuller_alpha : float
        Fuller's ``α`` with ``kappa="liml"``.
    sensitivity : bool or array of int
        Also accumulate what the sensitivity analysis needs: ``True`` for
        every component of ``τ``, or the indices of the components it varies
        (:class:`~skmediate._numerics.sensitivity.SensitivityPlan`).
    sensitivity_sets : bool
        With ``sensitivity``, also accumulate the Anderson–Rubin moments as
        functions of ``τ`` (the weak-instrument-robust sets over the grid).
    use_t : bool
        t and F reference distributions (:meth:`FittedModel.reference_df`).
    ar_meat : {"leverage", "fit"}
        The meat of the robust Anderson–Rubin statistic
        (:func:`~skmediate._numerics.covariance.anderson_rubin_kind`).

    Returns
    -------
    FittedModel

    Raises
    ------
    ValueError
        Non-finite values (naming the column), too few rows, a single
        treatment value, fewer than two clusters, a ``κ`` that is too large,
        a homoskedastic ``cov_type`` with probability weights.
    RankDeficiencyError
        Collinear instruments or an unidentified mediator.
    """
    kind = cov_type(cov_type_name)
    weighting = weight_type(weight_type_name)
    check_weighted_cov_type(weighting, kind)
    weights = weighting.normalize(weights)
    ar_kind = anderson_rubin_kind(kind, ar_meat)
    if kind.clustered and groups is None:
        raise ValueError(
            f"cov_type={kind.name!r} needs the cluster labels: pass "
            "fit(..., groups=...)"
        )
    if design.instrumented and design.n_excluded < design.n_mediators:
        raise ValueError(
            f"{design.n_mediators} mediators need at least as many excluded "
            f"instruments (treatment x covariate interactions); the model has "
            f"{design.n_excluded}"
        )
    labels = groups if kind.clustered else None
    if columns is not None:
        columns = np.asarray(columns, dtype=np.intp)
        every = np.arange(raw.shape[1])
        if columns.shape == every.shape and (columns == every).all():
            columns = None  # every column, in order
    head_raw, head_y = _head(raw, y)
    if columns is not None:
        head_raw = head_raw[:, columns]
    shift = design.shift(head_raw, head_y)
    plan = None
    if sensitivity is not False:
        plan = SensitivityPlan(
            design,
            None if sensitivity is True else sensitivity,
            robust_sets=sensitivity_sets,
            kind=ar_kind or kind,  # the covariance type of the robust sets
        )

    arrays = [a for a in (weights, labels) if a is not None]
    whole = None
    if not (is_dask(raw) or any(is_dask(a) for a in (y, *arrays))):
        width = design.n_raw + design.n_columns + 1 + len(arrays)
        if len(list(row_slices(raw.shape[0], width))) == 1:
            raw = np.asarray(raw if columns is None else raw[:, columns], dtype=float)
            columns = None
            y = np.asarray(y, dtype=float)
            whole = design.matrix(raw, y, shift)
    run = _passes(design, raw, y, shift, arrays, whole, columns)
    has_w, has_labels = weights is not None, labels is not None
    first = _first_pass(design, run, has_w, has_labels, plan)
    r = first["r"]
    n_rows, nobs = first["n_rows"], first["nobs"]
    if not weighting.counts:  # each row is one observation
        nobs = first["nobs"] = n_rows
    uniques = first["uniques"]
    n_clusters = None if uniques is None else int(uniques.shape[0])
    _check_counts(design, first, n_clusters, weighting)
    _check_magnitudes(design, r)

    structural = _solve(r, design, kappa, fuller_alpha, nobs, n_rows)
    model = FittedModel.assemble(
        design=design,
        kind=kind,
        weight_type=weighting.name,
        r=r,
        shift=shift,
        structural=structural,
        nobs=nobs,
        n_rows=n_rows,
        n_clusters=n_clusters,
        kappa=structural.kappa,
        linear_in_y=not isinstance(kappa, str),
        use_t=use_t,
        treatment_coding=(*first["treatment_range"], first["treatment_not_binary"]),
        ar_kind=ar_kind,
    )
    if plan is not None:
        plan = plan.prepare(model, first["products"])

    layout = model.robust_layout
    if layout.n_cols or plan is not None:
        meat, grams, sens, ar = _second_pass(
            run,
            has_w,
            has_labels,
            r,
            layout,
            uniques,
            kind,
            plan,
            weighting,
            model.ar_layout,
            model.ar_kind,
            model.ar_columns,
        )
        model = model.with_meat(meat, grams, ar)
        if plan is not None:
            model = model.with_sensitivity(plan.finish(model, sens))
    return model


def _solve(r, design, kappa, fuller_alpha, nobs, n_rows):
    if isinstance(kappa, str):
        if kappa != "liml":
            raise ValueError(f"kappa must be a float or 'liml'; got {kappa!r}")
        kappa_liml = liml_kappa(r, design) if design.instrumented else np.nan
        if np.isnan(kappa_liml):
            raise ValueError(
                "the LIML kappa is not defined: the outcome or a mediator is an "
                "exact linear combination of the other columns"
            )
        value = kappa_liml - fuller_alpha / (nobs - design.n_instruments)
    else:
        if fuller_alpha:
            raise ValueError("fuller_alpha applies only with kappa='liml'")
        value = float(kappa)
    return solve_structural(r, design, kappa=value, n_rows=n_rows)


# -- pass 1 -------------------------------------------------------------------


def _passes(design, raw, y, shift, arrays, whole, columns):
    """``reduce_rows`` of a pass whose chunk function takes ``(A, raw, y, ...)``.

    The rows' matrix ``A`` is formed a chunk at a time (from the columns
    ``columns`` of ``raw``); ``whole`` is the matrix of all rows when they
    fit in one chunk, formed once and shared by the two passes.
    """

    def run(func, combine):
        if whole is not None:
            with one_blas_thread():  # as reduce_rows runs its chunks
                return func(whole, raw, y, *arrays)

        def on_chunk(raw_c, y_c, *rest):
            if columns is not None:
                raw_c = raw_c[:, columns]
            raw_c = np.asarray(raw_c, dtype=float)
            y_c = np.asarray(y_c, dtype=float)
            return func(design.matrix(raw_c, y_c, shift), raw_c, y_c, *rest)

        return reduce_rows(on_chunk, [raw, y, *arrays], combine=combine)

    return run


def _first_pass(design, run, has_w, has_labels, plan):
    """Value checks, counts and the factor, in one pass."""
    products = None
    if plan is not None and plan.product_directions.size:
        products = design.direction_columns(plan.product_directions)
    n_raw = design.n_raw

    def on_chunk(a, raw_c, y_c, *rest):
        rest = list(rest)
        w = rest.pop(0) if has_w else None
        lab = rest.pop(0) if has_labels else None
        counts = np.zeros(2 * n_raw + 4)
        finite = np.isfinite(raw_c)
        if not finite.all():
            counts[:n_raw] = (~finite).sum(axis=0)
            counts[n_raw + 4 :] = np.isnan(raw_c).sum(axis=0)
        counts[n_raw] = y_c.size - np.count_nonzero(np.isfinite(y_c))
        t = raw_c[:, 0]
        if w is not None:
            w = np.asarray(w, dtype=float)
            counts[n_raw + 1] = (~np.isfinite(w)).sum()
            counts[n_raw + 2] = (w < 0).sum()
            positive = w > 0
            sw = np.sqrt(np.where(positive, w, 0.0))
            weighted = a * sw[:, None]
            n_pos, total = float(positive.sum()), float(w[positive].sum())
            t = t[positive]
        else:
            weighted, positive = a, None
            n_pos = total = float(a.shape[0])
        r = triangular_factor(weighted) if a.shape[0] else np.zeros((0, a.shape[1]))
        stats = np.array(
            [
                n_pos,
                total,
                t.min() if t.size else np.inf,
                t.max() if t.size else -np.inf,
                np.count_nonzero((t != 0) & (t != 1)),
            ]
        )
        cross = None
        if products is not None:
            at = a.T
            v = at[products[0]] * at[products[1]]
            cross = ((v if w is None else v * w) @ a).T  # Aᵀ W V
        uniques = None
        if lab is not None:
            lab = np.asarray(lab)
            missing = pd.isna(lab)
            counts[n_raw + 3] = missing.sum()
            keep = ~missing if positive is None else positive & ~missing
            uniques = np.unique(lab[keep])
        return [counts, stats, r, cross, uniques]

    def combine(parts):
        total = parts[0]
        for part in parts[1:]:
            total[0] += part[0]
            s, t = total[1], part[1]
            total[1] = np.array(
                [
                    s[0] + t[0],
                    s[1] + t[1],
                    min(s[2], t[2]),
                    max(s[3], t[3]),
                    s[4] + t[4],
                ]
            )
            total[2] = _stack_qr([total[2], part[2]])
            if total[3] is not None:
                total[3] = total[3] + part[3]
            if total[4] is not None:
                total[4] = np.union1d(total[4], part[4])
        return total

    counts, stats, r, cross, uniques = run(on_chunk, combine)
    c = design.n_columns
    if r.shape[0] < c:  # fewer rows than columns: pad with zero rows
        r = np.vstack([r, np.zeros((c - r.shape[0], c))])
    # the factor's diagonal is made non-negative (a sign convention)
    negative = np.diag(r) < 0
    if negative.any():
        r = r * np.where(negative, -1.0, 1.0)[:, None]
    return {
        "counts": counts,
        "n_rows": stats[0],
        "nobs": stats[1],
        "treatment_range": (stats[2], stats[3]),
        "treatment_not_binary": int(stats[4]),
        "r": r,
        "products": cross,
        "uniques": uniques,
    }


def _check_counts(
    design: Design, first: dict, n_clusters, weighting: WeightType
) -> None:
    counts = first["counts"]
    n_raw = design.n_raw
    bad = np.flatnonzero(counts[:n_raw])
    if bad.size:
        j = int(bad[0])
        role, name = design.raw_labels[j]
        kind = "NaN" if counts[n_raw + 4 + j] else "inf"
        raise ValueError(
            f"Input X column {name!r} ({role}) contains {kind} "
            f"({int(counts[j])} non-finite value(s)); remove or impute those rows"
        )
    if counts[n_raw]:
        raise ValueError(f"Input y contains NaN or inf ({int(counts[n_raw])} value(s))")
    if counts[n_raw + 1]:
        raise ValueError("sample_weight contains NaN or inf")
    if counts[n_raw + 2]:
        raise ValueError("Negative values in data passed to sample_weight")
    if counts[n_raw + 3]:
        raise ValueError(
            "groups contains missing values; every row needs a cluster label"
        )
    n_rows = first["n_rows"]
    needed = max(design.n_instruments, design.n_params)
    what = "first stage" if design.instrumented else "regression"
    if n_rows <= needed:
        raise ValueError(
            f"too few rows: n_samples={n_rows:g}, but the {what} has {needed} "
            f"parameters; at least {needed + 1} rows with positive weight are needed"
        )
    nobs = first["nobs"]
    if weighting.counts and nobs <= needed:
        raise ValueError(
            f"sample_weight sums to {nobs:g}, not more than the {needed} "
            f"parameters of the {what}: with weight_type='frequency' (the "
            "default) a row of weight w counts as w observations, so the fit "
            "has that many. For weights that say how precise a row is "
            "(inverse variances) pass weight_type='analytic'; for sampling "
            "weights (inverse selection probabilities) "
            "weight_type='probability'. Either counts each row once."
        )
    low, high = first["treatment_range"]
    if low == high:
        raise ValueError(
            f"treatment {design.treatment!r} takes a single value ({low:g}) in all "
            f"{n_rows:g} rows; a randomized comparison needs at least two arms"
        )
    if n_clusters is not None and n_clusters < 2:
        raise ValueError(
            f"a cluster-robust cov_type needs at least 2 clusters in groups; got "
            f"{n_clusters}"
        )


# Column norms (of √w A, after the shift) above this square to more than the
# largest double in the covariances: the fit refuses them.
MAX_COLUMN_NORM = 1e150


def _check_magnitudes(design: Design, r: np.ndarray) -> None:
    norms = column_norms(r)
    bad = np.flatnonzero(~(norms <= MAX_COLUMN_NORM))
    if bad.size:
        role, name = design.column_labels[int(bad[0])]
        raise ValueError(
            f"column {name!r} ({role}) is too large in magnitude (the norm of its "
            f"centered values is {norms[bad[0]]:.3g}): the variances of the "
            "estimates would overflow double precision. Rescale it, for example "
            "by a power of ten."
        )


# -- pass 2 -------------------------------------------------------------------


def _second_pass(
    run,
    has_w: bool,
    has_labels: bool,
    r,
    layout: Layout,
    uniques,
    kind: CovarianceType,
    plan,
    weighting: WeightType,
    ar_layout: Layout | None = None,
    ar_kind: CovarianceType | None = None,
    ar_columns: np.ndarray | None = None,
):
    """The meat of the score columns (and the sensitivity factors), in one pass.

    For CR2, and for the other cluster-robust types with at most
    :data:`KEEP_CLUSTER_GRAMS` clusters, the pass accumulates per cluster the
    cross-products of ``z = [u_1..u_{c-1}, y]`` (the rows' leading coordinates
    and the outcome) and the residual forms: every cluster's score sums
    follow from those (:meth:`Layout.cluster_sums`), and the model keeps
    ``Σ w z zᵀ`` for the Bell–McCaffrey degrees of freedom and the wild
    cluster bootstrap.

    With ``ar_layout`` the pass also accumulates the meat of those columns
    (the reduced form's) with the leverage adjustment of ``ar_kind``, for the
    robust Anderson–Rubin statistic (columns ``ar_columns`` of ``layout``, whose scores it
    shares); for a cluster-robust ``ar_kind`` from the
    clusters' cross-products, which are then formed for any number of
    clusters (and kept only as above). Returns the meat, the clusters'
    cross-products (or None), the sensitivity parts and the Anderson–Rubin
    meat (or None).
    """
    power = kind.leverage
    ar_power = None if ar_layout is None else ar_kind.leverage
    n_groups = None if uniques is None else uniques.shape[0]
    keep_grams = kind.clustered and (power or n_groups <= KEEP_CLUSTER_GRAMS)
    by_cluster = keep_grams or (kind.clustered and ar_layout is not None)
    lead = r.shape[0] - 1
    if by_cluster:
        # z = [u_1..u_{c-1}, y] and the residual forms: their cross-products give
        # the kept Grams and the clusters' score sums (formed from the residuals
        # themselves, so an outcome fitted almost exactly loses nothing)
        eye = np.eye(r.shape[0])
        kernel = np.hstack(
            [solve_leading(r, eye[:, :lead]), eye[:, lead:], layout.right]
        )
    elif layout.n_cols:
        kernel = layout.kernel(r, hats=bool(power or ar_power))
    else:
        kernel = None
    _ = layout.segments  # formed once, before the chunk function is sent anywhere
    ar_hats = None  # the equations whose leverages the Anderson–Rubin meat uses
    if ar_layout is not None:
        _ = ar_layout.segments
        if ar_power:
            ar_hats = np.unique(ar_layout.hat_index)
    sens_forms, sens_chunk = (None, None) if plan is None else plan.chunk_function()
    sens_combine = None if plan is None else plan.combine_parts
    # the grid's forms join the kernel's in one product with the rows
    stacked = None
    if sens_forms is not None and kernel is not None and not by_cluster:
        stacked = np.vstack([kernel.T, sens_forms])
    n_kernel = 0 if kernel is None else kernel.shape[1]

    def on_chunk(a, raw_c, y_c, *rest):
        rest = list(rest)
        w = np.asarray(rest.pop(0), dtype=float) if has_w else None
        codes = None
        if has_labels:
            lab = np.asarray(rest.pop(0))
            codes = np.searchsorted(uniques, lab)
            codes = np.minimum(codes, n_groups - 1)  # rows with weight 0 only
        meat = ar = sens_product = None
        if by_cluster:
            meat = group_grams(a @ kernel, w, codes, n_groups)
        elif kernel is not None:
            # one product with the kernel gives the forms of both meats
            if stacked is None:
                forms = kernel.T @ a.T
            else:
                forms = stacked @ a.T
                forms, sens_product = forms[:n_kernel], forms[n_kernel:]
            raw = layout.raw_scores(forms)
            leverages = None
            if power or ar_power:
                leverages = layout.leverages(
                    forms, weighting.leverage_weights(w), None if power else ar_hats
                )
            row_w = weighting.row_weights(w)  # the rows' meat: w² unless counts
            if ar_layout is not None:
                ar_scores = raw[ar_columns]  # a copy
                if ar_power:
                    ar_layout.adjust(ar_scores, leverages, ar_power)
                ar = meat_of_chunk(ar_scores, row_w, None, None)
            scores = raw
            if power:
                layout.adjust(scores, leverages, power)
            meat = meat_of_chunk(
                scores, w if codes is not None else row_w, codes, n_groups
            )
        sens = None if sens_chunk is None else sens_chunk(a, w, codes, sens_product)
        return [meat, sens, ar]

    def combine(parts):
        total = parts[0]
        for part in parts[1:]:
            if total[0] is not None:
                total[0] += part[0]
            if total[1] is not None:
                total[1] = sens_combine(total[1], part[1])
            if total[2] is not None:
                total[2] += part[2]
        return total

    sums, sens, ar = run(on_chunk, combine)
    meat = grams = None
    if by_cluster:
        c = lead + 1
        full = (sums + np.swapaxes(sums, 1, 2)) / 2
        grams = full[:, :c, :c].copy()
        lead_grams, resid = grams[:, :lead, :lead], full[:, :lead, c:]
        sums = layout.cluster_sums(lead_grams, resid, power)
        if ar_layout is not None:
            ar = ar_layout.cluster_sums(lead_grams, resid, ar_power)
            ar = ar.T @ ar
        if not keep_grams:
            grams = None
    if sums is not None:
        meat = sums.T @ sums if kind.clustered else sums
        meat = (meat + meat.T) / 2
    if ar is not None:
        ar = (ar + ar.T) / 2
    return meat, grams, sens, ar
