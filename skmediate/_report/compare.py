"""Fits side by side: :func:`compare` (the paper's Table 1 is such a comparison)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from skmediate._report.document import Summary, Table

__all__ = ["Comparison", "compare"]


def compare(results: Any, names: Sequence[str] | None = None) -> Comparison:
    """Several fits side by side: estimates with standard errors, and fit statistics.

    Parameters
    ----------
    results : sequence of MediationResult or fitted estimators
        For example ``[naive.result_, iv.result_]`` (an estimator stands for
        its ``result_``).
    names : sequence of str, optional
        Column headings; by default each fit's method (``"OLS"``, ``"IV-2SLS"``,
        ...), numbered when repeated.

    Returns
    -------
    Comparison
        Prints as text, renders as HTML in Jupyter, and gives the numbers
        as a DataFrame (:meth:`Comparison.to_frame`).
    """
    results = [getattr(r, "result_", r) for r in results]
    if not results:
        raise ValueError("compare needs at least one result")
    for r in results:
        if not hasattr(r, "params") or not hasattr(r, "std_errors"):
            raise TypeError(
                "compare takes fitted estimators or their result_ "
                f"(MediationResult); got {type(r).__name__}"
            )
    if names is None:
        names = [r.method for r in results]
        if len(set(names)) < len(names):
            names = [f"({i + 1}) {n}" for i, n in enumerate(names)]
    names = [str(n) for n in names]
    if len(names) != len(results) or len(set(names)) < len(names):
        raise ValueError(
            f"names must give one distinct name per result ({len(results)}); "
            f"got {names}"
        )
    return Comparison(tuple(results), tuple(names))


@dataclass(frozen=True, eq=False)
class Comparison:
    """Fits side by side (see :func:`compare`)."""

    results: tuple
    names: tuple

    def terms(self) -> list:
        """The term names of all fits.

        Returns
        -------
        list of str
            Each term once, in the order the fits first have it.
        """
        out = []
        for r in self.results:
            out += [t for t in r.params.index if t not in out]
        return out

    def to_frame(self) -> pd.DataFrame:
        """The estimates side by side.

        Returns
        -------
        pandas.DataFrame
            One row per term; columns ``(fit, "estimate")``,
            ``(fit, "std_error")`` and ``(fit, "pvalue")`` for each fit.
        """
        columns = {}
        for name, r in zip(self.names, self.results, strict=True):
            columns[(name, "estimate")] = r.params
            columns[(name, "std_error")] = r.std_errors
            columns[(name, "pvalue")] = r.pvalues
        frame = pd.DataFrame(columns).reindex(self.terms())
        frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["fit", None])
        return frame

    def statistics(self) -> pd.DataFrame:
        """The fit statistics side by side.

        Returns
        -------
        pandas.DataFrame
            Rows: observations, R², covariance type, first-stage F and
            whether the instruments are weak; one column (of text) per fit.
        """
        rows = {}
        for name, r in zip(self.names, self.results, strict=True):
            fs = r.first_stage
            rows[name] = {
                "No. observations": f"{r.nobs:g}",
                "R-squared": f"{r.rsquared:.4f}",
                "Covariance": str(r.cov_type),
                "First-stage F": "" if fs is None else f"{fs.f_statistic:.2f}",
                "Instruments weak": ""
                if fs is None
                else ("yes" if fs.is_weak else "no"),
            }
        return pd.DataFrame(rows)

    def table(self, digits: int = 4) -> Table:
        """The comparison as a table of the report renderer.

        Parameters
        ----------
        digits : int, default=4
            Decimals of the estimates and standard errors.

        Returns
        -------
        Table
            Estimates with standard errors in parentheses beneath, then the
            fit statistics; the renderer writes it as text or HTML.
        """
        from skmediate._report.document import Table

        frame = self.to_frame()
        rows = []
        for term in frame.index:
            estimates, errors = [], []
            for name in self.names:
                est = frame.loc[term, (name, "estimate")]
                se = frame.loc[term, (name, "std_error")]
                ok = isinstance(est, float) and math.isfinite(est)
                estimates.append(f"{est:.{digits}f}" if ok else "")
                errors.append(f"({se:.{digits}f})" if ok else "")
            rows += [(term, *estimates), ("", *errors)]
        for row, values in self.statistics().iterrows():
            rows.append((row, *values))
        return Table(
            header=("", *self.names),
            rows=tuple(rows),
            align="l" + "r" * len(self.names),
            caption="Standard errors in parentheses.",
        )

    def summary(self) -> Summary:
        """Summarize the comparison.

        Returns
        -------
        Summary
            The side-by-side table as text, Markdown, HTML and LaTeX.
        """
        from skmediate._report.document import Summary

        return Summary((self.table(),), style="report")

    def __str__(self) -> str:
        return self.summary().as_text().rstrip("\n")

    def __repr__(self) -> str:
        return self.__str__()

    def _repr_html_(self) -> str:
        from skmediate._report.document import _html_table

        return _html_table(self.table())
