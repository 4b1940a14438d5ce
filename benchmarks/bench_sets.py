"""Robust confidence sets with several mediators: skmediate against a profiled grid, side by side.

With HC covariances the weak-instrument-robust set of one mediator's effect
(or of the direct effect) is the projection of the joint Anderson–Rubin set,
which skmediate finds exactly (``confidence_set(effect, mediator=...)``,
every arc of the projective line proved inside or outside). What a user
would otherwise do is profile the joint statistic: on a grid of values of
the effect, minimize the statistic over the other effects (Nelder–Mead from
the estimates) and keep the values where the minimum is at most the
critical value. That grid (``--grid`` values over the Wald interval widened
threefold) runs here on the same statistic; its hull can only be as fine as
its spacing, and it cannot see a piece beyond its range. The last column is
the largest distance between the grid's ends and skmediate's ends within
its range, in units of the grid's spacing; ``outside`` counts skmediate's
ends beyond the grid's range (which the grid reports as the range's end).

Times are the best of ``--repeat`` runs for skmediate (the fit excluded) and
one run of the grid; ratio = grid time / skmediate time.

Usage: python benchmarks/bench_sets.py [--repeat 3] [--grid 200] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np
import pandas as pd
from scipy import optimize

from skmediate import IVMediationRegressor
from skmediate._numerics import joint
from skmediate._numerics.weakiv import critical_value, critical_value_for

LEVEL = 0.95


def draw_trial(q: int, n: int, seed: int):
    """``q`` mediators sharing an unmeasured confounder with the outcome, ``q + 1``
    covariates whose interactions with the assignment move the mediators,
    heteroskedastic outcome noise."""
    rng = np.random.default_rng(seed)
    p = q + 1
    r = rng.integers(0, 2, n).astype(float)
    x = rng.normal(size=(n, p))
    u = rng.normal(size=n)
    modifiers = np.eye(p, q) + 0.5 * rng.normal(size=(p, q))
    m = r[:, None] * (1.0 + x @ modifiers) + u[:, None] + rng.normal(size=(n, q))
    noise = rng.normal(size=n) * (1 + np.abs(x[:, 0]))
    y = 0.5 * r + m @ np.linspace(1.0, -0.5, q) + u + noise
    names = [f"m{j + 1}" for j in range(q)]
    columns = ["r", *names, *(f"x{j + 1}" for j in range(p))]
    return pd.DataFrame(np.column_stack([r, m, x]), columns=columns), y, names


def profiled_grid(est, effect, mediator, names, size):
    """The values of a grid over the widened Wald interval where the joint
    statistic, minimized over the other effects, is at most the critical value."""
    moments = est.result_.anderson_rubin_moments
    params = est.result_.params
    key = "r" if effect == "direct" else mediator
    centre, se = params[key], est.result_.std_errors[key]
    grid = np.linspace(centre - 6 * se, centre + 6 * se, size)
    if effect == "direct":
        coef, blocks = joint.direct_rows(moments)
        crit = critical_value_for(moments, coef.shape[1], LEVEL)
        start = params[names].to_numpy()

        def stat(value, rest):
            return joint._stat(coef, blocks, np.r_[1.0, -value, -rest])

    else:
        crit = critical_value(moments, LEVEL)
        index = names.index(mediator)
        others = [j for j in range(len(names)) if j != index]
        start = params[names].to_numpy()[others]

        def stat(value, rest):
            theta = np.empty(len(names))
            theta[index], theta[others] = value, rest
            return joint.joint_statistic(moments, theta)

    kept = [
        value
        for value in grid
        if optimize.minimize(
            lambda rest, value=value: stat(value, rest), start, method="Nelder-Mead"
        ).fun
        <= crit
    ]
    return np.array(kept), grid


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--grid", type=int, default=200)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    repeat = 1 if args.quick else args.repeat
    size = 40 if args.quick else args.grid
    designs = [(2, 500)] if args.quick else [(2, 500), (3, 400)]
    print(
        f"Robust (HC1) sets with several mediators, grid of {size}; "
        f"Python {platform.python_version()}, {os.cpu_count()} cores"
    )
    header = (
        f"{'q':>3}{'set':>10}{'skmediate (s)':>15}{'grid (s)':>10}{'ratio':>8}"
        f"{'pieces':>8}{'outside':>9}{'max end gap / spacing':>23}"
    )
    print(header)
    print("-" * len(header))
    for q, n in designs:
        frame, y, names = draw_trial(q, n, 7)
        est = IVMediationRegressor(treatment="r", mediator=names, cov_type="HC1")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(frame, y)
        for effect, mediator in [("mediator", m) for m in names] + [("direct", None)]:
            best = np.inf
            for _ in range(repeat):
                start = time.perf_counter()
                found = joint_set(est, effect, mediator)
                best = min(best, time.perf_counter() - start)
            start = time.perf_counter()
            kept, grid = profiled_grid(est, effect, mediator, names, size)
            slow = time.perf_counter() - start
            ends = [v for piece in found for v in piece if np.isfinite(v)]
            within = [v for v in ends if grid[0] <= v <= grid[-1]]
            gap = end_gap(within, kept) / (grid[1] - grid[0])
            label = mediator or "direct"
            print(
                f"{q:>3}{label:>10}{best:>15.3f}{slow:>10.2f}{slow / best:>8.1f}"
                f"{len(found):>8}{len(ends) - len(within):>9}{gap:>23.2f}"
            )


def joint_set(est, effect, mediator):
    """The robust set, as a user asks for it (nothing is cached between calls)."""
    return est.confidence_set(effect, mediator=mediator).intervals


def end_gap(ends, kept) -> float:
    """The largest distance between the grid's hull ends and the set's ``ends``."""
    if not ends:
        return 0.0
    if not len(kept):
        return np.inf
    hull = (kept.min(), kept.max())
    return max(min(abs(end - h) for h in hull) for end in ends)


if __name__ == "__main__":
    main()
