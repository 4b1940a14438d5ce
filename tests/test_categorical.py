"""Categorical columns are labels: covariates and controls one-hot encoded, never numbers.

The treatment and the mediator are never Categorical; polars Categorical and Enum
columns follow the rule of pandas Categoricals.
"""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skmediate import IVMediationRegressor, NaiveMediationRegressor

from .conftest import simulate_trial

ESTIMATORS = [IVMediationRegressor, NaiveMediationRegressor]


def _encoder():
    return make_column_transformer(
        (
            OneHotEncoder(drop="first", sparse_output=False),
            make_column_selector(dtype_exclude="number"),
        ),
        remainder="passthrough",
        verbose_feature_names_out=False,
    )


@pytest.fixture
def trial():
    """A trial whose site (four levels, coded 1, 2, 3, 10) modifies R's effect on M."""
    X, y, _ = simulate_trial(n=800, site=True, seed=12)
    codes = X["site"].map({"north": 1, "south": 2, "east": 3, "west": 10})
    return X.drop(columns="site").assign(site=codes), y


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("role", ["covariates", "controls"])
@pytest.mark.parametrize("ordered", [False, True])
def test_refused_without_an_encoder(cls, trial, role, ordered):
    X, y = trial
    X = X.assign(site=pd.Categorical(X["site"], ordered=ordered))
    roles = {"covariates": ["x1", "x2"], role: ["x1", "x2", "site"]}
    label = "covariate" if role == "covariates" else "control"
    if role == "controls":
        roles["covariates"] = ["x1"]
        roles["controls"] = ["x2", "site"]
    kind = "an ordered" if ordered else "a"
    with pytest.raises(
        ValueError,
        match=rf"column 'site' \({label}\) is {kind} pandas Categorical \(categories "
        r"1, 2, 3, 10\): its categories are labels, not numbers.*One-hot encode it "
        r"with covariate_transformer.*convert it first \(X\['site'\]\.astype\(float\)\)",
    ):
        cls(treatment="r", mediator="m", **roles).fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_encoded_like_the_string_coded_column(cls, trial):
    X, y = trial
    as_category = X.assign(site=pd.Categorical(X["site"]))
    as_string = X.assign(site=X["site"].astype(str))
    roles = dict(treatment="r", mediator="m", covariates=["x1", "x2", "site"])
    cat = cls(covariate_transformer=_encoder(), **roles).fit(as_category, y)
    text = cls(covariate_transformer=_encoder(), **roles).fit(as_string, y)
    # the same dropped level (1), the same columns (the Categorical's in the
    # order of its categories, the strings' in lexical order): the same fit
    assert set(cat.result_.terms) == set(text.result_.terms)
    assert "site_10" in cat.result_.terms and "site_1" not in cat.result_.terms
    terms = list(text.result_.terms)
    assert_allclose(cat.result_.params[terms], text.result_.params, rtol=1e-10)
    assert_allclose(
        cat.result_.cov.loc[terms, terms], text.result_.cov, rtol=1e-9, atol=1e-15
    )
    assert_allclose(
        cat.result_.effects.to_numpy(float),
        text.result_.effects.to_numpy(float),
        rtol=1e-9,
    )
    # the linear term of the codes is a different model
    linear = cls(**roles).fit(X, y)
    assert not np.isclose(linear.mediator_effect_, cat.mediator_effect_, rtol=1e-6)


def test_ordered_categorical_with_an_encoder(trial):
    X, y = trial
    ordered = X.assign(site=pd.Categorical(X["site"], ordered=True))
    roles = dict(treatment="r", mediator="m", covariates=["x1", "x2", "site"])
    est = IVMediationRegressor(covariate_transformer=_encoder(), **roles).fit(
        ordered, y
    )
    ref = IVMediationRegressor(covariate_transformer=_encoder(), **roles).fit(
        X.assign(site=X["site"].astype(str)), y
    )
    terms = list(ref.result_.terms)
    assert_allclose(est.result_.params[terms], ref.result_.params, rtol=1e-10)


