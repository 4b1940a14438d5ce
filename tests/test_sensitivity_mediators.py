"""SensitivityGrid with several mediators.

Checks and tolerances:

- the closed form equals refitting at every grid point, to 1e-10 relative
  (1e-12 absolute), for two and three mediators, with unadjusted, HC1 and
  cluster covariances, with and without weights (they agree to about 1e-14),
  and with weights for HC3 and CR2 and for the naive regression; dask input
  gives the in-memory grid to 1e-10;
- each grid point's estimates equal an ``IVMediationRegressor`` fit on the
  adjusted outcome ``y - R·(X - X̄)ᵀτ_R - Σ_j M_j·(X - X̄)ᵀτ_Mj`` built here
  from its definition, to 1e-10;
- the standard errors equal those of an explicit computation with numpy (the
  row-wise influence functions of 2SLS on the adjusted outcome plus those of
  ``τ_jᵀ X̄``, summed over rows for HC0 and over clusters for CR0), to 1e-8;
- at ``τ = 0`` the grid's intervals are the estimator's ``result_.effects``;
  the breakdown values refit to an estimate (or an interval's end) of 0;
- the summary, the report's numbers and the plots show each mediator's
  effect with the grid's own numbers;
- the one-mediator grid is unchanged, and the per-mediator form of
  ``tau_mediator`` keyed by the only mediator gives exactly the same grid;
- with ``robust_sets=True`` each grid point's sets (the direct effect's and
  each mediator's) equal ``confidence_set`` of a fit on the adjusted outcome,
  to 1e-8 relative on every finite end (the infinite ends and the number of
  pieces exactly), by the closed form and by refits, with classical, HC1
  and cluster covariances; each union over the grid is the union of the
  points' sets, with its hull beside the Wald union.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone

from skmediate import IVMediationRegressor, NaiveMediationRegressor, SensitivityGrid

from .conftest import assert_same_set
from .test_several_mediators import two_mediator_trial

RTOL = 1e-10
COVARIATES = ["x1", "x2", "x3", "x4"]


@pytest.fixture(scope="module", params=[2, 3], ids=["q2", "q3"])
def trial(request):
    q = request.param
    frame, y, groups, names = two_mediator_trial(
        n=700, n_mediators=q, n_covariates=4, seed=20 + q
    )
    weights = np.random.default_rng(q).integers(0, 4, len(y))
    return frame, y, groups, names, weights


def _tau(names):
    """A grid over some components of each block (the last mediator has none)."""
    tau_mediator = {names[0]: {"x2": [0.0, 0.8], "x4": [-0.5]}}
    if len(names) > 2:
        tau_mediator[names[1]] = {"x1": [-1.0, 0.25]}
    return dict(tau_direct={"x1": [0.0, 1.0], "x3": [0.5]}, tau_mediator=tau_mediator)


def _estimator(names, cov_type="HC1"):
    return IVMediationRegressor(
        treatment="r", mediator=names, covariates=COVARIATES, cov_type=cov_type
    )


def _adjusted_outcome(frame, y, names, tau_row, weights=None, covariates=COVARIATES):
    """``y - R·(X - X̄)ᵀτ_R - Σ_j M_j·(X - X̄)ᵀτ_Mj``, from the definition."""
    x = frame[covariates].to_numpy()
    centered = x - np.average(x, axis=0, weights=weights)
    p = len(covariates)
    factors = [frame["r"].to_numpy()] + [frame[m].to_numpy() for m in names]
    shift = sum(
        f * (centered @ tau_row[b * p : (b + 1) * p]) for b, f in enumerate(factors)
    )
    return y.to_numpy() - shift


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("cov_type", ["unadjusted", "HC1", "cluster"])
def test_closed_form_equals_refit(trial, cov_type, weighted):
    frame, y, groups, names, weights = trial
    est = _estimator(names, cov_type)
    fit_kw = dict(
        sample_weight=weights if weighted else None,
        groups=groups if cov_type == "cluster" else None,
    )
    closed = SensitivityGrid(est, method="closed_form", **_tau(names))
    closed.fit(frame, y, **fit_kw)
    refit = SensitivityGrid(est, method="refit", **_tau(names)).fit(frame, y, **fit_kw)
    a, b = closed.to_frame(), refit.to_frame()
    assert list(a.columns) == list(b.columns)
    assert len(a) == (4 if len(names) == 2 else 8)
    assert_allclose(a.to_numpy(), b.to_numpy(), rtol=RTOL, atol=1e-12)
    # every grid point is a fit of the outcome adjusted by hand
    for i, tau_row in enumerate(closed.grid_[:4]):
        shifted = _adjusted_outcome(
            frame, y, names, tau_row, weights if weighted else None
        )
        fit = clone(est).fit(frame, shifted, **fit_kw)
        assert a.loc[i, "direct_effect"] == pytest.approx(fit.direct_effect_, rel=RTOL)
        assert_allclose(
            a.loc[i, [f"mediator_effect[{m}]" for m in names]].to_numpy(float),
            fit.mediator_effect_[names].to_numpy(),
            rtol=RTOL,
        )


@pytest.mark.parametrize(
    "cls, cov_type",
    [
        (IVMediationRegressor, "HC3"),
        (IVMediationRegressor, "CR2"),
        (NaiveMediationRegressor, "HC1"),
        (NaiveMediationRegressor, "CR2"),
    ],
)
def test_closed_form_equals_refit_leverage_and_naive(trial, cls, cov_type):
    """The leverage-adjusted covariances, and the naive regression (whose
    directions all leave the data matrix's span), weighted."""
    frame, y, groups, names, weights = trial
    est = cls(treatment="r", mediator=names, covariates=COVARIATES, cov_type=cov_type)
    fit_kw = dict(sample_weight=weights, groups=groups if cov_type == "CR2" else None)
    closed = SensitivityGrid(est, method="closed_form", **_tau(names))
    refit = SensitivityGrid(est, method="refit", **_tau(names))
    a = closed.fit(frame, y, **fit_kw).to_frame()
    b = refit.fit(frame, y, **fit_kw).to_frame()
    assert list(a.columns) == list(b.columns)
    assert_allclose(a.to_numpy(), b.to_numpy(), rtol=RTOL, atol=1e-12)


def _influence_at(frame, y_tilde, names, tau_row):
    """Influence functions of the direct and mediator effects at ``τ``, by hand.

    2SLS of the adjusted outcome, and ``τ_jᵀ X̄`` for effect ``j``: the
    adjusted outcome moves with ``X̄``, so the effect ``j`` by ``τ_jᵀ dX̄``.
    """
    n = len(y_tilde)
    r = frame["r"].to_numpy()
    x = frame[COVARIATES].to_numpy()
    xbar = x.mean(axis=0)
    w = np.column_stack([np.ones(n), x, r])
    q = np.column_stack([w, r[:, None] * (x - xbar)])
    d = np.column_stack([w, frame[names].to_numpy()])
    d_hat = q @ np.linalg.lstsq(q, d, rcond=None)[0]
    a = np.linalg.inv(d_hat.T @ d)
    theta = a @ d_hat.T @ y_tilde
    resid = y_tilde - d @ theta
    psi = (d_hat * resid[:, None]) @ a.T
    kw = w.shape[1]
    effects = [kw - 1, *range(kw, kw + len(names))]
    p = len(COVARIATES)
    columns = [
        psi[:, term] + (x - xbar) @ tau_row[j * p : (j + 1) * p] / n
        for j, term in enumerate(effects)
    ]
    return theta[effects], np.column_stack(columns)


@pytest.mark.parametrize("cov_type", ["HC0", "CR0"])
def test_standard_errors_match_explicit_influence_functions(trial, cov_type):
    frame, y, groups, names, _ = trial
    clusters = groups if cov_type == "CR0" else None
    grid = SensitivityGrid(_estimator(names, cov_type), **_tau(names))
    table = grid.fit(frame, y, groups=clusters).to_frame()
    effects = ["direct_effect", *(f"mediator_effect[{m}]" for m in names)]
    for i, tau_row in enumerate(grid.grid_):
        y_tilde = _adjusted_outcome(frame, y, names, tau_row)
        estimate, psi = _influence_at(frame, y_tilde, names, tau_row)
        if clusters is not None:
            psi = pd.DataFrame(psi).groupby(clusters).sum().to_numpy()
        se = np.sqrt((psi * psi).sum(axis=0))
        assert_allclose(table.loc[i, effects].to_numpy(float), estimate, rtol=1e-8)
        assert_allclose(
            table.loc[i, [f"{e}_se" for e in effects]].to_numpy(float), se, rtol=1e-8
        )


def test_layout_names_and_the_point_at_zero(trial):
    frame, y, _, names, _ = trial
    est = _estimator(names)
    grid = SensitivityGrid(est, **_tau(names)).fit(frame, y)
    table = grid.to_frame()
    p, q = len(COVARIATES), len(names)
    taus = [f"tau_direct[{c}]" for c in COVARIATES] + [
        f"tau_mediator[{m}][{c}]" for m in names for c in COVARIATES
    ]
    effects = ["direct_effect", *(f"mediator_effect[{m}]" for m in names)]
    columns = [f"{e}{s}" for e in effects for s in ("", "_se", "_lower", "_upper")]
    assert list(table.columns) == taus + columns
    assert grid.grid_.shape == (len(table), (1 + q) * p)
    assert grid.mediator_names_ == names and grid.covariate_names_ == COVARIATES
    assert_allclose(table[taus].to_numpy(), grid.grid_)
    # the first mediator's axes are outermost, the direct effect's innermost
    first = table[f"tau_mediator[{names[0]}][x2]"].to_numpy()
    assert (np.diff(first) >= 0).all() and first[0] == 0 and first[-1] == 0.8
    assert table["tau_direct[x1]"].tolist()[:2] == [0.0, 1.0]
    # mediators that tau_mediator does not name have tau = 0
    assert (table.filter(like=f"tau_mediator[{names[-1]}]") == 0).all().all()
    assert list(grid.sensitivity_interval_.index) == effects
    assert grid.critical_value_.shape == (1 + q,)
    # at tau = 0 the grid is the estimator's fit
    zero = SensitivityGrid(
        est, tau_direct={"x1": [0.0]}, tau_mediator={names[1]: {"x3": [0.0]}}
    ).fit(frame, y)
    row = zero.to_frame().iloc[0]
    fitted = clone(est).fit(frame, y).result_.effects
    for effect, name in zip(
        effects, ["direct", *(f"mediator[{m}]" for m in names)], strict=True
    ):
        assert row[effect] == pytest.approx(fitted.loc[name, "estimate"], rel=1e-12)
        assert row[f"{effect}_se"] == pytest.approx(
            fitted.loc[name, "std_error"], rel=1e-10
        )
        assert row[f"{effect}_lower"] == pytest.approx(
            fitted.loc[name, "lower"], rel=1e-10
        )


def test_arrays_per_mediator_equal_the_dict_grid(trial):
    frame, y, _, names, _ = trial
    est = _estimator(names)
    by_dict = SensitivityGrid(
        est,
        tau_direct={"x2": [0.0, 1.0]},
        tau_mediator={names[-1]: {"x1": [0.5]}},
    ).fit(frame, y)
    by_array = SensitivityGrid(
        est,
        tau_direct=[[0, 0, 0, 0], [0, 1, 0, 0]],
        tau_mediator={names[-1]: [[0.5, 0, 0, 0], [0.5, 0, 0, 0]]},
    ).fit(frame, y)
    pd.testing.assert_frame_equal(by_dict.to_frame(), by_array.to_frame())


def test_breakdown_values_refit_to_zero(trial):
    frame, y, _, names, _ = trial
    est = _estimator(names, "HC1")
    at_zero = {"x1": [0.0], "x2": [0.0]}
    grid = SensitivityGrid(
        est, tau_direct=at_zero, tau_mediator={m: at_zero for m in names}
    ).fit(frame, y)
    table = grid.breakdown_
    q = len(names)
    parameters = ["tau_direct[x1]", "tau_direct[x2]"] + [
        f"tau_mediator[{m}][{c}]" for m in names for c in ("x1", "x2")
    ]
    assert list(table.index.get_level_values("parameter")) == parameters * (1 + q)
    k = len(parameters)
    # per effect its own block's first component and one of another block
    rows = [j * k + 2 * j for j in range(1 + q)]
    rows += [j * k + (2 * j + 3) % k for j in range(1 + q)]
    checked = 0
    for (effect, parameter), row in table.iloc[rows].iterrows():
        kind, rest = parameter.split("[", 1)
        if kind == "tau_direct":
            tau = {"tau_direct": {rest[:-1]: [row["sign_change"]]}}
        else:
            mediator, covariate = rest[:-1].split("][")
            tau = {"tau_mediator": {mediator: {covariate: [row["sign_change"]]}}}
        refit = (
            SensitivityGrid(clone(est), method="refit", **tau)
            .fit(frame, y)
            .to_frame()
            .iloc[0]
        )
        assert abs(refit[effect]) < 1e-8 * max(1.0, abs(grid.forms_.estimate).max())
        up = row["ci_covers_zero_up"]
        if np.isfinite(up) and up > 0:
            tau = {"tau_direct": {rest[:-1]: [up]}}
            if kind != "tau_direct":
                tau = {"tau_mediator": {mediator: {covariate: [up]}}}
            refit = (
                SensitivityGrid(clone(est), method="refit", **tau)
                .fit(frame, y)
                .to_frame()
                .iloc[0]
            )
            bound = min(abs(refit[f"{effect}_lower"]), abs(refit[f"{effect}_upper"]))
            assert bound < 1e-8 * max(1.0, refit[f"{effect}_se"])
        checked += 1
    assert checked == 2 * (1 + q)


def test_one_mediator_keyed_by_its_name_is_the_plain_grid():
    frame, y, _, names = two_mediator_trial(n=500, n_mediators=1, seed=3)
    est = IVMediationRegressor(treatment="r", mediator="m1", covariates=["x1", "x2"])
    values = {"x1": [0.0, 1.0], "x2": [-0.5]}
    plain = SensitivityGrid(est, tau_direct=values, tau_mediator=values).fit(frame, y)
    keyed = SensitivityGrid(est, tau_direct=values, tau_mediator={"m1": values}).fit(
        frame, y
    )
    pd.testing.assert_frame_equal(plain.to_frame(), keyed.to_frame())
    pd.testing.assert_frame_equal(plain.breakdown_, keyed.breakdown_)
    assert "tau_mediator[x1]" in plain.results_ and plain.mediator_names_ == ["m1"]
    assert list(plain.sensitivity_interval_.index) == [
        "direct_effect",
        "mediator_effect",
    ]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(tau_mediator={"x1": [0, 1]}),
            r"with several mediators, tau_mediator is a dict keyed by mediator name "
            r"\(\['m1', 'm2'\]\).*got one keyed by covariate \(\['x1'\]\): write e\.g\. "
            r"\{'m1': \{'x1': \[0, 1\]\}, 'm2': \{'x1': \[0, 1\]\}\}",
        ),
        (
            dict(tau_mediator=[[0.0, 1.0, 0.0, 0.0]]),
            r"with several mediators, tau_mediator is a dict.*got an array: write "
            r"\{'m1': array, \.\.\.\}",
        ),
        (
            dict(tau_mediator={"m9": {"x1": [1]}}),
            r"tau_mediator names mediator\(s\) \['m9'\] that the estimator does not "
            r"have; its mediators are \['m1', 'm2'\]",
        ),
        (
            dict(tau_mediator={"m2": {"x9": [1]}}),
            r"tau_mediator\['m2'\] names covariate\(s\) \['x9'\].*"
            r"\['x1', 'x2', 'x3', 'x4'\]",
        ),
        (
            dict(tau_mediator={"m1": {"x1": []}}),
            r"tau_mediator\['m1'\]\['x1'\] is empty",
        ),
        (
            dict(tau_mediator={"m1": {"x1": [np.nan]}}),
            r"tau_mediator\['m1'\]\['x1'\] contains NaN",
        ),
        (
            dict(tau_mediator={"m2": [[0.0, 1.0]]}),
            r"tau_mediator\['m2'\] must have one column per covariate \(4",
        ),
        (
            dict(tau_direct={"x1": [1]}, tau_mediator={"m2": [[0, 0, 0, 1]]}),
            "must all be dicts .* or all be arrays",
        ),
        (
            dict(tau_direct=[[0, 0, 0, 1]], tau_mediator={"m1": np.zeros((2, 4))}),
            r"tau_direct and tau_mediator\['m1'\] and tau_mediator\['m2'\] arrays "
            r"must have the same number of rows",
        ),
    ],
)
@pytest.mark.parametrize("method", ["closed_form", "refit"])
def test_bad_tau_with_several_mediators(kwargs, message, method):
    frame, y, _, names = two_mediator_trial(n=300, n_covariates=4, seed=1)
    with pytest.raises(ValueError, match=message):
        SensitivityGrid(_estimator(names), method=method, **kwargs).fit(frame, y)


