"""Dataframes other than pandas: polars (and pyarrow) input gives the pandas fit exactly."""

import narwhals.stable.v2 as nw
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skmediate import (
    IVMediationRegressor,
    NaiveMediationRegressor,
    SensitivityGrid,
    bootstrap,
)

from .conftest import simulate_trial

ESTIMATORS = [IVMediationRegressor, NaiveMediationRegressor]


def _non_numeric(X):
    """The names of the columns of ``X`` that are not numeric (any dataframe)."""
    schema = nw.from_native(X, eager_only=True).schema
    return [name for name, dtype in schema.items() if not dtype.is_numeric()]


def _site_encoder():
    # make_column_selector reads pandas frames only; a function of the frame
    # selects the string columns of any dataframe
    return make_column_transformer(
        (OneHotEncoder(drop="first", sparse_output=False), _non_numeric),
        remainder="passthrough",
        verbose_feature_names_out=False,
    )


@pytest.fixture(scope="module")
def trial():
    X, y, groups = simulate_trial(
        n=1500,
        n_covariates=2,
        n_controls=1,
        site=True,
        n_clusters=30,
        instrument_strength=2.0,
        seed=11,
    )
    weights = np.random.default_rng(1).integers(0, 4, len(y)).astype(float)
    return X, y, groups, weights


def _as_polars(X, y, groups, weights):
    return (
        pl.from_pandas(X),
        pl.from_pandas(y),
        pl.Series("groups", groups),
        pl.Series("weights", weights),
    )


def _assert_same_fit(a, b):
    """Every estimate, standard error and line of the summary are equal."""
    pd.testing.assert_frame_equal(
        a.result_.to_frame(), b.result_.to_frame(), check_exact=True
    )
    pd.testing.assert_frame_equal(
        a.result_.effects, b.result_.effects, check_exact=True
    )
    pd.testing.assert_frame_equal(a.result_.cov, b.result_.cov, check_exact=True)
    assert_array_equal(a.coef_, b.coef_)
    assert_array_equal(a.term_names_, b.term_names_)
    assert a.summary() == b.summary()
    if isinstance(a, IVMediationRegressor):
        pd.testing.assert_frame_equal(a.diagnostics_, b.diagnostics_, check_exact=True)


