"""Fitting dask arrays and DataFrames: the same numbers as the in-memory fit.

Every quantity of the result (estimates, covariances, effects and their joint
covariance, first-stage and IV diagnostics, Anderson-Rubin moments) is
compared with the fit on the same rows held in memory, to a relative
tolerance of 1e-10: the two differ only in the order in which partial sums
and chunk factors are combined, which moves the last few bits.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import StandardScaler

from skmediate import IVMediationRegressor, NaiveMediationRegressor

from .conftest import simulate_trial

da = pytest.importorskip(
    "dask.array", reason="dask input needs the dask extra: pip install skmediate[dask]"
)
dd = pytest.importorskip(
    "dask.dataframe",
    reason="dask input needs the dask extra: pip install skmediate[dask]",
)

RTOL = 1e-10


def _close(a, b, what):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    scale = max(float(np.nanmax(np.abs(a), initial=0.0)), 1e-300)
    np.testing.assert_allclose(b, a, rtol=RTOL, atol=RTOL * scale, err_msg=what)


def assert_same_fit(memory, lazy):
    """Every number of two fitted estimators' results agrees to RTOL."""
    a, b = memory.result_, lazy.result_
    assert list(a.params.index) == list(b.params.index)
    for name in ("params", "std_errors", "cov"):
        _close(getattr(a, name), getattr(b, name), name)
    _close(a.effects.to_numpy(dtype=float), b.effects.to_numpy(dtype=float), "effects")
    _close(a.effects_cov, b.effects_cov, "effects_cov")
    assert a.nobs == pytest.approx(b.nobs, rel=1e-14)
    _close(a.rsquared, b.rsquared, "rsquared")
    assert a.n_clusters == b.n_clusters
    if a.first_stage is None:
        assert b.first_stage is None
        return
    for field in dataclasses.fields(a.first_stage):
        va, vb = getattr(a.first_stage, field.name), getattr(b.first_stage, field.name)
        if field.name == "mediator_stages":  # one dataclass per mediator
            pairs = list(zip(va, vb, strict=True))
        elif dataclasses.is_dataclass(va):
            pairs = [(va, vb)]
        elif isinstance(va, float):
            _close(va, vb, f"first_stage.{field.name}")
            continue
        else:
            assert va == vb, field.name
            continue
        for x_stage, z_stage in pairs:
            for inner in dataclasses.fields(x_stage):
                x, z = getattr(x_stage, inner.name), getattr(z_stage, inner.name)
                if isinstance(x, float):
                    _close(x, z, f"first_stage.{field.name}.{inner.name}")
                else:
                    assert x == z, f"first_stage.{field.name}.{inner.name}"
    numeric = a.diagnostics.select_dtypes("number").columns
    _close(a.diagnostics[numeric], b.diagnostics[numeric], "diagnostics")
    ma, mb = a.anderson_rubin_moments, b.anderson_rubin_moments
    for name in ("coef", "cov", "excluded_ss", "resid_ss", "nobs", "df_resid"):
        _close(getattr(ma, name), getattr(mb, name), f"anderson_rubin.{name}")
    set_a, set_b = a.anderson_rubin_set(), b.anderson_rubin_set()
    assert len(set_a) == len(set_b)
    for interval_a, interval_b in zip(set_a, set_b, strict=True):
        # interval ends are roots found to the solver's tolerance
        assert interval_b == pytest.approx(interval_a, rel=1e-8)


def _to_dask(X, y, extra, chunks):
    Xd = dd.from_pandas(X, chunksize=chunks)
    yd = dd.from_pandas(y, chunksize=chunks)
    return (
        Xd,
        yd,
        {k: da.from_array(np.asarray(v), chunks=chunks) for k, v in extra.items()},
    )


