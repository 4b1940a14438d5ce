"""The model's layout: which columns the fit's matrix has and where each role sits.

:class:`Design` is the one place that knows the layout of a mediation model. A
fit reads the role columns of each row chunk (the *raw* matrix, columns in the
order treatment, mediators, covariates, controls, and the outcome beside it) and
:meth:`Design.matrix` turns the chunk into the fit's matrix

``A = [1, X, Z, R, R·X, M, y]``   (shifted; see below)

whose columns are, in this order, the intercept, the ``p`` covariates, the
``q`` controls and the treatment (together the exogenous regressors ``W``), the
``p`` treatment × covariate interactions (the excluded instruments; the naive
model has none), the ``m`` mediators and the outcome.

**Shift.** Every raw column is shifted by a constant ``c`` (the mean of the
first rows) before the matrix is formed: ``A`` holds ``X - c_X``,
``R - c_R``, ``(R - c_R)(X - c_X)``, ``M - c_M`` and ``y - c_y``. With the
intercept and the treatment among the regressors the shifted columns span the
same space as ``[1, X, Z, R, R·(X - X̄), M]`` (``R·X`` and ``R·(X - X̄)``
differ by a multiple of ``R``), so no statistic changes; but a covariate
measured as ``10⁹ + x`` no longer makes the factor nearly singular.
:meth:`Design.reported` maps coefficients back to the reported terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

__all__ = ["Design"]

# Rows whose mean is the shift of each column.
SHIFT_ROWS = 256


@dataclass(frozen=True, eq=False)
class Design:
    """Layout of a mediation model.

    Parameters
    ----------
    treatment : str
        Name of the randomized treatment ``R``.
    mediators : tuple of str
        Names of the mediators ``M_1..M_m``.
    covariates : tuple of str
        Baseline covariates ``X`` (interacted with ``R`` for the instrumented
        model).
    controls : tuple of str
        Controls ``Z`` (regressors, never interacted).
    outcome : str
    instrumented : bool
        True for the instrumental-variable model (the interactions instrument
        the mediators), False for the naive least squares regression.
    """

    treatment: str
    mediators: tuple[str, ...]
    covariates: tuple[str, ...]
    controls: tuple[str, ...]
    outcome: str = "y"
    instrumented: bool = True

    # -- sizes and positions in the matrix A ---------------------------------

    @cached_property
    def n_mediators(self) -> int:
        return len(self.mediators)

    @cached_property
    def n_covariates(self) -> int:
        return len(self.covariates)

    @cached_property
    def n_exog(self) -> int:
        """Columns of ``W = [1, X, Z, R]``."""
        return 2 + len(self.covariates) + len(self.controls)

    @cached_property
    def n_excluded(self) -> int:
        """Excluded instruments (the interactions; none for the naive model)."""
        return len(self.covariates) if self.instrumented else 0

    @cached_property
    def n_instruments(self) -> int:
        """Columns ``l`` of the instruments ``Q = [W, R·X]`` (``[W, M]`` naive)."""
        if self.instrumented:
            return self.n_exog + self.n_excluded
        return self.n_exog + self.n_mediators

    @cached_property
    def n_columns(self) -> int:
        """Columns of ``A``."""
        return self.n_exog + self.n_excluded + self.n_mediators + 1

    @cached_property
    def n_params(self) -> int:
        """Structural coefficients: ``W`` and the mediators."""
        return self.n_exog + self.n_mediators

    @cached_property
    def treatment_column(self) -> int:
        """Position of ``R`` in ``A`` (the last column of ``W``)."""
        return self.n_exog - 1

    @cached_property
    def covariate_columns(self) -> slice:
        return slice(1, 1 + self.n_covariates)

    @cached_property
    def excluded_columns(self) -> slice:
        return slice(self.n_exog, self.n_exog + self.n_excluded)

    @cached_property
    def mediator_columns(self) -> slice:
        start = self.n_exog + self.n_excluded
        return slice(start, start + self.n_mediators)

    @cached_property
    def outcome_column(self) -> int:
        return self.n_columns - 1

    @cached_property
    def structural_columns(self) -> np.ndarray:
        """Columns of ``A`` that the structural coefficients multiply: ``[W, M]``."""
        m = self.mediator_columns
        return np.concatenate([np.arange(self.n_exog), np.arange(m.start, m.stop)])

    # positions among the structural coefficients [W, M]
    @cached_property
    def treatment_term(self) -> int:
        return self.n_exog - 1

    @cached_property
    def mediator_terms(self) -> slice:
        return slice(self.n_exog, self.n_exog + self.n_mediators)

    def terms_of(self, what: str) -> slice:
        """The structural terms ``what`` is: "intercept", "coefficients" (all
        but the intercept), "treatment", "mediators" or "all"."""
        return {
            "intercept": slice(0, 1),
            "coefficients": slice(1, self.n_params),
            "treatment": slice(self.treatment_term, self.treatment_term + 1),
            "mediators": self.mediator_terms,
            "all": slice(0, self.n_params),
        }[what]

    @cached_property
    def effect_terms(self) -> np.ndarray:
        """The treatment's and the mediators' terms: the effects of the model."""
        return np.arange(self.n_exog - 1, self.n_exog + self.n_mediators)

    # -- names ------------------------------------------------------------

    @cached_property
    def term_names(self) -> tuple[str, ...]:
        """Structural terms: intercept, covariates, controls, treatment, mediators."""
        return (
            "intercept",
            *self.covariates,
            *self.controls,
            self.treatment,
            *self.mediators,
        )

    @cached_property
    def instrument_names(self) -> tuple[str, ...]:
        """Excluded instruments, ``treatment:covariate``."""
        if not self.instrumented:
            return ()
        return tuple(f"{self.treatment}:{c}" for c in self.covariates)

    @cached_property
    def column_labels(self) -> tuple[tuple[str, str], ...]:
        """``(role, name)`` of every column of ``A``."""
        labels = [("intercept", "intercept")]
        labels += [("covariate", c) for c in self.covariates]
        labels += [("control", c) for c in self.controls]
        labels += [("treatment", self.treatment)]
        labels += [("instrument", c) for c in self.instrument_names]
        labels += [("mediator", c) for c in self.mediators]
        labels += [("outcome", self.outcome)]
        return tuple(labels)

    # -- the raw role matrix ---------------------------------------------

    @cached_property
    def n_raw(self) -> int:
        """Columns of the raw role matrix: treatment, mediators, covariates, controls."""
        return 1 + self.n_mediators + len(self.covariates) + len(self.controls)

    @cached_property
    def raw_labels(self) -> tuple[tuple[str, str], ...]:
        """``(role, name)`` of every raw column, in raw order."""
        return (
            (("treatment", self.treatment),)
            + tuple(("mediator", c) for c in self.mediators)
            + tuple(("covariate", c) for c in self.covariates)
            + tuple(("control", c) for c in self.controls)
        )

    @cached_property
    def _raw(self) -> dict[str, slice]:
        m, p, q = self.n_mediators, len(self.covariates), len(self.controls)
        return {
            "mediators": slice(1, 1 + m),
            "covariates": slice(1 + m, 1 + m + p),
            "controls": slice(1 + m + p, 1 + m + p + q),
        }

    def raw_slice(self, role: str) -> slice:
        """Columns of ``role`` ("mediators", "covariates", "controls") in the raw matrix."""
        return self._raw[role]

    def shift(self, raw: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The shift of every raw column and of the outcome (last): means of the first rows."""
        rows = min(SHIFT_ROWS, raw.shape[0])
        if rows == 0:
            return np.zeros(self.n_raw + 1)
        shift = np.empty(self.n_raw + 1)
        shift[:-1] = np.add.reduce(raw[:rows], axis=0)
        shift[-1] = np.add.reduce(y[:rows])
        shift /= rows
        if not np.isfinite(shift).all():  # invalid values: the first pass names them
            shift[~np.isfinite(shift)] = 0.0
        return shift

    def matrix(self, raw: np.ndarray, y: np.ndarray, shift: np.ndarray) -> np.ndarray:
        """The fit's matrix ``A`` of a chunk of rows (a new float array)."""
        # column-major: each column is written at once, and LAPACK's QR
        # takes the matrix as it is
        out = np.empty((raw.shape[0], self.n_columns), order="F")
        out[:, 0] = 1.0
        m, p = self.n_mediators, len(self.covariates) + len(self.controls)
        # covariates and controls are consecutive in both; then R and M
        np.subtract(raw[:, 1 + m :], shift[1 + m : -1], out=out[:, 1 : 1 + p])
        np.subtract(raw[:, 0], shift[0], out=out[:, self.treatment_column])
        np.subtract(
            raw[:, 1 : 1 + m], shift[1 : 1 + m], out=out[:, self.mediator_columns]
        )
        if self.instrumented:
            t = out[:, self.treatment_column]
            np.multiply(
                t[:, None],
                out[:, self.covariate_columns],
                out=out[:, self.excluded_columns],
            )
        out[:, -1] = y - shift[-1]
        return out

    @cached_property
    def term_order(self) -> np.ndarray:
        """Raw column of each structural term after the intercept."""
        m, p, q = self.n_mediators, len(self.covariates), len(self.controls)
        return np.concatenate(
            [np.arange(1 + m, 1 + m + p + q), [0], np.arange(1, 1 + m)]
        ).astype(np.intp)

    def predict(self, raw, params: np.ndarray):
        """The structural equation's prediction for raw rows (numpy or dask)."""
        return params[0] + raw[:, self.term_order] @ params[1:]

    # -- the sensitivity directions --------------------------------------

    @property
    def n_directions(self) -> int:
        """Sensitivity parameters: ``τ_R`` and one ``τ_M`` per mediator, ``p`` each."""
        return (1 + self.n_mediators) * len(self.covariates)

    def directions(self, raw, mean: np.ndarray):
        """``V = [R·(X - X̄), M_1·(X - X̄), ...]`` of raw rows (numpy or dask)."""
        x = raw[:, self._raw["covariates"]] - mean
        factors = [raw[:, 0]] + [
            raw[:, j] for j in range(self.n_raw)[self._raw["mediators"]]
        ]
        parts = [f[:, None] * x for f in factors]
        if hasattr(type(raw), "__dask_graph__"):
            import dask.array as da

            return da.hstack(parts)
        return np.hstack(parts)

    def direction_columns(self, directions) -> tuple[np.ndarray, np.ndarray]:
        """The columns of ``A`` whose products are ``directions``: ``(factors, covariates)``.

        The sensitivity analysis shifts the outcome by ``V τ`` with
        ``V = [R·(X - X̄), M_1·(X - X̄), ...]``; direction ``k`` is the factor
        of block ``k // p`` (``R``, then each mediator) times covariate
        ``k % p``. With the shifted columns, ``V = products - factors ⊗
        (X̄ - c_X)``, and the columns that differ between the two forms
        differ by multiples of ``[1, X]``, which leaves the treatment and
        mediator coefficients unchanged. A chunk's products, transposed
        ``(len(directions), rows)`` for contiguous rows, are ``aᵀ[factors] *
        aᵀ[covariates]``.
        """
        directions = np.asarray(directions, dtype=np.intp)
        p = len(self.covariates)
        covariates = np.arange(self.n_columns)[self.covariate_columns]
        return self.direction_factors[directions // p], covariates[directions % p]

    @cached_property
    def direction_factors(self) -> np.ndarray:
        """Column of ``A`` that each block of the directions multiplies the covariates by."""
        m = self.mediator_columns
        return np.concatenate([[self.treatment_column], np.arange(m.start, m.stop)])

    # -- back to the reported terms --------------------------------------

    def reported(self, theta: np.ndarray, shift: np.ndarray) -> np.ndarray:
        """Structural coefficients on the reported terms from those on the shifted ones.

        Only the intercept changes: ``β₀ = θ₀ + c_y - Σ_j θ_j c_j``.
        """
        c = self.term_shift(shift)
        out = np.array(theta, dtype=float, copy=True)
        out[..., 0] = theta[..., 0] + shift[-1] - theta[..., 1:] @ c[1:]
        return out

    def term_shift(self, shift: np.ndarray) -> np.ndarray:
        """The shift of each structural term (0 for the intercept)."""
        return np.concatenate([[0.0], shift[self.term_order]])

    def instrument_basis(self, shift: np.ndarray, mean: np.ndarray) -> np.ndarray:
        """``T`` with ``[1, X, Z, R, R·(X - X̄)] = Q T``, ``Q`` the shifted instruments.

        ``R·(X - X̄) = (R - c_R)(X - c_X) + c_R (X - c_X) + (c_X - X̄)(R - c_R)
        + c_R (c_X - X̄)``; the other columns only add their shift to the
        intercept. Coefficients of the reported instruments are ``T⁻¹ γ``.
        """
        kw, p = self.n_exog, len(self.covariates)
        c_x = shift[self._raw["covariates"]]
        t = np.eye(self.n_instruments)
        t[0, 1 : 1 + p] = c_x
        t[0, 1 + p : kw - 1] = shift[self._raw["controls"]]
        t[0, kw - 1] = shift[0]
        for i in range(p):
            col = kw + i
            t[1 + i, col] = shift[0]
            t[kw - 1, col] = c_x[i] - mean[i]
            t[0, col] = shift[0] * (c_x[i] - mean[i])
        return t

    def reporting_matrix(self, shift: np.ndarray) -> np.ndarray:
        """``S`` with reported coefficients ``S θ`` (plus ``c_y`` on the intercept)."""
        c = self.term_shift(shift)
        s = np.eye(self.n_params)
        s[0, 1:] = -c[1:]
        return s
