"""Generate the deterministic CSV datasets used by the R reference values.

Run from the repository root:

    python tests/reference/make_data.py

Writes trial_binary.csv, trial_clustered.csv, trial_weak.csv and
trial_sites.csv next to this file.  Only numpy and pandas are needed.  Every
dataset uses its own ``numpy.random.default_rng`` seed, so changing one
dataset does not change the others.

Continuous columns are rounded to ``DECIMALS`` decimal places before writing
(to keep the files small); the rounded values *are* the data.  Floats are
written with the shortest representation that round-trips exactly
(``repr``), and the script re-reads every file to assert that the values
read back are bit-for-bit identical to the ones generated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DECIMALS = 8

# Seeds.  The binary and weak designs have first-stage strength that varies a
# lot from draw to draw, so their seeds were picked by a fixed rule: starting
# from 20240501 and counting up, the first seed whose realized first-stage
# partial F (classical, excluded instruments r*(x_j - mean x_j)) is > 10 for
# trial_binary (20240501 gives 9.3, 20240502 gives 12.0), and the first seed
# from 20240503 up whose F lies in [1, 3] for trial_weak (20240503 gives 0.88,
# 20240504 gives 1.46).  trial_clustered is strong for any seed.
SEED_BINARY = 20240502
SEED_CLUSTERED = 20240601
SEED_WEAK = 20240504
SEED_SITES = 20240701
# Sizes of the eight sites of trial_sites (site ids 1..8 in this order).
SITE_SIZES = (12, 18, 20, 25, 30, 35, 40, 60)


def _round(a: np.ndarray) -> np.ndarray:
    return np.round(a, DECIMALS)


def make_trial_binary(seed: int = SEED_BINARY, n: int = 300) -> pd.DataFrame:
    """Randomized trial with a binary mediator and an unmeasured confounder u.

    r  ~ Bernoulli(0.5)
    x1 ~ Bernoulli(0.4), x2 ~ Uniform{0,...,4}, z ~ N(0, 1), u ~ N(0, 1)
    m  = 1{-2.5 + 1.0 r + 0.8 r x1 + 0.5 r x2 + 0.3 x2 + u + e_m > 0},
         e_m ~ Logistic(0, scale=0.5)

    The intercept -2.5 (rather than e.g. -0.5) keeps P(m = 1) away from 1 in
    the treated arm; with a higher intercept the treated arm saturates, the
    r*x interactions become almost invisible on the linear-probability scale
    and the first stage is weak (partial F around 1 for n = 300).
    y  = 10 + 0.5 x1 + 0.8 x2 + 0.3 z - (1.0 + 0.5 v_r) r - (2.0 + 0.5 v_m) m
         + 2 u + e_y,  v_r, v_m, e_y ~ N(0, 1)  (subject-varying effects)
    """
    rng = np.random.default_rng(seed)
    r = rng.binomial(1, 0.5, n)
    x1 = rng.binomial(1, 0.4, n)
    x2 = rng.integers(0, 5, n)  # 0..4 inclusive
    z = _round(rng.normal(0.0, 1.0, n))
    u = rng.normal(0.0, 1.0, n)
    e_m = rng.logistic(0.0, 0.5, n)
    latent = -2.5 + 1.0 * r + 0.8 * r * x1 + 0.5 * r * x2 + 0.3 * x2 + u + e_m
    m = (latent > 0).astype(np.int64)
    v_r = rng.normal(0.0, 1.0, n)
    v_m = rng.normal(0.0, 1.0, n)
    e_y = rng.normal(0.0, 1.0, n)
    y = (
        10.0
        + 0.5 * x1
        + 0.8 * x2
        + 0.3 * z
        - (1.0 + 0.5 * v_r) * r
        - (2.0 + 0.5 * v_m) * m
        + 2.0 * u
        + e_y
    )
    return pd.DataFrame({"y": _round(y), "r": r, "m": m, "x1": x1, "x2": x2, "z": z})


def make_trial_clustered(
    seed: int = SEED_CLUSTERED, n: int = 2000, n_clusters: int = 40
) -> pd.DataFrame:
    """Clustered trial with a continuous mediator and strong instruments.

    40 clusters of 50 subjects each (ids 1..40).  r ~ Bernoulli(0.5) at the
    subject level; x1, x2, x3, z ~ N(0, 1); u ~ N(0, 1) unmeasured.
    Cluster random effects a_g ~ N(0, 0.5^2) in m and b_g ~ N(0, 1) in y.
    Heteroskedastic errors: sd_m = 0.5 + 0.5|x1| + 0.5 r,
    sd_y = 0.5 + 0.7|x1| + 0.8 r.

    m = 0.5 + 0.3 x1 + 0.2 x2 - 0.1 x3 + 0.2 z + 1.0 r
        + r (1.0 x1 + 0.8 x2 - 0.6 x3) + a_g + u + sd_m e_m
    y = 1.0 + 0.5 x1 - 0.3 x2 + 0.2 x3 + 0.4 z + 0.7 r + 1.5 m
        + b_g + 1.5 u + sd_y e_y
    """
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(1, n_clusters + 1), n // n_clusters)
    assert cluster.size == n
    r = rng.binomial(1, 0.5, n)
    x1 = _round(rng.normal(0.0, 1.0, n))
    x2 = _round(rng.normal(0.0, 1.0, n))
    x3 = _round(rng.normal(0.0, 1.0, n))
    z = _round(rng.normal(0.0, 1.0, n))
    u = rng.normal(0.0, 1.0, n)
    a = rng.normal(0.0, 0.5, n_clusters)[cluster - 1]
    b = rng.normal(0.0, 1.0, n_clusters)[cluster - 1]
    sd_m = 0.5 + 0.5 * np.abs(x1) + 0.5 * r
    sd_y = 0.5 + 0.7 * np.abs(x1) + 0.8 * r
    m = (
        0.5
        + 0.3 * x1
        + 0.2 * x2
        - 0.1 * x3
        + 0.2 * z
        + 1.0 * r
        + r * (1.0 * x1 + 0.8 * x2 - 0.6 * x3)
        + a
        + u
        + sd_m * rng.normal(0.0, 1.0, n)
    )
    m = _round(m)
    y = (
        1.0
        + 0.5 * x1
        - 0.3 * x2
        + 0.2 * x3
        + 0.4 * z
        + 0.7 * r
        + 1.5 * m
        + b
        + 1.5 * u
        + sd_y * rng.normal(0.0, 1.0, n)
    )
    return pd.DataFrame(
        {
            "y": _round(y),
            "r": r,
            "m": m,
            "x1": x1,
            "x2": x2,
            "x3": x3,
            "z": z,
            "cluster": cluster,
        }
    )


def make_trial_weak(seed: int = SEED_WEAK, n: int = 500) -> pd.DataFrame:
    """Weak-instrument trial: tiny r*x interactions in the first stage.

    r ~ Bernoulli(0.5); x1, x2, u ~ N(0, 1)
    m = 0.2 + 0.5 x1 + 0.3 x2 + 0.5 r + r (0.12 x1 + 0.08 x2) + u + e_m
    y = 1.0 + 0.4 x1 + 0.2 x2 + 0.5 r + 1.0 m + 1.5 u + e_y
    with e_m, e_y ~ N(0, 1).  The first-stage partial F for the two excluded
    instruments r*(x_j - mean x_j) is small (about 1-3;
    noncentrality about 2.6 at n = 500).
    """
    rng = np.random.default_rng(seed)
    r = rng.binomial(1, 0.5, n)
    x1 = _round(rng.normal(0.0, 1.0, n))
    x2 = _round(rng.normal(0.0, 1.0, n))
    u = rng.normal(0.0, 1.0, n)
    m = (
        0.2
        + 0.5 * x1
        + 0.3 * x2
        + 0.5 * r
        + r * (0.12 * x1 + 0.08 * x2)
        + u
        + rng.normal(0.0, 1.0, n)
    )
    m = _round(m)
    y = (
        1.0
        + 0.4 * x1
        + 0.2 * x2
        + 0.5 * r
        + 1.0 * m
        + 1.5 * u
        + rng.normal(0.0, 1.0, n)
    )
    return pd.DataFrame({"y": _round(y), "r": r, "m": m, "x1": x1, "x2": x2})


def make_trial_sites(
    seed: int = SEED_SITES, sizes: tuple[int, ...] = SITE_SIZES
) -> pd.DataFrame:
    """Multi-site trial: few sites of unequal sizes, heterogeneous site effects.

    8 sites (ids 1..8) of sizes 12, 18, 20, 25, 30, 35, 40, 60 (n = 240).  The
    rows are in random order, so the site column is not sorted.
    r ~ Bernoulli(0.5) at the subject level; x1, x2, z ~ N(0, 1);
    u ~ N(0, 1) unmeasured.  Site effects: random intercepts
    site_m ~ N(0, 0.5^2) in m and site_y ~ N(0, 1) in y, and a site-specific
    treatment effect site_r ~ N(0, 0.5^2) on y.
    Heteroskedastic errors: sd_m = 0.5 + 0.4|x1| + 0.3 r,
    sd_y = 0.5 + 0.6|x2| + 0.6 r.

    m = 0.5 + r (1.0 + 0.8 x1 - 0.6 x2) + 0.3 x1 + site_m + u + sd_m e_m
    y = 1.0 + 0.4 x1 - 0.3 x2 + 0.2 z + (0.5 + site_r) r + 1.2 m + 1.5 u
        + site_y + sd_y e_y
    with e_m, e_y ~ N(0, 1).  True effect of m on y is 1.2.

    w are integer frequency weights drawn uniformly from {1, 2, 3}; they do not
    enter the data-generating process.
    """
    rng = np.random.default_rng(seed)
    n_sites = len(sizes)
    site = rng.permutation(np.repeat(np.arange(1, n_sites + 1), sizes))
    n = site.size
    r = rng.binomial(1, 0.5, n)
    x1 = _round(rng.normal(0.0, 1.0, n))
    x2 = _round(rng.normal(0.0, 1.0, n))
    z = _round(rng.normal(0.0, 1.0, n))
    u = rng.normal(0.0, 1.0, n)
    site_m = rng.normal(0.0, 0.5, n_sites)[site - 1]
    site_y = rng.normal(0.0, 1.0, n_sites)[site - 1]
    site_r = rng.normal(0.0, 0.5, n_sites)[site - 1]
    sd_m = 0.5 + 0.4 * np.abs(x1) + 0.3 * r
    sd_y = 0.5 + 0.6 * np.abs(x2) + 0.6 * r
    m = (
        0.5
        + r * (1.0 + 0.8 * x1 - 0.6 * x2)
        + 0.3 * x1
        + site_m
        + u
        + sd_m * rng.normal(0.0, 1.0, n)
    )
    m = _round(m)
    y = (
        1.0
        + 0.4 * x1
        - 0.3 * x2
        + 0.2 * z
        + (0.5 + site_r) * r
        + 1.2 * m
        + 1.5 * u
        + site_y
        + sd_y * rng.normal(0.0, 1.0, n)
    )
    w = rng.integers(1, 4, n)  # 1..3 inclusive
    return pd.DataFrame(
        {
            "y": _round(y),
            "r": r,
            "m": m,
            "x1": x1,
            "x2": x2,
            "z": z,
            "site": site,
            "w": w,
        }
    )


def _write(df: pd.DataFrame, name: str) -> Path:
    path = HERE / f"{name}.csv"
    # float_format=None -> repr(), the shortest string that round-trips exactly.
    df.to_csv(path, index=False, float_format=None, lineterminator="\n")
    back = pd.read_csv(path)
    assert list(back.columns) == list(df.columns)
    for col in df.columns:
        assert back[col].dtype.kind == df[col].dtype.kind, (name, col)
        assert np.array_equal(back[col].to_numpy(), df[col].to_numpy()), (name, col)
    return path


def main() -> None:
    datasets = {
        "trial_binary": make_trial_binary(),
        "trial_clustered": make_trial_clustered(),
        "trial_weak": make_trial_weak(),
        "trial_sites": make_trial_sites(),
    }
    for name, df in datasets.items():
        path = _write(df, name)
        print(
            f"wrote {path.relative_to(HERE.parent.parent)}: "
            f"{df.shape[0]} rows x {df.shape[1]} cols, {path.stat().st_size} bytes"
        )


if __name__ == "__main__":
    main()
