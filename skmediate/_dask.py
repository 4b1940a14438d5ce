"""Dask input: the role columns, outcome, weights and clusters as aligned dask arrays.

A fit on dask data never gathers the rows: the role columns stay a dask array
with the row partitions of ``X`` and every pass of the fit reduces each
partition where it lives (see :func:`skmediate._numerics.rows.reduce_rows`).
The roles are resolved on a zero-row template of ``X``; the values are checked
in the fit's first pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from skmediate._numerics.rows import is_dask
from skmediate._roles import ROLE_LABEL, ROLES, FittedRoles, fit_roles, resolve_roles
from skmediate._validation import check_groups, check_outcome, is_dataframe

__all__ = ["DaskInputs", "dask_inputs", "dask_role_matrix", "dask_template"]


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


def _select(X, used: list[int], lengths: bool):
    """Columns ``used`` of a dask array or DataFrame as one float dask array."""
    if is_dataframe(X):
        values = X[[X.columns[i] for i in used]].to_dask_array(lengths=lengths or None)
    else:
        values = X[:, used]
    return values.astype(float).rechunk({1: -1})


def dask_role_matrix(X, roles: FittedRoles):
    """The role columns of new dask data (for ``predict``)."""
    return _select(X, _used_columns(roles), lengths=False)


def _n_partitions(a) -> int:
    if hasattr(a, "npartitions"):
        return a.npartitions
    return len(a.chunks[0])


def _as_vector(a, name: str, row_chunks, n):
    """A 1-d dask array with the row partitions of ``X``."""
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
            if any(np.isnan(c) for c in row_chunks):
                raise ValueError(
                    f"{name} has {len(a.chunks[0])} partitions and X "
                    f"{len(row_chunks)}; give {name} the partitions of X (for "
                    "example a column of the same dask DataFrame)"
                )
            a = a.rechunk({0: row_chunks})
        return a
    a = np.asarray(a)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional; got shape {a.shape}")
    if a.shape[0] != n:
        raise ValueError(f"X has {n} rows but {name} has {a.shape[0]}; they must match")
    return da.from_array(a, chunks=(row_chunks,))


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
    template of ``X``). Inputs given as numpy arrays beside a dask DataFrame
    need its partition lengths, which costs one pass over ``X``; give them as
    dask collections with the partitions of ``X`` to avoid it.
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
    used = [i for role in ROLES for i in columns[role]]
    owner = {i: role for role in ROLES for i in columns[role]}
    dtypes = [template.dtypes.iloc[i] for i in used] if frame else [X.dtype] * len(used)
    for i, dtype in zip(used, dtypes, strict=True):
        if not (
            pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
        ):
            label = ROLE_LABEL[owner[i]]
            hint = (
                "encode it before fitting (dask input takes numeric columns only)"
                if owner[i] in ("covariates", "controls")
                else f"the {label} must be numeric"
            )
            raise ValueError(
                f"column {names[i]!r} ({label}) is not numeric (dtype {dtype}); {hint}"
            )
    roles, _, _ = fit_roles(template, columns, "passthrough", names)
    others = [
        a for a in (y, sample_weight, groups if cluster else None) if a is not None
    ]
    # Partition lengths are needed to split in-memory inputs (or dask ones
    # partitioned differently) alike; finding them costs a pass over X.
    lengths = frame and any(
        not is_dask(a) or _n_partitions(a) != X.npartitions for a in others
    )
    raw = _select(X, used, lengths)
    n, row_chunks = raw.shape[0], raw.chunks[0]
    if not is_dask(y):
        y = check_outcome(y, estimator)
    y = _as_vector(y, "y", row_chunks, n).astype(float)
    weights = None
    if sample_weight is not None:
        weights = _as_vector(sample_weight, "sample_weight", row_chunks, n).astype(
            float
        )
    labels = None
    if cluster:
        if groups is None:
            raise ValueError(
                "a cluster-robust cov_type needs the cluster labels: pass "
                "fit(..., groups=...)"
            )
        if not is_dask(groups):
            groups = check_groups(groups, n)
        labels = _as_vector(groups, "groups", row_chunks, n)
    return DaskInputs(roles, template, raw, y, weights, labels)