# -- weak-instrument-robust sets over the grid -------------------------------

# (the robust projections cost most: few covariates and grid points)
ROBUST_COVARIATES = ["x1", "x2", "x3"]
# τ_R, then τ_M of m1 and of m2, on (x1, x2, x3): the first point is the fit
ROBUST_TAU = {
    "tau_direct": np.array([[0, 0, 0], [0.5, 0, 0], [0, 0, -0.4]]),
    "tau_mediator": {
        "m1": np.array([[0, 0, 0], [0, 0.3, 0], [0, 0, -0.2]]),
        "m2": np.array([[0, 0, 0], [0, 0, 0], [0.2, 0, 0]]),
    },
}


@pytest.fixture(scope="module")
def robust_trial():
    frame, y, groups, names = two_mediator_trial(n=400, n_covariates=3, seed=6)
    return frame, y, groups, names


def _robust_estimator(names, cov_type, ar_meat="leverage"):
    return IVMediationRegressor(
        treatment="r",
        mediator=names,
        covariates=ROBUST_COVARIATES,
        cov_type=cov_type,
        ar_meat=ar_meat,
    )


def _quiet(fn, *args, **kwargs):
    """Call ``fn`` with warnings off (the instruments are weak at some points)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _robust_sets_of_fit(est, names):
    """What a fit reports with ``method=None``, keyed as the grid's columns."""
    sets = {"direct_effect_ar": est.confidence_set("direct")}
    for m in names:
        sets[f"mediator_effect[{m}]_ar"] = est.confidence_set("mediator", mediator=m)
    return sets


