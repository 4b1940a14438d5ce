"""Direct, indirect and total effects with their joint covariance.

The effects are functions of four estimated quantities: the structural
coefficients ``θ_R`` and ``θ_M``, the effect of ``R`` on the mediator ``δ``
and the intention-to-treat coefficient of ``R``. Their joint covariance comes
from the stacked score columns of the structural equation, the first stage,
the intention-to-treat regression and the covariate means (``δ`` is the
first-stage coefficient of ``R`` with interactions centered at ``X̄``, which
is estimated), under the fit's covariance type; the effects' covariance
follows by the delta method.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skmediate._numerics.dense import solve_upper
from skmediate._numerics.model import FittedModel

__all__ = [
    "EFFECT_NAMES",
    "effect_names",
    "MediationEffects",
    "first_stage_at_mean",
    "mediation_effects",
]

EFFECT_NAMES = (
    "direct",
    "mediator",
    "effect_on_mediator",
    "indirect",
    "total",
    "intention_to_treat",
    "proportion_mediated",
)


def effect_names(design) -> tuple[str, ...]:
    """Row names of the effects of ``design``'s model, in :class:`MediationEffects` order.

    :data:`EFFECT_NAMES` for one mediator. With several, each per-mediator
    effect is named ``effect[mediator]``: the direct effect, each mediator's
    effect, the effect of ``R`` on each mediator, the indirect effect through
    each, their sum ``indirect``, the total and intention-to-treat effects,
    the proportion mediated through all mediators and through each.
    """
    if design.n_mediators == 1:
        return EFFECT_NAMES

    def each(stem):
        return tuple(f"{stem}[{m}]" for m in design.mediators)

    return (
        "direct",
        *each("mediator"),
        *each("effect_on_mediator"),
        *each("indirect"),
        "indirect",
        "total",
        "intention_to_treat",
        "proportion_mediated",
        *each("proportion_mediated"),
    )


@dataclass(frozen=True, eq=False)
class MediationEffects:
    """Estimates of the effects named ``names``, their joint covariance and t df.

    ``names`` come from :func:`effect_names`. ``df`` is None for normal-based
    inference. With ``use_t`` the direct and mediator effects and the
    intention-to-treat effect take the degrees of freedom of their
    coefficient (Bell–McCaffrey for CR2); the effects that combine several
    equations take ``G - 1`` (cluster-robust) or ``n - k`` of the structural
    equation.
    """

    names: tuple[str, ...]
    estimate: np.ndarray
    cov: np.ndarray
    df: np.ndarray | None = None


def effect_parameters(model: FittedModel) -> tuple[np.ndarray, np.ndarray]:
    """``[θ_R, θ_M, δ, ITT]`` and their coefficients ``P`` on the score columns.

    With ``q`` mediators ``θ_M`` and ``δ`` have ``q`` entries each (one per
    mediator), so the vector has ``2q + 2``. ``δ_j = d_j + γ_jᵀ(X̄ - c_X)``
    with ``d_j`` and ``γ_j`` the coefficients of the shifted treatment and of
    the interactions in mediator ``j``'s first stage (the naive model has no
    interactions): the first-stage coefficient of ``R`` when the interactions
    are centered at ``X̄``. Its scores combine those of the first stage and of
    the covariate means (see :func:`first_stage_at_mean`).
    """
    d, r = model.design, model.r
    kw, q = d.n_exog, d.n_mediators
    s = model.structural
    terms = [d.treatment_term, *range(d.n_params)[d.mediator_terms]]
    r_tt = r[kw - 1, kw - 1]
    p = np.zeros((model.layout.n_cols, 2 * q + 2))
    p[:, : q + 1] = model.block_p("J", s.influence[terms].T)
    deltas = np.empty(q)
    for j in range(q):
        if d.instrumented:
            deltas[j], p_first, p_mean, _ = first_stage_at_mean(model, j)
            p[:, q + 1 + j] = model.block_p("XBAR", p_mean)
        else:
            deltas[j] = model.first_stage_fit(j)[0][kw - 1]
            p_first = np.array([1.0 / r_tt])
        p[:, q + 1 + j] += model.block_p(f"F{j}", p_first)
    p[:, -1] = model.block_p("ITT", np.array([1.0 / r_tt]))
    itt = model.itt_fit[0][kw - 1]
    return np.concatenate([s.theta[terms], deltas, [itt]]), p


def first_stage_at_mean(model: FittedModel, j: int = 0):
    """The first stage of mediator ``j`` with the interactions centered at ``X̄``.

    Returns ``(δ, P_first, P_mean, γ)``: the coefficient of ``R``, the
    coefficients of its scores on the score blocks ``F{j}`` and ``XBAR``, and
    the interactions' coefficients ``γ`` (per unit of ``R·X``).

    The interactions are taken in the basis ``(R - c_R)(X - c_X) R_XX⁻¹``,
    with ``R_XX`` the covariates' block of the factor: the same column space,
    whitened, so that near-collinear covariates do not make the coefficients'
    coordinates huge and their combinations cancel. In that basis the
    covariate means enter through ``u[1:1+p]``, the coordinates of
    ``x - X̄``.
    """
    d, r = model.design, model.r
    kw, n_inst = d.n_exog, d.n_instruments
    col = range(d.n_columns)[d.mediator_columns][j]
    cov_block = r[d.covariate_columns, d.covariate_columns]
    block = r[kw - 1 : n_inst, kw - 1 : n_inst].copy()
    block[:, 1:] = solve_upper(cov_block, block[:, 1:].T, trans=True).T
    coef = solve_upper(block, r[kw - 1 : n_inst, col])
    mean = solve_upper(cov_block, model.covariate_mean_shifted, trans=True)
    delta = coef[0] + coef[1:] @ mean
    p_first = solve_upper(block, np.concatenate([[1.0], mean]), trans=True)
    p_mean = coef[1:] / model.nobs
    gamma = solve_upper(cov_block, coef[1:])
    return float(delta), p_first, p_mean, gamma


def mediation_effects(model: FittedModel) -> MediationEffects:
    """The effects of :func:`effect_names` and their covariance (delta method).

    Notes
    -----
    With ``δ_j`` the average effect of ``R`` on mediator ``j``: indirect
    through ``j`` ``= θ_Mj δ_j``, indirect ``= Σ_j θ_Mj δ_j``, total
    ``= θ_R + indirect``, proportion mediated ``= indirect / total`` (through
    ``j``: ``θ_Mj δ_j / total``). For the IV fit, ``θ_Mj δ_j`` is the average
    effect of ``R`` through ``M_j`` under model (1) of Small (2012), extended
    to several mediators, with IV-A2, IV-A3 and randomized ``R``; for the naive
    fit it is the product-of-coefficients effect, which needs the mediators to
    be sequentially ignorable.
    """
    design = model.design
    q = design.n_mediators
    parameters, p = effect_parameters(model)
    cov = model.cov_of(p)
    theta_r, theta_m = parameters[0], parameters[1 : q + 1]
    delta, itt = parameters[q + 1 : 2 * q + 1], parameters[-1]
    eye = np.eye(2 * q + 2)
    each = theta_m * delta
    d_each = delta[:, None] * eye[1 : q + 1] + theta_m[:, None] * eye[q + 1 : 2 * q + 1]
    indirect, d_indirect = each.sum(), d_each.sum(axis=0)
    total, d_total = theta_r + indirect, eye[0] + d_indirect

    def ratio(part, d_part):  # part / total and its gradient
        with np.errstate(divide="ignore", invalid="ignore"):
            return part / total, (d_part * total - part * d_total) / total**2

    # (estimate, gradient) by name; with one mediator its own effects are the
    # sums, under the same names
    values = {
        "direct": (theta_r, eye[0]),
        "indirect": (indirect, d_indirect),
        "total": (total, d_total),
        "intention_to_treat": (itt, eye[-1]),
        "proportion_mediated": ratio(indirect, d_indirect),
    }
    for j, m in enumerate(design.mediators):
        suffix = "" if q == 1 else f"[{m}]"
        values[f"mediator{suffix}"] = (theta_m[j], eye[1 + j])
        values[f"effect_on_mediator{suffix}"] = (delta[j], eye[q + 1 + j])
        if q > 1:
            values[f"indirect{suffix}"] = (each[j], d_each[j])
            values[f"proportion_mediated{suffix}"] = ratio(each[j], d_each[j])
    names = effect_names(design)
    estimate = np.array([values[name][0] for name in names])
    rows = [values[name][1] for name in names]
    jacobian = np.vstack(rows)
    effects_cov = jacobian @ cov @ jacobian.T
    return MediationEffects(
        names=names,
        estimate=estimate,
        cov=(effects_cov + effects_cov.T) / 2,
        df=_effect_df(model),
    )


def _effect_df(model: FittedModel) -> np.ndarray | None:
    """The direct, mediator and ITT effects take their coefficient's df; the rest combine."""
    d = model.design
    combined = model.reference_df(d.n_params)
    if combined is None:
        return None
    names = effect_names(d)
    terms = [d.treatment_term, *range(d.n_params)[d.mediator_terms]]
    out = np.full(len(names), combined)
    out[: len(terms)] = model.contrast_df("J", model.structural.influence[terms].T)
    (out[names.index("intention_to_treat")],) = model.contrast_df("ITT", np.ones(1))
    return out