@pytest.mark.parametrize(
    "cov_type", ["unadjusted", "classical", "HC0", "HC1", "HC3", "cluster", "CR2"]
)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("cls", [IVMediationRegressor, NaiveMediationRegressor])
def test_dask_dataframe_equals_in_memory(cls, cov_type, weighted):
    X, y, groups = simulate_trial(1500, n_covariates=3, n_controls=1, n_clusters=40)
    extra = {}
    if weighted:
        extra["sample_weight"] = np.random.default_rng(3).uniform(0.2, 3.0, len(y))
    if cov_type in ("cluster", "CR2"):
        extra["groups"] = groups
    params = dict(
        treatment="r",
        mediator="m",
        covariates=["x1", "x2", "x3"],
        controls=["z1"],
        cov_type=cov_type,
    )
    memory = cls(**params).fit(X, y, **extra)
    Xd, yd, extra_d = _to_dask(X, y, extra, chunks=230)  # uneven partitions
    assert Xd.npartitions > 5
    lazy = cls(**params).fit(Xd, yd, **extra_d)
    assert_same_fit(memory, lazy)
    assert lazy.result_.outcome == memory.result_.outcome == "y"
    assert list(lazy.feature_names_in_) == list(X.columns)
    assert lazy.n_features_in_ == X.shape[1]


@pytest.mark.parametrize("kappa", ["liml", "fuller", 0.5])
def test_dask_array_kclass(kappa):
    X, y, _ = simulate_trial(900, n_covariates=2)
    values = X.to_numpy()
    memory = IVMediationRegressor(treatment=0, mediator=1, kappa=kappa).fit(values, y)
    lazy = IVMediationRegressor(treatment=0, mediator=1, kappa=kappa).fit(
        da.from_array(values, chunks=(200, 2)),  # split columns are joined
        da.from_array(y.to_numpy(), chunks=300),  # other partitions: aligned
    )
    assert_same_fit(memory, lazy)
    assert lazy.kappa_ == pytest.approx(memory.kappa_, rel=1e-12)


def test_dask_single_partition_and_numpy_outcome():
    X, y, _ = simulate_trial(300, n_covariates=2, instrument_strength=2.0)
    memory = IVMediationRegressor(treatment="r", mediator="m").fit(X, y)
    lazy = IVMediationRegressor(treatment="r", mediator="m").fit(
        dd.from_pandas(X, npartitions=1), y.to_numpy()
    )
    assert_same_fit(memory, lazy)


def test_dask_predict_and_score():
    X, y, _ = simulate_trial(600, n_covariates=2, n_controls=1)
    est = IVMediationRegressor(treatment="r", mediator="m", controls=["z1"])
    est.fit(dd.from_pandas(X, npartitions=3), dd.from_pandas(y, npartitions=3))
    predicted = est.predict(dd.from_pandas(X, npartitions=4))
    assert isinstance(predicted, da.Array)
    np.testing.assert_allclose(predicted.compute(), est.predict(X), rtol=1e-13)


def test_dask_input_is_not_modified():
    X, y, _ = simulate_trial(300, n_covariates=2, instrument_strength=2.0)
    values = X.to_numpy().copy()
    before = values.copy()
    IVMediationRegressor(treatment=0, mediator=1).fit(
        da.from_array(values, chunks=(100, 4)), y.to_numpy(), sample_weight=np.ones(300)
    )
    np.testing.assert_array_equal(values, before)


def test_dask_on_a_distributed_cluster():
    distributed = pytest.importorskip(
        "distributed", reason="the cluster test needs the dask extra's distributed"
    )
    X, y, groups = simulate_trial(800, n_covariates=2, n_clusters=20)
    params = dict(treatment="r", mediator="m", cov_type="cluster")
    memory = IVMediationRegressor(**params).fit(X, y, groups=groups)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        lazy = IVMediationRegressor(**params).fit(
            dd.from_pandas(X, npartitions=4),
            dd.from_pandas(y, npartitions=4),
            groups=da.from_array(groups, chunks=200),
        )
    assert_same_fit(memory, lazy)


# -- errors --------------------------------------------------------------------


def _frame(n=200):
    X, y, groups = simulate_trial(
        n, n_covariates=2, n_clusters=5, instrument_strength=2.0
    )
    return X, y, groups


