"""Result objects, summaries, the Stock-Yogo table and the weak-instrument warning."""

import csv
import dataclasses
import re
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from skmediate import (
    IVMediationRegressor,
    NaiveMediationRegressor,
    WeakInstrumentWarning,
    stock_yogo_critical_value,
)
from skmediate._numerics.diagnostics import STOCK_YOGO_LEVELS, STOCK_YOGO_TABLES

from .conftest import simulate_trial


@pytest.fixture
def fitted():
    X, y, _ = simulate_trial(n=800, n_covariates=2, seed=31)
    return IVMediationRegressor(treatment="r", mediator="m", confidence_level=0.9).fit(
        X, y
    )


def test_inference_is_normal_based(fitted):
    res = fitted.result_
    z = res.params / res.std_errors
    assert_allclose(res.zstats, z)
    assert_allclose(res.pvalues, 2 * stats.norm.sf(np.abs(z)))
    ci = res.conf_int()
    assert list(ci.columns) == ["lower", "upper"]
    q = stats.norm.ppf(0.95)
    assert_allclose(ci["lower"], res.params - q * res.std_errors)
    assert_allclose(ci["upper"], res.params + q * res.std_errors)
    q99 = stats.norm.ppf(0.995)
    assert_allclose(res.conf_int(0.99)["upper"], res.params + q99 * res.std_errors)
    with pytest.raises(ValueError, match="confidence_level must be in"):
        res.conf_int(1.2)


def test_tiny_pvalues_keep_precision(fitted):
    res = dataclasses.replace(
        fitted.result_,
        terms=("a", "b"),
        estimates=np.array([9.0, -12.0]),
    )
    vars(res)["covariance"] = np.eye(2)  # what its first read would cache
    # 1 - cdf rounds to 0 at these z; the survival function does not.
    assert res.pvalues["a"] == pytest.approx(2 * 1.1285884059538e-19, rel=1e-10)
    assert 0 < res.pvalues["b"] < 1e-30


def test_to_frame_and_summary(fitted):
    res = fitted.result_
    frame = res.to_frame()
    assert list(frame.columns) == [
        "estimate",
        "std_error",
        "z",
        "pvalue",
        "lower",
        "upper",
    ]
    assert list(frame.index) == ["intercept", "x1", "x2", "r", "m"]
    summary = fitted.summary()
    text = summary.as_text()
    assert summary == res.summary() == text == str(res) == repr(summary)
    assert "IV mediation regression" in text
    assert "No. observations:" in text and "800" in text
    assert "HC1" in text and "[0.050" in text and "0.950]" in text
    assert "Instruments: r:x1, r:x2" in text
    assert f"partial F(2, {800 - 6:g}) = {fitted.first_stage_.f_statistic:.3f}" in text
    # HC1: the effective F decides the verdict, and the summary says why.
    eff = fitted.first_stage_.effective_f
    assert (
        f"effective F (HC1) = {eff.statistic:.2f}, critical value "
        f"{eff.critical_value:.2f}" in text
    )
    assert "Stock-Yogo critical values assume homoskedastic errors" in " ".join(
        text.split()
    )
    X, y, _ = simulate_trial(n=800, n_covariates=2, seed=31)
    classical = IVMediationRegressor(treatment="r", mediator="m", cov_type="classical")
    assert "Stock-Yogo critical value 11.59" in classical.fit(X, y).summary()
    for estimate in frame["estimate"]:
        assert f"{estimate:.4f}" in text
    assert "2024" not in text and ":" not in text.splitlines()[0]


def test_result_is_frozen_numbers_only(fitted):
    res = fitted.result_
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.nobs = 3
    for field in dataclasses.fields(res):
        value = getattr(res, field.name)
        assert not isinstance(value, np.ndarray) or value.size < 100
        if isinstance(value, (pd.Series, pd.DataFrame)):
            # Tables of terms, effects or tests: nothing of the size of the data.
            assert len(value) < 20 < res.nobs


def test_first_stage_attributes(fitted):
    fs = fitted.first_stage_
    assert fs is fitted.result_.first_stage
    assert fs.n_instruments == 2 and fs.df_num == 2 and fs.df_denom == 800 - 6
    assert fs.f_pvalue == pytest.approx(stats.f.sf(fs.f_statistic, 2, 794))
    assert fs.partial_r2 == pytest.approx(
        2 * fs.f_statistic / (2 * fs.f_statistic + 794)
    )
    assert fs.critical_value == 11.59
    assert fs.is_weak is False
    assert fs.cov_type == "HC1"


@pytest.mark.parametrize(
    "k, value",
    [(1, 8.96), (2, 11.59), (3, 12.83), (5, 15.09), (10, 20.88), (15, 26.80)],
)
def test_stock_yogo_values_quoted_in_the_paper(k, value):
    assert stock_yogo_critical_value(k) == value


