"""Linear restrictions on a fit's terms, written as text: ``"m = 0, r + m = 1"``.

:func:`parse_restrictions` turns them into ``(R, q)`` with ``R β = q``;
:class:`WaldTest` holds the test of them with the fit's covariance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from skmediate._numerics.diagnostics import reference_label

__all__ = ["WaldTest", "parse_restrictions"]

_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
    r"|(?P<op>[-+*=])|(?P<name>[^\s+\-*=,]+))"
)


@dataclass(frozen=True)
class WaldTest:
    """A Wald test of linear restrictions ``R β = q``.

    Attributes
    ----------
    statistic : float
        ``W = (Rβ - q)ᵀ (R V Rᵀ)⁻¹ (Rβ - q)``, or ``W / df`` when
        ``distribution`` is ``"F"``.
    pvalue : float
    df : int
        The number of restrictions.
    df_denom : float or None
        The denominator degrees of freedom of the F distribution (fits with
        ``use_t``), else None.
    distribution : {"chi2", "F"}
    restrictions : tuple of str
    """

    statistic: float
    pvalue: float
    df: int
    df_denom: float | None
    distribution: str
    restrictions: tuple

    def __repr__(self) -> str:
        ref = reference_label(self.distribution, self.df, self.df_denom)
        return (
            f"WaldTest({', '.join(self.restrictions)}: {ref} = "
            f"{self.statistic:.4g}, p = {self.pvalue:.4g})"
        )


def parse_restrictions(restrictions, terms) -> tuple[np.ndarray, np.ndarray, tuple]:
    """``(R, q, texts)`` for restrictions given as text or as ``(R, q)``.

    Text: restrictions separated by commas (or a list of strings), each a
    linear equation in the term names with numeric coefficients, such as
    ``"m = 0"``, ``"r + m = 1"`` or ``"2*x1 - x2 = 0"``.

    Raises
    ------
    ValueError
        Naming the unknown term or the part that cannot be read.
    """
    terms = list(terms)
    if isinstance(restrictions, tuple) and len(restrictions) == 2:
        r = np.atleast_2d(np.asarray(restrictions[0], dtype=float))
        q = np.atleast_1d(np.asarray(restrictions[1], dtype=float))
        if r.shape[1] != len(terms) or q.shape != (r.shape[0],):
            raise ValueError(
                f"restrictions (R, q) need R of shape (J, {len(terms)}) for the "
                f"terms {terms} and q of shape (J,); got {r.shape} and {q.shape}"
            )
        texts = tuple(f"restriction {i + 1}" for i in range(r.shape[0]))
        return r, q, texts
    if isinstance(restrictions, str):
        restrictions = restrictions.split(",")
    texts = tuple(str(t).strip() for t in restrictions if str(t).strip())
    if not texts:
        raise ValueError("no restriction given: write them as 'm = 0, r + m = 1'")
    rows, values = [], []
    for text in texts:
        row, value = _parse_one(text, terms)
        rows.append(row)
        values.append(value)
    return np.array(rows), np.array(values), texts


def _parse_one(text: str, terms: list) -> tuple[np.ndarray, float]:
    if text.count("=") != 1:
        raise ValueError(
            f"restriction {text!r} must be one equation with one '=', such as 'm = 0'"
        )
    row = np.zeros(len(terms))
    constant = 0.0
    for side, sign in zip(text.split("="), (1.0, -1.0), strict=True):
        for coef, name in _linear_terms(side, text):
            if name is None:
                constant -= sign * coef
            elif name not in terms:
                raise ValueError(
                    f"restriction {text!r} names {name!r}, which is not a term of "
                    f"the fit; its terms are {terms}"
                )
            else:
                row[terms.index(name)] += sign * coef
    if not row.any():
        raise ValueError(f"restriction {text!r} involves no term")
    return row, constant


def _linear_terms(side: str, text: str):
    """``(coefficient, name or None)`` for each term of one side of an equation."""
    tokens = []
    position = 0
    side = side.strip()
    while position < len(side):
        match = _TOKEN.match(side, position)
        if match is None or match.end() == position:
            raise ValueError(f"cannot read restriction {text!r} at {side[position:]!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    if not tokens:
        raise ValueError(f"restriction {text!r} has an empty side")
    out = []
    i, sign = 0, 1.0
    while i < len(tokens):
        kind, value = tokens[i]
        if kind == "op" and value in "+-":
            sign = sign * (-1.0 if value == "-" else 1.0)
            i += 1
            continue
        coef, name = 1.0, None
        if kind == "number":
            coef = float(value)
            i += 1
            if i < len(tokens) and tokens[i] == ("op", "*"):
                if i + 1 >= len(tokens) or tokens[i + 1][0] != "name":
                    raise ValueError(f"cannot read restriction {text!r}")
                name = tokens[i + 1][1]
                i += 2
        elif kind == "name":
            name = value
            i += 1
            if i < len(tokens) and tokens[i] == ("op", "*"):
                if i + 1 >= len(tokens) or tokens[i + 1][0] != "number":
                    raise ValueError(f"cannot read restriction {text!r}")
                coef = float(tokens[i + 1][1])
                i += 2
        else:
            raise ValueError(f"cannot read restriction {text!r}")
        out.append((sign * coef, name))
        sign = 1.0
        if i < len(tokens) and not (tokens[i][0] == "op" and tokens[i][1] in "+-"):
            raise ValueError(f"cannot read restriction {text!r}")
    return out
