"""Several mediators: estimates, covariances and effects.

Checks and tolerances:

- estimates, standard errors and covariances of the structural equation with
  two and three endogenous mediators against linearmodels' ``IV2SLS`` and
  ``IVLIML`` (LIML and Fuller), for every covariance linearmodels offers, to
  1e-8 relative (the implementations agree to about 1e-13);
- the naive regression against statsmodels' OLS, to 1e-8;
- the effects and their joint covariance against an explicit computation with
  numpy (row-wise influence functions of the four estimating equations and the
  covariate means, sandwich sums, the delta method by hand) for HC0 and CR0,
  to 1e-8;
- with one mediator, a one-element list gives exactly the fit of the plain name.
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from linearmodels.iv import IV2SLS, IVLIML
from numpy.testing import assert_allclose

from skmediate import IVMediationRegressor, NaiveMediationRegressor

from .test_reference_python import LINEARMODELS_COV, _cov_kwargs

RTOL = 1e-8


def two_mediator_trial(n=900, n_mediators=2, n_covariates=3, seed=0):
    """A trial whose mediators share an unmeasured confounder ``u`` with ``y``;
    each mediator's response to ``r`` varies with its own covariates."""
    rng = np.random.default_rng(seed)
    r = rng.integers(0, 2, n).astype(float)
    x = rng.normal(size=(n, n_covariates))
    u = rng.normal(size=n)
    frame = pd.DataFrame({"r": r})
    for j in range(n_covariates):
        frame[f"x{j + 1}"] = x[:, j]
    modifiers = rng.normal(size=(n_covariates, n_mediators)) + np.eye(
        n_covariates, n_mediators
    )
    mediators = r[:, None] * (1 + x @ modifiers) + u[:, None]
    mediators += rng.normal(size=mediators.shape) * (1 + 0.5 * r[:, None])
    names = [f"m{j + 1}" for j in range(n_mediators)]
    for j, name in enumerate(names):
        frame[name] = mediators[:, j]
    theta = np.linspace(1.0, 0.5, n_mediators)
    y = 0.5 * r + mediators @ theta + x[:, 0] + 1.5 * u + rng.normal(size=n)
    groups = np.arange(n) % 40
    return frame, pd.Series(y, name="y"), groups, names


def _matrices(frame, n_covariates):
    covariates = [f"x{j + 1}" for j in range(n_covariates)]
    exog = pd.concat(
        [pd.Series(1.0, index=frame.index, name="intercept"), frame[covariates]],
        axis=1,
    ).assign(r=frame["r"])
    centered = frame[covariates] - frame[covariates].mean()
    instruments = centered.mul(frame["r"], axis=0).add_prefix("r:")
    return covariates, exog, instruments


@pytest.mark.parametrize("n_mediators", [2, 3])
@pytest.mark.parametrize("cov_type", sorted(LINEARMODELS_COV))
@pytest.mark.parametrize("kappa", [1.0, "liml", "fuller"])
def test_several_mediators_match_linearmodels(n_mediators, cov_type, kappa):
    n_covariates = 4
    frame, y, groups, names = two_mediator_trial(
        n_mediators=n_mediators, n_covariates=n_covariates, seed=n_mediators
    )
    covariates, exog, instruments = _matrices(frame, n_covariates)
    est = IVMediationRegressor(
        treatment="r",
        mediator=names,
        covariates=covariates,
        cov_type=cov_type,
        kappa=kappa,
    ).fit(frame, y, groups=groups if cov_type == "cluster" else None)
    lm_cov, debiased = LINEARMODELS_COV[cov_type]
    if kappa == 1.0:
        model = IV2SLS(y, exog, frame[names], instruments)
    else:
        extra = {"fuller": 1.0} if kappa == "fuller" else {}
        model = IVLIML(y, exog, frame[names], instruments, **extra)
    ref = model.fit(cov_type=lm_cov, debiased=debiased, **_cov_kwargs(cov_type, groups))
    assert list(est.result_.params.index) == list(ref.params.index)
    assert_allclose(est.result_.params, ref.params, rtol=RTOL)
    assert_allclose(est.result_.std_errors, ref.std_errors, rtol=RTOL)
    assert_allclose(est.result_.cov, ref.cov, rtol=RTOL, atol=1e-14)
    assert isinstance(est.mediator_effect_, pd.Series)
    assert list(est.mediator_effect_.index) == names
    assert_allclose(est.mediator_effect_, ref.params[names], rtol=RTOL)
    assert est.direct_effect_ == pytest.approx(ref.params["r"], rel=RTOL)
    effects = est.result_.effects
    for name in names:
        assert effects.loc[f"mediator[{name}]", "estimate"] == pytest.approx(
            ref.params[name], rel=RTOL
        )
        assert effects.loc[f"mediator[{name}]", "std_error"] == pytest.approx(
            ref.std_errors[name], rel=RTOL
        )


