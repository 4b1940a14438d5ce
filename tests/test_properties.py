"""Property-based tests (hypothesis): invariances and equivariances of the estimates.

Each property is a closed-form statement about how the estimates and their
covariances respond to a transformation of the data, checked on randomly drawn
trials and transformations for every covariance type and both estimators.

The trials have strong instruments (the interactions move the mediator by
about three times its noise; the expected first-stage F is in the hundreds), so
no WeakInstrumentWarning is expected; pytest turns one into an error.

Tolerances: 1e-8 relative on estimates and standard errors after a
transformation that changes the floating-point data (permutation, affine maps,
scaling), with an absolute floor of 1e-10 times the largest estimate for
coefficients that are mathematically equal but computed from different sums;
1e-10 relative for the factor exactly derived for duplicated rows.
"""

import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from skmediate import IVMediationRegressor, NaiveMediationRegressor, SensitivityGrid

COV_TYPES = ["unadjusted", "classical", "HC0", "HC1", "cluster"]
ESTIMATORS = [IVMediationRegressor, NaiveMediationRegressor]
RTOL = 1e-8
SETTINGS = settings(max_examples=15, deadline=None)


def _make_trial(seed, n, n_covariates, n_controls, n_clusters):
    rng = np.random.default_rng(seed)
    r = rng.integers(0, 2, n).astype(float)
    # Both arms present: the design needs a randomized comparison.
    r[:2] = [0.0, 1.0]
    x = rng.normal(size=(n, n_covariates)) * rng.uniform(0.5, 3, n_covariates)
    x += rng.uniform(-5, 5, n_covariates)
    z = rng.normal(size=(n, n_controls))
    u = rng.normal(size=n)
    centered = (x - x.mean(axis=0)) / x.std(axis=0)
    m = 0.5 + r * (1 + 3 * centered.sum(axis=1)) + 0.5 * u + 0.5 * rng.normal(size=n)
    y = (
        1
        + x @ rng.normal(size=n_covariates)
        + z @ rng.normal(size=n_controls)
        - (1 + 0.5 * rng.normal(size=n)) * r
        + (2 + 0.5 * rng.normal(size=n)) * m
        + u
        + rng.normal(size=n) * (1 + r)
    )
    frame = pd.DataFrame({"r": r, "m": m})
    for j in range(n_covariates):
        frame[f"x{j + 1}"] = x[:, j]
    for j in range(n_controls):
        frame[f"z{j + 1}"] = z[:, j]
    groups = rng.integers(0, n_clusters, n)
    groups[:n_clusters] = np.arange(n_clusters)  # every cluster present
    roles = dict(
        treatment="r",
        mediator="m",
        covariates=[f"x{j + 1}" for j in range(n_covariates)],
        controls=[f"z{j + 1}" for j in range(n_controls)] or None,
    )
    return frame, pd.Series(y, name="y"), groups, roles


@st.composite
def trials(draw):
    """A simulated trial: (X, y, groups, roles)."""
    return _make_trial(
        seed=draw(st.integers(0, 2**32 - 1)),
        n=draw(st.integers(60, 250)),
        n_covariates=draw(st.integers(1, 3)),
        n_controls=draw(st.integers(0, 2)),
        n_clusters=draw(st.integers(5, 20)),
    )


def _fit(cls, X, y, groups, roles, cov_type, **fit_params):
    est = cls(**roles, cov_type=cov_type)
    return est.fit(X, y, groups=groups if cov_type == "cluster" else None, **fit_params)


def _scale_floor(params):
    return 1e-10 * np.abs(params).max()


def _conditioned_rtol(*frames):
    """``RTOL``, or the accuracy a backward-stable least squares fit guarantees.

    Relative errors of least squares estimates with nonzero residuals grow like
    ``κ² ε`` with ``κ`` the condition number of the column-scaled design. An
    affine map ``x -> a x + b`` with ``|b|`` large against ``|a|·sd(x)`` makes
    the covariate nearly collinear with the intercept and raises ``κ`` (to about
    ``1e4`` for a coefficient of variation of ``1e-4``), so the exact invariance
    can only be checked to that accuracy.
    """
    worst = 1.0
    for frame in frames:
        design = np.column_stack([np.ones(len(frame)), frame.to_numpy(dtype=float)])
        design = design / np.linalg.norm(design, axis=0)
        worst = max(worst, np.linalg.cond(design))
    return max(RTOL, 10 * worst**2 * np.finfo(float).eps)


