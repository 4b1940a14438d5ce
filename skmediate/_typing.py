"""Type aliases of the public API's signatures."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, TypeAlias

import numpy as np

# A column: a name for a dataframe, a position for an array.
Column: TypeAlias = Hashable
Columns: TypeAlias = Hashable | Sequence[Hashable] | None
# Data that scikit-learn reads: an array-like, a pandas, polars or pyarrow
# frame (or Series), a dask array or DataFrame.
Data: TypeAlias = Any
RandomState: TypeAlias = int | np.random.Generator | np.random.RandomState | None
