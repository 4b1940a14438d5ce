"""Effect estimates read off fitted estimators, for the workflows (simulation, plots)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pandas as pd

from skmediate._results import MediationResult

__all__ = [
    "EFFECTS",
    "PER_MEDIATOR",
    "effect_inference",
    "mediation_result",
    "truth_values",
]

# Effect name (as MediationTruth names it) -> row of MediationResult.effects.
EFFECTS = {
    "direct_effect": "direct",
    "mediator_effect": "mediator",
    "effect_on_mediator": "effect_on_mediator",
    "indirect_effect": "indirect",
    "total_effect": "total",
}
# The effects with one value per mediator.
PER_MEDIATOR = ("mediator_effect", "effect_on_mediator", "indirect_effect")


def mediation_result(obj) -> MediationResult:
    """The ``MediationResult`` of a result, a fitted estimator or a Pipeline ending in one.

    A fitted meta-estimator with an ``estimator_`` (a :class:`SensitivityGrid`:
    its fit at ``τ = 0``) gives that estimator's result.
    """
    if isinstance(obj, MediationResult):
        return obj
    final = obj
    while True:
        steps = getattr(final, "steps", None)
        if steps:
            final = steps[-1][1]
        elif not hasattr(final, "result_") and hasattr(final, "estimator_"):
            final = final.estimator_
        else:
            break
    result = getattr(final, "result_", None)
    if not isinstance(result, MediationResult):
        raise TypeError(
            f"expected a fitted IVMediationRegressor or NaiveMediationRegressor "
            f"(or a Pipeline or SensitivityGrid of one, or its result_); got "
            f"{type(obj).__name__}, which has no MediationResult in result_"
        )
    return result


def effect_inference(result: MediationResult, effect: str) -> dict[str, tuple]:
    """``{name: (estimate, std_error, lower, upper)}`` of ``effect`` (a key of EFFECTS).

    One entry named ``effect``, or, for an effect of :data:`PER_MEDIATOR` of a
    fit with several mediators, one per mediator named ``effect[mediator]``.
    The direct and mediator effects are their coefficients' inference; the
    others are rows of ``result.effects`` (delta method). Intervals are at
    the result's ``confidence_level``.
    """
    several = len(result.mediators) > 1 and effect in PER_MEDIATOR
    pairs = (
        [(f"{effect}[{m}]", m) for m in result.mediators]
        if several
        else [(effect, result.mediators[0] if effect in PER_MEDIATOR else None)]
    )
    if effect == "direct_effect":
        return {effect: result.term_inference(result.treatment)}
    if effect == "mediator_effect":
        return {name: result.term_inference(m) for name, m in pairs}
    table = result.effects
    row = EFFECTS[effect]
    out = {}
    for name, m in pairs:
        values = table.loc[f"{row}[{m}]" if several else row]
        out[name] = tuple(
            float(values[c]) for c in ("estimate", "std_error", "lower", "upper")
        )
    return out


def truth_values(truth) -> dict[str, float]:
    """True values by statistic name, from a mapping or a dataclass such as
    :class:`~skmediate.datasets.MediationTruth` (None gives none).

    A pandas Series value (a per-mediator effect) gives one entry per
    mediator, named ``effect[mediator]``.
    """
    if truth is None:
        return {}
    if dataclasses.is_dataclass(truth) and not isinstance(truth, type):
        truth = {f.name: getattr(truth, f.name) for f in dataclasses.fields(truth)}
    elif not isinstance(truth, Mapping):
        raise TypeError(
            "the truth must be a mapping, a dataclass such as MediationTruth, or "
            f"None; got {type(truth).__name__}"
        )
    out = {}
    for name, value in truth.items():
        if isinstance(value, pd.Series):
            out.update({f"{name}[{m}]": float(v) for m, v in value.items()})
        else:
            out[name] = value
    return out