@pytest.mark.parametrize(
    "cov_type, ar_meat, method, used",
    [
        ("classical", "leverage", "auto", "closed_form"),
        ("classical", "leverage", "refit", "refit"),
        ("HC1", "leverage", "closed_form", "closed_form"),
        ("cluster", "fit", "closed_form", "closed_form"),
        # the default CR3 meat of the clusters' sets has no closed form
        ("cluster", "leverage", "auto", "refit"),
    ],
)
def test_robust_sets_equal_those_of_fits_on_the_shifted_outcome(
    robust_trial, cov_type, ar_meat, method, used
):
    frame, y, groups, names = robust_trial
    est = _robust_estimator(names, cov_type, ar_meat)
    fit_kw = dict(groups=groups if cov_type == "cluster" else None)
    grid = SensitivityGrid(est, method=method, robust_sets=True, **ROBUST_TAU)
    _quiet(grid.fit, frame, y, **fit_kw)
    assert grid.method_ == used
    table = grid.to_frame()
    bounded = 0
    for i, tau_row in enumerate(grid.grid_):
        shifted = _adjusted_outcome(
            frame, y, names, tau_row, covariates=ROBUST_COVARIATES
        )
        fit = _quiet(clone(est).fit, frame, shifted, **fit_kw)
        want = _robust_sets_of_fit(fit, names)
        assert [c for c in table if c.endswith("_ar")] == list(want)
        for column, expected in want.items():
            got = table.loc[i, column]
            assert (got.effect, got.mediator, got.method) == (
                expected.effect,
                expected.mediator,
                expected.method,
            )
            assert got.confidence_level == 0.95
            assert_same_set(got, expected)
            ends = [got.intervals[0][0], got.intervals[-1][1]] if len(got) else []
            assert_allclose(
                table.loc[i, [f"{column}_lower", f"{column}_upper"]].to_numpy(float),
                ends or [np.nan, np.nan],
                rtol=0,
                atol=0,
            )
            bounded += got.is_bounded and not got.is_empty
    assert bounded >= len(grid.grid_)  # the comparison covers bounded sets


