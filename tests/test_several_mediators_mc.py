"""Monte Carlo: two mediators with an unmeasured confounder shared with the outcome.

``make_mediation_data(n_mediators=2)`` draws mediators ``M_j = R (1 + X γ_j) +
U + V_j`` and an outcome confounded by the same ``U``; the naive regression
is then biased for every mediator's effect, while two-stage least squares
with the ``R·X`` instruments is consistent. Checks:

- fast: one trial of 200 000 subjects. Each IV estimate (direct effect, each
  mediator's effect and indirect effect, the total effect) is within 4 of
  its HC1 standard errors and within 0.03 of the truth; the naive estimates
  of the mediators' effects are more than 0.1 and more than 10 standard
  errors off.
- slow (``pytest -m slow``): 1000 trials of 1000 subjects through
  :func:`skmediate.simulation.simulate`. The IV bias of every statistic is
  within the normal 99% band ``2.576 × bias_mcse`` of 0 and its Wald
  coverage within the exact binomial 99% band around 95%
  (``scipy.stats.binom.interval``); the naive bias of each mediator's effect
  is more than 10 Monte Carlo standard errors from 0 and its coverage below
  the band.
"""

from functools import partial

import numpy as np
import pytest
from scipy import stats

from skmediate import IVMediationRegressor, NaiveMediationRegressor
from skmediate.datasets import make_mediation_data
from skmediate.simulation import simulate

MEDIATORS = ["m1", "m2"]
ROLES = dict(
    treatment="r", mediator=MEDIATORS, covariates=["x1", "x2", "x3"], cov_type="HC1"
)
DESIGN = dict(
    n_covariates=3,
    n_mediators=2,
    direct_effect=1.0,
    mediator_effect=[1.0, -0.5],
    confounding=0.6,
    return_truth=True,
)
STATISTICS = ["direct_effect", "mediator_effect", "indirect_effect", "total_effect"]


def _truth_and_rows(truth):
    """(effects row name, true value) of each statistic checked."""
    rows = [("direct", truth.direct_effect), ("total", truth.total_effect)]
    for m in MEDIATORS:
        rows.append((f"mediator[{m}]", truth.mediator_effect[m]))
        rows.append((f"indirect[{m}]", truth.indirect_effect[m]))
    return rows


def test_one_large_trial_iv_recovers_the_truth_and_naive_does_not():
    X, y, truth = make_mediation_data(200_000, random_state=16, **DESIGN)
    iv = IVMediationRegressor(**ROLES).fit(X, y).result_.effects
    naive = NaiveMediationRegressor(**ROLES).fit(X, y).result_.effects
    for row, value in _truth_and_rows(truth):
        error = iv.loc[row, "estimate"] - value
        assert abs(error) < 4 * iv.loc[row, "std_error"], (row, error)
        assert abs(error) < 0.03, (row, error)
    for m in MEDIATORS:
        error = naive.loc[f"mediator[{m}]", "estimate"] - truth.mediator_effect[m]
        assert abs(error) > 0.1, (m, error)
        assert abs(error) > 10 * naive.loc[f"mediator[{m}]", "std_error"], (m, error)


@pytest.mark.slow
def test_iv_is_unbiased_and_covers_with_two_confounded_mediators():
    replications = 1000
    study = simulate(
        {
            "naive": NaiveMediationRegressor(**ROLES),
            "iv": IVMediationRegressor(**ROLES),
        },
        partial(make_mediation_data, 1000, **DESIGN),
        n_replications=replications,
        statistics=STATISTICS,
        random_state=20261216,
        n_jobs=2,
    )
    table = study.summary()
    low, high = (
        b / replications for b in stats.binom.interval(0.99, replications, 0.95)
    )
    z = stats.norm.isf(0.005)
    iv = table.loc["iv"]
    assert iv.index.tolist() == [
        "direct_effect",
        "mediator_effect[m1]",
        "mediator_effect[m2]",
        "indirect_effect[m1]",
        "indirect_effect[m2]",
        "total_effect",
    ]
    assert (iv["n_valid"] == replications).all()
    assert np.all(np.abs(iv["bias"]) < z * iv["bias_mcse"]), iv[["bias", "bias_mcse"]]
    assert iv["coverage"].between(low, high).all(), iv["coverage"]
    naive = table.loc["naive"].loc[[f"mediator_effect[{m}]" for m in MEDIATORS]]
    assert np.all(np.abs(naive["bias"]) > 10 * naive["bias_mcse"])
    assert np.all(naive["coverage"] < low)