def test_the_users_own_transformer_decides(trial):
    """A transformer that takes a Categorical as numbers is the user's choice."""
    X, y = trial
    roles = dict(treatment="r", mediator="m", covariates=["x1", "x2", "site"])
    est = IVMediationRegressor(covariate_transformer=StandardScaler(), **roles)
    est.fit(X.assign(site=pd.Categorical(X["site"], ordered=True)), y)
    ref = IVMediationRegressor(covariate_transformer=StandardScaler(), **roles)
    ref.fit(X, y)
    assert_allclose(est.result_.params, ref.result_.params, rtol=1e-10)


def test_predict_refuses_a_categorical_the_fit_did_not_have(trial):
    X, y = trial
    est = IVMediationRegressor(
        treatment="r", mediator="m", covariates=["x1", "x2", "site"]
    ).fit(X, y)
    with pytest.raises(ValueError, match=r"column 'site' \(covariate\) is a pandas"):
        est.predict(X.assign(site=pd.Categorical(X["site"])))


def test_large_frames_are_checked_too(trial):
    """Frames too large to convert whole take another path through the roles."""
    X, y = trial
    X = pd.concat([X] * 20, ignore_index=True).assign(site=lambda d: d["site"])
    y = pd.concat([y] * 20, ignore_index=True)
    X = X.assign(site=pd.Categorical(X["site"]))
    with pytest.raises(ValueError, match="is a pandas Categorical"):
        NaiveMediationRegressor(
            treatment="r", mediator="m", covariates=["x1", "site"]
        ).fit(X, y)