def test_stock_yogo_other_tables_and_limits():
    assert stock_yogo_critical_value(1, level=0.10) == 16.38
    assert np.isnan(stock_yogo_critical_value(31))
    assert stock_yogo_critical_value(3, table="tsls_relative_bias", level=0.05) > 10
    with pytest.raises(ValueError, match="table must be one of"):
        stock_yogo_critical_value(2, table="fuller")
    with pytest.raises(ValueError, match="level for table 'tsls_size' must be one of"):
        stock_yogo_critical_value(2, level=0.5)


# Stock-Yogo values for several endogenous regressors as Stata prints them:
# StataCorp's ivregress_estat.ado 1.2.6 (``estat firststage``, its tables
# tslssize, limlsize and tslsbias), a transcription independent of the gretl
# table the data file is taken from. (n_endog, K2, table, level, value).
STATA_ESTAT_FIRSTSTAGE_VALUES = [
    (2, 2, "tsls_size", 0.10, 7.03),
    (2, 2, "tsls_size", 0.15, 4.58),
    (2, 2, "tsls_size", 0.20, 3.95),
    (2, 2, "tsls_size", 0.25, 3.63),
    (2, 4, "tsls_size", 0.10, 16.87),
    (2, 10, "tsls_size", 0.15, 16.16),
    (2, 30, "tsls_size", 0.25, 18.35),
    (2, 3, "liml_size", 0.10, 5.44),
    (2, 5, "liml_size", 0.15, 3.13),
    (2, 29, "liml_size", 0.10, 4.02),
    (2, 30, "liml_size", 0.25, 1.75),
    (2, 4, "tsls_relative_bias", 0.05, 11.04),
    (2, 4, "tsls_relative_bias", 0.10, 7.56),
    (2, 4, "tsls_relative_bias", 0.20, 5.57),
    (2, 4, "tsls_relative_bias", 0.30, 4.73),
    (2, 30, "tsls_relative_bias", 0.05, 20.86),
    (3, 5, "tsls_relative_bias", 0.05, 9.53),
    (3, 5, "tsls_relative_bias", 0.10, 6.61),
    (3, 5, "tsls_relative_bias", 0.20, 4.99),
    (3, 5, "tsls_relative_bias", 0.30, 4.30),
    (3, 10, "tsls_relative_bias", 0.10, 9.64),
    (3, 30, "tsls_relative_bias", 0.30, 4.17),
]


@pytest.mark.parametrize(
    ("n_endog", "k", "table", "level", "value"), STATA_ESTAT_FIRSTSTAGE_VALUES
)
def test_stock_yogo_several_endogenous_match_stata(n_endog, k, table, level, value):
    assert stock_yogo_critical_value(k, table, level, n_endog=n_endog) == value


def _stock_yogo_rows():
    path = resources.files("skmediate").joinpath("data/stock_yogo.csv")
    return list(csv.DictReader(path.read_text().splitlines()))


def test_stock_yogo_file_every_row_parses_and_is_looked_up():
    rows = _stock_yogo_rows()
    assert list(rows[0]) == [
        "n_endog", "k2", "table", "level", "critical_value", "source"
    ]  # fmt: skip
    seen = {}
    for row in rows:
        n, k = int(row["n_endog"]), int(row["k2"])
        table, level = row["table"], float(row["level"])
        assert table in STOCK_YOGO_TABLES
        assert level in STOCK_YOGO_LEVELS[table]
        assert re.fullmatch(r"\d+\.\d\d", row["critical_value"])
        value = float(row["critical_value"])
        assert 0 < value < 100
        assert "gretl-project/gretl @7745c2c0" in row["source"]
        assert "restatr/ivreg2r" in row["source"] and "@8c666db1" in row["source"]
        assert (n, k, table, level) not in seen
        seen[(n, k, table, level)] = value
        assert stock_yogo_critical_value(k, table, level, n_endog=n) == value
    # What Stock and Yogo tabulate: size for n <= 2 from K2 = n, relative bias
    # for n <= 3 from K2 = n + 2, up to K2 = 30, at all four levels.
    expected = {
        (n, k, table, level)
        for table in STOCK_YOGO_TABLES
        for n in ((1, 2, 3) if table == "tsls_relative_bias" else (1, 2))
        for k in range(n + 2 if table == "tsls_relative_bias" else n, 31)
        for level in STOCK_YOGO_LEVELS[table]
    }
    assert set(seen) == expected
    assert len(rows) == 796


def test_stock_yogo_tables_are_monotone_and_tsls_is_liml_when_just_identified():
    values = {}
    for row in _stock_yogo_rows():
        key = (int(row["n_endog"]), int(row["k2"]), row["table"])
        values.setdefault(key, {})[float(row["level"])] = float(row["critical_value"])
    for key, by_level in values.items():
        # A larger tolerated size or bias needs a weaker first stage.
        ordered = [by_level[level] for level in sorted(by_level)]
        assert np.all(np.diff(ordered) < 0), key
    for n in (1, 2):
        # With K2 = n excluded instruments, 2SLS and LIML coincide.
        assert values[(n, n, "tsls_size")] == values[(n, n, "liml_size")]


