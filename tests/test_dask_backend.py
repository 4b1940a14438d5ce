"""The refit workloads on a Dask cluster, through joblib, give the local results.

Each workload draws its randomness in the calling process and collects the
results in task order, so a run on the cluster performs the same floating
point operations on the same inputs as the local sequential run: results are
compared for exact equality. That holds when BLAS sums in the same order
everywhere: the worker processes of a Dask cluster run BLAS on one thread, so
the tests do too (a multi-threaded BLAS may split long dot products
differently, which changes results by rounding, about 1e-15 relative). The
cluster runs with threads (workers sharing this process, which exercises
concurrent recording of warnings) and with processes (which exercises
pickling of the tasks and their results).
"""

import threading
import warnings
from functools import partial

import joblib
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from threadpoolctl import threadpool_limits

distributed = pytest.importorskip(
    "distributed",
    reason="the Dask backend needs the optional extra: pip install 'skmediate[dask]'",
)

from skmediate import (  # noqa: E402
    IVMediationRegressor,
    NaiveMediationRegressor,
    SensitivityGrid,
    WeakInstrumentWarning,
    bootstrap,
)
from skmediate._parallel import parallel_map  # noqa: E402
from skmediate.datasets import make_mediation_data  # noqa: E402
from skmediate.simulation import simulate  # noqa: E402

from .conftest import simulate_trial  # noqa: E402

# Engine comparisons and plumbing tests draw few resamples on purpose; the
# warning that few resamples give unreliable intervals is tested on its own.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:n_resamples=\d+ is too few resamples"
    ":skmediate.exceptions.DegenerateBootstrapWarning"
)

ROLES = dict(treatment="r", mediator="m", covariates=["x1", "x2"])


@pytest.fixture(scope="module", params=[False, True], ids=["threads", "processes"])
def dask_client(request):
    """A two-worker cluster on this machine, the default client while the tests run.

    BLAS runs on one thread in this process (local runs and thread workers)
    as in the worker processes, so every run sums in the same order.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=request.param,
            dashboard_address=None,
        )
        client = distributed.Client(cluster)
        yield client
        client.close()
        cluster.close()


def _on_dask(function, api="parallel_config"):
    """``function()`` with joblib's Dask backend (either way of selecting it)."""
    context = (
        joblib.parallel_config(backend="dask")
        if api == "parallel_config"
        else joblib.parallel_backend("dask")
    )
    with context:
        return function()


def _assert_same_bootstrap(local, remote):
    assert remote.engine == local.engine == "refit"
    assert_array_equal(remote.bootstrap_distribution, local.bootstrap_distribution)
    assert_array_equal(remote.confidence_interval.low, local.confidence_interval.low)
    assert_array_equal(remote.confidence_interval.high, local.confidence_interval.high)
    assert_array_equal(remote.standard_error, local.standard_error)
    assert remote.n_failed == local.n_failed


def test_bootstrap_pairs(dask_client):
    X, y, _ = simulate_trial(1000, seed=1)
    est = IVMediationRegressor(treatment="r", mediator="m", cov_type="HC1")

    def run():
        return bootstrap(
            est,
            X,
            y,
            engine="refit",
            method="studentized",
            n_resamples=20,
            random_state=0,
        )

    local = run()
    remote = _on_dask(run)
    _assert_same_bootstrap(local, remote)
    assert np.isfinite(local.bootstrap_distribution).all()


def test_bootstrap_clusters(dask_client):
    X, y, groups = simulate_trial(1000, n_clusters=30, instrument_strength=2.0, seed=4)
    est = IVMediationRegressor(treatment="r", mediator="m", cov_type="cluster")

    def run():
        return bootstrap(
            est,
            X,
            y,
            groups=groups,
            engine="refit",
            n_resamples=20,
            random_state=1,
            fit_params={"groups": groups},
        )

    local = run()
    remote = _on_dask(run, api="parallel_backend")
    _assert_same_bootstrap(local, remote)


def test_bootstrap_records_worker_warnings_as_locally(dask_client, request):
    """Every refit's weak-instrument warning is counted, on workers as locally.

    The results are the same on thread workers too, but there warnings of
    refits running at once in one process may be recorded by one another
    (``warnings.catch_warnings`` swaps process-wide state; see
    ``skmediate._parallel``), so their count is compared on process workers.
    """
    # the effective F near its critical value: some refits warn, others not
    X, y, _ = simulate_trial(300, instrument_strength=1.2, seed=0)
    est = IVMediationRegressor(treatment="r", mediator="m")

    def run():
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            result = bootstrap(
                est, X, y, engine="refit", n_resamples=30, random_state=0
            )
        return result, [
            str(w.message) for w in record if w.category is WeakInstrumentWarning
        ]

    local, local_warnings = run()
    remote, remote_warnings = _on_dask(run)
    _assert_same_bootstrap(local, remote)
    if "processes" in request.node.callspec.id:
        # one warning with the number of refits that issued it, as locally
        assert remote_warnings == local_warnings
    summary = [m for m in local_warnings if "of 30 resample fits" in m]
    assert len(summary) == 1 and "was issued by" in summary[0]


def test_sensitivity_grid_refit(dask_client):
    X, y, groups = simulate_trial(1000, n_clusters=25, seed=3)
    grid = SensitivityGrid(
        IVMediationRegressor(treatment="r", mediator="m", cov_type="cluster"),
        tau_direct={"x1": [0.0, 0.5, 1.0]},
        tau_mediator={"x2": [-0.5, 0.5]},
        method="refit",
    )

    local = grid.fit(X, y, groups=groups).to_frame()
    remote = _on_dask(lambda: grid.fit(X, y, groups=groups).to_frame())
    pd.testing.assert_frame_equal(remote, local, check_exact=True)
    assert local.shape == (6, 12)


def _nested_threads(_):
    inner = joblib.Parallel()(joblib.delayed(threading.get_ident)() for _ in range(4))
    return threading.get_ident(), set(inner)


def test_nested_joblib_calls_stay_on_the_worker(dask_client):
    """A refit's own joblib calls (ColumnTransformer) are not sent back to the cluster."""
    outputs = _on_dask(
        lambda: parallel_map(_nested_threads, [(i,) for i in range(4)], None)
    )
    for outer, inner in outputs:
        assert inner == {outer}


def test_simulate(dask_client):
    def run():
        return simulate(
            {
                "naive": NaiveMediationRegressor(**ROLES),
                "iv": IVMediationRegressor(**ROLES),
            },
            partial(make_mediation_data, 300, return_truth=True),
            n_replications=8,
            random_state=0,
        ).replications

    with warnings.catch_warnings():
        # the fits' warnings are recorded in the table, never raised
        warnings.simplefilter("error")
        local = run()
        remote = _on_dask(run)
    pd.testing.assert_frame_equal(remote, local, check_exact=True)
    assert local.shape == (8 * 2 * 2, 11)
    assert not local["failed"].any()
