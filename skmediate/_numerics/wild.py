"""The wild restricted efficient bootstrap (Davidson and MacKinnon 2010), at the cluster level.

A test of ``H₀: θ = θ₀`` for the direct effect ``θ_R`` or the mediator effect
``θ_M``. The bootstrap data are generated with the null imposed:

1. the structural equation is estimated under ``H₀`` (least squares of
   ``y - θ₀M`` on ``W`` for ``θ_M``; two-stage least squares of
   ``y - θ₀R`` on ``[1, X, Z, M]`` for ``θ_R``), with residuals ``ũ₁``;
2. the mediator's reduced form is estimated efficiently, by least squares of
   ``M`` on the instruments ``Q`` and ``ũ₁``: ``M = Qπ̃ + ũ₂``;
3. the bootstrap samples are ``M* = Qπ̃ + ũ₂ v`` and
   ``y* = (fitted structural part at M*) + ũ₁ v``, with one multiplier
   ``v_g`` per cluster (Rademacher or Webb), the same for both equations.

Each bootstrap sample is refitted by two-stage least squares and its t
statistic formed with the cluster-robust (CR1) covariance. The naive
(least squares) model has no reduced form to resample: ``M* = M``.

Everything is small-matrix algebra on the fitted model: every quantity is a
linear form ``z φ`` of the rows' ``z = [u_1..u_{c-1}, y]`` (leading
coordinates of the factor and the outcome), and the fit keeps each cluster's
``Σ w z zᵀ``. A cluster's sums of the instruments' coordinates times any
form are therefore ``Γ_g[:l] φ``, and a bootstrap sample's estimate and
cluster scores are those sums combined with its multipliers (the approach
of Roodman et al. 2019): no pass over the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skmediate._numerics.covariance import COV_TYPES

__all__ = ["MULTIPLIERS", "WildBootstrapTest", "draw_multipliers", "wild_test"]

MULTIPLIERS = ("rademacher", "webb")

# Webb's six-point distribution: ±√(1/2), ±1, ±√(3/2), each with probability 1/6
_WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


@dataclass(frozen=True)
class WildBootstrapTest:
    """A wild restricted efficient bootstrap test of ``H₀: effect = value``.

    Attributes
    ----------
    effect : {"direct", "mediator"}
    value : float
        ``θ₀``.
    statistic : float
        The t statistic ``(θ̂ - θ₀)/se`` with the CR1 covariance.
    pvalue : float
        Symmetric bootstrap p-value: the share of bootstrap statistics with
        ``|t*| ≥ |t|`` (ties, such as the draw of all ones that reproduces the
        data, within a relative ``1e-9``).
    n_resamples : int
    weights : {"rademacher", "webb"}
    n_clusters : int
    bootstrap_statistics : ndarray of shape (n_resamples,)
    """

    effect: str
    value: float
    statistic: float
    pvalue: float
    n_resamples: int
    weights: str
    n_clusters: int
    bootstrap_statistics: np.ndarray


def draw_multipliers(kind: str, n_resamples: int, n_units: int, rng) -> np.ndarray:
    """Multipliers ``v`` of shape (n_resamples, n_units), mean 0 and variance 1."""
    if kind == "rademacher":
        return rng.integers(0, 2, size=(n_resamples, n_units)) * 2.0 - 1.0
    if kind == "webb":
        return _WEBB[rng.integers(0, 6, size=(n_resamples, n_units))]
    raise ValueError(f"weights must be one of {list(MULTIPLIERS)}; got {kind!r}")


class _Forms:
    """Linear forms of a row, as coefficients ``φ`` of ``z = [u_1..u_{c-1}, y]``."""

    def __init__(self, r: np.ndarray):
        self.r = r
        self.c = r.shape[0]
        self.lead = self.c - 1

    def column(self, j: int) -> np.ndarray:
        """The data column ``j`` (the outcome is the last)."""
        phi = np.zeros(self.c)
        if j == self.c - 1:
            phi[-1] = 1.0
        else:
            phi[: self.lead] = self.r[: self.lead, j]
        return phi

    def coords(self, phi: np.ndarray) -> np.ndarray:
        """Coordinates in the orthonormal basis ``U`` (weighted inner products)."""
        out = np.zeros(self.c)
        out[: self.lead] = phi[: self.lead] + phi[-1] * self.r[: self.lead, -1]
        out[-1] = phi[-1] * self.r[-1, -1]
        return out

    def project(self, phi: np.ndarray, n: int) -> np.ndarray:
        """The projection on the first ``n`` columns of the data."""
        out = np.zeros(self.c)
        out[:n] = self.coords(phi)[:n]
        return out

    def inner(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(self.coords(a) @ self.coords(b))


def _null_forms(model, effect: str, value: float):
    """The forms ``a, b, c, d`` of ``y* = a + b v`` and ``M* = c + d v`` under ``H₀``."""
    d = model.design
    r = model.r
    forms = _Forms(r)
    kw, n_inst = d.n_exog, d.n_instruments
    mcol = d.mediator_columns.start
    tcol = kw - 1
    phi_y, phi_m, phi_t = (forms.column(j) for j in (d.n_columns - 1, mcol, tcol))
    if effect == "mediator":
        target = phi_y - value * phi_m
        fitted = forms.project(target, kw)  # W γ̃
        u1 = target - fitted
        struct_m = value
    else:
        target = phi_y - value * phi_t
        # two-stage least squares of y - θ₀R on [1, X, Z, M] with instruments Q
        regressors = [*range(kw - 1), mcol]
        g = r[:n_inst][:, regressors]
        coef = np.linalg.lstsq(g, forms.coords(target)[:n_inst], rcond=None)[0]
        gamma, struct_m = coef[:-1], float(coef[-1])
        fitted = np.zeros(forms.c)
        fitted[: forms.lead] = r[: forms.lead, : kw - 1] @ gamma
        u1 = target - fitted - struct_m * phi_m
        fitted = fitted + value * phi_t
    if d.instrumented:
        # M on [Q, ũ₁]: M = Qπ̃ + δ M_Q ũ₁ + residual, ũ₂ = M - Qπ̃
        pq_u1 = forms.project(u1, n_inst)
        mq_u1 = u1 - pq_u1
        size = forms.inner(mq_u1, mq_u1)
        delta = forms.inner(mq_u1, phi_m) / size if size > 0 else 0.0
        phi_c = forms.project(phi_m, n_inst) - delta * pq_u1
        phi_d = phi_m - phi_c
    else:  # the naive model does not resample the mediator
        phi_c, phi_d = phi_m, np.zeros(forms.c)
    phi_a = fitted + struct_m * phi_c
    phi_b = u1 + struct_m * phi_d
    return phi_a, phi_b, phi_c, phi_d


def _statistics(model, effect, value, multipliers, forms):
    """t statistics of the samples ``y* = a + b v``, ``M* = c + d v`` (rows of ``v``)."""
    d, r = model.design, model.r
    kw, n_inst, k = d.n_exog, d.n_instruments, d.n_params
    grams = model.cluster_grams[:, :n_inst, :]  # (G, l, c)
    phi_a, phi_b, phi_c, phi_d = forms
    s_a, s_b, s_c, s_d = (grams @ f for f in (phi_a, phi_b, phi_c, phi_d))  # (G, l)
    s_w = (
        grams @ np.vstack([_Forms(r).column(j) for j in range(kw)]).T
    )  # (G, l, kw): the exogenous regressors' sums
    v = multipliers
    qy = s_a.sum(axis=0) + v @ s_b  # (B, l): Qᵀy* in coordinates
    qm = s_c.sum(axis=0) + v @ s_d
    n_batch = v.shape[0]
    g = np.empty((n_batch, n_inst, k))
    g[:, :, :kw] = r[:n_inst, :kw]
    g[:, :, kw] = qm
    q_g, r_g = np.linalg.qr(g)
    rhs = np.einsum("blk,bl->bk", q_g, qy)
    theta = np.linalg.solve(r_g, rhs[..., None])[..., 0]
    j = kw - 1 if effect == "direct" else k - 1
    # row j of the influence R_G⁻¹ Q_Gᵀ, as (B, l)
    unit = np.zeros((n_batch, k, 1))
    unit[:, j] = 1.0
    p = q_g @ np.linalg.solve(np.swapaxes(r_g, 1, 2), unit)[..., 0][..., None]
    p = p[..., 0]
    # cluster scores along p: p·(S_a + v S_b - S_W θ_W - θ_M (S_c + v S_d))
    h = p @ s_a.T + v * (p @ s_b.T)
    h -= np.einsum("bl,glk,bk->bg", p, s_w, theta[:, :kw])
    h -= theta[:, kw, None] * (p @ s_c.T + v * (p @ s_d.T))
    n_clusters = grams.shape[0]
    root = COV_TYPES["cluster"].root_factor(model.nobs, k, n_clusters)
    se = root * np.sqrt(np.einsum("bg,bg->b", h, h))
    with np.errstate(divide="ignore", invalid="ignore"):
        return (theta[:, j] - value) / se


def wild_test(
    model,
    effect: str,
    value: float,
    *,
    n_resamples: int = 999,
    weights: str = "rademacher",
    random_state=None,
) -> WildBootstrapTest:
    """The wild restricted efficient bootstrap test of ``H₀: effect = value``.

    ``model`` must keep its clusters' cross-products (a cluster-robust fit
    with few clusters, :data:`~skmediate._numerics.engine.KEEP_CLUSTER_GRAMS`).
    """
    v = _draws(model, effect, n_resamples, weights, random_state)
    return _test(model, effect, float(value), v, weights)


def _draws(model, effect, n_resamples, weights, random_state) -> np.ndarray:
    """Checks, and the multipliers (n_resamples, n_clusters) of a test or set."""
    if effect not in ("direct", "mediator"):
        raise ValueError(f"effect must be 'direct' or 'mediator'; got {effect!r}")
    if model.design.n_mediators != 1:
        raise ValueError("the wild bootstrap test is for one mediator")
    _check_linear(model)
    rng = np.random.default_rng(random_state)
    n_clusters = model.cluster_grams.shape[0]
    return draw_multipliers(weights, int(n_resamples), n_clusters, rng)


# Bootstrap statistics within this relative distance of the observed one count
# as ties (a draw of all ones reproduces the data, the naive model's all minus
# ones too, up to rounding).
TIE_TOL = 1e-9


def _check_linear(model) -> None:
    if model.kappa != 1.0:
        raise ValueError(
            "the wild restricted efficient bootstrap refits by two-stage least "
            f"squares; this fit has kappa={model.kappa:.6g} (LIML, Fuller or a "
            "fixed kappa): fit with kappa='2sls' for the wild bootstrap test"
        )


def _test(model, effect, value, v, weights) -> WildBootstrapTest:
    forms = _null_forms(model, effect, value)
    # the observed statistic is the batch's first row (multipliers 1: the data)
    both = _statistics(model, effect, value, np.vstack([np.ones(v.shape[1]), v]), forms)
    observed, stats = float(both[0]), both[1:]
    pvalue = float(np.mean(np.abs(stats) >= abs(observed) * (1.0 - TIE_TOL)))
    return WildBootstrapTest(
        effect=effect,
        value=value,
        statistic=observed,
        pvalue=pvalue,
        n_resamples=v.shape[0],
        weights=weights,
        n_clusters=v.shape[1],
        bootstrap_statistics=stats,
    )


def wild_confidence_set(
    model,
    effect: str,
    confidence_level: float,
    *,
    n_resamples: int = 999,
    weights: str = "rademacher",
    random_state=None,
    start: float,
    scale: float,
) -> list[tuple[float, float]]:
    """The values ``θ₀`` the wild bootstrap test does not reject, with fixed draws.

    The p-value is a step function of ``θ₀`` (the draws are fixed); from the
    estimate ``start`` each end is bracketed by doubling steps of ``scale``
    (the Wald standard error) and located by bisection to ``1e-9`` relative.
    The set returned is the interval around the estimate; an end not
    bracketed within ``10⁶`` standard errors is infinite.
    """
    alpha = 1.0 - confidence_level
    v = _draws(model, effect, n_resamples, weights, random_state)

    def accepted(theta):
        return _test(model, effect, theta, v, weights).pvalue > alpha

    if not accepted(start):
        return []
    ends = []
    for sign in (-1.0, 1.0):
        inside, step, outside = start, scale, None
        while step <= 1e6 * scale:
            candidate = start + sign * step
            if accepted(candidate):
                inside = candidate
                step *= 2.0
            else:
                outside = candidate
                break
        if outside is None:
            ends.append(sign * np.inf)
            continue
        tol = 1e-9 * max(abs(inside), abs(outside), scale)
        while abs(outside - inside) > tol:
            middle = (inside + outside) / 2
            if accepted(middle):
                inside = middle
            else:
                outside = middle
        ends.append(inside)
    return [(float(ends[0]), float(ends[1]))]
