"""Frozen result objects: numbers only, no reference back to the data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ._diagnostics import DiagnosticTest, FirstStageDiagnostics
from ._effects import EFFECT_NAMES, MediationEffects
from ._weakiv import AndersonRubinMoments, _critical, anderson_rubin_set

__all__ = ["MediationResult", "diagnostics_frame", "effects_frame"]

_WIDTH = 78
_COLUMNS = ["estimate", "std_error", "z", "pvalue", "lower", "upper"]


def _inference_frame(
    estimate: np.ndarray, std_error: np.ndarray, index, confidence_level: float
) -> pd.DataFrame:
    """Estimate, std_error, z, pvalue, lower, upper (normal-based)."""
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1); got {confidence_level}")
    with np.errstate(divide="ignore", invalid="ignore"):
        z = estimate / std_error
    q = stats.norm.isf((1 - confidence_level) / 2)
    return pd.DataFrame(
        {
            "estimate": estimate,
            "std_error": std_error,
            "z": z,
            "pvalue": 2 * stats.norm.sf(np.abs(z)),
            "lower": estimate - q * std_error,
            "upper": estimate + q * std_error,
        },
        index=index,
    )


def effects_frame(effects: MediationEffects, confidence_level: float) -> pd.DataFrame:
    """The effects table: one row per name in ``EFFECT_NAMES``."""
    return _inference_frame(
        effects.estimate,
        np.sqrt(np.diag(effects.cov)),
        pd.Index(EFFECT_NAMES, name="effect"),
        confidence_level,
    )


def diagnostics_frame(rows: tuple[DiagnosticTest, ...]) -> pd.DataFrame:
    """The diagnostics table: one row per test, indexed by its name."""
    return pd.DataFrame(
        {
            "statistic": [r.statistic for r in rows],
            "df": [r.df for r in rows],
            "df_denom": [r.df_denom for r in rows],
            "pvalue": [r.pvalue for r in rows],
            "critical_value": [r.critical_value for r in rows],
            "interpretation": [r.interpretation for r in rows],
        },
        index=pd.Index([r.name for r in rows], name="test"),
    )


def _format_set(intervals) -> str:
    if not intervals:
        return "empty"

    def end(value):
        return (
            f"{value:.4f}" if np.isfinite(value) else ("-inf" if value < 0 else "inf")
        )

    return " U ".join(f"[{end(lo)}, {end(hi)}]" for lo, hi in intervals)


@dataclass(frozen=True, eq=False)
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
    kappa : float
        ``κ`` of the k-class estimator (1 for 2SLS and OLS).
    effects : pandas.DataFrame or None
        Direct, mediator, effect on mediator, indirect, total,
        intention-to-treat and proportion mediated effects, with columns
        estimate, std_error, z, pvalue, lower, upper (delta method on the
        stacked estimating equations).
    effects_cov : pandas.DataFrame or None
        Joint covariance of the effect estimates.
    diagnostics : pandas.DataFrame or None
        IV diagnostics with columns statistic, df, df_denom, pvalue,
        critical_value, interpretation.
    anderson_rubin_moments : AndersonRubinMoments or None
        The small matrices from which the Anderson–Rubin test and confidence
        set for the mediator effect follow at any level (IV only; see
        :meth:`anderson_rubin_set`).
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
    kappa: float = 1.0
    effects: pd.DataFrame | None = None
    effects_cov: pd.DataFrame | None = None
    diagnostics: pd.DataFrame | None = None
    anderson_rubin_moments: AndersonRubinMoments | None = None

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
        frame = _inference_frame(
            self.params.to_numpy(), self.std_errors.to_numpy(), self.params.index, level
        )
        return frame[["lower", "upper"]]

    def anderson_rubin_set(
        self, confidence_level: float | None = None
    ) -> list[tuple[float, float]]:
        """Anderson–Rubin confidence set for the mediator effect (IV only).

        See :meth:`IVMediationRegressor.anderson_rubin_confidence_set`.
        """
        if self.anderson_rubin_moments is None:
            raise ValueError(
                "the Anderson-Rubin set needs excluded instruments; this "
                f"{self.method} fit has none"
            )
        level = self.confidence_level if confidence_level is None else confidence_level
        return anderson_rubin_set(self.anderson_rubin_moments, level)

    def to_frame(self) -> pd.DataFrame:
        """One row per term: estimate, std_error, z, pvalue, lower, upper."""
        return _inference_frame(
            self.params.to_numpy(),
            self.std_errors.to_numpy(),
            self.params.index,
            self.confidence_level,
        )

    def summary(self) -> str:
        """A text summary: estimates, effects, and for IV the first stage, the
        Anderson–Rubin set beside the Wald interval, and the diagnostics."""
        title = {
            "IV-2SLS": "IV mediation regression (two-stage least squares)",
            "IV-LIML": "IV mediation regression (LIML)",
            "IV-Fuller": "IV mediation regression (Fuller-modified LIML)",
            "IV-k-class": f"IV mediation regression (k-class, kappa = {self.kappa:g})",
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
        if self.method in ("IV-LIML", "IV-Fuller"):
            lines.append(f"{'Kappa:':<13}{self.kappa:.6f}")
        level = self.confidence_level
        lo, hi = f"[{(1 - level) / 2:.3f}", f"{1 - (1 - level) / 2:.3f}]"
        header = (
            f"{'':<18}{'coef':>10}{'std err':>10}{'z':>9}{'P>|z|':>9}{lo:>11}{hi:>11}"
        )
        lines += ["=" * _WIDTH, header, "-" * _WIDTH]
        lines += _table_lines(self.to_frame())
        lines.append("=" * _WIDTH)
        if self.effects is not None:
            lines += [
                "Effects (delta method, stacked estimating equations)",
                "-" * _WIDTH,
            ]
            lines += _table_lines(self.effects)
            lines.append("=" * _WIDTH)
        if self.first_stage is not None:
            lines += self._first_stage_lines()
        if self.anderson_rubin_moments is not None:
            lines += self._anderson_rubin_lines()
        if self.diagnostics is not None:
            lines += _diagnostics_lines(self.diagnostics)
        lines.append(
            "Inference is normal-based (asymptotic); "
            f"the covariance is {self.cov_type}."
        )
        return "\n".join(lines)

    def _first_stage_lines(self) -> list[str]:
        fs = self.first_stage
        lines = [
            f"First stage: partial F({fs.df_num:g}, {fs.df_denom:g}) = "
            f"{fs.f_statistic:.3f}, p = {fs.f_pvalue:.3g}; partial R2 = "
            f"{fs.partial_r2:.4f}"
        ]
        if fs.cov_type != "classical":
            lines.append(
                f"             Wald F ({fs.cov_type}) = {fs.wald_f_statistic:.3f}, "
                f"p = {fs.wald_f_pvalue:.3g}"
            )
        if fs.is_weak is None:
            verdict = f"no Stock-Yogo critical value for {fs.n_instruments} instruments"
        else:
            verdict = (
                f"Stock-Yogo critical value {fs.critical_value:.2f} "
                f"(2SLS size, 15% maximal size): "
                + ("WEAK instruments" if fs.is_weak else "instruments not weak")
            )
        lines.append(f"             {verdict}")
        return lines

    def _anderson_rubin_lines(self) -> list[str]:
        level = self.confidence_level
        wald = self.conf_int().loc[self.mediator]
        ar = self.anderson_rubin_set()
        lines = [
            f"{level:.0%} confidence sets for the mediator effect {self.mediator!r}:",
            f"  {f'Wald ({self.method}):':<22}{_format_set([(wald.lower, wald.upper)])}",
            f"  {'Anderson-Rubin:':<22}{_format_set(ar)} (robust to weak instruments)",
        ]
        weak_text = ""
        if self.diagnostics is not None:
            eff = self.diagnostics.iloc[
                [i for i, n in enumerate(self.diagnostics.index) if "effective F" in n]
            ]
            if len(eff) and eff.statistic.iloc[0] < eff.critical_value.iloc[0]:
                weak_text = (
                    f"effective F = {eff.statistic.iloc[0]:.2f} < "
                    f"{eff.critical_value.iloc[0]:.2f}"
                )
        # Half-widths the set may have with strong instruments: up to the
        # Wald interval at the Anderson-Rubin critical value (p degrees of
        # freedom rather than 1).
        z = stats.norm.isf((1 - level) / 2)
        stretch = np.sqrt(_critical(self.anderson_rubin_moments, level)) / z
        lines += ["  " + line for line in _ar_verdict(wald, ar, weak_text, stretch)]
        return lines

    def __str__(self) -> str:
        return self.summary()


def _table_lines(table: pd.DataFrame) -> list[str]:
    lines = []
    for name, row in table.iterrows():
        label = name if len(name) <= 17 else name[:16] + "~"
        lines.append(
            f"{label:<18}{row.estimate:>10.4f}{row.std_error:>10.4f}"
            f"{row.z:>9.3f}{row.pvalue:>9.3f}{row.lower:>11.4f}{row.upper:>11.4f}"
        )
    return lines


def _diagnostics_lines(table: pd.DataFrame) -> list[str]:
    lines = [
        "=" * _WIDTH,
        f"{'Diagnostics':<40}{'statistic':>10}{'df':>8}{'p-value':>10}{'critical':>10}",
        "-" * _WIDTH,
    ]
    for name, row in table.iterrows():
        label = name if len(name) <= 39 else name[:38] + "~"

        def num(value, fmt):
            return format(value, fmt) if np.isfinite(value) else "-"

        df = num(row.df, ".3g")
        if np.isfinite(row.df_denom):
            df = f"{df},{row.df_denom:.0f}"
        lines.append(
            f"{label:<40}{num(row.statistic, '.3f'):>10}{df:>8}"
            f"{num(row.pvalue, '.3g'):>10}{num(row.critical_value, '.2f'):>10}"
        )
    lines.append("=" * _WIDTH)
    return lines


def _ar_verdict(wald, ar, weak_text: str, stretch: float) -> list[str]:
    """Plain-language comparison of the Wald interval with the Anderson–Rubin set.

    With strong instruments the Anderson–Rubin set is one interval around the
    estimate, at most as wide as the Wald interval at the Anderson–Rubin
    critical value (``stretch`` times the Wald half-width); anything else,
    beyond a 25% allowance, counts as disagreement.
    """
    if not ar:
        return [
            "The Anderson-Rubin set is empty: every value is rejected, which",
            "points to invalid instruments (failed overidentifying restrictions).",
        ]
    if len(ar) > 1 or not np.isfinite(ar[0][0]) or not np.isfinite(ar[0][1]):
        return [
            "The Anderson-Rubin set is unbounded: the instruments are too weak to",
            "bound the mediator effect, and the Wald interval understates the",
            "uncertainty. Report the Anderson-Rubin set.",
        ]
    center = (wald.lower + wald.upper) / 2
    half = (wald.upper - wald.lower) / 2
    limit = 1.25 * stretch * half
    (low, high) = ar[0]
    if low <= center <= high and center - low <= limit and high - center <= limit:
        return ["The Wald interval and the Anderson-Rubin set agree."]
    if weak_text:
        return [
            "The two disagree because the instruments are weak",
            f"({weak_text}): report the Anderson-Rubin set;",
            "the Wald interval is unreliable.",
        ]
    return [
        "The two differ although the effective F does not flag weak instruments;",
        "see the overidentification tests.",
    ]
