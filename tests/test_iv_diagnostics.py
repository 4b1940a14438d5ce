"""The diagnostics table: instrument strength, overidentification, exogeneity.

Reference implementations and tolerances:

- Sargan, Durbin, Wu-Hausman, Wooldridge's regression test and the first-stage
  statistics against linearmodels ``IV2SLS`` (and ``IVLIML`` for Sargan, in
  ``test_kclass.py``); Hansen's J against linearmodels ``IVGMM`` (two-step,
  robust or clustered weight matrix, no small-sample factor). All to 1e-8
  relative (they agree to about 1e-12).
- The effective F against pyfixest, and against a direct computation of the
  Montiel Olea-Pflueger formula with numpy (explicit inverses and a symmetric
  matrix square root, unlike the library), to 1e-8 relative.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from linearmodels.iv import IV2SLS, IVGMM
from scipy import linalg, stats

from skmediate import (
    IVMediationRegressor,
    NaiveMediationRegressor,
    WeakInstrumentWarning,
)
from skmediate._numerics.covariance import COV_TYPES
from skmediate._numerics.diagnostics import (
    montiel_olea_pflueger_critical_value,
    stock_yogo_decides,
)
from skmediate._report.render import (
    diagnostic_label,
)

from .conftest import simulate_trial
from .test_reference_python import (
    LINEARMODELS_COV,
    _cov_kwargs,
    _design,
    _estimator_kwargs,
    _reference_matrices,
)

RTOL = 1e-8
DESIGNS = ["continuous", "binary", "five_covariates", "controls", "clusters", "site"]


def _fit(design, cov_type, **params):
    X, y, groups = _design(design)
    est = IVMediationRegressor(**_estimator_kwargs(X), cov_type=cov_type, **params)
    est.fit(X, y, groups=groups if cov_type == "cluster" else None)
    return est, X, y, groups


@pytest.mark.parametrize("design", DESIGNS)
def test_homoskedastic_tests_match_linearmodels(design):
    est, X, y, _ = _fit(design, "HC1")
    exog, instruments = _reference_matrices(X)
    ref = IV2SLS(y, exog, X["m"], instruments).fit(cov_type="unadjusted")
    table = est.diagnostics_
    n, p = len(y), instruments.shape[1]

    sargan = table.loc["sargan"]
    if p > 1:
        assert sargan.statistic == pytest.approx(ref.sargan.stat, rel=RTOL)
        assert sargan.df == ref.sargan.df == p - 1
        assert sargan.pvalue == pytest.approx(ref.sargan.pval, rel=1e-6, abs=1e-300)
    durbin, wu = table.loc["durbin"], table.loc["wu_hausman"]
    assert durbin.statistic == pytest.approx(ref.durbin().stat, rel=RTOL)
    assert durbin.pvalue == pytest.approx(ref.durbin().pval, rel=1e-6, abs=1e-300)
    assert wu.statistic == pytest.approx(ref.wu_hausman().stat, rel=RTOL)
    assert wu.df_denom == ref.wu_hausman().df_denom == n - exog.shape[1] - 2
    assert wu.pvalue == pytest.approx(ref.wu_hausman().pval, rel=1e-6, abs=1e-300)

    # First-stage rows are the first-stage diagnostics.
    fs = est.first_stage_
    row = table.loc["first_stage_f"]
    assert (row.statistic, row.df, row.df_denom, row.pvalue) == (
        fs.f_statistic,
        fs.df_num,
        fs.df_denom,
        fs.f_pvalue,
    )
    diag = ref.first_stage.diagnostics.loc["m"]
    assert table.loc["first_stage_wald_f"].statistic == pytest.approx(
        fs.wald_f_statistic
    )
    assert fs.partial_r2 == pytest.approx(diag["partial.rsquared"], rel=RTOL)


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("cov_type", ["HC0", "HC1", "cluster"])
def test_robust_tests_match_linearmodels(design, cov_type):
    est, X, y, groups = _fit(design, cov_type)
    exog, instruments = _reference_matrices(X)
    lm_cov, debiased = LINEARMODELS_COV[cov_type]
    ref = IV2SLS(y, exog, X["m"], instruments).fit(
        cov_type=lm_cov, debiased=debiased, **_cov_kwargs(cov_type, groups)
    )
    table = est.diagnostics_
    row = table.loc["exogeneity_regression"]
    assert row.statistic == pytest.approx(ref.wooldridge_regression.stat, rel=RTOL)
    assert row.pvalue == pytest.approx(
        ref.wooldridge_regression.pval, rel=1e-6, abs=1e-300
    )

    if instruments.shape[1] > 1:
        if cov_type == "cluster":
            gmm = IVGMM(
                y, exog, X["m"], instruments, weight_type="clustered", clusters=groups
            )
        else:
            gmm = IVGMM(y, exog, X["m"], instruments, weight_type="robust")
        name = "hansen_j"
        j_ref = gmm.fit().j_stat
        assert table.loc[name].statistic == pytest.approx(j_ref.stat, rel=RTOL)
        assert table.loc[name].df == j_ref.df
        assert table.loc[name].pvalue == pytest.approx(j_ref.pval, rel=1e-6)


def test_wu_hausman_is_the_squared_t_of_the_control_function():
    """Closed form for 2SLS: the classical t statistic of v̂ in y ~ [W, M, v̂]."""
    est, X, y, _ = _fit("controls", "classical")
    exog, instruments = _reference_matrices(X)
    vhat = sm.OLS(X["m"], pd.concat([exog, instruments], axis=1)).fit().resid
    aug = sm.OLS(y, pd.concat([exog, X["m"], vhat.rename("vhat")], axis=1)).fit()
    t2 = aug.tvalues["vhat"] ** 2
    assert est.diagnostics_.loc["wu_hausman"].statistic == pytest.approx(t2, rel=RTOL)
    # With a homoskedastic covariance that regression test is this row.
    assert "exogeneity_regression" not in est.diagnostics_.index


def _effective_f_by_hand(X, y, groups, cov_type):
    """Montiel Olea-Pflueger (2013), eq. for F_eff and K_eff, with numpy.

    Partial the exogenous regressors out of the instruments (Frisch-Waugh-
    Lovell), so that Q = Z̃ᵀZ̃; take the excluded coefficients π̂ and their
    covariance V from the full first stage (explicit sandwich); then
    F_eff = π̂ᵀQπ̂ / tr(VQ) and, with S = Q^{1/2} V Q^{1/2} and x = 1/τ,
    K_eff = tr(S)²(1 + 2x) / (tr(S²) + 2x tr(S) λ_max(S)).
    """
    exog, instruments = _reference_matrices(X)
    w, z, m = exog.to_numpy(), instruments.to_numpy(), X["m"].to_numpy()
    q = np.hstack([w, z])
    n, k = q.shape
    coef = np.linalg.lstsq(q, m, rcond=None)[0]
    resid = m - q @ coef
    bread = np.linalg.inv(q.T @ q)
    if cov_type == "HC1":
        meat = (q * resid[:, None] ** 2).T @ q * n / (n - k)
    elif cov_type == "classical":
        meat = resid @ resid / (n - k) * (q.T @ q)
    else:  # cluster
        sums = pd.DataFrame(q * resid[:, None]).groupby(groups).sum().to_numpy()
        g = sums.shape[0]
        meat = sums.T @ sums * g / (g - 1) * (n - 1) / (n - k)
    v = (bread @ meat @ bread)[w.shape[1] :, w.shape[1] :]
    z_tilde = z - w @ np.linalg.lstsq(w, z, rcond=None)[0]
    qzz = z_tilde.T @ z_tilde
    pi = coef[w.shape[1] :]
    f_eff = pi @ qzz @ pi / np.trace(v @ qzz)
    root = np.real(linalg.sqrtm(qzz))
    s = root @ v @ root
    x = 10.0
    lam = np.linalg.eigvalsh(s).max()
    k_eff = (
        np.trace(s) ** 2 * (1 + 2 * x) / (np.trace(s @ s) + 2 * x * np.trace(s) * lam)
    )
    return f_eff, k_eff


@pytest.mark.parametrize("design", ["continuous", "five_covariates", "clusters"])
@pytest.mark.parametrize("cov_type", ["classical", "HC1", "cluster"])
def test_effective_f_matches_the_formula(design, cov_type):
    est, X, y, groups = _fit(design, cov_type)
    f_eff, k_eff = _effective_f_by_hand(X, y, groups, cov_type)
    eff = est.first_stage_.effective_f
    row = est.diagnostics_.loc["effective_f"]
    assert eff.statistic == row.statistic
    assert eff.statistic == pytest.approx(f_eff, rel=RTOL)
    assert eff.df_effective == pytest.approx(k_eff, rel=RTOL)
    assert row.critical_value == pytest.approx(
        stats.ncx2.ppf(0.95, k_eff, 10 * k_eff) / k_eff, rel=1e-8
    )
    if cov_type == "classical":
        # Homoskedastic: the effective F is the first-stage F and K_eff = p.
        assert eff.statistic == pytest.approx(est.first_stage_.f_statistic, rel=1e-10)
        assert eff.df_effective == pytest.approx(est.first_stage_.n_instruments)


@pytest.mark.parametrize("cov_type", ["HC0", "cluster"])
def test_effective_f_matches_pyfixest(cov_type):
    """pyfixest's ``eff_F`` forms Q from the instrument columns as given and
    uses its default small-sample factors in the first stage. So the
    exogenous regressors are partialled out first (which changes neither π̂
    nor the residuals), and its factors are converted: with the partialled-out
    first stage it has p parameters, ours l, so its heteroskedastic variance
    carries n/(n - p) (ours HC0: 1) and its clustered one
    G/(G-1)(n-1)/(n-p) (ours: .../(n-l))."""
    pf = pytest.importorskip("pyfixest")
    est, X, y, groups = _fit("five_covariates", cov_type)
    exog, instruments = _reference_matrices(X)
    w = exog.to_numpy()

    def partial(v):
        v = np.asarray(v, dtype=float)
        return v - w @ np.linalg.lstsq(w, v, rcond=None)[0]

    p = instruments.shape[1]
    frame = pd.DataFrame({"y": partial(y), "m": partial(X["m"]), "g": groups})
    names = [f"z{j}" for j in range(p)]
    for j, name in enumerate(names):
        frame[name] = partial(instruments.iloc[:, j])
    vcov = "hetero" if cov_type == "HC0" else {"CRV1": "g"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols(f"y ~ -1 | m ~ -1 + {' + '.join(names)}", data=frame, vcov=vcov)
        fit.first_stage()
        fit.IV_Diag()
    n, n_inst = len(y), exog.shape[1] + p
    ours = est.first_stage_.effective_f.statistic
    if cov_type == "HC0":
        assert ours == pytest.approx(fit._eff_F * n / (n - p), rel=RTOL)
    else:
        assert ours == pytest.approx(fit._eff_F * (n - n_inst) / (n - p), rel=RTOL)


def test_montiel_olea_pflueger_critical_values():
    # Their Table 1 (simplified procedure, 5% test): 37.418 for a worst-case
    # bias of 5% and 23.109 for 10% with one instrument.
    assert montiel_olea_pflueger_critical_value(1, bias=0.05) == pytest.approx(
        37.418, abs=5e-4
    )
    assert montiel_olea_pflueger_critical_value(1) == pytest.approx(23.109, abs=5e-4)
    # Decreasing in the effective degrees of freedom and in the bias allowed.
    assert montiel_olea_pflueger_critical_value(
        3
    ) < montiel_olea_pflueger_critical_value(1)
    assert montiel_olea_pflueger_critical_value(
        2, bias=0.2
    ) < montiel_olea_pflueger_critical_value(2, bias=0.1)


def test_overidentification_not_defined_with_one_instrument():
    X, y, _ = simulate_trial(n=300, n_covariates=1, seed=3)
    est = IVMediationRegressor(treatment="r", mediator="m").fit(X, y)
    for name in ["sargan", "hansen_j"]:
        row = est.diagnostics_.loc[name]
        assert np.isnan(row.statistic) and np.isnan(row.pvalue)
        assert row.df == 0
    assert "Sargan" in est.summary() and "Hansen J (robust)" in est.summary()


@pytest.mark.filterwarnings("ignore::skmediate.WeakInstrumentWarning")
def test_hansen_j_not_defined_with_too_few_clusters():
    X, y, _ = simulate_trial(n=400, n_covariates=5, seed=11)
    groups = np.arange(400) % 4  # 4 clusters, 10 instrument columns
    est = IVMediationRegressor(treatment="r", mediator="m", cov_type="cluster")
    est.fit(X, y, groups=groups)
    row = est.diagnostics_.loc["hansen_j"]
    assert np.isnan(row.statistic)


def test_table_layout_and_stock_yogo_rows():
    est, *_ = _fit("five_covariates", "HC1")
    table = est.diagnostics_
    assert table is est.result_.diagnostics
    assert list(table.columns) == [
        "statistic",
        "df",
        "df_denom",
        "pvalue",
        "critical_value",
    ]
    assert list(table.index) == [
        "first_stage_f",
        "first_stage_wald_f",
        "stock_yogo_tsls_size",
        "stock_yogo_tsls_relative_bias",
        "stock_yogo_liml_size",
        "effective_f",
        "sargan",
        "hansen_j",
        "durbin",
        "wu_hausman",
        "exogeneity_regression",
    ]
    assert [diagnostic_label(key, "HC1") for key in table.index] == [
        "first-stage F (classical)",
        "first-stage Wald F (HC1)",
        "Stock-Yogo 2SLS size (15%)",
        "Stock-Yogo 2SLS relative bias (10%)",
        "Stock-Yogo LIML size (15%)",
        "effective F (HC1)",
        "Sargan",
        "Hansen J (robust)",
        "Durbin",
        "Wu-Hausman",
        "exogeneity regression test (HC1)",
    ]
    f_stat = est.first_stage_.f_statistic
    assert table.loc["stock_yogo_tsls_size"].critical_value == 15.09
    assert table.loc["stock_yogo_tsls_relative_bias"].critical_value == 10.83
    assert table.loc["stock_yogo_liml_size"].critical_value == 3.56
    assert (table.loc[table.index.str.startswith("stock")].statistic == f_stat).all()


@pytest.mark.parametrize(
    ("cov_type", "reason"),
    [
        ("classical", "no critical value for more than 30 instruments"),
        ("HC1", "the HC1 covariance allows for heteroskedasticity"),
    ],
)
def test_verdict_with_more_instruments_than_stock_yogo_tabulates(cov_type, reason):
    """31 instruments and F about 1: the effective F decides, and warns."""
    rng = np.random.default_rng(8)
    n, p = 600, 31
    x = rng.normal(size=(n, p))
    r = rng.integers(0, 2, n).astype(float)
    u = rng.normal(size=n)
    m = r * (1.0 + 0.02 * x.sum(axis=1)) + u + rng.normal(size=n)
    y = 1.0 + 2.0 * m + u + rng.normal(size=n)
    X = pd.DataFrame(x, columns=[f"x{j}" for j in range(p)]).assign(r=r, m=m)
    est = IVMediationRegressor(treatment="r", mediator="m", cov_type=cov_type)
    with pytest.warns(WeakInstrumentWarning, match="effective first-stage F") as rec:
        est.fit(X, y)
    assert reason in str(rec[0].message)
    fs = est.first_stage_
    assert np.isnan(fs.critical_value) and fs.weak_test == "effective_f"
    eff = fs.effective_f
    assert fs.is_weak is True and eff.statistic < eff.critical_value
    assert eff.critical_value == pytest.approx(
        montiel_olea_pflueger_critical_value(eff.df_effective)
    )
    assert "effective F" in est.summary()


# -- which test decides the weak-instrument verdict -----------------------------

ROBUST_COV_TYPES = [name for name, kind in COV_TYPES.items() if not kind.homoskedastic]
HOMOSKEDASTIC_COV_TYPES = [
    name for name, kind in COV_TYPES.items() if kind.homoskedastic
]


def test_stock_yogo_decides_only_homoskedastic_fits_it_tabulates():
    assert set(ROBUST_COV_TYPES) >= {
        "HC0",
        "HC1",
        "HC2",
        "HC3",
        "cluster",
        "CR0",
        "CR2",
    }
    assert HOMOSKEDASTIC_COV_TYPES == ["unadjusted", "classical"]
    for name, kind in COV_TYPES.items():
        assert stock_yogo_decides(kind, 2) is (name in HOMOSKEDASTIC_COV_TYPES)
        assert stock_yogo_decides(kind, 30) is (name in HOMOSKEDASTIC_COV_TYPES)
        assert stock_yogo_decides(kind, 31) is False


def _heteroskedastic_trial(kind, n=4000, seed=0):
    """One covariate (one instrument ``r·(x - x̄)``), heteroskedastic first stage.

    ``"noisy_where_informative"``: the mediator's noise grows with ``x²`` in
    the treated arm, where the instrument varies, so the robust variance of
    its coefficient is several times the homoskedastic one: the classical F
    passes even the effective F's critical value, the robust effective F does
    not. ``"noisy_where_not"``: the noise is large where the instrument is
    small: ``x`` is 0 for most subjects, with noise of sd 3, and ±2 for the
    others, with noise of sd 0.3; the classical F averages the noise over
    everyone and is below the Stock-Yogo value, the robust effective F
    weighs it by the instrument and is far above its own.
    """
    rng = np.random.default_rng(seed)
    r = rng.integers(0, 2, n).astype(float)
    if kind == "noisy_where_informative":
        x = rng.normal(size=n)
        sd, gamma = 0.2 + 1.5 * r * x**2, 0.3
    else:
        x = rng.choice([-2.0, 0.0, 2.0], size=n, p=[0.1, 0.8, 0.1])
        sd, gamma = np.where(x == 0, 3.0, 0.3), 0.15
    u = rng.normal(size=n)
    m = 0.5 * r + gamma * r * x + 0.3 * u + sd * rng.normal(size=n)
    y = 1.0 - r + 2.0 * m + u + rng.normal(size=n)
    groups = np.arange(n) % 50  # clusters of independent rows
    return pd.DataFrame({"r": r, "m": m, "x": x}), pd.Series(y, name="y"), groups


def _fit_recording(X, y, groups, cov_type):
    """The fit and the WeakInstrumentWarning messages it raised."""
    est = IVMediationRegressor(treatment="r", mediator="m", cov_type=cov_type)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", WeakInstrumentWarning)
        est.fit(X, y, groups=groups if COV_TYPES[cov_type].clustered else None)
    messages = [str(w.message) for w in caught if w.category is WeakInstrumentWarning]
    assert len(messages) == len(caught)  # no other warning
    return est, messages


@pytest.mark.parametrize("cov_type", ROBUST_COV_TYPES)
def test_robust_effective_f_finds_weak_what_stock_yogo_passes(cov_type):
    X, y, groups = _heteroskedastic_trial("noisy_where_informative")
    classical, messages = _fit_recording(X, y, groups, "classical")
    fs = classical.first_stage_
    assert fs.weak_test == "stock_yogo" and fs.is_weak is False and not messages
    # Stock-Yogo passes by far: even the effective F's critical value would.
    assert fs.f_statistic > 40 > fs.effective_f.critical_value > fs.critical_value

    est, messages = _fit_recording(X, y, groups, cov_type)
    fs, eff = est.first_stage_, est.first_stage_.effective_f
    assert fs.f_statistic == pytest.approx(classical.first_stage_.f_statistic)
    assert fs.weak_test == "effective_f" and eff.cov_type == cov_type
    assert eff.statistic < 15 < eff.critical_value  # weak by the robust F
    assert fs.is_weak is True
    # The warning names the test, its statistic, its critical value and why.
    (message,) = messages
    assert (
        "the effective first-stage F statistic of Montiel Olea and Pflueger with "
        f"the {cov_type} covariance is {eff.statistic:.2f}, below its critical "
        f"value {eff.critical_value:.2f} for 1 instrument" in message
    )
    assert "Stock-Yogo critical values assume homoskedastic errors" in message
    assert "Stock-Yogo critical value 8.96" not in message
    # The summary and the confidence sets follow the same verdict.
    text = " ".join(est.summary().as_text().split())
    assert f"effective F ({cov_type}) = {eff.statistic:.2f}" in text
    assert "WEAK instruments" in text and "The effective F decides" in text


@pytest.mark.parametrize("cov_type", ROBUST_COV_TYPES)
def test_robust_effective_f_passes_what_stock_yogo_finds_weak(cov_type):
    X, y, groups = _heteroskedastic_trial("noisy_where_not")
    classical, messages = _fit_recording(X, y, groups, "classical")
    fs = classical.first_stage_
    assert fs.weak_test == "stock_yogo" and fs.is_weak is True
    assert fs.f_statistic < 3 < fs.critical_value
    (message,) = messages
    assert "below the Stock-Yogo critical value 8.96 for 1 instrument" in message
    assert "The Stock-Yogo test decides because the classical covariance" in message

    est, messages = _fit_recording(X, y, groups, cov_type)
    fs, eff = est.first_stage_, est.first_stage_.effective_f
    assert fs.weak_test == "effective_f" and fs.is_weak is False and not messages
    assert eff.statistic > 40 > eff.critical_value
    assert "instruments not weak" in est.summary()


def _fits_of_every_kind():
    X, y, groups = simulate_trial(n=300, n_covariates=3, n_clusters=40, seed=12)
    weights = np.random.default_rng(1).integers(1, 4, len(y)).astype(float)
    for cov_type in COV_TYPES:
        for kappa in (1.0, "liml"):
            for sample_weight in (None, weights):
                yield X, y, groups, dict(cov_type=cov_type, kappa=kappa), sample_weight
    # weak and strong first stages
    for strength in (0.05, 3.0):
        X2, y2, _ = simulate_trial(
            n=300, n_covariates=2, instrument_strength=strength, seed=13
        )
        for cov_type in ("classical", "HC1"):
            yield X2, y2, None, dict(cov_type=cov_type), None


def test_is_weak_is_a_verdict_for_every_iv_fit():
    """Never None: a bool from the test that ``weak_test`` names, with the
    warning exactly when it is True."""
    for X, y, groups, params, sample_weight in _fits_of_every_kind():
        est = IVMediationRegressor(treatment="r", mediator="m", **params)
        clustered = COV_TYPES[params["cov_type"]].clustered
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", WeakInstrumentWarning)
            est.fit(
                X,
                y,
                sample_weight=sample_weight,
                groups=groups if clustered else None,
            )
        fs, eff = est.first_stage_, est.first_stage_.effective_f
        assert type(fs.is_weak) is bool, params
        if COV_TYPES[params["cov_type"]].homoskedastic:
            assert fs.weak_test == "stock_yogo"
            assert fs.is_weak is bool(fs.f_statistic < fs.critical_value)
        else:
            assert fs.weak_test == "effective_f"
            assert fs.is_weak is bool(eff.statistic < eff.critical_value)
        assert [w.category for w in caught] == [WeakInstrumentWarning] * fs.is_weak
    naive = NaiveMediationRegressor(treatment="r", mediator="m").fit(X, y)
    assert naive.result_.first_stage is None


def _effective_f_statsmodels(X, y, groups, cov_type):
    """The effective F from statsmodels' first-stage covariance, by hand.

    ivmodels and linearmodels have no effective F. The first stage ``M`` on
    ``[W, Z]`` is fitted with statsmodels OLS and the covariance of the
    excluded coefficients taken from it: ``unadjusted`` rescales the
    classical one by ``(n - l) / n``; ``HC0``-``HC3`` and ``cluster`` (with its
    ``G/(G-1) (n-1)/(n-l)`` correction) and ``CR0`` (without) are statsmodels'
    own; ``CR2`` is the Bell-McCaffrey sandwich written out here (each
    cluster's residuals multiplied by ``(I - H_gg)^{-1/2}``). Then
    ``F_eff = π̂ᵀQπ̂ / tr(VQ)`` with ``Q = Z̃ᵀZ̃`` (Montiel Olea and Pflueger
    2013), ``K_eff`` of the simplified procedure from ``S = Q^{1/2} V Q^{1/2}``
    and the critical value from scipy's noncentral chi-squared.
    """
    exog, instruments = _reference_matrices(X)
    q = pd.concat([exog, instruments], axis=1)
    n, n_inst = q.shape
    kw = exog.shape[1]
    ols = sm.OLS(X["m"], q)
    if cov_type in ("unadjusted", "classical"):
        fit = ols.fit()
        cov = fit.cov_params().to_numpy()
        if cov_type == "unadjusted":
            cov = cov * (n - n_inst) / n
    elif cov_type.startswith("HC"):
        cov = ols.fit(cov_type=cov_type).cov_params().to_numpy()
    elif cov_type in ("cluster", "CR0"):
        kwds = {"groups": np.asarray(groups), "use_correction": cov_type == "cluster"}
        cov = ols.fit(cov_type="cluster", cov_kwds=kwds).cov_params().to_numpy()
    else:  # CR2
        qm = q.to_numpy()
        fit = ols.fit()
        resid = fit.resid.to_numpy()
        bread = np.linalg.inv(qm.T @ qm)
        meat = np.zeros((n_inst, n_inst))
        for g in np.unique(groups):
            rows = np.flatnonzero(np.asarray(groups) == g)
            qg = qm[rows]
            h_gg = qg @ bread @ qg.T
            vals, vecs = np.linalg.eigh(np.eye(len(rows)) - h_gg)
            adjusted = vecs @ np.diag(vals**-0.5) @ vecs.T @ resid[rows]
            s_g = qg.T @ adjusted
            meat += np.outer(s_g, s_g)
        cov = bread @ meat @ bread
    v = cov[kw:, kw:]
    pi = ols.fit().params.to_numpy()[kw:]
    z = instruments.to_numpy()
    w = exog.to_numpy()
    z_tilde = z - w @ np.linalg.lstsq(w, z, rcond=None)[0]
    qzz = z_tilde.T @ z_tilde
    f_eff = pi @ qzz @ pi / np.trace(v @ qzz)
    root = np.real(linalg.sqrtm(qzz))
    s = root @ v @ root
    x = 10.0
    k_eff = (
        np.trace(s) ** 2
        * (1 + 2 * x)
        / (np.trace(s @ s) + 2 * x * np.trace(s) * np.linalg.eigvalsh(s).max())
    )
    return f_eff, k_eff, stats.ncx2.ppf(0.95, k_eff, x * k_eff) / k_eff


@pytest.mark.parametrize("design", ["five_covariates", "clusters"])
@pytest.mark.parametrize("cov_type", list(COV_TYPES))
def test_effective_f_matches_statsmodels(design, cov_type):
    X, y, groups = _design(design)
    est = IVMediationRegressor(**_estimator_kwargs(X), cov_type=cov_type)
    est.fit(X, y, groups=groups if COV_TYPES[cov_type].clustered else None)
    f_eff, k_eff, critical = _effective_f_statsmodels(X, y, groups, cov_type)
    eff = est.first_stage_.effective_f
    assert eff.cov_type == cov_type
    assert eff.statistic == pytest.approx(f_eff, rel=RTOL)
    assert eff.df_effective == pytest.approx(k_eff, rel=RTOL)
    assert eff.critical_value == pytest.approx(critical, rel=1e-8)
    if cov_type == "classical":
        assert eff.statistic == pytest.approx(est.first_stage_.f_statistic, rel=1e-10)
    if not COV_TYPES[cov_type].homoskedastic:
        assert est.first_stage_.is_weak is bool(f_eff < critical)


@pytest.mark.parametrize("cov_type", ROBUST_COV_TYPES)
def test_effective_f_with_one_instrument_is_the_robust_wald_f(cov_type):
    """``K_eff = 1``: ``π̂² / V``, the Wald F with the fit's covariance."""
    X, y, groups = _design("one_covariate")
    est = IVMediationRegressor(**_estimator_kwargs(X), cov_type=cov_type)
    est.fit(X, y, groups=groups if COV_TYPES[cov_type].clustered else None)
    fs = est.first_stage_
    assert fs.effective_f.statistic == pytest.approx(fs.wald_f_statistic, rel=1e-10)
    assert fs.effective_f.df_effective == pytest.approx(1.0, rel=1e-12)
    assert fs.effective_f.critical_value == pytest.approx(23.109, abs=5e-4)