@SETTINGS
@given(trial=trials(), cls=st.sampled_from(ESTIMATORS), data=st.data())
def test_row_permutation_invariance(trial, cls, data):
    X, y, groups, roles = trial
    order = np.asarray(data.draw(st.permutations(range(len(y)))))
    for cov_type in COV_TYPES:
        a = _fit(cls, X, y, groups, roles, cov_type).result_
        b = _fit(
            cls, X.iloc[order], y.iloc[order], groups[order], roles, cov_type
        ).result_
        floor = _scale_floor(a.params)
        assert_allclose(b.params, a.params, rtol=RTOL, atol=floor)
        assert_allclose(b.std_errors, a.std_errors, rtol=RTOL)
        if a.first_stage is not None:
            assert b.first_stage.f_statistic == pytest.approx(
                a.first_stage.f_statistic, rel=RTOL
            )
            assert b.first_stage.wald_f_statistic == pytest.approx(
                a.first_stage.wald_f_statistic, rel=RTOL
            )


@SETTINGS
@given(
    trial=trials(),
    cls=st.sampled_from(ESTIMATORS),
    scale=st.floats(0.01, 100) | st.floats(-100, -0.01),
    shift=st.floats(-100, 100),
    data=st.data(),
)
def test_affine_map_of_a_covariate(trial, cls, scale, shift, data):
    """``x_j -> a x_j + b``: ``β_j -> β_j/a``, intercept ``-> β_0 - β_j b/a``, nothing else.

    The instruments ``R·(x_j - x̄_j)`` are scaled by ``a`` (the centering
    removes ``b``), so they span the same space; the other coefficients and
    all other standard errors are unchanged, and the standard error of
    ``β_j`` is divided by ``|a|``.
    """
    X, y, groups, roles = trial
    name = data.draw(st.sampled_from(roles["covariates"]))
    mapped = X.copy()
    mapped[name] = scale * X[name] + shift
    rtol = _conditioned_rtol(X, mapped)
    for cov_type in COV_TYPES:
        a = _fit(cls, X, y, groups, roles, cov_type).result_
        b = _fit(cls, mapped, y, groups, roles, cov_type).result_
        expected = a.params.copy()
        expected[name] = a.params[name] / scale
        expected["intercept"] = a.params["intercept"] - a.params[name] * shift / scale
        floor = _scale_floor(expected)
        assert_allclose(b.params, expected, rtol=rtol, atol=floor)
        others = [t for t in a.params.index if t not in (name, "intercept")]
        assert_allclose(b.std_errors[others], a.std_errors[others], rtol=rtol)
        assert b.std_errors[name] == pytest.approx(
            a.std_errors[name] / abs(scale), rel=rtol
        )
        if a.first_stage is not None:
            assert b.first_stage.f_statistic == pytest.approx(
                a.first_stage.f_statistic, rel=rtol
            )


@SETTINGS
@given(
    trial=trials(),
    cls=st.sampled_from(ESTIMATORS),
    factor=st.floats(1e-3, 1e3) | st.floats(-1e3, -1e-3),
    constant=st.floats(-1e3, 1e3),
)
def test_outcome_scaling_and_shift(trial, cls, factor, constant):
    """``y -> c y`` scales every estimate by ``c`` and every SE by ``|c|``;
    ``y -> y + d`` moves the intercept by ``d`` and changes nothing else."""
    X, y, groups, roles = trial
    for cov_type in COV_TYPES:
        a = _fit(cls, X, y, groups, roles, cov_type).result_
        scaled = _fit(cls, X, factor * y, groups, roles, cov_type).result_
        floor = _scale_floor(factor * a.params)
        assert_allclose(scaled.params, factor * a.params, rtol=RTOL, atol=floor)
        assert_allclose(scaled.std_errors, abs(factor) * a.std_errors, rtol=RTOL)

        shifted = _fit(cls, X, y + constant, groups, roles, cov_type).result_
        expected = a.params.copy()
        expected["intercept"] += constant
        floor = _scale_floor(expected)
        assert_allclose(shifted.params, expected, rtol=RTOL, atol=floor)
        assert_allclose(shifted.std_errors, a.std_errors, rtol=RTOL)


