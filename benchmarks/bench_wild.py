"""Wild cluster bootstrap test: skmediate against a linearmodels refit loop, side by side.

The wild restricted efficient bootstrap test of the mediator effect
(``IVMediationRegressor.wild_bootstrap_test``, Webb multipliers, 999 draws)
on multi-site trials from ``few_clusters_study.py``. What a user would
otherwise do in Python is generate the same bootstrap samples (null imposed,
one multiplier per site) and refit each with linearmodels' ``IV2SLS`` with
the clustered covariance (``debiased=True``, the CR1 factor); that loop runs
here on the same multipliers, and the largest difference between its
bootstrap t statistics and skmediate's is shown.

Times are the best of ``--repeat`` runs for skmediate (fit included) and one
run of the loop; ratio = loop time / skmediate time.

Usage: python benchmarks/bench_wild.py [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np
from few_clusters_study import THETA_M, draw_trial

from skmediate import IVMediationRegressor
from skmediate._numerics.wild import draw_multipliers

DESIGNS = [(300, 20), (10_000, 50)]
ROLES = dict(treatment="r", mediator="m", covariates=["x1", "x2"])


def skmediate_test(data, n_resamples, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = IVMediationRegressor(**ROLES, cov_type="cluster").fit(
            data[["r", "m", "x1", "x2"]], data["y"], groups=data["site"]
        )
    return est.wild_bootstrap_test(
        "mediator", THETA_M, n_resamples=n_resamples, weights="webb", random_state=seed
    )


def linearmodels_loop(data, n_resamples, seed):
    """The same bootstrap by generating each sample and refitting with IV2SLS."""
    from linearmodels.iv import IV2SLS

    n = len(data)
    r, m, y = (data[c].to_numpy() for c in ("r", "m", "y"))
    x = data[["x1", "x2"]].to_numpy()
    site = data["site"].to_numpy()
    exog = np.column_stack([np.ones(n), x, r])
    q = np.column_stack([exog, r[:, None] * (x - x.mean(axis=0))])
    target = y - THETA_M * m
    fitted = exog @ np.linalg.lstsq(exog, target, rcond=None)[0]
    u1 = target - fitted
    pi = np.linalg.lstsq(np.column_stack([q, u1]), m, rcond=None)[0][:-1]
    c = q @ pi
    d = m - c
    _, codes = np.unique(site, return_inverse=True)
    v = draw_multipliers(
        "webb", n_resamples, codes.max() + 1, np.random.default_rng(seed)
    )
    out = np.empty(n_resamples)
    instruments = q[:, exog.shape[1] :]
    for b in range(n_resamples):
        vi = v[b, codes]
        m_star = c + d * vi
        y_star = fitted + THETA_M * m_star + u1 * vi
        fit = IV2SLS(y_star, exog, m_star, instruments).fit(
            cov_type="clustered", clusters=codes, debiased=True
        )
        out[b] = (fit.params.iloc[-1] - THETA_M) / fit.std_errors.iloc[-1]
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    n_resamples = 99 if args.quick else 999
    repeat = 1 if args.quick else args.repeat
    print(
        f"Wild restricted efficient bootstrap of the mediator effect, Webb, "
        f"B = {n_resamples}; Python {platform.python_version()}, "
        f"{os.cpu_count()} cores"
    )
    header = (
        f"{'n':>7}{'G':>5}{'skmediate (s)':>15}{'linearmodels loop (s)':>23}"
        f"{'ratio':>8}{'max |t* diff|':>15}"
    )
    print(header)
    print("-" * len(header))
    for n, g in DESIGNS:
        data = draw_trial(n, g, np.random.default_rng(7))
        best = np.inf
        for _ in range(repeat):
            start = time.perf_counter()
            test = skmediate_test(data, n_resamples, 3)
            best = min(best, time.perf_counter() - start)
        start = time.perf_counter()
        loop = linearmodels_loop(data, n_resamples, 3)
        slow = time.perf_counter() - start
        diff = np.max(np.abs(loop - test.bootstrap_statistics))
        print(f"{n:>7}{g:>5}{best:>15.4f}{slow:>23.2f}{slow / best:>8.0f}{diff:>15.2e}")


if __name__ == "__main__":
    main()
