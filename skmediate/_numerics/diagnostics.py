"""Diagnostics of an IV fit: instrument strength, overidentification, exogeneity.

Numbers only. Every statistic is read off the triangular factor (the first-stage
F from residual sums of squares, Sargan, Durbin, Wu–Hausman) or off the meat
of the score columns in the factor's coordinates (the robust Wald F, the
effective F, Hansen's J, the regression test of exogeneity), so none depends
on how the instruments' column space is written.
"""

from __future__ import annotations

import csv
import numbers
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
from scipy import special

from skmediate._numerics.covariance import CovarianceType
from skmediate._numerics.model import FittedModel, control_function
from skmediate._numerics.tsls import solve_upper

__all__ = [
    "DIAGNOSTIC_KEYS",
    "DiagnosticTest",
    "EffectiveF",
    "ExogeneityTests",
    "FirstStageDiagnostics",
    "diagnostic_tests",
    "exogeneity_tests",
    "first_stage_diagnostics",
    "first_stage_f",
    "first_stage_terms",
    "hansen_j_test",
    "montiel_olea_pflueger_critical_value",
    "sargan_test",
    "stock_yogo_critical_value",
    "stock_yogo_decides",
    "wald_statistic",
]

STOCK_YOGO_TABLES = ("tsls_size", "tsls_relative_bias", "liml_size")
STOCK_YOGO_LEVELS = {
    "tsls_size": (0.10, 0.15, 0.20, 0.25),
    "tsls_relative_bias": (0.05, 0.10, 0.20, 0.30),
    "liml_size": (0.10, 0.15, 0.20, 0.25),
}
# The Stock-Yogo rows of the diagnostics table: (key, table, level).
STOCK_YOGO_ROWS = (
    ("stock_yogo_tsls_size", "tsls_size", 0.15),
    ("stock_yogo_tsls_relative_bias", "tsls_relative_bias", 0.10),
    ("stock_yogo_liml_size", "liml_size", 0.15),
)
DIAGNOSTIC_KEYS = (
    "first_stage_f",
    "first_stage_wald_f",
    *(key for key, _, _ in STOCK_YOGO_ROWS),
    "effective_f",
    "sargan",
    "hansen_j",
    "durbin",
    "wu_hausman",
    "exogeneity_regression",
)


@cache
def _stock_yogo_table() -> dict[tuple[str, int, int, float], float]:
    text = resources.files("skmediate").joinpath("data/stock_yogo.csv").read_text()
    table = {}
    for row in csv.DictReader(text.splitlines()):
        key = (
            row["table"],
            int(row["n_endog"]),
            int(row["k2"]),
            round(float(row["level"]), 6),
        )
        table[key] = float(row["critical_value"])
    return table


def stock_yogo_critical_value(
    n_instruments: int,
    table: str = "tsls_size",
    level: float = 0.15,
    n_endog: int = 1,
) -> float:
    """Stock–Yogo (2005) weak-instrument critical value.

    The tables are for the Cragg–Donald minimum-eigenvalue statistic of the
    first stage, which for one endogenous regressor is its partial F statistic.

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
    n_endog : int, default=1
        Number of endogenous regressors ``n``. Stock and Yogo tabulate the
        size tables for ``n <= 2`` and the relative-bias table for ``n <= 3``.

    Returns
    -------
    float
        The critical value, or ``nan`` where the tables have none: ``K2``
        above 30; ``K2 < n`` (not identified); relative bias with
        ``K2 < n + 2``; size with ``n = 3``; ``n`` above 3.

    Examples
    --------
    >>> stock_yogo_critical_value(2)
    11.59
    >>> stock_yogo_critical_value(4, n_endog=2)
    9.93
    >>> stock_yogo_critical_value(5, "tsls_relative_bias", 0.10, n_endog=3)
    6.61
    """
    if table not in STOCK_YOGO_TABLES:
        raise ValueError(f"table must be one of {STOCK_YOGO_TABLES}; got {table!r}")
    levels = STOCK_YOGO_LEVELS[table]
    if round(level, 6) not in [round(v, 6) for v in levels]:
        raise ValueError(
            f"level for table {table!r} must be one of {list(levels)}; got {level}"
        )
    if (
        isinstance(n_endog, bool)
        or not isinstance(n_endog, numbers.Integral)
        or n_endog < 1
    ):
        raise ValueError(
            "n_endog must be a positive integer (the number of endogenous "
            f"regressors); got {n_endog!r}"
        )
    key = (table, int(n_endog), int(n_instruments), round(level, 6))
    return _stock_yogo_table().get(key, np.nan)


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
    k = float(df_effective)
    return float(special.chndtrix(1.0 - size, k, x * k) / k)


