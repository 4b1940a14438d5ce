"""The sensitivity analysis of Small (2012, section 6) in closed form.

With effects that vary with the covariates, the outcome is shifted to
``ỹ(τ) = y - V τ`` with ``V = [R·(X - X̄), M_1·(X - X̄), ...]`` and the same
estimator is applied. Two-stage least squares is linear in the outcome, so the
estimates are linear in ``τ``: ``θ(τ) = θ - H V τ`` (``H`` the estimator's
linear operator), and the residuals are affine: ``ε(τ) = ε - ṽ τ`` with
``ṽ = V - D H V``. ``X̄`` is estimated, and ``V`` depends on it: the effect
``j`` at ``τ`` moves by ``τ_jᵀ(X̄ - E X)``, so the scores of the covariate
means enter its variance. Per unit (row, or cluster) the score of effect
``j`` is ``α - βᵀτ`` and ``Var_j(τ) = [1, -τ] G_j [1, -τ]ᵀ`` with ``G_j``
the cross-product of the units' ``[α, β]``, formed in the factor's
coordinates (the scores of a near-collinear design stay well scaled).

The fit accumulates what this needs when asked (:class:`SensitivityPlan`):
``Aᵀ W V`` for the products of ``V`` outside the data matrix's span in the
first pass, the cross-products ``G_j`` in the second.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from skmediate._numerics.covariance import (
    WeightType,
    cluster_adjusted,
    row_adjustment,
    weight_type,
)
from skmediate._numerics.dense import solve_upper
from skmediate._numerics.design import Design
from skmediate._numerics.rows import group_grams, group_sums
from skmediate._numerics.tsls import leading_fit, solve_leading
from skmediate._numerics.weakiv import (
    AndersonRubinMoments,
    moment_counts,
    moments_from,
)

__all__ = [
    "ReducedForms",
    "SensitivityForms",
    "SensitivityPlan",
    "check_robust_sets",
    "ci_breakdown",
    "quadratic_roots",
    "refit_inference",
]


@dataclass(frozen=True, eq=False)
class SensitivityForms:
    """Exact closed forms of the effects and their variances as functions of ``τ``.

    ``τ`` has ``n_directions`` components (``[τ_R, τ_M1, ...]``, one per
    covariate each); the forms cover the components in ``directions`` (those
    the analysis varies), written ``t`` below:

    - estimates: ``θ_j(τ) = estimate_j - shift_j · t``;
    - variances: ``Var_j(τ) = [1, -t] grams_j [1, -t]ᵀ``.

    Attributes
    ----------
    estimate : ndarray of shape (n_effects,)
        The direct effect and the mediator effects at ``τ = 0``.
    directions : ndarray of int
        The components of ``τ`` covered, increasing.
    shift : ndarray of shape (n_effects, len(directions))
    grams : ndarray of shape (n_effects, 1 + len(directions), 1 + len(directions))
        The cross-products of the units' score columns ``[α, β]`` (with the
        small-sample factors).
    reduced : ReducedForms or None
        The Anderson–Rubin moments as functions of ``τ`` (when asked for).
    """

    estimate: np.ndarray
    directions: np.ndarray
    shift: np.ndarray
    grams: np.ndarray
    reduced: ReducedForms | None = None

    def evaluate(self, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Estimates and standard errors at each row of ``tau``, shape (G, n_directions).

        Components outside ``directions`` must be 0.
        """
        tau = np.atleast_2d(np.asarray(tau, dtype=float))
        outside = np.ones(tau.shape[1], dtype=bool)
        outside[self.directions] = False
        if np.any(tau[:, outside]):
            raise ValueError(
                "the closed forms cover the tau components "
                f"{self.directions.tolist()}; got non-zero values in "
                f"{np.flatnonzero(np.any(tau[:, outside], axis=0)).tolist()}"
            )
        t = tau[:, self.directions]
        estimates = self.estimate - t @ self.shift.T
        augmented = np.hstack([np.ones((t.shape[0], 1)), -t])
        variance = np.einsum("gi,eij,gj->ge", augmented, self.grams, augmented)
        return estimates, np.sqrt(np.maximum(variance, 0.0))

    def variance_quadratic(self, j: int, position: int) -> tuple[float, float, float]:
        """``Var_j(t e_k) = a - 2 b t + c t²`` along ``k = directions[position]``."""
        g = self.grams[j]
        k = 1 + position
        return float(g[0, 0]), float(g[0, k]), float(g[k, k])


