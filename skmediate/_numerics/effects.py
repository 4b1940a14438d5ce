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

from skmediate._numerics.model import FittedModel
from skmediate._numerics.tsls import solve_upper

__all__ = [
    "EFFECT_NAMES",
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


@dataclass(frozen=True, eq=False)
class MediationEffects:
    """Estimates of :data:`EFFECT_NAMES`, their joint covariance and t degrees of freedom.

    ``df`` is None for normal-based inference. With ``use_t`` the direct and
    mediator effects and the intention-to-treat effect take the degrees of
    freedom of their coefficient (Bell–McCaffrey for CR2); the effects that
    combine several equations take ``G - 1`` (cluster-robust) or ``n - k``
    of the structural equation.
    """

    estimate: np.ndarray
    cov: np.ndarray
    df: np.ndarray | None = None


def effect_parameters(model: FittedModel) -> tuple[np.ndarray, np.ndarray]:
    """``[θ_R, θ_M, δ, ITT]`` and their coefficients ``P`` on the score columns.

    ``δ = d + γᵀ(X̄ - c_X)`` with ``d`` and ``γ`` the first-stage coefficients
    of the shifted treatment and of the interactions (the naive model has
    none): the first-stage coefficient of ``R`` when the interactions are
    centered at ``X̄``. Its scores combine those of the first stage and of the
    covariate means (see :func:`first_stage_at_mean`).
    """
    d, r = model.design, model.r
    kw = d.n_exog
    s = model.structural
    tr = d.treatment_term
    med = range(d.n_params)[d.mediator_terms][0]
    p_struct = s.influence[[tr, med]].T  # (l, 2)
    r_tt = r[kw - 1, kw - 1]
    if d.instrumented:
        delta, p_first, p_mean, _ = first_stage_at_mean(model)
    else:
        gamma, _ = model.first_stage_fit(0)
        delta = gamma[kw - 1]
        p_first = np.array([1.0 / r_tt])
        p_mean = None
    itt = model.itt_fit[0][kw - 1]
    estimate = np.array([s.theta[tr], s.theta[med], delta, itt])
    p = np.zeros((model.layout.n_cols, 4))
    p[:, :2] = model.block_p("J", p_struct)
    p[:, 2] = model.block_p("F0", p_first)
    if p_mean is not None:
        p[:, 2] += model.block_p("XBAR", p_mean)
    p[:, 3] = model.block_p("ITT", np.array([1.0 / r_tt]))
    return estimate, p


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
    """The effects of :data:`EFFECT_NAMES` and their covariance (delta method).

    Notes
    -----
    With ``δ`` the average effect of ``R`` on ``M``: indirect ``= θ_M δ``,
    total ``= θ_R + θ_M δ``, proportion mediated ``= θ_M δ / (θ_R + θ_M δ)``.
    For the IV fit, ``θ_M δ`` is the average effect of ``R`` through ``M``
    under model (1) of Small (2012) with IV-A2, IV-A3 and randomized ``R``;
    for the naive fit it is the product-of-coefficients effect, which needs
    the mediator to be sequentially ignorable.
    """
    (theta_r, theta_m, delta, itt), p = effect_parameters(model)
    cov = model.cov_of(p)
    indirect = theta_m * delta
    total = theta_r + indirect
    eye = np.eye(4)
    d_indirect = delta * eye[1] + theta_m * eye[2]
    d_total = eye[0] + d_indirect
    with np.errstate(divide="ignore", invalid="ignore"):
        proportion = indirect / total
        d_proportion = (d_indirect * total - indirect * d_total) / total**2
    jacobian = np.vstack(
        [eye[0], eye[1], eye[2], d_indirect, d_total, eye[3], d_proportion]
    )
    estimate = np.array([theta_r, theta_m, delta, indirect, total, itt, proportion])
    effects_cov = jacobian @ cov @ jacobian.T
    return MediationEffects(
        estimate=estimate, cov=(effects_cov + effects_cov.T) / 2, df=_effect_df(model)
    )


def _effect_df(model: FittedModel) -> np.ndarray | None:
    d = model.design
    combined = model.reference_df(d.n_params)
    if combined is None:
        return None
    s = model.structural
    med = range(d.n_params)[d.mediator_terms][0]
    direct, mediator = model.contrast_df("J", s.influence[[d.treatment_term, med]].T)
    (itt,) = model.contrast_df("ITT", np.ones(1))
    return np.array([direct, mediator, combined, combined, combined, itt, combined])
