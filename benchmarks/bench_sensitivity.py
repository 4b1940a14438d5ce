"""SensitivityGrid: closed form against refitting at every grid point.

n = 10^5 rows, two covariates, HC1 standard errors; grids of G in {16, 1 000,
10 000} points over (τ_R, τ_M). The refit time is measured on a subset of the
grid (``--refit-points``) and extrapolated linearly to G; the largest relative
difference of estimates, standard errors and CI bounds between the two methods
is taken over that subset.

A second table sets the grid's fit beside a bare fit of the estimator:
``SensitivityGrid.fit`` with 16 points (τ on two covariates for each effect)
against ``IVMediationRegressor.fit`` on the same data, at ``--large`` rows
with 2 and with 10 covariates (best of ``--repeat``, interleaved). The grid's closed
form is accumulated in the passes of its one fit.

Usage: python benchmarks/bench_sensitivity.py [--n 100000] [--sizes 16 1000 10000]
       [--refit-points 16] [--large 1000000] [--repeat 3]
       [--robust-points 1000] [--quick]

``--quick`` uses n = 10^4, grids of 16 and 1 000 points, 4 refits, and
10^5 rows for the second table.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import pandas as pd

from skmediate import IVMediationRegressor, SensitivityGrid


def make_data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    r = rng.integers(0, 2, n).astype(float)
    u = rng.normal(size=n)
    m = r * (0.5 + x @ [0.6, -0.4]) + u + rng.normal(size=n)
    y = 1 + x.sum(axis=1) - r + 2 * m + u + rng.normal(size=n) * (1 + r)
    return pd.DataFrame({"r": r, "m": m, "x1": x[:, 0], "x2": x[:, 1]}), y


def grid_of(size: int, seed: int = 1) -> np.ndarray:
    """``size`` rows of (τ_R, τ_M) spread over [-1, 1]^4; the first row is 0."""
    grid = np.random.default_rng(seed).uniform(-1, 1, size=(size, 4))
    grid[0] = 0
    return grid


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 1_000, 10_000])
    parser.add_argument("--refit-points", type=int, default=16)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--robust-points", type=int, default=1_000)
    parser.add_argument(
        "--quick", action="store_true", help="n = 10^4, grids of 16 and 1 000 points"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.sizes, args.refit_points = 10_000, [16, 1_000], 4
        args.large, args.repeat, args.robust_points = 100_000, 1, 100

    X, y = make_data(args.n)
    est = IVMediationRegressor(treatment="r", mediator="m", cov_type="HC1")
    print(
        f"machine: {platform.machine()}, Python {platform.python_version()}, "
        f"numpy {np.__version__}; n = {args.n}, 2 covariates, HC1"
    )
    header = (
        f"{'grid points':>11} {'closed form s':>14} {'refit s':>12} {'refit/closed':>13} "
        f"{'max rel diff':>13}"
    )
    print(header)
    print("-" * len(header))
    for size in args.sizes:
        grid = grid_of(size)
        kwargs = dict(tau_direct=grid[:, :2], tau_mediator=grid[:, 2:])
        start = time.perf_counter()
        closed = SensitivityGrid(est, method="closed_form", **kwargs).fit(X, y)
        t_closed = time.perf_counter() - start

        subset = grid[: min(size, args.refit_points)]
        start = time.perf_counter()
        refit = SensitivityGrid(
            est, tau_direct=subset[:, :2], tau_mediator=subset[:, 2:], method="refit"
        ).fit(X, y)
        t_refit = (time.perf_counter() - start) * size / len(subset)

        a = closed.to_frame().iloc[: len(subset)].to_numpy()
        b = refit.to_frame().to_numpy()
        diff = np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12))
        extrapolated = "*" if len(subset) < size else " "
        print(
            f"{size:>11} {t_closed:>14.4f} {t_refit:>11.2f}{extrapolated} "
            f"{t_refit / t_closed:>12.0f}x {diff:>13.2e}"
        )
    print("* refit time extrapolated from the first", args.refit_points, "grid points")
    print()
    grid_against_fit(args.large, args.repeat)
    print()
    robust_against_bare(args.large, args.repeat)
    print()
    robust_per_point(args.n, args.robust_points)


def grid_against_fit(n: int, repeat: int) -> None:
    """``SensitivityGrid.fit`` with 16 points against a bare fit, 2 and 10 covariates."""
    import warnings

    header = (
        f"{'n':>9} {'covariates':>10} {'points':>7} {'fit s':>8} {'grid fit s':>11} "
        f"{'grid / fit':>11}"
    )
    print(header)
    print("-" * len(header))
    for p in (2, 10):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(n, p))
        r = rng.integers(0, 2, n).astype(float)
        u = rng.normal(size=n)
        m = r * (0.5 + x @ np.full(p, 0.3)) + u + rng.normal(size=n)
        y = 1 + x.sum(axis=1) - r + 2 * m + u + rng.normal(size=n) * (1 + r)
        X = np.column_stack([r, m, x])
        est = IVMediationRegressor(treatment=0, mediator=1, cov_type="HC1")
        grid = SensitivityGrid(
            est,
            tau_direct={"x2": [0.0, 0.5], "x3": [0.0, 0.5]},
            tau_mediator={"x2": [0.0, 0.5], "x3": [0.0, 0.5]},
        )
        times = {"fit": [], "grid": []}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
            grid.fit(X, y)
            for _ in range(repeat):
                for name, fitted in (("fit", est), ("grid", grid)):
                    start = time.perf_counter()
                    fitted.fit(X, y)
                    times[name].append(time.perf_counter() - start)
        t_fit, t_grid = min(times["fit"]), min(times["grid"])
        print(
            f"{n:>9} {p:>10} {len(grid.grid_):>7} {t_fit:>8.3f} {t_grid:>11.3f} "
            f"{t_grid / t_fit:>10.2f}x"
        )


def _trial(n: int, p: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    r = rng.integers(0, 2, n).astype(float)
    u = rng.normal(size=n)
    m = r * (0.5 + x @ np.full(p, 0.3)) + u + rng.normal(size=n)
    y = 1 + x.sum(axis=1) - r + 2 * m + u + rng.normal(size=n) * (1 + r)
    groups = rng.integers(0, 200, n)
    return np.column_stack([r, m, x]), y, groups


def _best(estimators: dict, X, y, groups, repeat: int) -> dict:
    """Best of ``repeat`` interleaved timings of each ``fit`` (after one warm-up)."""
    times = {name: [] for name in estimators}
    for est in estimators.values():
        est.fit(X, y, groups=groups)
    for _ in range(repeat):
        for name, est in estimators.items():
            start = time.perf_counter()
            est.fit(X, y, groups=groups)
            times[name].append(time.perf_counter() - start)
    return {name: min(values) for name, values in times.items()}


def robust_against_bare(n: int, repeat: int) -> None:
    """Fit, bare grid and grid with ``robust_sets=True`` (16 points), side by side."""
    import warnings

    header = (
        f"{'n':>9} {'covariates':>10} {'cov_type':>9} {'fit s':>8} {'grid s':>8} "
        f"{'robust grid s':>14} {'robust / grid':>14}"
    )
    print(header)
    print("-" * len(header))
    for p in (2, 10):
        X, y, groups = _trial(n, p)
        for cov_type in ("classical", "HC1", "cluster"):
            est = IVMediationRegressor(treatment=0, mediator=1, cov_type=cov_type)
            kw = dict(
                tau_direct={"x2": [0.0, 0.1], "x3": [0.0, 0.1]},
                tau_mediator={"x2": [0.0, 0.02], "x3": [0.0, 0.02]},
            )
            bare = SensitivityGrid(est, **kw)
            robust = SensitivityGrid(est, robust_sets=True, **kw)
            g = groups if cov_type == "cluster" else None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = _best({"fit": est, "grid": bare, "robust": robust}, X, y, g, repeat)
            print(
                f"{n:>9} {p:>10} {cov_type:>9} {t['fit']:>8.3f} {t['grid']:>8.3f} "
                f"{t['robust']:>14.3f} {t['robust'] / t['grid']:>13.2f}x"
            )


def robust_per_point(n: int, points: int) -> None:
    """The cost of the exact inversions per grid point, on a large grid."""
    import warnings

    header = (
        f"{'n':>9} {'cov_type':>9} {'points':>7} {'grid s':>8} {'robust grid s':>14} "
        f"{'ms per point':>13}"
    )
    print(header)
    print("-" * len(header))
    X, y, groups = _trial(n, 2)
    rng = np.random.default_rng(2)
    tau = rng.uniform(-0.1, 0.1, size=(points, 4))
    for cov_type in ("classical", "HC1", "cluster"):
        est = IVMediationRegressor(treatment=0, mediator=1, cov_type=cov_type)
        kw = dict(tau_direct=tau[:, :2], tau_mediator=tau[:, 2:])
        g = groups if cov_type == "cluster" else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = _best(
                {
                    "grid": SensitivityGrid(est, **kw),
                    "robust": SensitivityGrid(est, robust_sets=True, **kw),
                },
                X,
                y,
                g,
                1,
            )
        per_point = (t["robust"] - t["grid"]) / points * 1e3
        print(
            f"{n:>9} {cov_type:>9} {points:>7} {t['grid']:>8.3f} {t['robust']:>14.3f} "
            f"{per_point:>13.2f}"
        )


if __name__ == "__main__":
    main()
