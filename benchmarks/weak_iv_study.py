"""Monte Carlo: coverage of the confidence sets of every effect with weak and strong instruments.

Randomized trials of n subjects with three covariates whose interactions
with the assignment ``R`` are the instruments for the mediator ``M``, an
unmeasured confounder of ``M`` and ``y``, ``θ_R = -1``, ``θ_M = 2`` and the
effect of ``R`` on ``M`` ``δ = 1`` (so the indirect effect is 2, the total 1
and the proportion mediated 2). The interactions are scaled so that the
expected first-stage F is about 1, 4 or 25. Three designs:

- ``homoskedastic``: constant effects, normal homoskedastic errors (fitted
  with ``cov_type="classical"``);
- ``heteroskedastic``: constant effects, ``sd(Y(0,0) | X) = 0.25 + 2|X1|``
  (``cov_type="HC1"``, and ``"HC3"`` for the rows marked HC3; the mediator's
  LM and CLR rows are Kleibergen's robust K and conditional LR sets);
- ``heterogeneous``: the paper's subject-varying effects,
  ``sd(θ_Ri) = sd(θ_Mi) = 1`` (``cov_type="HC1"``, and ``"HC3"``).

The HC1 fits use ``ar_meat="fit"``, so their ``AR`` rows show the
Anderson–Rubin statistic with the HC1 meat against ``χ²``; the ``AR HC3`` rows
are the library's default robust statistic (HC3 meat, ``F(p, n - l)``), which
an HC1 fit with the default ``ar_meat="leverage"`` gives too.

Each replication computes every set ``confidence_set`` offers for the fit
(95%) and records whether it covers the true value. The table gives the
coverage in percent with its Monte Carlo standard error; a ``*`` marks a
coverage outside the exact binomial 99% band around 95%, a ``+`` one above it
(a conservative set: the Bonferroni and subvector sets may cover more than
95% by construction).

Usage: python benchmarks/weak_iv_study.py [--replications 2000] [--n 300]
       [--strength 1 4 25] [--n-jobs 2] [--seed 20261202]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import few_clusters_study
import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from skmediate import IVMediationRegressor

TRUTH = {
    "direct": -1.0,
    "mediator": 2.0,
    "indirect": 2.0,
    "total": 1.0,
    "proportion_mediated": 2.0,
}
LEVEL = 0.95
DESIGNS = ("homoskedastic", "heteroskedastic", "heterogeneous")
BASE_METHODS = [
    ("mediator", "wald"),
    ("mediator", "AR"),
    ("direct", "wald"),
    ("indirect", "wald"),
    ("total", "wald"),
    ("proportion_mediated", "wald"),
]
# the robust designs also fit HC3: its Anderson-Rubin statistic (the default
# for every robust fit) enters the mediator's set, the direct effect's
# projection set and the Bonferroni sets built on it
ROBUST_METHODS = BASE_METHODS + [
    ("mediator", "AR HC3"),
    ("mediator", "wald HC3"),
    # Kleibergen's (2005) robust K and conditional likelihood ratio sets
    ("mediator", "LM"),
    ("mediator", "CLR"),
    ("mediator", "LM HC3"),
    ("mediator", "CLR HC3"),
    ("direct", "AR"),
    ("direct", "AR HC3"),
    ("indirect", "AR HC3"),
    ("proportion_mediated", "AR HC3"),
]
HOMOSKEDASTIC_METHODS = BASE_METHODS + [
    ("mediator", "LM"),
    ("mediator", "CLR"),
    ("direct", "AR"),
    ("indirect", "AR"),
    ("proportion_mediated", "AR"),
    # the subvector AR test with the conditional critical values of
    # Guggenberger, Kleibergen and Mavroeidis (2019), Kleibergen's (2021)
    # subvector CLR, and the Bonferroni sets built on each
    ("direct", "AR-GKM"),
    ("indirect", "AR-GKM"),
    ("proportion_mediated", "AR-GKM"),
    ("direct", "CLR"),
    ("indirect", "CLR"),
    ("proportion_mediated", "CLR"),
]


def methods(design: str):
    return HOMOSKEDASTIC_METHODS if design == "homoskedastic" else ROBUST_METHODS


def draw_trial(
    design: str, n: int, strength: float, rng
) -> tuple[pd.DataFrame, np.ndarray]:
    """One trial; ``strength`` is the expected first-stage F (about)."""
    p = 3
    x = rng.normal(size=(n, p))
    r = rng.permutation(np.arange(n) < n // 2).astype(float)
    u = rng.normal(size=n)
    # E[F] ≈ 1 + n Var(R) |π|² / (p σ²_M) with σ²_M = Var(u + e) = 2
    size = np.sqrt(max(strength - 1.0, 0.0) * p * 2.0 / (0.25 * n))
    pi = size * np.ones(p) / np.sqrt(p)
    m = r * (1.0 + x @ pi) + u + rng.normal(size=n)
    theta_r = TRUTH["direct"] * np.ones(n)
    theta_m = TRUTH["mediator"] * np.ones(n)
    noise = rng.normal(size=n)
    if design == "heteroskedastic":
        noise *= 0.25 + 2.0 * np.abs(x[:, 0])
    if design == "heterogeneous":
        theta_r = theta_r + rng.normal(size=n)
        theta_m = theta_m + rng.normal(size=n)
    y = 1.0 + x @ [0.5, -0.5, 0.2] + theta_r * r + theta_m * m + u + noise
    frame = pd.DataFrame({"r": r, "m": m, "x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2]})
    return frame, y


def replicate(design, n, strength, seed) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X, y = draw_trial(design, n, strength, rng)
    cov_type = "classical" if design == "homoskedastic" else "HC1"
    fits = {}
    for name in {cov_type, *(m.split()[1] for _, m in methods(design) if " " in m)}:
        est = IVMediationRegressor(
            treatment="r",
            mediator="m",
            cov_type=name,
            ar_meat="fit" if name == "HC1" else "leverage",
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits[name] = est.fit(X, y)
    out = []
    for effect, method in methods(design):
        name, _, other = method.partition(" ")
        s = fits[other or cov_type].confidence_set(effect, name, confidence_level=LEVEL)
        out.append(TRUTH[effect] in s)
    return np.array(out, dtype=float)


def binomial_band(n_replications: int, level: float = LEVEL, prob: float = 0.99):
    """Exact binomial band (percent) for a coverage of ``level``."""
    return few_clusters_study.binomial_band(n_replications, level, prob)


def run(design, n, strength, n_replications, seed, n_jobs=1) -> np.ndarray:
    """Coverage (percent) of each (effect, method) of ``methods(design)``."""
    seeds = np.random.SeedSequence([seed, DESIGNS.index(design), n, int(strength)])
    results = Parallel(n_jobs=n_jobs)(
        delayed(replicate)(design, n, strength, s) for s in seeds.spawn(n_replications)
    )
    return 100 * np.mean(results, axis=0)


def table(coverage: dict, n_replications: int) -> str:
    low, high = binomial_band(n_replications)
    lines = [
        f"Coverage (%) of 95% sets; {n_replications} replications; 99% band "
        f"[{low:.1f}, {high:.1f}] (* outside, + above)",
        "",
    ]
    for design in DESIGNS:
        cells = [key for key in coverage if key[0] == design]
        if not cells:
            continue
        strengths = [key[2] for key in cells]
        n = cells[0][1]
        head = f"{design} (n = {n})"
        lines.append(f"{head:<34}" + "".join(f"{f'F≈{s:g}':>14}" for s in strengths))
        for i, (effect, method) in enumerate(methods(design)):
            row = f"  {effect + ' ' + method:<32}"
            for key in cells:
                c = coverage[key][i]
                se = 100 * np.sqrt(c / 100 * (1 - c / 100) / n_replications)
                mark = "+" if c > high else ("*" if c < low else " ")
                row += f"{c:8.1f} ({se:.1f}){mark}"
            lines.append(row)
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=2000)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--strength", type=float, nargs="+", default=[1, 4, 25])
    parser.add_argument("--designs", nargs="+", default=list(DESIGNS), choices=DESIGNS)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    coverage = {
        (d, args.n, s): run(d, args.n, s, args.replications, args.seed, args.n_jobs)
        for d in args.designs
        for s in args.strength
    }
    print(table(coverage, args.replications))
    print(
        f"{time.perf_counter() - start:.0f} s on {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
