"""Input validation; the only module that imports private scikit-learn API."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from numbers import Integral

import narwhals.stable.v2 as nw
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.base import _fit_context as fit_context
from sklearn.utils import check_random_state
from sklearn.utils._indexing import _get_column_indices, _safe_indexing
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    make_constraint,
    validate_params,
)
from sklearn.utils.validation import (
    _check_sample_weight,
    _check_y,
    _num_samples,
    validate_data,
)

__all__ = [
    "MISSING_POLICIES",
    "HasMethods",
    "Interval",
    "MissingRows",
    "StrOptions",
    "CategoricalColumn",
    "as_float_vector",
    "categorical_columns",
    "check_groups",
    "check_outcome",
    "check_sample_weight",
    "column_indices",
    "column_names",
    "column_values",
    "drop_missing",
    "fit_features",
    "fit_context",
    "is_dataframe",
    "is_missing",
    "missing_in_columns",
    "n_rows",
    "param_names",
    "params_satisfy_constraints",
    "select_columns",
    "series_name",
    "validate_params",
    "take_rows",
]


def is_dataframe(X) -> bool:
    """Whether ``X`` is a dataframe.

    pandas and dask DataFrames, and every eager dataframe that scikit-learn
    reads through narwhals (polars, pyarrow Tables, ...).
    """
    if isinstance(X, (np.ndarray, pd.DataFrame)):  # the common cases, fast
        return isinstance(X, pd.DataFrame)
    return (
        hasattr(X, "columns") and hasattr(X, "iloc")
    ) or nw.dependencies.is_into_dataframe(X)


def _is_pandas_like(X) -> bool:
    """pandas and dask DataFrames, read through their own API."""
    return hasattr(X, "iloc")


def column_names(X) -> list:
    """The column labels of a dataframe, in order (pandas keeps their types)."""
    if _is_pandas_like(X):
        return list(X.columns)
    return list(nw.from_native(X, eager_only=True).columns)


def column_dtypes(X) -> np.ndarray:
    """The dtypes of a pandas (or dask) DataFrame's columns, as an object array.

    ``DataFrame.dtypes`` wraps them in a Series, whose construction costs
    more than a small fit's arithmetic; pandas' block manager lists them
    directly (read when present, else the public attribute).
    """
    get_dtypes = getattr(getattr(X, "_mgr", None), "get_dtypes", None)
    if callable(get_dtypes):
        dtypes = get_dtypes()
        if isinstance(dtypes, np.ndarray) and dtypes.shape == (X.shape[1],):
            return dtypes
    return X.dtypes.to_numpy()


def column_values(X, positions) -> np.ndarray:
    """Columns ``positions`` of a dataframe that is not pandas, as one array.

    Float when every column is numeric or boolean (missing values become
    NaN), object otherwise, as pandas' ``to_numpy`` gives them.
    """
    frame = nw.from_native(X, eager_only=True)
    names = frame.columns
    series = [frame.get_column(names[i]) for i in positions]
    numeric = [s.dtype.is_numeric() or s.dtype == nw.Boolean for s in series]
    columns = [
        s.cast(nw.Float64).to_numpy() if is_numeric else s.to_numpy()
        for s, is_numeric in zip(series, numeric, strict=True)
    ]
    # column-major, as pandas' to_numpy gives a frame's values, so that the
    # fit's reductions add in the same order whichever library holds the data
    out = np.empty(
        (frame.shape[0], len(columns)),
        dtype=float if all(numeric) else object,
        order="F",
    )
    for j, column in enumerate(columns):
        out[:, j] = column
    return out


def select_columns(X, positions):
    """The columns ``positions`` of a dataframe, as a dataframe of its own kind."""
    return _safe_indexing(X, list(positions), axis=1)


def series_name(a) -> str | None:
    """The name of a pandas, dask, polars (...) Series; None for anything else.

    A polars Series' default name, the empty string, counts as no name.
    """
    if a is None or isinstance(a, np.ndarray):
        return None
    if isinstance(a, pd.Series) or hasattr(a, "to_dask_array"):
        name = getattr(a, "name", None)
        return None if name is None else str(name)
    if nw.dependencies.is_into_series(a):
        name = nw.from_native(a, series_only=True).name
        return str(name) if name not in (None, "") else None
    return None


@cache
def param_names(cls) -> tuple:
    """The constructor's parameters of an estimator class, read off its signature once."""
    return tuple(BaseEstimator._get_param_names.__func__(cls))