class SensitivityPlan:
    """What a fit accumulates for the sensitivity forms, pass by pass.

    ``directions`` are the components of ``τ`` the analysis varies (all by
    default): direction ``k`` multiplies covariate ``k % p`` by the factor
    of block ``k // p`` (``R``, then each mediator). Only those are
    accumulated, so a grid over a few covariates costs little however many
    the model has.
    """

    def __init__(self, design: Design, directions=None, robust_sets=False, kind=None):
        self.design = design
        every = np.arange(design.n_directions)
        directions = every if directions is None else np.asarray(directions, int)
        if directions.ndim != 1 or not np.isin(directions, every).all():
            raise ValueError(
                f"sensitivity directions must be indices below {every.size}; got "
                f"{directions.tolist()}"
            )
        self.directions = np.unique(directions)
        p = max(design.n_covariates, 1)
        self.blocks = self.directions // p
        self.covariates = self.directions % p
        first = 1 if design.instrumented else 0  # R·X is a column of A for IV
        # the directions whose products Aᵀ W V the first pass accumulates
        self.from_products = self.blocks >= first
        self.product_directions = self.directions[self.from_products]
        self.robust_sets = bool(robust_sets)
        if self.robust_sets:
            check_robust_sets(design, kind)

    def prepare(self, model, cross) -> _Prepared:
        """The forms the second pass needs, from the fitted model and ``Aᵀ W V``."""
        return _Prepared.build(self, model, cross)


