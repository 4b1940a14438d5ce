"""Monte Carlo (slow): size of the tests of the effects with few sites.

Runs ``benchmarks/few_clusters_study.py`` (which prints the full table, also
in docs/user_guide/validation.md) with 1000 replications per cell: n = 100 and 300 subjects in
G = 6, 10, 20 and 50 sites with heterogeneous site effects. Judged against
the exact binomial 99% band around 5%.
"""

import numpy as np
import pytest

from .conftest import load_benchmark

REPLICATIONS = 1000
SEED = 20261201  # the script's default --seed

fcs = load_benchmark("few_clusters_study")
CELLS = [(n, g) for n in (100, 300) for g in (6, 10, 20, 50)]


@pytest.fixture(scope="module")
def rates():
    return {
        cell: fcs.run(*cell, REPLICATIONS, SEED, n_resamples=399, n_jobs=2)
        for cell in CELLS
    }


def _rate(rates, cell, method):
    return rates[cell][fcs.METHODS.index(method)]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["CR2 BM", "wild"])
def test_cr2_with_bell_mccaffrey_and_the_wild_bootstrap_hold_their_size(rates, method):
    low, high = fcs.binomial_band(REPLICATIONS)
    for cell in CELLS:
        rate = _rate(rates, cell, method)
        assert np.all((low <= rate) & (rate <= high)), (cell, method, rate)


@pytest.mark.slow
def test_cr1_with_normal_critical_values_over_rejects_with_six_sites(rates):
    _, high = fcs.binomial_band(REPLICATIONS)
    for n in (100, 300):
        z = _rate(rates, (n, 6), "CR1 z")
        t = _rate(rates, (n, 6), "CR1 t(G-1)")
        assert np.all(z > high), (n, z)
        assert np.all(t < z), (n, t, z)  # t(G - 1) removes much of it


def test_trial_design():
    """The design the study draws: sites, within-site randomization, sizes."""
    data = fcs.draw_trial(100, 6, np.random.default_rng(0))
    sizes = data.groupby("site").size()
    assert len(sizes) == 6 and sizes.max() - sizes.min() <= 1 and len(data) == 100
    treated = data.groupby("site")["r"].sum()
    assert (treated == sizes // 2).all()
    low, high = fcs.binomial_band(2000)
    assert low < 5 < high
