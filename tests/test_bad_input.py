"""Bad input gets a clear error naming the offending column or parameter."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from skmediate import IVMediationRegressor, NaiveMediationRegressor, UnusedGroupsWarning

from .conftest import simulate_trial

ESTIMATORS = [IVMediationRegressor, NaiveMediationRegressor]


@pytest.fixture
def data():
    X, y, _ = simulate_trial(n=600, n_covariates=2, n_controls=1, seed=11)
    return X, y


def _est(cls, **kwargs):
    params = dict(treatment="r", mediator="m", covariates=["x1", "x2"], controls=["z1"])
    params.update(kwargs)
    return cls(**params)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("column", ["r", "m", "x2", "z1"])
@pytest.mark.parametrize("value, word", [(np.nan, "NaN"), (np.inf, "inf")])
def test_non_finite_value_in_used_column(cls, data, column, value, word):
    X, y = data
    X = X.copy()
    X.loc[5, column] = value
    with pytest.raises(ValueError, match=rf"column '{column}' \(\w+\) contains {word}"):
        _est(cls).fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_non_finite_value_in_unused_column_is_fine(cls, data):
    X, y = data
    X = X.assign(notes=np.nan)
    _est(cls).fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_non_finite_outcome(cls, data):
    X, y = data
    y = y.copy()
    y.iloc[3] = np.nan
    with pytest.raises(ValueError, match="y contains NaN"):
        _est(cls).fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_lengths_differ(cls, data):
    X, y = data
    with pytest.raises(ValueError, match="X has 600 rows but y has 599"):
        _est(cls).fit(X, y.iloc[:-1])


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_non_numeric_column_without_encoder(cls, data):
    X, y = data
    X = X.assign(site=np.where(X["x1"] > 0, "north", "south"))
    with pytest.raises(
        ValueError, match=r"column 'site' \(covariate\) is not numeric.*OneHotEncoder"
    ):
        _est(cls, covariates=["x1", "site"]).fit(X, y)
    with pytest.raises(ValueError, match=r"column 'site' \(mediator\) is not numeric"):
        _est(cls, mediator="site").fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_single_arm_treatment(cls, data):
    X, y = data
    X = X.assign(r=1.0)
    with pytest.raises(
        ValueError, match=r"treatment 'r' takes a single value \(1\).*two arms"
    ):
        _est(cls).fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_single_arm_after_zero_weights(cls, data):
    X, y = data
    weights = (X["r"] == 1).astype(float)
    with pytest.raises(ValueError, match="single value"):
        _est(cls).fit(X, y, sample_weight=weights)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_constant_covariate(cls, data):
    X, y = data
    X = X.assign(x2=3.0)
    with pytest.raises(
        ValueError, match=r"covariate 'x2' is constant or a linear combination"
    ):
        _est(cls).fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_collinear_covariates(cls, data):
    X, y = data
    X = X.assign(x3=2 * X["x1"] - X["x2"])
    with pytest.raises(ValueError, match=r"covariate 'x3'.*\(intercept, x1, x2\)"):
        _est(cls, covariates=["x1", "x2", "x3"]).fit(X, y)


def test_interaction_rank_deficient_names_covariate(data):
    X, y = data
    # x2 is constant among the treated: its interaction duplicates the treatment.
    X = X.assign(x2=np.where(X["r"] == 1, 0.5, X["x2"]))
    with pytest.raises(ValueError, match=r"interaction 'r:x2'.*covariate 'x2'"):
        _est(IVMediationRegressor).fit(X, y)


def test_mediator_not_identified(data):
    X, y = data
    X = X.assign(m=2 * X["r"] + 1)
    with pytest.raises(ValueError, match=r"mediator 'm' is not identified"):
        _est(IVMediationRegressor).fit(X, y)


def test_iv_needs_a_covariate(data):
    X, y = data
    with pytest.raises(ValueError, match="needs at least one covariate"):
        _est(IVMediationRegressor, covariates=[]).fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_too_few_rows(cls, data):
    X, y = data
    with pytest.raises(
        ValueError, match=r"too few rows: n_samples=5, but the .* has \d+ parameters"
    ):
        _est(cls).fit(X.iloc[:5], y.iloc[:5])


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_cluster_without_groups(cls, data):
    X, y = data
    with pytest.raises(
        ValueError, match=r"cov_type='cluster' needs the cluster labels.*groups"
    ):
        _est(cls, cov_type="cluster").fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_cluster_with_one_cluster(cls, data):
    X, y = data
    with pytest.raises(ValueError, match="at least 2 clusters in groups; got 1"):
        _est(cls, cov_type="cluster").fit(X, y, groups=np.zeros(len(y)))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_groups_of_wrong_length_or_missing(cls, data):
    X, y = data
    with pytest.raises(
        ValueError,
        match=r"groups must be a 1-D array with one cluster label per row of X \(600\)",
    ):
        _est(cls, cov_type="cluster").fit(X, y, groups=np.arange(10))
    groups = np.arange(len(y)) % 7.0
    groups[4] = np.nan
    with pytest.raises(ValueError, match="groups contains NaN"):
        _est(cls, cov_type="cluster").fit(X, y, groups=groups)


def test_groups_ignored_for_other_cov_types(data):
    X, y = data
    a = _est(IVMediationRegressor, cov_type="HC1").fit(X, y)
    with pytest.warns(
        UnusedGroupsWarning, match="groups is ignored with cov_type='HC1'"
    ):
        b = _est(IVMediationRegressor, cov_type="HC1").fit(
            X, y, groups=np.arange(len(y)) % 5
        )
    pd.testing.assert_series_equal(a.result_.std_errors, b.result_.std_errors)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_role_naming_a_missing_column(cls, data):
    X, y = data
    with pytest.raises(
        ValueError,
        match=re.escape(
            "mediator names column(s) ['mm'] that are not in X; available columns: ['r', 'm', 'x1', 'x2', 'z1']"
        ),
    ):
        _est(cls, mediator="mm").fit(X, y)
    with pytest.raises(ValueError, match=r"covariates names column\(s\) \['x9'\]"):
        _est(cls, covariates=["x1", "x9"]).fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_column_with_two_roles(cls, data):
    X, y = data
    with pytest.raises(
        ValueError, match="column 'x1' is given two roles: covariates and controls"
    ):
        _est(cls, controls=["x1"]).fit(X, y)
    with pytest.raises(
        ValueError, match="column 'r' is given two roles: treatment and mediator"
    ):
        _est(cls, mediator="r").fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_role_must_select_one_column(cls, data):
    X, y = data
    with pytest.raises(
        ValueError, match=r"treatment must select exactly one column; it selects 2"
    ):
        _est(cls, treatment=["r", "z1"], controls=None).fit(X, y)
    with pytest.raises(ValueError, match="mediator selects no column"):
        _est(cls, mediator=[]).fit(X, y)
    with pytest.raises(ValueError, match="treatment is required"):
        cls(mediator="m").fit(X, y)


def test_more_mediators_than_instruments(data):
    X, y = data
    noise = np.random.default_rng(3).normal(size=(len(X), 2))
    X = X.assign(m2=X["m"] + noise[:, 0], m3=X["m"] - noise[:, 1])
    message = (
        r"3 mediators \['m', 'm2', 'm3'\] need at least as many excluded "
        r"instruments, and the model has 2 \(one treatment x covariate"
    )
    with pytest.raises(ValueError, match=message):
        _est(IVMediationRegressor, mediator=["m", "m2", "m3"]).fit(X, y)
    # the naive regression has no instruments to count
    naive = _est(NaiveMediationRegressor, mediator=["m", "m2", "m3"]).fit(X, y)
    assert list(naive.mediator_effect_.index) == ["m", "m2", "m3"]


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_names_on_array_input(cls, data):
    X, y = data
    with pytest.raises(ValueError, match="X has no column names"):
        _est(cls).fit(X.to_numpy(), y)
    with pytest.raises(
        ValueError, match="column index 9 is out of range for X with n_features=5"
    ):
        cls(treatment=0, mediator=9).fit(X.to_numpy(), y)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize(
    "param, value",
    [
        ("cov_type", "HC4"),
        ("confidence_level", 1.5),
        ("covariate_transformer", "scale"),
    ],
)
def test_invalid_parameters(cls, data, param, value):
    X, y = data
    with pytest.raises(InvalidParameterError, match=param):
        _est(cls, **{param: value}).fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_negative_sample_weight(cls, data):
    X, y = data
    weights = np.ones(len(y))
    weights[0] = -1
    with pytest.raises(
        ValueError, match="Negative values in data passed to .*sample_weight"
    ):
        _est(cls).fit(X, y, sample_weight=weights)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_callers_data_never_modified(cls, data):
    X, y = data
    X = X.assign(site=np.where(X["x1"] > 0, "north", "south"))
    weights = np.random.default_rng(0).integers(0, 3, len(y)).astype(float)
    groups = np.arange(len(y)) % 9
    copies = X.copy(), y.copy(), weights.copy(), groups.copy()
    _est(cls, covariates=["x1", "x2"], cov_type="cluster").fit(
        X, y, sample_weight=weights, groups=groups
    )
    pd.testing.assert_frame_equal(X, copies[0])
    pd.testing.assert_series_equal(y, copies[1])
    np.testing.assert_array_equal(weights, copies[2])
    np.testing.assert_array_equal(groups, copies[3])
    array = X[["r", "m", "x1", "x2"]].to_numpy()
    array_copy = array.copy()
    cls(treatment=0, mediator=1, cov_type="HC0").fit(array, y.to_numpy()).predict(array)
    np.testing.assert_array_equal(array, array_copy)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_duplicate_column_names_are_named(cls, data):
    X, y = data
    X = X.rename(columns={"x2": "x1"})
    with pytest.raises(ValueError, match=r"X has duplicate column names \['x1'\]"):
        _est(cls, covariates=["x1"]).fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_missing_value_of_a_nullable_column_is_named(cls, data):
    X, y = data
    X = X.copy()
    values = pd.array(np.round(X["x1"].to_numpy() * 10).astype(int), dtype="Int64")
    values[3] = pd.NA
    X["x1"] = values
    with pytest.raises(
        ValueError,
        match=r"column 'x1' \(covariate\) has 1 missing value\(s\); remove or impute",
    ):
        _est(cls).fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize(
    ("coding", "range_text"),
    [
        (lambda r: 2 * r - 1, "range -1 to 1"),
        (lambda r: r * (1 + (r > 0)), "range 0 to 2"),
    ],
)
def test_treatment_not_coded_zero_one_warns(cls, data, coding, range_text):
    from skmediate import TreatmentCodingWarning

    X, y = data
    X = X.assign(r=coding(X["r"]))
    with pytest.warns(TreatmentCodingWarning, match=range_text) as caught:
        _est(cls).fit(X, y)
    assert "recode the treatment to 0 (control) and 1 (treated)" in str(
        caught[0].message
    )
    # the summary states the coding (the effects are per unit of R)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TreatmentCodingWarning)
        summary = _est(cls).fit(X, y).summary()
    assert f"Treatment:   r ({range_text})" in summary
    assert summary.tables[0].loc["treatment_coding", "value"] == range_text
    # a 0/1 treatment, boolean or float, does not warn and says so
    summary = _est(cls).fit(data[0].assign(r=data[0]["r"] > 0), y).summary()
    assert "Treatment:   r (coded 0/1)" in summary


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_values_too_large_for_the_variances(cls, data):
    X, y = data
    with pytest.raises(ValueError, match=r"column 'y' \(outcome\) is too large"):
        _est(cls).fit(X, y * 1e155)


def test_transformer_selecting_columns_by_name_fails_clearly_on_the_controls():
    from sklearn.compose import make_column_transformer
    from sklearn.preprocessing import OneHotEncoder

    X, y, _ = simulate_trial(n=400, n_covariates=1, n_controls=1, site=True, seed=3)
    encoder = make_column_transformer(
        (OneHotEncoder(drop="first", sparse_output=False), ["site"]),
        remainder="passthrough",
    )
    est = IVMediationRegressor(
        treatment="r",
        mediator="m",
        covariates=["x1", "site"],
        controls=["z1"],
        covariate_transformer=encoder,
    )
    with pytest.raises(
        ValueError,
        match=r"covariate_transformer failed on the control columns \['z1'\]: .*"
        r"select its columns by type",
    ):
        est.fit(X, y)


def test_a_scaled_treatment_says_where_preprocessing_belongs(data):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skmediate import TreatmentCodingWarning

    X, y = data
    pipe = make_pipeline(
        StandardScaler().set_output(transform="pandas"), _est(IVMediationRegressor)
    )
    with pytest.warns(TreatmentCodingWarning, match="covariate_transformer"):
        pipe.fit(X, y)


def test_default_covariates_leave_out_the_outcome_and_the_cluster_labels():
    X, y, groups = simulate_trial(n=500, n_covariates=2, n_clusters=25, seed=5)
    frame = X.assign(y=y, practice=groups)
    est = IVMediationRegressor(treatment="r", mediator="m", cov_type="cluster")
    est.fit(frame, frame["y"], groups=frame["practice"])
    covariates = [frame.columns[i] for i in est.roles_.columns["covariates"]]
    assert covariates == ["x1", "x2"]
    explicit = IVMediationRegressor(
        treatment="r", mediator="m", covariates=["x1", "x2"], cov_type="cluster"
    ).fit(X, y, groups=groups)
    np.testing.assert_allclose(est.result_.estimates, explicit.result_.estimates)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_weights_summing_to_one_are_refused_with_the_fix(cls, data):
    X, y = data
    w = np.random.default_rng(0).uniform(0.5, 1.5, len(y))
    with pytest.raises(ValueError, match=r"sample_weight sums to 1, not more than"):
        _est(cls).fit(X, y, sample_weight=w / w.sum())
    # the suggested scaling fits, and equals the unscaled relative weights' fit
    scaled = _est(cls).fit(X, y, sample_weight=w * len(w) / w.sum())
    assert scaled.result_.nobs == pytest.approx(len(w))