def test_robust_sets_columns_unions_and_hulls(robust_trial):
    frame, y, groups, names = robust_trial
    est = _robust_estimator(names, "HC1")
    grid = SensitivityGrid(est, robust_sets=True, **ROBUST_TAU)
    _quiet(grid.fit, frame, y)
    table = grid.to_frame()
    effects = ["direct_effect", *(f"mediator_effect[{m}]" for m in names)]
    wald = [f"{e}{s}" for e in effects for s in ("", "_se", "_lower", "_upper")]
    robust = [f"{e}_ar{s}" for e in effects for s in ("", "_lower", "_upper")]
    taus = [f"tau_direct[{c}]" for c in ROBUST_COVARIATES] + [
        f"tau_mediator[{m}][{c}]" for m in names for c in ROBUST_COVARIATES
    ]
    assert list(table.columns) == taus + wald + robust
    assert list(grid.sensitivity_sets_) == [f"{e}_ar" for e in effects]
    interval = grid.sensitivity_interval_
    assert list(interval.index) == effects
    assert list(interval.columns) == [
        "estimate_low",
        "estimate_high",
        "lower",
        "upper",
        "ar_lower",
        "ar_upper",
    ]
    for effect in effects:
        column = f"{effect}_ar"
        union = grid.sensitivity_sets_[column]
        points = list(table[column])
        # the union is the union of the points' sets, piece by piece
        pieces = sorted(piece for s in points for piece in s)
        merged = []
        for lo, hi in pieces:
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        assert union.intervals == tuple(merged)
        assert (union.effect, union.mediator) == (
            points[0].effect,
            points[0].mediator,
        )
        assert all(x in union for s in points for piece in s for x in piece)
        assert interval.loc[effect, "ar_lower"] == np.nanmin(table[f"{column}_lower"])
        assert interval.loc[effect, "ar_upper"] == np.nanmax(table[f"{column}_upper"])
    # the summary's table of the unions lists every mediator
    summary = grid.summary()
    text = str(summary)
    assert "Union of 95% AR sets" in text
    for m in names:
        assert f"mediator effect ({m})" in text
    sets_table = summary.tables[-1]
    assert list(sets_table.index) == effects
    assert [s.intervals for s in sets_table["AR"]] == [
        grid.sensitivity_sets_[f"{e}_ar"].intervals for e in effects
    ]


