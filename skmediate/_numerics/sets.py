"""Confidence sets as unions of intervals, and the exact inversions that build them.

Every set here is the solution of a quadratic inequality in the tested value
(solved in closed form, :func:`quadratic_set`), a combination of such sets
(Bonferroni), or comes from :mod:`~skmediate._numerics.weakiv` and
:mod:`~skmediate._numerics.wild`. No grid is involved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skmediate._numerics.sensitivity import quadratic_roots

__all__ = [
    "ConfidenceSet",
    "difference_set",
    "fieller_set",
    "format_set",
    "merge_intervals",
    "one_minus_ratio_set",
    "quadratic_set",
]

inf = np.inf


@dataclass(frozen=True)
class ConfidenceSet:
    """A confidence set: a union of disjoint closed intervals, ends possibly infinite.

    Attributes
    ----------
    intervals : tuple of (float, float)
        In increasing order; ``-inf``/``inf`` for unbounded ends.
    effect : str
    method : str
    confidence_level : float
    mediator : str
        The mediator of a mediator effect in a fit with several (else ``""``).

    ``x in s`` tests membership; iterating gives the intervals.
    """

    intervals: tuple
    effect: str = ""
    method: str = ""
    confidence_level: float = np.nan
    mediator: str = ""

    def __post_init__(self):
        pieces = tuple((float(lo), float(hi)) for lo, hi in self.intervals)
        object.__setattr__(self, "intervals", pieces)

    @property
    def is_bounded(self) -> bool:
        """Whether every end is finite (the empty set is bounded)."""
        return all(np.isfinite(lo) and np.isfinite(hi) for lo, hi in self.intervals)

    @property
    def is_empty(self) -> bool:
        """Whether the set has no point (every value was rejected)."""
        return not self.intervals

    def __contains__(self, value) -> bool:
        value = float(value)
        return any(lo <= value <= hi for lo, hi in self.intervals)

    def __iter__(self):
        return iter(self.intervals)

    def __len__(self) -> int:
        return len(self.intervals)

    def __repr__(self) -> str:
        body = format_set(self.intervals)
        label = ", ".join(
            part
            for part in (
                f"{self.effect}[{self.mediator}]" if self.mediator else self.effect,
                self.method,
                f"{self.confidence_level:.0%}"
                if np.isfinite(self.confidence_level)
                else "",
            )
            if part
        )
        return f"ConfidenceSet({body}{'; ' + label if label else ''})"


def format_set(intervals, spec: str = ".6g") -> str:
    """A union of intervals in the library's one notation for sets.

    Each interval is ``[a, b]``, with a parenthesis at an infinite end
    (``(-inf, b]``, ``[a, inf)``); pieces are joined by `` U ``; no interval
    is ``empty``. ``spec`` formats the ends (``".3f"``: three decimals).
    ``ConfidenceSet``'s repr, the summaries and the report all write sets
    with it.

    >>> format_set([(-np.inf, -1.0), (2.5, np.inf)], ".2f")
    '(-inf, -1.00] U [2.50, inf)'
    >>> format_set([])
    'empty'
    """
    if not len(intervals):
        return "empty"
    return " U ".join(
        f"{'(' if np.isinf(lo) else '['}{lo:{spec}}, {hi:{spec}}"
        f"{')' if np.isinf(hi) else ']'}"
        for lo, hi in intervals
    )


def quadratic_set(q0: float, q1: float, q2: float) -> list[tuple[float, float]]:
    """``{t : q0 + q1 t + q2 t² ≤ 0}`` as disjoint closed intervals."""
    scale = max(abs(q0), abs(q1), abs(q2))
    if scale == 0:
        return [(-inf, inf)]
    q0, q1, q2 = q0 / scale, q1 / scale, q2 / scale
    roots = quadratic_roots(q0, q1, q2)
    if abs(q2) <= 1e-14 * (abs(q1) + abs(q0)):  # linear (or constant)
        if q1 == 0:
            return [(-inf, inf)] if q0 <= 0 else []
        t = float(roots[0])
        return [(-inf, t)] if q1 > 0 else [(t, inf)]
    if roots.size < 2:
        return [(-inf, inf)] if q2 < 0 else []
    lo, hi = float(roots[0]), float(roots[1])
    if q2 > 0:
        return [(lo, hi)]
    return [(-inf, lo), (hi, inf)]


def fieller_set(
    a: float, b: float, vaa: float, vab: float, vbb: float, crit: float
) -> list[tuple[float, float]]:
    """Fieller's set for the ratio ``a/b`` of jointly normal estimates.

    ``{θ : (a - θb)² ≤ crit² (vaa - 2θ vab + θ² vbb)}``: a bounded interval
    when ``b`` is significantly different from 0 at this level, else two
    half-lines or the whole line (Fieller 1954).
    """
    c2 = crit * crit
    return quadratic_set(a * a - c2 * vaa, -2 * a * b + 2 * c2 * vab, b * b - c2 * vbb)


def merge_intervals(pieces) -> list[tuple[float, float]]:
    """The union of closed intervals, as disjoint intervals in increasing order."""
    pieces = sorted(pieces)
    out: list[list[float]] = []
    for lo, hi in pieces:
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(float(lo), float(hi)) for lo, hi in out]


def difference_set(total, direct) -> list[tuple[float, float]]:
    """``{t - r : t ∈ total, r ∈ direct}`` for unions of intervals."""
    if not total or not direct:
        return []
    return merge_intervals(
        (t_lo - r_hi, t_hi - r_lo) for t_lo, t_hi in total for r_lo, r_hi in direct
    )


def one_minus_ratio_set(direct, total) -> list[tuple[float, float]]:
    """``{1 - r/t : r ∈ direct, t ∈ total}`` for unions of intervals.

    The whole line when ``total`` contains 0 (and ``direct`` is not ``{0}``):
    a total effect that may be 0 leaves the proportion mediated unbounded.
    """
    if not total or not direct:
        return []
    pieces = []
    for t_lo, t_hi in total:
        if t_lo <= 0 <= t_hi:
            return [(-inf, inf)]
        for r_lo, r_hi in direct:
            # r/t on a rectangle with t of one sign: monotone in each argument
            with np.errstate(invalid="ignore", divide="ignore"):
                corners = [r / t for r in (r_lo, r_hi) for t in (t_lo, t_hi)]
            # (an unbounded end of r gives ±inf corners, as it should)
            pieces.append((1.0 - max(corners), 1.0 - min(corners)))
    return merge_intervals(pieces)
