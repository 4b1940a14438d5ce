"""The sensitivity analysis of Small (2012, section 6) in closed form.

With effects that vary with the covariates, the outcome is shifted to
``ỹ(τ) = y - V τ`` with ``V = [R·(X - X̄), M_1·(X - X̄), ...]`` and the same
estimator is applied. Two-stage least squares is linear in the outcome, so the
estimates are linear in ``τ``: ``θ(τ) = θ - H V τ`` (``H`` the estimator's
linear operator), and the residuals are affine: ``ε(τ) = ε - ṽ τ`` with
``ṽ = V - D H V``. ``X̄`` is estimated, and ``V`` depends on it: the effect
``j`` at ``τ`` moves by ``τ_jᵀ(X̄ - E X)``, so the scores of the covariate
means enter its variance. Per unit (row, or cluster) the score of effect
``j`` is ``α - βᵀτ``; the triangular factor ``T_j`` of the units' ``[α, β]``
gives ``Var_j(τ) = ‖T_j [1, -τ]‖²`` at any ``τ``, without cancellation.

The fit accumulates what this needs when asked (:class:`SensitivityPlan`):
``Aᵀ W V`` for the products of ``V`` outside the data matrix's span in the
first pass, the factors ``T_j`` in the second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skmediate._numerics.design import Design
from skmediate._numerics.rows import group_sums
from skmediate._numerics.tsls import solve_leading, solve_upper

__all__ = [
    "SensitivityForms",
    "SensitivityPlan",
    "ci_breakdown",
    "quadratic_roots",
    "refit_inference",
]


@dataclass(frozen=True, eq=False)
class SensitivityForms:
    """Exact closed forms of the effects and their variances as functions of ``τ``.

    With ``τ`` of length ``n_directions`` (``[τ_R, τ_M1, ...]``, ``p`` each):

    - estimates: ``θ_j(τ) = estimate_j - shift_j · τ``;
    - variances: ``Var_j(τ) = ‖factors_j [1, -τ]‖²``.

    Attributes
    ----------
    estimate : ndarray of shape (n_effects,)
        The direct effect and the mediator effects at ``τ = 0``.
    shift : ndarray of shape (n_effects, n_directions)
    factors : ndarray of shape (n_effects, 1 + n_directions, 1 + n_directions)
    """

    estimate: np.ndarray
    shift: np.ndarray
    factors: np.ndarray

    def evaluate(self, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Estimates and standard errors at each row of ``tau`` (shape (G, n_directions))."""
        tau = np.atleast_2d(np.asarray(tau, dtype=float))
        estimates = self.estimate - tau @ self.shift.T
        augmented = np.hstack([np.ones((tau.shape[0], 1)), -tau])
        projected = np.einsum("gi,eji->gej", augmented, self.factors)
        se = np.sqrt(np.einsum("gej,gej->ge", projected, projected))
        return estimates, se

    def variance_quadratic(self, j: int, component: int) -> tuple[float, float, float]:
        """``Var_j(t e_k) = a - 2 b t + c t²`` along one ``τ`` component."""
        base, direction = self.factors[j][:, 0], self.factors[j][:, 1 + component]
        return (
            float(base @ base),
            float(base @ direction),
            float(direction @ direction),
        )


class SensitivityPlan:
    """What a fit accumulates for the sensitivity forms, pass by pass."""

    def __init__(self, design: Design):
        self.design = design
        p, m = design.n_covariates, design.n_mediators
        first = 1 if design.instrumented else 0  # R·X is a column of A for IV
        self.product_columns = np.arange(first * p, (1 + m) * p)

    def prepare(self, model, cross) -> _Prepared:
        """The forms the second pass needs, from the fitted model and ``Aᵀ W V``."""
        return _Prepared.build(self, model, cross)


