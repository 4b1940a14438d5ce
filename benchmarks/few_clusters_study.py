"""Monte Carlo: size of the tests of the direct and mediator effects with few sites.

Multi-site randomized trials with ``G`` sites of (nearly) equal size and ``n``
subjects in all, randomized within each site (half treated). Sites differ:
each has its own covariate shift, mediator intercept, outcome intercept and
effect of the treatment on the outcome (``sd 0.5``), so the errors are
correlated within a site, with the treatment too. Two baseline covariates
whose interactions with the treatment move the mediator are the instruments;
an unmeasured confounder of the mediator and the outcome biases the naive
regression. True effects: ``θ_R = 0.5`` (the mean of the sites' direct
effects) and ``θ_M = 1.2``.

Each replication fits IVMediationRegressor and tests ``θ_R`` and ``θ_M`` at
their true values, nominal 5%, with:

- ``HC1 z``: the heteroskedasticity-robust covariance, ignoring the sites;
- ``CR1 z`` and ``CR1 t(G-1)``: the cluster covariance (``cov_type="cluster"``)
  with normal and ``t(G - 1)`` critical values;
- ``CR2 z`` and ``CR2 BM``: the bias-reduced covariance with normal critical
  values and with its Bell–McCaffrey degrees of freedom (``use_t=True``);
- ``wild``: the wild restricted efficient bootstrap test
  (``wild_bootstrap_test``, Webb multipliers, ``--resamples`` draws).

The rejection rate at the true value is the size of the test and 100 minus
the coverage of the interval (or set) the test inverts. The table shows it in
percent with its Monte Carlo standard error; a ``*`` marks a rate outside the
exact binomial 99% band around 5%.

Usage: python benchmarks/few_clusters_study.py [--replications 2000]
       [--n 100 300] [--clusters 6 10 20 50] [--resamples 399] [--n-jobs 2]
       [--seed 20261201]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy import stats

from skmediate import IVMediationRegressor

THETA_R, THETA_M = 0.5, 1.2
LEVEL = 0.05
METHODS = ("HC1 z", "CR1 z", "CR1 t(G-1)", "CR2 z", "CR2 BM", "wild")
EFFECTS = ("direct", "mediator")
ROLES = dict(treatment="r", mediator="m", covariates=["x1", "x2"])


def draw_trial(n: int, n_clusters: int, rng: np.random.Generator) -> pd.DataFrame:
    """One multi-site trial: columns r, m, x1, x2, y, site."""
    sizes = np.array([len(a) for a in np.array_split(np.arange(n), n_clusters)])
    site = np.repeat(np.arange(n_clusters), sizes)
    r = np.concatenate([rng.permutation(np.arange(s) < s // 2) for s in sizes])
    r = r.astype(float)
    shift = 0.5 * rng.normal(size=(n_clusters, 2))[site]
    x = shift + rng.normal(size=(n, 2))
    u = rng.normal(size=n)
    site_m = 0.5 * rng.normal(size=n_clusters)[site]
    site_y = rng.normal(size=n_clusters)[site]
    site_r = 0.5 * rng.normal(size=n_clusters)[site]
    m = (
        0.5
        + r * (1.0 + 0.8 * x[:, 0] - 0.6 * x[:, 1])
        + 0.3 * x[:, 0]
        + site_m
        + u
        + 0.5 * rng.normal(size=n)
    )
    noise = (0.5 + 0.5 * np.abs(x[:, 0])) * rng.normal(size=n)
    y = (
        1.0
        + 0.4 * x[:, 0]
        - 0.3 * x[:, 1]
        + (THETA_R + site_r) * r
        + THETA_M * m
        + site_y
        + 1.5 * u
        + noise
    )
    return pd.DataFrame(
        {"r": r, "m": m, "x1": x[:, 0], "x2": x[:, 1], "y": y, "site": site}
    )


def _wald_rejects(est, use_t_df=None):
    """Rejections of the Wald tests at the true values (direct, mediator)."""
    frame = est.result_.to_frame()
    out = []
    for term, truth in (("r", THETA_R), ("m", THETA_M)):
        row = frame.loc[term]
        t = (row["estimate"] - truth) / row["std_error"]
        if use_t_df is None and "df" in frame:
            df = row["df"]
        else:
            df = use_t_df
        if df is None:
            p = 2 * stats.norm.sf(abs(t))
        else:
            p = 2 * stats.t.sf(abs(t), df)
        out.append(p < LEVEL)
    return out


def replicate(n: int, n_clusters: int, seed, n_resamples: int) -> np.ndarray:
    """Rejections (methods × effects) of one replication, as 0/1."""
    rng = np.random.default_rng(seed)
    data = draw_trial(n, n_clusters, rng)
    X, y, groups = data[["r", "m", "x1", "x2"]], data["y"], data["site"]
    out = np.zeros((len(METHODS), len(EFFECTS)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hc1 = IVMediationRegressor(**ROLES, cov_type="HC1").fit(X, y)
        cr1 = IVMediationRegressor(**ROLES, cov_type="cluster").fit(X, y, groups=groups)
        cr2 = IVMediationRegressor(**ROLES, cov_type="CR2", use_t=True).fit(
            X, y, groups=groups
        )
    out[0] = _wald_rejects(hc1)
    out[1] = _wald_rejects(cr1)
    out[2] = _wald_rejects(cr1, use_t_df=n_clusters - 1)
    frame = cr2.result_.to_frame()
    out[3] = [
        2
        * stats.norm.sf(abs((frame.loc[t, "estimate"] - v) / frame.loc[t, "std_error"]))
        < LEVEL
        for t, v in (("r", THETA_R), ("m", THETA_M))
    ]
    out[4] = _wald_rejects(cr2)
    wild_seed = rng.integers(2**63)
    for j, (effect, truth) in enumerate(zip(EFFECTS, (THETA_R, THETA_M), strict=True)):
        test = cr1.wild_bootstrap_test(
            effect,
            truth,
            n_resamples=n_resamples,
            weights="webb",
            random_state=wild_seed,
        )
        out[5, j] = test.pvalue < LEVEL
    return out


def binomial_band(n_replications: int, level: float = LEVEL, prob: float = 0.99):
    """Exact binomial band (percent) for a rejection rate of ``level``."""
    low = stats.binom.ppf((1 - prob) / 2, n_replications, level) / n_replications
    high = stats.binom.isf((1 - prob) / 2, n_replications, level) / n_replications
    return 100 * low, 100 * high


def run(
    n: int,
    n_clusters: int,
    n_replications: int,
    seed: int,
    n_resamples=399,
    n_jobs: int = 1,
) -> np.ndarray:
    """Rejection rates (percent; methods × effects) over the replications."""
    seeds = np.random.SeedSequence([seed, n, n_clusters]).spawn(n_replications)
    results = Parallel(n_jobs=n_jobs)(
        delayed(replicate)(n, n_clusters, s, n_resamples) for s in seeds
    )
    return 100 * np.mean(results, axis=0)


def table(rates: dict, n_replications: int) -> str:
    low, high = binomial_band(n_replications)
    lines = [
        f"Rejection rate (%) of nominal 5% tests at the true values; "
        f"{n_replications} replications; 99% band [{low:.1f}, {high:.1f}]",
        "",
        f"{'n':>5}{'G':>5}  {'method':<12}{'direct':>14}{'mediator':>14}",
    ]
    for (n, g), r in rates.items():
        for i, method in enumerate(METHODS):
            cells = []
            for j in range(len(EFFECTS)):
                rate = r[i, j]
                se = 100 * np.sqrt(rate / 100 * (1 - rate / 100) / n_replications)
                flag = "*" if not low <= rate <= high else " "
                cells.append(f"{rate:7.1f} ({se:.1f}){flag}")
            lines.append(
                f"{n:>5}{g:>5}  {method:<12}" + "".join(f"{c:>14}" for c in cells)
            )
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=2000)
    parser.add_argument("--n", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--clusters", type=int, nargs="+", default=[6, 10, 20, 50])
    parser.add_argument("--resamples", type=int, default=399)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rates = {
        (n, g): run(n, g, args.replications, args.seed, args.resamples, args.n_jobs)
        for n in args.n
        for g in args.clusters
    }
    print(table(rates, args.replications))
    print(
        f"{time.perf_counter() - start:.0f} s on {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
