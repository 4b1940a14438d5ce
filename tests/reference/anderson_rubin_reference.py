"""Reference Anderson-Rubin confidence sets, computed by brute force with numpy.

Run from the repository root:

    python tests/reference/anderson_rubin_reference.py

Writes ``anderson_rubin.json`` next to this file. The library inverts the
homoskedastic Anderson-Rubin test exactly, by solving a quadratic inequality
read off a QR factor of the data. This script shares none of that: for each
``θ₀`` it runs two least squares regressions of ``y - θ₀ m`` with
``numpy.linalg.lstsq`` (on the exogenous regressors ``W = [1, x..., z..., r]``
alone and on all instruments ``Q = [W, r (x - mean x)...]``) and forms the
test statistic from the two residual sums of squares:

- ``classical``: ``F = ((RSS_W - RSS_Q) / p) / (RSS_Q / (n - l))``, accepted
  when ``F <= F⁻¹_{p, n-l}(level)``;
- ``unadjusted``: ``W = (RSS_W - RSS_Q) / (RSS_Q / n)``, accepted when
  ``W <= χ²⁻¹_p(level)``.

The set is located on a grid of 4 001 values of ``θ₀`` spread over
``θ̂ ± 10⁴`` 2SLS standard errors (denser near ``θ̂``); the acceptance at
``θ₀ → ±∞`` is the same test applied to the outcome ``m`` (the limit of
``(y - θ₀ m) / θ₀``). Every change of acceptance between neighbouring grid
points is refined by 200 steps of bisection (to the last bit). A set that is
accepted at the outermost grid points and at infinity is reported as
unbounded on that side. Infinite ends are written as the strings ``"-inf"``
and ``"inf"``.

Datasets: the three CSV files of this folder (see README.md), with covariates
``x1, x2, ...``, controls ``z`` where present, treatment ``r``, mediator
``m``. Only numpy, pandas and scipy are needed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

HERE = Path(__file__).resolve().parent
DATASETS = ["trial_binary", "trial_clustered", "trial_weak"]
LEVELS = [0.5, 0.9, 0.95, 0.99]
COV_TYPES = ["classical", "unadjusted"]


def design(data: pd.DataFrame):
    covariates = [c for c in data.columns if c.startswith("x")]
    controls = [c for c in data.columns if c == "z"]
    n = len(data)
    x = data[covariates].to_numpy(float)
    r = data["r"].to_numpy(float)
    w = np.column_stack([np.ones(n), x, data[controls].to_numpy(float), r])
    q = np.column_stack([w, r[:, None] * (x - x.mean(axis=0))])
    return w, q, data["y"].to_numpy(float), data["m"].to_numpy(float)


def rss(a: np.ndarray, v: np.ndarray) -> float:
    resid = v - a @ np.linalg.lstsq(a, v, rcond=None)[0]
    return float(resid @ resid)


def critical_value(n, n_inst, p, cov_type, level) -> float:
    if cov_type == "classical":
        return float(stats.f.ppf(level, p, n - n_inst))
    return float(stats.chi2.ppf(level, p))


def accepted(w, q, v, cov_type, critical) -> bool:
    n, n_inst = q.shape
    p = n_inst - w.shape[1]
    rss_w, rss_q = rss(w, v), rss(q, v)
    if cov_type == "classical":
        stat = ((rss_w - rss_q) / p) / (rss_q / (n - n_inst))
    else:
        stat = (rss_w - rss_q) / (rss_q / n)
    return stat <= critical


def tsls(w, q, y, m):
    """2SLS estimate of the mediator coefficient and its classical standard error."""
    m_hat = q @ np.linalg.lstsq(q, m, rcond=None)[0]
    d_hat = np.column_stack([w, m_hat])
    coef = np.linalg.lstsq(d_hat, y, rcond=None)[0]
    resid = y - np.column_stack([w, m]) @ coef
    sigma2 = resid @ resid / (len(y) - d_hat.shape[1])
    m_tilde = m_hat - w @ np.linalg.lstsq(w, m_hat, rcond=None)[0]
    return coef[-1], np.sqrt(sigma2 / (m_tilde @ m_tilde))


def confidence_set(w, q, y, m, cov_type, level):
    n, n_inst = q.shape
    level = critical_value(n, n_inst, n_inst - w.shape[1], cov_type, level)
    center, se = tsls(w, q, y, m)
    u = np.linspace(-1.0, 1.0, 4001)
    grid = center + se * 1e4 * np.sign(u) * np.abs(u) ** 3
    ok = np.array([accepted(w, q, y - t * m, cov_type, level) for t in grid])
    at_infinity = accepted(w, q, m, cov_type, level)

    def refine(lo, hi, ok_lo):
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if mid in (lo, hi):
                break
            if accepted(w, q, y - mid * m, cov_type, level) == ok_lo:
                lo = mid
            else:
                hi = mid
        return lo if ok_lo else hi  # the accepted end of the bracket

    intervals, start = [], -np.inf if (ok[0] and at_infinity) else None
    if ok[0] and not at_infinity:
        raise RuntimeError("grid does not reach the lower end of the set")
    for i in range(len(grid) - 1):
        if ok[i] == ok[i + 1]:
            continue
        end = refine(grid[i], grid[i + 1], ok[i])
        if ok[i]:
            intervals.append([start, end])
            start = None
        else:
            start = end
    if ok[-1]:
        if not at_infinity:
            raise RuntimeError("grid does not reach the upper end of the set")
        intervals.append([start, np.inf])
    return intervals


def encode(value: float):
    return value if np.isfinite(value) else ("inf" if value > 0 else "-inf")


def main() -> None:
    out = {"description": __doc__.strip().splitlines()[0], "sets": []}
    for name in DATASETS:
        data = pd.read_csv(HERE / f"{name}.csv")
        w, q, y, m = design(data)
        for cov_type in COV_TYPES:
            for level in LEVELS:
                intervals = confidence_set(w, q, y, m, cov_type, level)
                out["sets"].append(
                    {
                        "dataset": name,
                        "cov_type": cov_type,
                        "confidence_level": level,
                        "intervals": [[encode(lo), encode(hi)] for lo, hi in intervals],
                    }
                )
    out["versions"] = {
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scipy": __import__("scipy").__version__,
    }
    (HERE / "anderson_rubin.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
