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

Usage: python benchmarks/bench_fit.py [--sizes 1000 10000 ...] [--repeat 3]
       [--kappa 2sls|liml] [--quick]
"""

from __future__ import annotations

import argparse
import platform
import time
import tracemalloc
import warnings

import numpy as np

from skmediate import IVMediationRegressor


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10**3, 10**4, 10**5, 10**6]
    )
    parser.add_argument("--covariates", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kappa", choices=["2sls", "liml"], default="2sls")
    parser.add_argument(
        "--quick", action="store_true", help="n in {10^3, 10^4}, one repeat"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.repeat = [10**3, 10**4], 1

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
            f"{mem_ours:>13.1f}x {mem_theirs:>16.1f}x"
        )
    print("mem: peak traced allocation during the fit / bytes of X and y")


if __name__ == "__main__":
    main()