@dataclass(frozen=True, eq=False)
class _Prepared:
    """The small arrays of the second pass (sent with every dask task)."""

    design: Design
    mean: np.ndarray  # X̄ - c_X
    hv: np.ndarray  # H V, (k, n_directions)
    kernel: np.ndarray  # rows of the effects' influence, as forms of a row of A
    resid_form: np.ndarray
    effects: np.ndarray  # structural terms of the effects
    root_struct: float
    root_mean: float
    nobs: float
    homoskedastic: bool
    n_groups: int | None

    @classmethod
    def build(cls, plan: SensitivityPlan, model, cross) -> _Prepared:
        d, r = model.design, model.r
        p, c = d.n_covariates, d.n_columns
        mean = model.covariate_mean_shifted
        utv = np.empty((c, d.n_directions))
        cross_u = None
        if cross is not None:
            # coordinates in U before the outcome's (which H does not use)
            lead = c - 1
            cross_u = np.zeros_like(cross)
            cross_u[:lead] = solve_upper(r[:lead, :lead], cross[:lead], trans=True)
        position = 0
        for b, factor in enumerate(d.direction_factors):
            cols = slice(b * p, (b + 1) * p)
            if b == 0 and d.instrumented:
                products = r[:, d.excluded_columns]
            else:
                products = cross_u[:, position : position + p]
                position += p
            utv[:, cols] = products - np.outer(r[:, factor], mean)
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
        return cls(
            design=d,
            mean=mean,
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
        )

    # -- the second pass ---------------------------------------------------

    def chunk_function(self):
        """The per-chunk function of the second pass (holds only small arrays)."""
        d = self.design
        p = d.n_covariates
        mean, hv, kernel, f_e = self.mean, self.hv, self.kernel, self.resid_form
        factors, d_cols = d.direction_factors, d.structural_columns
        n_eff, root_s, root_m = self.effects.size, self.root_struct, self.root_mean
        nobs, homoskedastic, n_groups = self.nobs, self.homoskedastic, self.n_groups

        def on_chunk(a, w, codes):
            v = d.direction_products(a)
            v -= np.repeat(a[:, factors], p, axis=1) * np.tile(mean, len(factors))
            v -= a[:, d_cols] @ hv
            e = a @ f_e
            if homoskedastic:
                rows = np.column_stack([e, v])
                if w is not None:
                    rows *= np.sqrt(w)[:, None]
                return [np.linalg.qr(rows, mode="r")]
            g = a @ kernel
            xc = (a[:, d.covariate_columns] - mean) * (root_m / nobs)
            out = []
            for j in range(n_eff):
                gj = root_s * g[:, j]
                rows = np.column_stack([gj * e, gj[:, None] * v])
                rows[:, 1 + j * p : 1 + (j + 1) * p] -= xc
                if codes is not None:
                    weighted = rows if w is None else rows * w[:, None]
                    out.append(group_sums(weighted, codes, n_groups))
                else:
                    if w is not None:
                        rows *= np.sqrt(w)[:, None]
                    out.append(np.linalg.qr(rows, mode="r"))
            return out

        return on_chunk

    def combine_parts(self, total, part):
        if self.n_groups is not None:
            return [t + q for t, q in zip(total, part, strict=True)]
        return [
            np.linalg.qr(np.vstack([t, q]), mode="r")
            for t, q in zip(total, part, strict=True)
        ]

    def finish(self, model, parts) -> SensitivityForms:
        d, r = model.design, model.r
        p = d.n_covariates
        size = 1 + d.n_directions
        estimate = model.structural.theta[self.effects]
        factors = np.zeros((self.effects.size, size, size))
        if self.homoskedastic:
            t_e = _square(parts[0], size)
            bread = solve_upper(
                model.structural.factor, np.eye(d.n_params)
            )  # F⁻¹: bread = F⁻¹F⁻ᵀ
            xc = r[:, d.covariate_columns] - np.outer(r[:, 0], self.mean)
            c_x = np.linalg.qr(xc, mode="r") * (self.root_mean / np.sqrt(self.nobs))
            for j, term in enumerate(self.effects):
                b_jj = float(bread[term] @ bread[term])
                extra = np.zeros((p, size))
                extra[:, 1 + j * p : 1 + (j + 1) * p] = -c_x
                stacked = np.vstack([np.sqrt(b_jj) * self.root_struct * t_e, extra])
                factors[j] = _square(np.linalg.qr(stacked, mode="r"), size)
        else:
            for j, part in enumerate(parts):
                if self.n_groups is not None:
                    part = np.linalg.qr(part, mode="r")
                factors[j] = _square(part, size)
        return SensitivityForms(
            estimate=estimate, shift=self.hv[self.effects], factors=factors
        )


def _square(factor: np.ndarray, size: int) -> np.ndarray:
    """An upper-triangular factor padded with zero rows to ``size × size``."""
    out = np.zeros((size, size))
    rows = min(size, factor.shape[0])
    out[:rows] = factor[:rows]
    return out


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
    forms: SensitivityForms, j: int, component: int, z: float
) -> tuple[float, float]:
    """Values of one ``τ`` component (others 0) at which the interval of effect ``j`` reaches 0.

    The interval ``θ(t) ± z·se(t)`` contains 0 exactly where
    ``θ(t)² - z² Var(t) ≤ 0``, a quadratic inequality in ``t``. Returns the
    smallest ``t ≥ 0`` and the largest ``t ≤ 0`` at which it holds (``0`` when
    the interval at ``τ = 0`` already contains 0, ``nan`` when it never does
    in that direction).
    """
    theta, h = forms.estimate[j], forms.shift[j, component]
    a, b, c = forms.variance_quadratic(j, component)
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
