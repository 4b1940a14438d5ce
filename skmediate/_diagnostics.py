"""Diagnostics of an IV fit: instrument strength, overidentification, exogeneity.

First-stage partial F statistics with the Stock–Yogo critical values, the
Montiel Olea–Pflueger effective F, the Sargan and Hansen J tests of the
overidentifying restrictions, and the Durbin, Wu–Hausman and regression
(control function) tests of the exogeneity of the mediator. Statistics are
read off the triangular factor of :class:`~._linalg.TSLSFit` where possible.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

import numpy as np
from scipy import stats

from ._covariance import (
    covariance,
    covariance_steps,
    score_gram_pass,
    score_sums_pass,
    stacked_covariance_steps,
)
from ._linalg import (
    ColumnBlocks,
    LinearFit,
    TSLSFit,
    cluster_codes,
    gather,
    rank_tolerance,
    residual_coordinates,
    run_step,
    solve_triangular,
)

__all__ = [
    "DiagnosticTest",
    "EffectiveF",
    "FirstStageDiagnostics",
    "effective_f",
    "exogeneity_steps",
    "exogeneity_tests",
    "first_stage_diagnostics",
    "first_stage_diagnostics_steps",
    "hansen_j_steps",
    "hansen_j_test",
    "iv_diagnostics",
    "iv_diagnostics_steps",
    "montiel_olea_pflueger_critical_value",
    "sargan_test",
    "stock_yogo_critical_value",
    "wald_statistic",
]

STOCK_YOGO_TABLES = ("tsls_size", "tsls_relative_bias", "liml_size")


@lru_cache(maxsize=1)
def _stock_yogo_table() -> dict[tuple[str, int, float], float]:
    text = resources.files("skmediate").joinpath("data/stock_yogo.csv").read_text()
    table = {}
    for row in csv.DictReader(text.splitlines()):
        key = (row["table"], int(row["k2"]), round(float(row["level"]), 6))
        table[key] = float(row["critical_value"])
    return table


@cache
def _stock_yogo_levels(table: str) -> list[float]:
    return sorted({key[2] for key in _stock_yogo_table() if key[0] == table})


def stock_yogo_critical_value(
    n_instruments: int, table: str = "tsls_size", level: float = 0.15
) -> float:
    """Stock–Yogo (2005) weak-instrument critical value for one endogenous regressor.

    Parameters
    ----------
    n_instruments : int
        Number of excluded instruments ``K2``.
    table : {"tsls_size", "tsls_relative_bias", "liml_size"}, default="tsls_size"
        ``"tsls_size"``: maximal actual size of a nominal 5% 2SLS Wald test;
        ``"tsls_relative_bias"``: maximal 2SLS bias relative to OLS;
        ``"liml_size"``: maximal size of a nominal 5% LIML Wald test.
    level : float, default=0.15
        The maximal size (0.10, 0.15, 0.20, 0.25) or relative bias
        (0.05, 0.10, 0.20, 0.30).

    Returns
    -------
    float
        The critical value for the first-stage F statistic, or ``nan`` where the
        table has none (``K2`` above 30; relative bias needs ``K2 >= 3``).

    Examples
    --------
    >>> stock_yogo_critical_value(2)
    11.59
    """
    if table not in STOCK_YOGO_TABLES:
        raise ValueError(f"table must be one of {STOCK_YOGO_TABLES}; got {table!r}")
    levels = _stock_yogo_levels(table)
    if round(level, 6) not in levels:
        raise ValueError(
            f"level for table {table!r} must be one of {levels}; got {level}"
        )
    return _stock_yogo_table().get((table, int(n_instruments), round(level, 6)), np.nan)


def wald_statistic(params: np.ndarray, cov: np.ndarray) -> float:
    """``paramsᵀ cov⁻¹ params`` by a Cholesky factor (least squares if singular)."""
    params = np.asarray(params, dtype=float)
    try:
        lower = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        return float(params @ np.linalg.lstsq(cov, params, rcond=None)[0])
    half = np.linalg.solve(lower, params)
    return float(half @ half)


# -- effective F -------------------------------------------------------------


@dataclass(frozen=True)
class EffectiveF:
    """Montiel Olea–Pflueger effective first-stage F statistic.

    Attributes
    ----------
    statistic : float
        ``F_eff = π̂ᵀ Q π̂ / tr(V Q)`` with ``π̂`` the excluded-instrument
        coefficients of the first stage, ``V`` their covariance with
        ``cov_type`` and ``Q = Z̃ᵀWZ̃`` the cross-product of the excluded
        instruments after partialling out the exogenous regressors.
    df_effective : float
        The effective degrees of freedom ``K_eff`` of the simplified procedure.
    critical_value : float
        Critical value of the simplified procedure for a worst-case 2SLS bias
        of ``bias`` relative to the benchmark, at level ``size``.
    bias : float
    size : float
    cov_type : str
    """

    statistic: float
    df_effective: float
    critical_value: float
    bias: float
    size: float
    cov_type: str


def montiel_olea_pflueger_critical_value(
    df_effective: float, bias: float = 0.10, size: float = 0.05
) -> float:
    """Critical value of the simplified Montiel Olea–Pflueger test for 2SLS.

    ``c = q_{1-size}(χ²_{K}(x K)) / K`` with ``K = df_effective``,
    ``x = 1 / bias`` and ``q`` the quantile of the noncentral chi-squared
    distribution with noncentrality ``x K``.

    Examples
    --------
    >>> round(montiel_olea_pflueger_critical_value(1.0), 3)
    23.109
    """
    x = 1.0 / bias
    return float(stats.ncx2.isf(size, df_effective, x * df_effective) / df_effective)


def effective_f(
    first_stage: LinearFit,
    n_exog: int,
    cov_type: str,
    groups: np.ndarray | None = None,
    bias: float = 0.10,
    size: float = 0.05,
    cov: np.ndarray | None = None,
) -> EffectiveF:
    """Montiel Olea–Pflueger (2013) effective F and its simplified critical value.

    Parameters
    ----------
    first_stage : LinearFit
        Fit of the mediator on ``[exog, excluded]`` (from :func:`fit_tsls`).
    n_exog : int
        Number of exogenous columns; the excluded coefficients follow them.
    cov_type : str
        Covariance of the first-stage coefficients.
    groups : ndarray of int, optional
    bias : float, default=0.10
        Worst-case 2SLS bias relative to the benchmark that counts as weak.
    size : float, default=0.05
    cov : ndarray of shape (p, p), optional
        Covariance of the excluded coefficients with ``cov_type``, if already
        computed.

    Returns
    -------
    EffectiveF

    Notes
    -----
    With ``S = L V Lᵀ`` for a factor ``Q = LᵀL`` (here ``L`` is the triangular
    factor of the partialled-out instruments, so ``S`` has the eigenvalues of
    ``V Q``), the simplified procedure uses

    ``K_eff = tr(S)² (1 + 2x) / (tr(SᵀS) + 2x tr(S) λ_max(S))``, ``x = 1/bias``

    and the critical value of :func:`montiel_olea_pflueger_critical_value`.
    It bounds the worst-case bias by the benchmark itself (``B ≤ 1`` for
    2SLS), so it is conservative compared with the generalized procedure.
    With a homoskedastic ``V`` the effective F equals the first-stage F with
    the same variance estimate and ``K_eff = p``.

    References
    ----------
    Montiel Olea, J. L. and Pflueger, C. (2013). A robust test for weak
    instruments. Journal of Business & Economic Statistics, 31(3), 358-369.
    """
    excluded = slice(n_exog, None)
    pi = first_stage.params[excluded]
    factor = first_stage.r_factor[excluded, excluded] * first_stage.scale[excluded]
    v = (
        covariance(first_stage, cov_type, groups)[excluded, excluded]
        if cov is None
        else cov
    )
    s = factor @ v @ factor.T
    s = (s + s.T) / 2
    projected = factor @ pi
    trace = float(np.trace(s))
    statistic = float(projected @ projected) / trace
    x = 1.0 / bias
    lam_max = float(np.linalg.eigvalsh(s)[-1])
    k_eff = trace**2 * (1 + 2 * x) / (float(np.sum(s * s)) + 2 * x * trace * lam_max)
    return EffectiveF(
        statistic=statistic,
        df_effective=k_eff,
        critical_value=montiel_olea_pflueger_critical_value(k_eff, bias, size),
        bias=bias,
        size=size,
        cov_type=cov_type,
    )


@dataclass(frozen=True)
class FirstStageDiagnostics:
    """First-stage diagnostics of the excluded instruments for the mediator.

    Attributes
    ----------
    f_statistic : float
        Classical (homoskedastic) partial F statistic for the excluded
        instruments in the regression of the mediator on all instruments; the
        statistic that the Stock–Yogo critical values are tabulated for.
    f_pvalue : float
        Its p-value from ``F(df_num, df_denom)``.
    df_num, df_denom : float
        ``p`` (number of excluded instruments) and ``n - l`` (``l`` instruments
        in all, including the exogenous regressors).
    partial_r2 : float
        Share of the mediator's variance left after the exogenous regressors
        that the excluded instruments explain.
    wald_f_statistic : float
        Wald statistic of the same hypothesis computed with the estimator's
        ``cov_type`` (robust to heteroskedasticity or clustering where that
        covariance is), divided by ``p``. Equals ``f_statistic`` for
        ``cov_type="classical"``.
    wald_f_pvalue : float
        Its p-value from ``chi2(p)`` on the undivided statistic.
    cov_type : str
    n_instruments : int
        Number of excluded instruments ``p``.
    critical_value : float
        Stock–Yogo critical value (2SLS size, maximal size 15% for a nominal 5%
        test) for ``p`` instruments; ``nan`` above 30 instruments.
    is_weak : bool or None
        ``f_statistic < critical_value``; ``None`` where no critical value is
        tabulated.
    effective_f : EffectiveF or None
        Montiel Olea–Pflueger effective F with ``cov_type`` and its critical
        value for a worst-case 2SLS bias of 10% (simplified procedure).
    """

    f_statistic: float
    f_pvalue: float
    df_num: float
    df_denom: float
    partial_r2: float
    wald_f_statistic: float
    wald_f_pvalue: float
    cov_type: str
    n_instruments: int
    critical_value: float
    is_weak: bool | None
    effective_f: EffectiveF | None = None


def first_stage_diagnostics(
    first_stage: LinearFit,
    n_exog: int,
    cov_type: str,
    groups: np.ndarray | None = None,
) -> FirstStageDiagnostics:
    """Partial F statistics for the excluded instruments of one endogenous column.

    ``first_stage`` is the least squares fit of that column on
    ``[exog, excluded]`` (an element of :attr:`TSLSFit.first_stage`); ``n_exog``
    is the number of exogenous columns, so the excluded coefficients are
    ``params[n_exog:]``.
    """
    return run_step(
        first_stage_diagnostics_steps(first_stage, n_exog, cov_type, groups)
    )


def first_stage_diagnostics_steps(first_stage, n_exog, cov_type, groups=None):
    """:func:`first_stage_diagnostics` as a step (see :class:`~._linalg.Pass`)."""
    p = first_stage.n_params - n_exog
    excluded = slice(n_exog, None)
    classical = covariance(first_stage, "classical")[excluded, excluded]
    f_stat = wald_statistic(first_stage.params[excluded], classical) / p
    df_denom = first_stage.df_resid
    if cov_type == "classical":
        wald = f_stat * p
        robust = classical
    else:
        full = yield from covariance_steps(first_stage, cov_type, groups)
        robust = full[excluded, excluded]
        wald = wald_statistic(first_stage.params[excluded], robust)
    critical = stock_yogo_critical_value(p)
    return FirstStageDiagnostics(
        f_statistic=f_stat,
        f_pvalue=float(stats.f.sf(f_stat, p, df_denom)),
        df_num=float(p),
        df_denom=df_denom,
        partial_r2=p * f_stat / (p * f_stat + df_denom),
        wald_f_statistic=wald / p,
        wald_f_pvalue=float(stats.chi2.sf(wald, p)),
        cov_type=cov_type,
        n_instruments=p,
        critical_value=critical,
        is_weak=None if np.isnan(critical) else bool(f_stat < critical),
        effective_f=effective_f(first_stage, n_exog, cov_type, cov=robust),
    )


# -- overidentification and exogeneity --------------------------------------


def _residual_coordinates(fit: TSLSFit) -> np.ndarray:
    """Coordinates of the structural residuals in the basis ``U``, over ``s_y``.

    See :func:`~._linalg.residual_coordinates`.
    """
    return residual_coordinates(
        fit.r_factor, fit.scale, fit.structural.params, fit.n_exog, fit.n_instruments
    )


def sargan_test(fit: TSLSFit) -> tuple[float, int]:
    """Sargan's statistic ``n ε̂ᵀP_Qε̂ / ε̂ᵀε̂`` and its degrees of freedom ``p - ke``.

    ``ε̂`` are the structural residuals of the fit (2SLS or k-class). The
    statistic is ``nan`` when the model is exactly identified.
    """
    ke = fit.structural.n_params - fit.n_exog
    df = fit.n_excluded - ke
    if df <= 0:
        return np.nan, df
    coords = _residual_coordinates(fit)
    projected = coords[: fit.n_instruments]
    return fit.structural.nobs * float(projected @ projected / (coords @ coords)), df


def hansen_j_test(
    fit: TSLSFit, cov_type: str, groups: np.ndarray | None = None
) -> tuple[float, int]:
    """Hansen's J statistic of the two-step efficient GMM estimator.

    The weight matrix is the inverse of ``Σ w ε̂² q qᵀ`` (``cov_type`` other
    than ``"cluster"``) or ``Σ_g s_g s_gᵀ`` with ``s_g = Σ_{i∈g} w ε̂ q``
    (``"cluster"``), from the residuals of ``fit``; no small-sample factor.
    ``J = min_θ g(θ)ᵀ S⁻¹ g(θ)`` with ``g(θ) = Qᵀ W (y - Dθ)``, computed as a
    small least squares problem in the basis of the triangular factor.
    Returns ``(nan, df)`` when exactly identified or when ``S`` is singular
    (fewer clusters than instruments).
    """
    return run_step(hansen_j_steps(fit, cov_type, groups))


def hansen_j_steps(fit: TSLSFit, cov_type: str, groups=None):
    """:func:`hansen_j_test` as a step (see :class:`~._linalg.Pass`)."""
    structural = fit.structural
    ke = structural.n_params - fit.n_exog
    df = fit.n_excluded - ke
    if df <= 0:
        return np.nan, df
    instruments = fit.first_stage[0].regressors
    n_inst, kw = fit.n_instruments, fit.n_exog
    scale_q, scale_y = fit.scale[:n_inst], fit.scale[-1]
    if cov_type == "cluster":
        codes, n_groups = cluster_codes(groups)
        sums = yield score_sums_pass(
            instruments, structural.resid, structural.weights, codes, n_groups, scale_y
        )
        sums = sums / scale_q
        meat = sums.T @ sums
    else:
        meat = yield score_gram_pass(
            instruments, structural.resid, structural.weights, scale_y
        )
        meat = meat / np.outer(scale_q, scale_q)
    try:
        lower = np.linalg.cholesky(meat)
    except np.linalg.LinAlgError:
        return np.nan, df
    if np.diag(lower).min() <= np.sqrt(np.finfo(float).eps) * np.diag(lower).max():
        return np.nan, df
    r = fit.r_factor
    d_cols = [*range(kw), *range(n_inst, n_inst + ke)]
    moments = r[:n_inst, :n_inst].T @ r[:n_inst, :]  # Q_sᵀ A_s
    a = np.linalg.solve(lower, moments[:, -1])
    b = np.linalg.solve(lower, moments[:, d_cols])
    q_b, r_b = np.linalg.qr(b, mode="complete")
    rotated = q_b.T @ a
    tail = rotated[b.shape[1] :]
    return float(tail @ tail), df


@dataclass(frozen=True)
class ExogeneityTests:
    """Tests that the mediator is exogenous (the naive regression is consistent).

    Attributes
    ----------
    durbin : float
        ``δ / (ε̂₀ᵀε̂₀ / n)``, ``χ²(1)``.
    wu_hausman : float
        ``δ / ((ε̂₀ᵀε̂₀ - δ) / (n - kw - 2))``, ``F(1, n - kw - 2)``.
    df_denom : float
        ``n - kw - 2``.
    regression_wald : float
        Wald statistic (``χ²(1)``) of the first-stage residual in the
        regression of ``y`` on ``[W, M, v̂]``, with the estimator's
        ``cov_type``.
    """

    durbin: float
    wu_hausman: float
    df_denom: float
    regression_wald: float


def exogeneity_tests(
    fit: TSLSFit, cov_type: str, groups: np.ndarray | None = None
) -> ExogeneityTests:
    """Durbin, Wu–Hausman and regression tests of the exogeneity of the mediator.

    Notes
    -----
    With ``ε̂₀`` the OLS residuals of ``y`` on ``D = [W, M]`` and ``ε̂`` the
    residuals of ``fit``, ``δ = ε̂₀ᵀP_{[Q, M]}ε̂₀ - ε̂ᵀP_Qε̂`` (the definition of
    linearmodels); each term is the squared norm of a subvector of the
    coordinates in the triangular factor, so no projection is formed. For
    2SLS, ``δ`` is the drop in the residual sum of squares when the
    first-stage residual ``v̂`` is added to the OLS regression, and the
    Wu–Hausman statistic is the squared classical t statistic of ``v̂``. The
    regression test uses the estimator's covariance instead, so it is robust
    to heteroskedasticity or clustering when that covariance is
    (Wooldridge 2010, section 6.3.1).
    """
    return run_step(exogeneity_steps(fit, cov_type, groups))


def exogeneity_steps(fit: TSLSFit, cov_type: str, groups=None):
    """:func:`exogeneity_tests` as a step (see :class:`~._linalg.Pass`)."""
    structural = fit.structural
    kw, n_inst = fit.n_exog, fit.n_instruments
    nobs = structural.nobs
    r = fit.r_factor
    cols = [*range(kw), n_inst, r.shape[0] - 1]
    r_small = np.linalg.qr(r[:, cols], mode="r")
    beta = solve_triangular(r_small[:-1, :-1], r_small[:-1, -1])
    c0 = np.zeros(r.shape[0])
    c0[cols[:-1]] = -beta
    c0[-1] = 1.0
    ols = r @ c0
    coords = _residual_coordinates(fit)
    delta = float(
        ols[: n_inst + 1] @ ols[: n_inst + 1] - coords[:n_inst] @ coords[:n_inst]
    )
    rss_ols = float(ols @ ols)
    df_denom = nobs - kw - 2
    durbin = delta / (rss_ols / nobs)
    wu_hausman = delta / ((rss_ols - delta) / df_denom)

    # The control-function regression of y on [W, M, v̂], read off the factor:
    # v̂ / s_M has coordinates R[l:, M] in the basis U (zero above row l).
    v_coords = np.zeros(r.shape[0])
    v_coords[n_inst:] = r[n_inst:, n_inst]
    r_aug = np.linalg.qr(
        np.column_stack([r[:, :kw], r[:, n_inst], v_coords, r[:, -1]]), mode="r"
    )
    k_aug = kw + 2
    if abs(r_aug[k_aug - 1, k_aug - 1]) <= rank_tolerance(nobs, k_aug):
        return ExogeneityTests(durbin, wu_hausman, df_denom, np.nan)
    scale_aug = np.concatenate([fit.scale[:kw], fit.scale[[n_inst, n_inst]]])
    coef = solve_triangular(r_aug[:k_aug, :k_aug], r_aug[:k_aug, -1])
    coef *= fit.scale[-1] / scale_aug
    regressors = ColumnBlocks(
        fit.data.blocks[0], fit.data.blocks[2], fit.first_stage[0].resid
    )
    augmented = LinearFit(
        params=coef,
        resid=fit.data.column(-1) - regressors.dot(coef),
        regressors=regressors,
        design=regressors,
        weights=structural.weights,
        r_factor=r_aug[:k_aug, :k_aug],
        scale=scale_aug,
        total_weight=structural.total_weight,
    )
    last = np.zeros(k_aug)
    last[-1] = 1.0
    variance = (
        yield from stacked_covariance_steps([augmented], [last], cov_type, groups)
    )[0, 0]
    wald = float(coef[-1] ** 2 / variance)
    return ExogeneityTests(durbin, wu_hausman, df_denom, wald)


# -- the table --------------------------------------------------------------


@dataclass(frozen=True)
class DiagnosticTest:
    """One row of the diagnostics table.

    ``df``/``df_denom``, ``pvalue`` and ``critical_value`` are ``nan`` where
    they do not apply; ``interpretation`` says in one line what the number
    means for the analysis.
    """

    name: str
    statistic: float
    df: float
    df_denom: float
    pvalue: float
    critical_value: float
    interpretation: str


_STOCK_YOGO_LEVELS = {
    "tsls_size": (0.10, 0.15, 0.20, 0.25),
    "tsls_relative_bias": (0.05, 0.10, 0.20, 0.30),
    "liml_size": (0.10, 0.15, 0.20, 0.25),
}
_STOCK_YOGO_ROWS = (
    ("tsls_size", 0.15, "Stock-Yogo 2SLS size", "size of a nominal 5% 2SLS test"),
    (
        "tsls_relative_bias",
        0.10,
        "Stock-Yogo 2SLS relative bias",
        "2SLS bias relative to OLS",
    ),
    ("liml_size", 0.15, "Stock-Yogo LIML size", "size of a nominal 5% LIML test"),
)


def _stock_yogo_row(table, level, name, what, f_stat, p) -> DiagnosticTest:
    critical = stock_yogo_critical_value(p, table, level)
    values = [
        (lv, stock_yogo_critical_value(p, table, lv))
        for lv in _STOCK_YOGO_LEVELS[table]
    ]
    if np.isnan(critical):
        text = f"not tabulated for {p} instrument(s)"
    else:
        passed = [lv for lv, cv in values if f_stat >= cv]
        if passed:
            text = f"F = {f_stat:.2f}: maximal {what} at most {passed[0]:.0%}"
        else:
            text = (
                f"F = {f_stat:.2f} below every critical value: maximal {what} "
                f"above {values[-1][0]:.0%} (weak instruments)"
            )
    return DiagnosticTest(
        name=f"{name} ({level:.0%})",
        statistic=f_stat,
        df=float(p),
        df_denom=np.nan,
        pvalue=np.nan,
        critical_value=critical,
        interpretation=text,
    )


def _verdict(pvalue: float, rejected: str, kept: str) -> str:
    return rejected if pvalue < 0.05 else kept


def iv_diagnostics(
    fit: TSLSFit,
    first: FirstStageDiagnostics,
    cov_type: str,
    groups: np.ndarray | None = None,
) -> tuple[DiagnosticTest, ...]:
    """All diagnostics of an IV mediation fit, as rows of a table.

    Rows: the classical first-stage partial F and its Wald form with
    ``cov_type``; the Stock–Yogo comparisons (2SLS size 15%, 2SLS relative
    bias 10%, LIML size 15%); the effective F (worst-case bias 10%,
    simplified procedure); the Sargan and Hansen J overidentification tests;
    the Durbin and Wu–Hausman exogeneity tests and, for robust covariances,
    the regression exogeneity test with ``cov_type``.
    """
    return run_step(iv_diagnostics_steps(fit, first, cov_type, groups))[1]


def iv_diagnostics_steps(fit: TSLSFit, first, cov_type: str, groups=None):
    """:func:`iv_diagnostics` as a step (see :class:`~._linalg.Pass`).

    ``first`` is a :class:`FirstStageDiagnostics` or a step giving one (such
    as :func:`first_stage_diagnostics_steps`), run alongside the Hansen and
    exogeneity tests so that their passes over the rows are one. Returns
    ``(first, rows)``.
    """
    robust_type = "cluster" if cov_type == "cluster" else "HC0"
    steps = [
        hansen_j_steps(fit, robust_type, groups),
        exogeneity_steps(fit, cov_type, groups),
    ]
    if not isinstance(first, FirstStageDiagnostics):
        steps.append(first)
    results = yield from gather(*steps)
    (j_stat, _), exo = results[0], results[1]
    if len(results) == 3:
        first = results[2]
    p = first.n_instruments
    rows = [
        DiagnosticTest(
            name="first-stage F (classical)",
            statistic=first.f_statistic,
            df=first.df_num,
            df_denom=first.df_denom,
            pvalue=first.f_pvalue,
            critical_value=np.nan,
            interpretation=_verdict(
                first.f_pvalue,
                "the interactions predict the mediator (5% level)",
                "no evidence that the interactions predict the mediator (5% level)",
            ),
        ),
        DiagnosticTest(
            name=f"first-stage Wald F ({cov_type})",
            statistic=first.wald_f_statistic,
            df=first.df_num,
            df_denom=np.nan,
            pvalue=first.wald_f_pvalue,
            critical_value=np.nan,
            interpretation=_verdict(
                first.wald_f_pvalue,
                f"the interactions predict the mediator ({cov_type}, 5% level)",
                f"no evidence that the interactions predict the mediator "
                f"({cov_type}, 5% level)",
            ),
        ),
    ]
    rows += [_stock_yogo_row(*spec, first.f_statistic, p) for spec in _STOCK_YOGO_ROWS]

    eff = first.effective_f
    strong = eff.statistic >= eff.critical_value
    rows.append(
        DiagnosticTest(
            name=f"effective F ({cov_type})",
            statistic=eff.statistic,
            df=eff.df_effective,
            df_denom=np.nan,
            pvalue=np.nan,
            critical_value=eff.critical_value,
            interpretation=(
                "worst-case 2SLS bias below 10% of the benchmark "
                "(Montiel Olea-Pflueger, simplified)"
                if strong
                else "weak: worst-case 2SLS bias may exceed 10% of the "
                "benchmark (Montiel Olea-Pflueger, simplified)"
            ),
        )
    )

    overid_kept = "overidentifying restrictions not rejected (5% level)"
    overid_rejected = (
        "overidentifying restrictions rejected (5%): some interactions may "
        "violate IV-A2"
    )
    sargan, df = sargan_test(fit)
    j_name = "cluster" if cov_type == "cluster" else "robust"
    for name, stat in (("Sargan", sargan), (f"Hansen J ({j_name})", j_stat)):
        if df <= 0:
            text = "not defined: exactly identified (one instrument)"
            pvalue = np.nan
        elif np.isnan(stat):
            text = "not defined: the moment covariance is singular (too few clusters)"
            pvalue = np.nan
        else:
            pvalue = float(stats.chi2.sf(stat, df))
            text = _verdict(pvalue, overid_rejected, overid_kept)
        rows.append(DiagnosticTest(name, stat, float(df), np.nan, pvalue, np.nan, text))

    exo_rejected = (
        "mediator exogeneity rejected (5%): evidence against the naive "
        "regression's sequential ignorability"
    )
    exo_kept = "no evidence against mediator exogeneity (5% level)"
    durbin_p = float(stats.chi2.sf(exo.durbin, 1))
    wh_p = float(stats.f.sf(exo.wu_hausman, 1, exo.df_denom))
    rows.append(
        DiagnosticTest(
            "Durbin",
            exo.durbin,
            1.0,
            np.nan,
            durbin_p,
            np.nan,
            _verdict(durbin_p, exo_rejected, exo_kept),
        )
    )
    rows.append(
        DiagnosticTest(
            "Wu-Hausman",
            exo.wu_hausman,
            1.0,
            exo.df_denom,
            wh_p,
            np.nan,
            _verdict(wh_p, exo_rejected, exo_kept),
        )
    )
    if cov_type not in ("unadjusted", "classical"):
        reg_p = float(stats.chi2.sf(exo.regression_wald, 1))
        rows.append(
            DiagnosticTest(
                f"exogeneity regression test ({cov_type})",
                exo.regression_wald,
                1.0,
                np.nan,
                reg_p,
                np.nan,
                _verdict(reg_p, exo_rejected, exo_kept),
            )
        )
    return first, tuple(rows)
