"""Column roles: which input columns are the treatment, mediators, covariates, controls.

:func:`resolve_roles` resolves the role specifications of an estimator
against the columns of ``X`` (names, positions, slices, boolean masks or
callables, as a ColumnTransformer takes them); :func:`fit_roles` fits the
covariate transformer if there is one and returns a :class:`FittedRoles` with
the numeric role columns of ``X`` as one float matrix in the order of
:class:`~skmediate._numerics.design.Design`: treatment, mediators,
covariates, controls. With ``covariate_transformer="passthrough"`` the roles
are applied by column selection, which gives what a ColumnTransformer of
passthrough steps would.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import clone

from skmediate._numerics.design import Design
from skmediate._validation import (
    categorical_columns,
    column_dtypes,
    column_indices,
    column_names,
    column_values,
    is_dataframe,
    select_columns,
)

__all__ = [
    "ROLES",
    "ROLE_LABEL",
    "FittedRoles",
    "check_categorical",
    "fit_roles",
    "input_names",
    "resolve_roles",
]

ROLES = ("treatment", "mediator", "covariates", "controls")
# A DataFrame of at most this many cells is converted whole (see _select).
SMALL_FRAME = 50_000
ROLE_LABEL = {
    "treatment": "treatment",
    "mediator": "mediator",
    "covariates": "covariate",
    "controls": "control",
}


def input_names(X) -> list[str]:
    """Column names of ``X`` (``x0, x1, ...`` for arrays)."""
    if is_dataframe(X):
        return [str(c) for c in column_names(X)]
    return [f"x{i}" for i in range(X.shape[1])]


def _resolve(X, spec, role: str, names: list[str], position: dict) -> list[int]:
    """Integer positions of the columns a role specification selects."""
    n_features = len(names)
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
                "a DataFrame (pandas, polars, ...) or give integer column indices"
            )
        missing = [s for s in wanted if s not in position]
        if missing:
            raise ValueError(
                f"{role} names column(s) {missing} that are not in X; "
                f"available columns: {names}"
            )
        return [position[s] for s in wanted]
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
        return [int(i) % n_features for i in items]
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


def _at_least_one(indices: list[int], role: str) -> list[int]:
    if not indices:
        raise ValueError(f"{role} selects no column; give one column or a list of them")
    return indices


@dataclass(frozen=True, eq=False)
class FittedRoles:
    """The resolved roles of a fitted estimator.

    Attributes
    ----------
    columns : dict of str to tuple of int
        Positions in ``X`` of each role's input columns.
    names : dict of str to tuple of str
        Names of each role's numeric columns (after the covariate transformer:
        its ``get_feature_names_out``).
    transformers : dict of str to transformer or None
        The fitted covariate transformer of the covariates and of the
        controls (separate clones), or None for passthrough.
    n_features : int
    """

    columns: dict
    names: dict
    transformers: dict
    n_features: int

    def design(self, outcome: str = "y", instrumented: bool = True) -> Design:
        n = self.names
        return Design(
            treatment=n["treatment"][0],
            mediators=tuple(n["mediator"]),
            covariates=tuple(n["covariates"]),
            controls=tuple(n["controls"]),
            outcome=outcome,
            instrumented=instrumented,
        )

    def transform(self, X) -> np.ndarray:
        """The numeric role columns of ``X``: treatment, mediators, covariates, controls.

        Non-finite values are an error naming the column (a fit checks them in
        its first pass instead).
        """
        encoded = [role for role, t in self.transformers.items() if t is not None]
        check_categorical(X, self.columns, input_names(X), encoded)
        values, columns, _ = _role_matrix(
            X, self.columns, self.transformers, self.names, fit=False
        )
        raw = values if columns is None else values[:, columns]
        finite = np.isfinite(raw)
        if not finite.all():
            j = int(np.flatnonzero(~finite.all(axis=0))[0])
            labels = [
                (ROLE_LABEL[role], name) for role in ROLES for name in self.names[role]
            ]
            label, name = labels[j]
            kind = "NaN" if np.isnan(raw[:, j]).any() else "inf"
            raise ValueError(
                f"Input X column {name!r} ({label}) contains {kind} "
                f"({int((~finite[:, j]).sum())} non-finite value(s)); remove or "
                "impute those rows"
            )
        return raw


def resolve_roles(
    X, treatment, mediator, covariates, controls, names=None, exclude=()
) -> dict:
    """The positions in ``X`` of each role's input columns.

    ``covariates=None`` means every column not given another role and not
    named in ``exclude`` (the outcome's and the cluster labels' names when
    they are columns of ``X``); ``names`` are the column names of ``X`` when
    already known.

    Returns
    -------
    dict of str to tuple of int
        Keyed by :data:`ROLES`.
    """
    names = input_names(X) if names is None else names
    position = {name: i for i, name in enumerate(names)}
    for role, spec in (("treatment", treatment), ("mediator", mediator)):
        if spec is None:
            raise ValueError(f"{role} is required: give the column name or index")

    def resolve(spec, role):
        return _resolve(X, spec, role, names, position)

    selected = {
        "treatment": _single(resolve(treatment, "treatment"), "treatment", names),
        "mediator": _at_least_one(resolve(mediator, "mediator"), "mediator"),
        "controls": [] if controls is None else resolve(controls, "controls"),
    }
    if covariates is None:
        taken = {i for cols in selected.values() for i in cols}
        skip = {str(name) for name in exclude}
        selected["covariates"] = [
            i for i in range(len(names)) if i not in taken and str(names[i]) not in skip
        ]
    else:
        selected["covariates"] = resolve(covariates, "covariates")
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
    return {role: tuple(selected[role]) for role in ROLES}


def fit_roles(
    X, columns, transformer, names=None
) -> tuple[FittedRoles, np.ndarray, np.ndarray | None]:
    """Fit the covariate transformer on the resolved roles and return the role matrix.

    ``columns`` are the roles' positions in ``X`` (from :func:`resolve_roles`)
    and ``names`` the column names of ``X`` when already known.

    Returns the fitted roles and the role matrix as ``(values, columns)``:
    the role columns (treatment, mediators, covariates, controls) are
    ``values[:, columns]`` (``columns`` None: all of ``values``). Numeric data
    without a covariate transformer is not copied: ``values`` is ``X``'s own
    array.
    """
    names = input_names(X) if names is None else names
    passthrough = isinstance(transformer, str) and transformer == "passthrough"
    transformers = {
        role: None if passthrough or not columns[role] else clone(transformer)
        for role in ("covariates", "controls")
    }
    check_categorical(
        X, columns, names, () if passthrough else ("covariates", "controls")
    )
    out_names = {role: tuple(names[i] for i in columns[role]) for role in ROLES}
    values, positions, out_names = _role_matrix(
        X, columns, transformers, out_names, fit=True
    )
    return FittedRoles(columns, out_names, transformers, len(names)), values, positions


def check_categorical(X, columns, names, encoded=()) -> None:
    """A Categorical column is never used as numbers: one error naming it.

    Its categories are labels (pandas Categorical, polars Categorical and
    Enum, pyarrow dictionary columns): taken as numbers (their values, or
    their codes) they would make the treatment, the mediator or a linear
    term of a grouping out of labels, which is rarely meant. The covariates
    and controls of the roles in ``encoded`` go through a covariate
    transformer, which decides for itself; the treatment and the mediator
    are never transformed. String columns are refused likewise (by
    :func:`_as_float`).
    """
    used = [(role, i) for role in ROLES if role not in encoded for i in columns[role]]
    found = categorical_columns(X, [i for _, i in used])
    for role, i in used:
        if i in found:
            raise ValueError(_categorical_message(found[i], role, str(names[i])))


def _categorical_message(column, role: str, name: str) -> str:
    categories = list(column.categories)
    shown = ", ".join(map(repr, categories[:5])) + (
        ", ..." if len(categories) > 5 else ""
    )
    kind = "an ordered" if column.ordered and column.kind == "Categorical" else "a"
    polars = column.library != "pandas"
    what = (
        f"column {name!r} ({ROLE_LABEL[role]}) is {kind} {column.library} "
        f"{column.kind} (categories {shown}): its categories are labels, not "
        "numbers"
    )
    label = repr(categories[-1]) if categories else "'treated'"
    if role == "treatment":
        example = (
            f"X.with_columns((pl.col({name!r}) == {label}).cast(pl.Int8))"
            if polars
            else f"X[{name!r}] = (X[{name!r}] == {label}).astype(int)"
        )
        return (
            f"{what}, and the treatment must be numeric. Code the arms as 0 "
            f"(control) and 1 (treated), for example {example} if {label} is "
            "the treated arm"
        )
    as_float = (
        f"X.with_columns(pl.col({name!r}).cast(pl.String).cast(pl.Float64))"
        if polars
        else f"X[{name!r}].astype(float)"
    )
    if role == "mediator":
        example = (
            f"(pl.col({name!r}) == {label}).cast(pl.Int8)"
            if polars
            else f"(X[{name!r}] == {label}).astype(int)"
        )
        return (
            f"{what}, and the mediator must be numeric. Code it as numbers: 0 "
            f"and 1 for a binary mediator (for example {example}), or, if its "
            f"categories are measurements, convert them ({as_float})"
        )
    selector = (
        "a function of the frame that returns the names of its Categorical "
        "and string columns"
        if polars
        else "make_column_selector(dtype_exclude='number')"
    )
    return (
        f"{what}, so it is not used as a linear term. One-hot encode it with "
        "covariate_transformer, for example make_column_transformer("
        f"(OneHotEncoder(drop='first', sparse_output=False), {selector}), "
        "remainder='passthrough', verbose_feature_names_out=False), which "
        "encodes string and Categorical columns alike; to use its values "
        f"as numbers, convert it first ({as_float})"
    )


def _select(X, cols):
    """The columns ``cols`` of ``X``, as ``(values, columns)`` or a gathered array.

    Returns ``(values, columns)`` with the columns ``values[:, columns]``
    (numeric data, not copied) or ``(array, None)`` (gathered; object dtype
    if not all numeric).
    """
    cols = list(cols)
    if not is_dataframe(X):
        values = np.asarray(X)
        if values.dtype.kind in "fiub":
            return values.astype(float, copy=False), np.asarray(cols, dtype=np.intp)
        return values[:, cols], None
    if not cols:
        return np.empty((X.shape[0], 0)), None
    if X.shape[0] == 0:  # a zero-row template
        return np.empty((0, len(cols))), None
    if isinstance(X, pd.DataFrame) and not X.columns.has_duplicates:
        if X.shape[0] * X.shape[1] <= SMALL_FRAME:
            # converting a small frame whole costs less than reading its dtypes
            values = X.to_numpy()
            if values.dtype.kind in "fiub":
                return values.astype(float, copy=False), np.asarray(cols, dtype=np.intp)
            return values[:, cols], None
        kinds = [getattr(dtype, "kind", "O") for dtype in column_dtypes(X)]
        if all(kinds[i] in "fiub" for i in cols):
            return np.column_stack(
                [X[X.columns[i]].to_numpy(dtype=float, na_value=np.nan) for i in cols]
            ), None
    if not hasattr(X, "iloc"):  # polars, pyarrow, ...: through narwhals
        return column_values(X, cols), None
    return np.column_stack([np.asarray(X[X.columns[i]]) for i in cols]), None


def _role_matrix(X, columns, transformers, names, *, fit: bool):
    """The float role matrix ``(values, columns)`` and each role's column names.

    Roles without a transformer are selected together (one conversion of
    ``X``); numeric data without a transformer is returned uncopied with the
    role columns' positions (see :func:`fit_roles`).
    """
    out_names = dict(names)
    plain = [role for role in ROLES if transformers.get(role) is None]
    values, positions = _select(X, [i for role in plain for i in columns[role]])
    if len(plain) == len(ROLES) and positions is not None:
        return values, positions, out_names  # numeric, passthrough: no copy
    selected = values if positions is None else values[:, positions]
    numeric = selected.dtype.kind in "fiub"
    blocks, start = {}, 0
    for role in plain:
        width = len(columns[role])
        block = selected[:, start : start + width]
        start += width
        blocks[role] = block if numeric else _as_float(block, out_names[role], role)
    for role in ROLES:
        transformer = transformers.get(role)
        if transformer is None:
            continue
        cols = list(columns[role])
        frame = is_dataframe(X)
        part = select_columns(X, cols) if frame else np.asarray(X)[:, cols]
        try:
            block = (
                transformer.fit_transform(part) if fit else transformer.transform(part)
            )
        except (KeyError, ValueError) as exc:
            label = ROLE_LABEL[role]
            raise ValueError(
                f"covariate_transformer failed on the {label} columns "
                f"{[str(c) for c in (column_names(part) if frame else cols)]}: "
                f"{exc}. It is cloned and applied to the covariates and, "
                "separately, to the controls; select its columns by type (for "
                "example make_column_selector(dtype_exclude='number')) rather "
                "than by name"
            ) from None
        if hasattr(block, "toarray"):
            block = block.toarray()
        block = np.asarray(block)
        if block.ndim == 1:
            block = block[:, None]
        if fit:
            out_names[role] = _output_names(transformer, block.shape[1], role)
        blocks[role] = _as_float(block, out_names[role], role)
    raw = np.hstack([blocks[role] for role in ROLES])
    return raw.astype(float, copy=False), None, out_names


def _output_names(transformer, n_out: int, role: str) -> tuple[str, ...]:
    try:
        names = [str(c) for c in transformer.get_feature_names_out()]
        if len(names) == n_out:
            return tuple(names)
    except (AttributeError, ValueError, TypeError):
        pass
    return tuple(f"{ROLE_LABEL[role]}{j}" for j in range(n_out))


def _as_float(block: np.ndarray, names, role: str) -> np.ndarray:
    """One role's columns as floats, naming any column that is not numeric."""
    label = ROLE_LABEL[role]
    if block.dtype.kind in "fiub":
        return block.astype(float, copy=False)
    if np.iscomplexobj(block):
        raise ValueError(
            f"Complex data not supported in the {label} columns {list(names)}"
        )
    try:
        return np.asarray(block, dtype=float)
    except (TypeError, ValueError):
        for j, name in enumerate(names):
            missing = pd.isna(block[:, j])
            if missing.any():  # pd.NA of a nullable column
                raise ValueError(
                    f"column {name!r} ({label}) has {int(missing.sum())} missing "
                    "value(s); remove or impute those rows"
                ) from None
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