def test_dask_rejects_fitted_transformers():
    X, y, _ = _frame()
    est = IVMediationRegressor(
        treatment="r", mediator="m", covariate_transformer=StandardScaler()
    )
    with pytest.raises(ValueError, match="covariate_transformer must be 'passthrough'"):
        est.fit(dd.from_pandas(X, npartitions=2), y)


def test_dask_names_non_finite_column():
    X, y, _ = _frame()
    X.loc[17, "x2"] = np.nan
    est = IVMediationRegressor(treatment="r", mediator="m")
    with pytest.raises(ValueError, match=r"column 'x2' \(covariate\) contains NaN"):
        est.fit(dd.from_pandas(X, npartitions=2), y)


def test_dask_names_non_numeric_column():
    X, y, _ = _frame()
    X["site"] = np.where(np.arange(len(y)) % 2, "a", "b")
    est = IVMediationRegressor(treatment="r", mediator="m")
    with pytest.raises(ValueError, match=r"column 'site' \(covariate\) is not numeric"):
        est.fit(dd.from_pandas(X, npartitions=2), y)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda kw: kw.update(y=kw["y"][:-1]), "X has 200 rows but y has 199"),
        (
            lambda kw: kw.update(sample_weight=np.r_[-1.0, np.ones(199)]),
            "Negative values",
        ),
        (lambda kw: kw.update(y=np.r_[np.inf, np.zeros(199)]), "Input y contains"),
        (
            lambda kw: kw.update(y=da.from_array(np.r_[np.nan, np.zeros(199)])),
            "Input y contains NaN",
        ),
    ],
)
def test_dask_input_errors(change, message):
    X, y, _ = _frame()
    kwargs = {"y": y.to_numpy()}
    change(kwargs)
    est = IVMediationRegressor(treatment="r", mediator="m")
    with pytest.raises(ValueError, match=message):
        est.fit(dd.from_pandas(X, npartitions=2), **kwargs)


def test_dask_cluster_needs_groups():
    X, y, groups = _frame()
    est = IVMediationRegressor(treatment="r", mediator="m", cov_type="cluster")
    with pytest.raises(ValueError, match="needs the cluster labels"):
        est.fit(dd.from_pandas(X, npartitions=2), y)
    with pytest.raises(ValueError, match="at least 2 clusters"):
        est.fit(dd.from_pandas(X, npartitions=2), y, groups=np.zeros(len(y)))


def test_dask_single_arm_is_an_error():
    X, y, _ = _frame()
    X["r"] = 1.0
    with pytest.raises(ValueError, match="takes a single value"):
        IVMediationRegressor(treatment="r", mediator="m").fit(
            dd.from_pandas(X, npartitions=2), y
        )


def test_frames_are_pandas_after_a_dask_fit():
    X, y, _ = _frame()
    est = IVMediationRegressor(treatment="r", mediator="m")
    est.fit(dd.from_pandas(X, npartitions=2), y)
    assert isinstance(est.result_.params, pd.Series)
    assert isinstance(est.direct_effect_, float)
    assert isinstance(est.result_.cov, pd.DataFrame)


# -- sensitivity analysis on dask data ------------------------------------------


@pytest.mark.parametrize(
    "cov_type", ["unadjusted", "classical", "HC0", "HC1", "HC2", "cluster", "CR2"]
)
def test_sensitivity_grid_on_dask_equals_in_memory(cov_type):
    from skmediate import SensitivityGrid

    X, y, groups = simulate_trial(1200, n_covariates=2, n_clusters=30, seed=4)
    extra = {"sample_weight": np.random.default_rng(5).uniform(0.5, 2.0, len(y))}
    if cov_type in ("cluster", "CR2"):
        extra["groups"] = groups
    grid = dict(
        tau_direct={"x1": np.linspace(-1, 1, 5), "x2": [0.0, 0.3]},
        tau_mediator={"x1": [-0.5, 0.0, 0.5]},
    )
    est = IVMediationRegressor(treatment="r", mediator="m", cov_type=cov_type)
    memory = SensitivityGrid(est, **grid).fit(X, y, **extra)
    Xd, yd, extra_d = _to_dask(X, y, extra, chunks=250)
    lazy = SensitivityGrid(est, **grid).fit(Xd, yd, **extra_d)
    assert lazy.method_ == "closed_form"
    assert lazy.covariate_names_ == memory.covariate_names_
    a, b = memory.to_frame(), lazy.to_frame()
    assert list(a.columns) == list(b.columns)
    numeric = a.select_dtypes("number").columns
    _close(a[numeric], b[numeric], "sensitivity table")
    _close(
        memory.breakdown_.select_dtypes("number"),
        lazy.breakdown_.select_dtypes("number"),
        "breakdown",
    )