@cache
def _constraint_objects(cls) -> dict:
    """``cls._parameter_constraints`` as constraint objects, made once per class."""
    return {
        name: [make_constraint(c) for c in constraints]
        for name, constraints in cls._parameter_constraints.items()
        if not (isinstance(constraints, str) and constraints == "no_validation")
    }


def params_satisfy_constraints(estimator) -> bool:
    """Whether every parameter satisfies one of its constraints.

    scikit-learn's validation makes the constraint objects anew on every fit;
    here they are made once per class. A False answer is for scikit-learn's
    own validation to explain.
    """
    table = _constraint_objects(type(estimator))
    for name, value in estimator.get_params(deep=False).items():
        for constraint in table.get(name, ()):
            if constraint.is_satisfied_by(value):
                break
        else:
            if name in table:
                return False
    return True


def fit_features(estimator, X) -> list | None:
    """Record ``n_features_in_`` and ``feature_names_in_`` of the fitting data.

    Returns the column names of a dataframe whose names are all strings
    (None otherwise).

    What ``validate_data(estimator, X, reset=True, skip_check_array=True)``
    does; a dataframe's column names are read directly, which for pandas
    costs microseconds rather than the general dataframe protocol's fraction
    of a millisecond (a fit of a few hundred rows takes about a millisecond).
    """
    if not is_dataframe(X):
        validate_data(estimator, X, reset=True, skip_check_array=True)
        return None
    names = column_names(X)
    unique = not X.columns.has_duplicates if isinstance(X, pd.DataFrame) else None
    duplicated = (
        []
        if unique
        else sorted({str(c) for c, count in Counter(names).items() if count > 1})
    )
    if duplicated:
        raise ValueError(
            f"X has duplicate column names {duplicated}; rename them so that each "
            "role names one column"
        )
    kinds = {type(c) for c in names}
    estimator.n_features_in_ = len(names)
    if kinds == {str}:
        estimator.feature_names_in_ = np.asarray(names, dtype=object)
        return names
    if str in kinds:  # sklearn's message for mixed names
        validate_data(estimator, X, reset=True, skip_check_array=True)
    if hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_
    return None


@dataclass(frozen=True)
class CategoricalColumn:
    """A column whose values are category labels (pandas, polars, pyarrow ...).

    Attributes
    ----------
    library : str
        The dataframe library (``"pandas"``, ``"polars"``, ...).
    kind : str
        ``"Categorical"`` or ``"Enum"`` (polars).
    categories : tuple
    ordered : bool
        Whether a pandas Categorical is ordered (polars' are not marked).
    """

    library: str
    kind: str
    categories: tuple
    ordered: bool


def categorical_columns(X, positions) -> dict[int, CategoricalColumn]:
    """The columns among ``positions`` of a dataframe that hold categories.

    pandas Categorical columns (also of a dask DataFrame's zero-row
    template), and polars Categorical and Enum columns or pyarrow dictionary
    columns (any dataframe read through narwhals). Arrays have none.
    """
    positions = list(positions)
    if not positions or not is_dataframe(X):
        return {}
    if _is_pandas_like(X):
        dtypes = column_dtypes(X)
        return {
            i: CategoricalColumn(
                "pandas",
                "Categorical",
                tuple(dtypes[i].categories),
                bool(dtypes[i].ordered),
            )
            for i in positions
            if isinstance(dtypes[i], pd.CategoricalDtype)
        }
    frame = nw.from_native(X, eager_only=True)
    names, schema = frame.columns, frame.schema
    library = nw.get_native_namespace(frame).__name__.split(".")[0]
    found = {}
    for i in positions:
        dtype = schema[names[i]]
        if isinstance(dtype, nw.Enum):
            kind = "Enum"
            categories = tuple(dtype.categories)
        elif dtype == nw.Categorical:
            kind = "Categorical"
            categories = tuple(frame.get_column(names[i]).cat.get_categories())
        else:
            continue
        found[i] = CategoricalColumn(library, kind, categories, False)
    return found


