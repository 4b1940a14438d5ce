"""Fit time of IVMediationRegressor against linearmodels, side by side.

For n in {10^3, 10^4, 10^5, 10^6} rows with 10 covariates (10 excluded
instruments), both fit the same model with HC1 standard errors
(linearmodels: cov_type="robust", debiased=True) in the same process: 2SLS
against ``IV2SLS`` by default, LIML against ``IVLIML`` with
``--kappa liml``. The table gives the best of ``--repeat`` wall-clock times,
their ratio and the largest relative difference between the two sets of
estimates and standard errors. A skmediate fit also computes what
linearmodels leaves to later calls: the effects table with its joint
covariance, the diagnostics table (first-stage F, effective F, Sargan,
Hansen J, Durbin, Wu-Hausman) and the Anderson-Rubin moments.

Peak memory: each fit runs once more under ``tracemalloc`` (which traces
numpy's allocations), and the peak of the memory it allocates above what was
allocated before the call is given as a multiple of the input size, the bytes
of ``X`` and ``y``. The linearmodels figure includes building its exogenous
and instrument arrays from ``X``, which a user of linearmodels has to do.

Small trials: at n = 300 with 2 covariates, held in a pandas DataFrame as a
trial's data usually is, the per-fit cost is mostly overhead (validation,
roles, results). The second table times ``IVMediationRegressor.fit`` against
linearmodels ``IV2SLS(...).fit(cov_type="robust")``,
``NaiveMediationRegressor.fit`` against statsmodels
``OLS(...).fit(cov_type="HC1")``, and one replication of ``simulate`` with
both estimators (data generation, two fits and the statistics) against one
``IV2SLS`` fit. Each is the median over ``--small-repeat`` rounds of the
mean of 50 calls, the contenders interleaved within a round so that the
machine's slow and fast phases hit them alike. BLAS runs on one thread for
all of them: products of a few hundred rows gain nothing from a second, and
on a busy machine the threads one call leaves spinning slow down the next
call, whichever library makes it (skmediate's own passes run BLAS on one
thread in any case).

Usage: python benchmarks/bench_fit.py [--sizes 1000 10000 ...] [--repeat 3]
       [--kappa 2sls|liml] [--small-repeat 15] [--quick]
"""

from __future__ import annotations

import argparse
import platform
import time
import tracemalloc
import warnings
from functools import partial

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from skmediate import IVMediationRegressor, NaiveMediationRegressor