@dataclass(frozen=True, eq=False)
class _Prepared:
    """The small arrays of the second pass (sent with every dask task)."""

    design: Design
    directions: np.ndarray  # the components of τ covered
    used: np.ndarray  # the covariates they multiply (positions among X)
    mean: np.ndarray  # X̄ - c_X of those covariates
    # (block, positions among directions, rows of x - X̄, products in A's span)
    by_block: tuple
    hv: np.ndarray  # H V, (k, len(directions))
    kernel: np.ndarray  # rows of the effects' influence, as forms of a row of A
    resid_form: np.ndarray
    effects: np.ndarray  # structural terms of the effects
    root_struct: float
    root_mean: float
    nobs: float
    homoskedastic: bool
    n_groups: int | None
    leverage: float  # the power of the leverage adjustment (HC2, HC3, CR2)
    weighting: WeightType  # how the weights enter the rows' meat and leverages
    hat_kernel: np.ndarray  # forms of a row's coordinates in D̂'s orthonormal basis
    hat: np.ndarray  # that basis in the instruments' coordinates, (l, k)
    reduced: _ReducedPlan | None = None  # the Anderson–Rubin moments' parts

    @classmethod
    def build(cls, plan: SensitivityPlan, model, cross) -> _Prepared:
        d, r = model.design, model.r
        c = d.n_columns
        mean = model.covariate_mean_shifted
        # the coordinates in U of V's products (those of R·X are columns of A
        # for IV; the others are Aᵀ W V, solved before the outcome's
        # coordinate, which H does not use)
        utv = np.empty((c, plan.directions.size))
        if cross is not None:
            lead = c - 1
            cross_u = np.zeros_like(cross)
            cross_u[:lead] = solve_upper(r[:lead, :lead], cross[:lead], trans=True)
            utv[:, plan.from_products] = cross_u
        inside = ~plan.from_products
        if inside.any():
            excluded = np.arange(c)[d.excluded_columns]
            utv[:, inside] = r[:, excluded[plan.covariates[inside]]]
        utv -= r[:, d.direction_factors[plan.blocks]] * mean[plan.covariates]
        used = np.unique(plan.covariates)
        rows_of = np.searchsorted(used, plan.covariates)
        by_block = []
        for b in np.unique(plan.blocks):
            positions = np.flatnonzero(plan.blocks == b)
            span = slice(int(positions[0]), int(positions[-1]) + 1)
            linear = not plan.from_products[span].any()
            by_block.append((int(b), span, rows_of[span], linear))
        s = model.structural
        d_cols = d.structural_columns
        n_inst = d.n_instruments
        # H in the coordinates of U: (FᵀF)⁻¹((1 - κ) R[:, D]ᵀ + κ [G; 0]ᵀ)
        g_full = np.zeros((c, d.n_params))
        g_full[:n_inst] = s.g
        operator = s.kappa * g_full.T + (1.0 - s.kappa) * r[:, d_cols].T
        h_u = solve_upper(s.factor, solve_upper(s.factor, operator, trans=True))
        hv = h_u @ utv
        effects = d.effect_terms
        influence = np.zeros((c, effects.size))
        influence[:n_inst] = s.influence[effects].T
        kind = model.kind
        layout = model.layout
        j_col = layout.blocks["J"].start
        hat = layout.hats[:, layout.hat_slices[layout.hat_index[j_col]]]
        if kind.clustered and kind.leverage:
            # CR2 works on the instruments' coordinates themselves
            hat_kernel = solve_leading(r, np.eye(c)[:, :n_inst])
        else:
            hat_kernel = solve_leading(r, hat)
        return cls(
            design=d,
            directions=plan.directions,
            used=used,
            mean=mean[used],
            by_block=tuple(by_block),
            hv=hv,
            kernel=solve_leading(r, influence),
            resid_form=s.resid_form,
            effects=effects,
            root_struct=float(
                kind.root_factor(model.nobs, d.n_params, model.n_clusters)
            ),
            root_mean=float(kind.root_factor(model.nobs, 1, model.n_clusters)),
            nobs=model.nobs,
            homoskedastic=kind.homoskedastic,
            n_groups=model.n_clusters if kind.clustered else None,
            leverage=kind.leverage,
            weighting=weight_type(model.weight_type),
            hat_kernel=hat_kernel,
            hat=hat[:n_inst],
            reduced=_ReducedPlan.build(plan, model, utv) if plan.robust_sets else None,
        )

    # -- the second pass ---------------------------------------------------

    def chunk_function(self):
        """The linear forms and the per-chunk function of the second pass.

        Returns ``(forms, on_chunk)``. ``forms @ aᵀ`` gives, from a chunk's
        rows ``a``, the residual, ``-D H V``, ``x - X̄`` and the influence
        rows; the engine may compute it in one product with its own forms
        and pass it as ``product``. ``on_chunk(a, w, codes, product=None)``
        (holding only small arrays) completes the outcome shifts ``ṽ = V -
        D H V`` and, per effect, the score columns ``[α, β]``, and returns
        their weighted cross-products (or cluster sums).
        """
        d = self.design
        mean, hv, kernel, f_e = self.mean, self.hv, self.kernel, self.resid_form
        c = d.n_columns
        factors = d.direction_factors
        covariates = np.arange(c)[d.covariate_columns][self.used]
        # (contiguous rows of x - X̄ as slices: views, not copies, per chunk)
        own = [
            (j, (own[0], _as_slice(own[1])))
            for j, own in enumerate(self.own_rows)
            if own is not None
        ]
        h_rows = np.zeros((hv.shape[1], c))
        h_rows[:, d.structural_columns] = -hv.T
        # x - X̄ is a linear form of a row of A (its first column is 1), and so
        # is R·(x - X̄) for IV (R·X are columns of A); only the products with
        # the mediators are formed element by element
        x_forms = np.zeros((self.used.size, c))
        x_forms[np.arange(self.used.size), covariates] = 1.0
        x_forms[:, 0] = -mean
        products = []
        for b, span, rows, linear in self.by_block:
            if linear:
                excluded = np.arange(c)[d.excluded_columns][self.used[rows]]
                positions = np.arange(span.start, span.stop)
                h_rows[positions, excluded] += 1.0
                h_rows[positions, d.treatment_column] -= mean[rows]
            else:
                products.append(
                    (factors[b], slice(1 + span.start, 1 + span.stop), _as_slice(rows))
                )
        n_eff, root_s, root_m = self.effects.size, self.root_struct, self.root_mean
        nobs, homoskedastic, n_groups = self.nobs, self.homoskedastic, self.n_groups
        power = self.leverage
        by_cluster = power and n_groups is not None
        weighting = self.weighting

        # one product with A's rows gives the residual, -D H V and the influence
        # (and, for HC2, HC3 and CR2, the coordinates the leverages need)
        n_dir, n_x = hv.shape[1], self.used.size
        parts = [f_e[None], h_rows, x_forms, root_s * kernel.T]
        if power:
            parts.append(self.hat_kernel.T)
        forms = np.vstack(parts)
        x_rows = slice(1 + n_dir, 1 + n_dir + n_x)
        n_lead = 1 + n_dir + n_x + n_eff
        # a covariate mean's leverage is 1/n for every row
        mean_factor = float((1.0 - 1.0 / nobs) ** -power) if power else 1.0

        reduced = None if self.reduced is None else self.reduced.chunk_function()

        def on_chunk(a, w, codes, product=None):
            at = a.T
            if product is None:
                product = forms @ at
            ev = product[: 1 + n_dir]  # [e, ṽ] but the mediators' products
            xc = product[x_rows]  # x - X̄
            v_products = [at[factor] * xc[rows] for factor, _, rows in products]
            for (_, span, _), v in zip(products, v_products, strict=True):
                ev[span] += v  # ṽ = V - D H V
            extra = [] if reduced is None else reduced(a, v_products, w, codes)
            if homoskedastic:
                weighted = ev if w is None else ev * w
                return [weighted @ ev.T, *extra]
            if by_cluster:
                return _cr2_chunk(product[n_lead:], ev, xc, w, codes, n_groups)
            g = product[1 + n_dir + n_x : n_lead]
            scale = weighting.leverage_weights(w) if power else None
            if power:
                coords = product[n_lead:]
                lev = (coords * coords).sum(axis=0)
                g = g * row_adjustment(lev if scale is None else lev * scale, power)
            if scale is None:
                xc *= root_m / nobs * mean_factor
            else:  # a covariate mean's leverage is w/n
                xc *= root_m / nobs * row_adjustment(scale / nobs, power)
            rows = g[:, None, :] * ev  # (effects, 1 + directions, rows)
            for j, (span, xrows) in own:  # the scores of X̄ in the effect's block
                rows[j, 1 + span.start : 1 + span.stop] -= xc[xrows]
            row_w = w if codes is not None else weighting.row_weights(w)
            weighted = rows if row_w is None else rows * row_w
            if codes is not None:
                sums = [group_sums(part.T, codes, n_groups) for part in weighted]
                return [*sums, *extra]
            # one product of every effect's columns (a symmetric rank-k
            # update when unweighted); finish keeps the diagonal blocks
            flat = rows.reshape(-1, rows.shape[-1])
            return [weighted.reshape(flat.shape) @ flat.T, *extra]

        return forms, on_chunk

    @cached_property
    def own_rows(self) -> list:
        """Per effect, ``(positions, rows of x - X̄)`` of its own block of ``τ`` (or None).

        Effect ``j`` (the direct effect, then each mediator's) moves by
        ``τ_jᵀ(X̄ - E X)`` along block ``j``: there the scores of ``X̄`` enter.
        """
        spans = {b: (span, rows) for b, span, rows, _ in self.by_block}
        return [spans.get(j) for j in range(self.effects.size)]

    def combine_parts(self, total, part):
        return [t + q for t, q in zip(total, part, strict=True)]

    def _cr2_grams(self, model, parts) -> list:
        """Per effect, ``Σ_g v_g v_gᵀ`` of the CR2-adjusted cluster scores."""
        resid, grams, means, totals = parts
        # (I - H_gg)^(-1/2) on each form's sums of the instruments' coordinates
        adjusted = cluster_adjusted(
            np.moveaxis(resid, -1, 0), grams, self.hat, self.leverage
        )  # (forms, G, l)
        mean_factor = (1.0 - totals / self.nobs) ** -self.leverage
        xbar = means * (mean_factor * self.root_mean / self.nobs)[:, None]
        out = []
        influence = model.structural.influence[self.effects]  # (n_eff, l)
        for j in range(self.effects.size):
            v = self.root_struct * np.einsum("fgl,l->gf", adjusted, influence[j])
            if self.own_rows[j] is not None:
                span, xrows = self.own_rows[j]
                v[:, 1 + span.start : 1 + span.stop] -= xbar[:, xrows]
            out.append(v.T @ v)
        return out

    def finish(self, model, parts) -> SensitivityForms:
        d, r = model.design, model.r
        estimate = model.structural.theta[self.effects]
        reduced = None
        if self.reduced is not None:
            reduced = self.reduced.finish(model, parts[-2:])
            parts = parts[:-2]
        grams = []
        if self.leverage and self.n_groups is not None:
            grams = self._cr2_grams(model, parts)
        elif self.homoskedastic:
            bread = solve_upper(model.structural.factor, np.eye(d.n_params))  # F⁻¹
            columns = np.arange(d.n_columns)[d.covariate_columns][self.used]
            xc = r[:, columns] - np.outer(r[:, 0], self.mean)
            mean_cov = (xc.T @ xc) * (self.root_mean**2 / self.nobs)
            for j, term in enumerate(self.effects):
                b_jj = float(bread[term] @ bread[term])
                gram = b_jj * self.root_struct**2 * parts[0]
                if self.own_rows[j] is not None:
                    span, xrows = self.own_rows[j]
                    block = slice(1 + span.start, 1 + span.stop)
                    gram[block, block] += mean_cov[np.ix_(xrows, xrows)]
                grams.append(gram)
        elif self.n_groups is not None:  # each effect's cluster sums
            grams = [part.T @ part for part in parts]
        else:  # the effects' diagonal blocks of the rows' one cross-product
            n_eff, k = self.effects.size, 1 + self.directions.size
            every = np.arange(n_eff)
            grams = list(parts[0].reshape(n_eff, k, n_eff, k)[every, :, every, :])
        grams = np.stack([(g + g.T) / 2 for g in grams])
        return SensitivityForms(
            estimate=estimate,
            directions=self.directions,
            shift=self.hv[self.effects],
            grams=grams,
            reduced=reduced,
        )


