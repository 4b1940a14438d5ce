"""Monte Carlo: size of the robust Anderson–Rubin test with many instruments.

The JOBS II design (``skmediate.datasets.load_jobs``): its 899 subjects,
their assignment ``treat`` and all nine baseline covariates, the four
categorical ones one-hot encoded (first level dropped), 23 columns ``X``
whose interactions with the assignment are the 23 excluded instruments; the
exogenous regressors are ``W = [1, X, R]`` (25 columns) and all instruments
``Q = [W, R·(X - X̄)]`` (48). Under ``H₀: θ_M = θ₀`` the Anderson–Rubin
statistic depends on the data only through ``e = y - θ₀M = Wγ + ε`` and is
invariant to ``γ``, so each replication draws the structural error ``ε``
(for every replication at once; the statistics are vectorized):

- ``homoskedastic``: ``ε ~ N(0, 1)``;
- ``heteroskedastic``: ``ε = σ(x) ξ``, ``ξ ~ N(0, 1)``, ``σ = 0.25 +
  |depress1 standardized|``, larger for the treated (``× 1.5``);
- ``skewed``: the same ``σ`` with ``ξ`` a standardized ``χ²(2)``;
- ``clustered``: the rows in ``G`` random clusters of (nearly) equal size,
  ``ε = a_g + σ(x) ξ`` with ``a_g ~ N(0, 0.5²)``.

The tests at nominal 5% (``π̂`` the coefficients of the orthonormalized
excluded instruments ``U`` (after ``W``), ``ê`` the residuals of the
regression on ``Q``, ``h`` its leverages, ``l = 48``):

- ``classical``: ``π̂ᵀπ̂ (n - n_inst)/ê'ê`` against ``p F(p, n - l)``;
- ``HC0``, ``HC1``: ``π̂ᵀ V⁻¹ π̂`` with ``V = Σ u u' ê²`` (times ``n/(n - n_inst)``
  for HC1) against ``χ²(p)``;
- ``HC2``, ``HC3``: ``ê²`` divided by ``1 - h`` or ``(1 - h)²``;
- ``HC2 F``, ``HC3 F``: HC2 and HC3 against ``p F(p, n - l)``;
- ``HC3 F(eta)``: HC3 against ``p F(p, η)``, a denominator that accounts for
  the leverages: ``η`` the degrees of freedom of the Wishart distribution
  that matches the variance of the HC3 meat under independent homoskedastic
  normal errors (:meth:`Design.row_wishart_df`, Pustejovsky and Tipton
  2018), 248 here against ``n - l = 851``;
- ``HC2 HTZ``: HC2 as Hotelling's ``T²`` with that ``η`` (259 for HC2):
  ``W (η - p + 1)/(p η)`` against ``F(p, η - p + 1)``;
- ``jackknife``: the jackknife AR of Mikusheva and Sun (2022) with ``W``
  partialled out of the outcome, the mediator and the instruments, as their
  ``manyweakiv`` package does: with ``ẽ = M_W e`` and ``P = UUᵀ``,
  ``AR = Σ_{i≠j} P_ij ẽ_i ẽ_j / √(2 Σ_{i≠j} P̃_ij² ẽ_iê_i ẽ_jê_j)``,
  ``P̃_ij² = P_ij²/(M_ii M_jj + P_ij²)`` (the cross-fit variance), ``M = I - P``,
  one-sided against ``N(0, 1)``;
- clustered: ``CR0``, ``CR1`` (``cov_type="cluster"``), ``CR2`` and ``CR3``
  (the cluster's residuals multiplied by ``(I - H_gg)^(-1/2)`` or
  ``(I - H_gg)^(-1)``, ``H_gg`` its block of the hat matrix of ``Q``),
  against ``χ²(p)``; ``CR2 F`` and ``CR3 F`` against ``p F(p, G - 1)``;
  ``CR2 HTZ`` and ``CR3 HTZ`` as Hotelling's ``T²`` with ``G - 1`` degrees of
  freedom, ``W (G - p)/(p (G - 1))`` against ``F(p, G - p)`` (the simplest
  form of the HTZ test of Pustejovsky and Tipton 2018); ``CR2 HTZ(eta)``
  with the Wishart degrees of freedom ``η`` of the CR2 meat
  (:meth:`Design.wishart_df`) in place of ``G - 1``.

The library's default robust statistic (``ar_meat="leverage"``) is the
``HC3 F`` row for the heteroskedasticity-robust ``cov_type`` values and the
``CR3 HTZ`` row for the cluster-robust ones; ``ar_meat="fit"`` gives the
HC0/HC1 (CR0/CR1) rows (against ``F`` with ``use_t=True``).
``tests/test_many_instruments.py`` checks these vectorized statistics and
rejections against the library's ``anderson_rubin_test`` on fits of the same
data, the jackknife against a literal evaluation of its double sums, and the
closed form of ``η`` for rows against the cluster formula.

The table gives the rejection rate in percent with its Monte Carlo standard
error; ``*`` marks a rate outside the exact binomial 99% band around 5%. A
second table gives, for the row statistics, the rates at the critical value
that gives exactly 5% on the homoskedastic design. A reference distribution
only moves a statistic's critical value, so no reference distribution puts a
statistic inside the band on every design unless it is nearly so there.

Usage: python benchmarks/many_instruments_study.py [--replications 5000]
       [--clusters 50 150 300] [--seed 20261203]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from scipy import special, stats

LEVEL = 0.05
DESIGNS = ("homoskedastic", "heteroskedastic", "skewed")
ROW_METHODS = (
    "classical",
    "HC0",
    "HC1",
    "HC2",
    "HC3",
    "HC2 F",
    "HC3 F",
    "HC3 F(eta)",
    "HC2 HTZ",
    "jackknife",
)
# the statistics whose size-adjusted rates the table shows
SIZE_ADJUSTED = ("HC0", "HC2", "HC3", "jackknife")
CLUSTER_METHODS = (
    "CR0",
    "CR1",
    "CR2",
    "CR3",
    "CR2 F",
    "CR3 F",
    "CR2 HTZ",
    "CR3 HTZ",
    "CR2 HTZ(eta)",
)


def jobs_design():
    """``(treatment, covariates)`` of JOBS II with the categoricals one-hot encoded."""
    import pandas as pd

    from skmediate.datasets import load_jobs

    X, _ = load_jobs()
    covariates = X.drop(columns=["treat", "job_seek"])  # the baseline covariates
    encoded = pd.get_dummies(covariates, drop_first=True, dtype=float)
    return X["treat"].to_numpy(float), encoded.to_numpy(float)


class Design:
    """The fixed quantities of the design from which every statistic follows."""

    def __init__(self, r, x):
        n = r.size
        xc = x - x.mean(axis=0)
        w = np.column_stack([np.ones(n), x, r])
        z = r[:, None] * xc
        self.n, self.p = n, z.shape[1]
        self.q_w = np.linalg.qr(w)[0]
        self.u = np.linalg.qr(z - self.q_w @ (self.q_w.T @ z))[0]
        self.q = np.column_stack([self.q_w, self.u])  # orthonormal basis of Q
        self.n_inst = self.q.shape[1]
        self.h = np.einsum("ij,ij->i", self.q, self.q)
        self.r, self.x = r, x
        self.outer = (self.u[:, :, None] * self.u[:, None, :]).reshape(n, -1)

    def sigma(self, treated_factor=1.5):
        d = self.x[:, 1]
        return (0.25 + np.abs((d - d.mean()) / d.std())) * np.where(
            self.r == 1, treated_factor, 1.0
        )

    def resid(self, e):
        return e - self.q @ (self.q.T @ e)

    def hc_wald(self, e, weights):
        """``π̂ᵀ V⁻¹ π̂`` with ``V = Σ u uᵀ ê² weights`` for each column of ``e``."""
        pi = self.u.T @ e  # (p, B)
        res = self.resid(e)
        v = (self.outer.T @ (res * res * weights[:, None])).T
        v = v.reshape(-1, self.p, self.p)
        sol = np.linalg.solve(v, pi.T[:, :, None])[:, :, 0]
        return np.einsum("bi,bi->b", pi.T, sol)

    def classical_wald(self, e):
        pi = self.u.T @ e
        res = self.resid(e)
        return (pi * pi).sum(axis=0) / (
            (res * res).sum(axis=0) / (self.n - self.n_inst)
        )

    def jackknife_ar(self, e):
        """The jackknife AR statistic of Mikusheva and Sun (2022), ``W`` partialled out."""
        if not hasattr(self, "_ptilde"):
            p = self.u @ self.u.T
            m_diag = 1.0 - np.diag(p)
            p2 = p * p
            pt = p2 / (np.outer(m_diag, m_diag) + p2)
            np.fill_diagonal(pt, 0.0)
            self._ptilde, self._pdiag = pt, np.diag(p)
        et = e - self.q_w @ (self.q_w.T @ e)
        pi = self.u.T @ e
        num = (pi * pi).sum(axis=0) - self._pdiag @ (et * et)
        a = et * self.resid(e)
        var = 2.0 * np.einsum("ib,ib->b", a, self._ptilde @ a)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(var > 0, num / np.sqrt(np.abs(var)), np.inf * np.sign(num))

    def cluster_maps(self, groups, power):
        """Stacked ``Uᵍᵀ A_g (M_Q)_g`` (G·p × n), ``A_g = (I - H_gg)^(-power)``."""
        blocks = []
        for g in np.unique(groups):
            rows = np.flatnonzero(groups == g)
            qg = self.q[rows]
            hgg = qg @ qg.T
            lam, vec = np.linalg.eigh(np.eye(rows.size) - hgg)
            ok = lam > 1e-12
            adj = (vec * np.where(ok, np.where(ok, lam, 1.0) ** -power, 0.0)) @ vec.T
            mq = -qg @ self.q.T
            mq[:, rows] += np.eye(rows.size)
            blocks.append(self.u[rows].T @ adj @ mq)
        return np.vstack(blocks)

    def wishart_df(self, maps, n_clusters):
        """``η`` of Pustejovsky and Tipton's (2018) Wishart approximation of a meat.

        ``maps`` stack per cluster ``B_g`` (``p × n``, the cluster's
        contribution ``B_g ε`` to the coordinates' score sums, as
        :meth:`cluster_maps` gives them); under independent homoskedastic
        normal errors the meat ``Σ_g B_g ε εᵀ B_gᵀ``, standardized by its
        expectation ``Ω = Σ_g B_g B_gᵀ``, has ``Σ_{s,t} Var(d_st) =
        Σ_{g,h} tr(Γ_gh²) + tr(Γ_gh)²`` with ``Γ_gh = Ω^(-½) B_g B_hᵀ
        Ω^(-½)``, and a Wishart with ``η`` degrees of freedom has
        ``p(p + 1)/η``.
        """
        p, n = self.p, self.n
        b = maps.reshape(n_clusters, p, n)
        omega = np.einsum("gin,gjn->ij", b, b)
        lam, vec = np.linalg.eigh(omega)
        half = (vec / np.sqrt(lam)) @ vec.T
        b = np.einsum("ij,gjn->gin", half, b).reshape(n_clusters * p, n)
        gam = (b @ b.T).reshape(n_clusters, p, n_clusters, p)
        squares = np.einsum("gsht,gths->", gam, gam)
        traces = np.einsum("gshs->gh", gam)
        return p * (p + 1) / (squares + (traces * traces).sum())

    def row_wishart_df(self, power):
        """:meth:`wishart_df` with every row its own cluster and ``(1 - h)^(-power)``.

        ``B_i = c_i u_i m_iᵀ`` (``m_i`` the row of ``M_Q``, ``c_i = (1 -
        h_i)^(-power)``) has rank one, so ``tr(Γ_ij²) = tr(Γ_ij)² = c_i² c_j²
        M_ij² P̃_ij²`` with ``P̃ = Ũ Ũᵀ``, ``Ũ = U Ω^(-½)``, ``Ω = Σ c_i² (1 -
        h_i) u_i u_iᵀ``.
        """
        c2 = (1.0 - self.h) ** (-2.0 * power)
        omega = (self.u * (c2 * (1.0 - self.h))[:, None]).T @ self.u
        lam, vec = np.linalg.eigh(omega)
        ut = self.u @ ((vec / np.sqrt(lam)) @ vec.T)
        mq = np.eye(self.n) - self.q @ self.q.T
        total = 2.0 * np.einsum("i,j,ij->", c2, c2, (mq * (ut @ ut.T)) ** 2)
        return self.p * (self.p + 1) / total

    def cluster_wald(self, e, maps, n_clusters):
        pi = self.u.T @ e
        s = (maps @ e).reshape(n_clusters, self.p, -1)
        v = np.einsum("gib,gjb->bij", s, s)
        sol = np.linalg.solve(v, pi.T[:, :, None])[:, :, 0]
        return np.einsum("bi,bi->b", pi.T, sol)


def draw_errors(design: Design, kind: str, n_rep: int, rng, groups=None):
    n = design.n
    if kind == "homoskedastic":
        return rng.normal(size=(n, n_rep))
    sigma = design.sigma()[:, None]
    if kind == "skewed":
        xi = (rng.chisquare(2, size=(n, n_rep)) - 2.0) / 2.0
        return sigma * xi
    xi = rng.normal(size=(n, n_rep))
    if kind == "clustered":
        a = 0.5 * rng.normal(size=(groups.max() + 1, n_rep))
        return a[groups] + sigma * xi
    return sigma * xi


def htz_rejects(wald, p, df):
    """``W (ν - p + 1)/(p ν)`` against ``F(p, ν - p + 1)`` (Hotelling's ``T²`` with ``ν``)."""
    scaled = wald * (df - p + 1) / (p * df)
    return scaled > special.fdtri(p, df - p + 1, 1 - LEVEL)


def row_statistics(design: Design, e: np.ndarray) -> dict:
    """The row statistics of each column of ``e`` (Wald scale; the jackknife's own)."""
    room = 1.0 - design.h
    return {
        "classical": design.classical_wald(e),
        "HC0": design.hc_wald(e, np.ones(design.n)),
        "HC2": design.hc_wald(e, 1.0 / room),
        "HC3": design.hc_wald(e, 1.0 / room**2),
        "jackknife": design.jackknife_ar(e),
    }


def row_rejections(design: Design, values: dict, eta: dict) -> dict:
    n, p, n_inst = design.n, design.p, design.n_inst
    chi = special.chdtri(p, LEVEL)
    f_crit = p * special.fdtri(p, n - n_inst, 1 - LEVEL)
    hc0, hc2, hc3 = values["HC0"], values["HC2"], values["HC3"]
    return {
        "classical": values["classical"] > f_crit,
        "HC0": hc0 > chi,
        "HC1": hc0 * (n - n_inst) / n > chi,
        "HC2": hc2 > chi,
        "HC3": hc3 > chi,
        "HC2 F": hc2 > f_crit,
        "HC3 F": hc3 > f_crit,
        "HC3 F(eta)": hc3 > p * special.fdtri(p, eta[1.0], 1 - LEVEL),
        "HC2 HTZ": htz_rejects(hc2, p, eta[0.5]),
        "jackknife": values["jackknife"] > stats.norm.isf(LEVEL),
    }


def size_adjusted(values: dict) -> dict:
    """Rates (percent) at the critical value that gives 5% on the first design.

    ``values[design][statistic]``: the replications' statistics. A reference
    distribution only sets a statistic's critical value, so no reference puts
    a statistic inside the band on every design unless it is inside here.
    """
    first = next(iter(values.values()))
    crit = {k: np.quantile(v, 1 - LEVEL) for k, v in first.items()}
    return {
        design: {k: 100 * float(np.mean(v[k] > crit[k])) for k in crit}
        for design, v in values.items()
    }


def cluster_rejections(design: Design, e, maps, n_clusters, eta) -> dict:
    n, p, n_inst = design.n, design.p, design.n_inst
    chi = special.chdtri(p, LEVEL)
    f_crit = p * special.fdtri(p, n_clusters - 1, 1 - LEVEL)
    cr0 = design.cluster_wald(e, maps[0.0], n_clusters)
    factor = n_clusters / (n_clusters - 1) * (n - 1) / (n - n_inst)
    cr2 = design.cluster_wald(e, maps[0.5], n_clusters)
    cr3 = design.cluster_wald(e, maps[1.0], n_clusters)
    return {
        "CR0": cr0 > chi,
        "CR1": cr0 / factor > chi,
        "CR2": cr2 > chi,
        "CR3": cr3 > chi,
        "CR2 F": cr2 > f_crit,
        "CR3 F": cr3 > f_crit,
        "CR2 HTZ": htz_rejects(cr2, p, n_clusters - 1),
        "CR3 HTZ": htz_rejects(cr3, p, n_clusters - 1),
        "CR2 HTZ(eta)": htz_rejects(cr2, p, eta),
    }


def run(n_replications: int, clusters, seed: int, batch: int = 1000) -> dict:
    """Rejection rates (percent) per design and method."""
    r, x = jobs_design()
    design = Design(r, x)
    eta = {a: design.row_wishart_df(a) for a in (0.5, 1.0)}
    rates, kept = {}, {}
    root = np.random.SeedSequence(seed)
    streams = root.spawn(len(DESIGNS) + len(clusters))
    for kind, stream in zip(DESIGNS, streams, strict=False):
        rng = np.random.default_rng(stream)
        counts = dict.fromkeys(ROW_METHODS, 0)
        kept[kind] = {k: [] for k in SIZE_ADJUSTED}
        for start in range(0, n_replications, batch):
            e = draw_errors(design, kind, min(batch, n_replications - start), rng)
            values = row_statistics(design, e)
            for key, rej in row_rejections(design, values, eta).items():
                counts[key] += int(rej.sum())
            for key in SIZE_ADJUSTED:
                kept[kind][key].append(values[key])
        rates[kind] = {k: 100 * v / n_replications for k, v in counts.items()}
    kept = {d: {k: np.concatenate(v) for k, v in s.items()} for d, s in kept.items()}
    for kind, adjusted in size_adjusted(kept).items():
        rates[kind].update({f"{k} adjusted": v for k, v in adjusted.items()})
    for g, stream in zip(clusters, streams[len(DESIGNS) :], strict=True):
        rng = np.random.default_rng(stream)
        groups = rng.permutation(np.arange(design.n) % g)
        maps = {a: design.cluster_maps(groups, a) for a in (0.0, 0.5, 1.0)}
        eta_g = design.wishart_df(maps[0.5], g)
        counts = dict.fromkeys(CLUSTER_METHODS, 0)
        for start in range(0, n_replications, batch):
            e = draw_errors(
                design, "clustered", min(batch, n_replications - start), rng, groups
            )
            for key, rej in cluster_rejections(design, e, maps, g, eta_g).items():
                counts[key] += int(rej.sum())
        rates[f"clustered G={g}"] = {
            k: 100 * v / n_replications for k, v in counts.items()
        }
    return rates


def binomial_band(n_replications: int, level: float = LEVEL, prob: float = 0.99):
    """Exact binomial band (percent) for a rejection rate of ``level``."""
    low = stats.binom.ppf((1 - prob) / 2, n_replications, level) / n_replications
    high = stats.binom.isf((1 - prob) / 2, n_replications, level) / n_replications
    return 100 * low, 100 * high


def table(rates: dict, n_replications: int) -> str:
    low, high = binomial_band(n_replications)
    lines = [
        f"Rejection rate (%) of the nominal 5% Anderson-Rubin test at the true "
        f"value; JOBS II design, n = 899, 23 instruments; {n_replications} "
        f"replications; 99% band [{low:.2f}, {high:.2f}] (* outside)",
        "",
    ]
    row_designs = [d for d in rates if not d.startswith("clustered")]
    lines.append(f"{'method':<12}" + "".join(f"{d:>18}" for d in row_designs))
    for method in ROW_METHODS:
        cells = [
            _cell(rates[d][method], n_replications, low, high) for d in row_designs
        ]
        lines.append(f"{method:<12}" + "".join(f"{c:>18}" for c in cells))
    lines += [
        "",
        "size-adjusted: at the critical value that gives 5% with homoskedastic errors",
    ]
    for method in SIZE_ADJUSTED:
        cells = [f"{rates[d][method + ' adjusted']:6.2f}" for d in row_designs]
        lines.append(f"{method:<12}" + "".join(f"{c:>18}" for c in cells))
    cluster_designs = [d for d in rates if d.startswith("clustered")]
    if cluster_designs:
        lines += ["", f"{'method':<12}" + "".join(f"{d:>18}" for d in cluster_designs)]
        for method in CLUSTER_METHODS:
            cells = [
                _cell(rates[d][method], n_replications, low, high)
                for d in cluster_designs
            ]
            lines.append(f"{method:<12}" + "".join(f"{c:>18}" for c in cells))
    return "\n".join(lines)


def _cell(rate, n_replications, low, high):
    se = 100 * np.sqrt(rate / 100 * (1 - rate / 100) / n_replications)
    flag = "*" if not low <= rate <= high else " "
    return f"{rate:6.2f} ({se:.2f}){flag}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=5000)
    parser.add_argument("--clusters", type=int, nargs="+", default=[50, 150, 300])
    parser.add_argument("--seed", type=int, default=20261203)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rates = run(args.replications, args.clusters, args.seed)
    print(table(rates, args.replications))
    print(
        f"{time.perf_counter() - start:.0f} s on {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
