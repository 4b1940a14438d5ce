"""pandas Categorical covariates and controls are labels: one-hot encoded, never numbers."""

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