def _as_slice(index: np.ndarray):
    """``index`` as a slice when its entries are consecutive (else as it is)."""
    index = np.asarray(index)
    if index.size and np.array_equal(index, np.arange(index[0], index[0] + index.size)):
        return slice(int(index[0]), int(index[0]) + index.size)
    return index


def check_robust_sets(design: Design, kind) -> None:
    """The weak-instrument-robust sets over the grid need what the fit's sets need."""
    if not design.instrumented or design.n_excluded == 0:
        raise ValueError(
            "the weak-instrument-robust sets over the grid need an "
            "IVMediationRegressor with at least one covariate (whose interactions "
            "with the treatment are the excluded instruments)"
        )
    if kind is not None and kind.clustered and kind.leverage:
        raise ValueError(
            f"the weak-instrument-robust sets over the grid have no closed form "
            f"with the {kind.name} covariance of clusters' scores; use "
            "method='refit' (the sets of a fit on the shifted outcome at every "
            "grid point)"
        )


@dataclass(frozen=True, eq=False)
class _ReducedPlan:
    """What the second pass accumulates for the Anderson–Rubin moments at each ``τ``.

    The reduced form of ``ỹ(τ) = y - V τ`` on the instruments: its
    coordinates move by ``U_Qᵀ V τ`` (known after the first pass), and its
    residual on the instruments is ``e_y - ṽ τ`` with ``ṽ = M_Q V``, which is
    zero for ``R·(X - X̄)`` (a column of the instruments) and formed row by row
    for the mediators' products. So every statistic is a polynomial in ``τ``
    whose coefficients are cross-products of the rows' ``z = [e_y, e_M1, ...,
    e_Mq, ṽ]`` (homoskedastic) and of their products with the coordinates
    ``u`` of the treatment and the excluded instruments, ``u ⊗ z`` (the score
    columns of the reduced forms, over rows or summed per cluster).
    """

    forms: np.ndarray  # a K gives [u, e_y, e_M1..e_Mq, P_Q V] (and the hat coordinates)
    n_coords: int  # l' = p + 1 coordinates u
    n_mediators: int  # q
    n_products: int  # the mediators' products among the directions
    products: np.ndarray  # their positions among the directions
    coordinates: np.ndarray  # (l', 2 + q): y, M1..Mq, R on the coordinates u
    shift: np.ndarray  # (l', len(directions)): those of V
    homoskedastic: bool
    leverage: float
    n_groups: int | None
    counts: dict
    weighting: WeightType

    @classmethod
    def build(cls, plan: SensitivityPlan, model, utv) -> _ReducedPlan:
        d, r = model.design, model.r
        c, kw, n_inst = d.n_columns, d.n_exog, d.n_instruments
        mediators = list(range(c)[d.mediator_columns])
        products = np.flatnonzero(plan.from_products)
        kind = model.ar_kind or model.kind  # the robust sets' covariance type
        eye = np.eye(c)
        # the rows' coordinates on the instruments (all of them for the
        # leverages of HC2 and HC3, else those after [1, X, Z])
        first = 0 if kind.leverage else kw - 1
        coords = solve_leading(r, eye[:, first:n_inst])
        _, resid = leading_fit(r, n_inst, [c - 1, *mediators])  # e_y, e_M
        projected = np.zeros((c, products.size))
        projected[:n_inst] = utv[:n_inst, products]
        rows = slice(kw - 1, n_inst)
        return cls(
            forms=np.hstack([coords, resid, solve_leading(r, projected)]),
            n_coords=n_inst - kw + 1,
            n_mediators=len(mediators),
            n_products=products.size,
            products=products,
            coordinates=r[rows][:, [c - 1, *mediators, kw - 1]],
            shift=utv[rows],
            homoskedastic=kind.homoskedastic,
            leverage=kind.leverage,
            n_groups=model.n_clusters if kind.clustered else None,
            counts=moment_counts(model),
            weighting=weight_type(model.weight_type),
        )

    def chunk_function(self):
        """``(a, V's products, w, codes) -> [Σ w z zᵀ, Σ w (u ⊗ z)(u ⊗ z)ᵀ or its cluster sums]``."""
        forms_t = np.ascontiguousarray(self.forms.T)
        l_dim, n_prod = self.n_coords, self.n_products
        n_resid = 1 + self.n_mediators  # e_y, e_M1..e_Mq
        homoskedastic, power, n_groups = (
            self.homoskedastic,
            self.leverage,
            self.n_groups,
        )
        n_hat = forms_t.shape[0] - n_resid - n_prod  # the coordinates' rows
        empty = np.zeros(0)
        weighting = self.weighting

        def on_chunk(a, v_products, w, codes):
            product = forms_t @ a.T
            z = product[n_hat:]  # [e_y, e_M1..e_Mq, P_Q V]
            if n_prod:
                # ṽ = M_Q V
                z[n_resid:] = np.concatenate(v_products)[:n_prod] - z[n_resid:]
            weighted = z if w is None else z * w
            gram = weighted @ z.T
            if homoskedastic:
                return [gram, empty]
            u = product[n_hat - l_dim : n_hat]
            scores = (u[:, None, :] * z[None, :, :]).reshape(-1, z.shape[1])
            if power:
                hats = product[:n_hat]
                lev = (hats * hats).sum(axis=0)
                scale = weighting.leverage_weights(w)
                lev = lev if scale is None else lev * scale
                scores = scores * row_adjustment(lev, power)
            if codes is not None:
                weighted = scores if w is None else scores * w
                return [gram, group_sums(weighted.T, codes, n_groups)]
            row_w = weighting.row_weights(w)  # the rows' meat: w² unless counts
            weighted = scores if row_w is None else scores * row_w
            return [gram, weighted @ scores.T]

        return on_chunk

    def finish(self, model, parts) -> ReducedForms:
        gram, scores = parts
        if self.n_groups is not None:
            scores = scores.T @ scores
        root = float(
            (model.ar_kind or model.kind).root_factor(
                model.nobs, model.design.n_instruments, model.n_clusters
            )
        )
        return ReducedForms(
            coordinates=self.coordinates,
            shift=self.shift,
            products=self.products,
            gram=(gram + gram.T) / 2,
            scores=None if self.homoskedastic else (scores + scores.T) / 2,
            root=root,
            counts=self.counts,
        )


