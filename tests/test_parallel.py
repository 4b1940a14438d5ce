"""The joblib map of the refit workloads: order, configuration, warnings in threads."""

import time
import warnings

import joblib
import pytest
import sklearn
from numpy.testing import assert_array_equal

from skmediate import IVMediationRegressor, WeakInstrumentWarning, bootstrap
from skmediate._parallel import parallel_map, record_warnings

from .conftest import simulate_trial

# Engine comparisons and plumbing tests draw few resamples on purpose; the
# warning that few resamples give unreliable intervals is tested on its own.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:n_resamples=\d+ is too few resamples"
    ":skmediate.exceptions.DegenerateBootstrapWarning"
)


def _after(delay, value):
    time.sleep(delay)
    return value


def _assume_finite(_):
    return sklearn.get_config()["assume_finite"]


def test_results_in_task_order_whatever_the_finishing_order():
    arguments = [(0.03 * (4 - i), i) for i in range(5)]  # the last finishes first
    with joblib.parallel_config(backend="threading"):
        assert parallel_map(_after, arguments, n_jobs=5) == list(range(5))
        assert list(parallel_map(_after, arguments, 5, generator=True)) == list(
            range(5)
        )


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_tasks_run_under_the_callers_sklearn_configuration(n_jobs):
    # the configuration is thread-local: new worker threads start from the default
    assert not sklearn.get_config()["assume_finite"]
    with joblib.parallel_config(backend="threading"):
        with sklearn.config_context(assume_finite=True):
            inside = parallel_map(_assume_finite, [(i,) for i in range(4)], n_jobs)
        outside = parallel_map(_assume_finite, [(i,) for i in range(4)], n_jobs)
    assert inside == [True] * 4
    assert outside == [False] * 4


def test_record_warnings_nested_and_restores_on_error():
    filters = list(warnings.filters)
    with pytest.raises(RuntimeError, match="inside"):
        with record_warnings() as outer:
            warnings.warn("outer", UserWarning, stacklevel=1)
            with record_warnings() as inner:
                warnings.warn("inner", UserWarning, stacklevel=1)
            warnings.warn("outer again", UserWarning, stacklevel=1)
            raise RuntimeError("inside")
    assert [str(w.message) for w in outer] == ["outer", "outer again"]
    assert [str(w.message) for w in inner] == ["inner"]
    assert warnings.filters == filters
    # recording has stopped: the test's filter (error) applies again
    with pytest.raises(UserWarning, match="after"):
        warnings.warn("after", UserWarning, stacklevel=1)


def test_process_backend_counts_refit_warnings_as_a_sequential_run():
    """Refits in worker processes report their warnings as a sequential run."""
    X, y, _ = simulate_trial(300, seed=0)  # some resamples have weak instruments
    est = IVMediationRegressor(treatment="r", mediator="m")

    def run():
        with pytest.warns(WeakInstrumentWarning) as record:
            result = bootstrap(
                est, X, y, engine="refit", n_resamples=40, random_state=0
            )
        return result, [str(w.message) for w in record]

    local, local_warnings = run()
    with joblib.parallel_config(backend="loky", n_jobs=2):
        threaded, threaded_warnings = run()
    assert_array_equal(threaded.bootstrap_distribution, local.bootstrap_distribution)
    assert threaded.n_failed == local.n_failed == 0
    assert threaded_warnings == local_warnings
    assert any("of 40 resample fits" in m for m in local_warnings)