@pytest.mark.parametrize("cov_type", ["unadjusted", "HC1", "cluster"])
def test_naive_several_mediators_match_statsmodels(cov_type):
    frame, y, groups, names = two_mediator_trial(seed=5)
    covariates = ["x1", "x2", "x3"]
    est = NaiveMediationRegressor(
        treatment="r", mediator=names, covariates=covariates, cov_type=cov_type
    ).fit(frame, y, groups=groups if cov_type == "cluster" else None)
    regressors = sm.add_constant(frame[[*covariates, "r", *names]])
    model = sm.OLS(y, regressors)
    if cov_type == "cluster":
        ref = model.fit(cov_type="cluster", cov_kwds={"groups": groups})
    elif cov_type == "HC1":
        ref = model.fit(cov_type="HC1")
    else:
        ref = model.fit()
        n, k = regressors.shape
        ref_se = ref.bse * np.sqrt((n - k) / n)
    assert_allclose(est.result_.params.to_numpy(), ref.params.to_numpy(), rtol=RTOL)
    se = ref_se if cov_type == "unadjusted" else ref.bse
    assert_allclose(est.result_.std_errors.to_numpy(), se.to_numpy(), rtol=RTOL)
    # each effect on a mediator is its own least-squares coefficient of r
    for name in names:
        coef = sm.OLS(frame[name], sm.add_constant(frame[[*covariates, "r"]])).fit()
        assert est.result_.effect_estimate(
            f"effect_on_mediator[{name}]"
        ) == pytest.approx(coef.params["r"], rel=RTOL)


def _influence(frame, y, names, covariates):
    """Row-wise influence functions of [θ_R, θ_M (q), δ (q), ITT] with numpy."""
    n = len(y)
    r = frame["r"].to_numpy()
    x = frame[covariates].to_numpy()
    xbar = x.mean(axis=0)
    w = np.column_stack([np.ones(n), x, r])
    q = np.column_stack([w, r[:, None] * (x - xbar)])
    m = frame[names].to_numpy()
    d = np.column_stack([w, m])
    # 2SLS: θ = (D̂ᵀD)⁻¹ D̂ᵀy with D̂ = P_Q D
    d_hat = q @ np.linalg.lstsq(q, d, rcond=None)[0]
    a = np.linalg.inv(d_hat.T @ d)
    theta = a @ d_hat.T @ y
    resid = y - d @ theta
    psi_struct = (d_hat * resid[:, None]) @ a.T  # rows: influence of θ
    kw = w.shape[1]
    cols = [kw - 1, *range(kw, kw + len(names))]
    pieces = [psi_struct[:, cols]]
    # first stages: δ_j is the coefficient of r in m_j ~ q (interactions at x̄)
    qq = np.linalg.inv(q.T @ q)
    deltas = []
    for j in range(len(names)):
        coef = qq @ q.T @ m[:, j]
        v = m[:, j] - q @ coef
        psi_first = (q * v[:, None]) @ qq.T
        gamma = coef[kw:]
        # δ(x̄) = coefficient of r with interactions centered at x̄; moving x̄ by
        # dx moves it by γᵀdx, and x̄'s influence is (x_i - x̄)/n
        psi_mean = (x - xbar) / n
        pieces.append((psi_first[:, kw - 1] + psi_mean @ gamma)[:, None])
        deltas.append(coef[kw - 1])
    ww = np.linalg.inv(w.T @ w)
    itt_coef = ww @ w.T @ y
    e = y - w @ itt_coef
    pieces.append(((w * e[:, None]) @ ww.T)[:, [kw - 1]])
    estimate = np.concatenate([theta[cols], deltas, [itt_coef[kw - 1]]])
    return estimate, np.hstack(pieces)