def n_rows(X) -> int:
    return _num_samples(X)


def take_rows(X, rows: np.ndarray):
    """Rows ``rows`` of an array, DataFrame, Series or list (repeats allowed)."""
    return _safe_indexing(X, rows, axis=0)


def column_indices(X, key) -> list[int]:
    """Integer positions of the columns that ``key`` selects, as ColumnTransformer does."""
    return list(_get_column_indices(X, key))


def check_outcome(y, estimator) -> np.ndarray:
    """A float vector; a column vector is raveled with a warning.

    A 1-d numeric array or Series is taken as it is (its values are checked
    in the fit's first pass); anything else goes through scikit-learn's
    checks.
    """
    if not isinstance(y, (np.ndarray, pd.Series)) and nw.dependencies.is_into_series(
        y
    ):  # a polars (...) Series
        y = nw.from_native(y, series_only=True).to_numpy()
    values = getattr(y, "values", y) if hasattr(y, "dtype") else None
    if (
        isinstance(values, np.ndarray)
        and values.ndim == 1
        and values.dtype.kind in "fiub"
    ):
        return values.astype(float, copy=False)
    return _check_y(y, y_numeric=True, estimator=estimator).astype(float, copy=False)


def as_float_vector(values) -> np.ndarray:
    """A float vector, missing values (``pd.NA`` of nullable columns too) as NaN."""
    if isinstance(values, (pd.Series, pd.Index)):
        return values.to_numpy(dtype=float, na_value=np.nan).reshape(-1)
    return np.asarray(values, dtype=float).reshape(-1)


def check_sample_weight(sample_weight, y) -> np.ndarray | None:
    """Non-negative finite sample weights of the right length, not all zero."""
    if sample_weight is None:
        return None
    return _check_sample_weight(
        sample_weight, y, dtype=np.float64, ensure_non_negative=True
    )


def check_groups(groups, n: int) -> np.ndarray:
    """Cluster labels of length ``n`` without missing values."""
    groups = np.asarray(groups)
    if groups.ndim != 1:
        groups = (
            groups.reshape(-1) if groups.ndim == 2 and 1 in groups.shape else groups
        )
    if groups.ndim != 1 or groups.shape[0] != n:
        raise ValueError(
            f"groups must be a 1-D array with one cluster label per row of X "
            f"({n}); got shape {groups.shape}"
        )
    if groups.dtype.kind == "f" and not np.isfinite(groups).all():
        raise ValueError("groups contains NaN or inf; every row needs a cluster label")
    if groups.dtype.kind == "O" and any(
        g is None or (isinstance(g, float) and np.isnan(g)) for g in groups
    ):
        raise ValueError(
            "groups contains missing values; every row needs a cluster label"
        )
    return groups


# The values of the estimators' ``missing`` parameter.
MISSING_POLICIES = ("raise", "drop")


@dataclass(frozen=True, eq=False)
class MissingRows:
    """The rows of a fit's input left out for missing values.

    Attributes
    ----------
    dropped : ndarray of int
        Positions (in the rows given) of the rows left out, in increasing order.
    counts : dict of str to int
        For each input with missing values (a column of ``X``, the outcome,
        ``sample_weight``, ``groups``), the number of rows missing it; a row
        missing several counts in each.
    """

    dropped: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.intp))
    counts: dict = field(default_factory=dict)