def test_robust_sets_with_three_mediators():
    frame, y, _, names = two_mediator_trial(
        n=400, n_mediators=3, n_covariates=4, seed=23
    )
    est = _estimator(names, "classical")
    grid = SensitivityGrid(
        est,
        tau_direct={"x1": [0.0, 0.5]},
        tau_mediator={"m3": {"x2": [0.3]}},
        robust_sets=True,
    )
    _quiet(grid.fit, frame, y)
    assert grid.method_ == "closed_form"
    assert list(grid.sensitivity_sets_) == [
        "direct_effect_ar",
        *(f"mediator_effect[{m}]_ar" for m in names),
    ]
    table = grid.to_frame()
    for i, tau_row in enumerate(grid.grid_):
        shifted = _adjusted_outcome(frame, y, names, tau_row)
        fit = _quiet(clone(est).fit, frame, shifted)
        for column, expected in _robust_sets_of_fit(fit, names).items():
            assert_same_set(table.loc[i, column], expected)


@pytest.mark.parametrize("cov_type", ["CR2", "cluster"])
def test_robust_sets_closed_form_with_leverage_clusters_names_refit(
    robust_trial, cov_type
):
    frame, y, groups, names = robust_trial
    grid = SensitivityGrid(
        _robust_estimator(names, cov_type),
        tau_direct={"x1": [0, 1]},
        robust_sets=True,
        method="closed_form",
    )
    with pytest.raises(ValueError, match="use method='refit'"):
        _quiet(grid.fit, frame, y, groups=groups)


