"""missing="drop": the fit equals the fit on the complete rows and says what it left out."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.preprocessing import OneHotEncoder

from skmediate import (
    IVMediationRegressor,
    NaiveMediationRegressor,
    SensitivityGrid,
    bootstrap,
)

from .conftest import simulate_trial

ESTIMATORS = [IVMediationRegressor, NaiveMediationRegressor]
ROLES = dict(treatment="r", mediator="m", covariates=["x1", "x2"], controls=["z1"])


@pytest.fixture
def incomplete():
    """A trial with missing values in a role column, y, the weights and the clusters."""
    X, y, groups = simulate_trial(n=800, n_controls=1, n_clusters=40, seed=25)
    X = X.assign(notes=np.nan)  # not a role: never matters
    X.loc[[3, 10, 50], "m"] = np.nan
    X.loc[[10, 70], "x1"] = None
    X.loc[[80], "z1"] = np.nan
    y = y.copy()
    y.iloc[[5, 70]] = np.nan
    weights = pd.Series(np.linspace(0.5, 1.5, len(y)), name="w")
    weights.iloc[90] = np.nan
    groups = pd.Series(groups.astype(float), name="site")
    groups.iloc[100] = np.nan
    return X, y, weights, groups


def _complete(X, y, weights, groups):
    keep = (
        X[["r", "m", "x1", "x2", "z1"]].notna().all(axis=1)
        & y.notna()
        & weights.notna()
        & groups.notna()
    ).to_numpy()
    return keep, X[keep], y[keep], weights[keep], groups[keep]


def _assert_same_fit(a, b):
    ra, rb = a.result_, b.result_
    assert ra.nobs == rb.nobs
    assert_allclose(ra.params, rb.params, rtol=1e-12, atol=1e-13)
    assert_allclose(ra.cov, rb.cov, rtol=1e-10, atol=1e-14)
    assert_allclose(
        ra.effects.to_numpy(float), rb.effects.to_numpy(float), rtol=1e-10, atol=1e-13
    )


@pytest.mark.filterwarnings("ignore::skmediate.WeakInstrumentWarning")
@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("cov_type", ["HC1", "cluster", "CR2"])
def test_drop_equals_the_fit_on_the_complete_rows(cls, cov_type, incomplete):
    X, y, weights, groups = incomplete
    copies = [X.copy(), y.copy(), weights.copy(), groups.copy()]
    clustered = cov_type != "HC1"
    fit = dict(sample_weight=weights, groups=groups if clustered else None)
    est = cls(missing="drop", cov_type=cov_type, **ROLES).fit(X, y, **fit)
    if not clustered:  # the cluster labels are not used, so not looked at
        groups = groups.fillna(0.0)
    keep, Xc, yc, wc, gc = _complete(X, y, weights, groups)
    ref = cls(cov_type=cov_type, **ROLES).fit(
        Xc, yc, sample_weight=wc, groups=gc.to_numpy() if clustered else None
    )
    _assert_same_fit(est, ref)
    assert_array_equal(est.dropped_rows_, np.flatnonzero(~keep))
    assert est.n_dropped_ == (~keep).sum() == est.result_.n_dropped
    expected = {"m": 3, "x1": 2, "z1": 1, "y": 2, "w": 1}
    if clustered:
        expected["site"] = 1
    assert est.missing_counts_ == expected
    assert dict(est.result_.missing_counts) == expected
    # the caller's data are untouched
    for before, after in zip(copies, incomplete, strict=True):
        assert before.equals(after)


def test_unnamed_inputs_count_under_their_parameter_names(incomplete):
    X, y, weights, groups = incomplete
    est = IVMediationRegressor(missing="drop", cov_type="cluster", **ROLES).fit(
        X, y.to_numpy(), sample_weight=weights.to_numpy(), groups=groups.to_numpy()
    )
    assert est.missing_counts_ == {
        "m": 3,
        "x1": 2,
        "z1": 1,
        "y": 2,
        "sample_weight": 1,
        "groups": 1,
    }


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_numpy_input(cls):
    X, y, _ = simulate_trial(n=400, seed=3)
    values = X.to_numpy().copy()
    values[[4, 9], 1] = np.nan
    est = cls(treatment=0, mediator=1, missing="drop").fit(values, y)
    keep = ~np.isnan(values).any(axis=1)
    ref = cls(treatment=0, mediator=1).fit(values[keep], y[keep])
    _assert_same_fit(est, ref)
    assert est.missing_counts_ == {"x1": 2}  # sklearn's name of column 1
    assert_array_equal(est.dropped_rows_, [4, 9])


def test_nothing_missing_records_nothing():
    X, y, _ = simulate_trial(n=600, seed=4)
    for missing in ("raise", "drop"):
        est = IVMediationRegressor(treatment="r", mediator="m", missing=missing)
        est.fit(X, y)
        assert est.n_dropped_ == 0 and est.missing_counts_ == {}
        assert est.dropped_rows_.shape == (0,)
        assert "Dropped" not in est.summary()


def test_summary_says_what_was_dropped(incomplete):
    X, y, weights, _ = incomplete
    est = IVMediationRegressor(missing="drop", **ROLES).fit(X, y, sample_weight=weights)
    text = " ".join(est.summary().as_text().split())
    assert (
        "Dropped: 7 rows with missing values (missing per column: m 3, x1 2, z1 1, "
        "y 2, w 1)" in text
    )


def test_nullable_and_string_columns_with_an_encoder():
    X, y, _ = simulate_trial(n=500, site=True, seed=8)
    X = X.astype({"x2": "Float64"}).astype({"site": object})
    X.loc[[1, 2], "x2"] = pd.NA
    X.loc[[2, 7], "site"] = None
    encoder = make_column_transformer(
        (
            OneHotEncoder(drop="first", sparse_output=False),
            make_column_selector(dtype_exclude="number"),
        ),
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    roles = dict(treatment="r", mediator="m", covariates=["x1", "x2", "site"])
    est = IVMediationRegressor(
        covariate_transformer=encoder, missing="drop", **roles
    ).fit(X, y)
    assert est.missing_counts_ == {"x2": 2, "site": 2}
    keep = X.notna().all(axis=1)
    ref = IVMediationRegressor(covariate_transformer=encoder, **roles).fit(
        X[keep].astype({"x2": float}), y[keep]
    )
    _assert_same_fit(est, ref)
    # the encoder never saw a missing value: no "None" level
    assert est.result_.terms == ref.result_.terms


def test_predict_gives_nan_where_a_role_value_is_missing(incomplete):
    X, y, weights, _ = incomplete
    est = IVMediationRegressor(missing="drop", **ROLES).fit(X, y)
    prediction = est.predict(X)
    incomplete_rows = X[["r", "m", "x1", "x2", "z1"]].isna().any(axis=1).to_numpy()
    assert_array_equal(np.isnan(prediction), incomplete_rows)
    complete = est.predict(X[~incomplete_rows])
    assert_allclose(prediction[~incomplete_rows], complete, rtol=1e-14)
    # score leaves out the rows without a prediction or an outcome
    keep = ~incomplete_rows & y.notna().to_numpy()
    assert est.score(X, y) == pytest.approx(est.score(X[keep], y[keep]), rel=1e-14)
    weighted = keep & weights.notna().to_numpy()
    assert est.score(X, y, sample_weight=weights) == pytest.approx(
        est.score(X[weighted], y[weighted], sample_weight=weights[weighted]),
        rel=1e-14,
    )
    # with missing="raise" a missing value is an error, as in fit
    strict = IVMediationRegressor(**ROLES).fit(X[keep], y[keep])
    with pytest.raises(ValueError, match=r"column 'm' \(mediator\) contains NaN"):
        strict.predict(X)


def test_every_row_incomplete_is_a_clear_error():
    X, y, _ = simulate_trial(n=200, seed=5)
    X = X.assign(x2=np.nan)
    with pytest.raises(
        ValueError,
        match=r"every one of the 200 rows has a missing value in a column the fit "
        r"uses \(missing values: x2 \(200\)\), so missing='drop' leaves no data",
    ):
        IVMediationRegressor(treatment="r", mediator="m", missing="drop").fit(X, y)


def test_too_few_complete_rows_is_the_usual_error():
    X, y, _ = simulate_trial(n=200, seed=5)
    X.loc[X.index[3:], "x2"] = np.nan
    with pytest.raises(ValueError, match="rows"):
        IVMediationRegressor(treatment="r", mediator="m", missing="drop").fit(X, y)


def test_infinite_values_are_not_missing():
    X, y, _ = simulate_trial(n=200, seed=5)
    X.loc[4, "x1"] = np.inf
    with pytest.raises(ValueError, match=r"column 'x1' \(covariate\) contains inf"):
        IVMediationRegressor(treatment="r", mediator="m", missing="drop").fit(X, y)


def test_lengths_are_checked_before_dropping():
    X, y, _ = simulate_trial(n=200, seed=5)
    X.loc[4, "x1"] = np.nan
    est = IVMediationRegressor(treatment="r", mediator="m", missing="drop")
    with pytest.raises(ValueError, match="X has 200 rows but y has 199"):
        est.fit(X, y.iloc[:-1])
    with pytest.raises(ValueError, match="X has 200 rows but sample_weight has 3"):
        est.fit(X, y, sample_weight=[1.0, 2.0, 3.0])


def test_missing_parameter_is_validated():
    X, y, _ = simulate_trial(n=200, seed=5)
    with pytest.raises(ValueError, match="'missing' parameter"):
        IVMediationRegressor(treatment="r", mediator="m", missing="omit").fit(X, y)


# -- the workflows: the sensitivity grid and the bootstrap -------------------------


TAU = {"x1": [0.0, 1.0], "x2": [-0.5, 0.5]}


@pytest.mark.parametrize("method", ["closed_form", "refit"])
def test_sensitivity_grid_equals_the_grid_on_the_complete_rows(method, incomplete):
    X, y, weights, groups = incomplete
    fit = dict(sample_weight=weights, groups=groups)
    est = IVMediationRegressor(missing="drop", cov_type="cluster", **ROLES)
    grid = SensitivityGrid(est, tau_direct=TAU, tau_mediator=TAU, method=method)
    grid.fit(X, y, **fit)
    _, Xc, yc, wc, gc = _complete(X, y, weights, groups)
    ref = SensitivityGrid(
        IVMediationRegressor(cov_type="cluster", **ROLES),
        tau_direct=TAU,
        tau_mediator=TAU,
        method=method,
    ).fit(Xc, yc, sample_weight=wc, groups=gc.to_numpy())
    pd.testing.assert_frame_equal(grid.to_frame(), ref.to_frame(), rtol=1e-10)
    assert grid.estimator_.n_dropped_ == 8


@pytest.mark.filterwarnings("ignore::skmediate.WeakInstrumentWarning")
@pytest.mark.parametrize("engine", ["vectorized", "refit"])
@pytest.mark.parametrize("design", ["rows", "treatment strata", "clusters in strata"])
def test_bootstrap_resamples_the_complete_rows(engine, design, incomplete):
    X, y, weights, groups = incomplete
    keep, Xc, yc, wc, gc = _complete(X, y, weights, groups)
    options = dict(n_resamples=50, engine=engine, random_state=4)
    reference = dict(options)
    cov_type = "HC1"
    if design == "treatment strata":
        keep, Xc, yc, wc, _ = _complete(X, y, weights, groups.fillna(0))
        options["strata"] = reference["strata"] = "treatment"
        options["fit_params"] = {"sample_weight": weights}
        reference["fit_params"] = {"sample_weight": wc}
    elif design == "clusters in strata":
        cov_type = "cluster"
        strata = groups.fillna(0).to_numpy() % 3  # constant within each cluster
        options.update(
            groups=groups,
            strata=strata,
            fit_params={"groups": groups, "sample_weight": weights},
        )
        reference.update(
            groups=gc,
            strata=strata[keep],
            fit_params={"groups": gc, "sample_weight": wc},
        )
    else:
        keep, Xc, yc, _, _ = _complete(X, y, weights.fillna(1), groups.fillna(0))
    est = IVMediationRegressor(missing="drop", cov_type=cov_type, **ROLES)
    got = bootstrap(est, X, y, **options)
    ref = bootstrap(
        IVMediationRegressor(cov_type=cov_type, **ROLES), Xc, yc, **reference
    )
    assert got.engine == ref.engine == engine
    assert_allclose(got.estimate, ref.estimate, rtol=1e-13)
    assert_allclose(got.bootstrap_distribution, ref.bootstrap_distribution, rtol=1e-10)
    assert_allclose(
        got.confidence_interval.low, ref.confidence_interval.low, rtol=1e-10
    )


def test_bootstrap_still_refuses_missing_cluster_labels_it_would_use():
    X, y, _ = simulate_trial(n=400, seed=6)
    labels = (np.arange(400) % 30).astype(float)
    labels[7] = np.nan
    est = IVMediationRegressor(treatment="r", mediator="m", missing="drop")
    with pytest.raises(ValueError, match="groups contains missing values"):
        bootstrap(est, X, y, n_resamples=50, groups=labels)