def test_stock_yogo_one_endogenous_lookups_unchanged():
    for table in STOCK_YOGO_TABLES:
        for level in STOCK_YOGO_LEVELS[table]:
            for k in range(0, 32):
                default = stock_yogo_critical_value(k, table, level)
                one = stock_yogo_critical_value(k, table, level, n_endog=1)
                assert default == one or (np.isnan(default) and np.isnan(one))
    # The key includes n: the n = 2 rows do not overwrite the n = 1 ones.
    assert stock_yogo_critical_value(2) == 11.59
    assert stock_yogo_critical_value(2, n_endog=2) == 4.58
    assert stock_yogo_critical_value(4, "tsls_relative_bias", 0.05) == 16.85
    assert stock_yogo_critical_value(4, "tsls_relative_bias", 0.05, n_endog=2) == 11.04
    assert stock_yogo_critical_value(5, "liml_size", 0.15) == 3.56


@pytest.mark.parametrize(
    ("k", "table", "n_endog"),
    [
        (1, "tsls_size", 2),  # fewer instruments than endogenous regressors
        (1, "liml_size", 2),
        (3, "tsls_relative_bias", 2),  # relative bias needs K2 >= n + 2
        (4, "tsls_relative_bias", 3),
        (5, "tsls_size", 3),  # no size tables for three regressors
        (5, "liml_size", 3),
        (31, "tsls_size", 2),
        (31, "tsls_relative_bias", 3),
        (10, "tsls_relative_bias", 4),
    ],
)
def test_stock_yogo_several_endogenous_not_tabulated_is_nan(k, table, n_endog):
    level = STOCK_YOGO_LEVELS[table][1]
    assert np.isnan(stock_yogo_critical_value(k, table, level, n_endog=n_endog))


@pytest.mark.parametrize("n_endog", [0, -1, 1.5, 2.0, True, "2", None])
def test_stock_yogo_n_endog_must_be_a_positive_integer(n_endog):
    with pytest.raises(ValueError, match="n_endog must be a positive integer"):
        stock_yogo_critical_value(5, n_endog=n_endog)


def test_stock_yogo_n_endog_accepts_numpy_integers():
    assert stock_yogo_critical_value(np.int64(4), n_endog=np.int64(2)) == 9.93


@pytest.mark.parametrize(
    ("cov_type", "message"),
    [
        ("classical", r"below the Stock-Yogo critical value 8\.96 for 1 instrument"),
        ("HC1", r"HC1 covariance is 2\.39, below its critical value 23\.11 for 1 "),
    ],
)
def test_weak_instrument_warning_and_verdict(cov_type, message):
    rng = np.random.default_rng(5)
    n = 400
    X = pd.DataFrame({"r": rng.integers(0, 2, n), "x": rng.normal(size=n)})
    X["m"] = 0.5 * X["r"] + 0.02 * X["r"] * X["x"] + rng.normal(size=n)
    y = X["m"] + rng.normal(size=n)
    est = IVMediationRegressor(treatment="r", mediator="m", cov_type=cov_type)
    with pytest.warns(WeakInstrumentWarning, match=message) as record:
        est.fit(X, y)
    assert record[0].filename == __file__  # points at the caller
    assert est.first_stage_.is_weak
    assert "WEAK instruments" in est.summary()


def test_no_warning_for_naive_or_strong_instruments(fitted, recwarn):
    X, y, _ = simulate_trial(n=800, n_covariates=2, seed=31)
    NaiveMediationRegressor(treatment="r", mediator="m").fit(X, y)
    assert not any(issubclass(w.category, WeakInstrumentWarning) for w in recwarn)


def test_results_compare_by_identity_without_error(fitted):
    res = fitted.result_
    assert res == res
    assert res != dataclasses.replace(res)


def test_summary_wraps_a_long_list_of_instruments():
    rng = np.random.default_rng(0)
    n, p = 1000, 23
    x = rng.normal(size=(n, p))
    r = rng.integers(0, 2, n).astype(float)
    u = rng.normal(size=n)
    m = r * (0.5 + x @ np.full(p, 1.0)) + u + rng.normal(size=n)
    X = pd.DataFrame(x, columns=[f"x{i}" for i in range(p)]).assign(r=r, m=m)
    est = IVMediationRegressor(treatment="r", mediator="m", cov_type="classical")
    est.fit(X, r + m + u + rng.normal(size=n))
    lines = str(est.summary()).splitlines()
    width = len(lines[1])  # the rule under the title
    start = next(i for i, line in enumerate(lines) if line.startswith("Instruments:"))
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith(" " * 13) or not line.strip().startswith("r:"):
            break
        block.append(line)
    assert len(block) > 1 and max(len(line) for line in block) <= width
    names = " ".join(line[13:] for line in block).replace(",", " ").split()
    assert names == [f"r:x{i}" for i in range(p)]