@pytest.fixture(scope="module")
def two_mediator_grid():
    frame, y, _, names = two_mediator_trial(n=700, n_covariates=4, seed=22)
    grid = SensitivityGrid(
        _estimator(names),
        tau_direct={"x1": [0.0, 1.0]},
        tau_mediator={"m2": {"x2": [0.0, 0.5]}},
    ).fit(frame, y)
    return grid


def test_summary_lists_each_mediator(two_mediator_grid):
    grid = two_mediator_grid
    summary = grid.summary()
    text = summary.as_markdown()
    assert summary.title.endswith("treatment r, mediators m1, m2")
    assert "tau_M[m1]" in text and "Mediator effect (m2)" in text
    assert "mediator effect (m1)" in text  # the sensitivity intervals
    assert "tau_mediator[m2][x2]" in text  # the breakdown values
    # a table per effect (the grid, then the breakdown values), so that the
    # text fits 78 characters a line
    assert max(len(line) for line in str(summary).splitlines()) <= 78
    effects = ["direct_effect", "mediator_effect[m1]", "mediator_effect[m2]"]
    frame = grid.to_frame()
    taus = [c for c in frame.columns if c.startswith("tau_")]
    tables = summary.tables
    assert len(tables) == 2 * len(effects) + 1
    for k, effect in enumerate(effects):
        own = [c for c in frame.columns if c == effect or c.startswith(f"{effect}_")]
        pd.testing.assert_frame_equal(tables[k], frame[taus + own])
        pd.testing.assert_frame_equal(
            tables[len(effects) + 1 + k],
            grid.breakdown_.xs(effect, level="effect", drop_level=False),
        )
    pd.testing.assert_frame_equal(tables[len(effects)], grid.sensitivity_interval_)
    # the grid point tau_R[x1] = 1, tau_M[m2][x2] = 0.5: its row as printed,
    # in each effect's table
    row = frame.iloc[-1]
    assert row["tau_direct[x1]"] == 1.0 and row["tau_mediator[m2][x2]"] == 0.5
    lines = [
        li for li in text.splitlines() if "(1, 0, 0, 0) | (0, 0, 0, 0) | (0, 0.5" in li
    ]
    assert len(lines) == len(effects)
    for line, effect in zip(lines, effects, strict=True):
        assert f"{row[effect]:.3f}" in line
    assert summary.as_html().count("<img") == 1
    # the report's numbers: per grid point each mediator's tau and effect
    from skmediate._report.report import sensitivity_from_grid

    sens = sensitivity_from_grid(grid)
    for point, (i, row) in zip(sens.grid, frame.iterrows(), strict=True):
        assert point.tau_direct == tuple(grid.grid_[i, :4])
        assert list(point.tau_mediator) == ["m1", "m2"]
        assert point.tau_mediator["m2"] == tuple(grid.grid_[i, 8:])
        for m in ("m1", "m2"):
            got = point.mediator_effect[m]
            assert (got.estimate, got.std_error) == (
                row[f"mediator_effect[{m}]"],
                row[f"mediator_effect[{m}]_se"],
            )
    assert [r.effect for r in sens.interval] == list(grid.sensitivity_interval_.index)


