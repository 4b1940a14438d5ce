"""Dask input: the role columns, outcome, weights and clusters as aligned dask arrays.

A fit on dask data never gathers the rows: the role columns stay a dask array
with the row partitions of ``X`` and every pass of the fit reduces each
partition where it lives (see :func:`skmediate._numerics.rows.reduce_rows`).
The roles are resolved on a zero-row template of ``X``; the values are checked
in the fit's first pass.

A dask DataFrame and the dask Series beside it with as many partitions
(``y``, ``sample_weight``, ``groups``; typically its columns) are read
together, through one partition-wise step over all of them: dask optimizes them as one expression, so each partition of the
result holds the same rows of every input, whatever dask does to the
partitions of each (a multi-file Parquet dataset read with a few of its
columns has its partitions merged, differently for different columns). The
inputs are aligned by position, as in memory; the partition lengths need not
be known. Inputs that do not share the partitions of ``X`` (numpy arrays,
dask arrays, dask Series with other partitions) are split or rechunked to
the lengths of its partitions, which costs one pass to find them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from skmediate._numerics.rows import is_dask
from skmediate._roles import (
    ROLE_LABEL,
    ROLES,
    FittedRoles,
    check_categorical,
    fit_roles,
    resolve_roles,
)
from skmediate._validation import check_groups, check_outcome, is_dataframe

__all__ = ["DaskInputs", "dask_inputs", "dask_role_matrix", "dask_template"]

# The inputs beside X, in the order of the fit.
_VECTORS = ("y", "sample_weight", "groups")


@dataclass(frozen=True, eq=False)
class DaskInputs:
    """Validated dask inputs of one fit."""

    roles: FittedRoles
    template: object  # zero-row pandas frame or numpy array with X's columns
    raw: object
    y: object
    weights: object
    groups: object


def _import_dask_array():
    try:
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - dask input implies dask
        raise ImportError(
            "fitting dask data needs dask: pip install 'skmediate[dask]'"
        ) from exc
    return da


def dask_template(X):
    """A zero-row pandas frame or numpy array with the columns and dtypes of ``X``."""
    if is_dataframe(X):
        return X._meta
    if X.ndim != 2:
        raise ValueError(f"X must be 2-dimensional; got shape {X.shape}")
    return np.zeros((0, X.shape[1]), dtype=X.dtype)


def _used_columns(roles: FittedRoles) -> list[int]:
    return [i for role in ROLES for i in roles.columns[role]]


def dask_role_matrix(X, roles: FittedRoles):
    """The role columns of new dask data (for ``predict``)."""
    used = _used_columns(roles)
    if is_dataframe(X):
        return _frame_arrays(X, used, {})[0]
    return X[:, used].astype(float).rechunk({1: -1})


# -- dask DataFrames -------------------------------------------------------------


def _is_frame(a) -> bool:
    """A dask DataFrame or Series (as opposed to a dask array)."""
    return is_dask(a) and hasattr(a, "to_dask_array")


def _as_series(a, name: str):
    """A dask Series: the column of a one-column dask DataFrame, or ``a`` itself."""
    if a.ndim == 2:
        if len(a.columns) != 1:
            raise ValueError(
                f"{name} must be 1-dimensional; got a dask DataFrame with "
                f"{len(a.columns)} columns"
            )
        a = a[a.columns[0]]
    return a


def _check_numeric(a, name: str) -> None:
    dtype = _as_series(a, name)._meta.dtype if _is_frame(a) else a.dtype
    if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)):
        raise ValueError(f"{name} must be numeric; got dtype {dtype}")


def _vector_values(part, name: str) -> np.ndarray:
    """One partition of ``y``, ``sample_weight`` (floats) or ``groups`` (as given)."""
    if name == "groups":
        return np.asarray(part)
    return part.to_numpy(dtype=float, na_value=np.nan)


def _pack(x, *vectors, names=(), partition_info=None):
    """One partition of the role columns and the vectors beside them, as one frame.

    The role columns become floats ``0 .. k-1`` (missing values NaN, checked in
    the fit's first pass) and each vector a column named after it; a vector
    whose partition has other rows than ``x``'s is an error.
    """
    out = pd.DataFrame(x.to_numpy(dtype=float, na_value=np.nan))
    for name, part in zip(names, vectors, strict=True):
        if len(part) != len(x):
            where = "" if partition_info is None else f" {partition_info['number']}"
            raise ValueError(
                f"{name} has {len(part)} rows in partition{where} where X has "
                f"{len(x)}; give {name} the partitions of X (for example a column "
                "of the same dask DataFrame)"
            )
        out[name] = _vector_values(part, name)
    return out


def _take(frame, key, width):
    """The role columns (``key`` None) or one vector of a packed partition."""
    if key is None:
        return frame.iloc[:, :width].to_numpy(dtype=float)
    return frame[key].to_numpy()


def _from_blocks(blocks, lengths, width, dtype):
    """One dask array from delayed row blocks of the given (or unknown) lengths."""
    da = _import_dask_array()
    shape = () if width is None else (width,)
    arrays = [
        da.from_delayed(block, shape=(length, *shape), dtype=dtype)
        for block, length in zip(blocks, lengths, strict=True)
    ]
    return da.concatenate(arrays) if len(arrays) > 1 else arrays[0]


def _vector_blocks(a, name: str) -> tuple[list, tuple, np.dtype]:
    """Delayed row blocks of a dask vector, their lengths (NaN where unknown), dtype."""
    import dask

    if _is_frame(a):
        series = _as_series(a, name)
        blocks = [dask.delayed(_vector_values)(p, name) for p in series.to_delayed()]
        dtype = _vector_values(series._meta, name).dtype
        return blocks, (np.nan,) * len(blocks), dtype
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional; got shape {a.shape}")
    if name != "groups":
        a = a.astype(float)
    blocks = list(a.to_delayed(optimize_graph=False).reshape(-1))
    return blocks, a.chunks[0], a.dtype


def _frame_arrays(X, used, vectors: dict):
    """The role columns of a dask DataFrame and the vectors beside it, aligned.

    Returns ``(raw, arrays)`` with ``arrays`` keyed like ``vectors``: dask
    arrays with the row partitions of ``raw``.
    """
    import dask
    import dask.dataframe as dd

    selected = X[[X.columns[i] for i in used]]
    joint = {
        name: _as_series(v, name)
        for name, v in vectors.items()
        if _is_frame(v) and v.npartitions == X.npartitions
    }
    names = tuple(joint)
    meta = _pack(selected._meta, *(joint[k]._meta for k in names), names=names)
    packed = dd.map_partitions(
        _pack,
        selected,
        *(joint[k] for k in names),
        names=names,
        align_dataframes=False,
        meta=meta,
        enforce_metadata=False,
    )
    parts = packed.to_delayed()
    rest = {name: v for name, v in vectors.items() if name not in joint}
    lengths = (np.nan,) * len(parts)
    blocks = {name: _vector_blocks(v, name) for name, v in rest.items() if is_dask(v)}
    if rest:
        # the partition lengths of X, and of the dask vectors whose lengths
        # are unknown, in one pass
        unknown = {
            name: [dask.delayed(len)(b) for b in parts_]
            for name, (parts_, known, _) in blocks.items()
            if any(np.isnan(c) for c in known)
        }
        counts, found = dask.compute([dask.delayed(len)(p) for p in parts], unknown)
        lengths = tuple(int(c) for c in counts)
        for name, sizes in found.items():
            parts_, _, dtype = blocks[name]
            blocks[name] = (parts_, tuple(int(c) for c in sizes), dtype)
    width = len(used)
    raw = _from_blocks(
        [dask.delayed(_take)(p, None, width) for p in parts], lengths, width, float
    )
    arrays = {}
    for name in names:
        dtype = meta[name].to_numpy().dtype
        column = [dask.delayed(_take)(p, name, None) for p in parts]
        arrays[name] = _from_blocks(column, lengths, None, dtype)
    n = sum(lengths)
    for name, v in rest.items():
        if name in blocks:
            a = _from_blocks(*blocks[name][:2], None, blocks[name][2])
            if a.shape[0] != n:
                raise ValueError(
                    f"X has {n} rows but {name} has {a.shape[0]}; they must match"
                )
            arrays[name] = a.rechunk({0: lengths})
            continue
        arrays[name] = _split(v, name, lengths)
    return raw, arrays


def _split(a, name: str, lengths) -> object:
    """An in-memory vector as a dask array with the row partitions ``lengths``."""
    da = _import_dask_array()
    n = sum(lengths)
    a = check_groups(a, n) if name == "groups" else np.asarray(a, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional; got shape {a.shape}")
    if a.shape[0] != n:
        raise ValueError(f"X has {n} rows but {name} has {a.shape[0]}; they must match")
    return da.from_array(a, chunks=(tuple(lengths),))


# -- dask arrays -------------------------------------------------------------------


def _as_vector(a, name: str, row_chunks, n):
    """A 1-d dask array with the row partitions of a dask array ``X``."""
    da = _import_dask_array()
    if is_dask(a):
        if hasattr(a, "to_dask_array"):
            a = a.to_dask_array()
        if a.ndim == 2 and a.shape[1] == 1:
            a = a[:, 0]
        if a.ndim != 1:
            raise ValueError(f"{name} must be 1-dimensional; got shape {a.shape}")
        if not np.isnan(n) and not np.isnan(a.shape[0]) and a.shape[0] != n:
            raise ValueError(
                f"X has {n} rows but {name} has {a.shape[0]}; they must match"
            )
        if len(a.chunks[0]) != len(row_chunks):
            if any(np.isnan(c) for c in (*row_chunks, *a.chunks[0])):
                raise ValueError(
                    f"{name} has {len(a.chunks[0])} partitions and X "
                    f"{len(row_chunks)}, of unknown lengths; give {name} the "
                    "partitions of X"
                )
            a = a.rechunk({0: row_chunks})
        return a
    if name == "groups":
        a = check_groups(a, n)
    a = np.asarray(a)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional; got shape {a.shape}")
    if a.shape[0] != n:
        raise ValueError(f"X has {n} rows but {name} has {a.shape[0]}; they must match")
    return da.from_array(a, chunks=(row_chunks,))


def _array_arrays(X, used, vectors: dict):
    raw = X[:, used].astype(float).rechunk({1: -1})
    n, row_chunks = raw.shape[0], raw.chunks[0]
    arrays = {name: _as_vector(v, name, row_chunks, n) for name, v in vectors.items()}
    for name in ("y", "sample_weight"):
        if name in arrays:
            arrays[name] = arrays[name].astype(float)
    return raw, arrays


def dask_inputs(
    X,
    y,
    sample_weight,
    groups,
    *,
    treatment,
    mediator,
    covariates,
    controls,
    covariate_transformer,
    cluster: bool,
    estimator=None,
    exclude=(),
) -> DaskInputs:
    """Resolve the roles of a dask array or DataFrame and align the other inputs.

    The roles are resolved on the columns and dtypes alone (a zero-row
    template of ``X``). Dask Series with as many partitions as a dask
    DataFrame ``X`` (its columns, typically) are read with ``X`` partition by
    partition, and a partition of other rows is an error; other inputs need
    the partition lengths of ``X``, which costs one pass over it.
    """
    _import_dask_array()
    if covariate_transformer != "passthrough":
        raise ValueError(
            "covariate_transformer must be 'passthrough' for dask input: a "
            "transformer fitted on part of the data would not give the in-memory "
            "fit. Encode categorical columns first, for example with "
            "dask.dataframe's get_dummies after categorize()"
        )
    frame = is_dataframe(X)
    template = dask_template(X)
    names = (
        [str(c) for c in X.columns] if frame else [f"x{i}" for i in range(X.shape[1])]
    )
    columns = resolve_roles(
        template, treatment, mediator, covariates, controls, names, exclude=exclude
    )
    # the treatment and the mediator: the rule of in-memory data
    check_categorical(template, columns, names, encoded=("covariates", "controls"))
    used = [i for role in ROLES for i in columns[role]]
    owner = {i: role for role in ROLES for i in columns[role]}
    dtypes = [template.dtypes.iloc[i] for i in used] if frame else [X.dtype] * len(used)
    for i, dtype in zip(used, dtypes, strict=True):
        if not (
            pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
        ):
            label = ROLE_LABEL[owner[i]]
            hint = (
                "encode it before fitting (dask input takes numeric columns "
                "only), for example with dask.dataframe's get_dummies after "
                "categorize()"
                if owner[i] in ("covariates", "controls")
                else f"the {label} must be numeric"
            )
            raise ValueError(
                f"column {names[i]!r} ({label}) is not numeric (dtype {dtype}); {hint}"
            )
    roles, _, _ = fit_roles(template, columns, "passthrough", names)
    if cluster and groups is None:
        raise ValueError(
            "a cluster-robust cov_type needs the cluster labels: pass "
            "fit(..., groups=...)"
        )
    if not is_dask(y):
        y = check_outcome(y, estimator)
    vectors = {
        name: value
        for name, value in zip(
            _VECTORS, (y, sample_weight, groups if cluster else None), strict=True
        )
        if value is not None
    }
    for name in ("y", "sample_weight"):
        if name in vectors and is_dask(vectors[name]):
            _check_numeric(vectors[name], name)
    if frame:
        raw, arrays = _frame_arrays(X, used, vectors)
    else:
        raw, arrays = _array_arrays(X, used, vectors)
    return DaskInputs(
        roles,
        template,
        raw,
        arrays["y"],
        arrays.get("sample_weight"),
        arrays.get("groups"),
    )
