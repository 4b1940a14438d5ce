"""Fitting 10^7 rows from a chunked dask array, against the same fit in memory.

The data (treatment, mediator, 10 covariates and the outcome; 13 float
columns, about 1 GB at 10^7 rows) are written once to a ``.npy`` file and
read through a memory map, as data too large to hold would be: the dask fit
reads them partition by partition (one task per partition reads its rows),
the in-memory fit loads them into one numpy array first. Both fit
IVMediationRegressor with HC1 standard errors in the same process.

The table gives the wall-clock time of each fit (the in-memory time includes
loading the array), the peak memory each allocates (traced with
``tracemalloc``, which sees numpy's allocations in every thread; the memory
map's pages are the operating system's cache and are not counted), as a
multiple of the data size and in MB, and the largest relative difference
between the two sets of estimates and standard errors.

Usage: python benchmarks/bench_dask.py [--rows 10000000] [--chunk-rows 500000]
       [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import tracemalloc
import warnings

import numpy as np

from skmediate import IVMediationRegressor


def write_data(path: str, n: int, p: int, seed: int = 0, block: int = 10**6) -> None:
    """Simulated trial rows ``[r, m, x_1..x_p, y]`` written block by block."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=float, shape=(n, p + 3))
    rng = np.random.default_rng(seed)
    for start in range(0, n, block):
        k = min(block, n - start)
        x = rng.normal(size=(k, p))
        r = rng.integers(0, 2, k).astype(float)
        u = rng.normal(size=k)
        m = r * (0.5 + x @ np.full(p, 0.3)) + u + rng.normal(size=k)
        y = 1 + x.sum(axis=1) - r + 2 * m + u + rng.normal(size=k) * (1 + r)
        out[start : start + k] = np.column_stack([r, m, x, y])
    out.flush()
    del out


def read_rows(path: str, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of a ``.npy`` file (a view of its memory map)."""
    return np.load(path, mmap_mode="r")[start:stop]


def traced(fn):
    """``(result, seconds, peak bytes allocated during fn())``."""
    tracemalloc.start()
    try:
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=1e7)
    parser.add_argument("--chunk-rows", type=float, default=5e5)
    parser.add_argument("--covariates", type=int, default=10)
    parser.add_argument(
        "--quick", action="store_true", help="10^6 rows in chunks of 10^5"
    )
    args = parser.parse_args()
    try:
        import dask
        import dask.array as da
    except ImportError as exc:
        raise SystemExit(
            "this benchmark needs dask: pip install 'skmediate[dask]'"
        ) from exc
    n = int(1e6 if args.quick else args.rows)
    chunk = int(1e5 if args.quick else args.chunk_rows)
    p = args.covariates
    warnings.simplefilter("ignore")

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "trial.npy")
        write_data(path, n, p)
        data_bytes = os.path.getsize(path)

        def fit_dask():
            # One task per partition reads its rows from the file, as a reader
            # of a chunked format would (da.from_array would copy the map).
            parts = [
                da.from_delayed(
                    dask.delayed(read_rows)(path, start, min(start + chunk, n)),
                    shape=(min(start + chunk, n) - start, p + 3),
                    dtype=float,
                )
                for start in range(0, n, chunk)
            ]
            values = da.concatenate(parts)
            est = IVMediationRegressor(treatment=0, mediator=1, cov_type="HC1")
            with dask.config.set(scheduler="threads"):
                return est.fit(values[:, :-1], values[:, -1])

        def fit_memory():
            values = np.load(path)
            est = IVMediationRegressor(treatment=0, mediator=1, cov_type="HC1")
            return est.fit(values[:, :-1], values[:, -1])

        lazy, t_lazy, peak_lazy = traced(fit_dask)
        memory, t_memory, peak_memory = traced(fit_memory)

    a, b = memory.result_, lazy.result_
    diff = max(
        float(np.max(np.abs(a.params - b.params) / np.abs(a.params))),
        float(np.max(np.abs(a.std_errors - b.std_errors) / a.std_errors)),
    )
    print(
        f"IVMediationRegressor fit, HC1, {n:,} rows x {p} covariates "
        f"({data_bytes / 2**20:,.0f} MB of data); dask partitions of {chunk:,} rows"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}"
    )
    header = f"{'input':<28}{'time (s)':>10}{'peak / data':>13}{'peak (MB)':>11}"
    print(header)
    print("-" * len(header))
    for label, seconds, peak in (
        ("dask array (memory map)", t_lazy, peak_lazy),
        ("numpy array (loaded)", t_memory, peak_memory),
    ):
        print(
            f"{label:<28}{seconds:>10.2f}{peak / data_bytes:>13.2f}"
            f"{peak / 2**20:>11,.0f}"
        )
    print(
        f"dask / in-memory: time {t_lazy / t_memory:.2f}x, peak memory "
        f"{peak_lazy / peak_memory:.3f}x; largest relative difference of "
        f"estimates and standard errors {diff:.1e}"
    )


if __name__ == "__main__":
    main()