@pytest.mark.parametrize("cov_type", ["HC0", "CR0"])
def test_effects_covariance_matches_explicit_influence_functions(cov_type):
    frame, y, groups, names = two_mediator_trial(seed=11)
    covariates = ["x1", "x2", "x3"]
    est = IVMediationRegressor(
        treatment="r", mediator=names, covariates=covariates, cov_type=cov_type
    ).fit(frame, y, groups=groups if cov_type == "CR0" else None)
    estimate, psi = _influence(frame, y.to_numpy(), names, covariates)
    if cov_type == "CR0":
        psi = pd.DataFrame(psi).groupby(groups).sum().to_numpy()
    cov = psi.T @ psi
    q = len(names)
    theta_r, theta_m = estimate[0], estimate[1 : q + 1]
    delta, itt = estimate[q + 1 : 2 * q + 1], estimate[-1]
    size = len(estimate)
    eye = np.eye(size)
    each = theta_m * delta
    grad_each = [delta[j] * eye[1 + j] + theta_m[j] * eye[q + 1 + j] for j in range(q)]
    indirect, grad_indirect = each.sum(), sum(grad_each)
    total, grad_total = theta_r + indirect, eye[0] + sum(grad_each)

    def ratio(num, grad_num):
        return num / total, (grad_num * total - num * grad_total) / total**2

    rows = {"direct": (theta_r, eye[0])}
    for j, name in enumerate(names):
        rows[f"mediator[{name}]"] = (theta_m[j], eye[1 + j])
        rows[f"effect_on_mediator[{name}]"] = (delta[j], eye[q + 1 + j])
        rows[f"indirect[{name}]"] = (each[j], grad_each[j])
        rows[f"proportion_mediated[{name}]"] = ratio(each[j], grad_each[j])
    rows["indirect"] = (indirect, grad_indirect)
    rows["total"] = (total, grad_total)
    rows["intention_to_treat"] = (itt, eye[-1])
    rows["proportion_mediated"] = ratio(indirect, grad_indirect)

    effects = est.result_.effects
    assert sorted(effects.index) == sorted(rows)
    names_order = list(effects.index)
    jac = np.vstack([rows[name][1] for name in names_order])
    expected_cov = jac @ cov @ jac.T
    assert_allclose(
        effects["estimate"], [rows[name][0] for name in names_order], rtol=RTOL
    )
    assert_allclose(est.result_.effects_cov, expected_cov, rtol=RTOL, atol=1e-14)
    # the total effect is the intention-to-treat effect up to sampling error,
    # and the proportions add up
    per = [effects.loc[f"proportion_mediated[{m}]", "estimate"] for m in names]
    assert sum(per) == pytest.approx(
        effects.loc["proportion_mediated", "estimate"], rel=1e-12
    )


def test_one_element_list_is_the_single_mediator_fit():
    frame, y, _, _ = two_mediator_trial(n_mediators=1, seed=2)
    single = IVMediationRegressor(
        treatment="r", mediator="m1", covariates=["x1", "x2", "x3"]
    ).fit(frame, y)
    listed = IVMediationRegressor(
        treatment="r", mediator=["m1"], covariates=["x1", "x2", "x3"]
    ).fit(frame, y)
    assert isinstance(listed.mediator_effect_, float)
    assert listed.mediator_effect_ == single.mediator_effect_
    pd.testing.assert_frame_equal(listed.result_.effects, single.result_.effects)
    assert list(single.result_.effects.index) == [
        "direct",
        "mediator",
        "effect_on_mediator",
        "indirect",
        "total",
        "intention_to_treat",
        "proportion_mediated",
    ]


