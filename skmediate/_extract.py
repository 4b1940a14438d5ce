"""Effect estimates read off fitted estimators, for the workflows (simulation, plots)."""

from __future__ import annotations

from skmediate._results import MediationResult

__all__ = ["EFFECTS", "effect_estimate", "mediation_result"]

# Effect name -> attribute of MediationResult naming the term that holds it.
EFFECTS = {"direct_effect": "treatment", "mediator_effect": "mediator"}


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


def effect_estimate(result: MediationResult, effect: str) -> tuple[float, ...]:
    """``(estimate, std_error, lower, upper)`` of ``effect`` (a key of EFFECTS).

    The interval is the result's normal-based interval at its
    ``confidence_level``.
    """
    return result.term_inference(getattr(result, EFFECTS[effect]))
