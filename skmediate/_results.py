"""Frozen result objects: numbers only, no reference back to the data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ._diagnostics import FirstStageDiagnostics

__all__ = ["MediationResult"]

_WIDTH = 78


@dataclass(frozen=True)
class MediationResult:
    """Estimates and inference of a mediation regression.

    Attributes
    ----------
    method : str
        ``"IV-2SLS"`` or ``"OLS"``.
    params : pandas.Series
        Estimates indexed by term name: ``intercept``, the covariates, the
        controls, the treatment, the mediator.
    std_errors : pandas.Series
    cov : pandas.DataFrame
        Covariance matrix of ``params``.
    nobs : float
        Number of observations (the sum of the frequency weights).
    cov_type : str
    confidence_level : float
        Default level of :meth:`conf_int`.
    rsquared : float
        ``1 - RSS / TSS`` of the structural equation with the observed mediator.
    treatment, mediator, outcome : str
        Names of the treatment, mediator and outcome.
    instruments : tuple of str
        Names of the excluded instruments (empty for OLS).
    n_clusters : int or None
        Number of clusters for ``cov_type="cluster"``.
    first_stage : FirstStageDiagnostics or None
        First-stage diagnostics (IV only).
    """

    method: str
    params: pd.Series
    std_errors: pd.Series
    cov: pd.DataFrame
    nobs: float
    cov_type: str
    confidence_level: float
    rsquared: float
    treatment: str
    mediator: str
    outcome: str = "y"
    instruments: tuple = ()
    n_clusters: int | None = None
    first_stage: FirstStageDiagnostics | None = None

    @property
    def zstats(self) -> pd.Series:
        """``params / std_errors``."""
        return self.params / self.std_errors

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values from the standard normal distribution."""
        return pd.Series(
            2 * stats.norm.sf(np.abs(self.zstats.to_numpy())),
            index=self.params.index,
            name="pvalue",
        )

    def conf_int(self, confidence_level: float | None = None) -> pd.DataFrame:
        """Normal-based confidence intervals, a DataFrame with columns ``lower``, ``upper``."""
        level = self.confidence_level if confidence_level is None else confidence_level
        if not 0 < level < 1:
            raise ValueError(f"confidence_level must be in (0, 1); got {level}")
        z = stats.norm.isf((1 - level) / 2)
        return pd.DataFrame(
            {
                "lower": self.params - z * self.std_errors,
                "upper": self.params + z * self.std_errors,
            }
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per term: estimate, std_error, z, pvalue, lower, upper."""
        ci = self.conf_int()
        return pd.DataFrame(
            {
                "estimate": self.params,
                "std_error": self.std_errors,
                "z": self.zstats,
                "pvalue": self.pvalues,
                "lower": ci["lower"],
                "upper": ci["upper"],
            }
        )

    def summary(self) -> str:
        """A text table of the fit, its estimates and (for IV) its first stage."""
        title = {
            "IV-2SLS": "IV mediation regression (two-stage least squares)",
            "OLS": "Naive mediation regression (least squares)",
        }.get(self.method, self.method)
        clusters = f" ({self.n_clusters} clusters)" if self.n_clusters else ""
        left = [
            ("Outcome:", self.outcome),
            ("Treatment:", self.treatment),
            ("Mediator:", self.mediator),
        ]
        right = [
            ("No. observations:", f"{self.nobs:g}"),
            ("Covariance:", f"{self.cov_type}{clusters}"),
            ("R-squared:", f"{self.rsquared:.4f}"),
        ]
        lines = [title.center(_WIDTH), "=" * _WIDTH]
        for (lk, lv), (rk, rv) in zip(left, right, strict=True):
            lines.append(f"{lk:<13}{lv:<26}{rk:<20}{rv:>19}")
        if self.instruments:
            lines.append(f"{'Instruments:':<13}{', '.join(self.instruments)}")
        level = self.confidence_level
        lo, hi = f"[{(1 - level) / 2:.3f}", f"{1 - (1 - level) / 2:.3f}]"
        lines += [
            "=" * _WIDTH,
            f"{'':<18}{'coef':>10}{'std err':>10}{'z':>9}{'P>|z|':>9}{lo:>11}{hi:>11}",
            "-" * _WIDTH,
        ]
        table = self.to_frame()
        for name, row in table.iterrows():
            label = name if len(name) <= 17 else name[:16] + "~"
            lines.append(
                f"{label:<18}{row.estimate:>10.4f}{row.std_error:>10.4f}"
                f"{row.z:>9.3f}{row.pvalue:>9.3f}{row.lower:>11.4f}{row.upper:>11.4f}"
            )
        lines.append("=" * _WIDTH)
        if self.first_stage is not None:
            fs = self.first_stage
            lines.append(
                f"First stage: partial F({fs.df_num:g}, {fs.df_denom:g}) = "
                f"{fs.f_statistic:.3f}, p = {fs.f_pvalue:.3g}; partial R2 = "
                f"{fs.partial_r2:.4f}"
            )
            if fs.cov_type != "classical":
                lines.append(
                    f"             Wald F ({fs.cov_type}) = {fs.wald_f_statistic:.3f}, "
                    f"p = {fs.wald_f_pvalue:.3g}"
                )
            if fs.is_weak is None:
                verdict = (
                    f"no Stock-Yogo critical value for {fs.n_instruments} instruments"
                )
            else:
                verdict = (
                    f"Stock-Yogo critical value {fs.critical_value:.2f} "
                    f"(2SLS size, 15% maximal size): "
                    + ("WEAK instruments" if fs.is_weak else "instruments not weak")
                )
            lines.append(f"             {verdict}")
        lines.append(
            "Inference is normal-based (asymptotic); "
            f"the covariance is {self.cov_type}."
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()
