"""Figures for mediation analyses (needs matplotlib: the ``plot`` extra).

Every function draws one kind of figure and returns the matplotlib
``Figure``; functions with a single panel accept ``ax`` to draw into an
existing axes. Figures are created with ``matplotlib.pyplot``, so
``plt.show()`` displays them; close them with ``plt.close(fig)`` when drawing
many. matplotlib is imported when a function is first called.

Contents, by what they show:

- data: :func:`plot_outcome_by_arm`, :func:`plot_first_stage`;
- estimates: :func:`plot_forest`;
- resampling: :func:`plot_bootstrap_distribution`;
- sensitivity analysis: :func:`plot_sensitivity_surface`,
  :func:`plot_sensitivity_forest`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from skmediate._extract import (
    EFFECTS,
    effect_inference,
    mediation_result,
    truth_values,
)
from skmediate._numerics.design import Design
from skmediate._numerics.effects import first_stage_at_mean
from skmediate._numerics.engine import fit_model

__all__ = [
    "plot_bootstrap_distribution",
    "plot_first_stage",
    "plot_forest",
    "plot_outcome_by_arm",
    "plot_sensitivity_forest",
    "plot_sensitivity_surface",
]
from skmediate._typing import Column, Columns, Data

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from skmediate._sensitivity import SensitivityGrid


_EFFECT_LABELS = {
    "direct_effect": "Direct effect of the treatment",
    "mediator_effect": "Effect of the mediator",
    "effect_on_mediator": "Effect of the treatment on the mediator",
    "indirect_effect": "Indirect effect",
    "total_effect": "Total effect",
}
# With several mediators: the title of a per-mediator effect's panel.
_MEDIATOR_LABELS = {
    "mediator_effect": "Effect of {}",
    "effect_on_mediator": "Effect of the treatment on {}",
    "indirect_effect": "Indirect effect through {}",
}


# -- shared helpers -----------------------------------------------------------


def _pyplot():
    """``matplotlib.pyplot``, or an ImportError saying how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "skmediate.plotting needs matplotlib, which is not installed. Install "
            "it with `pip install matplotlib` (or `pip install 'skmediate[plot]'`)."
        ) from exc
    return plt


def _figure_and_axes(ax, figsize):
    """A new figure with one axes, or the figure of the given axes."""
    if ax is None:
        fig, ax = _pyplot().subplots(figsize=figsize, layout="constrained")
        return fig, ax
    _pyplot()
    return ax.figure, ax