def is_missing(values) -> np.ndarray:
    """Elementwise: NaN, None, ``pd.NA`` or ``NaT`` (infinite values are not missing)."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iub":
        return np.zeros(values.shape, dtype=bool)
    if isinstance(values, np.ndarray) and values.dtype.kind in "fc":
        return np.isnan(values)
    return np.asarray(pd.isna(values), dtype=bool)


def missing_in_columns(X, columns) -> np.ndarray:
    """``(n, len(columns))``: which values of the columns ``columns`` of ``X`` are missing."""
    columns = list(columns)
    if not columns:
        return np.zeros((n_rows(X), 0), dtype=bool)
    if isinstance(X, pd.DataFrame):
        parts = [is_missing(X.iloc[:, i].to_numpy()) for i in columns]
    elif is_dataframe(X):
        parts = [is_missing(np.asarray(X[X.columns[i]])) for i in columns]
    else:
        return is_missing(np.asarray(X)[:, columns])
    return np.column_stack(parts)


def _as_vector(values, n: int):
    """``values`` as a 1-d array when it has one value per row (else None)."""
    if values is None:
        return None
    array = np.asarray(values)
    if array.ndim == 2 and 1 in array.shape:
        array = array.reshape(-1)
    if array.ndim != 1 or array.shape[0] != n:
        return None  # the input's own check reports the shape
    return array


def drop_missing(X, columns, names, vectors):
    """Leave out the rows with a missing value in any input a fit uses.

    Parameters
    ----------
    X : array or DataFrame
        Its rows are the fit's rows.
    columns : sequence of int
        Positions of the columns of ``X`` the fit uses.
    names : sequence of str
        Names of all columns of ``X``.
    vectors : dict of str to (str, array-like or None)
        The other inputs with one value per row (the outcome,
        ``sample_weight``, ``groups``): key -> ``(name in the counts, values)``;
        a name of None (or one a column of ``X`` already has) counts under
        the key. ``None`` values are not used.

    Returns
    -------
    X, vectors, MissingRows
        The rows of ``X`` and of each vector without missing values (the
        inputs themselves when nothing is missing; never modified), and what
        was left out.

    Raises
    ------
    ValueError
        When a vector does not have one value per row, or every row has a
        missing value.
    """
    n = n_rows(X)
    masks = {}
    if len(columns):
        by_column = missing_in_columns(X, columns)
        for j, i in enumerate(columns):
            masks[str(names[i])] = by_column[:, j]
    for key, (name, values) in vectors.items():
        if values is None:
            continue
        array = _as_vector(values, n)
        if array is None:
            shape = np.shape(values)
            size = shape[0] if len(shape) == 1 else f"shape {shape}"
            raise ValueError(f"X has {n} rows but {key} has {size}; they must match")
        label = key if name is None or str(name) in masks else str(name)
        masks[label] = is_missing(array)
    counts = {name: int(mask.sum()) for name, mask in masks.items() if mask.any()}
    if not counts:
        return X, {key: values for key, (_, values) in vectors.items()}, MissingRows()
    incomplete = np.logical_or.reduce(list(masks.values()))
    kept = np.flatnonzero(~incomplete)
    if kept.size == 0:
        listed = ", ".join(f"{name} ({count})" for name, count in counts.items())
        raise ValueError(
            f"every one of the {n} rows has a missing value in a column the fit "
            f"uses (missing values: {listed}), so missing='drop' leaves no data; "
            "impute the missing values or give the roles columns that are "
            "observed"
        )
    out = {
        key: None if values is None else take_rows(values, kept)
        for key, (_, values) in vectors.items()
    }
    dropped = np.flatnonzero(incomplete)
    return take_rows(X, kept), out, MissingRows(dropped, counts)


def positive_int(value, name: str) -> int:
    """``value`` as an int, or an error naming ``name`` unless it is an integer ≥ 1."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def as_generator(random_state) -> np.random.Generator:
    """A numpy Generator from None, an int, a SeedSequence, a Generator or a RandomState.

    A RandomState gives a Generator seeded by one draw from it, so the result
    is reproducible from the RandomState's state.
    """
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**32, dtype=np.uint64))
    if random_state is None or isinstance(
        random_state, (Integral, np.random.Generator, np.random.SeedSequence)
    ):
        return np.random.default_rng(random_state)
    raise TypeError(
        "random_state must be None, an int, a numpy SeedSequence, Generator or "
        f"RandomState; got {type(random_state).__name__}"
    )


def as_random_state(random_state) -> np.random.RandomState:
    """A numpy RandomState from None, an int, a RandomState, a Generator or a SeedSequence.

    Integers and RandomStates are taken as scikit-learn does (the same
    streams as ``check_random_state``); a Generator or SeedSequence seeds a
    RandomState with one draw, reproducibly.
    """
    if isinstance(random_state, np.random.Generator):
        return np.random.RandomState(random_state.integers(2**32, dtype=np.uint64))
    if isinstance(random_state, np.random.SeedSequence):
        return np.random.RandomState(random_state.generate_state(1)[0])
    return check_random_state(random_state)