@dataclass(frozen=True, eq=False)
class ReducedForms:
    """The Anderson–Rubin moments of the outcome shifted by ``V τ``, as functions of ``τ``.

    :meth:`moments` at a ``τ`` equals
    :func:`~skmediate._numerics.weakiv.anderson_rubin_moments` of a fit on
    ``ỹ(τ)`` (with the same ``X̄``), so every weak-instrument-robust set
    follows from it exactly as for that fit.

    Attributes
    ----------
    coordinates : ndarray of shape (p + 1, 2 + q)
        ``y``, the ``q`` mediators and ``R`` on the coordinates of the
        treatment and the excluded instruments (after ``[1, X, Z]``).
    shift : ndarray of shape (p + 1, len(directions))
        ``V``'s coordinates there: ``y``'s move by ``-shift · t``.
    products : ndarray of int
        The directions (positions) whose ``V`` leaves the instruments' span
        (the mediators' products), with residuals ``ṽ = M_Q V``.
    gram : ndarray of shape (1 + q + len(products),) * 2
        ``Σ w z zᵀ`` with ``z = [e_y, e_M1, ..., e_Mq, ṽ]``, the residuals on
        the instruments.
    scores : ndarray or None
        ``Σ w (u ⊗ z)(u ⊗ z)ᵀ`` over rows (with the leverage adjustment of
        HC2 and HC3) or over the clusters' sums, ``u`` the coordinates: the
        meat of the reduced forms' score columns at every ``τ``; None with
        homoskedastic covariances.
    root : float
        The root of the small-sample factor of those columns.
    counts : dict
        The moments' other fields.
    """

    coordinates: np.ndarray
    shift: np.ndarray
    products: np.ndarray
    gram: np.ndarray
    scores: np.ndarray | None
    root: float
    counts: dict

    def moments(self, t: np.ndarray) -> AndersonRubinMoments:
        """The moments at ``t`` (the components ``directions`` of ``τ``)."""
        t = np.asarray(t, dtype=float)
        coordinates = self.coordinates.copy()
        coordinates[:, 0] -= self.shift @ t
        n_z = self.gram.shape[0]
        n_resid = coordinates.shape[1] - 1  # y and each mediator
        # e_y(τ) = ell[0]·z, e_Mj = ell[j]·z
        ell = np.zeros((n_resid, n_z))
        ell[:, :n_resid] = np.eye(n_resid)
        ell[0, n_resid:] = -t[self.products]
        resid_ss = ell @ self.gram @ ell.T
        l_dim = coordinates.shape[0]
        if self.scores is None:
            # the homoskedastic meat of the reduced forms' score columns:
            # residual cross-products times those of the orthonormal coordinates
            meat = np.kron(resid_ss, np.eye(l_dim))
        else:
            tensor = self.scores.reshape(l_dim, n_z, l_dim, n_z)
            meat = np.einsum("sz,azbw,tw->satb", ell, tensor, ell).reshape(
                n_resid * l_dim, n_resid * l_dim
            )
        cov = self.root**2 * meat
        return moments_from(
            coordinates, (resid_ss + resid_ss.T) / 2, (cov + cov.T) / 2, **self.counts
        )


