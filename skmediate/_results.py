"""Frozen result objects: numbers only, no reference back to the data.

A :class:`MediationResult` holds the estimates and their covariance, the
counts and the data-free :class:`~skmediate._numerics.model.FittedModel`;
tables (pandas objects), effects, diagnostics and the Anderson–Rubin moments
are built from them when first asked for. Sentences about the numbers are
written by the renderer (:mod:`skmediate._report.render`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import special

from skmediate._numerics.diagnostics import (
    FirstStageDiagnostics,
    diagnostic_tests,
    first_stage_diagnostics,
    wald_pvalue,
    wald_statistic,
)
from skmediate._numerics.effects import mediation_effects
from skmediate._numerics.engine import KEEP_CLUSTER_GRAMS
from skmediate._numerics.joint import (
    AndersonRubinTest,
    direct_set,
    joint_anderson_rubin_test,
    mediator_set,
)
from skmediate._numerics.kleibergen import (
    robust_clr_defined,
    robust_clr_set,
    robust_lm_set,
)
from skmediate._numerics.model import FittedModel
from skmediate._numerics.projection import direct_ar_set
from skmediate._numerics.sets import (
    ConfidenceSet,
    difference_set,
    fieller_set,
    one_minus_ratio_set,
)
from skmediate._numerics.subvector import gkm_set, subvector_clr_set
from skmediate._numerics.weakiv import (
    AndersonRubinMoments,
    anderson_rubin_moments,
    anderson_rubin_set,
    clr_set,
    lm_set,
)
from skmediate._numerics.wild import (
    WildBootstrapTest,
    wild_confidence_set,
    wild_test,
)
from skmediate._restrictions import WaldTest, parse_restrictions
from skmediate._typing import RandomState
from skmediate._validation import as_generator, positive_int

if TYPE_CHECKING:
    from skmediate._report.document import Summary

__all__ = ["MediationResult", "inference_frame"]

_COLUMNS = ["estimate", "std_error", "z", "pvalue", "lower", "upper"]


def normal_quantile(confidence_level: float) -> float:
    """``z`` with ``P(|N(0,1)| <= z) = confidence_level``."""
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1); got {confidence_level}")
    return float(-special.ndtri((1 - confidence_level) / 2))


def two_sided_pvalue(z, df=None):
    """``2 P(|T| > |z|)`` for ``T`` standard normal (``df`` None) or ``t(df)``."""
    if df is None:
        return 2 * special.ndtr(-np.abs(z))
    return 2 * special.stdtr(df, -np.abs(z))


def critical_quantile(confidence_level: float, df=None):
    """The two-sided critical value: normal (``df`` None) or ``t(df)`` (broadcasts)."""
    q = normal_quantile(confidence_level)
    if df is None:
        return q
    return -special.stdtrit(np.asarray(df, dtype=float), (1 - confidence_level) / 2)


def inference_frame(
    estimate: np.ndarray, std_error: np.ndarray, index, confidence_level: float, df=None
) -> pd.DataFrame:
    """Estimate, std_error, z, pvalue, lower, upper.

    Normal-based; with degrees of freedom ``df`` (one per row) the statistic
    column is ``t``, intervals and p-values use ``t(df)`` and a column ``df``
    follows.
    """
    q = critical_quantile(confidence_level, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = estimate / std_error
    frame = pd.DataFrame(
        {
            "estimate": estimate,
            "std_error": std_error,
            "z" if df is None else "t": z,
            "pvalue": two_sided_pvalue(z, df),
            "lower": estimate - q * std_error,
            "upper": estimate + q * std_error,
        },
        index=index,
    )
    if df is not None:
        frame["df"] = np.broadcast_to(np.asarray(df, dtype=float), estimate.shape)
    return frame


@dataclass(frozen=True, eq=False)
class MediationResult:
    """Estimates and inference of a mediation regression.

    Attributes
    ----------
    method : str
        ``"IV-2SLS"``, ``"IV-LIML"``, ``"IV-Fuller"``, ``"IV-k-class"`` or
        ``"OLS"``.
    terms : tuple of str
        Term names: ``intercept``, the covariates, the controls, the
        treatment, the mediators.
    estimates : ndarray of shape (n_terms,)
    covariance : ndarray of shape (n_terms, n_terms)
    nobs : float
        Number of observations: the sum of the weights for frequency
        weights, the rows with positive weight for analytic and probability
        weights (and for a fit without weights, the rows).
    cov_type : str
    weight_type : {"frequency", "analytic", "probability"} or None
        How ``sample_weight`` entered the fit (the estimator's
        ``weight_type``); None for a fit without ``sample_weight``.
    confidence_level : float
        Default level of :meth:`conf_int`.
    treatment, outcome : str
    mediators : tuple of str
        The mediators' names (one or more); :attr:`mediator` is the name of
        the only one.
    instruments : tuple of str
        Names of the excluded instruments (empty for OLS).
    n_clusters : int or None
        Number of clusters for the cluster-robust ``cov_type`` values.
    kappa : float
        ``κ`` of the k-class estimator (1 for 2SLS and OLS).
    model : FittedModel
        The data-free fitted model that every other number is computed from
        (the internal interface of the workflows).
    n_dropped : int
        Rows left out of the fit for missing values (``missing="drop"``).
    missing_counts : tuple of (str, int)
        For each input with missing values (a column of ``X``, the outcome,
        ``sample_weight``, ``groups``), the number of rows missing it.
    """

    method: str
    terms: tuple
    estimates: np.ndarray
    nobs: float
    cov_type: str
    confidence_level: float
    treatment: str
    mediators: tuple
    outcome: str
    instruments: tuple
    n_clusters: int | None
    kappa: float
    model: FittedModel
    n_dropped: int = 0
    missing_counts: tuple = ()
    weight_type: str | None = None

    @cached_property
    def covariance(self) -> np.ndarray:
        """Covariance of :attr:`estimates` (formed from the fit's meat when first read)."""
        return self.model.cov

    @property
    def mediator(self) -> str:
        """The name of the mediator, for a fit with one (see :attr:`mediators`)."""
        if len(self.mediators) != 1:
            raise ValueError(
                f"the fit has {len(self.mediators)} mediators "
                f"{list(self.mediators)}; name one, or use .mediators"
            )
        return self.mediators[0]

    @property
    def rsquared(self) -> float:
        """``1 - RSS / TSS`` of the structural equation with the observed mediator."""
        return self.model.rsquared

    # -- the terms -------------------------------------------------------------

    @cached_property
    def params(self) -> pd.Series:
        """Estimates indexed by term name."""
        return pd.Series(self.estimates, index=list(self.terms), name="estimate")

    @cached_property
    def std_errors(self) -> pd.Series:
        """Standard errors of the estimates, from the fit's covariance."""
        return pd.Series(
            np.sqrt(np.diag(self.covariance)), index=list(self.terms), name="std_error"
        )

    @cached_property
    def cov(self) -> pd.DataFrame:
        """Covariance matrix of :attr:`params`."""
        terms = list(self.terms)
        return pd.DataFrame(self.covariance, index=terms, columns=terms)

    @property
    def use_t(self) -> bool:
        """Whether intervals and tests use t and F reference distributions."""
        return self.model.use_t

    @property
    def df(self) -> pd.Series | None:
        """Degrees of freedom of each term's t test (None when normal-based).

        ``n - k`` for the classical and heteroskedasticity-robust covariances,
        ``G - 1`` for ``cluster`` and ``CR0``, and the Bell–McCaffrey
        degrees of freedom of each coefficient for ``CR2``.
        """
        df = self.model.params_df
        if df is None:
            return None
        return pd.Series(df, index=list(self.terms), name="df")

    @property
    def zstats(self) -> pd.Series:
        """``params / std_errors`` (t statistics with ``use_t``)."""
        return self.params / self.std_errors

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values from the standard normal distribution, or ``t(df)``."""
        return pd.Series(
            two_sided_pvalue(self.zstats.to_numpy(), self.model.params_df),
            index=list(self.terms),
            name="pvalue",
        )

    def conf_int(self, confidence_level: float | None = None) -> pd.DataFrame:
        """Confidence intervals (normal, or ``t(df)``) of the terms.

        Parameters
        ----------
        confidence_level : float, default=None
            ``None`` uses the fit's ``confidence_level``.

        Returns
        -------
        pandas.DataFrame
            Columns ``lower`` and ``upper``, one row per term.
        """
        level = self.confidence_level if confidence_level is None else confidence_level
        return self._frame(level)[["lower", "upper"]]

    def to_frame(self) -> pd.DataFrame:
        """The coefficient table.

        Returns
        -------
        pandas.DataFrame
            One row per term, with columns ``estimate``, ``std_error``, ``z``
            (or ``t``), ``pvalue``, ``lower``, ``upper`` (and ``df`` with
            ``use_t``).
        """
        return self._frame(self.confidence_level)

    def _frame(self, level: float) -> pd.DataFrame:
        se = np.sqrt(np.diag(self.covariance))
        return inference_frame(
            self.estimates, se, list(self.terms), level, self.model.params_df
        )

    def term_inference(
        self, term: str, level: float | None = None
    ) -> tuple[float, float, float, float]:
        """Inference for one term, without pandas.

        Parameters
        ----------
        term : str
            A term name (see ``terms``).
        level : float, default=None
            Confidence level; ``None`` uses the fit's ``confidence_level``.

        Returns
        -------
        tuple of float
            ``(estimate, std_error, lower, upper)``.
        """
        j = self.terms.index(term)
        est, se = float(self.estimates[j]), float(np.sqrt(self.covariance[j, j]))
        df = self.model.params_df
        q = critical_quantile(
            self.confidence_level if level is None else level,
            None if df is None else df[j],
        )
        return est, se, est - q * se, est + q * se

    def wald_test(self, restrictions: Any) -> WaldTest:
        """Wald test of linear restrictions on the terms, with the fit's covariance.

        Parameters
        ----------
        restrictions : str, list of str or (R, q)
            Equations in the term names (:attr:`params`' index), separated by
            commas: ``"m = 0"``, ``"r + m = 1, x1 = x2"``, ``"2*x1 - x2 = 0"``;
            or a matrix ``R`` (one row per restriction, one column per term)
            and a vector ``q`` for ``R β = q``.

        Returns
        -------
        WaldTest
            ``statistic``, ``pvalue``, ``df`` (the number of restrictions) and,
            with ``use_t``, the F test's ``df_denom`` (``n - k``, or ``G - 1``
            for the cluster-robust types): ``W / df`` against
            ``F(df, df_denom)``; otherwise ``W`` against ``χ²(df)``. With a
            cluster-robust covariance and more restrictions than ``G - 1``
            the statistic is not defined (NaN).

        Raises
        ------
        ValueError
            For an unknown term, an equation that cannot be read, or
            restrictions that are linearly dependent.
        """
        r, q, texts = parse_restrictions(restrictions, self.terms)
        j = r.shape[0]
        if np.linalg.matrix_rank(r) < j:
            raise ValueError(
                f"the restrictions {list(texts)} are linearly dependent; drop the "
                "ones implied by the others"
            )
        model = self.model
        if model.defines_joint_test(j):
            wald = wald_statistic(r @ self.estimates - q, r @ self.covariance @ r.T)
        else:
            wald = np.nan
        df_denom = model.reference_df(model.n_params)
        return WaldTest(
            statistic=float(wald / j if df_denom is not None else wald),
            pvalue=float(wald_pvalue(wald, j, df_denom)),
            df=int(j),
            df_denom=df_denom,
            distribution="F" if df_denom is not None else "chi2",
            restrictions=texts,
        )

    # -- effects, diagnostics, weak-IV-robust inference ----------------------------

    @cached_property
    def first_stage(self) -> FirstStageDiagnostics | None:
        """First-stage diagnostics (IV only)."""
        if not self.instruments:
            return None
        return first_stage_diagnostics(self.model)

    @cached_property
    def _effects(self):
        return mediation_effects(self.model)

    @cached_property
    def effects(self) -> pd.DataFrame:
        """The mediation effects, one row each.

        Direct, mediator, effect on mediator, indirect, total,
        intention-to-treat and proportion mediated effects, with columns
        estimate, std_error, z, pvalue, lower, upper (delta method on the
        stacked estimating equations).
        """
        return self.effects_at(self.confidence_level)

    @cached_property
    def effects_cov(self) -> pd.DataFrame:
        """Joint covariance of the effect estimates."""
        index = pd.Index(self._effects.names, name="effect")
        return pd.DataFrame(self._effects.cov, index=index, columns=index)

    def effect_estimate(self, name: str) -> float:
        """The estimate of one effect.

        Parameters
        ----------
        name : str
            A row name of :attr:`effects`.

        Returns
        -------
        float
            The estimate.
        """
        names = self._effects.names
        if name not in names:
            raise ValueError(f"unknown effect {name!r}; the effects are {list(names)}")
        return float(self._effects.estimate[names.index(name)])

    @cached_property
    def diagnostic_tests(self) -> tuple | None:
        """The IV diagnostics as :class:`~skmediate._numerics.diagnostics.DiagnosticTest` rows."""
        if self.first_stage is None:
            return None
        return diagnostic_tests(self.model, self.first_stage)

    @cached_property
    def diagnostics(self) -> pd.DataFrame | None:
        """IV diagnostics, one row per test (IV only).

        Rows are the keys of ``DIAGNOSTIC_KEYS``; columns statistic, df,
        df_denom, pvalue, critical_value.
        """
        rows = self.diagnostic_tests
        if rows is None:
            return None
        return pd.DataFrame(
            {
                "statistic": [r.statistic for r in rows],
                "df": [r.df for r in rows],
                "df_denom": [r.df_denom for r in rows],
                "pvalue": [r.pvalue for r in rows],
                "critical_value": [r.critical_value for r in rows],
            },
            index=pd.Index([r.key for r in rows], name="test"),
        )

    @cached_property
    def anderson_rubin_moments(self) -> AndersonRubinMoments | None:
        """The moments of the Anderson–Rubin test (IV only).

        The small matrices from which the Anderson–Rubin test and confidence
        set for the mediator effect follow at any level.
        """
        if not self.instruments:
            return None
        return anderson_rubin_moments(self.model)

    def anderson_rubin_set(
        self, confidence_level: float | None = None
    ) -> list[tuple[float, float]]:
        """Anderson–Rubin confidence set for the mediator effect (IV only).

        See :meth:`IVMediationRegressor.anderson_rubin_confidence_set`.

        Parameters
        ----------
        confidence_level : float, default=None
            ``None`` uses the fit's ``confidence_level``.

        Returns
        -------
        list of (float, float)
            The set's intervals, in increasing order.
        """
        if self.anderson_rubin_moments is None:
            raise ValueError(
                "the Anderson-Rubin set needs excluded instruments; this "
                f"{self.method} fit has none"
            )
        if len(self.mediators) > 1:
            raise ValueError(
                f"the fit has {len(self.mediators)} mediators "
                f"{list(self.mediators)}: use confidence_set('mediator', 'AR', "
                "mediator=...) for one of them, or anderson_rubin_test(theta0) "
                "for all at once"
            )
        level = self.confidence_level if confidence_level is None else confidence_level
        return anderson_rubin_set(self.anderson_rubin_moments, level)

    def anderson_rubin_test(self, theta0: Any) -> AndersonRubinTest:
        """The joint Anderson–Rubin test of ``H₀: θ_M = θ₀`` for every mediator (IV only).

        See :meth:`IVMediationRegressor.anderson_rubin_test`, which calls it.

        Parameters
        ----------
        theta0 : float, sequence of float or dict
            The tested effect of each mediator: a sequence in the order of
            :attr:`mediators`, or a dict keyed by mediator name (every
            mediator once); a float with one mediator.

        Returns
        -------
        AndersonRubinTest
            The statistic, its p-value and reference distribution.
        """
        moments = self.anderson_rubin_moments
        if moments is None:
            raise ValueError(
                "the Anderson-Rubin test needs excluded instruments; this "
                f"{self.method} fit has none"
            )
        values = self._mediator_values(theta0)
        stat, pvalue, df, df_denom = joint_anderson_rubin_test(moments, values)
        return AndersonRubinTest(
            statistic=float(stat),
            pvalue=float(pvalue),
            df=int(df),
            df_denom=df_denom,
            distribution="F" if df_denom is not None else "chi2",
            theta0=tuple(zip(self.mediators, map(float, values), strict=True)),
        )

    def _mediator_values(self, theta0) -> np.ndarray:
        names = list(self.mediators)
        if isinstance(theta0, dict):
            unknown = [k for k in theta0 if k not in names]
            missing = [k for k in names if k not in theta0]
            if unknown or missing:
                raise ValueError(
                    f"theta0 must give a value for each mediator {names}; "
                    + (f"unknown: {unknown}" if unknown else f"missing: {missing}")
                )
            theta0 = [theta0[k] for k in names]
        values = np.atleast_1d(np.asarray(theta0, dtype=float))
        if values.ndim != 1 or values.size != len(names):
            raise ValueError(
                f"theta0 must have one value per mediator {names} (got "
                f"{values.size}); or pass a dict keyed by mediator name"
            )
        if not np.isfinite(values).all():
            raise ValueError("theta0 must be finite")
        return values

    # -- confidence sets and the wild bootstrap ----------------------------------

    def effects_at(self, level: float) -> pd.DataFrame:
        """The effects table (see :attr:`effects`) at another confidence level.

        Parameters
        ----------
        level : float
            The confidence level of the intervals.

        Returns
        -------
        pandas.DataFrame
            The table of :attr:`effects`, with intervals at ``level``.
        """
        effects = self._effects
        return inference_frame(
            effects.estimate,
            np.sqrt(np.diag(effects.cov)),
            pd.Index(effects.names, name="effect"),
            level,
            effects.df,
        )

    def confidence_set(
        self,
        effect: str = "mediator",
        method: str | None = None,
        *,
        mediator: str | None = None,
        confidence_level: float | None = None,
        **kwargs: Any,
    ) -> ConfidenceSet:
        """A confidence set for one effect.

        See :meth:`IVMediationRegressor.confidence_set`, which calls it.

        Parameters
        ----------
        effect : {"direct", "mediator", "indirect", "total", \
                "proportion_mediated"}, default="mediator"
            The effect.
        method : str, default=None
            ``None`` (the recommended method), ``"wald"``, ``"AR"``,
            ``"AR-GKM"``, ``"projection"``, ``"LM"``, ``"CLR"`` or ``"wild"``.
        mediator : str, default=None
            The mediator of ``effect="mediator"`` in a fit with several
            (required there); with one mediator it may name it.
        confidence_level : float, default=None
            ``None`` uses the fit's ``confidence_level``.
        **kwargs
            Options of the wild bootstrap (``method="wild"`` only).

        Returns
        -------
        ConfidenceSet
            A union of disjoint closed intervals.
        """
        level = self.confidence_level if confidence_level is None else confidence_level
        if not 0 < level < 1:
            raise ValueError(f"confidence_level must be in (0, 1); got {level}")
        effects = ("direct", "mediator", "indirect", "total", "proportion_mediated")
        if effect not in effects:
            raise ValueError(f"effect must be one of {list(effects)}; got {effect!r}")
        index = self._mediator_index(effect, mediator)
        if method == "anderson_rubin":
            method = "AR"
        if method is None:
            method = self._default_set_method(effect)
        if method != "wild" and kwargs:
            raise TypeError(
                f"unexpected arguments for method={method!r}: {sorted(kwargs)}"
            )
        if len(self.mediators) == 1:
            pieces = self._set_pieces(effect, method, level, kwargs)
            name = ""
        else:
            pieces = self._several_pieces(effect, method, level, index)
            name = "" if index is None else self.mediators[index]
        return ConfidenceSet(
            tuple(pieces),
            effect=effect,
            method=method,
            confidence_level=level,
            mediator=name,
        )

    def _mediator_index(self, effect: str, mediator: str | None) -> int | None:
        """The position of ``mediator`` (None where the effect needs none)."""
        names = list(self.mediators)
        if mediator is not None and mediator not in names:
            raise ValueError(
                f"unknown mediator {mediator!r}; the mediators are {names}"
            )
        if len(names) == 1:
            return None if mediator is None else 0
        if effect != "mediator":
            if mediator is not None:
                raise ValueError(
                    f"mediator= selects the mediator of effect='mediator'; the "
                    f"{effect!r} effect is one number for all mediators {names} "
                    "(the indirect effect and the proportion mediated are "
                    "their sums)"
                )
            return None
        if mediator is None:
            raise ValueError(
                f"the fit has {len(names)} mediators {names}: name one with "
                "mediator=..."
            )
        return names.index(mediator)

    def _several_pieces(self, effect, method, level, index):
        """The sets of a fit with several mediators (see ``confidence_set``)."""
        if method == "wald":
            if effect == "mediator":
                _, _, low, high = self.term_inference(self.mediators[index], level)
                return [(low, high)]
            return self._set_pieces(effect, method, level, {})
        if method not in ("AR", "projection"):
            raise ValueError(
                f"with several mediators method must be 'wald', 'AR' or "
                f"'projection' (the {method!r} set is for one mediator); got "
                f"{method!r}"
            )
        moments = self.anderson_rubin_moments
        if moments is None:
            raise ValueError("the Anderson-Rubin sets need an IV fit")
        if effect == "total":
            raise ValueError(
                "the total effect's interval is the intention-to-treat Wald "
                "interval (method='wald'); it needs no instruments"
            )
        if effect == "mediator":
            return mediator_set(moments, index, level, method)
        if effect == "direct":
            return direct_set(moments, level, method)
        half = 1 - (1 - level) / 2  # Bonferroni: two sets at 1 - α/2
        direct = direct_set(moments, half, method)
        row = self.effects_at(half).loc["intention_to_treat"]
        total = [(row["lower"], row["upper"])]
        if effect == "indirect":
            return difference_set(total, direct)
        return one_minus_ratio_set(direct, total)

    def wild_bootstrap_test(
        self,
        effect: str,
        value: float,
        *,
        n_resamples: int = 999,
        weights: str = "rademacher",
        random_state: RandomState = None,
    ) -> WildBootstrapTest:
        """The wild restricted efficient bootstrap test of ``H₀: effect = value``.

        See :meth:`IVMediationRegressor.wild_bootstrap_test`, which calls it.

        Parameters
        ----------
        effect : {"direct", "mediator"}
            ``θ_R`` or ``θ_M``.
        value : float
            ``θ₀``.
        n_resamples : int, default=999
            Number of bootstrap samples.
        weights : {"rademacher", "webb"}, default="rademacher"
            The multipliers.
        random_state : int, numpy Generator or RandomState, default=None
            Seed of the multipliers' draws.

        Returns
        -------
        WildBootstrapTest
            The statistic, its bootstrap p-value and distribution.
        """
        return wild_test(
            self._wild_model(),
            effect,
            value,
            n_resamples=positive_int(n_resamples, "n_resamples"),
            weights=weights,
            random_state=as_generator(random_state),
        )

    def set_verdict(self, effect: str, confidence_set: ConfidenceSet) -> str:
        """What a recommended set says, as a key (the renderer words it).

        ``"unbounded"`` (the data cannot bound the effect), ``"empty"``,
        ``"invalid_instruments"`` (the set excludes 0 or the estimate while
        the overidentification test rejects at the confidence level),
        ``"weak"`` (weak instruments: report the robust set) or ``""``.

        Parameters
        ----------
        effect : str
            The effect the set is for.
        confidence_set : ConfidenceSet
            The recommended set (``confidence_set(effect)``).

        Returns
        -------
        str
            One of the keys above.
        """
        if confidence_set.method == "wald" or self.first_stage is None:
            return ""
        if not confidence_set.is_bounded:
            return "unbounded"
        if confidence_set.is_empty:
            return "empty"
        name = "intention_to_treat" if effect == "total" else effect
        if confidence_set.mediator:
            name = f"{effect}[{confidence_set.mediator}]"
        estimate = self.effect_estimate(name)
        if self._overidentification_rejects() and (
            0.0 not in confidence_set or estimate not in confidence_set
        ):
            return "invalid_instruments"
        return "weak" if self.first_stage.is_weak else ""

    def _overidentification_rejects(self) -> bool:
        key = "sargan" if self.model.kind.homoskedastic else "hansen_j"
        for row in self.diagnostic_tests or ():
            if row.key == key and np.isfinite(row.pvalue):
                return bool(row.pvalue < 1 - self.confidence_level)
        return False

    def _default_set_method(self, effect: str) -> str:
        if not bool(self.instruments) or effect == "total":
            return "wald"
        if len(self.mediators) > 1:
            return "AR"
        if effect == "mediator":
            if self.model.kind.homoskedastic:
                return "CLR"
            return "CLR" if robust_clr_defined(self.anderson_rubin_moments) else "AR"
        return "AR"

    def _set_pieces(self, effect, method, level, kwargs):
        result = self
        if method == "wald":
            if effect in ("direct", "mediator"):
                term = result.treatment if effect == "direct" else result.mediator
                _, _, low, high = result.term_inference(term, level)
                return [(low, high)]
            frame = result.effects_at(level)
            if effect == "proportion_mediated":
                cov = result.effects_cov
                df = frame["df"].loc[effect] if "df" in frame else None
                return fieller_set(
                    frame.loc["indirect", "estimate"],
                    frame.loc["total", "estimate"],
                    cov.loc["indirect", "indirect"],
                    cov.loc["indirect", "total"],
                    cov.loc["total", "total"],
                    critical_quantile(level, df),
                )
            row = frame.loc["intention_to_treat" if effect == "total" else effect]
            return [(row["lower"], row["upper"])]
        if method in ("AR", "AR-GKM", "projection") or (
            method == "CLR" and effect != "mediator"
        ):
            if not bool(self.instruments):
                raise ValueError(f"the {method} sets need an IV fit")
            if effect == "mediator":  # the joint set is the mediator's own
                if method == "AR-GKM":
                    raise ValueError(
                        "method='AR-GKM' is for the direct effect and the sets "
                        "built on it; the mediator effect's Anderson-Rubin set "
                        "(method='AR') has no nuisance parameter"
                    )
                return result.anderson_rubin_set(level)
            if effect == "total":
                raise ValueError(
                    "the total effect's interval is the intention-to-treat Wald "
                    "interval (method='wald'); it needs no instruments"
                )
            if effect == "direct":
                return self._direct_set(method, level)
            half = 1 - (1 - level) / 2  # Bonferroni: two sets at 1 - α/2
            direct = self._direct_set(method, half)
            row = result.effects_at(half).loc["intention_to_treat"]
            total = [(row["lower"], row["upper"])]
            if effect == "indirect":
                return difference_set(total, direct)
            return one_minus_ratio_set(direct, total)
        if method in ("LM", "CLR"):
            if effect != "mediator" or not bool(self.instruments):
                raise ValueError(
                    f"the {method} set is for the mediator effect of an IV fit"
                )
            moments = self.anderson_rubin_moments
            if moments.homoskedastic:
                return (lm_set if method == "LM" else clr_set)(moments, level)
            robust = robust_lm_set if method == "LM" else robust_clr_set
            return robust(moments, level)
        if method == "wild":
            if effect not in ("direct", "mediator"):
                raise ValueError(
                    "the wild bootstrap set is for the direct and the mediator effect"
                )
            unknown = set(kwargs) - {"n_resamples", "weights", "random_state"}
            if unknown:
                raise TypeError(
                    f"unexpected arguments for method='wild': {sorted(unknown)}"
                )
            term = result.treatment if effect == "direct" else result.mediator
            estimate, se, _, _ = result.term_inference(term, level)
            return wild_confidence_set(
                self._wild_model(),
                effect,
                level,
                n_resamples=positive_int(kwargs.get("n_resamples", 999), "n_resamples"),
                weights=kwargs.get("weights", "rademacher"),
                random_state=as_generator(kwargs.get("random_state")),
                start=estimate,
                scale=se,
            )
        raise ValueError(
            "method must be 'wald', 'AR', 'AR-GKM', 'projection', 'LM', 'CLR' or "
            f"'wild'; got {method!r}"
        )

    def _direct_set(self, method: str, level: float) -> list[tuple[float, float]]:
        """The direct effect's robust set: ``"AR"``, ``"AR-GKM"``, ``"CLR"`` or
        ``"projection"`` (of the joint set of ``(θ_R, θ_M)``; the robust
        ``"AR"`` set is that projection already)."""
        moments = self.anderson_rubin_moments
        if method == "AR" or (method == "projection" and not moments.homoskedastic):
            return direct_ar_set(moments, level)
        if method == "projection":
            return direct_set(moments, level, "projection")
        return (gkm_set if method == "AR-GKM" else subvector_clr_set)(moments, level)

    def _wild_model(self):
        model = self.model
        if model.cluster_grams is None:
            if not model.kind.clustered:
                raise ValueError(
                    "the wild cluster bootstrap needs clusters: fit with a "
                    "cluster-robust cov_type ('cluster', 'CR0' or 'CR2') and "
                    "groups=...; groups=np.arange(n_samples) gives the wild "
                    "bootstrap of independent rows"
                )
            raise ValueError(
                f"the fit has {model.n_clusters} clusters, more than "
                f"{KEEP_CLUSTER_GRAMS}: it keeps no per-cluster cross-products "
                "for the wild cluster bootstrap (with that many clusters the "
                "cluster-robust standard errors are reliable)"
            )
        return model

    # -- text --------------------------------------------------------------------

    def summary(self) -> Summary:
        """Summarize the fit: estimates, effects, first stage and robust sets.

        For IV fits, the first stage, the Anderson–Rubin set beside the Wald
        interval, every effect's robust set, and the diagnostics.

        Returns
        -------
        Summary
            Prints as text and renders as HTML in Jupyter; ``as_text()``,
            ``as_html()``, ``as_markdown()`` and ``as_latex()`` give each
            format, and ``tables`` the numbers as DataFrames (the
            coefficients are ``tables[1]``, the effects ``tables[2]``).
        """
        from skmediate._report.render import result_summary

        return result_summary(self)

    def __str__(self) -> str:
        return self.summary().as_text()