def _figure_and_panels(n_panels, axes, panel_size, *, max_columns=3, sharey=False):
    """A new figure with ``n_panels`` axes in rows of ``max_columns``, or the given axes."""
    if axes is None:
        ncols = min(n_panels, max_columns)
        nrows = -(-n_panels // ncols)
        width, height = panel_size
        fig, grid = _pyplot().subplots(
            nrows,
            ncols,
            figsize=(width * ncols, height * nrows),
            layout="constrained",
            squeeze=False,
            sharey=sharey,
        )
        grid = list(grid.ravel())
        for extra in grid[n_panels:]:
            extra.set_visible(False)
        return fig, grid[:n_panels]
    _pyplot()
    axes = list(np.ravel(axes))
    if len(axes) != n_panels:
        raise ValueError(
            f"axes must hold {n_panels} axes (one per panel); got {len(axes)}"
        )
    return axes[0].figure, axes


def _vector(values, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional; got shape {arr.shape}")
    return arr


def _label(value) -> str:
    return f"{value:g}" if isinstance(value, (int, float, np.number)) else str(value)


# -- data ---------------------------------------------------------------------


def plot_outcome_by_arm(
    y: ArrayLike,
    treatment: ArrayLike,
    *,
    labels: Mapping | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Box plots of the outcome in each treatment arm (Figure 1 of Small 2012).

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Outcome. A pandas Series' name labels the vertical axis.
    treatment : array-like of shape (n_samples,)
        Treatment arm of each subject. A Series' name labels the horizontal
        axis.
    labels : dict, default=None
        Arm value -> label, e.g. ``{0: "Control", 1: "Intervention"}``; by
        default the arm values.
    ax : matplotlib Axes, default=None
        Axes to draw into; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn into.

    Notes
    -----
    Boxes span the quartiles, whiskers reach the most extreme values within
    1.5 interquartile ranges, and a white diamond marks each arm's mean; the
    number of subjects is in each label.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from skmediate.datasets import make_prospect_like
    >>> from skmediate.plotting import plot_outcome_by_arm
    >>> X, y = make_prospect_like(random_state=0)
    >>> fig = plot_outcome_by_arm(y, X["r"], labels={0: "Usual care", 1: "Intervention"})
    >>> fig.axes[0].get_xticklabels()[1].get_text().splitlines()
    ['Intervention', '(n = 145)']
    >>> plt.close(fig)
    """
    outcome = _vector(y, "y").astype(float)
    arm = _vector(treatment, "treatment")
    if outcome.shape != arm.shape:
        raise ValueError(
            f"y and treatment must have the same length; got {outcome.shape[0]} "
            f"and {arm.shape[0]}"
        )
    if not np.isfinite(outcome).all():
        raise ValueError("y contains NaN or inf; drop or impute those rows first")
    arms = np.unique(arm)
    labels = {} if labels is None else dict(labels)
    groups = [outcome[arm == a] for a in arms]
    names = [
        f"{labels.get(a, _label(a))}\n(n = {g.size})"
        for a, g in zip(arms, groups, strict=True)
    ]
    fig, ax = _figure_and_axes(ax, (4.5, 4.5))
    ax.boxplot(groups, tick_labels=names, widths=0.5)
    ax.scatter(
        np.arange(1, arms.size + 1),
        [g.mean() for g in groups],
        marker="D",
        color="white",
        edgecolor="black",
        zorder=3,
        label="mean",
    )
    ax.set_ylabel(getattr(y, "name", None) or "outcome")
    ax.set_xlabel(getattr(treatment, "name", None) or "treatment arm")
    ax.legend(loc="upper right", frameon=False)
    return fig


def _arm_difference(m, r, confidence_level):
    """Difference in means between arms 1 and 0, with a Welch normal interval."""
    treated, control = m[r == 1], m[r == 0]
    if treated.size < 2 or control.size < 2:
        return np.nan, np.nan, np.nan
    diff = treated.mean() - control.mean()
    se = np.sqrt(
        treated.var(ddof=1) / treated.size + control.var(ddof=1) / control.size
    )
    z = stats.norm.isf((1 - confidence_level) / 2)
    return diff, diff - z * se, diff + z * se


def plot_first_stage(
    X: Data,
    *,
    treatment: Column,
    mediator: Column | Columns,
    covariates: Columns,
    n_bins: int = 5,
    confidence_level: float = 0.95,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """The effect of the treatment on the mediator across covariate values.

    The instruments ``R·(X - X̄)`` are strong when the effect of ``R`` on ``M``
    changes with the covariates and weak when it does not. One panel per
    covariate shows that effect in groups of subjects (the difference in the
    mediator's mean between arms, with its interval) and the linear first
    stage that two-stage least squares uses. With several mediators each
    has a row of panels, its own first stage.

    Parameters
    ----------
    X : pandas.DataFrame
        Data holding the treatment, mediator and covariate columns.
    treatment : str
        Column of the randomized 0/1 assignment ``R``.
    mediator : str or list of str
        Column of the mediator ``M``, or of each mediator.
    covariates : list of str
        Numeric baseline covariates ``X`` (the instruments are their
        interactions with ``R``); one panel each (per mediator).
    n_bins : int, default=5
        A covariate with more than 10 distinct values is cut into this many
        groups at its quantiles; otherwise each value is a group.
    confidence_level : float, default=0.95
        Level of the intervals of the group differences.
    axes : sequence of matplotlib Axes, default=None
        One axes per covariate (per mediator, mediator by mediator); by
        default a new figure with up to three panels per row, sharing the
        vertical axis, or with several mediators a row per mediator.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn into.

    Notes
    -----
    The points are ``mean(M | R=1, group) - mean(M | R=0, group)`` with Welch
    normal intervals, placed at the group's mean covariate value. The line is
    the first-stage fit of ``M`` on ``[1, X, R, R·(X - X̄)]`` by least squares
    (as in :class:`~skmediate.IVMediationRegressor`): the effect of ``R`` at
    covariate value ``x_j`` with the other covariates at their means is
    ``π_R + π_j (x_j - X̄_j)``. A flat line means that covariate's instrument
    is weak.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from skmediate.datasets import make_prospect_like
    >>> from skmediate.plotting import plot_first_stage
    >>> X, y = make_prospect_like(random_state=0)
    >>> fig = plot_first_stage(
    ...     X, treatment="r", mediator="m", covariates=["past_use", "baseline_use"]
    ... )
    >>> len(fig.axes)
    2
    >>> plt.close(fig)
    """
    if not isinstance(X, pd.DataFrame):
        raise TypeError(
            f"X must be a pandas DataFrame with named columns; got {type(X).__name__}"
        )
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    if not covariates:
        raise ValueError("covariates is empty; give at least one covariate column")
    mediators = [mediator] if isinstance(mediator, str) else list(mediator)
    if not mediators:
        raise ValueError("mediator is empty; give a mediator column or a list of them")
    for role, cols in (
        ("treatment", [treatment]),
        ("mediator", mediators),
        ("covariates", covariates),
    ):
        missing = [c for c in cols if c not in X.columns]
        if missing:
            raise ValueError(
                f"{role} names column(s) {missing} that are not in X; available "
                f"columns: {list(X.columns)}"
            )
    for col in [treatment, *mediators, *covariates]:
        if not pd.api.types.is_numeric_dtype(X[col]):
            raise ValueError(
                f"column {col!r} is not numeric (dtype {X[col].dtype}); encode it "
                "as numbers first"
            )
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 2:
        raise ValueError(f"n_bins must be an integer of at least 2; got {n_bins!r}")
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1); got {confidence_level}")
    r = X[treatment].to_numpy(float)
    if set(np.unique(r)) != {0.0, 1.0}:
        raise ValueError(
            f"treatment {treatment!r} must take the values 0 and 1; got "
            f"{np.unique(r)[:5].tolist()}"
        )
    ms = X[mediators].to_numpy(float)
    x = X[covariates].to_numpy(float)
    if not (np.isfinite(ms).all() and np.isfinite(x).all()):
        raise ValueError("the mediator or a covariate contains NaN or inf")
    p, q = len(covariates), len(mediators)
    if q > p:
        raise ValueError(
            f"{q} mediators {mediators} need at least as many covariates, whose "
            f"interactions with the treatment are the instruments; got {p}"
        )
    # the first stages of the IV estimator (the outcome plays no part in them)
    design = Design(
        str(treatment), tuple(map(str, mediators)), tuple(map(str, covariates)), ()
    )
    model = fit_model(
        design, np.column_stack([r, ms, x]), np.zeros_like(r), cov_type_name="classical"
    )
    x_mean = model.covariate_mean

    fig, axes = _figure_and_panels(
        p * q,
        axes,
        (4.0, 3.8),
        max_columns=3 if q == 1 else p,
        sharey=True if q == 1 else "row",
    )
    for k, mediator in enumerate(mediators):
        row = axes[k * p : (k + 1) * p]
        effect_r, _, _, modifiers = first_stage_at_mean(model, k)
        _first_stage_panels(row, r, ms[:, k], x, covariates, n_bins, confidence_level)
        for j, ax in enumerate(row):
            grid = np.linspace(x[:, j].min(), x[:, j].max(), 50)
            ax.plot(
                grid,
                effect_r + modifiers[j] * (grid - x_mean[j]),
                color="black",
                label="linear first stage",
            )
            ax.set_title(
                f"slope {modifiers[j]:+.3g} per unit of {covariates[j]}",
                fontsize="medium",
            )
        for ax in row[:: min(p, 3) if q == 1 else p]:
            ax.set_ylabel(f"effect of {treatment} on {mediator}")
    axes[0].legend(loc="best", fontsize="small", frameon=False)
    return fig


def _first_stage_panels(axes, r, m, x, covariates, n_bins, confidence_level):
    """The arms' difference in ``m`` by covariate group, one panel per covariate."""
    for j, (name, ax) in enumerate(zip(covariates, axes, strict=True)):
        values = x[:, j]
        if np.unique(values).size > 10:
            groups = pd.qcut(values, n_bins, labels=False, duplicates="drop")
        else:
            groups = values
        points = []
        for g in np.unique(groups):
            rows = groups == g
            diff, low, high = _arm_difference(m[rows], r[rows], confidence_level)
            points.append((values[rows].mean(), diff, low, high))
        pos, diff, low, high = np.array(points).T
        ax.errorbar(
            pos,
            diff,
            yerr=[diff - low, high - diff],
            fmt="o",
            capsize=3,
            label=f"difference in means ({confidence_level:.0%} CI)",
        )
        ax.axhline(0, color="grey", lw=0.8, ls=":")
        ax.set_xlabel(name)


# -- estimates ----------------------------------------------------------------


def plot_forest(
    estimates: Any,
    *,
    effects: Sequence[str] = ("direct_effect", "mediator_effect"),
    truth: Any = None,
    robust: bool = False,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """Forest plot of effect estimates and confidence intervals, by estimator.

    Parameters
    ----------
    estimates : dict of str to fitted estimator or MediationResult
        Label -> a fitted :class:`~skmediate.IVMediationRegressor` or
        :class:`~skmediate.NaiveMediationRegressor` (or a Pipeline ending in
        one, or its ``result_``), drawn top to bottom in this order.
    effects : sequence of str, default=("direct_effect", "mediator_effect")
        One panel per effect, among ``"direct_effect"``,
        ``"mediator_effect"``, ``"effect_on_mediator"``, ``"indirect_effect"``
        and ``"total_effect"`` (the last three are rows of ``result_.effects``,
        delta method). With several mediators the per-mediator effects
        (mediator effect, effect on the mediator, indirect effect) have a
        panel per mediator, in the fits' order of the mediators; a fit without
        that mediator has no row there.
    truth : dict or MediationTruth, default=None
        True values to mark with a dashed line (e.g. from a simulation); with
        several mediators a MediationTruth's per-mediator Series mark each
        mediator's panel (a dict is keyed ``"mediator_effect[m1]"`` and so
        on).
    robust : bool, default=False
        Also draw, under each IV fit's Wald interval, its recommended
        weak-instrument-robust set (``confidence_set(effect)``, with
        ``mediator=`` for a per-mediator effect of several mediators): a
        thick segment per piece, with an arrow where a piece is unbounded.
        The effect on the mediator has no robust set.
    axes : sequence of matplotlib Axes, default=None
        One axes per effect; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn into.

    Notes
    -----
    Each row is an estimate with its interval at the estimator's
    ``confidence_level`` (normal-based, with its ``cov_type``).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from skmediate import IVMediationRegressor, NaiveMediationRegressor
    >>> from skmediate.datasets import make_mediation_data
    >>> from skmediate.plotting import plot_forest
    >>> X, y, truth = make_mediation_data(2000, random_state=0, return_truth=True)
    >>> roles = dict(treatment="r", mediator="m", covariates=["x1", "x2"])
    >>> fits = {
    ...     "naive": NaiveMediationRegressor(**roles).fit(X, y),
    ...     "IV": IVMediationRegressor(**roles).fit(X, y),
    ... }
    >>> fig = plot_forest(fits, truth=truth)
    >>> [ax.get_title() for ax in fig.axes]
    ['Direct effect of the treatment', 'Effect of the mediator']
    >>> plt.close(fig)

    Several mediators have a panel each:

    >>> X, y, truth = make_mediation_data(
    ...     2000, n_mediators=2, random_state=0, return_truth=True
    ... )
    >>> roles = dict(treatment="r", mediator=["m1", "m2"], covariates=["x1", "x2"])
    >>> fig = plot_forest(
    ...     {"IV": IVMediationRegressor(**roles).fit(X, y)},
    ...     effects=["mediator_effect", "indirect_effect"],
    ...     truth=truth,
    ... )
    >>> [ax.get_title() for ax in fig.axes if ax.get_visible()][2:]
    ['Indirect effect through m1', 'Indirect effect through m2']
    >>> plt.close(fig)
    """
    if not isinstance(estimates, Mapping) or not estimates:
        raise ValueError(
            "estimates must be a non-empty dict of label -> fitted estimator"
        )
    effects = [effects] if isinstance(effects, str) else list(effects)
    unknown = [e for e in effects if e not in EFFECTS]
    if unknown or not effects:
        raise ValueError(f"effects must be among {list(EFFECTS)}; got {effects}")
    results = {label: mediation_result(est) for label, est in estimates.items()}
    truth = {} if truth is None else truth_values(truth)

    labels = list(results)
    levels = {r.confidence_level for r in results.values()}
    xlabel = (
        f"estimate ({levels.pop():.0%} CI)" if len(levels) == 1 else "estimate (CI)"
    )
    rows = np.arange(len(labels))[::-1]
    panels = []  # (effect, statistic name, mediator or None, {label: inference})
    for effect in effects:
        inference = {k: effect_inference(results[k], effect) for k in labels}
        names = list(dict.fromkeys(n for k in labels for n in inference[k]))
        for name in names:
            mediator = name[len(effect) + 1 : -1] if name != effect else None
            missing = (np.nan,) * 4
            by_label = {k: inference[k].get(name, missing) for k in labels}
            panels.append((effect, name, mediator, by_label))
    fig, axes = _figure_and_panels(len(panels), axes, (4.2, 0.6 * len(labels) + 1.6))
    for (effect, name, mediator, by_label), ax in zip(panels, axes, strict=True):
        table = np.array([by_label[k] for k in labels])
        est, low, high = table[:, 0], table[:, 2], table[:, 3]
        ax.errorbar(
            est, rows, xerr=[est - low, high - est], fmt="o", capsize=4, color="C0"
        )
        for i in np.flatnonzero(np.isfinite(est)):
            ax.annotate(
                f"{est[i]:.2f} [{low[i]:.2f}, {high[i]:.2f}]",
                (est[i], rows[i]),
                xytext=(0, 7),
                textcoords="offset points",
                ha="center",
                fontsize="small",
            )
        if robust and effect != "effect_on_mediator":
            present = [k for k in labels if np.isfinite(by_label[k][0])]
            _draw_robust_sets(ax, results, labels, present, rows, effect, mediator)
        ax.axvline(0, color="grey", lw=0.8, ls=":")
        if name in truth:
            ax.axvline(truth[name], color="C3", ls="--", label="truth")
            ax.legend(loc="lower right", fontsize="small", frameon=False)
        ax.set_yticks(rows, labels if ax is axes[0] else [""] * len(labels))
        ax.set_ylim(-0.7, len(labels) - 0.3)
        title = _EFFECT_LABELS[effect]
        if mediator is not None:
            title = _MEDIATOR_LABELS[effect].format(mediator)
        ax.set_title(title, fontsize="medium")
        ax.set_xlabel(xlabel)
    return fig


def _draw_robust_sets(ax, results, labels, present, rows, effect, mediator) -> None:
    """Each IV fit's recommended set under its Wald interval, clipped to the panel.

    ``present`` are the fits with an estimate in the panel; ``mediator`` names
    the mediator of a per-mediator effect of fits with several (else None).
    """
    name = EFFECTS[effect]
    options = {} if mediator is None else {"mediator": mediator}
    sets = {
        k: results[k].confidence_set(name, **options)
        for k in present
        if results[k].instruments
    }
    finite = [e for s in sets.values() for piece in s for e in piece if np.isfinite(e)]
    low, high = ax.get_xlim()
    if finite:
        low, high = min(low, *finite), max(high, *finite)
        pad = 0.05 * (high - low)
        low, high = low - pad, high + pad
    ax.set_xlim(low, high)
    drawn = False
    for i, label in enumerate(labels):
        if label not in sets:
            continue
        y = rows[i] - 0.25
        for lo, hi in sets[label]:
            left, right = max(lo, low), min(hi, high)
            ax.hlines(
                y,
                left,
                right,
                color="C1",
                lw=3,
                gid="robust-set",
                label=None if drawn else f"robust set ({sets[label].method})",
            )
            drawn = True
            if not np.isfinite(lo):
                ax.plot([left], [y], marker="<", color="C1")
            if not np.isfinite(hi):
                ax.plot([right], [y], marker=">", color="C1")
    if drawn:
        ax.legend(loc="lower right", fontsize="small", frameon=False)


# -- resampling ---------------------------------------------------------------


def plot_bootstrap_distribution(
    distribution: Any,
    estimate: float | None = None,
    interval: tuple[float, float] | None = None,
    *,
    statistic: int | str = 0,
    label: str | None = None,
    bins: int | str = "auto",
    ax: Axes | None = None,
) -> Figure:
    """Histogram of a bootstrap distribution with the estimate and its interval.

    Takes a :class:`~skmediate.BootstrapResult` (one of its statistics), or
    the plain numbers of any bootstrap.

    Parameters
    ----------
    distribution : BootstrapResult or array-like of shape (n_resamples,)
        The result of :func:`~skmediate.bootstrap`, or the statistic in each
        resample. Non-finite values (failed resamples) are left out of the
        histogram and counted in the legend.
    estimate : float, default=None
        The statistic on the original data (taken from a BootstrapResult).
    interval : (low, high) or object with ``low`` and ``high`` attributes
        The confidence interval (e.g. ``scipy.stats.bootstrap(...).confidence_interval``;
        taken from a BootstrapResult).
    statistic : int or str, default=0
        With a BootstrapResult: which statistic, by position or name.
    label : str, default=None
        Name of the statistic for the horizontal axis.
    bins : int or str, default="auto"
        Passed to ``Axes.hist``.
    ax : matplotlib Axes, default=None
        Axes to draw into; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn into.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from skmediate.plotting import plot_bootstrap_distribution
    >>> draws = np.random.default_rng(0).normal(1.0, 0.2, 999)
    >>> low, high = np.percentile(draws, [2.5, 97.5])
    >>> fig = plot_bootstrap_distribution(draws, 1.0, (low, high), label="effect")
    >>> fig.axes[0].get_xlabel()
    'effect'
    >>> plt.close(fig)
    """
    if hasattr(distribution, "bootstrap_distribution"):
        result = distribution
        names = list(result.statistic_names)
        j = names.index(statistic) if isinstance(statistic, str) else int(statistic)
        distribution = result.bootstrap_distribution[j]
        estimate = result.estimate[j] if estimate is None else estimate
        if interval is None:
            ci = result.confidence_interval
            interval = (np.atleast_1d(ci.low)[j], np.atleast_1d(ci.high)[j])
        label = names[j] if label is None else label
    if estimate is None or interval is None:
        raise ValueError(
            "give estimate and interval with a plain distribution (or pass the "
            "BootstrapResult itself)"
        )
    values = _vector(distribution, "distribution").astype(float)
    finite = np.isfinite(values)
    if not finite.any():
        raise ValueError("distribution has no finite values to plot")
    if hasattr(interval, "low") and hasattr(interval, "high"):
        low, high = interval.low, interval.high
    else:
        bounds = np.asarray(interval, dtype=float)
        if bounds.shape != (2,):
            raise ValueError(
                f"interval must be a pair (low, high); got shape {bounds.shape}"
            )
        low, high = bounds
    low, high, estimate = float(low), float(high), float(estimate)
    if not low <= high:
        raise ValueError(f"interval must have low <= high; got ({low}, {high})")

    fig, ax = _figure_and_axes(ax, (5.0, 3.6))
    left_out = int((~finite).sum())
    hist_label = f"{finite.sum()} resamples"
    if left_out:
        hist_label += f" ({left_out} non-finite left out)"
    counts, _, _ = ax.hist(
        values[finite], bins=bins, color="C0", alpha=0.7, label=hist_label
    )
    ax.set_ylim(0, 1.35 * counts.max())  # room for the legend
    ax.axvspan(
        low, high, color="C1", alpha=0.15, label=f"interval [{low:.3g}, {high:.3g}]"
    )
    ax.axvline(estimate, color="black", label=f"estimate {estimate:.3g}")
    ax.set_xlabel(label or "statistic")
    ax.set_ylabel("resamples")
    ax.legend(loc="upper right", fontsize="small", frameon=False)
    return fig


# ---------------------------------------------------------------------------
# Sensitivity analysis (SensitivityGrid)

_SENSITIVITY_EFFECTS = {
    "direct_effect": "direct effect",
    "mediator_effect": "mediator effect",
}


def _sensitivity_effects(grid) -> list[str]:
    """The grid's effects: ``direct_effect`` and ``mediator_effect`` (with
    several mediators ``mediator_effect[<name>]`` each)."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(grid, "results_")
    return list(grid.sensitivity_interval_.index)


def _sensitivity_label(effect: str) -> str:
    if effect.startswith("mediator_effect["):
        return f"mediator effect ({effect[len('mediator_effect[') : -1]})"
    return _SENSITIVITY_EFFECTS[effect]


def _check_sensitivity_grid(grid, effect) -> str:
    """The effect to draw (by default the mediator effect, the first mediator's
    with several), checked against the grid's effects."""
    effects = _sensitivity_effects(grid)
    effect = effects[1] if effect is None else effect
    if effect not in effects:
        raise ValueError(f"effect must be one of {effects}; got {effect!r}")
    return effect


def plot_sensitivity_surface(
    grid: SensitivityGrid,
    *,
    effect: str | None = None,
    x: str | None = None,
    y: str | None = None,
    resolution: int = 101,
    ax: Axes | None = None,
) -> Figure:
    """An effect over two τ components, with the region where its CI covers 0.

    Parameters
    ----------
    grid : fitted SensitivityGrid
        The sensitivity analysis to draw.
    effect : str, optional
        A row of the grid's ``sensitivity_interval_``: ``"direct_effect"``
        or ``"mediator_effect"`` (with several mediators
        ``"mediator_effect[<name>]"``); by default the mediator effect (the
        first mediator's with several).
    x, y : str, optional
        Grid columns to put on the axes, e.g. ``"tau_direct[x1]"`` and
        ``"tau_mediator[x1]"``; by default the first two that vary in the grid.
        The other components are held at 0.
    resolution : int, default=101
        Points per axis of the mesh when the closed form is available: the
        surface is then evaluated exactly over the range of the grid, not only
        at its points. Otherwise the grid points with the other components at 0
        are drawn and must form a lattice.
    ax : matplotlib Axes, optional
        Axes to draw into; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure
        Filled contours of the estimate, a black contour where it is 0, and
        hatching where the confidence interval contains 0.
    """
    effect = _check_sensitivity_grid(grid, effect)
    columns = [c for c in grid.results_ if c.startswith("tau_")]
    varying = [c for c in columns if np.ptp(grid.results_[c]) > 0]
    x = x or (varying[0] if varying else None)
    y = y or next((c for c in varying if c != x), None)
    for name, value in (("x", x), ("y", y)):
        if value not in columns:
            raise ValueError(
                f"{name} must name a tau column of the grid ({columns}); got {value!r}"
            )
    if x == y:
        raise ValueError("x and y must be different tau columns")
    j = _sensitivity_effects(grid).index(effect)
    ix, iy = columns.index(x), columns.index(y)
    if getattr(grid, "forms_", None) is not None:
        xs = np.linspace(grid.results_[x].min(), grid.results_[x].max(), resolution)
        ys = np.linspace(grid.results_[y].min(), grid.results_[y].max(), resolution)
        mesh_x, mesh_y = np.meshgrid(xs, ys)
        tau = np.zeros((mesh_x.size, len(columns)))
        tau[:, ix], tau[:, iy] = mesh_x.ravel(), mesh_y.ravel()
        estimates, se = grid.forms_.evaluate(tau)
        z = grid.critical_value_[j]  # the grid's own critical value (normal or t)
        estimate = estimates[:, j].reshape(mesh_x.shape)
        covers = (np.abs(estimates[:, j]) <= z * se[:, j]).reshape(mesh_x.shape)
    else:
        frame = grid.to_frame()
        others = [c for c in columns if c not in (x, y)]
        frame = frame[(frame[others] == 0).all(axis=1)] if others else frame
        table = frame.pivot_table(index=y, columns=x, values=effect)
        low = frame.pivot_table(index=y, columns=x, values=f"{effect}_lower")
        high = frame.pivot_table(index=y, columns=x, values=f"{effect}_upper")
        if table.isna().any().any() or min(table.shape) < 2:
            raise ValueError(
                f"the grid points with the other tau components at 0 do not form a "
                f"lattice over {x} and {y}; refit with such a grid or use the closed form"
            )
        mesh_x, mesh_y = np.meshgrid(table.columns.to_numpy(), table.index.to_numpy())
        estimate = table.to_numpy()
        covers = (low.to_numpy() <= 0) & (high.to_numpy() >= 0)
    fig, ax = _figure_and_axes(ax, (6.5, 5))
    from matplotlib.colors import CenteredNorm

    # Colours centred at 0: blue below, red above, whatever the range.
    filled = ax.contourf(
        mesh_x, mesh_y, estimate, levels=20, cmap="RdBu_r", norm=CenteredNorm(0.0)
    )
    fig.colorbar(filled, ax=ax, label=f"{_sensitivity_label(effect)} estimate")
    if estimate.min() < 0 < estimate.max():
        ax.contour(
            mesh_x, mesh_y, estimate, levels=[0.0], colors="black", linewidths=1.5
        )
    if covers.any():
        ax.contourf(
            mesh_x,
            mesh_y,
            covers.astype(float),
            levels=[0.5, 1.5],
            colors="none",
            hatches=["//"],
        )
    ax.plot([0], [0], marker="o", color="black")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(
        f"{_sensitivity_label(effect).capitalize()}: hatched where the "
        f"{grid.confidence_level_:.0%} CI contains 0"
    )
    return fig


def plot_sensitivity_forest(
    grid: SensitivityGrid, *, ax: Sequence[Axes] | None = None
) -> Figure:
    """Every grid point's estimates and confidence intervals, as in the paper's Table 2.

    Parameters
    ----------
    grid : fitted SensitivityGrid
        The sensitivity analysis to draw.
    ax : sequence of matplotlib Axes, optional
        One per effect: the direct and the mediator effect (with several
        mediators, each mediator's).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per effect, one row per grid point labelled ``(τ_R) (τ_M)``
        (with several mediators ``(τ_R) (τ_M[m1]) (τ_M[m2]) ...``), a dashed line
        at 0 and a dotted line at the ``τ = 0`` estimate.
    """
    effects = _sensitivity_effects(grid)
    frame = grid.to_frame()
    taus = [c for c in frame if c.startswith("tau_")]
    p = len(grid.covariate_names_)
    blocks = [taus[b * p : (b + 1) * p] for b in range(len(effects))]

    def label(row):
        return " ".join(
            "(" + ",".join(f"{v:g}" for v in row[block]) + ")" for block in blocks
        )

    labels = [label(row) for _, row in frame.iterrows()]
    rows = np.arange(len(frame))[::-1]
    fig, axes = _figure_and_panels(
        len(effects), ax, (4.5, 1.2 + 0.28 * len(frame)), sharey=True
    )
    zero = (frame[taus] == 0).all(axis=1).to_numpy()
    for panel, effect in zip(axes, effects, strict=True):
        est = frame[effect].to_numpy()
        err = np.vstack(
            [est - frame[f"{effect}_lower"], frame[f"{effect}_upper"] - est]
        )
        panel.errorbar(est, rows, xerr=err, fmt="o", color="C0", ecolor="C0", capsize=2)
        panel.axvline(0, color="grey", linestyle="--", linewidth=1)
        if zero.any():
            panel.axvline(est[zero][0], color="black", linestyle=":", linewidth=1)
        panel.set_title(_sensitivity_label(effect))
        panel.set_xlabel(f"estimate ({grid.confidence_level_:.0%} CI)")
    axes[0].set_yticks(rows, labels)
    mediators = grid.mediator_names_
    tau_m = ["(τ_M)"] if len(mediators) == 1 else [f"(τ_M[{m}])" for m in mediators]
    axes[0].set_ylabel(" ".join(["(τ_R)", *tau_m]))
    return fig