def wald_statistic(params: np.ndarray, cov: np.ndarray) -> float:
    """``paramsᵀ cov⁻¹ params`` by a Cholesky factor (least squares if singular)."""
    params = np.asarray(params, dtype=float)
    try:
        lower = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        return float(params @ np.linalg.lstsq(cov, params, rcond=None)[0])
    half = np.linalg.solve(lower, params)
    return float(half @ half)


def chi2_sf(statistic: float, df: float) -> float:
    return float(special.chdtrc(df, statistic))


def f_sf(statistic: float, df_num: float, df_denom: float) -> float:
    return float(special.fdtrc(df_num, df_denom, statistic))


def wald_pvalue(wald: float, df_num: float, df_denom: float | None) -> float:
    """p-value of a Wald statistic: ``χ²(q)``, or ``F(q, df_denom)`` for ``W / q``."""
    if df_denom is None:
        return chi2_sf(wald, df_num)
    return f_sf(wald / df_num, df_num, df_denom)


# -- first stage ------------------------------------------------------------


@dataclass(frozen=True)
class EffectiveF:
    """Montiel Olea–Pflueger effective first-stage F statistic.

    Attributes
    ----------
    statistic : float
        ``F_eff = π̂ᵀ Q π̂ / tr(V Q)`` with ``π̂`` the excluded-instrument
        coefficients of the first stage, ``V`` their covariance with
        ``cov_type`` in the first-stage regression (its ``l`` parameters set
        the small-sample factor, its design the leverages of HC2, HC3 and
        CR2) and ``Q = Z̃ᵀWZ̃`` the cross-product of the excluded instruments
        after partialling out the exogenous regressors. With
        ``cov_type="classical"`` it is the classical partial F; with one
        instrument, the Wald F with ``cov_type``.
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
        Its p-value from ``chi2(p)`` on the undivided statistic, or from
        ``F(p, wald_df_denom)`` with ``use_t``.
    cov_type : str
    n_instruments : int
        Number of excluded instruments ``p``.
    critical_value : float
        Stock–Yogo critical value (2SLS size, maximal size 15% for a nominal 5%
        test) for ``p`` instruments; ``nan`` above 30 instruments. It is
        tabulated for homoskedastic errors.
    is_weak : bool
        The verdict of ``weak_test``: ``f_statistic < critical_value`` for
        Stock–Yogo, ``effective_f.statistic < effective_f.critical_value``
        for the effective F. Never None.
    effective_f : EffectiveF
        Montiel Olea–Pflueger effective F with ``cov_type`` and its critical
        value for a worst-case 2SLS bias of 10% (simplified procedure).
    wald_df_denom : float or None
        Denominator degrees of freedom of the Wald F with ``use_t``
        (``G - 1`` cluster-robust, else ``n - l``); None otherwise.
    weak_test : {"stock_yogo", "effective_f"}
        Which test decides ``is_weak`` (:func:`stock_yogo_decides`):
        Stock–Yogo for a homoskedastic ``cov_type`` (``"unadjusted"``,
        ``"classical"``) with at most 30 instruments, where its critical
        values are tabulated and valid; otherwise, for every
        heteroskedasticity- or cluster-robust ``cov_type`` and for more
        instruments, the Montiel Olea–Pflueger effective F with ``cov_type``,
        whose critical value exists for any number of instruments.
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
    is_weak: bool
    effective_f: EffectiveF | None = None
    wald_df_denom: float | None = None
    weak_test: str = "stock_yogo"


def excluded_coordinates(model: FittedModel, j: int = 0):
    """Coordinates of the excluded instruments' first-stage coefficients for mediator ``j``.

    In the orthonormal basis of the excluded instruments after the exogenous
    regressors (``U[:, kw:l]``), the coefficients are ``R[kw:l, M_j]`` and
    their covariance ``V`` comes from the score block ``F{j}`` without any
    triangular solve; every statistic here is invariant to that change of
    basis.
    """
    d = model.design
    kw, n_inst = d.n_exog, d.n_instruments
    col = range(d.n_columns)[d.mediator_columns][j]
    pi = model.r[kw:n_inst, col]
    p = np.zeros(
        (len(range(model.layout.n_cols)[model.layout.blocks[f"F{j}"]]), n_inst - kw)
    )
    p[1:] = np.eye(n_inst - kw)  # the block starts with the treatment's coordinate
    cov = model.cov_of(model.block_p(f"F{j}", p))
    rss = float(model.r[n_inst:, col] @ model.r[n_inst:, col])
    return pi, cov, rss


def first_stage_f(model: FittedModel, j: int = 0) -> float:
    """The classical partial F statistic of the excluded instruments for mediator ``j``.

    ``(‖R[kw:l, M]‖² / p) / (‖R[l:, M]‖² / (n - l))``: residual sums of squares
    read off the factor.
    """
    d, r = model.design, model.r
    kw, n_inst = d.n_exog, d.n_instruments
    col = range(d.n_columns)[d.mediator_columns][j]
    explained = float(r[kw:n_inst, col] @ r[kw:n_inst, col])
    rss = float(r[n_inst:, col] @ r[n_inst:, col])
    if rss <= 0:
        return np.inf
    return (explained / d.n_excluded) / (rss / (model.nobs - n_inst))


def stock_yogo_decides(kind: CovarianceType, n_instruments: int) -> bool:
    """Whether the Stock–Yogo critical value decides ``is_weak``.

    Stock and Yogo (2005) tabulate critical values of the classical F for
    conditionally homoskedastic errors and at most 30 instruments. With a
    homoskedastic ``kind`` and a tabulated value they decide; with a
    heteroskedasticity- or cluster-robust ``kind`` (for which the tables are
    not valid), or more instruments, the Montiel Olea–Pflueger effective F
    does, with the fit's covariance.
    """
    return kind.homoskedastic and not np.isnan(stock_yogo_critical_value(n_instruments))


def first_stage_diagnostics(
    model: FittedModel, j: int = 0, bias: float = 0.10, size: float = 0.05
) -> FirstStageDiagnostics:
    r"""Partial F statistics, partial R², the effective F and the verdict for mediator ``j``.

    Notes
    -----
    In the orthonormal coordinates of the excluded instruments after the
    exogenous regressors (:func:`excluded_coordinates`) ``Q = I``, so the
    effective F of Montiel Olea and Pflueger (2013) is ``‖π̂‖² / tr(V)`` and,
    with ``S = V`` and ``x = 1 / bias``, the simplified procedure's effective
    degrees of freedom are

    .. math::

        K_{eff} = \frac{\operatorname{tr}(S)^2 (1 + 2x)}
        {\operatorname{tr}(S^2) + 2x \operatorname{tr}(S) \lambda_{max}(S)},

    and the critical value is
    :func:`montiel_olea_pflueger_critical_value`. ``weak_test`` follows
    :func:`stock_yogo_decides`.
    """
    d = model.design
    p = d.n_excluded
    pi, v, rss = excluded_coordinates(model, j)
    explained = float(pi @ pi)
    df_denom = model.nobs - d.n_instruments
    f_stat = first_stage_f(model, j)
    if model.kind.name == "classical":
        wald = f_stat * p
    elif model.defines_joint_test(p):
        wald = wald_statistic(pi, v)
    else:  # fewer clusters than instruments: the covariance is singular
        wald = np.nan
    critical = stock_yogo_critical_value(p)
    # effective F: S = V (in orthonormal coordinates Q = I)
    s = (v + v.T) / 2
    trace = float(np.trace(s))
    x = 1.0 / bias
    lam_max = float(np.linalg.eigvalsh(s)[-1])
    k_eff = trace**2 * (1 + 2 * x) / (float(np.sum(s * s)) + 2 * x * trace * lam_max)
    effective = EffectiveF(
        statistic=explained / trace,
        df_effective=k_eff,
        critical_value=montiel_olea_pflueger_critical_value(k_eff, bias, size),
        bias=bias,
        size=size,
        cov_type=model.kind.name,
    )
    weak_test = "stock_yogo" if stock_yogo_decides(model.kind, p) else "effective_f"
    if weak_test == "stock_yogo":
        is_weak = bool(f_stat < critical)
    else:
        is_weak = bool(effective.statistic < effective.critical_value)
    return FirstStageDiagnostics(
        f_statistic=f_stat,
        f_pvalue=f_sf(f_stat, p, df_denom),
        df_num=float(p),
        df_denom=df_denom,
        partial_r2=explained / (explained + rss),
        wald_f_statistic=wald / p,
        wald_f_pvalue=wald_pvalue(wald, p, model.reference_df(d.n_instruments)),
        wald_df_denom=model.reference_df(d.n_instruments),
        cov_type=model.kind.name,
        n_instruments=p,
        critical_value=critical,
        is_weak=is_weak,
        effective_f=effective,
        weak_test=weak_test,
    )


def first_stage_terms(model: FittedModel, j: int = 0):
    """The first-stage regression of mediator ``j`` on the reported instruments.

    Returns the coefficients of ``[1, X, Z, R, R·(X - X̄)]``, their classical
    covariance (``σ̂² (QᵀWQ)⁻¹`` with ``σ̂² = RSS/(n - l)``), the residual sum of
    squares and that of the regression on ``W`` alone.
    """
    d, r = model.design, model.r
    kw, n_inst = d.n_exog, d.n_instruments
    col = range(d.n_columns)[d.mediator_columns][j]
    lead = r[:n_inst, :n_inst]
    coef = solve_upper(lead, r[:n_inst, col])
    coef[0] += model.shift[d.raw_slice("mediators")][j]  # the mediator is shifted too
    half = solve_upper(lead, np.eye(n_inst))
    rss = float(r[n_inst:, col] @ r[n_inst:, col])
    cov = half @ half.T * rss / (model.nobs - n_inst)
    # the reported instruments are the shifted ones times T: coefficients T⁻¹ γ
    t = d.instrument_basis(model.shift, model.covariate_mean)
    coef_rep = np.linalg.solve(t, coef)
    cov_rep = np.linalg.solve(t, np.linalg.solve(t, cov).T)
    rss_w = float(r[kw:, col] @ r[kw:, col])
    return coef_rep, cov_rep, rss, rss_w


# -- overidentification -----------------------------------------------------


def overidentification_df(model: FittedModel) -> int:
    d = model.design
    return d.n_excluded - d.n_mediators


def sargan_test(model: FittedModel) -> tuple[float, int]:
    """Sargan's ``n ε̂ᵀP_Qε̂ / ε̂ᵀε̂`` and its degrees of freedom ``p - m``.

    ``nan`` when the model is exactly identified.
    """
    df = overidentification_df(model)
    if df <= 0:
        return np.nan, df
    g = model.resid_coordinates
    projected = g[: model.design.n_instruments]
    return model.nobs * float(projected @ projected / (g @ g)), df


def hansen_j_test(model: FittedModel) -> tuple[float, int]:
    """Hansen's J of the two-step efficient GMM estimator.

    The weight matrix is the inverse of ``S = Σ w ε̂² u uᵀ`` over rows (or of
    ``Σ_g s_g s_gᵀ`` over clusters for the cluster-robust types), with the
    instruments' coordinates ``u`` and the fit's residuals, and no
    small-sample factor. ``J = min_θ g(θ)ᵀ S⁻¹ g(θ)`` with
    ``g(θ) = R[:l, y] - R[:l, D] θ``, a small least squares problem. Returns
    ``(nan, df)`` when exactly identified or when ``S`` is singular (fewer
    clusters than instruments).
    """
    df = overidentification_df(model)
    if df <= 0:
        return np.nan, df
    d, r = model.design, model.r
    if not model.defines_joint_test(d.n_instruments):
        return np.nan, df
    cols = np.arange(model.layout.n_cols)[model.layout.blocks["J"]]
    meat = model.robust_meat(cols)
    try:
        lower = np.linalg.cholesky(meat)
    except np.linalg.LinAlgError:
        return np.nan, df
    diag = np.diag(lower)
    if diag.min() <= np.sqrt(np.finfo(float).eps) * diag.max():
        return np.nan, df
    n_inst = d.n_instruments
    a = np.linalg.solve(lower, r[:n_inst, -1])
    b = np.linalg.solve(lower, r[:n_inst][:, d.structural_columns])
    q_b, _ = np.linalg.qr(b, mode="complete")
    tail = (q_b.T @ a)[b.shape[1] :]
    return float(tail @ tail), df


# -- exogeneity of the mediators ----------------------------------------------


@dataclass(frozen=True)
class ExogeneityTests:
    """Tests that the mediators are exogenous (the naive regression is consistent).

    Attributes
    ----------
    durbin : float
        ``δ / (ε̂₀ᵀε̂₀ / n)``, ``χ²(m)``.
    wu_hausman : float
        ``(δ / m) / ((ε̂₀ᵀε̂₀ - δ) / (n - kw - 2m))``, ``F(m, n - kw - 2m)``.
    df : int
        ``m``.
    df_denom : float
        ``n - kw - 2m``.
    regression_wald : float
        Wald statistic (``χ²(m)``) of the first-stage residuals in the
        regression of ``y`` on ``[W, M, v̂]``, with the estimator's
        ``cov_type``; ``nan`` for homoskedastic covariances (where it is the
        Wu–Hausman test) and when that regression is singular.
    """

    durbin: float
    wu_hausman: float
    df: int
    df_denom: float
    regression_wald: float


def exogeneity_tests(model: FittedModel) -> ExogeneityTests:
    """Durbin, Wu–Hausman and regression tests of the exogeneity of the mediators.

    Notes
    -----
    With ``ε̂₀`` the OLS residuals of ``y`` on ``D = [W, M]`` and ``ε̂`` the
    residuals of the fit, ``δ = ε̂₀ᵀP_{[Q, M]}ε̂₀ - ε̂ᵀP_Qε̂`` (the definition of
    linearmodels); each term is the squared norm of a subvector of the
    residuals' coordinates in the factor. The regression test uses the
    estimator's covariance, so it is robust to heteroskedasticity or
    clustering when that covariance is (Wooldridge 2010, section 6.3.1).
    """
    d, r = model.design, model.r
    kw, n_inst, m = d.n_exog, d.n_instruments, d.n_mediators
    mediators = list(range(d.n_columns)[d.mediator_columns])
    cols = [*range(kw), *mediators, d.n_columns - 1]
    r_small = np.linalg.qr(r[:, cols], mode="r")
    beta = solve_upper(r_small[:-1, :-1], r_small[:-1, -1])
    ols = r[:, cols[:-1]] @ (-beta) + r[:, -1]
    g = model.resid_coordinates
    delta = float(ols[: n_inst + m] @ ols[: n_inst + m] - g[:n_inst] @ g[:n_inst])
    rss_ols = float(ols @ ols)
    nobs = model.nobs
    df_denom = nobs - kw - 2 * m
    durbin = delta / (rss_ols / nobs)
    wu_hausman = (delta / m) / ((rss_ols - delta) / df_denom)
    wald = np.nan
    exog = "EXOG" in model.layout.blocks
    if not model.kind.homoskedastic and exog and model.defines_joint_test(m):
        rho = control_function(d, r)[2]
        size = len(range(model.layout.n_cols)[model.layout.blocks["EXOG"]])
        cov = model.cov_of(model.block_p("EXOG", np.eye(size)))
        wald = wald_statistic(rho, cov)
    return ExogeneityTests(durbin, wu_hausman, m, df_denom, wald)


# -- the table --------------------------------------------------------------


@dataclass(frozen=True)
class DiagnosticTest:
    """One row of the diagnostics table (numbers only; ``nan`` where not defined).

    ``key`` is one of :data:`DIAGNOSTIC_KEYS`. ``level`` is the Stock–Yogo
    row's maximal size or relative bias (``nan`` for other rows).
    """

    key: str
    statistic: float
    df: float
    df_denom: float
    pvalue: float
    critical_value: float
    level: float = np.nan


def diagnostic_tests(
    model: FittedModel, first: FirstStageDiagnostics
) -> tuple[DiagnosticTest, ...]:
    """Every diagnostic of an IV fit, as rows of a table (see :data:`DIAGNOSTIC_KEYS`).

    Rows: the classical first-stage partial F and its Wald form with the
    fit's covariance; the Stock–Yogo comparisons (2SLS size 15%, 2SLS relative
    bias 10%, LIML size 15%); the effective F; Sargan and Hansen J; Durbin,
    Wu–Hausman and, for robust covariances, the regression exogeneity test.
    """
    nan = np.nan
    p = first.n_instruments
    rows = [
        DiagnosticTest(
            "first_stage_f",
            first.f_statistic,
            first.df_num,
            first.df_denom,
            first.f_pvalue,
            nan,
        ),
        DiagnosticTest(
            "first_stage_wald_f",
            first.wald_f_statistic,
            first.df_num,
            nan if first.wald_df_denom is None else first.wald_df_denom,
            first.wald_f_pvalue,
            nan,
        ),
    ]
    for key, table, level in STOCK_YOGO_ROWS:
        rows.append(
            DiagnosticTest(
                key,
                first.f_statistic,
                float(p),
                nan,
                nan,
                stock_yogo_critical_value(p, table, level),
                level,
            )
        )
    eff = first.effective_f
    rows.append(
        DiagnosticTest(
            "effective_f", eff.statistic, eff.df_effective, nan, nan, eff.critical_value
        )
    )
    for key, (stat, df) in (
        ("sargan", sargan_test(model)),
        ("hansen_j", hansen_j_test(model)),
    ):
        pvalue = chi2_sf(stat, df) if df > 0 and np.isfinite(stat) else nan
        rows.append(DiagnosticTest(key, stat, float(df), nan, pvalue, nan))
    exo = exogeneity_tests(model)
    rows.append(
        DiagnosticTest(
            "durbin", exo.durbin, float(exo.df), nan, chi2_sf(exo.durbin, exo.df), nan
        )
    )
    rows.append(
        DiagnosticTest(
            "wu_hausman",
            exo.wu_hausman,
            float(exo.df),
            exo.df_denom,
            f_sf(exo.wu_hausman, exo.df, exo.df_denom),
            nan,
        )
    )
    if not model.kind.homoskedastic:
        stat = exo.regression_wald
        df_denom = model.reference_df(model.design.n_exog + 2 * exo.df)
        rows.append(
            DiagnosticTest(
                "exogeneity_regression",
                stat / exo.df if df_denom is not None else stat,
                float(exo.df),
                nan if df_denom is None else df_denom,
                wald_pvalue(stat, exo.df, df_denom) if np.isfinite(stat) else nan,
                nan,
            )
        )
    return tuple(rows)
