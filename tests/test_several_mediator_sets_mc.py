"""Coverage of the weak-instrument-robust sets with two mediators (slow).

Two mediators sharing an unmeasured confounder with the outcome, three
interactions as instruments, n = 500, homoskedastic errors, ``"classical"``
covariance. At strong (first-stage strength 1) and weak (0.05: the sets are
mostly unbounded) instruments, each set's coverage of the true value over
400 trials lies within the binomial 99% band around 95%: the subvector
Anderson-Rubin set and the projection of the joint set for each mediator,
the direct effect's subvector set, and the joint Anderson-Rubin test's
acceptance of the true mediator effects. The Wald interval's coverage is
recorded beside them (it is not robust and is not judged at weak
instruments).

With heteroskedastic outcome noise and ``cov_type="HC1"``, the same two
strengths and 400 trials: the robust joint Anderson-Rubin test's acceptance
lies within the band, and the certified projections of the joint robust set
(each mediator, and the direct effect's set of ``(θ_R, θ_M)``) cover at
least its lower end.
"""

import warnings

import pandas as pd
import pytest
from scipy import stats

from skmediate import IVMediationRegressor

from .test_several_mediator_sets import COVARIATES, NAMES, trial

TRIALS = 400
LEVEL = 0.95
TRUE = {"m1": 1.0, "m2": 0.5, "direct": 0.5}


def robust_coverage(strength, trials=TRIALS):
    """Coverage of the robust sets with HC1 and heteroskedastic noise."""
    hits = {}
    for seed in range(trials):
        frame, y = trial(strength, 20_000 + seed, heteroskedastic=True)
        est = IVMediationRegressor(
            treatment="r", mediator=NAMES, covariates=COVARIATES, cov_type="HC1"
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(frame, y)
        rows = {
            "joint AR test": est.anderson_rubin_test([1.0, 0.5]).pvalue > 1 - LEVEL,
            "direct projection": TRUE["direct"] in est.confidence_set("direct"),
            "direct wald": TRUE["direct"] in est.confidence_set("direct", "wald"),
        }
        for m in NAMES:
            s = est.confidence_set("mediator", mediator=m)
            rows[f"{m} projection"] = TRUE[m] in s
            rows[f"{m} wald"] = TRUE[m] in est.confidence_set(
                "mediator", "wald", mediator=m
            )
        for key, hit in rows.items():
            hits[key] = hits.get(key, 0) + bool(hit)
    return {key: value / trials for key, value in hits.items()}


def coverage(strength, trials=TRIALS):
    hits = {}
    for seed in range(trials):
        frame, y = trial(strength, 10_000 + seed)
        est = IVMediationRegressor(
            treatment="r", mediator=NAMES, covariates=COVARIATES, cov_type="classical"
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(frame, y)
        rows = {
            "joint AR test": est.anderson_rubin_test([1.0, 0.5]).pvalue > 1 - LEVEL,
            "direct AR": TRUE["direct"] in est.confidence_set("direct"),
            "direct wald": TRUE["direct"] in est.confidence_set("direct", "wald"),
        }
        for m in NAMES:
            for method in ("AR", "projection", "wald"):
                s = est.confidence_set("mediator", method, mediator=m)
                rows[f"{m} {method}"] = TRUE[m] in s
        for key, hit in rows.items():
            hits[key] = hits.get(key, 0) + bool(hit)
    return {key: value / trials for key, value in hits.items()}


def band(trials=TRIALS, level=LEVEL):
    low, high = stats.binom.interval(0.99, trials, level)
    return low / trials, high / trials


@pytest.mark.slow
@pytest.mark.parametrize("strength", [1.0, 0.05])
def test_coverage_two_mediators(strength):
    low, high = band()
    rates = coverage(strength)
    # the joint test is exact with normal errors: within the band
    assert low <= rates["joint AR test"] <= high, rates
    # the subvector and projection sets are valid (at least the level), the
    # projections conservative
    for key, rate in rates.items():
        if "wald" not in key:
            assert rate >= low, (key, rate)


@pytest.mark.slow
@pytest.mark.parametrize("strength", [1.0, 0.05])
def test_robust_coverage_two_mediators(strength):
    low, high = band()
    rates = robust_coverage(strength)
    assert low <= rates["joint AR test"] <= high, rates
    for key, rate in rates.items():
        if "wald" not in key:
            assert rate >= low, (key, rate)


if __name__ == "__main__":  # the tables of the validation page
    print(band())
    for study in (coverage, robust_coverage):
        table = pd.DataFrame({s: study(s) for s in (1.0, 0.05)})
        print(table.to_markdown())
