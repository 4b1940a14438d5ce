"""Direct, indirect and total effects with their joint covariance (delta method)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._covariance import stacked_covariance_steps
from ._linalg import LinearFit, run_step

__all__ = [
    "EFFECT_NAMES",
    "MediationEffects",
    "mediation_effects",
    "mediation_effects_steps",
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
    """Estimates of :data:`EFFECT_NAMES` and their joint covariance."""

    estimate: np.ndarray
    cov: np.ndarray


def mediation_effects(
    structural: LinearFit,
    mediator_fit: LinearFit,
    itt_fit: LinearFit,
    *,
    treatment: tuple[int, int, int],
    mediator: int,
    cov_type: str,
    groups: np.ndarray | None = None,
    centering: np.ndarray | None = None,
    interactions: slice | None = None,
) -> MediationEffects:
    """Mediation effects from the structural, mediator and intention-to-treat fits.

    Parameters
    ----------
    structural : LinearFit
        Fit of ``y`` on ``[W, M]`` (2SLS, k-class or OLS).
    mediator_fit : LinearFit
        Fit of ``M`` on the treatment and covariates: the first stage (with
        the centered interactions) for IV, or ``M`` on ``W`` for the naive
        regression.
    itt_fit : LinearFit
        Least squares of ``y`` on ``W = [1, X, Z, R]``.
    treatment : (int, int, int)
        Position of the treatment coefficient in the three fits.
    mediator : int
        Position of the mediator coefficient in ``structural``.
    cov_type : str
    groups : ndarray of int, optional
    centering : ndarray of shape (n, p), optional
        Covariates whose weighted sample mean centers the interactions of
        ``mediator_fit``: the mean is estimated, so its sampling variation
        enters the effect on the mediator.
    interactions : slice, optional
        Positions of the interaction coefficients in ``mediator_fit``
        (required with ``centering``).

    Returns
    -------
    MediationEffects

    Notes
    -----
    With ``δ`` the coefficient of ``R`` in ``mediator_fit`` (the average effect
    of ``R`` on ``M`` when the interactions are centered at the covariate
    mean ``μ``):

    - indirect ``= θ_M δ``, total ``= θ_R + θ_M δ``, proportion mediated
      ``= θ_M δ / (θ_R + θ_M δ)``;
    - the covariance stacks the estimating equations of the three fits and of
      the covariate means (:func:`~._covariance.stacked_covariance`). With
      centering at the sample mean ``x̄``, ``δ̂ - δ ≈ (δ̂(μ) - δ(μ)) +
      γᵀ(x̄ - μ)`` with ``γ`` the interaction coefficients, so the Jacobian of
      ``δ`` has ``γ`` on the means;
    - the delta method gives the covariance ``J V Jᵀ`` of the effects.

    For the IV fit, ``θ_M δ`` is the average effect of ``R`` through ``M``
    under model (1) of Small (2012) with IV-A2 and IV-A3 and randomized
    ``R``: then ``E[θ_Mi (M_i(1) - M_i(0))] = θ_M E[M(1) - M(0)]``. For the
    naive fit it is the product-of-coefficients effect, which needs the
    mediator to be sequentially ignorable.
    """
    return run_step(
        mediation_effects_steps(
            structural,
            mediator_fit,
            itt_fit,
            treatment=treatment,
            mediator=mediator,
            cov_type=cov_type,
            groups=groups,
            centering=centering,
            interactions=interactions,
        )
    )


def mediation_effects_steps(
    structural,
    mediator_fit,
    itt_fit,
    *,
    treatment,
    mediator,
    cov_type,
    groups=None,
    centering=None,
    interactions=None,
    center=None,
):
    """:func:`mediation_effects` as a step (see :class:`~._linalg.Pass`).

    ``center`` is the weighted mean of ``centering`` when already known.
    """
    t_struct, t_med, t_itt = treatment
    k1, k2 = structural.n_params, mediator_fit.n_params
    c_struct = np.zeros((k1, 2))
    c_struct[t_struct, 0] = 1.0
    c_struct[mediator, 1] = 1.0
    c_med = np.zeros((k2, 1))
    c_med[t_med, 0] = 1.0
    c_itt = np.zeros((itt_fit.n_params, 1))
    c_itt[t_itt, 0] = 1.0
    cov = yield from stacked_covariance_steps(
        [structural, mediator_fit, itt_fit],
        [c_struct, c_med, c_itt],
        cov_type,
        groups,
        means=centering,
        means_center=center,
    )
    theta_r = structural.params[t_struct]
    theta_m = structural.params[mediator]
    delta = mediator_fit.params[t_med]
    itt = itt_fit.params[t_itt]

    # Parameters: [θ_R, θ_M, δ, ITT, μ...]
    size = cov.shape[0]
    d_direct = np.zeros(size)
    d_direct[0] = 1.0
    d_mediator = np.zeros(size)
    d_mediator[1] = 1.0
    d_delta = np.zeros(size)
    d_delta[2] = 1.0
    if centering is not None:
        d_delta[4:] = mediator_fit.params[interactions]
    d_itt = np.zeros(size)
    d_itt[3] = 1.0
    indirect = theta_m * delta
    total = theta_r + indirect
    d_indirect = delta * d_mediator + theta_m * d_delta
    d_total = d_direct + d_indirect
    with np.errstate(divide="ignore", invalid="ignore"):
        proportion = indirect / total
        d_proportion = (d_indirect * total - indirect * d_total) / total**2
    jacobian = np.vstack(
        [d_direct, d_mediator, d_delta, d_indirect, d_total, d_itt, d_proportion]
    )
    estimate = np.array([theta_r, theta_m, delta, indirect, total, itt, proportion])
    effects_cov = jacobian @ cov @ jacobian.T
    return MediationEffects(estimate=estimate, cov=(effects_cov + effects_cov.T) / 2)