def duplication_se_factor(cov_type, n, k, n_clusters=None):
    """``se(2n rows) / se(n rows)`` when every row appears twice (in its own cluster).

    The bread halves (``(D̂ᵀD̂)⁻¹ -> (D̂ᵀD̂)⁻¹/2``) and the RSS and the HC meat
    double, so the covariance is ``B·RSS/n`` -> ``B·RSS/(2n)`` (unadjusted),
    ``B·RSS/(n-k)`` -> ``B·RSS/(2n-k)`` (classical), ``BMB`` -> ``BMB/2``
    (HC0), and HC1 has HC0's ratio times ``(2n/(2n-k)) / (n/(n-k))``. A
    cluster's score sum doubles, so its meat quadruples and only the factor
    ``(n-1)/(n-k)`` changes.
    """
    if cov_type in ("unadjusted", "HC0"):
        return np.sqrt(0.5)
    if cov_type in ("classical", "HC1"):
        return np.sqrt((n - k) / (2 * n - k))
    if cov_type == "cluster":
        return np.sqrt((2 * n - 1) * (n - k) / ((2 * n - k) * (n - 1)))
    raise ValueError(cov_type)


@SETTINGS
@given(trial=trials(), cls=st.sampled_from(ESTIMATORS))
def test_duplicating_every_row(trial, cls):
    """Estimates unchanged; classical SEs divided by ``sqrt((2n-k)/(n-k))`` (about √2)."""
    X, y, groups, roles = trial
    n = len(y)
    doubled = (
        pd.concat([X, X], ignore_index=True),
        pd.concat([y, y], ignore_index=True),
        np.concatenate([groups, groups]),
    )
    for cov_type in COV_TYPES:
        a = _fit(cls, X, y, groups, roles, cov_type).result_
        b = _fit(cls, *doubled, roles, cov_type).result_
        k = len(a.params)
        assert_allclose(b.params, a.params, rtol=RTOL, atol=_scale_floor(a.params))
        factor = duplication_se_factor(cov_type, n, k)
        assert_allclose(b.std_errors, factor * a.std_errors, rtol=1e-10)
        if a.first_stage is not None:
            df_a, df_b = a.first_stage.df_denom, b.first_stage.df_denom
            assert df_b == df_a + n
            assert b.first_stage.f_statistic == pytest.approx(
                a.first_stage.f_statistic * df_b / df_a, rel=1e-10
            )


def test_duplication_factor_for_classical_is_about_root_two():
    # n = 100 rows, k = 6 coefficients: sqrt(94/194), about 1/sqrt(2.064).
    assert duplication_se_factor("classical", 100, 6) == pytest.approx(
        np.sqrt(94 / 194), rel=1e-15
    )
    assert 1 / duplication_se_factor("classical", 10**6, 6) == pytest.approx(
        np.sqrt(2), rel=1e-5
    )


@SETTINGS
@given(
    trial=trials(),
    cls=st.sampled_from(ESTIMATORS),
    cov_type=st.sampled_from(COV_TYPES),
    coefs=st.tuples(st.floats(-3, 3), st.floats(-3, 3)),
    data=st.data(),
)
def test_sensitivity_estimates_linear_in_tau(trial, cls, cov_type, coefs, data):
    """Refitted at each τ, the estimates are affine in τ: θ(αa + βb) - θ(0) = α(θ(a) - θ(0)) + β(θ(b) - θ(0))."""
    X, y, groups, roles = trial
    p = len(roles["covariates"])
    vector = st.lists(st.floats(-2, 2), min_size=2 * p, max_size=2 * p)
    a, b = np.array(data.draw(vector)), np.array(data.draw(vector))
    alpha, beta = coefs
    grid = np.vstack([np.zeros(2 * p), a, b, alpha * a + beta * b])
    est = cls(**roles, cov_type=cov_type)
    fitted = SensitivityGrid(
        est, tau_direct=grid[:, :p], tau_mediator=grid[:, p:], method="refit"
    ).fit(X, y, groups=groups if cov_type == "cluster" else None)
    frame = fitted.to_frame()
    for effect in ("direct_effect", "mediator_effect"):
        theta = frame[effect].to_numpy()
        combined = (
            theta[0] + alpha * (theta[1] - theta[0]) + beta * (theta[2] - theta[0])
        )
        scale = (
            np.abs(theta).max()
            + abs(alpha) * np.abs(theta[1] - theta[0])
            + abs(beta) * np.abs(theta[2] - theta[0])
        )
        assert theta[3] == pytest.approx(combined, rel=RTOL, abs=1e-10 * scale)


