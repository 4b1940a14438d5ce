"""Least squares and two-stage least squares by column-scaled QR.

Pure functions on numpy (or dask) arrays. Every fit goes through one
tall-skinny Householder QR of the column-scaled, row-weighted data matrix
``[exog, excluded, endog, y]``; the first stage, the second stage, the rank
checks and the residual sums of squares are all read off its triangular
factor, so no normal equations are ever formed or inverted.

Every pass over the rows is a :func:`reduce_rows`: a function applied to
aligned row chunks (cache-sized slices of numpy arrays, or the partitions of
dask arrays, reduced where they live) whose results are combined. Work that
needs such passes (covariances, diagnostics) is written as steps that yield
:class:`Pass` requests; :func:`run_steps` runs several steps together so that
their passes at the same stage share one pass over the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .exceptions import RankDeficiencyError

__all__ = [
    "ColumnBlocks",
    "Interaction",
    "LinearFit",
    "TSLSFit",
    "fit_ols",
    "fit_tsls",
    "cluster_codes",
    "group_count",
    "is_dask",
    "rank_tolerance",
    "reduce_rows",
    "remember_group_count",
    "residual_coordinates",
    "solve_triangular",
    "weighted_mean",
]

# Rows per chunk of the tall-skinny QR are chosen so a chunk takes about this
# many bytes (it then stays in a typical L2/L3 cache).
_CHUNK_BYTES = 4 * 2**20
# Partition results combined at a time in the tree reduction of dask data.
_SPLIT_EVERY = 8


def solve_triangular(r: np.ndarray, b: np.ndarray, trans: bool = False) -> np.ndarray:
    """Solve ``R x = b`` (``Rᵀ x = b`` with ``trans``) for an upper-triangular ``R``.

    numpy's LAPACK is used rather than scipy's so that a fit runs on one BLAS
    thread pool: when the two libraries ship separate OpenBLAS builds, their
    thread pools alternating on small problems stall each call by milliseconds.
    On a triangular matrix the elimination reduces to the substitution.
    """
    return np.linalg.solve(r.T if trans else r, b)


def rank_tolerance(n_rows: int, n_cols: int) -> float:
    """Relative size below which a diagonal entry of R signals rank deficiency.

    The columns are scaled to unit norm before the QR, so the diagonal of R is
    at most 1; the tolerance follows LAPACK's and numpy's ``matrix_rank``
    convention of ``max(n, k) * eps``.
    """
    return max(n_rows, n_cols) * np.finfo(float).eps


def is_dask(a) -> bool:
    """Whether ``a`` is a dask collection (checked without importing dask)."""
    return hasattr(type(a), "__dask_graph__")


def row_slices(n: int, width: int):
    """Consecutive row slices for ``width`` float columns.

    A slice takes at most about ``_CHUNK_BYTES`` (so that products over it run
    in cache) and, for small data, about an eighth of the rows (so that the
    chunk copies stay small next to the data).
    """
    step = max(256, min(_CHUNK_BYTES // (8 * max(width, 1)), -(-n // 8)))
    if n == 0:
        yield slice(0, 0)
    for start in range(0, n, step):
        yield slice(start, min(start + step, n))


def reduce_rows(func, arrays, *, combine=None):
    """Apply ``func`` to aligned row chunks of ``arrays`` and combine the results.

    This is the one pass over the data that every cross-product, factor and
    score sum of a fit goes through. For numpy arrays (and lazy blocks such as
    :class:`Interaction`) the chunks are consecutive row slices of about
    ``_CHUNK_BYTES``; for dask arrays they are the partitions, each reduced
    where it lives, so that only the small partial results travel.

    Parameters
    ----------
    func : callable
        ``func(*chunks)`` with one chunk per element of ``arrays``, rows
        aligned: a numpy array for an array, a :class:`ColumnBlocks` of numpy
        chunks for a :class:`ColumnBlocks`.
    arrays : sequence
        Arrays (1-d or 2-d, numpy or dask) and :class:`ColumnBlocks` with the
        same number of rows.
    combine : callable, optional
        Reduces a list of partial results to one; by default they are added
        (element by element for lists). It must compose, as a stacked QR and a
        sum do: the numpy path folds the chunks' results two at a time, and
        for dask data each partition's chunks are reduced, then the
        partitions' results in a tree. Its first argument is an accumulator
        owned by the reduction, which it may modify in place.
    """
    leaves, rebuild = _flatten(arrays)

    def on_chunk(*chunks):
        return func(*rebuild(chunks))

    if any(is_dask(a) for a in leaves):
        return _reduce_dask(on_chunk, leaves, combine)
    with _one_blas_thread():
        return _reduce_numpy(on_chunk, leaves, combine)


_CONTROLLER = None


def _one_blas_thread():
    """BLAS on one thread for the chunk loops.

    The chunks are cache-sized: a second BLAS thread gains nothing on them,
    and on a machine whose other cores are busy, threads waiting for each
    other on every small product double the time of a fit (measured: 0.69 s
    with one thread, 1.4 s with two, at n = 10^6 on 2 cores with one busy).
    """
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


def _reduce_numpy(on_chunk, leaves, combine):
    """The numpy path of :func:`reduce_rows`, on flattened leaves."""
    n = leaves[0].shape[0]
    lengths = {a.shape[0] for a in leaves}
    if len(lengths) > 1:
        raise ValueError(f"arrays of different lengths {sorted(lengths)} in one pass")
    width = sum(1 if a.ndim == 1 else a.shape[1] for a in leaves)
    total = None
    for rows in row_slices(n, width):
        part = on_chunk(*(a[rows] for a in leaves))
        if total is None:
            total = _copy(part)
        else:  # folded as they come, so no chunk result is kept
            total = _add(total, part) if combine is None else combine([total, part])
    return total


def _copy(part):
    """A copy of a chunk result (an array or a list of them) to accumulate into."""
    if isinstance(part, (list, tuple)):
        return [_copy(p) for p in part]
    return np.array(part, dtype=float)


def _add(total, part):
    """``total + part`` in place, element by element for lists."""
    if isinstance(total, list):
        for i, p in enumerate(part):
            total[i] = _add(total[i], p)
        return total
    total += part
    return total


def _flatten(arrays):
    """Distinct leaf arrays of ``arrays`` (blocks of ColumnBlocks spliced in).

    An array passed several times (the same object, as when passes that share
    blocks run together) is one leaf, sliced once per chunk. Returns the
    leaves and the function rebuilding the arguments from their chunks.
    """
    leaves, position, layout = [], {}, []
    for a in arrays:
        parts = list(a.leaves()) if isinstance(a, ColumnBlocks) else [a]
        indices = []
        for part in parts:
            if id(part) not in position:
                position[id(part)] = len(leaves)
                leaves.append(part)
            indices.append(position[id(part)])
        layout.append((isinstance(a, ColumnBlocks), indices))

    def rebuild(chunks):
        # Arguments made of the same leaves share one chunk object, so that
        # the passes run together form its concatenation once (toarray).
        shared = {}
        out = []
        for blocks, indices in layout:
            if not blocks:
                out.append(chunks[indices[0]])
                continue
            key = tuple(indices)
            if key not in shared:
                shared[key] = ColumnBlocks(*(chunks[i] for i in indices))
                shared[key].chunk = True
            out.append(shared[key])
        return out

    return leaves, rebuild


def _reduce_dask(func, arrays, combine):
    import dask
    import dask.array as da

    reference = next(a for a in arrays if is_dask(a))
    row_chunks = reference.chunks[0]
    keep = [i for i, size in enumerate(row_chunks) if size > 0] or [0]
    partitions = []
    for a in arrays:
        if not is_dask(a):
            a = da.from_array(np.asarray(a), chunks=(row_chunks,) + a.shape[1:])
        if a.chunks[0] != row_chunks:
            a = a.rechunk({0: row_chunks})
        if a.ndim == 2 and len(a.chunks[1]) > 1:
            a = a.rechunk({1: -1})
        blocks = a.to_delayed(optimize_graph=False).reshape(-1)
        partitions.append([blocks[i] for i in keep])  # empty partitions left out

    # Within a partition, the numpy path runs over cache-sized row chunks, so a
    # task holds its partition's inputs and little else.
    def on_partition(*parts):
        # Also on one BLAS thread: the scheduler's threads are the parallelism
        # (a limit is process-wide; threads that overlap only restore it early).
        with _one_blas_thread():
            return _reduce_numpy(func, list(parts), combine)

    def fold(parts):
        total = _copy(parts[0])
        if combine is not None:
            return combine([total, *parts[1:]])
        for part in parts[1:]:
            total = _add(total, part)
        return total

    # A tree of combines, _SPLIT_EVERY results at a time, so that neither a
    # worker nor the caller holds more than a few partitions' results.
    level = [
        dask.delayed(on_partition)(*parts) for parts in zip(*partitions, strict=True)
    ]
    while len(level) > 1:
        level = [
            dask.delayed(fold)(level[i : i + _SPLIT_EVERY])
            for i in range(0, len(level), _SPLIT_EVERY)
        ]
    return level[0].compute()


@dataclass(frozen=True, eq=False)
class Pass:
    """One reduction over the rows (the arguments of :func:`reduce_rows`).

    The covariances and diagnostics are written as *steps*: generators that
    yield the passes they need (a ``Pass`` or a list of them) and receive
    their results. :func:`run_steps` runs several steps together, so the
    passes they request at the same stage share one pass over the rows.
    """

    func: object
    arrays: tuple
    combine: object = None


def _execute(passes: list[Pass]) -> list:
    """Run several passes as one pass over the rows; their results in order."""
    if len(passes) == 1:
        p = passes[0]
        return [reduce_rows(p.func, p.arrays, combine=p.combine)]
    edges = np.cumsum([0] + [len(p.arrays) for p in passes])
    funcs = [p.func for p in passes]
    combines = [p.combine for p in passes]

    def on_chunk(*chunks):
        return [
            func(*chunks[lo:hi])
            for func, lo, hi in zip(funcs, edges[:-1], edges[1:], strict=True)
        ]

    def combine(results):
        total = results[0]
        for i, own in enumerate(combines):
            if own is None:
                for part in results[1:]:
                    total[i] = _add(total[i], part[i])
            else:
                total[i] = own([total[i], *(part[i] for part in results[1:])])
        return total

    arrays = [a for p in passes for a in p.arrays]
    return reduce_rows(on_chunk, arrays, combine=combine)


def gather(*steps):
    """A step that runs ``steps`` side by side; returns the list of their results.

    At each stage the passes that all unfinished steps request are yielded as
    one list (one pass over the rows), and each step gets its own results.
    """
    results = [None] * len(steps)
    replies = dict.fromkeys(range(len(steps)))
    while replies:
        requests = {}
        for i, reply in replies.items():
            try:
                requests[i] = steps[i].send(reply)
            except StopIteration as stop:
                results[i] = stop.value
        if not requests:
            break
        flat, spans = [], {}
        for i, request in requests.items():
            batch = request if isinstance(request, list) else [request]
            spans[i] = (len(flat), len(flat) + len(batch), isinstance(request, list))
            flat.extend(batch)
        outputs = yield flat
        replies = {
            i: outputs[lo:hi] if many else outputs[lo]
            for i, (lo, hi, many) in spans.items()
        }
    return results


def run_steps(*steps) -> list:
    """Run steps together (see :class:`Pass`) and return their results."""
    driver = gather(*steps)
    try:
        request = next(driver)
        while True:
            request = driver.send(_execute(request))
    except StopIteration as stop:
        return stop.value


def run_step(step):
    """Run one step and return its result."""
    return run_steps(step)[0]


class Interaction:
    """The block ``treatment · (covariates - center)``, formed a chunk at a time.

    The excluded instruments of the mediation model are the treatment times
    the centered covariates. Holding the two factors instead of their product
    saves an ``n × p`` array; every product with the block forms its rows
    chunk by chunk, centering explicitly (no cancellation between
    ``treatment · covariates`` and ``treatment · center``).
    """

    ndim = 2
    dtype = np.dtype(float)

    def __init__(
        self, treatment: np.ndarray, covariates: np.ndarray, center, chunk=False
    ):
        self.treatment = treatment
        self.covariates = covariates
        self.center = np.asarray(center, dtype=float)
        # A chunk (rows taken from a whole block) is formed once, on first
        # use, and kept while it lives: the passes run together all read it.
        self.chunk = chunk
        self._formed = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.covariates.shape

    def reshape(self, *shape):
        return self

    def __getitem__(self, key):
        rows, cols = key if isinstance(key, tuple) else (key, slice(None))
        if isinstance(rows, (int, np.integer)):  # one row, as a vector
            return np.asarray(self[rows : rows + 1 or None, cols])[0]
        if isinstance(cols, (int, np.integer)):
            return self.treatment[rows] * (
                self.covariates[rows, cols] - self.center[cols]
            )
        return Interaction(
            self.treatment[rows],
            self.covariates[rows][:, cols],
            self.center[cols],
            chunk=self.chunk or not (isinstance(rows, slice) and rows == slice(None)),
        )

    def __array__(self, dtype=None, copy=None):
        if self._formed is not None:
            out = self._formed
        else:
            out = self.treatment[:, None] * (self.covariates - self.center)
            if self.chunk:
                out.flags.writeable = False
                self._formed = out
        return out if dtype is None else out.astype(dtype, copy=False)

    def __matmul__(self, coef):
        coef = np.asarray(coef, dtype=float)
        if self.chunk:
            return np.asarray(self) @ coef
        out = np.empty((self.shape[0],) + coef.shape[1:])
        for rows in row_slices(self.shape[0], self.shape[1]):
            out[rows] = np.asarray(self[rows]) @ coef
        return out

    def tdot(self, v):
        return reduce_rows(lambda chunk, vc: np.asarray(chunk).T @ vc, [self, v])


def _tdot(block, v):
    return block.tdot(v) if hasattr(block, "tdot") else block.T @ v


class ColumnBlocks:
    """Column blocks of one matrix ``[B_1, B_2, ...]``, used without concatenating them.

    The design and instrument matrices are made of blocks the caller already
    holds (exogenous regressors, instruments, the mediator); keeping them apart
    avoids copying ``n × k`` data for every product. A block is a numpy array,
    a dask array (then every product is computed partition by partition), an
    :class:`Interaction` or another ``ColumnBlocks``.
    """

    ndim = 2
    dtype = np.dtype(float)

    def __init__(self, *blocks):
        self.blocks = tuple(b.reshape(b.shape[0], -1) for b in blocks)
        widths = [b.shape[1] for b in self.blocks]
        self._edges = np.concatenate([[0], np.cumsum(widths)]).astype(int)
        self.is_dask = any(_has_dask(b) for b in self.blocks)

    @property
    def shape(self) -> tuple[int, int]:
        return self.blocks[0].shape[0], int(self._edges[-1])

    def reshape(self, *shape):
        return self

    def _parts(self):
        for block, lo, hi in zip(
            self.blocks, self._edges[:-1], self._edges[1:], strict=True
        ):
            if hi > lo:
                yield block, slice(lo, hi)

    def dot(self, coef: np.ndarray):
        """``X @ coef`` for ``coef`` of shape (k,) or (k, m)."""
        out = None
        for block, cols in self._parts():
            part = block @ coef[cols]
            if out is None:
                out = part
            elif self.is_dask:
                out = out + part
            else:
                out += part  # a product is a new array: added in place
        if out is None:  # no columns
            out = np.zeros((self.shape[0],) + np.shape(coef)[1:])
        return out

    __matmul__ = dot

    def tdot(self, v) -> np.ndarray:
        """``Xᵀ v`` for ``v`` of shape (n,) or (n, m)."""
        if self.is_dask or _has_dask(v):
            return self.reduce(lambda chunk, vc: chunk.T @ vc, v)
        return np.concatenate([_tdot(block, v) for block, _ in self._parts()])

    def leaves(self):
        """The non-empty blocks, nested blocks spliced in, in column order."""
        for block, _ in self._parts():
            if isinstance(block, ColumnBlocks):
                yield from block.leaves()
            else:
                yield block

    def reduce_pass(self, func, *extra, combine=None) -> Pass:
        """The pass of ``func(rows of X as one array, *rows of extra)``."""
        return Pass(
            lambda chunk, *rest: func(chunk.toarray(), *rest),
            (self, *extra),
            combine,
        )

    def reduce(self, func, *extra, combine=None):
        """``func(rows of X as one array, *rows of extra)`` over row chunks.

        See :func:`reduce_rows`.
        """
        return _execute([self.reduce_pass(func, *extra, combine=combine)])[0]

    chunk = False  # a chunk of a pass keeps its concatenation once formed
    _formed = None

    def toarray(self) -> np.ndarray:
        """The blocks concatenated (read-only and kept, for a chunk of a pass)."""
        if self._formed is not None:
            return self._formed
        parts = [np.asarray(b) for b in self.leaves()]
        out = np.hstack(parts) if parts else np.empty((self.shape[0], 0))
        if self.chunk:
            out.flags.writeable = False
            self._formed = out
        return out

    def __array__(self, dtype=None, copy=None):
        out = self.toarray()
        return out if dtype is None else out.astype(dtype, copy=False)

    def __getitem__(self, key):
        rows, cols = key if isinstance(key, tuple) else (key, slice(None))
        if isinstance(cols, slice) and cols == slice(None):
            return self.rows(rows)
        return np.asarray(self.rows(rows))[:, cols]

    def rows(self, index) -> ColumnBlocks:
        """The rows ``index`` of every block (views for a slice)."""
        return ColumnBlocks(*(block[index] for block in self.blocks))

    def leading(self, n_columns: int) -> ColumnBlocks:
        """The first ``n_columns`` columns, as views of the blocks."""
        parts = []
        for block, lo, hi in zip(
            self.blocks, self._edges[:-1], self._edges[1:], strict=True
        ):
            if lo >= n_columns:
                break
            take = min(hi, n_columns) - lo
            if take == hi - lo:
                parts.append(block)
            elif isinstance(block, ColumnBlocks):
                parts.append(block.leading(take))
            else:
                parts.append(block[:, :take])
        return ColumnBlocks(*parts) if parts else ColumnBlocks(self.blocks[0][:, :0])

    def column(self, index: int):
        """Column ``index`` as a vector (a view); negative indices count from the end."""
        index = index % int(self._edges[-1])
        block = int(np.searchsorted(self._edges, index, side="right")) - 1
        inner = self.blocks[block]
        j = index - self._edges[block]
        return inner.column(j) if isinstance(inner, ColumnBlocks) else inner[:, j]


def _has_dask(a) -> bool:
    if isinstance(a, ColumnBlocks):
        return a.is_dask
    if isinstance(a, Interaction):
        return False
    return is_dask(a)


def _group_sums(values: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """``Σ_{i∈g} values_i`` for each group: shape (n_groups, k)."""
    k = values.shape[1]
    cells = (np.asarray(codes, dtype=np.intp)[:, None] * k + np.arange(k)).ravel()
    sums = np.bincount(cells, weights=values.ravel(), minlength=n_groups * k)
    return sums.reshape(n_groups, k)


_GROUP_COUNTS: dict[str, int] = {}  # by dask name: a pass saved per consumer


def remember_group_count(codes, n_groups: int) -> None:
    """Record the number of groups of dask cluster codes that is already known."""
    if len(_GROUP_COUNTS) >= 64:
        _GROUP_COUNTS.pop(next(iter(_GROUP_COUNTS)))
    _GROUP_COUNTS[codes.name] = int(n_groups)


def group_count(codes) -> int:
    """Number of groups ``G`` of cluster codes ``0..G-1`` (computed once for dask)."""
    if not is_dask(codes):
        return int(np.max(codes)) + 1
    if codes.name not in _GROUP_COUNTS:
        remember_group_count(codes, int(codes.max().compute()) + 1)
    return _GROUP_COUNTS[codes.name]


def cluster_codes(groups) -> tuple:
    """Cluster codes (numpy, or dask as they are) and their number of groups."""
    codes = groups if is_dask(groups) else np.asarray(groups)
    return codes, group_count(codes)


def weighted_mean(a, weights=None) -> np.ndarray:
    """Column means of ``a`` with frequency weights, as a numpy array."""
    if not (is_dask(a) or is_dask(weights)):
        return np.average(a, axis=0, weights=weights)
    if weights is None:
        total = reduce_rows(lambda c: c.sum(axis=0), [a])
        return total / a.shape[0]
    # the weighted sums and the total weight in one pass
    total = reduce_rows(lambda c, w: np.append(w @ c, w.sum()), [a, weights])
    return total[:-1] / total[-1]


@dataclass(frozen=True, eq=False)
class LinearFit:
    """A fitted linear estimating equation ``regressorsᵀ W (y - design θ) = 0``.

    For least squares ``regressors`` and ``design`` are the same matrix; for
    two-stage least squares ``regressors`` is the projected design ``D̂`` and
    ``design`` the actual one, so that the residuals use the observed
    endogenous variables.

    A k-class fit (``kappa != 1``) solves ``D_κᵀ W (y - D θ) = 0`` with
    ``D_κ = (1 - κ) D + κ D̂``. Its ``regressors`` are still ``D̂`` and its
    ``r_factor`` is the factor of ``D_κᵀ W D = Dᵀ W (I - κ M_Q) D``, so that
    the covariance estimators use the bread ``(Dᵀ W (I - κ M_Q) D)⁻¹`` with the
    two-stage least squares scores ``d̂ᵢ ε̂ᵢ`` (the convention of linearmodels;
    the two scores differ by ``(1 - κ)(dᵢ - d̂ᵢ) ε̂ᵢ``, which vanishes
    asymptotically for LIML and Fuller, where ``κ̂ - 1 = O_p(1/n)``).

    Attributes
    ----------
    params : ndarray of shape (k,)
    resid : ndarray of shape (n,)
        ``y - design @ params``.
    regressors : ColumnBlocks of shape (n, k)
    design : ColumnBlocks of shape (n, k)
    weights : ndarray of shape (n,) or None
        Frequency weights.
    r_factor : ndarray of shape (k, k)
        Upper-triangular factor with ``sqrt(w) * regressors / scale = U r_factor``
        for an orthonormal ``U``: the bread is
        ``(regressorsᵀ W regressors)⁻¹ = diag(1/scale) R⁻¹ R⁻ᵀ diag(1/scale)``
        (for a k-class fit, ``r_factorᵀ r_factor`` is the scaled
        ``Dᵀ W (I - κ M_Q) D`` instead).
    scale : ndarray of shape (k,)
        Column scales of ``regressors``.
    kappa : float, default=1.0
        ``κ`` of a k-class fit: 1 for least squares and two-stage least squares.
    total_weight : float, optional
        The sum of ``weights``, when already known (for dask data every sum
        is a pass over the rows).
    sum_of_squares : float, optional
        The weighted residual sum of squares, when already known (read off
        the triangular factor by :func:`fit_tsls`).

    The arrays with one entry per row (``resid``, ``weights`` and the blocks
    of ``regressors`` and ``design``) are numpy arrays, or lazy dask arrays
    for a fit of dask data.
    """

    params: np.ndarray
    resid: np.ndarray
    regressors: ColumnBlocks
    design: ColumnBlocks
    weights: np.ndarray | None
    r_factor: np.ndarray
    scale: np.ndarray
    kappa: float = 1.0
    total_weight: float | None = None
    sum_of_squares: float | None = None

    @property
    def nobs(self) -> float:
        """Number of observations: the sum of the frequency weights."""
        if self.weights is None:
            return float(self.resid.shape[0])
        if self.total_weight is not None:
            return self.total_weight
        return float(self.weights.sum())

    @property
    def n_params(self) -> int:
        return self.params.shape[0]

    @property
    def df_resid(self) -> float:
        return self.nobs - self.n_params

    @property
    def rss(self) -> float:
        """Weighted residual sum of squares."""
        if self.sum_of_squares is not None:
            return self.sum_of_squares
        if self.weights is None:
            return float(self.resid @ self.resid)
        return float((self.weights * self.resid) @ self.resid)

    def bread(self) -> np.ndarray:
        """``(regressorsᵀ W regressors)⁻¹``, from the triangular factor.

        For a k-class fit, ``(Dᵀ W (I - κ M_Q) D)⁻¹``.
        """
        r_inv = solve_triangular(self.r_factor, np.eye(self.n_params))
        inner = r_inv @ r_inv.T
        return inner / np.outer(self.scale, self.scale)

    def apply_bread(self, c: np.ndarray) -> np.ndarray:
        """``bread() @ c`` by two triangular solves, for ``c`` of shape (k,) or (k, m)."""
        c = np.asarray(c, dtype=float)
        scale = self.scale if c.ndim == 1 else self.scale[:, None]
        half = solve_triangular(self.r_factor, c / scale, trans=True)
        return solve_triangular(self.r_factor, half) / scale

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """Apply the linear-in-y operator ``H = (D̂ᵀWD̂)⁻¹D̂ᵀW`` to new outcomes.

        Returns the coefficients that the same fit would give with ``rhs`` in
        place of ``y``, without refitting and without forming ``H``: corrected
        semi-normal equations (two triangular solves with the stored factor,
        then one step of iterative refinement). For a k-class fit the operator
        is ``(D_κᵀWD)⁻¹D_κᵀW`` at the fitted ``κ``; when ``κ`` was estimated
        from ``y`` (LIML, Fuller) refitting on ``rhs`` would also change ``κ``,
        so this is not the refit (see :attr:`TSLSFit.linear_in_y`).

        Parameters
        ----------
        rhs : ndarray or dask array of shape (n,) or (n, m)

        Returns
        -------
        ndarray of shape (k,) or (k, m)
        """
        if not is_dask(rhs):
            rhs = np.asarray(rhs, dtype=float)
        vector = rhs.ndim == 1
        rhs = rhs.reshape(rhs.shape[0], -1)
        weighted = rhs if self.weights is None else rhs * self.weights[:, None]

        def normal_solve(right):
            half = solve_triangular(
                self.r_factor, right / self.scale[:, None], trans=True
            )
            return solve_triangular(self.r_factor, half) / self.scale[:, None]

        coef = normal_solve(self._score(weighted))
        fitted = self.regressors if self.kappa == 1.0 else self.design
        remainder = rhs - fitted.dot(coef)
        if self.weights is not None:
            remainder *= self.weights[:, None]
        coef += normal_solve(self._score(remainder))
        return coef[:, 0] if vector else coef

    def _score(self, v: np.ndarray) -> np.ndarray:
        """``D_κᵀ v`` with ``D_κ = (1 - κ) design + κ regressors``."""
        score = self.regressors.tdot(v)
        if self.kappa != 1.0:
            score = self.kappa * score + (1.0 - self.kappa) * self.design.tdot(v)
        return score


@dataclass(frozen=True, eq=False)
class TSLSFit:
    """Result of :func:`fit_tsls`: the structural fit and the first stage.

    ``first_stage`` holds, for each endogenous column, its least squares fit on
    the instruments ``[exog, excluded]`` (empty without endogenous columns).

    Attributes
    ----------
    structural : LinearFit
        The structural equation (two-stage least squares, k-class or OLS).
    first_stage : tuple of LinearFit
    n_exog, n_excluded : int
    r_factor : ndarray of shape (c, c)
        Upper-triangular factor of the column-scaled, row-weighted data
        ``sqrt(w) [exog, excluded, endog, y] / scale = U r_factor``, with
        ``c = n_exog + n_excluded + n_endog + 1``. Every least squares fit of
        one of these columns on the columns before it is read off it (see
        :meth:`leading_regression`).
    scale : ndarray of shape (c,)
        The column scales.
    data : ColumnBlocks
        ``[exog, excluded, endog, y]`` (views of the caller's arrays).
    kappa : float
        The ``κ`` of the structural fit: 1 for two-stage least squares and
        OLS.
    liml_kappa : float
        The LIML ``κ`` (``nan`` without endogenous columns); 1 when exactly
        identified.
    linear_in_y : bool
        Whether the structural estimates are linear in ``y``, so that
        ``structural.solve(y_new)`` equals refitting with ``y_new``: true for
        OLS, two-stage least squares and any fixed ``κ``, false for LIML and
        Fuller, whose ``κ`` is estimated from ``y``.
    """

    structural: LinearFit
    first_stage: tuple[LinearFit, ...]
    n_exog: int
    n_excluded: int
    r_factor: np.ndarray | None = None
    scale: np.ndarray | None = None
    data: ColumnBlocks | None = None
    kappa: float = 1.0
    liml_kappa: float = np.nan
    linear_in_y: bool = True

    @property
    def n_instruments(self) -> int:
        """Number of instrument columns ``[exog, excluded]``."""
        return self.n_exog + self.n_excluded

    def leading_regression(self, n_regressors: int, target: int) -> LinearFit:
        """Least squares of data column ``target`` on the first ``n_regressors`` columns.

        Read off the stored triangular factor: with ``A = U R``, the first
        ``m`` columns of ``A`` span ``U[:, :m]``, so the coefficients solve
        ``R[:m, :m] b = R[:m, target]``. No pass over the data is needed
        except for the residuals. For example, the reduced form of ``y`` on
        all instruments is ``leading_regression(n_instruments, -1)`` and the
        regression of ``y`` on the exogenous columns alone is
        ``leading_regression(n_exog, -1)``.
        """
        columns = self.r_factor.shape[0]
        target = target % columns
        if not 0 < n_regressors <= target:
            raise ValueError(
                f"n_regressors must be in [1, {target}] for target column "
                f"{target}; got {n_regressors}"
            )
        r_lead = self.r_factor[:n_regressors, :n_regressors]
        scale = self.scale[:n_regressors]
        coef = solve_triangular(r_lead, self.r_factor[:n_regressors, target])
        coef *= self.scale[target] / scale
        regressors = self.data.leading(n_regressors)
        orthogonal = self.r_factor[n_regressors:, target] * self.scale[target]
        return LinearFit(
            params=coef,
            resid=self.data.column(target) - regressors.dot(coef),
            regressors=regressors,
            design=regressors,
            weights=self.structural.weights,
            r_factor=r_lead,
            scale=scale,
            total_weight=self.structural.total_weight,
            sum_of_squares=float(orthogonal @ orthogonal),
        )


def _liml_kappa(r: np.ndarray, n_exog: int, n_inst: int) -> float:
    """LIML ``κ`` from the triangular factor of ``[exog, excluded, endog, y]``.

    With ``E = [endog, y]``, ``κ`` is the smallest eigenvalue of
    ``(Eᵀ M_W E)(Eᵀ M_Q E)⁻¹``. In the factor, ``Eᵀ M_Q E = CᵀC`` with
    ``C = R[l:, E]`` and ``Eᵀ M_W E = CᵀC + BᵀB`` with ``B = R[kw:l, E]``, so
    ``κ = 1 + σ_min(B C⁻¹)²``: computed without cancellation, and exactly 1
    when there are no more excluded instruments than endogenous columns.
    """
    b = r[n_exog:n_inst, n_inst:]
    c = r[n_inst:, n_inst:]
    if b.shape[0] < c.shape[0]:
        return 1.0
    if np.abs(np.diag(c)).min() <= np.finfo(float).eps:
        return np.nan  # y or an endogenous column is fitted exactly
    ratio = solve_triangular(c, b.T, trans=True).T
    return 1.0 + float(np.linalg.svd(ratio, compute_uv=False)[-1]) ** 2


def _column_scale(data: ColumnBlocks, weights) -> tuple[np.ndarray, float]:
    """Weighted column norms (1 for an all-zero column) and the total weight.

    One pass; the total weight is the number of rows without weights.
    """

    def squares(chunk, *w):
        if w:
            return np.append(np.einsum("ij,ij,i->j", chunk, chunk, w[0]), w[0].sum())
        return np.append(np.einsum("ij,ij->j", chunk, chunk), chunk.shape[0])

    extra = () if weights is None else (weights,)
    sums = data.reduce(squares, *extra)
    scale = np.sqrt(sums[:-1])
    scale[scale == 0] = 1.0
    return scale, float(sums[-1])


def _tsqr(data: ColumnBlocks, sqrt_w, scale: np.ndarray) -> np.ndarray:
    """Triangular factor of ``sqrt(w) · data / scale`` by a tall-skinny QR.

    Rows are factored in chunks small enough to stay in cache (or partition
    by partition for dask data) and the stacked chunk factors are factored
    once more; this is as stable as one Householder QR of the whole matrix,
    much faster for tall data, and never forms the full scaled matrix.
    """

    def factor(chunk, *w):
        chunk = chunk / scale  # a new array: the chunk itself is read-only
        if w:
            chunk *= w[0][:, None]
        return np.linalg.qr(chunk, mode="r")

    def stack(factors):
        if len(factors) == 1:
            return factors[0]
        return np.linalg.qr(np.vstack(factors), mode="r")

    extra = () if sqrt_w is None else (sqrt_w,)
    return data.reduce(factor, *extra, combine=stack)


def _as_block(a, n: int):
    """A 2-d block: lazy and dask blocks as they are, anything else as floats."""
    if isinstance(a, (ColumnBlocks, Interaction)) or is_dask(a):
        return a.reshape(n, -1)
    return np.asarray(a, dtype=float).reshape(n, -1)


def residual_coordinates(
    r: np.ndarray, scale: np.ndarray, theta: np.ndarray, n_exog: int, n_inst: int
) -> np.ndarray:
    """Coordinates of ``y - Dθ`` in the basis ``U`` of the factor, over ``s_y``.

    With ``sqrt(w) [exog, excluded, endog, y] S⁻¹ = U R``, the residuals are
    ``sqrt(w) (y - Dθ) / s_y = U R c`` for the scaled coefficient vector
    ``c = [-θ_exog s_exog, 0, -θ_endog s_endog, s_y] / s_y``; their weighted
    sum of squares is ``s_y² ‖R c‖²``, read off the factor without a pass
    over the rows.
    """
    ke = theta.shape[0] - n_exog
    c = np.zeros(r.shape[0])
    scale_y = scale[-1]
    c[:n_exog] = -theta[:n_exog] * scale[:n_exog] / scale_y
    c[n_inst : n_inst + ke] = -theta[n_exog:] * scale[n_inst : n_inst + ke] / scale_y
    c[-1] = 1.0
    return r @ c


def _check_rank(diag: np.ndarray, tol: float, block: str, what: str) -> None:
    size = np.abs(diag)
    bad = np.flatnonzero(size <= tol * max(size.max(initial=0.0), 1e-300))
    if bad.size:
        index = int(bad[0])
        raise RankDeficiencyError(
            f"column {index} of the {what} is a linear combination of the "
            f"columns before it (relative size {size[index]:.3g} after "
            f"orthogonalization; tolerance {tol:.3g})",
            block=block,
            index=index,
        )


def fit_tsls(
    exog: np.ndarray,
    endog: np.ndarray,
    excluded: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    kappa: float | str = 1.0,
    fuller_alpha: float = 0.0,
) -> TSLSFit:
    """Two-stage least squares (or k-class) of ``y`` on ``[exog, endog]``.

    The instruments are ``Q = [exog, excluded]``. With no endogenous columns
    (and no excluded instruments) this is ordinary least squares of ``y`` on
    ``exog``.

    Parameters
    ----------
    exog : ndarray of shape (n, kw)
        Exogenous regressors, including the intercept column if wanted.
    endog : ndarray of shape (n, ke)
        Endogenous regressors.
    excluded : ndarray of shape (n, p)
        Excluded instruments, ``p >= ke``.
    y : ndarray of shape (n,)
    weights : ndarray of shape (n,), optional
        Frequency weights (positive): the fit equals the fit on rows repeated
        ``weights`` times.
    kappa : float or "liml", default=1.0
        ``κ`` of the k-class estimator: 1 is two-stage least squares, 0 is
        OLS, ``"liml"`` estimates it (limited-information maximum
        likelihood).
    fuller_alpha : float, default=0.0
        With ``kappa="liml"``, Fuller's modification: ``κ = κ_LIML - α/(n - l)``
        with ``n`` the number of observations (sum of the weights) and ``l``
        the number of instrument columns ``kw + p``.

    Returns
    -------
    TSLSFit
        ``structural.params`` is ordered ``[exog, endog]``.

    Raises
    ------
    RankDeficiencyError
        With ``block="instruments"`` when a column of ``Q`` is a linear
        combination of the columns before it, or ``block="regressors"`` when an
        endogenous column is not identified (its projection on ``Q`` is a
        linear combination of the exogenous columns and the other projections).
    ValueError
        When ``κ`` is so large that ``Dᵀ(I - κ M_Q)D`` is not positive
        definite (the k-class estimator is then not defined), or when the
        LIML ``κ`` cannot be computed.

    Notes
    -----
    With ``A = sqrt(w) [exog, excluded, endog, y] S⁻¹`` (``S`` the column
    norms) and ``A = U R``, the instruments span ``U[:, :l]``. In that basis
    the projected design is ``D̂ = U[:, :l] G`` with
    ``G = [R[:l, :kw], R[:l, endog]]`` and ``P_Q y = U[:, :l] R[:l, y]``, so
    the second stage is the small least squares problem
    ``min ‖R[:l, y] - G θ‖``, solved by a QR ``G = Q_G R_G``.

    The k-class estimator solves ``Dᵀ(I - κ M_Q)D θ = Dᵀ(I - κ M_Q) y``. The
    residuals of the endogenous columns on ``Q`` are ``U[:, l:l+ke] H`` with
    ``H = R[l:l+ke, endog]``, so ``Dᵀ(I - κ M_Q)D = R_Gᵀ(I + (1 - κ) F Fᵀ)R_G``
    with ``F = R_G⁻ᵀ[0, H]ᵀ``, which is zero outside its last ``ke`` rows.
    The Cholesky factor ``C`` of the small matrix ``I + (1 - κ) F Fᵀ``
    (identity outside the last ``ke × ke`` block) gives the triangular factor
    ``C R_G`` of the k-class normal matrix without forming it. The LIML ``κ``
    is read off the same factor (see :func:`_liml_kappa`).
    """
    n = exog.shape[0]
    exog = _as_block(exog, n)
    kw = exog.shape[1]
    endog = _as_block(endog, n)
    excluded = _as_block(excluded, n)
    y = y if is_dask(y) else np.asarray(y, dtype=float)
    ke, p = endog.shape[1], excluded.shape[1]
    if p < ke:
        raise ValueError(
            f"{ke} endogenous regressor(s) need at least as many excluded "
            f"instruments; got {p}"
        )
    n_inst = kw + p
    if n <= n_inst + ke:
        raise ValueError(
            f"too few rows: n_samples={n}, but the model has {n_inst + ke} "
            "instrument and regressor columns"
        )

    data = ColumnBlocks(exog, excluded, endog, y)
    sqrt_w = None
    if weights is not None:
        if not is_dask(weights):
            weights = np.asarray(weights, dtype=float)
        sqrt_w = np.sqrt(weights)
    scale, nobs = _column_scale(data, weights)  # nobs: Σw, or n
    r = _tsqr(data, sqrt_w, scale)
    tol = rank_tolerance(n, scale.shape[0])
    _check_rank(np.diag(r)[:n_inst], tol, "instruments", "instrument matrix")

    inst_scale, endog_scale, y_scale = (
        scale[:n_inst],
        scale[n_inst : n_inst + ke],
        scale[-1],
    )
    r_inst = r[:n_inst, :n_inst]
    r_endog = r[:n_inst, n_inst : n_inst + ke]
    instruments = ColumnBlocks(exog, excluded)

    first_stage = ()
    fitted_endog = np.empty((n, 0))
    if ke:
        gamma = solve_triangular(r_inst, r_endog) * endog_scale / inst_scale[:, None]
        fitted_endog = instruments.dot(gamma)
        first_stage = tuple(
            LinearFit(
                params=gamma[:, j],
                resid=endog[:, j] - fitted_endog[:, j],
                regressors=instruments,
                design=instruments,
                weights=weights,
                r_factor=r_inst,
                scale=inst_scale,
                total_weight=nobs,
                sum_of_squares=float(
                    np.sum((r[n_inst:, n_inst + j] * endog_scale[j]) ** 2)
                ),
            )
            for j in range(ke)
        )

    g = np.hstack([r_inst[:, :kw], r_endog])
    q_g, r_g = np.linalg.qr(g)
    _check_rank(np.diag(r_g), tol, "regressors", "projected regressors")
    rhs = q_g.T @ r[:n_inst, -1]

    liml_kappa = _liml_kappa(r, kw, n_inst) if ke else np.nan
    if isinstance(kappa, str):
        if kappa != "liml":
            raise ValueError(f"kappa must be a float or 'liml'; got {kappa!r}")
        if np.isnan(liml_kappa):
            raise ValueError(
                "the LIML kappa is not defined: the outcome or the endogenous "
                "regressor is an exact linear combination of the other columns"
            )
        kappa_value = liml_kappa - fuller_alpha / (nobs - n_inst)
    else:
        if fuller_alpha:
            raise ValueError("fuller_alpha applies only with kappa='liml'")
        kappa_value = float(kappa)
    if kappa_value != 1.0 and ke:
        r_g, rhs = _kclass_factor(r, r_g, rhs, n_inst, ke, kappa_value)

    theta = solve_triangular(r_g, rhs)
    reg_scale = np.concatenate([scale[:kw], endog_scale])
    theta *= y_scale / reg_scale
    design = ColumnBlocks(exog, endog)
    resid_coords = residual_coordinates(r, scale, theta, kw, n_inst) * y_scale
    structural = LinearFit(
        params=theta,
        resid=y - design.dot(theta),
        regressors=ColumnBlocks(exog, fitted_endog),
        design=design,
        weights=weights,
        r_factor=r_g,
        scale=reg_scale,
        kappa=kappa_value if ke else 1.0,
        total_weight=nobs,
        sum_of_squares=float(resid_coords @ resid_coords),
    )
    return TSLSFit(
        structural,
        first_stage,
        n_exog=kw,
        n_excluded=p,
        r_factor=r,
        scale=scale,
        data=data,
        kappa=structural.kappa,
        liml_kappa=liml_kappa,
        linear_in_y=not isinstance(kappa, str),
    )


def _kclass_factor(
    r: np.ndarray,
    r_g: np.ndarray,
    rhs: np.ndarray,
    n_inst: int,
    ke: int,
    kappa: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Triangular factor and right-hand side of the k-class normal equations.

    Returns ``(C R_G, C⁻ᵀ(Q_Gᵀ R[:l, y] + (1 - κ) F h))`` with ``h`` the
    coordinates of ``y`` on the residuals of the endogenous columns, so that
    ``θ = (C R_G)⁻¹ rhs`` (see :func:`fit_tsls`, Notes).
    """
    h = r[n_inst : n_inst + ke, n_inst : n_inst + ke]
    h_y = r[n_inst : n_inst + ke, -1]
    f_last = solve_triangular(r_g[-ke:, -ke:], h.T, trans=True)
    inner = np.eye(ke) + (1.0 - kappa) * (f_last @ f_last.T)
    try:
        c_last = np.linalg.cholesky(inner).T
    except np.linalg.LinAlgError:
        c_last = None
    if c_last is None or np.diag(c_last).min() <= np.sqrt(np.finfo(float).eps):
        bound = 1.0 + 1.0 / np.linalg.eigvalsh(f_last @ f_last.T).max()
        raise ValueError(
            f"kappa={kappa:.6g} is too large: the k-class estimator needs "
            f"Dᵀ(I - κ M_Q)D to be positive definite, which holds for kappa "
            f"below {bound:.6g} on these data"
        )
    r_k = r_g.copy()
    r_k[-ke:, :] = c_last @ r_g[-ke:, :]
    rhs = rhs.copy()
    rhs[-ke:] = solve_triangular(
        c_last, rhs[-ke:] + (1.0 - kappa) * f_last @ h_y, trans=True
    )
    return r_k, rhs


def fit_ols(x, y, weights=None) -> LinearFit:
    """Weighted least squares of ``y`` on ``x`` (see :func:`fit_tsls`)."""
    x = _as_block(x, x.shape[0])
    empty = np.empty((x.shape[0], 0))
    return fit_tsls(x, empty, empty, y, weights).structural