def make_data(n: int, p: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    r = rng.integers(0, 2, n).astype(float)
    u = rng.normal(size=n)
    m = r * (0.5 + x @ np.full(p, 0.3)) + u + rng.normal(size=n)
    y = 1 + x.sum(axis=1) - r + 2 * m + u + rng.normal(size=n) * (1 + r)
    return np.column_stack([r, m, x]), y


def best_time(fn, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def peak_memory(fn) -> int:
    """Peak bytes allocated by ``fn()`` above those allocated before the call."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def small_trial(n: int = 300, seed: int = 0):
    """A trial of ``n`` subjects with two covariates, as a DataFrame."""
    rng = np.random.default_rng(seed)
    r = rng.integers(0, 2, n).astype(float)
    x = rng.normal(size=(n, 2))
    u = rng.normal(size=n)
    m = 0.3 + r * (0.5 + x @ np.array([0.8, -0.6])) + 0.5 * u + rng.normal(size=n)
    y = 1 + x @ np.array([0.5, -0.3]) - r + 2 * m + u + rng.normal(size=n) * (1 + r)
    frame = pd.DataFrame({"r": r, "m": m, "x1": x[:, 0], "x2": x[:, 1]})
    return frame, pd.Series(y, name="y")


def interleaved(functions: dict, rounds: int, calls: int = 50) -> dict:
    """Median over ``rounds`` of the mean time of ``calls`` calls, interleaved."""
    times = {name: [] for name in functions}
    for fn in functions.values():
        fn()  # warm up
    for _ in range(rounds):
        for name, fn in functions.items():
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            times[name].append((time.perf_counter() - start) / calls)
    return {name: float(np.median(t)) for name, t in times.items()}


def small_trials(rounds: int) -> None:
    """The per-fit cost at n = 300 beside linearmodels and statsmodels."""
    import statsmodels.api as sm
    from linearmodels.iv import IV2SLS

    from skmediate.datasets import make_mediation_data
    from skmediate.simulation import simulate

    X, y = small_trial()
    roles = dict(treatment="r", mediator="m", covariates=["x1", "x2"])
    iv = IVMediationRegressor(**roles)
    naive = NaiveMediationRegressor(**roles)
    exog = pd.DataFrame({"const": 1.0, "x1": X.x1, "x2": X.x2, "r": X.r})
    centered = X[["x1", "x2"]] - X[["x1", "x2"]].mean()
    instruments = centered.mul(X.r, axis=0).add_prefix("r:")
    design = pd.concat([exog, X[["m"]]], axis=1)
    estimators = {"naive": naive, "iv": iv}
    generator = partial(make_mediation_data, 300, return_truth=True)

    def study():
        simulate(estimators, generator, n_replications=10, random_state=0)

    with threadpool_limits(limits=1, user_api="blas"):
        t = interleaved(
            {
                "iv": lambda: iv.fit(X, y),
                "iv2sls": lambda: IV2SLS(y, exog, X[["m"]], instruments).fit(
                    cov_type="robust"
                ),
                "naive": lambda: naive.fit(X, y),
                "ols": lambda: sm.OLS(y, design).fit(cov_type="HC1"),
            },
            rounds,
        )
        t_sim = interleaved({"simulate": study}, max(3, rounds // 3), calls=3)
    per_replication = t_sim["simulate"] / 10
    header = f"{'n = 300, 2 covariates':<44}{'ms':>9}{'reference ms':>14}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    rows = [
        ("IVMediationRegressor.fit / IV2SLS robust", t["iv"], t["iv2sls"]),
        ("NaiveMediationRegressor.fit / OLS HC1", t["naive"], t["ols"]),
        (
            "simulate, per replication (IV + naive) / IV2SLS",
            per_replication,
            t["iv2sls"],
        ),
    ]
    for label, ours, theirs in rows:
        print(
            f"{label:<44}{1e3 * ours:>9.3f}{1e3 * theirs:>14.3f}{ours / theirs:>7.2f}x"
        )
    print("ratio: skmediate time / reference time (below 1: skmediate is faster)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10**3, 10**4, 10**5, 10**6]
    )
    parser.add_argument("--covariates", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kappa", choices=["2sls", "liml"], default="2sls")
    parser.add_argument("--small-repeat", type=int, default=15)
    parser.add_argument(
        "--quick", action="store_true", help="n in {10^3, 10^4}, one repeat"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.repeat, args.small_repeat = [10**3, 10**4], 1, 3

    from linearmodels.iv import IV2SLS, IVLIML

    reference = IV2SLS if args.kappa == "2sls" else IVLIML

    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, numpy {np.__version__}; "
        f"skmediate kappa={args.kappa!r} vs linearmodels {reference.__name__}"
    )
    header = (
        f"{'n':>9} {'skmediate s':>12} {'linearmodels s':>15} {'ratio':>7} "
        f"{'max rel diff coef':>18} {'max rel diff se':>16} "
        f"{'skmediate mem':>14} {'linearmodels mem':>17}"
    )
    print(header)
    print("-" * len(header))
    p = args.covariates
    for n in args.sizes:
        X, y = make_data(n, p)

        def ours(X=X, y=y):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return IVMediationRegressor(
                    treatment=0, mediator=1, cov_type="HC1", kappa=args.kappa
                ).fit(X, y)

        def theirs(X=X, y=y, n=n):
            x, r, m = X[:, 2:], X[:, 0], X[:, 1]
            exog = np.column_stack([np.ones(n), x, r])
            instruments = r[:, None] * (x - x.mean(axis=0))
            return reference(y, exog, m, instruments).fit(
                cov_type="robust", debiased=True
            )

        t_ours, est = best_time(ours, args.repeat)
        t_theirs, ref = best_time(theirs, args.repeat)
        coef_diff = np.max(
            np.abs(est.result_.params.to_numpy() - ref.params.to_numpy())
            / np.abs(ref.params.to_numpy())
        )
        se_diff = np.max(
            np.abs(est.result_.std_errors.to_numpy() - ref.std_errors.to_numpy())
            / ref.std_errors.to_numpy()
        )
        input_bytes = X.nbytes + y.nbytes
        mem_ours = peak_memory(ours) / input_bytes
        mem_theirs = peak_memory(theirs) / input_bytes
        print(
            f"{n:>9} {t_ours:>12.4f} {t_theirs:>15.4f} {t_theirs / t_ours:>6.1f}x "
            f"{coef_diff:>18.2e} {se_diff:>16.2e} "
            f"{mem_ours:>13.2f}x {mem_theirs:>16.1f}x"
        )
    print("mem: peak traced allocation during the fit / bytes of X and y")
    print()
    small_trials(args.small_repeat)


if __name__ == "__main__":
    main()
