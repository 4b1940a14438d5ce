"""The row-reduction engine: every pass over the data goes through :func:`reduce_rows`.

A pass applies a function to aligned row chunks of a few arrays and combines
the results. For numpy arrays the chunks are consecutive, cache-sized row
slices, folded in order (many of them in a few fixed runs, on as many
threads as BLAS may use, BLAS itself on one); for dask arrays they are the
partitions, each reduced where it lives (and there in cache-sized slices),
and the partition results are combined in a tree, so that only small
results travel.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["group_sums", "is_dask", "one_blas_thread", "reduce_rows", "row_slices"]

# Rows per chunk are chosen so that a chunk of the input takes about this many
# bytes: a pass's temporaries are several times wider than its input, and they
# then stay in a typical L2 cache (measured: a fit of 10^6 rows with 10
# covariates takes 0.53 s with chunks of 256 KiB and 0.63 s with 4 MiB).
CHUNK_BYTES = 2**18
# Partition results combined at a time in the tree reduction of dask data.
SPLIT_EVERY = 8
# Passes of at least this many chunks fold them in BLOCKS runs of consecutive
# chunks, on as many threads as BLAS may use (at most BLOCKS), and then fold
# the runs' results in order. The runs do not depend on the threads, so
# neither does the result.
PARALLEL_CHUNKS = 64
BLOCKS = 4


def is_dask(a) -> bool:
    """Whether ``a`` is a dask collection (checked without importing dask)."""
    return hasattr(type(a), "__dask_graph__")


@functools.cache
def _blas_libraries() -> tuple:
    # finding the loaded BLAS libraries takes milliseconds: once per process
    # (numpy's and scipy's are loaded by then, with the package)
    from threadpoolctl import ThreadpoolController

    return tuple(ThreadpoolController().select(user_api="blas").lib_controllers)


def blas_threads() -> int:
    """The threads BLAS may use now (1 when no library is known)."""
    return max((lib.get_num_threads() for lib in _blas_libraries()), default=1)


@contextlib.contextmanager
def one_blas_thread():
    """A context in which BLAS runs on one thread (for many small products).

    The libraries' thread counts are set and restored directly, which costs a
    few microseconds (a threadpoolctl limit reads every library's
    information and costs tens).
    """
    libraries = _blas_libraries()
    before = [lib.get_num_threads() for lib in libraries]
    changed = [(lib, n) for lib, n in zip(libraries, before, strict=True) if n != 1]
    for lib, _ in changed:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, n in changed:
            lib.set_num_threads(n)


def row_slices(n: int, width: int, chunk_bytes: int | None = None):
    """Consecutive row slices of about ``chunk_bytes`` for ``width`` float columns."""
    chunk_bytes = CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    step = max(256, chunk_bytes // (8 * max(width, 1)))
    if n == 0:
        yield slice(0, 0)
    for start in range(0, n, step):
        yield slice(start, min(start + step, n))


def _width(a) -> int:
    return 1 if a.ndim == 1 else int(np.prod(a.shape[1:]))


def _add(total, part):
    """``total + part`` in place, element by element for lists and tuples."""
    if total is None:
        return None
    if isinstance(total, list):
        for i, p in enumerate(part):
            total[i] = _add(total[i], p)
        return total
    total += part
    return total


def _copy(part):
    """A copy of a chunk result (an array or a list of them) to accumulate into."""
    if isinstance(part, (list, tuple)):
        return [_copy(p) for p in part]
    if part is None:
        return None
    return np.array(part)


def _fold(parts: list, combine):
    total = _copy(parts[0])
    if combine is not None:
        return combine([total, *parts[1:]])
    for part in parts[1:]:
        total = _add(total, part)
    return total


def _reduce_numpy(func, arrays, combine, chunk_bytes=None, parallel=True):
    n = arrays[0].shape[0]
    lengths = {a.shape[0] for a in arrays}
    if len(lengths) > 1:
        raise ValueError(f"arrays of different lengths {sorted(lengths)} in one pass")
    width = sum(_width(a) for a in arrays)
    slices = list(row_slices(n, width, chunk_bytes))
    # Cache-sized chunks gain nothing from a second BLAS thread, and on a busy
    # machine threads waiting for each other on every product cost time (at
    # n = 10^6: 0.57 s on one thread, 1.3 to 2.2 s on two; at n = 300, with
    # the other core busy, 24 ms a fit against 5 ms). The cores BLAS would
    # have used take runs of chunks instead.
    threads = 1
    if parallel and len(slices) >= PARALLEL_CHUNKS:  # read before the limit below
        threads = min(blas_threads(), BLOCKS)
    with one_blas_thread():
        if len(slices) < PARALLEL_CHUNKS:
            return _fold_chunks(func, arrays, slices, combine)
        bounds = [len(slices) * k // BLOCKS for k in range(BLOCKS + 1)]
        runs = [slices[a:b] for a, b in itertools.pairwise(bounds)]
        if threads > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(threads) as pool:
                parts = list(
                    pool.map(lambda run: _fold_chunks(func, arrays, run, combine), runs)
                )
        else:
            parts = [_fold_chunks(func, arrays, run, combine) for run in runs]
    return _fold_in_order(parts, combine)


def _fold_chunks(func, arrays, slices, combine):
    """``func`` of each row slice, folded in order."""
    return _fold_in_order(
        (func(*(a[rows] for a in arrays)) for rows in slices), combine
    )


def _fold_in_order(parts, combine):
    total = None
    for part in parts:
        if total is None:
            total = part
        elif combine is None:
            total = _add(total, part)
        else:
            total = combine([total, part])
    return total


def reduce_rows(
    func: Callable,
    arrays: Sequence,
    *,
    combine: Callable | None = None,
    chunk_bytes: int | None = None,
):
    """Apply ``func`` to aligned row chunks of ``arrays`` and combine the results.

    Parameters
    ----------
    func : callable
        ``func(*chunks)`` with one chunk (rows of a numpy array) per element of
        ``arrays``. It returns new arrays (never views of its chunks, which
        the reduction accumulates into) or a list of them. It must not hold
        large data in its closure: for dask data it is sent to every task.
    arrays : sequence of arrays
        numpy or dask arrays (1-d or 2-d) with the same number of rows; dask
        arrays must have the same row partitions (numpy arrays next to dask
        ones are split alike). Dask partitions of unknown length are fine.
    combine : callable, optional
        Reduces a list of partial results to one; by default they are added
        (element by element for lists). It must compose, as a stacked QR and a
        sum do. Its first argument is an accumulator owned by the reduction,
        which it may modify in place.
    chunk_bytes : int, optional
        Size of a numpy chunk (default :data:`CHUNK_BYTES`).
    """
    arrays = list(arrays)
    if any(is_dask(a) for a in arrays):
        return _reduce_dask(func, arrays, combine)
    return _reduce_numpy(func, arrays, combine, chunk_bytes)


def _reduce_dask(func, arrays, combine):
    import dask
    import dask.array as da

    reference = next(a for a in arrays if is_dask(a))
    row_chunks = reference.chunks[0]
    partitions = []
    for a in arrays:
        if not is_dask(a):
            if any(np.isnan(c) for c in row_chunks):
                raise ValueError(
                    "an in-memory array cannot be aligned with dask partitions of "
                    "unknown length"
                )
            a = da.from_array(np.asarray(a), chunks=(row_chunks,) + a.shape[1:])
        if len(a.chunks[0]) != len(row_chunks):
            raise ValueError(
                f"dask arrays with {len(a.chunks[0])} and {len(row_chunks)} row "
                "partitions in one pass; give every input the partitions of X"
            )
        if a.ndim == 2 and len(a.chunks[1]) > 1:
            a = a.rechunk({1: -1})
        blocks = a.to_delayed(optimize_graph=False).reshape(-1)
        partitions.append(list(blocks))

    def on_partition(*parts):
        parts = [np.asarray(p) for p in parts]
        return _reduce_numpy(func, parts, combine, parallel=False)

    level = [
        dask.delayed(on_partition)(*parts) for parts in zip(*partitions, strict=True)
    ]
    while len(level) > 1:
        level = [
            dask.delayed(_fold)(level[i : i + SPLIT_EVERY], combine)
            for i in range(0, len(level), SPLIT_EVERY)
        ]
    return level[0].compute()


def group_sums(values: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """``out[g] = Σ_{i: codes_i = g} values[i]`` for ``values`` of shape (n, k).

    One ``bincount`` over the (group, column) cells; codes are ``0..G-1``.
    """
    k = values.shape[1]
    cells = np.asarray(codes, dtype=np.intp)[:, None] * k + np.arange(k)
    order = "F" if values.flags.f_contiguous and not values.flags.c_contiguous else "C"
    sums = np.bincount(
        cells.ravel(order=order),
        weights=values.ravel(order=order),
        minlength=n_groups * k,
    )
    return sums.reshape(n_groups, k)


def group_grams(
    z: np.ndarray, w: np.ndarray | None, codes: np.ndarray, n_groups: int
) -> np.ndarray:
    """``out[g] = Σ_{i: codes_i = g} w_i z_i z_iᵀ`` for ``z`` of shape (n, c): (G, c, c).

    The rows are ordered by group and each group's rows multiplied as one
    matrix product (much faster than summing the outer products cell by cell).
    """
    out = np.zeros((n_groups, z.shape[1], z.shape[1]))
    if not len(z):
        return out
    order = np.argsort(codes, kind="stable")
    ordered = np.asarray(codes)[order]
    zs = z[order]
    wz = zs if w is None else zs * w[order][:, None]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = [*starts[1:], len(ordered)]
    for start, end in zip(starts, ends, strict=True):
        out[ordered[start]] = wz[start:end].T @ zs[start:end]
    return out
