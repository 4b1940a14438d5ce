"""scikit-learn conformance: the common checks, pipelines, search, clone, pickle."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
    parametrize_with_checks,
)

from skmediate import IVMediationRegressor, NaiveMediationRegressor

ESTIMATORS = [
    IVMediationRegressor(treatment=0, mediator=1),
    NaiveMediationRegressor(treatment=0, mediator=1),
]

_TWO_COLUMNS = (
    "the check's data has two columns, both taken by the treatment and mediator "
    "roles, so no covariate is left to form instruments (see test_iv_contracts)"
)
_TOO_FEW_ROWS = "the check's data has fewer distinct rows than the model has parameters"
EXPECTED_FAILURES = {
    "IVMediationRegressor": {
        name: _TWO_COLUMNS
        for name in [
            "check_estimators_fit_returns_self",
            "check_estimators_overwrite_params",
            "check_fit_check_is_fitted",
            "check_fit_idempotent",
            "check_n_features_in",
            "check_readonly_memmap_input",
            "check_sample_weights_not_an_array",
            "check_sample_weights_not_overwritten",
            "check_sample_weights_pandas_series",
            "check_sample_weights_shape",
        ]
    }
    | {"check_sample_weight_equivalence_on_dense_data": _TOO_FEW_ROWS},
    "NaiveMediationRegressor": {
        "check_sample_weight_equivalence_on_dense_data": _TOO_FEW_ROWS,
    },
}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


@pytest.mark.filterwarnings("ignore::skmediate.WeakInstrumentWarning")
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_common_checks(estimator, check):
    check(estimator)


@pytest.mark.filterwarnings("ignore::skmediate.WeakInstrumentWarning")
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_param_validation_and_column_names(estimator):
    name = type(estimator).__name__
    check_param_validation(name, clone(estimator))
    check_dataframe_column_names_consistency(name, clone(estimator))


def _trial_arrays(n=200, seed=0):
    rng = np.random.default_rng(seed)
    r = rng.integers(0, 2, n).astype(float)
    x = rng.normal(size=(n, 2))
    m = r * (1 + x[:, 0] - x[:, 1]) + rng.normal(size=n)
    y = 1 - r + 2 * m + x[:, 0] + rng.normal(size=n)
    return np.column_stack([r, m, x]), y


def test_iv_contracts():
    """What the common checks test, on data that has covariates."""
    X, y = _trial_arrays()
    est = IVMediationRegressor(treatment=0, mediator=1)
    assert est.fit(X, y) is est
    assert est.n_features_in_ == 4
    first = est.predict(X)
    assert_allclose(clone(est).fit(X, y).predict(X), first, rtol=1e-12)
    assert_allclose(est.fit(X, y).predict(X), first, rtol=1e-12)  # idempotent
    assert est.get_params()["treatment"] == 0  # parameters not overwritten
    with pytest.raises(ValueError, match="X has 3 features"):
        est.predict(X[:, :3])

    readonly = X.copy()
    readonly.flags.writeable = False
    assert_allclose(clone(est).fit(readonly, y).predict(readonly), first, rtol=1e-12)

    weights = np.random.default_rng(1).integers(1, 3, len(y)).astype(float)
    kept = weights.copy()
    by_array = clone(est).fit(X, y, sample_weight=weights).coef_
    assert_array_equal(weights, kept)
    assert_allclose(clone(est).fit(X, y, sample_weight=list(weights)).coef_, by_array)
    assert_allclose(
        clone(est).fit(X, y, sample_weight=pd.Series(weights)).coef_, by_array
    )
    with pytest.raises(ValueError, match="(?i)sample.weight"):
        clone(est).fit(X, y, sample_weight=weights[:-1])
    with pytest.raises(ValueError, match="(?i)sample.weight"):
        clone(est).fit(X, y, sample_weight=weights[:, None].repeat(2, axis=1))