@pytest.mark.parametrize("cov_type", ["classical", "HC1", "cluster"])
def test_sensitivity_robust_sets_on_dask_equal_in_memory(cov_type):
    """The robust sets' parts are reduced partition by partition like the rest."""
    from skmediate import SensitivityGrid

    X, y, groups = simulate_trial(1200, n_covariates=2, n_clusters=30, seed=4)
    extra = {"sample_weight": np.random.default_rng(5).uniform(0.5, 2.0, len(y))}
    if cov_type == "cluster":
        extra["groups"] = groups
    grid = dict(
        tau_direct={"x1": [-0.5, 0.5]},
        tau_mediator={"x1": [-0.05, 0.0], "x2": [0.0, 0.05]},
        robust_sets=True,
    )
    est = IVMediationRegressor(treatment="r", mediator="m", cov_type=cov_type)
    memory = SensitivityGrid(est, **grid).fit(X, y, **extra)
    Xd, yd, extra_d = _to_dask(X, y, extra, chunks=250)
    lazy = SensitivityGrid(est, **grid).fit(Xd, yd, **extra_d)
    a, b = memory.to_frame(), lazy.to_frame()
    assert list(a.columns) == list(b.columns)
    for column in a.columns:
        if a[column].dtype == object:  # the sets: same pieces, same ends
            for s, t in zip(a[column], b[column], strict=True):
                assert len(s) == len(t)
                if len(s):
                    _close(list(s), list(t), column)
        else:
            _close(a[column], b[column], column)


def test_sensitivity_refit_needs_in_memory_data():
    from skmediate import SensitivityGrid

    X, y, _ = _frame()
    grid = SensitivityGrid(
        IVMediationRegressor(treatment="r", mediator="m"),
        tau_direct={"x1": [0.0, 0.5]},
        method="refit",
    )
    with pytest.raises(ValueError, match="method='refit' needs in-memory data"):
        grid.fit(dd.from_pandas(X, npartitions=2), y)


def test_bootstrap_needs_in_memory_data():
    from skmediate import bootstrap

    X, y, _ = _frame()
    with pytest.raises(ValueError, match="bootstrap needs in-memory data"):
        bootstrap(
            IVMediationRegressor(treatment="r", mediator="m"),
            dd.from_pandas(X, npartitions=2),
            y,
            n_resamples=10,
        )


def test_sensitivity_on_dask_needs_a_linear_estimator():
    from skmediate import SensitivityGrid

    X, y, _ = _frame()
    grid = SensitivityGrid(
        IVMediationRegressor(treatment="r", mediator="m", kappa="liml"),
        tau_direct={"x1": [0.0, 0.5]},
    )
    with pytest.raises(ValueError, match=r"linear in the outcome .*kappa='liml'"):
        grid.fit(dd.from_pandas(X, npartitions=2), y)


def test_dask_predict_checks_the_columns():
    X, y, _ = _frame()
    est = IVMediationRegressor(treatment="r", mediator="m")
    est.fit(dd.from_pandas(X, npartitions=2), y)
    reordered = X[list(reversed(X.columns))]
    with pytest.raises(ValueError, match="Feature names"):
        est.predict(dd.from_pandas(reordered, npartitions=2))


