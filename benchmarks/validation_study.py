"""Monte Carlo validation: bias and confidence-interval coverage of the mediation estimators.

Randomized trials are simulated from model (1) of Small (2012): subject-level
direct effects ``θ_Ri`` and mediator effects ``θ_Mi`` with means
``θ_R = -1`` and ``θ_M = 2``, three baseline covariates ``X`` whose
interactions with the assignment ``R`` move the mediator ``M`` (the
instruments), and an unmeasured confounder ``U`` of ``M`` and the outcome, so
the naive regression is biased. Five designs:

- ``constant``: constant effects, homoskedastic ``Y(0,0)``: the only design in
  which the error variance given ``(R, X)`` is constant;
- ``heterogeneous``: ``sd(θ_Ri) = sd(θ_Mi) = 1``, drawn independently of
  everything else, so AA-1, AA-2 and IV-A1 to IV-A3 all hold;
- ``heteroskedastic``: constant effects, ``sd(Y(0,0) | X) = 0.25 + 2|X1|``
  (AA-2 fails);
- ``weak``: as ``constant`` but the interactions are scaled with
  ``1/sqrt(n)`` so that the concentration parameter stays at 6 (expected
  first-stage F about 3) for every n;
- ``clustered``: as ``heterogeneous``, randomized by cluster (50 clusters, half
  treated), with cluster effects in ``X``, ``M`` and ``Y(0,0)``.

For each design and n, ``--replications`` trials are drawn (every seed is
spawned once from ``--seed``, so the numbers do not depend on ``--n-jobs``).
Each trial is validated once and fitted by IVMediationRegressor and
NaiveMediationRegressor, and the nominal 95% Wald intervals of every
covariance type are compared with the true ``θ_R`` and ``θ_M``. The table gives the bias (with its Monte Carlo
standard error), the standard deviation of the estimates, and the coverage in
percent (with its Monte Carlo standard error ``sqrt(c(1-c)/reps)``); a ``*``
marks coverage outside the exact binomial 99% band around 95%.

Why the unadjusted covariance fails with heterogeneous effects: the error is
``ε = (θ_Ri - θ_R)R + (θ_Mi - θ_M)M + Y(0,0) - E[Y(0,0) | X]`` and here

    Var(ε | R, X) = Var(Y(0,0) | X) + Var(θ_Ri) R² + Var(θ_Mi) E[M² | R, X],

which depends on ``R`` and, through ``E[M² | R, X] = Var(M | R, X) +
E[M | R, X]²``, on ``X`` (``error_variance`` below; the tests check it against
simulation).

``--bootstrap`` adds the coverage of bootstrap percentile and BCa intervals
(IV estimator, fewer replications), computed with ``skmediate.bootstrap``.

``--few-clusters`` also runs ``few_clusters_study.py``: the size of the
tests of each covariance, ``use_t`` and the wild cluster bootstrap with 6
to 50 sites.

Usage: python benchmarks/validation_study.py [--replications 5000]
       [--n 300 3000] [--designs constant ...] [--n-jobs 2] [--seed 20120601]
       [--bootstrap] [--bootstrap-replications 400] [--bootstrap-resamples 999]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy import stats
from sklearn.base import clone

from skmediate import (
    FewClustersWarning,
    IVMediationRegressor,
    NaiveMediationRegressor,
    WeakInstrumentWarning,
)
from skmediate._numerics.covariance import COV_TYPES

# -- the model ----------------------------------------------------------------

TRUE_DIRECT = -1.0  # θ_R = E[θ_Ri]
TRUE_MEDIATOR = 2.0  # θ_M = E[θ_Mi]
COVARIATES = ("x1", "x2", "x3")
# Mediator: M = 0.5 + γᵀX + R (1 + πᵀX) + U + ν, ν ~ N(0, 1)
M_INTERCEPT = 0.5
M_COVARIATES = np.array([0.3, -0.2, 0.1])  # γ
M_TREATMENT = 1.0  # average effect of R on M
MODIFIERS = np.array([1.0, -1.0, 1.0])  # π: the instruments' strength
CONFOUNDING_M = 1.0  # coefficient of U in M
SD_M_NOISE = 1.0
# Outcome: Y(0,0) = 1 + βᵀX + 1.5 U + e, e ~ N(0, sd²)
Y_INTERCEPT = 1.0
Y_COVARIATES = np.array([0.5, -0.5, 0.25])  # β
CONFOUNDING_Y = 1.5  # coefficient of U in Y(0,0)
SD_Y_NOISE = 1.0
# Cluster-randomized design: X = sqrt(1/2)(c_g + ξ_i), effects a_g in M, b_g in Y.
SD_CLUSTER_M = 0.5
SD_CLUSTER_Y = 1.0
TREATED_SHARE_VAR = 0.25  # Var(R) with R ~ Bernoulli(1/2)
CONFIDENCE_LEVEL = 0.95


@dataclass(frozen=True)
class Design:
    """One simulation design (see the module docstring)."""

    name: str
    description: str
    sd_direct: float = 0.0  # sd(θ_Ri)
    sd_mediator: float = 0.0  # sd(θ_Mi)
    heteroskedastic: bool = False  # sd(Y(0,0) | X) = 0.25 + 2|X1| instead of 1
    concentration: float | None = None  # fixed μ² (weak-instrument asymptotics)
    n_clusters: int | None = None  # cluster-randomized trial with this many clusters

    @property
    def cov_types(self) -> tuple[str, ...]:
        base = ("unadjusted", "classical", "HC0", "HC1", "HC2", "HC3")
        return base + ("cluster", "CR2") if self.n_clusters else base


DESIGNS = {
    d.name: d
    for d in (
        Design("constant", "constant effects, homoskedastic Y(0,0)"),
        Design(
            "heterogeneous",
            "sd(θ_Ri) = sd(θ_Mi) = 1, AA-1 and AA-2 hold",
            sd_direct=1.0,
            sd_mediator=1.0,
        ),
        Design(
            "heteroskedastic",
            "constant effects, sd(Y(0,0) | X) = 0.25 + 2|X1|",
            heteroskedastic=True,
        ),
        Design(
            "weak",
            "constant effects, concentration parameter 6 (E[F] about 3)",
            concentration=6.0,
        ),
        Design(
            "clustered",
            "heterogeneous, 50 clusters randomized, cluster effects",
            sd_direct=1.0,
            sd_mediator=1.0,
            n_clusters=50,
        ),
    )
}


def modifiers(design: Design, n: int) -> np.ndarray:
    """π, the effect modification of ``R`` on ``M`` by ``X`` (the instruments' strength).

    With a fixed concentration parameter ``μ² = n Var(R) πᵀπ / Var(ν + U)``
    (Var(X) = I), ``π`` shrinks like ``1/sqrt(n)`` and the first stage stays
    equally weak at every n (Staiger and Stock, 1997).
    """
    if design.concentration is None:
        return MODIFIERS
    direction = MODIFIERS / np.linalg.norm(MODIFIERS)
    first_stage_var = CONFOUNDING_M**2 + SD_M_NOISE**2
    size = np.sqrt(design.concentration * first_stage_var / (n * TREATED_SHARE_VAR))
    return size * direction


def noise_sd(design: Design, x: np.ndarray) -> np.ndarray:
    """Standard deviation of the non-confounder part of ``Y(0,0)`` given ``X``."""
    if design.heteroskedastic:
        return 0.25 + 2.0 * np.abs(x[:, 0])
    return np.full(x.shape[0], SD_Y_NOISE)


def mediator_mean(design: Design, r: np.ndarray, x: np.ndarray, n: int) -> np.ndarray:
    """``E[M | R, X]``."""
    return M_INTERCEPT + x @ M_COVARIATES + r * (M_TREATMENT + x @ modifiers(design, n))


def draw_assignment(design: Design, n: int, rng: np.random.Generator):
    """Treatment, covariates and cluster labels (None unless clustered)."""
    p = len(COVARIATES)
    if design.n_clusters is None:
        return rng.integers(0, 2, n).astype(float), rng.normal(size=(n, p)), None
    n_clusters = design.n_clusters
    if n % n_clusters:
        raise ValueError(f"n={n} is not a multiple of {n_clusters} clusters")
    groups = np.repeat(np.arange(n_clusters), n // n_clusters)
    treated = rng.permutation(np.arange(n_clusters) < n_clusters // 2)
    shared = rng.normal(size=(n_clusters, p))[groups]
    x = np.sqrt(0.5) * (shared + rng.normal(size=(n, p)))
    return treated[groups].astype(float), x, groups


@dataclass(frozen=True)
class Trial:
    m: np.ndarray
    y: np.ndarray
    error: np.ndarray  # ε of the paper's equation (5)


def draw_trial(
    design: Design,
    r: np.ndarray,
    x: np.ndarray,
    groups: np.ndarray | None,
    rng: np.random.Generator,
    n: int | None = None,
) -> Trial:
    """Mediator and outcome from model (1) given the assignment and covariates.

    ``n`` sets the instruments' strength of the weak design (default: the
    number of rows).
    """
    rows = r.shape[0]
    n = rows if n is None else n
    u = rng.normal(size=rows)
    cluster_m = cluster_y = 0.0
    if design.n_clusters is not None:
        n_groups = int(groups.max()) + 1
        cluster_m = SD_CLUSTER_M * rng.normal(size=n_groups)[groups]
        cluster_y = SD_CLUSTER_Y * rng.normal(size=n_groups)[groups]
    m = (
        mediator_mean(design, r, x, n)
        + cluster_m
        + CONFOUNDING_M * u
        + SD_M_NOISE * rng.normal(size=rows)
    )
    theta_r = TRUE_DIRECT + design.sd_direct * rng.normal(size=rows)
    theta_m = TRUE_MEDIATOR + design.sd_mediator * rng.normal(size=rows)
    baseline = (  # Y(0,0) - E[Y(0,0) | X]
        CONFOUNDING_Y * u + cluster_y + noise_sd(design, x) * rng.normal(size=rows)
    )
    y = Y_INTERCEPT + x @ Y_COVARIATES + baseline + theta_r * r + theta_m * m
    error = (theta_r - TRUE_DIRECT) * r + (theta_m - TRUE_MEDIATOR) * m + baseline
    return Trial(m=m, y=y, error=error)


def error_variance(design: Design, r: np.ndarray, x: np.ndarray, n: int) -> np.ndarray:
    """``Var(ε | R, X)`` in closed form.

    ``ε = (θ_Ri - θ_R)R + (θ_Mi - θ_M)M + Y(0,0) - E[Y(0,0) | X]``. The effect
    deviations are independent of ``(R, X, M, U)`` and of each other, so the
    three terms are uncorrelated given ``(R, X)`` and

    ``Var(ε | R, X) = Var(Y(0,0) | X) + Var(θ_Ri) R² + Var(θ_Mi) E[M² | R, X]``

    with ``E[M² | R, X] = E[M | R, X]² + Var(M | R, X)``.
    """
    clustered = design.n_clusters is not None
    var_m = CONFOUNDING_M**2 + SD_M_NOISE**2 + (SD_CLUSTER_M**2 if clustered else 0)
    second_moment_m = mediator_mean(design, r, x, n) ** 2 + var_m
    var_baseline = (
        CONFOUNDING_Y**2
        + (SD_CLUSTER_Y**2 if clustered else 0.0)
        + noise_sd(design, x) ** 2
    )
    return (
        var_baseline
        + design.sd_direct**2 * r**2
        + design.sd_mediator**2 * second_moment_m
    )


def simulate(design: Design, n: int, seed) -> tuple[pd.DataFrame, np.ndarray, object]:
    """One trial: ``(X, y, groups)`` with columns r, m, x1, x2, x3."""
    rng = np.random.default_rng(seed)
    r, x, groups = draw_assignment(design, n, rng)
    trial = draw_trial(design, r, x, groups, rng)
    frame = pd.DataFrame({"r": r, "m": trial.m})
    for j, name in enumerate(COVARIATES):
        frame[name] = x[:, j]
    return frame, trial.y, groups


# -- estimation ---------------------------------------------------------------

ESTIMATORS = {
    "IV": IVMediationRegressor(treatment="r", mediator="m"),
    "naive": NaiveMediationRegressor(treatment="r", mediator="m"),
}
PARAMETERS = ("theta_R", "theta_M")
TRUTH = np.array([TRUE_DIRECT, TRUE_MEDIATOR])


def prepare(X, y, groups):
    """The data of one trial, shared by both estimators (their roles are equal)."""
    return X, y, groups


def fit_cov_types(estimator, data, cov_types):
    """Effects, their standard errors under several covariance types, and the first-stage F.

    Fits once with ``HC1`` and reads the other row-based and homoskedastic
    covariances off the same fitted model (``FittedModel.under``); a cluster
    covariance, and one with leverage adjustments (HC2, HC3, CR2), needs its
    own fit (its score sums are per cluster, or adjusted row by row). The tests
    check equality with fitting ``estimator.set_params(cov_type=c)`` for every
    ``c``.

    Returns
    -------
    effects : ndarray of shape (2,)
        ``θ̂_R, θ̂_M``.
    std_errors : ndarray of shape (len(cov_types), 2)
    f_statistic : float
        Classical first-stage partial F (``nan`` for the naive estimator).
    """
    X, y, groups = data

    def fit(cov_type):
        est = clone(estimator).set_params(cov_type=cov_type)
        clustered = COV_TYPES[cov_type].clustered
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", WeakInstrumentWarning)
            warnings.simplefilter("ignore", FewClustersWarning)
            est.fit(X, y, groups=groups if clustered else None)
        return est

    base = fit("HC1")
    model = base.result_.model
    std_errors = np.empty((len(cov_types), 2))
    for i, cov_type in enumerate(cov_types):
        kind = COV_TYPES[cov_type]
        other = (
            fit(cov_type).result_.model
            if kind.clustered or kind.leverage
            else model.under(cov_type)
        )
        std_errors[i] = np.sqrt(np.diag(other.cov)[-2:])
    f_statistic = np.nan
    if base.result_.first_stage is not None:
        f_statistic = base.result_.first_stage.f_statistic
    return model.params[-2:].copy(), std_errors, f_statistic


@dataclass(frozen=True)
class CellResult:
    """Replications of one design at one n.

    ``estimates[rep, estimator, parameter]``,
    ``std_errors[rep, estimator, cov_type, parameter]``, ``f_statistic[rep]``
    (IV first stage).
    """

    design: Design
    n: int
    estimates: np.ndarray
    std_errors: np.ndarray
    f_statistic: np.ndarray

    @property
    def n_replications(self) -> int:
        return self.estimates.shape[0]


def cell_seeds(design: Design, n: int, n_replications: int, seed: int):
    """One independent seed per replication, spawned once.

    Replication ``i`` of a (design, n) cell gets the same seed whatever the
    number of replications, the other cells run, or the number of jobs.
    """
    key = zlib.crc32(design.name.encode())
    return np.random.SeedSequence([seed, key, n]).spawn(n_replications)


def _run_batch(design: Design, n: int, seeds) -> tuple[np.ndarray, ...]:
    reps = len(seeds)
    n_cov = len(design.cov_types)
    estimates = np.empty((reps, len(ESTIMATORS), 2))
    std_errors = np.empty((reps, len(ESTIMATORS), n_cov, 2))
    f_statistic = np.empty(reps)
    for i, seed in enumerate(seeds):
        data = prepare(*simulate(design, n, seed))
        for j, estimator in enumerate(ESTIMATORS.values()):
            effects, se, f_stat = fit_cov_types(estimator, data, design.cov_types)
            estimates[i, j], std_errors[i, j] = effects, se
            if j == 0:
                f_statistic[i] = f_stat
    return estimates, std_errors, f_statistic


def _batches(seeds, size):
    return [seeds[i : i + size] for i in range(0, len(seeds), size)]


def run_study(
    designs,
    sizes,
    n_replications: int,
    seed: int,
    n_jobs: int | None = None,
    batch_size: int = 100,
) -> list[CellResult]:
    """Run every (design, n) cell; batches of replications go to joblib workers."""
    cells = [(design, n) for design in designs for n in sizes]
    tasks = [
        (c, batch)
        for c, (design, n) in enumerate(cells)
        for batch in _batches(cell_seeds(design, n, n_replications, seed), batch_size)
    ]
    outputs = Parallel(n_jobs=n_jobs)(
        delayed(_run_batch)(cells[c][0], cells[c][1], batch) for c, batch in tasks
    )
    results = []
    for c, (design, n) in enumerate(cells):
        parts = [
            out for (cell, _), out in zip(tasks, outputs, strict=True) if cell == c
        ]
        estimates, std_errors, f_statistic = (
            np.concatenate(arrays) for arrays in zip(*parts, strict=True)
        )
        results.append(CellResult(design, n, estimates, std_errors, f_statistic))
    return results


# -- summaries ----------------------------------------------------------------


def coverage_band(n_replications: int, level: float = CONFIDENCE_LEVEL, prob=0.99):
    """Exact binomial ``prob`` band for the coverage rate of ``level`` intervals.

    The tightest range of counts of covering intervals, as fractions of
    ``n_replications``, such that each tail outside it has probability at
    most ``(1 - prob)/2`` under ``Binomial(n_replications, level)``
    (``scipy.stats.binom.interval``).
    """
    low, high = stats.binom.interval(prob, n_replications, level)
    return low / n_replications, high / n_replications


def covers(estimates, std_errors, truth, level: float = CONFIDENCE_LEVEL):
    """Whether each normal-based interval ``estimate ± z se`` contains ``truth``."""
    z = stats.norm.isf((1 - level) / 2)
    return np.abs(estimates - truth) <= z * std_errors


def summarize(results: list[CellResult]) -> pd.DataFrame:
    """One row per design, n, estimator, parameter and covariance type."""
    rows = []
    for cell in results:
        reps = cell.n_replications
        band = coverage_band(reps)
        for e, estimator in enumerate(ESTIMATORS):
            estimates = cell.estimates[:, e]
            errors = estimates - TRUTH
            for p, parameter in enumerate(PARAMETERS):
                sd = errors[:, p].std(ddof=1)
                for c, cov_type in enumerate(cell.design.cov_types):
                    se = cell.std_errors[:, e, c, p]
                    rate = covers(estimates[:, p], se, TRUTH[p]).mean()
                    rows.append(
                        {
                            "design": cell.design.name,
                            "n": cell.n,
                            "estimator": estimator,
                            "parameter": parameter,
                            "cov_type": cov_type,
                            "replications": reps,
                            "bias": errors[:, p].mean(),
                            "bias_mcse": sd / np.sqrt(reps),
                            "sd": sd,
                            "mean_se": se.mean(),
                            "coverage": rate,
                            "coverage_mcse": np.sqrt(rate * (1 - rate) / reps),
                            "band_low": band[0],
                            "band_high": band[1],
                            "in_band": band[0] <= rate <= band[1],
                            "mean_f": np.mean(cell.f_statistic),
                        }
                    )
    return pd.DataFrame(rows)


def format_table(summary: pd.DataFrame) -> str:
    """The coverage and bias table: one line per design, n, estimator and parameter."""
    present = set(summary["cov_type"])
    cov_types = [c for c in COV_TYPES if c in present]
    head = (
        f"{'design':<16}{'n':>5} {'estimator':<10}{'param':<8}{'bias (MCSE)':>17}"
        f"{'SD':>7}{'F':>7}" + "".join(f"{c:>13}" for c in cov_types)
    )
    lines = [head, "-" * len(head)]
    keys = ["design", "n", "estimator", "parameter"]
    for key, group in summary.groupby(keys, sort=False):
        design, n, estimator, parameter = key
        first = group.iloc[0]
        f_text = f"{first.mean_f:7.1f}" if estimator == "IV" else f"{'':7}"
        line = (
            f"{design:<16}{n:>5} {estimator:<10}{parameter:<8}"
            f"{first.bias:>9.4f} ({first.bias_mcse:.4f})"
            f"{first.sd:>7.3f}{f_text}"
        )
        by_cov = group.set_index("cov_type")
        for cov_type in cov_types:
            if cov_type not in by_cov.index:
                line += f"{'':>13}"
                continue
            row = by_cov.loc[cov_type]
            mark = " " if row.in_band else "*"
            line += f"{100 * row.coverage:>7.1f} ({100 * row.coverage_mcse:.1f}){mark}"
        lines.append(line)
    return "\n".join(lines)


# -- bootstrap intervals --------------------------------------------------------

BOOTSTRAP_METHODS = ("percentile", "bca")


def wald_intervals(estimator, X, y, groups, seed, **_):
    """``{"wald": (low, high)}`` for ``θ_R, θ_M``: HC1, or cluster with ``groups``."""
    cov_type = "HC1" if groups is None else "cluster"
    with warnings.catch_warnings():  # weak replications count, as in run_study
        warnings.simplefilter("ignore", WeakInstrumentWarning)
        warnings.simplefilter("ignore", FewClustersWarning)
        fitted = clone(estimator).set_params(cov_type=cov_type)
        fitted.fit(X, y, groups=groups)
    ci = fitted.result_.conf_int().iloc[-2:]
    return {"wald": (ci["lower"].to_numpy(), ci["upper"].to_numpy())}


def bootstrap_intervals(estimator, X, y, groups, seed, n_resamples=999):
    """Percentile and BCa bootstrap intervals for ``θ_R, θ_M``.

    Pairs resampling of rows, or of whole clusters when ``groups`` is given;
    the same resamples (``random_state=seed``) for both methods. The intervals
    use no standard error, so the estimator's ``cov_type`` does not matter.
    """
    from skmediate import bootstrap

    out = {}
    for method in BOOTSTRAP_METHODS:
        result = bootstrap(
            estimator,
            X,
            y,
            statistic=("direct_effect_", "mediator_effect_"),
            n_resamples=n_resamples,
            method=method,
            confidence_level=CONFIDENCE_LEVEL,
            groups=groups,
            random_state=seed,
        )
        ci = result.confidence_interval
        out[method] = (np.asarray(ci.low), np.asarray(ci.high))
    return out


def _interval_batch(design, n, seeds, interval_fn, estimator, options):
    rows = []
    for seed in seeds:
        X, y, groups = simulate(design, n, seed)
        # The resampling gets its own stream, a child of the trial's seed.
        resample_seed = int(seed.spawn(1)[0].generate_state(1)[0])
        intervals = interval_fn(estimator, X, y, groups, resample_seed, **options)
        rows.append(
            {
                method: (low <= TRUTH) & (TRUTH <= high)
                for method, (low, high) in intervals.items()
            }
        )
    return rows


def interval_coverage(
    designs,
    sizes,
    n_replications: int,
    seed: int,
    interval_fn,
    *,
    estimator=ESTIMATORS["IV"],
    n_jobs: int | None = None,
    batch_size: int = 20,
    **options,
) -> pd.DataFrame:
    """Coverage of the intervals ``interval_fn`` returns, on the study's trials.

    ``interval_fn(estimator, X, y, groups, seed, **options)`` returns
    ``{method: (low, high)}`` for ``θ_R, θ_M``. Replication ``i`` of a cell
    uses the same simulated trial as in :func:`run_study`.
    """
    rows = []
    for design in designs:
        for n in sizes:
            seeds = cell_seeds(design, n, n_replications, seed)
            parts = Parallel(n_jobs=n_jobs)(
                delayed(_interval_batch)(
                    design, n, batch, interval_fn, estimator, options
                )
                for batch in _batches(seeds, batch_size)
            )
            hits = [row for part in parts for row in part]
            band = coverage_band(n_replications)
            for method in hits[0]:
                rate = np.mean([row[method] for row in hits], axis=0)
                for p, parameter in enumerate(PARAMETERS):
                    rows.append(
                        {
                            "design": design.name,
                            "n": n,
                            "method": method,
                            "parameter": parameter,
                            "replications": n_replications,
                            "coverage": rate[p],
                            "coverage_mcse": np.sqrt(
                                rate[p] * (1 - rate[p]) / n_replications
                            ),
                            "in_band": band[0] <= rate[p] <= band[1],
                        }
                    )
    return pd.DataFrame(rows)


# -- command line -------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=5000)
    parser.add_argument("--n", type=int, nargs="+", default=[300, 3000])
    parser.add_argument(
        "--designs", nargs="+", default=list(DESIGNS), choices=list(DESIGNS)
    )
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20120601)
    parser.add_argument("--bootstrap", action="store_true")
    parser.add_argument("--bootstrap-replications", type=int, default=400)
    parser.add_argument("--bootstrap-resamples", type=int, default=999)
    parser.add_argument(
        "--few-clusters",
        action="store_true",
        help="also run few_clusters_study.py (size with 6 to 50 sites) with its defaults",
    )
    args = parser.parse_args(argv)
    designs = [DESIGNS[name] for name in args.designs]

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, numpy {np.__version__}; "
        f"{args.replications} replications per cell, seed {args.seed}, "
        f"n_jobs={args.n_jobs}"
    )
    for design in designs:
        print(f"  {design.name:<16}{design.description}")
    start = time.perf_counter()
    results = run_study(
        designs, args.n, args.replications, args.seed, n_jobs=args.n_jobs
    )
    elapsed = time.perf_counter() - start
    summary = summarize(results)
    low, high = coverage_band(args.replications)
    print(
        f"\nBias of the estimates and coverage (%) of nominal 95% Wald intervals, "
        f"Monte Carlo standard errors in parentheses;\n* = outside the exact "
        f"binomial 99% band [{100 * low:.1f}, {100 * high:.1f}] around 95%. "
        f"F = mean first-stage partial F. θ_R = {TRUE_DIRECT:g}, "
        f"θ_M = {TRUE_MEDIATOR:g}.\n"
    )
    print(format_table(summary))
    print(f"\n{len(results) * args.replications} trials in {elapsed:.0f} s")

    if args.bootstrap:
        start = time.perf_counter()
        boot = interval_coverage(
            designs,
            args.n,
            args.bootstrap_replications,
            args.seed,
            bootstrap_intervals,
            n_jobs=args.n_jobs,
            n_resamples=args.bootstrap_resamples,
        )
        low, high = coverage_band(args.bootstrap_replications)
        print(
            f"\nIV bootstrap intervals ({args.bootstrap_resamples} resamples; "
            f"clusters resampled in the clustered design): coverage (%), "
            f"{args.bootstrap_replications} replications, 99% band "
            f"[{100 * low:.1f}, {100 * high:.1f}]\n"
        )
        table = boot.assign(
            coverage=lambda d: (100 * d.coverage).round(1),
            coverage_mcse=lambda d: (100 * d.coverage_mcse).round(1),
        ).pivot_table(
            index=["design", "n", "parameter"],
            columns="method",
            values=["coverage", "coverage_mcse"],
            sort=False,
        )
        print(table.to_string())
        print(f"\n{time.perf_counter() - start:.0f} s")
    if args.few_clusters:
        print()
        _few_clusters()


def _few_clusters() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import few_clusters_study

    few_clusters_study.main([])


if __name__ == "__main__":
    main()
