"""The fitted model: small matrices from which every statistic of a fit follows.

A :class:`FittedModel` holds no data: the triangular factor ``R`` of the
data matrix, the structural solution, the counts, the meat of the score
columns (:mod:`~skmediate._numerics.scores`) and, when asked for, the
sensitivity forms. Estimates, covariances, effects, first-stage and
overidentification diagnostics and the Anderson–Rubin moments are all
small-matrix algebra on these, computed when first asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from skmediate._numerics.covariance import (
    CovarianceType,
    bell_mccaffrey_df,
    check_weighted_cov_type,
    cov_type,
    weight_type,
)
from skmediate._numerics.dense import orthonormal_factors, solve_upper
from skmediate._numerics.design import Design
from skmediate._numerics.scores import (
    Layout,
    LayoutBuilder,
    sandwich,
)
from skmediate._numerics.tsls import (
    Structural,
    leading_fit,
    liml_kappa,
)

__all__ = ["FittedModel", "control_function"]


@dataclass(frozen=True, eq=False)
class FittedModel:
    """A fitted mediation model, without its data.

    Attributes
    ----------
    design : Design
    kind : CovarianceType
        The covariance type.
    weight_type : str
        How the weights entered: ``"frequency"``, ``"analytic"`` or
        ``"probability"`` (:data:`~skmediate._numerics.covariance.WEIGHT_TYPES`).
    r : ndarray of shape (c, c)
        Upper-triangular factor of ``√w A`` (``A`` the shifted data matrix of
        the design, ``w`` the weights as the fit uses them: analytic and
        probability weights rescaled to sum to ``n_rows``), with a
        non-negative diagonal.
    shift : ndarray of shape (n_raw + 1,)
        The shift of each raw column and of the outcome (last).
    structural : Structural
        The structural solution (shifted columns).
    nobs : float
        Number of observations: the sum of the frequency weights, or the
        rows with positive weight for analytic and probability weights.
    n_rows : float
        Rows with positive weight.
    n_clusters : int or None
        Clusters with positive weight (cluster-robust types).
    kappa : float
        ``κ`` of the estimator (1 for 2SLS and OLS).
    linear_in_y : bool
        Whether the estimates are linear in the outcome (false for LIML and
        Fuller, whose ``κ`` depends on it).
    layout : Layout
        Every score column of the fit.
    robust : ndarray of int
        The columns of ``layout`` whose meat comes from the second pass.
    robust_layout : Layout
        Those columns, as the second pass accumulates them.
    meat : ndarray or None
        That meat (rows, or clusters for the cluster-robust types), unscaled.
    cluster_grams : ndarray of shape (G, c, c) or None
        Per cluster, ``Σ w z zᵀ`` with ``z = [u_1..u_{c-1}, y]``, the rows'
        leading coordinates and outcome (CR2, and cluster-robust fits with few
        clusters: for the Bell–McCaffrey degrees of freedom and the wild
        cluster bootstrap).
    sensitivity : SensitivityForms or None
    use_t : bool
        Whether tests and intervals use t and F reference distributions
        (see :meth:`reference_df`) rather than the normal and ``χ²``.
    treatment_coding : tuple
        ``(low, high, n_other)``: the treatment's range over the rows with
        positive weight and how many of them are neither 0 nor 1.
    ar_kind : CovarianceType or None
        The covariance type of the robust Anderson–Rubin statistic with the
        small-sample meat and reference (``ar_meat="leverage"``,
        :func:`~skmediate._numerics.covariance.anderson_rubin_kind`) of an
        IV fit with a robust covariance; None for the fit's
        own covariance type and reference.
    ar_columns : ndarray of int or None
        The reduced-form columns (blocks ``F0``, ..., ``F{q-1}`` and ``RF``) whose meat the
        second pass accumulates with ``ar_kind``, when it differs from the
        fit's type.
    ar_layout : Layout or None
        Those columns, as the second pass accumulates them.
    ar_meat : ndarray or None
        Their meat with ``ar_kind`` (rows, or clusters), unscaled.
    """

    design: Design
    kind: CovarianceType
    weight_type: str
    r: np.ndarray
    shift: np.ndarray
    structural: Structural
    nobs: float
    n_rows: float
    n_clusters: int | None
    kappa: float
    linear_in_y: bool
    layout: Layout
    robust: np.ndarray
    robust_layout: Layout
    meat: np.ndarray | None = None
    cluster_grams: np.ndarray | None = None
    sensitivity: object = None
    use_t: bool = False
    treatment_coding: tuple = ()
    ar_kind: CovarianceType | None = None
    ar_columns: np.ndarray | None = None
    ar_layout: Layout | None = None
    ar_meat: np.ndarray | None = None

    # -- construction ------------------------------------------------------

    @classmethod
    def assemble(cls, **fields) -> FittedModel:
        """A model without its meat; :attr:`robust_layout` says what to accumulate."""
        design, kind, r = fields["design"], fields["kind"], fields["r"]
        layout = _layout(design, r, fields["structural"], fields["shift"])
        if kind.homoskedastic:
            over = design.instrumented and design.n_excluded > design.n_mediators
            names = ("J",) if over else ()
        else:
            names = tuple(layout.blocks)
        robust_layout, robust = layout.restrict(names)
        ar_kind = fields.pop("ar_kind", None)
        if kind.homoskedastic or not design.instrumented:
            ar_kind = None
        separate = ar_kind is not None and ar_kind != kind
        first_stages = tuple(f"F{j}" for j in range(design.n_mediators))
        ar_layout, ar_columns = (
            layout.restrict((*first_stages, "RF")) if separate else (None, None)
        )
        return cls(
            layout=layout,
            robust=robust,
            robust_layout=robust_layout,
            ar_kind=ar_kind,
            ar_columns=ar_columns,
            ar_layout=ar_layout,
            **fields,
        )

    def with_meat(self, meat, cluster_grams=None, ar_meat=None) -> FittedModel:
        return replace(self, meat=meat, cluster_grams=cluster_grams, ar_meat=ar_meat)

    def with_sensitivity(self, forms) -> FittedModel:
        return replace(self, sensitivity=forms)

    def under(self, name: str) -> FittedModel:
        """The same fit with the covariance type ``name``.

        Homoskedastic types need nothing from the data; otherwise ``name``
        must have the meat of this fit's type (rows, or clusters, with the
        same leverage adjustment).
        """
        kind = cov_type(name)
        check_weighted_cov_type(weight_type(self.weight_type), kind)
        same = kind.meat == self.kind.meat and kind.leverage == self.kind.leverage
        if kind.homoskedastic or same:
            return replace(self, kind=kind)
        raise ValueError(
            f"the fit has the meat of cov_type={self.kind.name!r}; refit for "
            f"cov_type={name!r}"
        )

    def with_use_t(self, use_t: bool) -> FittedModel:
        return replace(self, use_t=bool(use_t))

    # -- reference distributions ----------------------------------------------

    def reference_df(self, n_params: float) -> float | None:
        """Denominator degrees of freedom of t and F references (None: normal, ``χ²``).

        ``G - 1`` for the cluster-robust types, ``n - k`` otherwise (``k`` the
        parameters of the equation tested), as estimatr and Stata use them.
        """
        if not self.use_t:
            return None
        if self.kind.clustered:
            return float(self.n_clusters - 1)
        return float(self.nobs - n_params)

    def defines_joint_test(self, n_restrictions: int) -> bool:
        """Whether a robust Wald test of ``n_restrictions`` is defined.

        A cluster-robust covariance of estimating equations whose scores sum
        to zero has rank at most ``G - 1``: a test of more restrictions than
        that divides by a singular matrix.
        """
        return not self.kind.clustered or self.n_clusters > n_restrictions

    def contrast_df(self, name: str, coef: np.ndarray) -> np.ndarray | None:
        """Degrees of freedom of t tests of ``coefᵀψ`` on block ``name`` (columns of ``coef``).

        The Bell–McCaffrey degrees of freedom for CR2
        (:func:`~skmediate._numerics.covariance.bell_mccaffrey_df`, in the
        design of the block's equation), else :meth:`reference_df`.
        """
        layout = self.layout
        coef = np.asarray(coef, dtype=float).reshape(
            len(range(layout.n_cols)[layout.blocks[name]]), -1
        )
        cols = np.arange(layout.n_cols)[layout.blocks[name]]
        df = self.reference_df(float(layout.n_params[cols[0]]))
        if df is None or not (self.kind.clustered and self.kind.leverage):
            return None if df is None else np.full(coef.shape[1], df)
        lead = self.cluster_grams.shape[-1] - 1
        hat = layout.hats[:lead, layout.hat_slices[layout.hat_index[cols[0]]]]
        contrasts = hat.T @ (layout.left[:lead, layout.left_index[cols]] @ coef)
        grams = hat.T @ self.cluster_grams[:, :lead, :lead] @ hat
        return bell_mccaffrey_df(grams, contrasts)

    @cached_property
    def params_df(self) -> np.ndarray | None:
        """Degrees of freedom of each reported coefficient's t test (None: normal)."""
        s = self.design.reporting_matrix(self.shift)
        return self.contrast_df("J", (s @ self.structural.influence).T)

    @cached_property
    def liml_kappa(self) -> float:
        """The LIML ``κ`` (``nan`` for the naive model)."""
        if not self.design.instrumented:
            return np.nan
        return liml_kappa(self.r, self.design)

    # -- sizes ----------------------------------------------------------------

    @property
    def n_params(self) -> int:
        return self.design.n_params

    @cached_property
    def covariate_mean_shifted(self) -> np.ndarray:
        """``X̄ - c_X``: the weighted means of the shifted covariates, off the factor."""
        r = self.r
        return r[0, self.design.covariate_columns] / r[0, 0]

    @property
    def covariate_mean(self) -> np.ndarray:
        """``X̄``, the weighted means of the covariates."""
        d = self.design
        return self.covariate_mean_shifted + self.shift[d.raw_slice("covariates")]

    # -- covariance of score combinations ------------------------------------

    def cov_of(self, p: np.ndarray) -> np.ndarray:
        """Covariance of ``Pᵀψ`` for coefficients ``P`` (n_cols × d) of the score columns.

        Uses the model's covariance type: the meat of the involved columns and
        their root factors (:mod:`~skmediate._numerics.covariance`).
        """
        p = np.asarray(p, dtype=float)
        cols = np.flatnonzero(np.any(p != 0, axis=1))
        sub = p[cols]
        roots = self.kind.root_factor(
            self.nobs, self.layout.n_params[cols], self.n_clusters
        )
        return sandwich(sub, self._meat(cols), roots)

    def _meat(self, cols: np.ndarray) -> np.ndarray:
        if self.kind.homoskedastic:
            layout = self.layout
            resid = self.r @ layout.right
            lefts = layout.left[:, layout.left_index[cols]]
            rights = resid[:, layout.right_index[cols]]
            left_cross = lefts.T @ lefts
            if self.kappa != 1.0:
                j_cols = np.arange(layout.n_cols)[layout.blocks["J"]]
                inside = np.flatnonzero(np.isin(cols, j_cols))
                within = cols[inside] - j_cols[0]
                left_cross[np.ix_(inside, inside)] = self._kclass_cross[
                    np.ix_(within, within)
                ]
            return (rights.T @ rights) * left_cross
        return self.robust_meat(cols)

    @cached_property
    def _kclass_cross(self) -> np.ndarray:
        """The homoskedastic k-class structural block: ``σ²`` times the bread.

        The scores ``d̂ ε`` with the bread ``(Dᵀ(I - κM_Q)D)⁻¹`` give the HC
        and cluster covariances (linearmodels' convention); with homoskedastic
        errors the covariance is ``σ² (Dᵀ(I - κM_Q)D)⁻¹``. In the coordinates
        of the instruments that is the meat ``σ²(I + (1 - κ) q qᵀ)`` with
        ``q = Q_G R_G⁻ᵀ [0, H]ᵀ`` (see ``tsls.solve_structural``).
        """
        d, r = self.design, self.r
        n_inst, m = d.n_instruments, d.n_mediators
        q_g = self.structural.basis
        r_g = q_g.T @ self.structural.g  # G = Q_G R_G
        h = r[n_inst : n_inst + m, n_inst : n_inst + m]
        f_last = solve_upper(r_g[-m:, -m:], h.T, trans=True)
        q = q_g[:, -m:] @ f_last
        return np.eye(n_inst) + (1.0 - self.kappa) * (q @ q.T)

    def anderson_rubin_cov_of(self, p: np.ndarray) -> np.ndarray:
        """:meth:`cov_of` with the Anderson–Rubin statistic's covariance type.

        ``P`` is zero outside the reduced-form blocks ``F{j}`` and ``RF``. With
        :attr:`ar_kind` the meat is :attr:`ar_meat`, else the fit's.
        """
        if self.ar_meat is None:
            return self.cov_of(p)
        cols = self.ar_columns
        roots = self.ar_kind.root_factor(
            self.nobs, self.layout.n_params[cols], self.n_clusters
        )
        return sandwich(np.asarray(p, dtype=float)[cols], self.ar_meat, roots)

    def robust_meat(self, cols: np.ndarray) -> np.ndarray:
        """The second-pass meat of columns ``cols`` (which must have one)."""
        position = np.searchsorted(self.robust, cols)
        return self.meat[np.ix_(position, position)]

    def block_cov(self, name: str, coef: np.ndarray) -> np.ndarray:
        """Covariance of ``coefᵀψ`` for the score columns ``ψ`` of one block.

        The same as :meth:`cov_of` with ``P`` zero outside the block.
        """
        cols = np.arange(self.layout.n_cols)[self.layout.blocks[name]]
        roots = self.kind.root_factor(
            self.nobs, self.layout.n_params[cols], self.n_clusters
        )
        return sandwich(np.asarray(coef, dtype=float), self._meat(cols), roots)

    def block_p(self, name: str, coef: np.ndarray) -> np.ndarray:
        """``P`` placing ``coef`` (block columns × d) on the block ``name``."""
        coef = np.asarray(coef, dtype=float)
        p = np.zeros((self.layout.n_cols,) + coef.shape[1:])
        p[self.layout.blocks[name]] = coef
        return p

    # -- structural estimates --------------------------------------------

    @cached_property
    def params(self) -> np.ndarray:
        """Structural coefficients of the reported terms."""
        return self.design.reported(self.structural.theta, self.shift)

    @cached_property
    def cov(self) -> np.ndarray:
        """Covariance of :attr:`params`."""
        cov = self.block_cov("J", self.structural.influence.T)
        s = self.design.reporting_matrix(self.shift)
        cov = s @ cov @ s.T
        return (cov + cov.T) / 2

    @cached_property
    def resid_coordinates(self) -> np.ndarray:
        """Coordinates of the structural residuals in ``U``."""
        return self.structural.resid_coordinates(self.r)

    @property
    def rss(self) -> float:
        g = self.resid_coordinates
        return float(g @ g)

    @property
    def rsquared(self) -> float:
        """``1 - RSS/TSS`` with the observed mediators (TSS about the mean)."""
        tss = self.r[1:, -1] @ self.r[1:, -1]
        return 1.0 - self.rss / tss if tss > 0 else np.nan

    def first_stage_fit(self, j: int = 0):
        """Coefficients (shifted columns) and residual form of mediator ``j`` on ``Q``."""
        d = self.design
        target = range(d.n_columns)[d.mediator_columns][j]
        n = d.n_instruments if d.instrumented else d.n_exog
        coef, form = leading_fit(self.r, n, [target])
        return coef[:, 0], form[:, 0]

    @cached_property
    def itt_fit(self):
        """Least squares of the outcome on ``W``: ``(coef, resid_form)``."""
        coef, form = leading_fit(
            self.r, self.design.n_exog, [self.design.outcome_column]
        )
        return coef[:, 0], form[:, 0]


def _layout(design: Design, r: np.ndarray, structural: Structural, shift) -> Layout:
    """The score columns of a fit (see the module docstring of ``scores``).

    Each block also names its equation's design (for the leverages of HC2,
    HC3 and CR2): the projected regressors ``D̂`` for the structural
    equation, the regressors of each first stage and regression otherwise.
    """
    c, kw, n_inst = design.n_columns, design.n_exog, design.n_instruments
    m, k = design.n_mediators, design.n_params
    builder = LayoutBuilder(c, n_inst)  # the forms u[0..l-1] come first
    d_hat = np.zeros((c, k))
    d_hat[:n_inst] = structural.basis
    builder.add_block(
        "J",
        range(n_inst),
        builder.add_right(structural.resid_form),
        k,
        builder.add_hat("D", d_hat),
    )
    mediators = list(range(c)[design.mediator_columns])
    if design.instrumented:  # first stages and the reduced form: y and M on Q
        _, forms = leading_fit(r, n_inst, [*mediators, c - 1])
        on_q = builder.add_hat(n_inst)
        for j in range(m):
            v = builder.add_right(forms[:, j])
            builder.add_block(f"F{j}", range(kw - 1, n_inst), v, n_inst, on_q)
        # the outcome's reduced form on the treatment and the interactions
        builder.add_block(
            "RF", range(kw - 1, n_inst), builder.add_right(forms[:, m]), n_inst, on_q
        )
        _, itt = leading_fit(r, kw, [c - 1])
    else:  # the mediators and y on W
        _, forms = leading_fit(r, kw, [*mediators, c - 1])
        on_w = builder.add_hat(kw)
        for j in range(m):
            v = builder.add_right(forms[:, j])
            builder.add_block(f"F{j}", [kw - 1], v, kw, on_w)
        itt = forms[:, m:]
    builder.add_block(
        "ITT", [kw - 1], builder.add_right(itt[:, 0]), kw, builder.add_hat(kw)
    )
    # x - X̄ has the coordinates u[1:1+p] R_XX: its scores are u[1:1+p] times
    # the constant 1 (the intercept's column)
    one = np.zeros(c)
    one[0] = 1.0
    builder.add_block(
        "XBAR",
        range(c)[design.covariate_columns],
        builder.add_right(one),
        1,
        builder.add_hat(1),
    )
    exog = control_function(design, r)
    if exog is not None:
        forms, resid, _, basis = exog
        lefts = [builder.add_left(f) for f in forms.T]
        builder.add_block(
            "EXOG",
            lefts,
            builder.add_right(resid),
            kw + 2 * m,
            builder.add_hat("H", basis),
        )
    return builder.build()


def control_function(design: Design, r: np.ndarray):
    """Regression of ``y`` on ``[W, M, v̂]`` (``v̂`` the first-stage residuals).

    Returns the coordinate forms of the ``v̂`` coefficients' scores, the
    residual form, the ``v̂`` coefficients and orthonormal coordinates of the
    regressors, or None for the naive model or a singular regression.

    Notes
    -----
    In the basis ``U`` the regressors' coordinates fall in three blocks of
    rows: ``W`` in the first ``kw``; ``M`` in those and in the excluded
    instruments' (``Π = R[kw:l, M]``) and the mediators' own
    (``R_v = R[l:l+m, M]``); ``v̂ = M - P_Q M`` in the mediators' own only.
    So the regression splits: ``M``'s coefficients ``b`` fit ``R[kw:l, y]``
    on ``Π`` (two-stage least squares), ``ρ = R_v⁻¹ R[l:l+m, y] - b``, and
    ``W``'s fit what is left of the first rows exactly; an orthonormal basis
    of the regressors is ``[e_0..e_kw-1, Q_Π, e_l..e_l+m-1]``.
    """
    if not design.instrumented:
        return None
    c, kw, n_inst, m = (
        design.n_columns,
        design.n_exog,
        design.n_instruments,
        design.n_mediators,
    )
    mediators = range(c)[design.mediator_columns]
    pi = r[kw:n_inst, mediators]
    r_v = r[n_inst : n_inst + m, mediators]
    q_pi, r_pi = orthonormal_factors(pi)
    diag = np.concatenate([np.diagonal(r)[:kw], np.diagonal(r_pi), np.diagonal(r_v)])
    scale = max(np.abs(r[:, :kw]).max(), np.abs(r[:, mediators]).max())
    if np.abs(diag).min() <= np.finfo(float).eps * c * scale:
        return None
    y = r[:, -1]
    # ρ as linear forms of the outcome's coordinates: R_v⁻¹ y_v - Π⁺ y_Π
    pinv = solve_upper(r_pi, q_pi.T)  # Π⁺ (m × p)
    forms = np.zeros((c, m))
    forms[kw:n_inst] = -pinv.T
    forms[n_inst : n_inst + m] = solve_upper(r_v, np.eye(m)).T
    b = pinv @ y[kw:n_inst]
    rho = forms.T @ y
    a = solve_upper(r[:kw, :kw], y[:kw] - r[:kw, mediators] @ b)
    gammas, _ = leading_fit(r, n_inst, list(mediators))
    resid = np.zeros(c)
    resid[-1] = 1.0
    resid[:kw] -= a
    resid[mediators] -= b + rho
    resid[:n_inst] += gammas @ rho
    basis = np.zeros((c, kw + 2 * m))
    basis[np.arange(kw), np.arange(kw)] = 1.0
    basis[kw:n_inst, kw : kw + m] = q_pi
    basis[np.arange(n_inst, n_inst + m), np.arange(kw + m, kw + 2 * m)] = 1.0
    return forms, resid, rho, basis