# -- the treatment and the mediator: never Categorical ---------------------------


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("encoder", [False, True])
def test_categorical_treatment_is_refused(cls, trial, encoder):
    X, y = trial
    roles = dict(treatment="r", mediator="m", covariates=["x1", "x2"])
    if encoder:  # a covariate transformer never applies to the treatment
        roles["covariate_transformer"] = _encoder()
    arms = X.assign(r=pd.Categorical(X["r"].map({0: "C", 1: "T"})))
    with pytest.raises(
        ValueError,
        match=r"column 'r' \(treatment\) is a pandas Categorical \(categories 'C', "
        r"'T'\): its categories are labels, not numbers, and the treatment must be "
        r"numeric\. Code the arms as 0 \(control\) and 1 \(treated\), for example "
        r"X\['r'\] = \(X\['r'\] == 'T'\)\.astype\(int\) if 'T' is the treated arm",
    ):
        cls(**roles).fit(arms, y)
    # categories that look like numbers are labels all the same
    with pytest.raises(ValueError, match=r"'r' \(treatment\) is a pandas Categorical"):
        cls(**roles).fit(X.assign(r=pd.Categorical(X["r"])), y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_categorical_mediator_is_refused(cls, trial):
    X, y = trial
    X = X.assign(m=pd.Categorical((X["m"] > 0).map({False: "no", True: "yes"})))
    with pytest.raises(
        ValueError,
        match=r"column 'm' \(mediator\) is a pandas Categorical \(categories 'no', "
        r"'yes'\).*the mediator must be numeric\. Code it as numbers: 0 and 1 for "
        r"a binary mediator \(for example \(X\['m'\] == 'yes'\)\.astype\(int\)\)",
    ):
        cls(treatment="r", mediator="m", covariates=["x1", "x2"]).fit(X, y)


def test_predict_refuses_a_categorical_treatment(trial):
    X, y = trial
    est = IVMediationRegressor(
        treatment="r", mediator="m", covariates=["x1", "x2"]
    ).fit(X, y)
    with pytest.raises(ValueError, match=r"'r' \(treatment\) is a pandas Categorical"):
        est.predict(X.assign(r=pd.Categorical(X["r"])))


def test_dask_follows_the_same_rule(trial):
    dd = pytest.importorskip("dask.dataframe")
    X, y = trial
    lazy = dd.from_pandas(X.assign(r=pd.Categorical(X["r"])), npartitions=2)
    with pytest.raises(ValueError, match=r"'r' \(treatment\) is a pandas Categorical"):
        IVMediationRegressor(treatment="r", mediator="m", covariates=["x1"]).fit(
            lazy, y
        )
    lazy = dd.from_pandas(X.assign(site=pd.Categorical(X["site"])), npartitions=2)
    with pytest.raises(
        ValueError, match=r"'site' \(covariate\) is not numeric.*get_dummies"
    ):
        IVMediationRegressor(
            treatment="r", mediator="m", covariates=["x1", "site"]
        ).fit(lazy, y)


# -- polars Categorical and Enum: the rule of pandas -------------------------------


def _polars(X, column, kind):
    pl = pytest.importorskip("polars")
    frame = pl.from_pandas(X)
    labels = pl.col(column).cast(pl.Int64).cast(pl.String)
    if kind == "Enum":
        levels = sorted({str(int(v)) for v in X[column]})
        return frame.with_columns(labels.cast(pl.Enum(levels)))
    return frame.with_columns(labels.cast(pl.Categorical))


@pytest.mark.parametrize("kind", ["Categorical", "Enum"])
@pytest.mark.parametrize(
    ("column", "role"),
    [("r", "treatment"), ("site", "covariate"), ("site", "control")],
)
def test_polars_categoricals_are_refused(trial, kind, column, role):
    """Labels such as "1", "2", "10" would otherwise be read as numbers."""
    X, y = trial
    frame = _polars(X, column, kind)
    roles = dict(treatment="r", mediator="m", covariates=["x1", "x2", "site"])
    if role == "control":
        roles.update(covariates=["x1", "x2"], controls=["site"])
    hint = {
        "treatment": r"Code the arms as 0 \(control\) and 1 \(treated\), for "
        r"example X\.with_columns\(\(pl\.col\('r'\) == '[01]'\)\.cast\(pl\.Int8\)\)",
        "covariate": r"One-hot encode it with covariate_transformer.*"
        r"X\.with_columns\(pl\.col\('site'\)\.cast\(pl\.String\)\.cast\(pl\.Float64\)\)",
    }[role if role == "treatment" else "covariate"]
    with pytest.raises(
        ValueError,
        match=rf"column '{column}' \({role}\) is a polars {kind} \(categories .*\): "
        rf"its categories are labels, not numbers.*{hint}",
    ):
        IVMediationRegressor(**roles).fit(frame, y)


def test_polars_categorical_covariate_with_an_encoder(trial):
    """Encoded, a polars Categorical gives the fit of the pandas string column."""
    pl = pytest.importorskip("polars")
    X, y = trial
    frame = _polars(X, "site", "Categorical")

    def labels(df):
        return [c for c, t in df.schema.items() if t in (pl.Categorical, pl.String)]

    encoder = make_column_transformer(
        (OneHotEncoder(drop="first", sparse_output=False), labels),
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    roles = dict(treatment="r", mediator="m", covariates=["x1", "x2", "site"])
    est = IVMediationRegressor(covariate_transformer=encoder, **roles).fit(frame, y)
    ref = IVMediationRegressor(covariate_transformer=_encoder(), **roles).fit(
        X.assign(site=X["site"].astype(str)), y
    )
    terms = list(ref.result_.terms)
    assert set(est.result_.terms) == set(terms)
    assert_allclose(est.result_.params[terms], ref.result_.params, rtol=1e-10)


def test_column_dtypes_are_the_frames_dtypes():
    """The dtypes the role checks read are ``DataFrame.dtypes``, column by column,
    whatever mix of blocks and extension types the frame holds."""
    from skmediate._validation import column_dtypes

    frame = pd.DataFrame(
        {
            "a": [1.0, 2.0, 3.0],
            "b": pd.Categorical(["x", "y", "x"]),
            "c": pd.array([1, None, 3], dtype="Int64"),
            "d": [4.0, 5.0, 6.0],
            "e": ["p", "q", "r"],
            "f": [1, 2, 3],
        }
    )
    frame.insert(1, "g", [7.0, 8.0, 9.0])  # a second float block, interleaved
    assert list(column_dtypes(frame)) == list(frame.dtypes)
    assert list(column_dtypes(frame.iloc[:, ::-1])) == list(frame.dtypes[::-1])