@pytest.mark.parametrize("cov_type", ["HC1", "cluster"])
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_polars_input_gives_the_pandas_fit(trial, cls, cov_type):
    X, y, groups, weights = trial
    est = cls(
        treatment="r",
        mediator="m",
        covariates=["x1", "x2", "site"],
        controls=["z1"],
        covariate_transformer=_site_encoder(),
        cov_type=cov_type,
    )
    groups = groups if cov_type == "cluster" else None
    on_pandas = clone(est).fit(X, y, sample_weight=weights, groups=groups)
    X_pl, y_pl, groups_pl, weights_pl = _as_polars(X, y, groups, weights)
    on_polars = clone(est).fit(
        X_pl,
        y_pl,
        sample_weight=weights_pl,
        groups=None if groups is None else groups_pl,
    )
    _assert_same_fit(on_pandas, on_polars)
    assert list(on_polars.result_.params.index)[1:4] == [
        "site_north",
        "site_south",
        "site_west",
    ]
    assert list(on_polars.feature_names_in_) == list(X.columns)
    assert on_polars.n_features_in_ == X.shape[1]
    assert_array_equal(on_polars.predict(X_pl), on_pandas.predict(X))
    assert on_polars.score(X_pl, y_pl) == on_pandas.score(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_default_covariates_leave_out_the_outcome_column(trial, cls):
    """``covariates=None`` leaves out the columns a polars ``y`` is named after."""
    X, y, _, _ = trial
    X = X.drop(columns="site").assign(y=y)
    est = cls(treatment="r", mediator="m", controls=["z1"])
    on_pandas = clone(est).fit(X, X["y"])
    X_pl = pl.from_pandas(X)
    on_polars = clone(est).fit(X_pl, X_pl["y"])
    _assert_same_fit(on_pandas, on_polars)
    assert on_polars.result_.outcome == "y"
    assert "y" not in on_polars.result_.params.index
    # an unnamed polars Series is the outcome "y", as an unnamed pandas one
    unnamed = clone(est).fit(X_pl.drop("y"), pl.Series(y.to_numpy()))
    assert unnamed.result_.outcome == "y"


def test_pyarrow_table_gives_the_pandas_fit(trial):
    X, y, groups, weights = trial
    X = X.drop(columns="site")
    est = IVMediationRegressor(
        treatment="r", mediator="m", controls=["z1"], cov_type="cluster"
    )
    on_pandas = clone(est).fit(X, y, sample_weight=weights, groups=groups)
    on_arrow = clone(est).fit(
        pa.Table.from_pandas(X),
        pa.chunked_array([y.to_numpy()]),
        sample_weight=weights,
        groups=groups,
    )
    _assert_same_fit(on_pandas, on_arrow)
    assert list(on_arrow.feature_names_in_) == list(X.columns)


def _pipeline(cls, output):
    """Scale the covariates and encode the site in front of the estimator."""
    prepare = make_column_transformer(
        (StandardScaler(), ["x1", "x2"]),
        (OneHotEncoder(drop="first", sparse_output=False), ["site"]),
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    est = cls(treatment="r", mediator="m", controls=["z1"], cov_type="cluster")
    return make_pipeline(prepare, est).set_output(transform=output)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_pipeline_with_polars_output(trial, cls):
    X, y, groups, weights = trial
    step = cls.__name__.lower()
    fit_kw = {f"{step}__groups": groups, f"{step}__sample_weight": weights}
    on_pandas = _pipeline(cls, "pandas").fit(X, y, **fit_kw)
    on_polars = _pipeline(cls, "polars").fit(X, y, **fit_kw)
    assert isinstance(on_polars[:-1].transform(X), pl.DataFrame)
    _assert_same_fit(on_pandas[-1], on_polars[-1])
    assert "site_south" in on_polars[-1].result_.params.index
    assert_array_equal(on_polars.predict(X), on_pandas.predict(X))


def test_sensitivity_grid_with_polars_input(trial):
    X, y, groups, weights = trial
    X = X.drop(columns="site")
    X_pl, y_pl, groups_pl, weights_pl = _as_polars(X, y, groups, weights)
    est = IVMediationRegressor(
        treatment="r", mediator="m", controls=["z1"], cov_type="cluster"
    )
    tau = dict(tau_direct={"x1": [0.0, 0.5]}, tau_mediator={"x2": [-0.5, 0.0, 0.5]})
    for method in ("closed_form", "refit"):
        grid = SensitivityGrid(est, method=method, **tau)
        on_pandas = clone(grid).fit(X, y, sample_weight=weights, groups=groups)
        on_polars = clone(grid).fit(
            X_pl, y_pl, sample_weight=weights_pl, groups=groups_pl
        )
        pd.testing.assert_frame_equal(
            on_pandas.to_frame(), on_polars.to_frame(), check_exact=True
        )
        assert list(on_polars.feature_names_in_) == list(X.columns)
        assert_array_equal(on_polars.predict(X_pl), on_pandas.predict(X))


def test_sensitivity_grid_around_a_polars_pipeline(trial):
    X, y, groups, _ = trial
    tau = dict(tau_direct={"x1": [0.0, 0.5]}, tau_mediator={"site_south": [0.0, 1.0]})
    fit_kw = dict(groups=groups)
    frames = [
        SensitivityGrid(_pipeline(IVMediationRegressor, output), method=method, **tau)
        .fit(X, y, **fit_kw)
        .to_frame()
        for output in ("pandas", "polars")
        for method in ("closed_form", "refit")
    ]
    pd.testing.assert_frame_equal(frames[0], frames[2], check_exact=True)
    pd.testing.assert_frame_equal(frames[1], frames[3], check_exact=True)


# an occasional resample of this trial has weak instruments
@pytest.mark.filterwarnings("ignore::skmediate.WeakInstrumentWarning")
@pytest.mark.parametrize("engine", ["vectorized", "refit"])
def test_bootstrap_with_polars_input(trial, engine):
    X, y, groups, weights = trial
    X = X.drop(columns="site")
    X_pl, y_pl, groups_pl, weights_pl = _as_polars(X, y, groups, weights)
    est = IVMediationRegressor(treatment="r", mediator="m", controls=["z1"])
    kwargs = dict(n_resamples=41, engine=engine, random_state=0)
    on_pandas = bootstrap(est, X, y, groups=groups, **kwargs)
    on_polars = bootstrap(est, X_pl, y_pl, groups=groups_pl, **kwargs)
    assert_array_equal(
        on_pandas.bootstrap_distribution, on_polars.bootstrap_distribution
    )
    pd.testing.assert_frame_equal(on_pandas.to_frame(), on_polars.to_frame())
    in_arms = [
        bootstrap(est, data, target, strata="treatment", **kwargs)
        for data, target in ((X, y), (X_pl, y_pl))
    ]
    assert_array_equal(
        in_arms[0].bootstrap_distribution, in_arms[1].bootstrap_distribution
    )


def _with_null(X_pl, column, row=3):
    value = pl.when(pl.int_range(pl.len()) == row).then(None).otherwise(pl.col(column))
    return X_pl.with_columns(value.alias(column))


@pytest.mark.parametrize(
    "make, params, message",
    [
        (
            lambda X: _with_null(X, "x1"),
            {},
            r"column 'x1' \(covariate\) contains NaN \(1 non-finite",
        ),
        (
            lambda X: X,
            {"covariates": ["x1", "site"]},
            r"column 'site' \(covariate\) is not numeric.*covariate_transformer",
        ),
        (
            lambda X: X,
            {"treatment": "site", "covariates": ["x1"]},
            r"column 'site' \(treatment\) is not numeric",
        ),
        (
            lambda X: X,
            {"mediator": "dose"},
            r"mediator names column\(s\) \['dose'\] that are not in X; available "
            r"columns: \['r', 'm', 'x1', 'x2', 'z1', 'site'\]",
        ),
    ],
)
def test_bad_polars_input_names_the_column(trial, make, params, message):
    X, y, _, _ = trial
    X_pl = make(pl.from_pandas(X))
    est = IVMediationRegressor(
        **{"treatment": "r", "mediator": "m", "covariates": ["x1", "x2"], **params}
    )
    with pytest.raises(ValueError, match=message):
        est.fit(X_pl, y)


def test_bad_polars_outcome_and_predict_columns(trial):
    X, y, _, _ = trial
    X_pl = pl.from_pandas(X.drop(columns="site"))
    est = IVMediationRegressor(treatment="r", mediator="m", covariates=["x1", "x2"])
    missing = pl.Series("y", y.to_numpy()).scatter([0, 5], None)
    with pytest.raises(ValueError, match=r"Input y contains NaN or inf \(2 value"):
        clone(est).fit(X_pl, missing)
    est.fit(X_pl, y)
    with pytest.raises(ValueError, match="Feature names seen at fit time, yet now"):
        est.predict(X_pl.drop("z1"))


@pytest.mark.filterwarnings("ignore::skmediate.WeakInstrumentWarning")
def test_the_callers_data_is_not_modified(trial):
    X, y, groups, weights = trial
    X_pl, y_pl, groups_pl, weights_pl = _as_polars(X, y, groups, weights)
    kept = [a.clone() for a in (X_pl, y_pl, groups_pl, weights_pl)]
    est = IVMediationRegressor(
        treatment="r",
        mediator="m",
        covariates=["x1", "x2", "site"],
        controls=["z1"],
        covariate_transformer=_site_encoder(),
        cov_type="cluster",
    )
    est.fit(X_pl, y_pl, sample_weight=weights_pl, groups=groups_pl)
    est.predict(X_pl)
    SensitivityGrid(est, tau_direct={"x1": [0.0, 1.0]}, method="refit").fit(
        X_pl, y_pl, sample_weight=weights_pl, groups=groups_pl
    )
    bootstrap(
        clone(est).set_params(cov_type="HC1"),
        X_pl,
        y_pl,
        n_resamples=41,
        groups=groups_pl,
        random_state=0,
    )
    for before, after in zip(kept, (X_pl, y_pl, groups_pl, weights_pl), strict=True):
        assert before.equals(after)