def test_result_mediator_names_the_only_one():
    frame, y, _, names = two_mediator_trial(seed=4)
    est = IVMediationRegressor(
        treatment="r", mediator=names, covariates=["x1", "x2", "x3"]
    ).fit(frame, y)
    assert est.result_.mediators == ("m1", "m2")
    with pytest.raises(ValueError, match=r"the fit has 2 mediators \['m1', 'm2'\]"):
        _ = est.result_.mediator
    with pytest.raises(ValueError, match="unknown effect 'mediator'"):
        est.result_.effect_estimate("mediator")
    text = est.summary().as_text()
    assert "Mediators:   m1, m2" in text
    assert "effect_on_me~[m2]" in text


def test_mediators_not_identified_jointly():
    frame, y, _, names = two_mediator_trial(seed=1)
    covariates = ["x1", "x2", "x3"]
    r, x = frame["r"].to_numpy(), frame[covariates].to_numpy()
    q = np.column_stack([np.ones(len(r)), x, r, r[:, None] * x])
    noise = np.random.default_rng(0).normal(size=len(r))
    noise -= q @ np.linalg.lstsq(q, noise, rcond=None)[0]
    # m2 - m1 is orthogonal to every instrument: the first stages coincide
    frame = frame.assign(m2=frame["m1"] + noise)
    with pytest.raises(
        ValueError, match=r"mediators \['m1', 'm2'\] are not identified"
    ):
        IVMediationRegressor(treatment="r", mediator=names, covariates=covariates).fit(
            frame, y
        )


def test_effect_attributes_per_mediator():
    frame, y, _, names = two_mediator_trial(seed=6)
    est = IVMediationRegressor(
        treatment="r", mediator=names, covariates=["x1", "x2", "x3"]
    ).fit(frame, y)
    effects = est.result_.effects["estimate"]
    assert list(est.effect_on_mediator_.index) == names
    for name in names:
        assert est.effect_on_mediator_[name] == effects[f"effect_on_mediator[{name}]"]
    assert est.indirect_effect_ == pytest.approx(
        sum(effects[f"indirect[{m}]"] for m in names), rel=1e-12
    )
    assert est.total_effect_ == effects["total"]
    assert est.proportion_mediated_ == effects["proportion_mediated"]


@pytest.mark.parametrize("cov_type", ["HC1", "cluster"])
def test_dask_and_polars_inputs_equal_pandas(cov_type):
    dd = pytest.importorskip("dask.dataframe")
    pl = pytest.importorskip("polars")
    frame, y, groups, names = two_mediator_trial(seed=3)
    est = IVMediationRegressor(
        treatment="r", mediator=names, covariates=["x1", "x2", "x3"], cov_type=cov_type
    )
    labels = pd.Series(groups, name="g") if cov_type == "cluster" else None
    expected = est.fit(frame, y, groups=labels).result_.effects
    data = dd.from_pandas(frame.assign(y=y, g=groups), npartitions=3)
    got = est.fit(
        data.drop(columns=["y", "g"]),
        data["y"],
        groups=data["g"] if labels is not None else None,
    ).result_.effects
    assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-10, atol=1e-13)
    from_polars = est.fit(pl.from_pandas(frame), y.to_numpy(), groups=labels)
    assert_allclose(from_polars.result_.effects.to_numpy(), expected.to_numpy())


@pytest.mark.parametrize("cov_type", ["unadjusted", "HC1"])
def test_overidentification_and_exogeneity_tests_match_linearmodels(cov_type):
    frame, y, _, names = two_mediator_trial(n_covariates=4, seed=3)
    covariates, exog, instruments = _matrices(frame, 4)
    est = IVMediationRegressor(
        treatment="r", mediator=names, covariates=covariates, cov_type=cov_type
    ).fit(frame, y)
    lm_cov, debiased = LINEARMODELS_COV[cov_type]
    ref = IV2SLS(y, exog, frame[names], instruments).fit(
        cov_type=lm_cov, debiased=debiased
    )
    diag = est.diagnostics_
    expected = {
        "sargan": ref.sargan,
        "durbin": ref.durbin(),
        "wu_hausman": ref.wu_hausman(),
        "hansen_j": ref.wooldridge_overid,
    }
    if cov_type == "HC1":
        expected["exogeneity_regression"] = ref.wooldridge_regression
    for key, test in expected.items():
        assert diag.loc[key, "statistic"] == pytest.approx(test.stat, rel=RTOL), key
        assert diag.loc[key, "df"] == test.df, key
