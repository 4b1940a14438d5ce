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
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import NamedTuple

import numpy as np
from scipy import special

from skmediate._numerics.covariance import CovarianceType
from skmediate._numerics.dense import (
    cholesky_lower,
    solve_lower,
    solve_upper,
    symmetric_eigenvalues,
    triangular_factor,
)
from skmediate._numerics.model import FittedModel, control_function

__all__ = [
    "DIAGNOSTIC_KEYS",
    "DiagnosticTest",
    "EffectiveF",
    "ExogeneityTests",
    "FirstStageDiagnostics",
    "MediatorFirstStage",
    "diagnostic_tests",
    "exogeneity_tests",
    "first_stage_diagnostics",
    "first_stage_f",
    "first_stage_rank",
    "first_stage_terms",
    "hansen_j_test",
    "joint_critical_value",
    "montiel_olea_pflueger_critical_value",
    "sargan_test",
    "stock_yogo_critical_value",
    "stock_yogo_decides",
    "wald_statistic",
    "weak_identification",
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
    if type(n_endog) is int:  # a tabulated value needs no more checks
        found = _stock_yogo_table().get(
            (table, n_endog, int(n_instruments), round(level, 6))
        )
        if found is not None:
            return found
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
        half = solve_lower(cholesky_lower(cov), params)
    except np.linalg.LinAlgError:
        return float(params @ np.linalg.lstsq(cov, params, rcond=None)[0])
    return float(half @ half)


def chi2_sf(statistic: float, df: float) -> float:
    return float(special.chdtrc(df, statistic))


def f_sf(statistic: float, df_num: float, df_denom: float) -> float:
    return float(special.fdtrc(df_num, df_denom, statistic))


def reference_label(distribution: str, df: float, df_denom: float | None) -> str:
    """``F(df, df_denom)`` or ``chi2(df)``: a test's reference distribution, as text."""
    if distribution == "F":
        return f"F({df}, {df_denom:g})"
    return f"chi2({df})"


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


# Columns of ``FirstStageDiagnostics.per_mediator``, in order.
PER_MEDIATOR_COLUMNS = (
    "partial_f",
    "partial_f_pvalue",
    "partial_r2",
    "shea_r2",
    "wald_f",
    "wald_f_pvalue",
    "sw_f",
    "sw_wald_f",
    "critical_value",
    "is_weak",
)


@dataclass(frozen=True)
class MediatorFirstStage:
    """The first stage of one mediator (a row of ``FirstStageDiagnostics.per_mediator``).

    Attributes
    ----------
    mediator : str
    partial_f : float
        Classical partial F of the excluded instruments in the regression of
        this mediator on all instruments.
    partial_f_pvalue : float
        Its p-value from ``F(p, n - l)``.
    partial_r2 : float
        Partial R² of the excluded instruments.
    shea_r2 : float
        Shea's partial R²: ``[(X̃ᵀX̃)⁻¹]_jj / [(X̂ᵀX̂)⁻¹]_jj`` with ``X̃`` the
        mediators after the exogenous regressors and ``X̂`` their projection
        on the excluded instruments. Equals ``partial_r2`` for one mediator.
    wald_f : float
        Wald statistic of the excluded instruments with ``cov_type``, over
        ``p``.
    wald_f_pvalue : float
        Its p-value (``χ²(p)``, or ``F(p, df)`` with ``use_t``).
    sw_f : float
        Sanderson–Windmeijer conditional F (classical): the partial F of the
        mediator's part ``M_j - M_{-j} δ̂`` that the other mediators do not
        explain (``δ̂`` by 2SLS), on ``p - q + 1`` degrees of freedom. Equals
        ``partial_f`` for one mediator.
    sw_wald_f : float
        The same statistic as a Wald F with ``cov_type`` (the covariance of
        the conditional first stage's coefficients). Equals ``wald_f`` for one
        mediator.
    critical_value : float
        Stock–Yogo critical value (2SLS size, maximal size 15%) for one
        endogenous regressor and ``p - q + 1`` instruments, as Sanderson and
        Windmeijer (2016) recommend for the conditional F.
    is_weak : bool
        Whether this mediator is weakly identified: ``sw_f`` (homoskedastic
        ``cov_type``) or ``sw_wald_f`` (robust) below ``critical_value``. With
        one mediator, the fit's verdict (``FirstStageDiagnostics.is_weak``).
    """

    mediator: str
    partial_f: float
    partial_f_pvalue: float
    partial_r2: float
    shea_r2: float
    wald_f: float
    wald_f_pvalue: float
    sw_f: float
    sw_wald_f: float
    critical_value: float
    is_weak: bool


@dataclass(frozen=True)
class FirstStageDiagnostics:
    """First-stage diagnostics of the excluded instruments for the mediators.

    With one mediator the scalar attributes are that mediator's first stage.
    With several, ``per_mediator`` holds each mediator's statistics and the
    scalar attributes are the joint ones: ``f_statistic`` is the Cragg–Donald
    F, ``wald_f_statistic`` the Kleibergen–Paap F and ``partial_r2`` the
    smallest squared canonical correlation (each reduces to the one-mediator
    statistic of the same name).

    Attributes
    ----------
    f_statistic : float
        Classical (homoskedastic) partial F statistic for the excluded
        instruments in the regression of the mediator on all instruments; the
        statistic that the Stock–Yogo critical values are tabulated for. With
        several mediators, the Cragg–Donald F (``cragg_donald_f``), which is
        that statistic for several endogenous regressors.
    f_pvalue : float
        Its p-value from ``F(df_num, df_denom)``; ``nan`` with several
        mediators (the Cragg–Donald F is compared with critical values, not
        tested).
    df_num, df_denom : float
        ``p`` (number of excluded instruments) and ``n - l`` (``l`` instruments
        in all, including the exogenous regressors).
    partial_r2 : float
        Share of the mediator's variance left after the exogenous regressors
        that the excluded instruments explain. With several mediators, the
        smallest squared partial canonical correlation between the mediators
        and the excluded instruments.
    wald_f_statistic : float
        Wald statistic of the same hypothesis computed with the estimator's
        ``cov_type`` (robust to heteroskedasticity or clustering where that
        covariance is), divided by ``p``. Equals ``f_statistic`` for
        ``cov_type="classical"``. With several mediators, the Kleibergen–Paap
        F (``kleibergen_paap_f``).
    wald_f_pvalue : float
        Its p-value from ``chi2(p)`` on the undivided statistic, or from
        ``F(p, wald_df_denom)`` with ``use_t``; ``nan`` with several mediators.
    cov_type : str
    n_instruments : int
        Number of excluded instruments ``p``.
    critical_value : float
        Stock–Yogo critical value (2SLS size, maximal size 15% for a nominal 5%
        test) for ``p`` instruments; ``nan`` above 30 instruments. It is
        tabulated for homoskedastic errors. With several mediators, the value
        for ``q`` endogenous regressors from the table ``critical_table`` at
        ``critical_level`` (:func:`joint_critical_value`).
    is_weak : bool
        The verdict of ``weak_test``: ``f_statistic < critical_value`` for
        Stock–Yogo, ``effective_f.statistic < effective_f.critical_value``
        for the effective F. With several mediators, true when the joint
        statistic (Cragg–Donald or Kleibergen–Paap F) is below
        ``critical_value`` or any mediator is weakly identified
        (``per_mediator["is_weak"]``). Never None.
    effective_f : EffectiveF or None
        Montiel Olea–Pflueger effective F with ``cov_type`` and its critical
        value for a worst-case 2SLS bias of 10% (simplified procedure). None
        with several mediators (it is defined for one endogenous regressor).
    wald_df_denom : float or None
        Denominator degrees of freedom of the Wald F with ``use_t``
        (``G - 1`` cluster-robust, else ``n - l``); None otherwise.
    weak_test : {"stock_yogo", "effective_f", "cragg_donald", "kleibergen_paap"}
        Which test decides ``is_weak``. With one mediator
        (:func:`stock_yogo_decides`): Stock–Yogo for a homoskedastic
        ``cov_type`` (``"unadjusted"``, ``"classical"``) with at most 30
        instruments, where its critical values are tabulated and valid;
        otherwise, for every heteroskedasticity- or cluster-robust
        ``cov_type`` and for more instruments, the Montiel Olea–Pflueger
        effective F with ``cov_type``, whose critical value exists for any
        number of instruments. With several mediators: the Cragg–Donald F
        against Stock–Yogo for a homoskedastic ``cov_type`` (the statistic
        the tables are for), else the Kleibergen–Paap F with ``cov_type``
        against the same values (the robust analogue; the tables are not
        derived for it, and no effective F exists for several endogenous
        regressors); per mediator, the Sanderson–Windmeijer F (``sw_f``, or
        ``sw_wald_f`` for a robust ``cov_type``).
    mediators : tuple of str
        The mediators' names.
    cragg_donald_f : float
        Cragg–Donald (1993) minimum-eigenvalue F of the excluded instruments
        for all mediators jointly, as Stock and Yogo (2005) and linearmodels
        define it; the classical partial F with one mediator.
    kleibergen_paap_f : float
        Kleibergen–Paap (2006) rk Wald F with ``cov_type``: the rk Wald
        statistic of the smallest canonical correlation over ``p``. With
        ``cov_type="classical"`` it is the Cragg–Donald F, with
        ``"unadjusted"`` ``n / (n - l)`` times it, with one mediator the Wald F
        with ``cov_type``. For ``"HC1"`` and ``"cluster"`` it is Stata's
        ``ivreg2`` and linearmodels' statistic.
    critical_table : str
        The Stock–Yogo table of ``critical_value``: ``"tsls_size"`` where
        tabulated (up to two endogenous regressors), else
        ``"tsls_relative_bias"`` (three).
    critical_level : float
        Its maximal size (0.15) or relative bias (0.10).
    mediator_stages : tuple of MediatorFirstStage
        Each mediator's statistics: the rows of :attr:`per_mediator`.
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
    mediators: tuple = ()
    cragg_donald_f: float = np.nan
    kleibergen_paap_f: float = np.nan
    critical_table: str = "tsls_size"
    critical_level: float = 0.15
    mediator_stages: tuple = ()

    @property
    def n_mediators(self) -> int:
        """Number of mediators ``q``."""
        return len(self.mediator_stages)

    @property
    def per_mediator(self):
        """Each mediator's first stage, as a DataFrame indexed by mediator.

        Columns ``partial_f``, ``partial_f_pvalue``, ``partial_r2``,
        ``shea_r2``, ``wald_f``, ``wald_f_pvalue``, ``sw_f``, ``sw_wald_f``,
        ``critical_value`` and ``is_weak`` (see :class:`MediatorFirstStage`);
        one row for one mediator.
        """
        import pandas as pd

        frame = pd.DataFrame(
            [
                [getattr(s, c) for c in PER_MEDIATOR_COLUMNS]
                for s in self.mediator_stages
            ],
            index=pd.Index([s.mediator for s in self.mediator_stages], name="mediator"),
            columns=list(PER_MEDIATOR_COLUMNS),
        )
        return frame.astype({"is_weak": bool})

    @property
    def weak_mediators(self) -> tuple:
        """The mediators that are weakly identified on their own (``per_mediator``)."""
        return tuple(s.mediator for s in self.mediator_stages if s.is_weak)


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
    cov = model.block_cov(f"F{j}", _excluded_in_block(d.n_excluded))
    rss = float(model.r[n_inst:, col] @ model.r[n_inst:, col])
    return pi, cov, rss


def _excluded_in_block(k: int) -> np.ndarray:
    """The excluded instruments' coordinates among a first stage's score columns.

    A block ``F{j}`` starts with the treatment's coordinate; its ``k``
    excluded instruments follow.
    """
    return np.eye(k + 1)[:, 1:]


def _excluded_p(model: FittedModel, mediators) -> np.ndarray:
    """``P`` selecting the excluded instruments' coordinates of the first stages
    of ``mediators``, side by side (``p`` columns each)."""
    k = model.design.n_excluded
    return np.hstack([model.block_p(f"F{j}", _excluded_in_block(k)) for j in mediators])


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


def joint_critical_value(n_endog: int, n_instruments: int) -> tuple[str, float, float]:
    """The Stock–Yogo critical value that judges several endogenous regressors jointly.

    2SLS size (maximal size 15%) where Stock and Yogo tabulate it (up to two
    endogenous regressors), else 2SLS relative bias (at most 10%, up to
    three); ``(table, level, value)``, with value ``nan`` where neither is
    tabulated.

    Examples
    --------
    >>> joint_critical_value(2, 4)
    ('tsls_size', 0.15, 9.93)
    >>> joint_critical_value(3, 5)
    ('tsls_relative_bias', 0.1, 6.61)
    """
    for table, level in (("tsls_size", 0.15), ("tsls_relative_bias", 0.10)):
        value = stock_yogo_critical_value(n_instruments, table, level, n_endog)
        if not np.isnan(value):
            return table, level, value
    return "tsls_size", 0.15, np.nan


@dataclass(frozen=True)
class FirstStageRank:
    """Joint first-stage statistics of several mediators (see :func:`first_stage_rank`)."""

    cragg_donald_f: float
    kleibergen_paap_f: float
    min_canonical_r2: float
    shea_r2: np.ndarray
    sw_f: np.ndarray
    sw_wald_f: np.ndarray


def _combination_cov(v: np.ndarray, a: np.ndarray, k: int) -> np.ndarray:
    """Covariance of ``Π a`` from the covariance ``v`` of ``vec(Π)`` (``k`` rows)."""
    q = a.shape[0]
    cov = np.einsum("i,iajb,j->ab", a, v.reshape(q, k, q, k), a)
    return (cov + cov.T) / 2


def first_stage_rank(model: FittedModel) -> FirstStageRank:
    r"""Cragg–Donald and Kleibergen–Paap F, Shea's R² and the Sanderson–Windmeijer F.

    Notes
    -----
    In the orthonormal coordinates of the excluded instruments after the
    exogenous regressors the first-stage coefficients are
    ``Π = R[kw:l, M]`` (``p × q``), the residuals' cross-product is
    ``R_vᵀR_v`` with ``R_v = R[l:, M]`` and the mediators' (after the
    exogenous regressors) ``R_xᵀR_x`` with ``R_x`` the triangular factor of
    ``R[kw:, M]``. With ``s`` the smallest singular value of ``Π R_v⁻¹``,

    .. math::

        F_{CD} = \frac{n - l}{p} s^2

    (the smallest eigenvalue of ``(X̃ᵀM_ZX̃)⁻¹X̃ᵀP_ZX̃``). The rk Wald
    statistic of Kleibergen and Paap (2006) tests that the smallest singular
    value of ``Θ = Π R_x⁻¹`` is zero: with ``Θ = U S Vᵀ``, ``A`` the last
    ``p - q + 1`` columns of ``U`` and ``b = R_x⁻¹ v_q``,
    ``λ = AᵀΠb`` and ``W = λᵀ (Aᵀ V_b A)⁻¹ λ`` with ``V_b`` the covariance
    of ``Π b`` under ``cov_type``; ``F_{KP} = W / p``. The
    Sanderson–Windmeijer F of mediator ``j`` is, with
    ``δ̂ = argmin ‖Π_j - Π_{-j} δ‖`` (2SLS of ``M_j`` on ``M_{-j}``) and
    ``a = e_j - [0, δ̂]``,

    .. math::

        F_{SW, j} = \frac{‖Π a‖^2 / (p - q + 1)}{‖R_v a‖^2 / (n - l)},

    and its Wald form replaces the denominator by the covariance of ``Π a``
    under ``cov_type``. Every quantity is invariant to the basis in which the
    instruments and the mediators are written.
    """
    d, r = model.design, model.r
    kw, n_inst, k, q = d.n_exog, d.n_instruments, d.n_excluded, d.n_mediators
    cols = list(range(d.n_columns)[d.mediator_columns])
    pi = r[kw:n_inst][:, cols]
    r_v = r[n_inst : n_inst + q][:, cols]  # upper triangular: the mediators' rows
    df_denom = model.nobs - n_inst
    v = model.cov_of(_excluded_p(model, range(q)))
    if np.all(np.diag(r_v) != 0):
        s_cd = np.linalg.svd(solve_upper(r_v, pi.T, trans=True), compute_uv=False)
        cd = df_denom / k * s_cd[-1] ** 2
    else:  # a mediator is a combination of the instruments exactly
        cd = np.inf
    r_x = triangular_factor(r[kw:][:, cols])
    r_h = triangular_factor(pi)
    if np.all(np.diag(r_h) != 0):
        inv_x = solve_upper(r_x, np.eye(q))
        inv_h = solve_upper(r_h, np.eye(q))
        shea = np.sum(inv_x**2, axis=1) / np.sum(inv_h**2, axis=1)
    else:  # the instruments predict no combination of the mediators
        shea = np.zeros(q)
    theta = solve_upper(r_x, pi.T, trans=True).T
    u, s, vt = np.linalg.svd(theta)
    left = u[:, q - 1 :]
    b = solve_upper(r_x, vt[-1])
    if model.defines_joint_test(k - q + 1):
        lam = left.T @ (pi @ b)
        kp = wald_statistic(lam, left.T @ _combination_cov(v, b, k) @ left) / k
    else:  # fewer clusters than restrictions: the covariance is singular
        kp = np.nan
    n_sw = k - q + 1
    sw, sw_wald = np.empty(q), np.empty(q)
    for j in range(q):
        others = [i for i in range(q) if i != j]
        a = np.zeros(q)
        a[j] = 1.0
        if others:
            a[others] = -np.linalg.lstsq(pi[:, others], pi[:, j], rcond=None)[0]
        explained = pi @ a
        rss = (r_v @ a) @ (r_v @ a)
        with np.errstate(divide="ignore", invalid="ignore"):
            sw[j] = (explained @ explained) / n_sw / (rss / df_denom)
        sw_wald[j] = (
            wald_statistic(explained, _combination_cov(v, a, k)) / n_sw
            if model.defines_joint_test(k)
            else np.nan
        )
    return FirstStageRank(
        cragg_donald_f=float(cd),
        kleibergen_paap_f=float(kp),
        min_canonical_r2=float(s[-1] ** 2),
        shea_r2=shea,
        sw_f=sw,
        sw_wald_f=sw_wald,
    )


def first_stage_diagnostics(
    model: FittedModel, bias: float = 0.10, size: float = 0.05
) -> FirstStageDiagnostics:
    """The first-stage diagnostics of every mediator and, for several, the joint ones.

    One mediator: :func:`mediator_first_stage`, with the Cragg–Donald and
    Kleibergen–Paap F (here the partial F and the Wald F with ``cov_type``).
    Several: each mediator's first stage, the joint statistics of
    :func:`first_stage_rank` and the verdict described in
    :class:`FirstStageDiagnostics`.
    """
    d = model.design
    q, k = d.n_mediators, d.n_excluded
    singles = [mediator_first_stage(model, j, bias, size) for j in range(q)]
    if q == 1:
        # the joint statistics of one mediator are its own: Cragg–Donald is
        # the partial F, Kleibergen–Paap and Sanderson–Windmeijer's Wald F the
        # Wald F, Shea's R² the partial R²
        (one,) = singles
        rank = FirstStageRank(
            cragg_donald_f=one.f_statistic,
            kleibergen_paap_f=one.wald_f_statistic,
            min_canonical_r2=one.partial_r2,
            shea_r2=np.array([one.partial_r2]),
            sw_f=np.array([one.f_statistic]),
            sw_wald_f=np.array([one.wald_f_statistic]),
        )
        stage = _mediator_row(d.mediators[0], one, rank, 0, one.critical_value, True)
        return replace(
            one,
            mediators=d.mediators,
            cragg_donald_f=rank.cragg_donald_f,
            kleibergen_paap_f=rank.kleibergen_paap_f,
            mediator_stages=(replace(stage, is_weak=one.is_weak),),
        )
    rank = first_stage_rank(model)
    homoskedastic = model.kind.homoskedastic
    per_critical = stock_yogo_critical_value(k - q + 1)
    stages = tuple(
        _mediator_row(name, single, rank, j, per_critical, homoskedastic)
        for j, (name, single) in enumerate(zip(d.mediators, singles, strict=True))
    )
    table, level, critical = joint_critical_value(q, k)
    joint = rank.cragg_donald_f if homoskedastic else rank.kleibergen_paap_f
    is_weak = bool(joint < critical) or any(s.is_weak for s in stages)
    return FirstStageDiagnostics(
        f_statistic=rank.cragg_donald_f,
        f_pvalue=np.nan,
        df_num=float(k),
        df_denom=model.nobs - d.n_instruments,
        partial_r2=rank.min_canonical_r2,
        wald_f_statistic=rank.kleibergen_paap_f,
        wald_f_pvalue=np.nan,
        cov_type=model.kind.name,
        n_instruments=k,
        critical_value=critical,
        is_weak=is_weak,
        effective_f=None,
        wald_df_denom=model.reference_df(d.n_instruments),
        weak_test="cragg_donald" if homoskedastic else "kleibergen_paap",
        mediators=d.mediators,
        cragg_donald_f=rank.cragg_donald_f,
        kleibergen_paap_f=rank.kleibergen_paap_f,
        critical_table=table,
        critical_level=level,
        mediator_stages=stages,
    )


def _mediator_row(name, single, rank, j, critical, homoskedastic):
    sw, sw_wald = float(rank.sw_f[j]), float(rank.sw_wald_f[j])
    decides = sw if homoskedastic else sw_wald
    return MediatorFirstStage(
        mediator=name,
        partial_f=single.f_statistic,
        partial_f_pvalue=single.f_pvalue,
        partial_r2=single.partial_r2,
        shea_r2=float(rank.shea_r2[j]),
        wald_f=single.wald_f_statistic,
        wald_f_pvalue=single.wald_f_pvalue,
        sw_f=sw,
        sw_wald_f=sw_wald,
        critical_value=critical,
        is_weak=bool(decides < critical),
    )


class _Verdict(NamedTuple):
    """What the weak-instrument verdict of one mediator reads (see :func:`mediator_first_stage`)."""

    pi: np.ndarray
    cov: np.ndarray
    rss: float
    f_statistic: float
    critical_value: float
    effective_f: EffectiveF
    weak_test: str
    is_weak: bool


def _verdict(model: FittedModel, j: int, bias: float, size: float) -> _Verdict:
    d = model.design
    p = d.n_excluded
    pi, v, rss = excluded_coordinates(model, j)
    f_stat = first_stage_f(model, j)
    critical = stock_yogo_critical_value(p)
    # effective F: S = V (in orthonormal coordinates Q = I)
    s = (v + v.T) / 2
    trace = float(np.trace(s))
    x = 1.0 / bias
    lam_max = float(symmetric_eigenvalues(s)[-1])
    k_eff = trace**2 * (1 + 2 * x) / (float(np.sum(s * s)) + 2 * x * trace * lam_max)
    effective = EffectiveF(
        statistic=float(pi @ pi) / trace,
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
    return _Verdict(pi, v, rss, f_stat, critical, effective, weak_test, is_weak)


def weak_identification(
    model: FittedModel, bias: float = 0.10, size: float = 0.05
) -> bool:
    """``first_stage_diagnostics(model).is_weak``, computing only what the verdict reads."""
    if model.design.n_mediators == 1:
        return _verdict(model, 0, bias, size).is_weak
    return first_stage_diagnostics(model, bias, size).is_weak


def mediator_first_stage(
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
    verdict = _verdict(model, j, bias, size)
    pi, v, rss, f_stat = verdict.pi, verdict.cov, verdict.rss, verdict.f_statistic
    explained = float(pi @ pi)
    df_denom = model.nobs - d.n_instruments
    if model.kind.name == "classical":
        wald = f_stat * p
    elif model.defines_joint_test(p):
        wald = wald_statistic(pi, v)
    else:  # fewer clusters than instruments: the covariance is singular
        wald = np.nan
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
        critical_value=verdict.critical_value,
        is_weak=verdict.is_weak,
        effective_f=verdict.effective_f,
        weak_test=verdict.weak_test,
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
    r_small = triangular_factor(r[:, cols])
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


def _first_stage_rows(first: FirstStageDiagnostics) -> list:
    """The first-stage rows of the table of a fit with one mediator."""
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
    return rows


def _several_first_stage_rows(model: FittedModel, first: FirstStageDiagnostics) -> list:
    """The first-stage rows of the table of a fit with several mediators.

    Per mediator: the partial F, its Wald form and the Sanderson–Windmeijer F
    (and its Wald form for a robust ``cov_type``) with its critical value;
    jointly: the Cragg–Donald F, its Stock–Yogo comparisons for ``q``
    endogenous regressors (``nan`` where not tabulated) and the
    Kleibergen–Paap F with the critical value of the verdict.
    """
    nan = np.nan
    p, q = first.n_instruments, first.n_mediators
    wald_denom = nan if first.wald_df_denom is None else first.wald_df_denom
    rows = []
    for s in first.mediator_stages:
        rows += [
            DiagnosticTest(
                f"first_stage_f[{s.mediator}]",
                s.partial_f,
                float(p),
                first.df_denom,
                s.partial_f_pvalue,
                nan,
            ),
            DiagnosticTest(
                f"first_stage_wald_f[{s.mediator}]",
                s.wald_f,
                float(p),
                wald_denom,
                s.wald_f_pvalue,
                nan,
            ),
            DiagnosticTest(
                f"sanderson_windmeijer_f[{s.mediator}]",
                s.sw_f,
                float(p - q + 1),
                first.df_denom,
                nan,
                s.critical_value,
            ),
        ]
        if not model.kind.homoskedastic:
            rows.append(
                DiagnosticTest(
                    f"sanderson_windmeijer_wald_f[{s.mediator}]",
                    s.sw_wald_f,
                    float(p - q + 1),
                    nan,
                    nan,
                    s.critical_value,
                )
            )
    rows.append(
        DiagnosticTest(
            "cragg_donald_f", first.cragg_donald_f, float(p), first.df_denom, nan, nan
        )
    )
    for key, table, level in STOCK_YOGO_ROWS:
        rows.append(
            DiagnosticTest(
                key,
                first.cragg_donald_f,
                float(p),
                nan,
                nan,
                stock_yogo_critical_value(p, table, level, q),
                level,
            )
        )
    rows.append(
        DiagnosticTest(
            "kleibergen_paap_f",
            first.kleibergen_paap_f,
            float(p),
            nan,
            nan,
            first.critical_value,
            first.critical_level,
        )
    )
    return rows


def diagnostic_tests(
    model: FittedModel, first: FirstStageDiagnostics
) -> tuple[DiagnosticTest, ...]:
    """Every diagnostic of an IV fit, as rows of a table (see :data:`DIAGNOSTIC_KEYS`).

    Rows: the classical first-stage partial F and its Wald form with the
    fit's covariance; the Stock–Yogo comparisons (2SLS size 15%, 2SLS relative
    bias 10%, LIML size 15%); the effective F; Sargan and Hansen J; Durbin,
    Wu–Hausman and, for robust covariances, the regression exogeneity test.
    With several mediators the first-stage rows are per mediator and joint
    (``first_stage_f[m]``, ``first_stage_wald_f[m]``,
    ``sanderson_windmeijer_f[m]``, ``sanderson_windmeijer_wald_f[m]`` for a
    robust ``cov_type``, ``cragg_donald_f``, the Stock–Yogo rows for the
    Cragg–Donald F and ``kleibergen_paap_f``) and there is no effective F.
    """
    nan = np.nan
    if first.n_mediators > 1:
        rows = _several_first_stage_rows(model, first)
    else:
        rows = _first_stage_rows(first)
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
