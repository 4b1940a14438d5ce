"""First-stage diagnostics: partial F statistics and Stock–Yogo critical values."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
from scipy import stats

from ._covariance import covariance
from ._linalg import LinearFit

__all__ = [
    "FirstStageDiagnostics",
    "first_stage_diagnostics",
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
    levels = sorted({key[2] for key in _stock_yogo_table() if key[0] == table})
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
    p = first_stage.n_params - n_exog
    excluded = slice(n_exog, None)
    classical = covariance(first_stage, "classical")[excluded, excluded]
    f_stat = wald_statistic(first_stage.params[excluded], classical) / p
    df_denom = first_stage.df_resid
    if cov_type == "classical":
        wald = f_stat * p
    else:
        robust = covariance(first_stage, cov_type, groups)[excluded, excluded]
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
    )
