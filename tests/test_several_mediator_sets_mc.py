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


def coverage(strength, robust=False, trials=TRIALS):
    """Coverage of each set; ``robust``: heteroskedastic noise and HC1 (with
    which every set of a mediator is the projection of the joint robust
    set)."""
    hits = {}
    direct = "direct projection" if robust else "direct AR"
    methods = ("projection", "wald") if robust else ("AR", "projection", "wald")
    for seed in range(trials):
        frame, y = trial(
            strength, (20_000 if robust else 10_000) + seed, heteroskedastic=robust
        )
        est = IVMediationRegressor(
            treatment="r",
            mediator=NAMES,
            covariates=COVARIATES,
            cov_type="HC1" if robust else "classical",
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(frame, y)
        rows = {
            "joint AR test": est.anderson_rubin_test([1.0, 0.5]).pvalue > 1 - LEVEL,
            direct: TRUE["direct"] in est.confidence_set("direct"),
            "direct wald": TRUE["direct"] in est.confidence_set("direct", "wald"),
        }
        for m in NAMES:
            for method in methods:
                s = est.confidence_set("mediator", method, mediator=m)
                rows[f"{m} {method}"] = TRUE[m] in s
        for key, hit in rows.items():
            hits[key] = hits.get(key, 0) + bool(hit)
    return {key: value / trials for key, value in hits.items()}


def band(trials=TRIALS, level=LEVEL):
    low, high = stats.binom.interval(0.99, trials, level)
    return low / trials, high / trials


@pytest.mark.slow
@pytest.mark.parametrize("robust", [False, True], ids=["classical", "HC1"])
@pytest.mark.parametrize("strength", [1.0, 0.05])
def test_coverage_two_mediators(strength, robust):
    low, high = band()
    rates = coverage(strength, robust)
    # the joint test is exact with normal errors (and, robust, within the
    # band too): within the band
    assert low <= rates["joint AR test"] <= high, rates
    # the subvector and projection sets are valid (at least the level), the
    # projections conservative
    for key, rate in rates.items():
        if "wald" not in key:
            assert rate >= low, (key, rate)


if __name__ == "__main__":  # the tables of the validation page
    print(band())
    for robust in (False, True):
        table = pd.DataFrame({s: coverage(s, robust) for s in (1.0, 0.05)})
        print(table.to_markdown())