def _frozen(value):
    """A read-only copy: writing to it in place raises."""
    copy = np.array(value, copy=True)
    copy.flags.writeable = False
    return copy


@settings(max_examples=10, deadline=None)
@given(
    trial=trials(),
    cls=st.sampled_from(ESTIMATORS),
    cov_type=st.sampled_from(COV_TYPES),
    as_array=st.booleans(),
    index_offset=st.integers(-1000, 1000),
    data=st.data(),
)
def test_inputs_never_modified(trial, cls, cov_type, as_array, index_offset, data):
    """fit, predict, score and SensitivityGrid leave X, y, weights and groups as they were."""
    X, y, groups, roles = trial
    n = len(y)
    weights = np.asarray(data.draw(st.lists(st.integers(1, 3), min_size=n, max_size=n)))
    if as_array:
        columns = list(X.columns)
        roles = {
            key: (
                None
                if value is None
                else [columns.index(v) for v in value]
                if isinstance(value, list)
                else columns.index(value)
            )
            for key, value in roles.items()
        }
        inputs = [_frozen(X.to_numpy()), _frozen(y.to_numpy())]
    else:
        index = pd.RangeIndex(index_offset, index_offset + n)
        inputs = [X.set_axis(index), y.set_axis(index)]
    weights, groups = _frozen(weights), _frozen(groups)
    originals = [v.copy() for v in inputs] + [weights.copy(), groups.copy()]

    est = cls(**roles, cov_type=cov_type)
    fit_groups = groups if cov_type == "cluster" else None
    est.fit(*inputs, sample_weight=weights, groups=fit_groups)
    est.predict(inputs[0])
    est.score(*inputs, sample_weight=weights)
    tau = {est.result_.params.index[1]: [0.0, 1.0]}
    SensitivityGrid(est, tau_direct=tau, tau_mediator=tau).fit(
        *inputs, sample_weight=weights, groups=fit_groups
    )

    for now, before in zip(inputs + [weights, groups], originals, strict=True):
        if isinstance(before, pd.DataFrame):
            pd.testing.assert_frame_equal(now, before)
        elif isinstance(before, pd.Series):
            pd.testing.assert_series_equal(now, before)
        else:
            assert_array_equal(now, before)
            assert now.dtype == before.dtype


@settings(max_examples=10, deadline=None)
@given(
    trial=trials(), cls=st.sampled_from(ESTIMATORS), cov_type=st.sampled_from(COV_TYPES)
)
def test_fit_pickle_load_predict_round_trip(trial, cls, cov_type):
    X, y, groups, roles = trial
    est = _fit(cls, X, y, groups, roles, cov_type)
    grid = SensitivityGrid(est, tau_direct={roles["covariates"][0]: [0.0, 1.0]}).fit(
        X, y, groups=groups if cov_type == "cluster" else None
    )
    for fitted in (est, grid):
        loaded = pickle.loads(pickle.dumps(fitted))
        assert_array_equal(loaded.predict(X), fitted.predict(X))
        assert loaded.score(X, y) == fitted.score(X, y)
    loaded = pickle.loads(pickle.dumps(est))
    pd.testing.assert_series_equal(loaded.result_.params, est.result_.params)
    pd.testing.assert_series_equal(loaded.result_.std_errors, est.result_.std_errors)
    pd.testing.assert_frame_equal(loaded.result_.cov, est.result_.cov)
    assert loaded.result_.summary() == est.result_.summary()
    assert loaded.get_params() == est.get_params()
    loaded_grid = pickle.loads(pickle.dumps(grid))
    pd.testing.assert_frame_equal(loaded_grid.to_frame(), grid.to_frame())