def _cr2_chunk(coords, ev, xc, w, codes, n_groups):
    """A chunk's cluster sums for CR2: ``Σ w u eᵀ``, ``Σ w u uᵀ``, ``Σ w (x - X̄)``, ``Σ w``.

    ``coords`` holds the rows' coordinates ``u`` of the instruments (as rows),
    ``ev`` the residual forms ``[e, -ṽ]``. All are blocks of the clusters'
    cross-products of ``[u, e, x - X̄, 1]`` (:func:`~.rows.group_grams`).
    """
    l_dim, n_forms = coords.shape[0], ev.shape[0]
    z = np.vstack([coords, ev, xc, np.ones((1, coords.shape[1]))]).T
    grams = group_grams(z, w, codes, n_groups)
    u = slice(0, l_dim)
    forms = slice(l_dim, l_dim + n_forms)
    return [
        grams[:, u, forms],
        grams[:, u, u],
        grams[:, -1, l_dim + n_forms : -1],
        grams[:, -1, -1],
    ]


def quadratic_roots(q0: float, q1: float, q2: float) -> np.ndarray:
    """Real roots of ``q0 + q1 t + q2 t²``, sorted (numerically stable pair)."""
    if abs(q2) <= 1e-14 * (abs(q1) + abs(q0)):
        return np.array([-q0 / q1]) if q1 != 0 else np.array([])
    disc = q1 * q1 - 4 * q2 * q0
    if disc < 0:
        return np.array([])
    qq = -0.5 * (q1 + np.copysign(np.sqrt(disc), q1))
    roots = [qq / q2, q0 / qq] if qq != 0 else [0.0, 0.0]
    return np.sort(roots)