@pytest.mark.parametrize("cov_type", ["HC1", "cluster", "CR2"])
def test_dask_empty_partitions(cov_type):
    # a filtered dask DataFrame has partitions of unknown, possibly zero, length
    X, y, groups = simulate_trial(3000, n_covariates=2, n_clusters=25, seed=7)
    frame = X.assign(y=y, g=groups, keep=np.arange(len(y)) < 1000)
    lazy_frame = dd.from_pandas(frame, npartitions=3)
    kept = lazy_frame[lazy_frame.keep]  # the second and third partitions are empty
    params = dict(
        treatment="r", mediator="m", covariates=["x1", "x2"], cov_type=cov_type
    )
    clustered = cov_type in ("cluster", "CR2")
    extra = {"groups": frame.g[:1000]} if clustered else {}
    memory = IVMediationRegressor(**params).fit(
        frame[:1000][["r", "m", "x1", "x2"]], frame.y[:1000], **extra
    )
    lazy_extra = {"groups": kept.g} if clustered else {}
    lazy = IVMediationRegressor(**params).fit(
        kept[["r", "m", "x1", "x2"]], kept.y, **lazy_extra
    )
    assert_same_fit(memory, lazy)


def test_rows_with_weight_zero_are_left_out():
    X, y, _ = _frame()
    weights = np.r_[0.0, 0.0, np.ones(198)]
    memory = IVMediationRegressor(treatment="r", mediator="m").fit(X[2:], y[2:])
    lazy = IVMediationRegressor(treatment="r", mediator="m").fit(
        dd.from_pandas(X, npartitions=2),
        dd.from_pandas(y, npartitions=2),
        sample_weight=da.from_array(weights, chunks=100),
    )
    assert_same_fit(memory, lazy)


def test_reduce_rows_checks_lengths():
    from skmediate._numerics.rows import reduce_rows

    with pytest.raises(ValueError, match="different lengths"):
        reduce_rows(lambda a, b: a.sum() + b.sum(), [np.ones(10), np.ones(9)])


def test_missing_drop_needs_in_memory_data():
    X, y, _ = simulate_trial(300, seed=2)
    lazy = dd.from_pandas(X, npartitions=3)
    est = IVMediationRegressor(treatment="r", mediator="m", missing="drop")
    with pytest.raises(ValueError, match="missing='drop' needs in-memory data"):
        est.fit(lazy, dd.from_pandas(y, npartitions=3))


# -- any dask DataFrame: multi-file Parquet, repartitioned frames ----------------


def _parquet(tmp_path, frame, n_files):
    """``frame`` written to ``n_files`` Parquet files, read back as one dask frame."""
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), n_files)):
        frame.iloc[rows].to_parquet(tmp_path / f"part-{i}.parquet")
    return dd.read_parquet(tmp_path)


def _trial_table(n=1200):
    X, y, groups = simulate_trial(n, n_covariates=3, n_controls=1, n_clusters=40)
    weights = np.random.default_rng(8).uniform(0.2, 3.0, n)
    labels = np.array([f"site-{g}" for g in groups], dtype=object)
    return X.assign(y=y, w=weights, g=labels)


PARQUET_ROLES = dict(
    treatment="r", mediator="m", covariates=["x1", "x2", "x3"], controls=["z1"]
)