def test_plots_draw_each_mediator(two_mediator_grid, tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib (the plot extra) is needed")
    import matplotlib.pyplot as plt

    from skmediate.plotting import plot_sensitivity_forest, plot_sensitivity_surface

    grid = two_mediator_grid
    frame = grid.to_frame()
    fig = plot_sensitivity_forest(grid)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    effects = ["direct_effect", "mediator_effect[m1]", "mediator_effect[m2]"]
    assert [ax.get_title() for ax in panels] == [
        "direct effect",
        "mediator effect (m1)",
        "mediator effect (m2)",
    ]
    for ax, effect in zip(panels, effects, strict=True):
        assert_allclose(ax.lines[0].get_xdata(), frame[effect])
    labels = [t.get_text() for t in panels[0].get_yticklabels()]
    assert labels[-1] == "(1,0,0,0) (0,0,0,0) (0,0.5,0,0)"
    assert panels[0].get_ylabel() == "(τ_R) (τ_M[m1]) (τ_M[m2])"
    fig.savefig(tmp_path / "forest.png")
    plt.close(fig)
    # the surface: by default the first mediator's effect
    fig = plot_sensitivity_surface(grid)
    assert fig.axes[0].get_title().startswith("Mediator effect (m1)")
    assert fig.axes[0].get_xlabel() == "tau_direct[x1]"
    assert fig.axes[0].get_ylabel() == "tau_mediator[m2][x2]"
    plt.close(fig)
    fig = plot_sensitivity_surface(grid, effect="mediator_effect[m2]")
    assert fig.axes[0].get_title().startswith("Mediator effect (m2)")
    fig.savefig(tmp_path / "surface.png")
    plt.close(fig)
    with pytest.raises(
        ValueError,
        match=r"effect must be one of \['direct_effect', 'mediator_effect\[m1\]', "
        r"'mediator_effect\[m2\]'\]; got 'mediator_effect'",
    ):
        plot_sensitivity_surface(grid, effect="mediator_effect")


@pytest.mark.parametrize("cov_type", ["HC1", "cluster"])
def test_closed_form_on_dask_equals_in_memory(trial, cov_type):
    """Each partition is reduced where it lives, with several mediators too (1e-10)."""
    pytest.importorskip(
        "dask.dataframe", reason="dask input needs the dask extra: skmediate[dask]"
    )
    from .test_dask_fit import _close, _to_dask

    frame, y, groups, names, weights = trial
    extra = {"sample_weight": weights}
    if cov_type == "cluster":
        extra["groups"] = groups
    est = _estimator(names, cov_type)
    memory = SensitivityGrid(est, **_tau(names)).fit(frame, y, **extra)
    Xd, yd, extra_d = _to_dask(frame, y, extra, chunks=200)
    lazy = SensitivityGrid(est, **_tau(names)).fit(Xd, yd, **extra_d)
    assert lazy.method_ == "closed_form"
    a, b = memory.to_frame(), lazy.to_frame()
    assert list(a.columns) == list(b.columns)
    _close(a, b, "sensitivity table")
    _close(memory.breakdown_, lazy.breakdown_, "breakdown")
