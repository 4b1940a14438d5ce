"""Bootstrap time: vectorized engine, refit engine, linearmodels and pingouin, side by side.

Two designs: the method paper's trial size (n = 297, two covariates, B = 2000
resamples) and a larger trial (n = 10^4, five covariates, B = 1000). For each,
in the same process:

- skmediate vectorized: ``bootstrap(IVMediationRegressor(...), engine="vectorized")``
  (pairs resamples, percentile intervals for the direct and mediator effects);
- skmediate refit: the same call with ``engine="refit"`` (clone and fit per
  resample, one process);
- linearmodels loop: ``IV2SLS(...).fit()`` on each of the same resamples (the
  pairs draws are ``rng.integers(0, n, (B, n))``), with the interactions
  centered at each resample's mean as the estimator does; its largest
  difference from the vectorized engine's bootstrap distribution is shown;
- pingouin: ``pingouin.mediation_analysis`` with the same number of
  resamples. It bootstraps a different model: the naive (Baron-Kenny)
  least squares mediation, which assumes the mediator is as good as
  randomized, and its indirect effect, not the IV estimates.

The vectorized time is the best of ``--repeat`` runs; the slower ones run once.
Ratios are times relative to the vectorized engine.

Usage: python benchmarks/bench_bootstrap.py [--repeat 3] [--skip-slow] [--quick]

``--quick`` runs each design with a tenth of the resamples (B = 200 and 100)
and one repeat.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np
import pandas as pd

from skmediate import IVMediationRegressor, bootstrap

DESIGNS = [(297, 2, 2000), (10_000, 5, 1000)]


def make_data(n: int, p: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    r = rng.integers(0, 2, n).astype(float)
    u = rng.normal(size=n)
    m = r * (0.5 + x @ np.linspace(1.0, 0.5, p)) + u + rng.normal(size=n)
    y = 1 + x.sum(axis=1) - r + 2 * m + u + rng.normal(size=n) * (1 + r)
    frame = pd.DataFrame({"r": r, "m": m, **{f"x{j + 1}": x[:, j] for j in range(p)}})
    return frame, pd.Series(y, name="y")


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def linearmodels_loop(frame, y, n_resamples, seed):
    from linearmodels.iv import IV2SLS

    covariates = [c for c in frame.columns if c.startswith("x")]
    x = frame[covariates].to_numpy()
    r, m, yv = frame["r"].to_numpy(), frame["m"].to_numpy(), y.to_numpy()
    n = len(yv)
    indices = np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))
    out = np.empty((2, n_resamples))
    for b, i in enumerate(indices):
        xi, ri = x[i], r[i]
        exog = np.column_stack([np.ones(n), xi, ri])
        instruments = ri[:, None] * (xi - xi.mean(axis=0))
        fit = IV2SLS(yv[i], exog, m[i], instruments).fit()
        out[:, b] = fit.params.to_numpy()[-2:]
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--skip-slow", action="store_true", help="time the vectorized engine only"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a tenth of the resamples, one repeat"
    )
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    designs = DESIGNS
    if args.quick:
        designs = [(n, p, n_resamples // 10) for n, p, n_resamples in DESIGNS]
        args.repeat = 1

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"numpy {np.__version__}"
    )
    header = (
        f"{'n':>6} {'p':>2} {'B':>5}  {'method':<34}{'seconds':>9}{'ratio':>9}  note"
    )
    print(header)
    print("-" * (len(header) + 30))
    for n, p, n_resamples in designs:
        for name, seconds, note, t_vec in run_design(
            n, p, n_resamples, args.repeat, args.skip_slow
        ):
            print(
                f"{n:>6} {p:>2} {n_resamples:>5}  {name:<34}{seconds:>9.3f}"
                f"{seconds / t_vec:>8.1f}x  {note}"
            )


def run_design(n, p, n_resamples, repeat, skip_slow):
    """Rows ``(method, seconds, note, vectorized seconds)`` of one design."""
    frame, y = make_data(n, p)
    est = IVMediationRegressor(treatment="r", mediator="m")
    kwargs = dict(n_resamples=n_resamples, random_state=0)
    runs = [
        timed(lambda: bootstrap(est, frame, y, engine="vectorized", **kwargs))
        for _ in range(repeat)
    ]
    t_vec, vec = min(runs, key=lambda run: run[0])
    low, high = vec.confidence_interval
    rows = [
        (
            "skmediate vectorized",
            t_vec,
            f"95% CI direct [{low[0]:.3f}, {high[0]:.3f}], "
            f"mediator [{low[1]:.3f}, {high[1]:.3f}]",
        )
    ]
    if not skip_slow:
        t_ref, ref = timed(lambda: bootstrap(est, frame, y, engine="refit", **kwargs))
        diff = np.max(np.abs(ref.bootstrap_distribution - vec.bootstrap_distribution))
        rows.append(
            ("skmediate refit", t_ref, f"max |diff| from vectorized {diff:.1e}")
        )
        t_lm, lm = timed(lambda: linearmodels_loop(frame, y, n_resamples, 0))
        diff = np.max(np.abs(lm - vec.bootstrap_distribution))
        rows.append(
            (
                "linearmodels IV2SLS loop",
                t_lm,
                f"same resamples; max |diff| from vectorized {diff:.1e}",
            )
        )
        rows.append(pingouin_row(frame, y, n_resamples))
    return [(*row, t_vec) for row in rows]


def pingouin_row(frame, y, n_resamples):
    try:
        import pingouin
    except ImportError:
        return ("pingouin.mediation_analysis", np.nan, "pingouin not installed")
    data = frame.assign(y=y)
    covariates = [c for c in frame.columns if c.startswith("x")]
    seconds, _ = timed(
        lambda: pingouin.mediation_analysis(
            data=data, x="r", m="m", y="y", covar=covariates, n_boot=n_resamples, seed=0
        )
    )
    return (
        "pingouin.mediation_analysis",
        seconds,
        "a different model: naive least squares mediation",
    )


if __name__ == "__main__":
    main()