def ci_breakdown(
    forms: SensitivityForms, j: int, position: int, z: float
) -> tuple[float, float]:
    """Values of one ``τ`` component (others 0) at which the interval of effect ``j`` reaches 0.

    The component is ``forms.directions[position]``.

    The interval ``θ(t) ± z·se(t)`` contains 0 exactly where
    ``θ(t)² - z² Var(t) ≤ 0``, a quadratic inequality in ``t``. Returns the
    smallest ``t ≥ 0`` and the largest ``t ≤ 0`` at which it holds (``0`` when
    the interval at ``τ = 0`` already contains 0, ``nan`` when it never does
    in that direction).
    """
    theta, h = forms.estimate[j], forms.shift[j, position]
    a, b, c = forms.variance_quadratic(j, position)
    quad = (
        theta * theta - z * z * a,
        -2 * theta * h + 2 * z * z * b,
        h * h - z * z * c,
    )
    if quad[0] <= 0:
        return 0.0, 0.0
    roots = quadratic_roots(*quad)
    up = [t for t in roots if t > 0]
    down = [t for t in roots if t < 0]
    return (float(min(up)) if up else np.nan, float(max(down)) if down else np.nan)


def refit_inference(model, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Effects and standard errors of a fit on the outcome shifted by ``V τ``.

    ``model`` is the fit on ``ỹ(τ)`` (for LIML and Fuller, which are not
    linear in the outcome, the sensitivity analysis refits). The shift uses
    the estimated ``X̄``, so the variance of effect ``j`` is that of
    ``θ_j + τ_jᵀ X̄`` from the stacked scores of the structural equation and
    the covariate means: the same rule as :class:`SensitivityForms`.
    """
    d, r = model.design, model.r
    p = d.n_covariates
    tau = np.asarray(tau, dtype=float)
    effects = d.effect_terms
    cov_block = r[d.covariate_columns, d.covariate_columns]
    columns = []
    for j, term in enumerate(effects):
        # X̄ has scores u[1:1+p] with X̄'s coordinates R_XXᵀ(...)/n
        mean_coef = cov_block @ tau[j * p : (j + 1) * p] / model.nobs
        columns.append(
            model.block_p("J", model.structural.influence[term])
            + model.block_p("XBAR", mean_coef)
        )
    cov = model.cov_of(np.column_stack(columns))
    return model.structural.theta[effects], np.sqrt(np.diag(cov))
