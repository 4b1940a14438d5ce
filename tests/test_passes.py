"""How often a fit reads its data: twice per row, three times for the first rows.

A fit makes two passes over the rows (values and factor; scores); the shift
of the columns is read from the first rows before them. Arrays that count
the reads of each row check this for in-memory data (chunked, and in one
chunk), and dask arrays and DataFrames (with the outcome and the cluster
labels as columns) that count the loads of each partition check it for dask
data, with and without clusters and a sensitivity grid.
"""

import numpy as np
import pytest

import skmediate._numerics.rows as rows
from skmediate import IVMediationRegressor, NaiveMediationRegressor, SensitivityGrid
from skmediate._numerics.design import SHIFT_ROWS, Design
from skmediate._numerics.engine import fit_model

from .conftest import simulate_trial


class Counting:
    """A read-only array that counts how often each of its rows is read."""

    def __init__(self, values):
        self.values = np.asarray(values, dtype=float)
        self.reads = np.zeros(self.values.shape[0], dtype=int)

    shape = property(lambda self: self.values.shape)
    ndim = property(lambda self: self.values.ndim)
    dtype = property(lambda self: self.values.dtype)

    def __len__(self):
        return self.values.shape[0]

    def __getitem__(self, key):
        row_key = key[0] if isinstance(key, tuple) else key
        self.reads[np.arange(len(self))[row_key]] += 1
        return self.values[key]

    def __array__(self, dtype=None, copy=None):
        self.reads += 1
        return self.values if dtype is None else self.values.astype(dtype)


def _arrays(n=3000):
    X, y, groups = simulate_trial(n, n_covariates=3, n_controls=1, n_clusters=30)
    raw = X[["r", "m", "x1", "x2", "x3", "z1"]].to_numpy()
    design = Design("r", ("m",), ("x1", "x2", "x3"), ("z1",), "y", True)
    return design, raw, y.to_numpy(), groups


@pytest.mark.parametrize("chunked", [True, False])
@pytest.mark.parametrize("cov_type", ["classical", "HC1", "cluster"])
@pytest.mark.parametrize("sensitivity", [False, True])
def test_in_memory_rows_are_read_at_most_three_times(
    monkeypatch, chunked, cov_type, sensitivity
):
    design, raw, y, groups = _arrays()
    if chunked:
        monkeypatch.setattr(rows, "CHUNK_BYTES", 8 * 14 * 300)
        assert len(list(rows.row_slices(len(y), 14))) > 5
    else:  # all rows in one chunk: one matrix for both passes
        monkeypatch.setattr(rows, "CHUNK_BYTES", 2**24)
        assert len(list(rows.row_slices(len(y), 30))) == 1
    counted_raw, counted_y = Counting(raw), Counting(y)
    model = fit_model(
        design,
        counted_raw,
        counted_y,
        groups=groups,
        cov_type_name=cov_type,
        sensitivity=sensitivity,
    )
    reference = fit_model(
        design, raw, y, groups=groups, cov_type_name=cov_type, sensitivity=sensitivity
    )
    np.testing.assert_allclose(model.params, reference.params, rtol=1e-12)
    head = slice(0, SHIFT_ROWS)
    for counted in (counted_raw, counted_y):
        assert counted.reads[head].max() <= 3
        assert counted.reads[SHIFT_ROWS:].max() <= (2 if chunked else 1)
        assert counted.reads.min() >= 1


def _counting_dask(values, n_partitions, loads):
    """A dask array whose partitions count their loads in ``loads``."""
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    blocks = np.array_split(values, n_partitions)

    def load(i):
        loads[i] = loads.get(i, 0) + 1
        return blocks[i]

    parts = [
        da.from_delayed(
            dask.delayed(load)(i), shape=block.shape, dtype=float, name=f"part-{i}"
        )
        for i, block in enumerate(blocks)
    ]
    return da.concatenate(parts)


@pytest.mark.parametrize("cov_type", ["HC1", "cluster"])
@pytest.mark.parametrize("cls", [IVMediationRegressor, NaiveMediationRegressor])
def test_dask_partitions_are_read_at_most_three_times(cls, cov_type):
    da = pytest.importorskip("dask.array")
    X, y, groups = simulate_trial(2000, n_covariates=2, n_clusters=25)
    values = np.column_stack([X.to_numpy(), y.to_numpy()])
    loads: dict = {}
    data = _counting_dask(values, 5, loads)
    est = cls(treatment=0, mediator=1, cov_type=cov_type)
    extra = {}
    if cov_type == "cluster":
        extra["groups"] = da.from_array(groups, chunks=(data.chunks[0],))
    est.fit(data[:, :-1], data[:, -1], **extra)
    assert sorted(loads) == list(range(5))
    assert max(loads.values()) <= 3
    assert all(count <= 2 for i, count in loads.items() if i > 0)
    memory = cls(treatment=0, mediator=1, cov_type=cov_type).fit(
        X.to_numpy(), y.to_numpy(), groups=groups if cov_type == "cluster" else None
    )
    np.testing.assert_allclose(
        est.result_.estimates, memory.result_.estimates, rtol=1e-10
    )


def test_dask_sensitivity_grid_reads_each_partition_at_most_three_times():
    X, y, _ = simulate_trial(2000, n_covariates=2)
    values = np.column_stack([X.to_numpy(), y.to_numpy()])
    loads: dict = {}
    data = _counting_dask(values, 4, loads)
    grid = SensitivityGrid(
        IVMediationRegressor(treatment=0, mediator=1),
        tau_direct={"x2": [0, 1]},
        tau_mediator={"x3": [0, 1]},
    ).fit(data[:, :-1], data[:, -1])
    assert len(grid.grid_) == 4
    assert max(loads.values()) <= 3
    assert all(count <= 2 for i, count in loads.items() if i > 0)


@pytest.mark.parametrize("cov_type", ["HC1", "cluster"])
def test_dask_dataframe_partitions_are_read_at_most_three_times(cov_type):
    """A dask DataFrame of partitions of unknown length, y and groups its columns."""
    dd = pytest.importorskip("dask.dataframe")
    X, y, groups = simulate_trial(2000, n_covariates=2, n_clusters=25)
    table = X.assign(y=y, g=groups)
    blocks = [table.iloc[rows] for rows in np.array_split(np.arange(len(y)), 5)]
    loads: dict = {}

    def load(i):
        loads[i] = loads.get(i, 0) + 1
        return blocks[i]

    frame = dd.from_map(load, range(5), meta=table.iloc[:0], divisions=None)
    assert not frame.known_divisions
    est = IVMediationRegressor(
        treatment="r", mediator="m", covariates=["x1", "x2"], cov_type=cov_type
    )
    extra = {"groups": frame["g"]} if cov_type == "cluster" else {}
    est.fit(frame, frame["y"], **extra)
    assert sorted(loads) == list(range(5))
    assert max(loads.values()) <= 3
    assert all(count <= 2 for i, count in loads.items() if i > 0)
    memory = IVMediationRegressor(
        treatment="r", mediator="m", covariates=["x1", "x2"], cov_type=cov_type
    ).fit(table, y, groups=groups if cov_type == "cluster" else None)
    np.testing.assert_allclose(
        est.result_.estimates, memory.result_.estimates, rtol=1e-10
    )
