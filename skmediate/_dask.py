"""Dask input: the role columns, outcome, weights and clusters as aligned dask arrays.

A fit on dask data never gathers the rows: the role columns stay dask arrays
with the row partitions of ``X``, and every pass of the fit (column norms, the
tall-skinny QR, the score sums of the covariances and diagnostics) reduces each
partition where it lives (see :func:`~._linalg.reduce_rows`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._linalg import is_dask, remember_group_count
from ._roles import _ROLE_LABEL as _LABEL
from ._roles import ROLES, RoleData, fit_roles
from ._validation import (
    check_cluster_count,
    check_groups,
    check_outcome,
    is_dataframe,
    require_groups,
)

__all__ = ["DaskInputs", "dask_inputs", "dask_template", "role_values"]


@dataclass(frozen=True, eq=False)
class DaskInputs:
    """Validated dask inputs of one fit."""

    column_transformer: object
    template: object  # zero-row pandas frame or numpy array with X's columns
    roles: RoleData
    y: object
    weights: object
    groups: object
    n_clusters: int | None
    outcome: str


def _import_dask_array():
    try:
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - dask input implies dask
        raise ImportError(
            "fitting dask data needs dask: pip install 'skmediate[dask]'"
        ) from exc
    return da


def _as_vector(a, name: str, row_chunks, n: int):
    """A 1-d float dask array with the row partitions of ``X``."""
    da = _import_dask_array()
    if is_dask(a):
        if hasattr(a, "to_dask_array"):
            a = a.to_dask_array(lengths=True)
        if a.ndim == 2 and a.shape[1] == 1:
            a = a[:, 0]
        if a.ndim != 1:
            raise ValueError(f"{name} must be 1-dimensional; got shape {a.shape}")
        if np.isnan(a.shape[0]):
            a = a.compute_chunk_sizes()
    else:
        a = np.asarray(a)
        if a.ndim != 1:
            raise ValueError(f"{name} must be 1-dimensional; got shape {a.shape}")
        if a.shape[0] == n:
            a = da.from_array(a, chunks=(row_chunks,))
    if a.shape[0] != n:
        raise ValueError(f"X has {n} rows but {name} has {a.shape[0]}; they must match")
    if a.chunks[0] != row_chunks:
        a = a.rechunk({0: row_chunks})
    return a


def dask_template(X):
    """A zero-row pandas frame or numpy array with the columns and dtypes of ``X``."""
    if is_dataframe(X):
        return X._meta
    if X.ndim != 2:
        raise ValueError(f"X must be 2-dimensional; got shape {X.shape}")
    return np.zeros((0, X.shape[1]), dtype=X.dtype)


def _select(X, used: list[int]):
    """Columns ``used`` of a dask array or DataFrame as one float dask array."""
    if is_dataframe(X):
        values = X[[X.columns[i] for i in used]].to_dask_array(lengths=True)
    else:
        values = X[:, used]
        if any(np.isnan(c) for c in values.chunks[0]):
            values = values.compute_chunk_sizes()
    return values.astype(float).rechunk({1: -1})


def role_values(X, column_transformer) -> tuple[object, dict]:
    """The role columns of new dask data, in role order, and each role's slice."""
    selected = {
        role: list(cols)
        for role, _, cols in column_transformer.transformers_
        if role in ROLES
    }
    used = [i for role in ROLES for i in selected.get(role, [])]
    edges = np.cumsum([0] + [len(selected.get(role, [])) for role in ROLES])
    slices = {role: slice(edges[k], edges[k + 1]) for k, role in enumerate(ROLES)}
    return _select(X, used), slices


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
) -> DaskInputs:
    """Resolve the roles of a dask array or DataFrame and check its values.

    The roles are resolved on the columns and dtypes alone (a zero-row
    template of ``X``); the values are checked in one pass (non-finite
    entries per column, the outcome, the weights).
    """
    da = _import_dask_array()
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
    column_transformer, layout = fit_roles(
        template, treatment, mediator, covariates, controls, "passthrough"
    )
    selected = {
        role: list(cols)
        for role, _, cols in column_transformer.transformers_
        if role in ROLES
    }
    used = [i for role in ROLES for i in selected.get(role, [])]
    owner = {i: role for role in ROLES for i in selected.get(role, [])}
    dtypes = [template.dtypes.iloc[i] for i in used] if frame else [X.dtype] * len(used)
    for i, dtype in zip(used, dtypes, strict=True):
        if not (
            pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
        ):
            label = _LABEL[owner[i]]
            hint = (
                "encode it before fitting (dask input takes numeric columns only)"
                if owner[i] in ("covariates", "controls")
                else f"the {label} must be numeric"
            )
            raise ValueError(
                f"column {names[i]!r} ({label}) is not numeric (dtype {dtype}); {hint}"
            )

    values = _select(X, used)
    n = values.shape[0]
    row_chunks = values.chunks[0]

    outcome = "y"
    if (isinstance(y, pd.Series) or hasattr(y, "to_dask_array")) and y.name is not None:
        outcome = str(y.name)
    if is_dask(y):
        y = _as_vector(y, "y", row_chunks, n).astype(float)
    else:
        y = _as_vector(check_outcome(y, estimator), "y", row_chunks, n)
    weights = None
    if sample_weight is not None:
        weights = _as_vector(sample_weight, "sample_weight", row_chunks, n).astype(
            float
        )
    codes, n_clusters = None, None
    if cluster:
        require_groups(groups)
        if not is_dask(groups):
            groups = check_groups(groups, n)
        labels = _as_vector(groups, "groups", row_chunks, n)
        uniques = np.asarray(da.unique(labels).compute())
        if uniques.dtype.kind == "f" and not np.isfinite(uniques).all():
            raise ValueError(
                "groups contains NaN or inf; every row needs a cluster label"
            )
        n_clusters = int(uniques.shape[0])
        check_cluster_count(n_clusters)
        codes = labels.map_blocks(
            lambda block: np.searchsorted(uniques, block), dtype=np.intp
        )
        remember_group_count(codes, n_clusters)  # no pass to find it again

    checks = [(~da.isfinite(values)).sum(axis=0), (~da.isfinite(y)).sum()]
    if weights is not None:
        checks += [
            (~da.isfinite(weights)).sum(),
            (weights < 0).sum(),
            (weights == 0).sum(),
        ]
    counts = da.compute(*checks)
    bad = np.flatnonzero(counts[0])
    if bad.size:
        i = used[int(bad[0])]
        raise ValueError(
            f"Input X column {names[i]!r} ({_LABEL[owner[i]]}) contains NaN or inf "
            f"({int(counts[0][bad[0]])} non-finite value(s)); remove or impute "
            "those rows"
        )
    if counts[1]:
        raise ValueError(f"Input y contains NaN or inf ({int(counts[1])} value(s))")
    if weights is not None:
        if counts[2]:
            raise ValueError("sample_weight contains NaN or inf")
        if counts[3]:
            raise ValueError("Negative values in data passed to sample_weight")
        if counts[4]:
            raise ValueError(
                f"sample_weight has {int(counts[4])} zero(s); with dask input, "
                "select the rows with positive weight before fitting"
            )

    edges = np.cumsum([0] + [len(selected.get(role, [])) for role in ROLES])
    block = {role: values[:, edges[k] : edges[k + 1]] for k, role in enumerate(ROLES)}
    roles = RoleData(
        treatment=block["treatment"][:, 0],
        mediator=block["mediator"][:, 0],
        covariates=block["covariates"],
        controls=block["controls"],
        names=layout.names,
    )
    return DaskInputs(
        column_transformer=column_transformer,
        template=template,
        roles=roles,
        y=y,
        weights=weights,
        groups=codes,
        n_clusters=n_clusters,
        outcome=outcome,
    )
