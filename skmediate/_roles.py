"""Column roles -> fitted ColumnTransformer -> numeric blocks and term names."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
from sklearn.base import clone
from sklearn.compose import ColumnTransformer

from ._validation import column_indices, is_dataframe

__all__ = ["ROLES", "RoleData", "fit_roles", "role_names", "transform_roles"]

ROLES = ("treatment", "mediator", "covariates", "controls")
_ROLE_LABEL = {
    "treatment": "treatment",
    "mediator": "mediator",
    "covariates": "covariate",
    "controls": "control",
}


@dataclass(frozen=True, eq=False)
class RoleData:
    """Numeric columns of each role, as float arrays, and their names."""

    treatment: np.ndarray  # (n,)
    mediator: np.ndarray  # (n,)
    covariates: np.ndarray  # (n, p)
    controls: np.ndarray  # (n, q)
    names: dict  # role -> list of output column names


def _input_names(X) -> list[str]:
    if is_dataframe(X):
        return [str(c) for c in X.columns]
    return [f"x{i}" for i in range(X.shape[1])]


def _resolve(X, spec, role: str, n_features: int) -> list[int]:
    """Integer positions of the columns a role specification selects."""
    if callable(spec):
        spec = spec(X)
    if isinstance(spec, str) or (
        isinstance(spec, (list, tuple, np.ndarray))
        and len(spec)
        and all(isinstance(s, str) for s in spec)
    ):
        wanted = [spec] if isinstance(spec, str) else list(spec)
        if not is_dataframe(X):
            raise ValueError(
                f"{role}={spec!r} names columns, but X has no column names; pass "
                "a pandas DataFrame or give integer column indices"
            )
        available = [str(c) for c in X.columns]
        missing = [s for s in wanted if s not in available]
        if missing:
            raise ValueError(
                f"{role} names column(s) {missing} that are not in X; "
                f"available columns: {available}"
            )
    else:
        items = [spec] if isinstance(spec, Integral) else spec
        if isinstance(items, (list, tuple, np.ndarray)) and all(
            isinstance(s, Integral) and not isinstance(s, bool) for s in items
        ):
            out = [i for i in items if not -n_features <= int(i) < n_features]
            if out:
                raise ValueError(
                    f"{role}: column index {out[0]} is out of range for X with "
                    f"n_features={n_features}"
                )
    try:
        return [int(i) % n_features for i in column_indices(X, spec)]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ValueError(
            f"{role}={spec!r} does not select columns of X: {exc}"
        ) from exc


def _single(indices: list[int], role: str, names: list[str]) -> list[int]:
    if len(indices) != 1:
        raise ValueError(
            f"{role} must select exactly one column; it selects {len(indices)}: "
            f"{[names[i] for i in indices]}"
        )
    return indices


def fit_roles(
    X, treatment, mediator, covariates, controls, transformer
) -> tuple[ColumnTransformer, RoleData]:
    """Resolve the roles, fit a ColumnTransformer for them and transform ``X``.

    ``covariates=None`` means every column not given another role.
    """
    n_features = X.shape[1]
    names = _input_names(X)
    for role, spec in (("treatment", treatment), ("mediator", mediator)):
        if spec is None:
            raise ValueError(f"{role} is required: give the column name or index")
    selected = {
        "treatment": _single(
            _resolve(X, treatment, "treatment", n_features), "treatment", names
        ),
        "mediator": _single(
            _resolve(X, mediator, "mediator", n_features), "mediator", names
        ),
        "controls": []
        if controls is None
        else _resolve(X, controls, "controls", n_features),
    }
    if covariates is None:
        taken = {i for cols in selected.values() for i in cols}
        selected["covariates"] = [i for i in range(n_features) if i not in taken]
    else:
        selected["covariates"] = _resolve(X, covariates, "covariates", n_features)

    owner: dict[int, str] = {}
    for role in ROLES:
        if len(set(selected[role])) != len(selected[role]):
            raise ValueError(f"{role} selects the same column more than once")
        for i in selected[role]:
            if i in owner:
                raise ValueError(
                    f"column {names[i]!r} is given two roles: {owner[i]} and {role}"
                )
            owner[i] = role

    steps = []
    for role in ROLES:
        if not selected[role]:
            continue
        if role in ("covariates", "controls") and transformer != "passthrough":
            step = clone(transformer)
        else:
            step = "passthrough"
        steps.append((role, step, selected[role]))
    column_transformer = ColumnTransformer(
        steps,
        remainder="drop",
        sparse_threshold=0.0,
        n_jobs=1,  # tiny per-role fits: never sent to a joblib backend's workers
        verbose_feature_names_out=False,
    ).set_output(transform="default")
    transformed = column_transformer.fit_transform(X)
    return column_transformer, _split(column_transformer, transformed)


def transform_roles(column_transformer: ColumnTransformer, X) -> RoleData:
    """Transform new data with a transformer fitted by :func:`fit_roles`."""
    return _split(column_transformer, column_transformer.transform(X))


def _output_names(column_transformer: ColumnTransformer, n_out: int) -> list[str]:
    try:
        return [str(n) for n in column_transformer.get_feature_names_out()]
    except (AttributeError, ValueError, TypeError):
        names = [""] * n_out
        for role, block in column_transformer.output_indices_.items():
            for j in range(block.start, block.stop):
                names[j] = f"{_ROLE_LABEL.get(role, role)}{j - block.start}"
        return names


def role_names(column_transformer: ColumnTransformer) -> dict:
    """Output column names of each role of a transformer fitted by :func:`fit_roles`."""
    n_out = max(
        (s.stop for s in column_transformer.output_indices_.values()), default=0
    )
    names = _output_names(column_transformer, n_out)
    return {
        role: names[column_transformer.output_indices_.get(role, slice(0, 0))]
        for role in ROLES
    }


def _split(column_transformer: ColumnTransformer, transformed) -> RoleData:
    if hasattr(transformed, "toarray"):
        transformed = transformed.toarray()
    transformed = np.asarray(transformed)
    names = _output_names(column_transformer, transformed.shape[1])
    blocks = {}
    out_names = {}
    for role in ROLES:
        block = column_transformer.output_indices_.get(role, slice(0, 0))
        block_names = names[block]
        blocks[role] = _as_float(transformed[:, block], block_names, role)
        out_names[role] = block_names
    return RoleData(
        treatment=blocks["treatment"][:, 0],
        mediator=blocks["mediator"][:, 0],
        covariates=blocks["covariates"],
        controls=blocks["controls"],
        names=out_names,
    )


def _as_float(block: np.ndarray, names: list[str], role: str) -> np.ndarray:
    """Convert one role's columns to float, naming any column that fails."""
    label = _ROLE_LABEL[role]
    if np.iscomplexobj(block):
        raise ValueError(f"Complex data not supported in the {label} columns {names}")
    try:
        values = np.asarray(block, dtype=float)
    except (TypeError, ValueError):
        for j, name in enumerate(names):
            try:
                np.asarray(block[:, j], dtype=float)
            except (TypeError, ValueError) as exc:
                hint = (
                    "encode it with covariate_transformer, for example "
                    "OneHotEncoder(sparse_output=False)"
                    if role in ("covariates", "controls")
                    else f"the {label} must be numeric"
                )
                raise ValueError(
                    f"column {name!r} ({label}) is not numeric: {exc}; {hint}"
                ) from None
        raise
    finite = np.isfinite(values)
    if not finite.all():
        j = int(np.flatnonzero(~finite.all(axis=0))[0])
        column = values[:, j]
        kind = "NaN" if np.isnan(column).any() else "inf"
        count = int((~np.isfinite(column)).sum())
        raise ValueError(
            f"Input X column {names[j]!r} ({label}) contains {kind} "
            f"({count} non-finite value(s)); remove or impute those rows"
        )
    return values