@pytest.mark.parametrize("cov_type", ["HC1", "cluster", "CR2"])
@pytest.mark.parametrize("cls", [IVMediationRegressor, NaiveMediationRegressor])
def test_multi_file_parquet_equals_in_memory(tmp_path, cls, cov_type):
    """The README's example: partitions of unknown length, merged by dask.

    Read with a few of its columns, a dataset of several small files has
    fewer partitions than files, and how many depends on the columns: the
    role columns, the outcome and the labels were once read in different
    partitions ("The number of items in 'lengths' does not match the number
    of partitions. 2 != 4").
    """
    table = _trial_table()
    trial = _parquet(tmp_path, table, 4)
    assert trial.npartitions == 4 and not trial.known_divisions
    assert len(trial["y"].to_dask_array().chunks[0]) < 4  # dask merges the files
    clustered = cov_type != "HC1"
    params = dict(PARQUET_ROLES, cov_type=cov_type)
    memory = cls(**params).fit(
        table,
        table["y"],
        sample_weight=table["w"],
        groups=table["g"] if clustered else None,
    )
    lazy = cls(**params).fit(
        trial,
        trial["y"],
        sample_weight=trial["w"],
        groups=trial["g"] if clustered else None,
    )
    assert_same_fit(memory, lazy)
    assert lazy.result_.nobs == pytest.approx(table["w"].sum(), rel=1e-14)
    predicted = lazy.predict(trial)
    expected = memory.predict(table)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(
        predicted.compute(), expected, rtol=1e-12, atol=1e-12 * scale
    )


@pytest.mark.parametrize(
    "inputs",
    [
        "repartitioned",  # X and its own columns, repartitioned
        "other partitions",  # the outcome from the frame before repartitioning
        "numpy",  # in-memory vectors beside the dask frame
        "dask arrays",  # dask arrays of unknown chunk sizes
        "other reads",  # another read of the files, of the outcome only
    ],
)
def test_parquet_inputs_partitioned_otherwise(tmp_path, inputs):
    """Inputs are aligned by position, whatever their partitions, as in memory."""
    table = _trial_table()
    trial = _parquet(tmp_path, table, 4)
    params = dict(PARQUET_ROLES, cov_type="cluster")
    memory = IVMediationRegressor(**params).fit(
        table, table["y"], sample_weight=table["w"], groups=table["g"]
    )
    X = trial
    if inputs == "repartitioned":
        X = trial.repartition(npartitions=3)
        vectors = X["y"], X["w"], X["g"]
    elif inputs == "other partitions":
        X = trial.repartition(npartitions=3)
        vectors = trial["y"], trial["w"], trial["g"]
    elif inputs == "numpy":
        vectors = table["y"].to_numpy(), table["w"].to_numpy(), table["g"].to_numpy()
    elif inputs == "dask arrays":
        # dask arrays hold no pandas strings: the labels as objects
        labels = trial["g"].astype(object).to_dask_array()
        vectors = trial["y"].to_dask_array(), trial["w"].to_dask_array(), labels
        assert np.isnan(vectors[0].shape[0])
    else:
        again = dd.read_parquet(tmp_path, columns=["y", "w", "g"])
        vectors = again["y"], again["w"], again["g"]
    y, w, g = vectors
    lazy = IVMediationRegressor(**params).fit(X, y, sample_weight=w, groups=g)
    assert_same_fit(memory, lazy)


def test_partitions_of_other_lengths_are_an_error():
    """Series with as many partitions as X but other rows in them are not X's."""
    X, y, _ = _frame()
    frame = dd.from_pandas(X, npartitions=2)  # 100 and 100 rows
    parts = [y.iloc[:120], y.iloc[120:]]
    shifted = dd.from_delayed(
        [__import__("dask").delayed(p) for p in parts], meta=y.iloc[:0]
    )
    with pytest.raises(
        ValueError,
        match=r"y has 120 rows in partition 0 where X has 100; give y the "
        r"partitions of X",
    ):
        IVMediationRegressor(treatment="r", mediator="m").fit(frame, shifted)


def test_dask_vectors_must_be_numeric_and_one_column(tmp_path):
    table = _trial_table(300)
    trial = dd.from_pandas(table, npartitions=2)
    est = NaiveMediationRegressor(**PARQUET_ROLES)
    with pytest.raises(ValueError, match="y must be numeric; got dtype"):
        est.fit(trial, trial["g"])
    with pytest.raises(ValueError, match="y must be 1-dimensional; got a dask"):
        est.fit(trial, trial[["y", "w"]])
    one_column = est.fit(trial, trial[["y"]])
    memory = NaiveMediationRegressor(**PARQUET_ROLES).fit(table, table["y"])
    assert_same_fit(memory, one_column)
