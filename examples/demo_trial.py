"""Naive versus instrumental-variable mediation analysis on a simulated trial
==========================================================================

A randomized intervention (``r``) raises the use of a medication (the mediator
``m``), which lowers a depression score (``y``). An unmeasured comorbidity makes
patients both less likely to take the medication and more depressed, so the
mediator is not as good as randomized: the naive (Baron-Kenny) regression of
``y`` on ``r``, ``m`` and the baseline covariates is biased. The intervention's
effect on medication use varies with two baseline covariates (past use and
baseline use), so their interactions with ``r`` instrument the mediator.

The script fits both estimators and prints their summaries side by side,
followed by a comparison with the true effects used to simulate the data.

Run: python examples/demo_trial.py [--n 3000] [--seed 2012]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from skmediate import IVMediationRegressor, NaiveMediationRegressor

TRUE_DIRECT = -1.0
TRUE_MEDIATOR = -3.0


def simulate_trial(n: int = 3000, seed: int = 2012) -> tuple[pd.DataFrame, pd.Series]:
    """Simulated trial data; the comorbidity ``u`` is not returned."""
    rng = np.random.default_rng(seed)
    r = rng.integers(0, 2, n)
    past_use = rng.binomial(1, 0.4, n)
    baseline_use = rng.integers(0, 5, n)
    u = rng.normal(size=n)
    # Medication use: the intervention helps most those with past or baseline use.
    latent = (
        -1.2
        + 0.6 * r
        + 1.2 * r * past_use
        + 0.4 * r * baseline_use
        + 0.2 * baseline_use
        - 0.8 * u
        + rng.logistic(scale=0.6, size=n)
    )
    m = (latent > 0).astype(float)
    # Subject-level effects vary, with means TRUE_DIRECT and TRUE_MEDIATOR.
    theta_r = TRUE_DIRECT + 0.5 * rng.normal(size=n)
    theta_m = TRUE_MEDIATOR + 0.5 * rng.normal(size=n)
    y = (
        18
        + 1.5 * past_use
        + 0.8 * baseline_use
        + theta_r * r
        + theta_m * m
        + 3.0 * u
        + rng.normal(scale=3.0, size=n)
    )
    X = pd.DataFrame(
        {"r": r, "m": m, "past_use": past_use, "baseline_use": baseline_use}
    )
    return X, pd.Series(y, name="hamilton")


def side_by_side(left: str, right: str, gap: int = 3) -> str:
    """Two text blocks next to each other."""
    a, b = left.splitlines(), right.splitlines()
    width = max(len(line) for line in a)
    rows = max(len(a), len(b))
    a += [""] * (rows - len(a))
    b += [""] * (rows - len(b))
    return "\n".join(
        f"{x:<{width}}{' ' * gap}{y}".rstrip() for x, y in zip(a, b, strict=True)
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000, help="number of subjects")
    parser.add_argument("--seed", type=int, default=2012, help="random seed")
    args = parser.parse_args(argv)

    X, y = simulate_trial(args.n, args.seed)
    roles = dict(treatment="r", mediator="m", covariates=["past_use", "baseline_use"])
    naive = NaiveMediationRegressor(**roles).fit(X, y)
    iv = IVMediationRegressor(**roles).fit(X, y)

    arms = X.groupby("r")["m"].agg(["size", "mean"])
    print(
        f"Simulated trial: {len(y)} subjects, {arms.loc[1, 'size']} treated and "
        f"{arms.loc[0, 'size']} controls; medication use {arms.loc[1, 'mean']:.0%} "
        f"vs {arms.loc[0, 'mean']:.0%}."
    )
    print("An unmeasured comorbidity confounds medication use and the outcome.\n")
    print(side_by_side(str(naive.summary()), str(iv.summary())))

    print("\nTrue effects against the estimates (95% confidence intervals):")
    header = f"{'':<22}{'direct effect of r':>26}{'mediator effect':>26}"
    print(header)
    print("-" * len(header))
    print(f"{'truth':<22}{TRUE_DIRECT:>26.2f}{TRUE_MEDIATOR:>26.2f}")
    for label, est in (("naive regression", naive), ("IV (2SLS)", iv)):
        ci = est.result_.conf_int()
        cells = [
            f"{est.result_.params[t]:.2f} ({ci.loc[t, 'lower']:.2f}, {ci.loc[t, 'upper']:.2f})"
            for t in ("r", "m")
        ]
        print(f"{label:<22}{cells[0]:>26}{cells[1]:>26}")
    fs, eff = iv.first_stage_, iv.first_stage_.effective_f
    print(
        f"\n{fs.n_instruments} instruments, first-stage partial F = "
        f"{fs.f_statistic:.1f} (Stock-Yogo critical value {fs.critical_value:.2f}); "
        f"effective F ({eff.cov_type}) = {eff.statistic:.1f}, critical value "
        f"{eff.critical_value:.2f}: the instruments are "
        f"{'weak' if fs.is_weak else 'not weak'} by the effective F, which decides "
        f"with {eff.cov_type} standard errors."
    )


if __name__ == "__main__":
    main()
