"""Direct, indirect and total effects and their joint (stacked) covariance.

Checks and tolerances:

- closed forms: for least squares the total effect equals the
  intention-to-treat coefficient exactly (omitted-variable formula), to 1e-10;
  each fit's block of the joint covariance equals that fit's own covariance
  (statsmodels for the auxiliary regressions), to 1e-8;
- the whole effects covariance against an explicit computation with numpy
  (influence functions built with ``numpy.linalg.inv``), to 1e-8, for every
  ``cov_type``;
- the delta-method standard errors of the effect on the mediator, the
  indirect and the total effect match the standard deviation of 4000 pairs
  bootstrap replicates within Monte Carlo error (the relative Monte Carlo
  standard error of a bootstrap SD is about 1/sqrt(2B) = 1.1%; the tolerance
  is 4.5%).
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from numpy.testing import assert_allclose

from skmediate import IVMediationRegressor, NaiveMediationRegressor
from skmediate._numerics.effects import EFFECT_NAMES, effect_parameters

from .test_reference_python import (
    STATSMODELS_COV,
    _design,
    _estimator_kwargs,
    _reference_matrices,
)

COV_TYPES = ["unadjusted", "classical", "HC0", "HC1", "cluster"]


def _fit(cls, design, cov_type, **params):
    X, y, groups = _design(design)
    est = cls(**_estimator_kwargs(X), cov_type=cov_type, **params)
    est.fit(X, y, groups=groups if cov_type == "cluster" else None)
    return est, X, y, groups


def _statsmodels_fit(target, regressors, cov_type, groups):
    model = sm.OLS(target, regressors)
    if cov_type == "cluster":
        return model.fit(
            cov_type="cluster", cov_kwds={"groups": groups, "use_correction": True}
        )
    if cov_type == "unadjusted":
        fit = model.fit()
        n, k = regressors.shape
        return fit, np.sqrt((n - k) / n)
    return model.fit(cov_type=STATSMODELS_COV[cov_type][0])


def _se(target, regressors, cov_type, groups, name):
    fit = _statsmodels_fit(target, regressors, cov_type, groups)
    factor = 1.0
    if isinstance(fit, tuple):
        fit, factor = fit
    return fit.params[name], fit.bse[name] * factor


@pytest.mark.parametrize("design", ["continuous", "controls", "clusters", "site"])
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_naive_effects(design, cov_type):
    est, X, y, groups = _fit(NaiveMediationRegressor, design, cov_type)
    effects = est.result_.effects
    assert list(effects.index) == list(EFFECT_NAMES)
    exog, _ = _reference_matrices(X)
    delta, delta_se = _se(X["m"], exog, cov_type, groups, "r")
    itt, itt_se = _se(y, exog, cov_type, groups, "r")
    assert est.effect_on_mediator_ == pytest.approx(delta, rel=1e-10)
    assert effects.loc["effect_on_mediator", "std_error"] == pytest.approx(
        delta_se, rel=1e-8
    )
    assert effects.loc["intention_to_treat", "estimate"] == pytest.approx(
        itt, rel=1e-10
    )
    assert effects.loc["intention_to_treat", "std_error"] == pytest.approx(
        itt_se, rel=1e-8
    )
    # Omitted-variable formula: θ_R + θ_M δ is the ITT coefficient, exactly.
    assert est.total_effect_ == pytest.approx(itt, rel=1e-10, abs=1e-12)
    assert est.indirect_effect_ == pytest.approx(
        est.mediator_effect_ * est.effect_on_mediator_, rel=1e-14
    )
    assert est.proportion_mediated_ == pytest.approx(
        est.indirect_effect_ / est.total_effect_, rel=1e-14
    )
    for name, term in (("direct", "r"), ("mediator", "m")):
        assert effects.loc[name, "estimate"] == est.result_.params[term]
        assert effects.loc[name, "std_error"] == pytest.approx(
            est.result_.std_errors[term], rel=1e-12
        )


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("kappa", ["2sls", "liml"])
def test_iv_effects_are_consistent_with_the_fit(cov_type, kappa):
    est, X, y, groups = _fit(IVMediationRegressor, "clusters", cov_type, kappa=kappa)
    res, effects = est.result_, est.result_.effects
    fs_coef = sm.OLS(X["m"], pd.concat(_reference_matrices(X), axis=1)).fit().params
    assert est.effect_on_mediator_ == pytest.approx(fs_coef["r"], rel=1e-10)
    assert est.indirect_effect_ == est.mediator_effect_ * est.effect_on_mediator_
    assert est.total_effect_ == est.direct_effect_ + est.indirect_effect_
    for name, term in (("direct", "r"), ("mediator", "m")):
        assert effects.loc[name, "std_error"] == pytest.approx(
            res.std_errors[term], rel=1e-12
        )
    assert_allclose(np.diag(res.effects_cov), effects["std_error"] ** 2, rtol=1e-12)
    assert np.linalg.eigvalsh(res.effects_cov.iloc[:6, :6]).min() > -1e-12
    assert effects.loc["total", "z"] == pytest.approx(
        effects.loc["total", "estimate"] / effects.loc["total", "std_error"]
    )


def _effects_cov_by_hand(X, y, groups, cov_type):
    """Covariance of (θ_R, θ_M, δ, ITT, x̄) from explicit influence functions.

    Influence of a least squares or 2SLS coefficient j: the j-th column of
    ``R (RᵀR)⁻¹`` (``R`` the regressors, ``D̂`` for 2SLS) times the residual;
    of a covariate mean: ``(x - x̄)/n``. HC0 sums their outer products, HC1
    multiplies entry (a, b) by ``n / sqrt((n-k_a)(n-k_b))``, cluster sums
    within clusters first (factor ``G/(G-1)(n-1)/sqrt(...)``); the
    homoskedastic versions use ``σ_ab tₐᵀt_b`` between fits and are zero
    between the means and the fits.
    """
    exog, instruments = _reference_matrices(X)
    w, z = exog.to_numpy(), instruments.to_numpy()
    m, yv = X["m"].to_numpy(), np.asarray(y, dtype=float)
    covariates = X[[c for c in X.columns if c.startswith("x")]].to_numpy()
    n, kw = w.shape
    q = np.hstack([w, z])
    gamma = np.linalg.inv(q.T @ q) @ q.T @ m
    d_hat = np.column_stack([w, q @ gamma])
    theta = np.linalg.inv(d_hat.T @ d_hat) @ d_hat.T @ yv
    eps = yv - np.column_stack([w, m]) @ theta
    beta = np.linalg.inv(w.T @ w) @ w.T @ yv
    fits = [  # (regressors, residual, column, k)
        (d_hat, eps, kw - 1, kw + 1),
        (d_hat, eps, kw, kw + 1),
        (q, m - q @ gamma, kw - 1, q.shape[1]),
        (w, yv - w @ beta, kw - 1, kw),
    ]
    t = np.column_stack([(a @ np.linalg.inv(a.T @ a))[:, j] for a, _, j, _ in fits])
    resid = np.column_stack([e for _, e, _, _ in fits])
    k = np.array([kk for *_, kk in fits] + [1] * covariates.shape[1], dtype=float)
    centered = (covariates - covariates.mean(axis=0)) / n
    if cov_type in ("HC0", "HC1", "cluster"):
        psi = np.hstack([t * resid, centered])
        if cov_type == "cluster":
            psi = pd.DataFrame(psi).groupby(groups).sum().to_numpy()
            g = psi.shape[0]
            root = np.sqrt(g / (g - 1) * (n - 1) / (n - k))
        else:
            root = np.sqrt(n / (n - k)) if cov_type == "HC1" else np.ones_like(k)
        return psi.T @ psi * np.outer(root, root)
    size = len(k)
    cov = np.zeros((size, size))
    for a in range(4):
        for b in range(4):
            cross = resid[:, a] @ resid[:, b]
            if cov_type == "unadjusted":
                sigma = cross / n
            else:
                sigma = cross / np.sqrt((n - k[a]) * (n - k[b]))
            if fits[a][0] is fits[b][0] or a == b:
                reg = fits[a][0]
                cov[a, b] = sigma * np.linalg.inv(reg.T @ reg)[fits[a][2], fits[b][2]]
            else:
                cov[a, b] = sigma * t[:, a] @ t[:, b]
    centered = covariates - covariates.mean(axis=0)
    divisor = n if cov_type == "unadjusted" else n - 1
    cov[4:, 4:] = centered.T @ centered / (n * divisor)
    return cov


@pytest.mark.parametrize("design", ["continuous", "clusters", "five_covariates"])
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_effects_covariance_matches_explicit_influence_functions(design, cov_type):
    est, X, y, groups = _fit(IVMediationRegressor, design, cov_type)
    cov = _effects_cov_by_hand(X, y, groups, cov_type)
    e = est.result_.effects["estimate"]
    gamma_int = sm.OLS(X["m"], pd.concat(_reference_matrices(X), axis=1)).fit().params
    gamma_int = gamma_int[[c for c in gamma_int.index if c.startswith("r:")]]
    theta_r, theta_m, delta = e["direct"], e["mediator"], e["effect_on_mediator"]
    size = cov.shape[0]
    jac = np.zeros((6, size))
    jac[0, 0] = jac[1, 1] = 1.0
    jac[2, 2] = 1.0
    jac[2, 4:] = gamma_int.to_numpy()
    jac[3] = delta * jac[1] + theta_m * jac[2]
    jac[4] = jac[0] + jac[3]
    jac[5, 3] = 1.0
    expected = np.sqrt(np.diag(jac @ cov @ jac.T))
    got = est.result_.effects["std_error"].iloc[:6].to_numpy()
    assert_allclose(got, expected, rtol=1e-8)
    total = theta_r + theta_m * delta
    d_prop = (jac[3] * total - theta_m * delta * jac[4]) / total**2
    assert est.result_.effects.loc["proportion_mediated", "std_error"] == pytest.approx(
        np.sqrt(d_prop @ cov @ d_prop), rel=1e-8
    )


def _bootstrap_design(n=2000, seed=0):
    """Strong instruments with large interaction coefficients, so that the
    sampling variation of the covariate means matters for δ."""
    rng = np.random.default_rng(seed)
    r = rng.integers(0, 2, n).astype(float)
    x = rng.normal(size=(n, 2))
    u = rng.normal(size=n)
    m = 0.5 + r * (1.0 + x @ np.array([1.5, 1.0])) + 0.5 * u + rng.normal(size=n)
    y = 1 + x[:, 0] - x[:, 1] - r + 2 * m + 1.5 * u + rng.normal(size=n) * (1 + r)
    frame = pd.DataFrame({"r": r, "m": m, "x1": x[:, 0], "x2": x[:, 1]})
    return frame, y


def _bootstrap(frame, y, n_resamples=4000, seed=1, chunk=500):
    """Pairs bootstrap of (δ, θ_M δ, θ_R + θ_M δ), resamples as count weights.

    The interactions are re-centered at each resample's covariate mean; since
    ``R x̄`` lies in the span of ``R``, that only shifts the coefficient of R in
    the first stage to ``β_R + γᵀ x̄*`` and leaves the structural fit alone, so
    every resample is solved from weighted cross-products of
    ``Q₀ = [1, x, r, r x]`` (normal equations, fine for this design).
    """
    rng = np.random.default_rng(seed)
    n = len(y)
    x = frame[["x1", "x2"]].to_numpy()
    r, m = frame["r"].to_numpy(), frame["m"].to_numpy()
    q0 = np.column_stack([np.ones(n), x, r, r[:, None] * x])
    kw, l0 = 4, q0.shape[1]
    products = np.column_stack(
        [
            (q0[:, :, None] * q0[:, None, :]).reshape(n, -1),
            q0 * m[:, None],
            q0 * y[:, None],
            x,
        ]
    )
    out = []
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        counts = np.stack(
            [np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(size)]
        )
        sums = counts @ products
        gram = sums[:, : l0 * l0].reshape(size, l0, l0)
        q_m = sums[:, l0 * l0 : l0 * l0 + l0]
        q_y = sums[:, l0 * l0 + l0 : l0 * l0 + 2 * l0]
        x_bar = sums[:, -2:] / n
        gamma = np.linalg.solve(gram, q_m[..., None])[..., 0]
        # D̂ = Q₀ A with A = [e_1..e_kw, γ]: D̂ᵀCD̂ = Aᵀ G A, D̂ᵀCy = Aᵀ Q₀ᵀCy.
        a = np.zeros((size, l0, kw + 1))
        a[:, :kw, :kw] = np.eye(kw)
        a[:, :, kw] = gamma
        lhs = np.einsum("bji,bjk,bkl->bil", a, gram, a)
        rhs = np.einsum("bji,bj->bi", a, q_y)
        theta = np.linalg.solve(lhs, rhs[..., None])[..., 0]
        delta = gamma[:, 3] + np.einsum("bj,bj->b", gamma[:, 4:], x_bar)
        indirect = theta[:, kw] * delta
        out.append(np.column_stack([delta, indirect, theta[:, 3] + indirect]))
    return np.vstack(out)


def test_delta_method_matches_the_bootstrap():
    frame, y = _bootstrap_design()
    est = IVMediationRegressor(
        treatment="r", mediator="m", covariates=["x1", "x2"], cov_type="HC0"
    ).fit(frame, y)
    draws = _bootstrap(frame, y)
    sd = draws.std(axis=0, ddof=1)
    se = est.result_.effects.loc[
        ["effect_on_mediator", "indirect", "total"], "std_error"
    ]
    assert_allclose(sd, se.to_numpy(), rtol=0.045)
    # The covariate means matter here: leaving them out understates the SE of
    # δ (and of the indirect effect) by far more than the Monte Carlo error.
    model = est.result_.model
    (_, theta_m, delta, _), p = effect_parameters(model)
    p[model.layout.blocks["XBAR"]] = 0.0  # as if X̄ were known
    cov = model.cov_of(p)
    grad = np.array([0.0, delta, theta_m, 0.0])  # of the indirect effect
    se_fixed = np.sqrt([cov[2, 2], grad @ cov @ grad])
    assert np.all(sd[:2] / se_fixed > 1.15)
