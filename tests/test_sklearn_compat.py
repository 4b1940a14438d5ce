"""scikit-learn conformance: the common checks, pipelines, search, clone, pickle."""

import pickle

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.compose import make_column_selector
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
    parametrize_with_checks,
)

from skmediate import IVMediationRegressor, NaiveMediationRegressor

from .conftest import expected_failed_checks

ESTIMATORS = [
    IVMediationRegressor(treatment=0, mediator=1),
    NaiveMediationRegressor(treatment=0, mediator=1),
]


# the checks' data are not trials: the "treatment" column is continuous
@pytest.mark.filterwarnings("ignore::skmediate.WeakInstrumentWarning")
@pytest.mark.filterwarnings("ignore::skmediate.TreatmentCodingWarning")
@parametrize_with_checks(
    ESTIMATORS, expected_failed_checks=expected_failed_checks, xfail_strict=True
)
def test_sklearn_common_checks(estimator, check):
    check(estimator)


@pytest.mark.filterwarnings("ignore::skmediate.WeakInstrumentWarning")
@pytest.mark.filterwarnings("ignore::skmediate.TreatmentCodingWarning")
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


@pytest.fixture
def frame():
    from .conftest import simulate_trial

    X, y, groups = simulate_trial(
        n=1500, n_covariates=2, n_controls=1, site=True, seed=21
    )
    return X, y, np.arange(len(y)) % 30


def _site_encoder():
    """One-hot encode string columns wherever the transformer is applied."""
    from sklearn.compose import make_column_transformer
    from sklearn.preprocessing import OneHotEncoder

    return make_column_transformer(
        (
            OneHotEncoder(drop="first", sparse_output=False),
            make_column_selector(dtype_exclude="number"),
        ),
        remainder="passthrough",
        verbose_feature_names_out=False,
    )


@pytest.mark.parametrize("cls", [IVMediationRegressor, NaiveMediationRegressor])
def test_pipeline_cross_validate_and_grid_search(cls, frame):
    X, y, groups = frame
    est = cls(
        treatment="r",
        mediator="m",
        covariates=["x1", "x2", "site"],
        controls=["z1"],
        covariate_transformer=_site_encoder(),
    )
    pipe = make_pipeline(FunctionTransformer(feature_names_out="one-to-one"), est)
    pipe.fit(X, y)
    assert_allclose(pipe.predict(X), clone(est).fit(X, y).predict(X), rtol=1e-12)
    assert list(pipe[-1].result_.params.index) == [
        "intercept",
        "site_north",
        "site_south",
        "site_west",
        "x1",
        "x2",
        "z1",
        "r",
        "m",
    ]

    scores = cross_validate(pipe, X, y, cv=KFold(3, shuffle=True, random_state=0))
    assert scores["test_score"].shape == (3,)
    assert np.all(np.isfinite(scores["test_score"]))

    search = GridSearchCV(
        est, {"cov_type": ["HC0", "HC1"], "confidence_level": [0.9, 0.95]}, cv=3
    )
    search.fit(X, y)
    assert search.best_estimator_.cov_type in {"HC0", "HC1"}
    assert hasattr(search.best_estimator_, "result_")


@pytest.mark.parametrize("cls", [IVMediationRegressor, NaiveMediationRegressor])
def test_clone_and_pickle_round_trip(cls, frame):
    X, y, groups = frame
    est = cls(
        treatment="r", mediator="m", covariates=["x1", "x2"], cov_type="cluster"
    ).fit(X, y, groups=groups)
    restored = pickle.loads(pickle.dumps(est))
    assert_allclose(restored.predict(X), est.predict(X), rtol=0)
    pd.testing.assert_frame_equal(restored.result_.to_frame(), est.result_.to_frame())
    cloned = clone(est)
    assert not hasattr(cloned, "result_")
    assert cloned.get_params() == est.get_params()


@pytest.mark.parametrize("cls", [IVMediationRegressor, NaiveMediationRegressor])
def test_role_specifications_are_equivalent(cls, frame):
    X, y, _ = frame
    X = X.drop(columns="site")
    by_name = cls(
        treatment="r", mediator="m", covariates=["x1", "x2"], controls=["z1"]
    ).fit(X, y)
    by_index = cls(treatment=0, mediator=1, covariates=[2, 3], controls=[4]).fit(X, y)
    by_selector = cls(
        treatment="r",
        mediator="m",
        covariates=make_column_selector(pattern=r"^x\d"),
        controls=make_column_selector(pattern=r"^z\d"),
    ).fit(X, y)
    by_default = cls(treatment="r", mediator="m", controls=["z1"]).fit(X, y)
    on_array = cls(treatment=0, mediator=1, controls=[4]).fit(
        X.to_numpy(), y.to_numpy()
    )
    for other in (by_index, by_selector, by_default):
        pd.testing.assert_series_equal(other.result_.params, by_name.result_.params)
    assert_allclose(on_array.coef_, by_name.coef_, rtol=1e-12)
    assert list(on_array.result_.params.index) == [
        "intercept",
        "x2",
        "x3",
        "x4",
        "x0",
        "x1",
    ]
    assert list(by_name.feature_names_in_) == list(X.columns)
    assert not hasattr(on_array, "feature_names_in_")


