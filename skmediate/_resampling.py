"""Resampling plans of the bootstrap: units, strata, and the draws of each scheme.

Pure functions on numpy arrays. A resample is one value per resampling unit (a
row, or a whole cluster): a count for the pairs bootstrap, a weight for the
Bayesian bootstrap, a multiplier of the residuals for the wild bootstrap. Every
draw comes from one ``numpy.random.Generator`` in a fixed order and each block
of resamples is drawn by a single call, so the values do not depend on how the
resamples are split into blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import lgamma, log

import numpy as np

__all__ = [
    "SCHEMES",
    "Units",
    "draw",
    "jackknife",
    "log_distinct_resamples",
    "make_units",
    "pairs_rows",
]

SCHEMES = ("pairs", "bayesian", "wild", "wild_mammen")

# Mammen's two-point distribution: mean 0, variance 1, third moment 1.
_MAMMEN_LOW = -(np.sqrt(5) - 1) / 2
_MAMMEN_HIGH = (np.sqrt(5) + 1) / 2
_MAMMEN_P_LOW = (np.sqrt(5) + 1) / (2 * np.sqrt(5))


@dataclass(frozen=True, eq=False)
class Units:
    """Resampling units of the rows and the stratum of each unit.

    Attributes
    ----------
    codes : ndarray of shape (n_rows,) of int
        Unit ``0..n_units-1`` of each row (the row itself without clusters).
    n_units : int
    strata : ndarray of shape (n_units,) of int
        Stratum ``0..S-1`` of each unit.
    mass : ndarray of shape (n_units,)
        Total frequency weight of the rows of each unit.
    clustered : bool
        Whether the units are clusters of rows.
    """

    codes: np.ndarray
    n_units: int
    strata: np.ndarray
    mass: np.ndarray
    clustered: bool


def make_units(
    n_rows: int,
    strata: np.ndarray | None,
    groups: np.ndarray | None,
    row_weights: np.ndarray | None,
) -> Units:
    """Units from cluster labels (``None``: every row) and stratum labels per row.

    Raises
    ------
    ValueError
        If a cluster spans several strata.
    """
    if groups is None:
        codes = np.arange(n_rows)
    else:
        _, codes = np.unique(groups, return_inverse=True)
        codes = codes.reshape(-1)
    n_units = int(codes.max()) + 1 if n_rows else 0
    if strata is None:
        unit_strata = np.zeros(n_units, dtype=int)
    else:
        _, row_strata = np.unique(strata, return_inverse=True)
        row_strata = row_strata.reshape(-1)
        unit_strata = np.zeros(n_units, dtype=int)
        unit_strata[codes] = row_strata
        mixed = np.flatnonzero(unit_strata[codes] != row_strata)
        if mixed.size:
            label = np.asarray(groups)[mixed[0]]
            raise ValueError(
                "strata must be constant within each cluster of groups: the rows "
                f"of cluster {label!r} belong to more than one stratum"
            )
    weights = np.ones(n_rows) if row_weights is None else row_weights
    mass = np.bincount(codes, weights=weights, minlength=n_units)
    return Units(codes, n_units, unit_strata, mass, groups is not None)


def _stratum_layout(units: Units):
    """Units sorted by stratum, and for each slot its stratum size and offset."""
    order = np.argsort(units.strata, kind="stable")
    sizes = np.bincount(units.strata)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    slot_strata = units.strata[order]
    return order, sizes[slot_strata], starts[slot_strata]


def draw(scheme: str, units: Units, n_resamples: int, rng, block: int):
    """Yield the resamples in blocks: arrays of shape (≤ block, n_units).

    - ``"pairs"``: counts. Within each stratum of ``m`` units, ``m`` units are
      drawn with replacement; without strata and clusters the draws are
      ``rng.integers(0, n, size=(b, n))``, as in ``scipy.stats.bootstrap``.
    - ``"bayesian"``: Dirichlet(1, ..., 1) weights of the units in each
      stratum (normalized standard exponentials), scaled so that the total
      weight of each stratum's rows is unchanged.
    - ``"wild"``: Rademacher multipliers (±1 with probability 1/2 each).
    - ``"wild_mammen"``: Mammen's two-point multipliers ``-(√5-1)/2`` with
      probability ``(√5+1)/(2√5)`` and ``(√5+1)/2`` otherwise.
    """
    n = units.n_units
    if scheme == "pairs":
        order, high, offset = _stratum_layout(units)
    elif scheme == "bayesian":
        members = [
            np.flatnonzero(units.strata == s) for s in range(units.strata.max() + 1)
        ]
    for start in range(0, n_resamples, block):
        b = min(block, n_resamples - start)
        if scheme == "pairs":
            if high.size and high[0] == n:  # one stratum: the draws of scipy
                slots = rng.integers(0, n, size=(b, n))
            else:
                slots = order[rng.integers(0, high, size=(b, n)) + offset]
            flat = (np.arange(b)[:, None] * n + slots).ravel()
            yield np.bincount(flat, minlength=b * n).reshape(b, n).astype(float)
        elif scheme == "bayesian":
            weights = rng.standard_exponential(size=(b, n))
            for unit in members:
                # row by row, so the result does not depend on the block size
                totals = (weights[:, unit] * units.mass[unit]).sum(axis=1)
                target = units.mass[unit].sum()
                with np.errstate(divide="ignore", invalid="ignore"):
                    weights[:, unit] *= np.where(totals > 0, target / totals, 0.0)[
                        :, None
                    ]
            yield weights
        elif scheme == "wild":
            yield 2.0 * rng.integers(0, 2, size=(b, n)) - 1.0
        else:
            low = rng.random(size=(b, n)) < _MAMMEN_P_LOW
            yield np.where(low, _MAMMEN_LOW, _MAMMEN_HIGH)


def jackknife(units: Units, block: int):
    """Yield leave-one-unit-out indicators in blocks: arrays (≤ block, n_units)."""
    n = units.n_units
    for start in range(0, n, block):
        stop = min(n, start + block)
        keep = np.ones((stop - start, n))
        keep[np.arange(stop - start), np.arange(start, stop)] = 0.0
        yield keep


def log_distinct_resamples(scheme: str, units: Units) -> float:
    """Logarithm of the number of distinct resamples a scheme can produce.

    Pairs: ``∏_s C(2m_s - 1, m_s)`` multisets for strata of ``m_s`` units;
    wild: ``2^n`` sign patterns; Bayesian: infinitely many.
    """
    if scheme == "bayesian":
        return np.inf
    if scheme == "pairs":
        sizes = np.bincount(units.strata)
        return sum(lgamma(2 * m) - lgamma(m + 1) - lgamma(m) for m in sizes if m)
    return units.n_units * log(2)


def pairs_rows(
    counts: np.ndarray, units: Units
) -> tuple[np.ndarray, np.ndarray | None]:
    """Row indices of a pairs resample, and the draw each row belongs to.

    ``counts`` has one count per unit; each row is repeated as often as its
    unit was drawn. With clusters, the second array numbers the draws
    ``0, 1, ...`` so that a cluster drawn twice can be told apart from
    itself (``None`` without clusters).
    """
    row_counts = counts[units.codes].astype(np.intp)
    rows = np.repeat(np.arange(units.codes.shape[0]), row_counts)
    if not units.clustered:
        return rows, None
    # copy number of each repeated row: 0 .. count - 1
    first = np.repeat(np.cumsum(row_counts) - row_counts, row_counts)
    copy = np.arange(rows.shape[0]) - first
    _, draw_ids = np.unique(
        np.column_stack([units.codes[rows], copy]), axis=0, return_inverse=True
    )
    return rows, draw_ids.reshape(-1)