def test_predict_and_score_use_the_observed_mediator(frame):
    X, y, _ = frame
    X = X.drop(columns="site")
    est = IVMediationRegressor(treatment="r", mediator="m", controls=["z1"]).fit(X, y)
    params = est.result_.params
    expected = (
        params["intercept"]
        + X[["x1", "x2", "z1", "r", "m"]].to_numpy() @ params.iloc[1:].to_numpy()
    )
    assert_allclose(est.predict(X), expected, rtol=1e-12)
    resid = y - expected
    r2 = 1 - np.sum(resid**2) / np.sum((y - y.mean()) ** 2)
    assert est.score(X, y) == pytest.approx(r2, rel=1e-12)
    assert est.result_.rsquared == pytest.approx(r2, rel=1e-12)
    assert est.intercept_ == params["intercept"]
    assert est.direct_effect_ == params["r"] and est.mediator_effect_ == params["m"]


def test_sample_weight_and_groups_route_through_metadata():
    import sklearn

    from .conftest import simulate_trial

    X, y, groups = simulate_trial(n=500, n_clusters=25, seed=3)
    weights = np.random.default_rng(0).integers(1, 3, len(y))
    with sklearn.config_context(enable_metadata_routing=True):
        est = IVMediationRegressor(treatment="r", mediator="m", cov_type="cluster")
        est.set_fit_request(sample_weight=True, groups=True)
        pipe = make_pipeline(FunctionTransformer(feature_names_out="one-to-one"), est)
        pipe.fit(X, y, sample_weight=weights, groups=groups)
    direct = IVMediationRegressor(treatment="r", mediator="m", cov_type="cluster").fit(
        X, y, sample_weight=weights, groups=groups
    )
    pd.testing.assert_frame_equal(
        pipe[-1].result_.to_frame(), direct.result_.to_frame()
    )
    assert pipe[-1].result_.n_clusters == 25


@pytest.mark.parametrize("cls", [IVMediationRegressor, NaiveMediationRegressor])
def test_term_names_label_the_coefficients(cls, frame):
    """``coef_`` follows ``term_names_`` (not ``feature_names_in_``) for any
    column order, one-hot covariates included."""
    X, y, _ = frame
    orders = [
        list(X.columns),
        list(reversed(X.columns)),
        ["site", "z1", "m", "x2", "r", "x1"],
    ]
    by_label = []
    for order in orders:
        est = cls(
            treatment="r",
            mediator="m",
            covariates=["x2", "site", "x1"],
            controls=["z1"],
            covariate_transformer=_site_encoder(),
        ).fit(X[order], y)
        assert list(est.feature_names_in_) == order
        assert est.term_names_.shape == est.coef_.shape
        assert all(isinstance(name, str) for name in est.term_names_)
        labelled = dict(zip(est.term_names_, est.coef_, strict=True))
        assert labelled == est.result_.params.drop("intercept").to_dict()
        assert set(labelled) >= {"site_north", "site_south", "site_west", "r", "m"}
        by_label.append(labelled)
    for other in by_label[1:]:
        assert other.keys() == by_label[0].keys()
        assert_allclose(
            [other[k] for k in by_label[0]], list(by_label[0].values()), rtol=1e-10
        )

    numeric = X.drop(columns="site")
    for order in (list(numeric.columns), ["z1", "x2", "m", "x1", "r"]):
        est = cls(treatment="r", mediator="m", controls=["z1"]).fit(numeric[order], y)
        assert list(est.term_names_[-3:]) == ["z1", "r", "m"]
        assert_allclose(
            est.predict(numeric[order]),
            est.intercept_ + numeric[list(est.term_names_)].to_numpy() @ est.coef_,
            rtol=1e-12,
        )
    on_array = cls(treatment=4, mediator=2, controls=[0]).fit(
        numeric[["z1", "x2", "m", "x1", "r"]].to_numpy(), y
    )
    assert list(on_array.term_names_) == ["x1", "x3", "x0", "x4", "x2"]
