"""Simulated trial designs shared by the tests."""

import importlib
import os
import re
import sys
from pathlib import Path

# Figures are drawn off screen (set before anything imports matplotlib).
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pandas as pd
import pytest
from hypothesis import settings
from sklearn.pipeline import Pipeline

from skmediate import SensitivityGrid

# Property-based tests explore new random examples locally; continuous
# integration (CI set in the environment) replays a fixed set so that a run is
# reproducible. A failure found locally is stored and replayed by hypothesis.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def simulate_trial(
    n=400,
    *,
    n_covariates=2,
    n_controls=0,
    binary_mediator=False,
    n_clusters=None,
    site=False,
    heteroskedastic=True,
    instrument_strength=1.0,
    seed=0,
):
    """A randomized trial with an unmeasured confounder of mediator and outcome.

    Returns ``(X, y, groups)``: a DataFrame with columns ``r``, ``m``, ``x1``...,
    ``z1``... (and ``site``, a string covariate, when asked), the outcome as a
    Series, and cluster labels (or None). ``instrument_strength`` multiplies
    the coefficients of the treatment-by-covariate interactions in the
    mediator (the excluded instruments) without changing the random draws.
    """
    rng = np.random.default_rng(seed)
    r = rng.integers(0, 2, n).astype(float)
    x = rng.normal(size=(n, n_covariates))
    z = rng.normal(size=(n, n_controls))
    u = rng.normal(size=n)
    cluster_effect = 0.0
    groups = None
    if n_clusters:
        groups = rng.integers(0, n_clusters, n)
        cluster_effect = rng.normal(size=n_clusters)[groups]
    site_codes = rng.integers(0, 4, n)
    site_shift = np.array([0.0, 0.5, -0.5, 1.0])[site_codes] if site else 0.0
    site_modifier = np.array([0.0, 0.6, -0.4, 0.9])[site_codes] if site else 0.0
    strength = (
        instrument_strength * 0.8 * (1 + 0.5 * np.arange(n_covariates)) / n_covariates
    )
    latent = 0.3 + r * (0.5 + x @ strength + site_modifier) + 0.4 * u + cluster_effect
    if binary_mediator:
        m = (latent + rng.logistic(scale=0.5, size=n) > 0.5).astype(float)
    else:
        m = latent + rng.normal(size=n)
    data = {"r": r, "m": m}
    data.update({f"x{j + 1}": x[:, j] for j in range(n_covariates)})
    data.update({f"z{j + 1}": z[:, j] for j in range(n_controls)})
    theta_r = -1.0 + 0.5 * rng.normal(size=n)
    theta_m = 2.0 + 0.5 * rng.normal(size=n)
    noise = rng.normal(size=n) * (1 + 0.8 * r if heteroskedastic else 1.0)
    y = (
        1.0
        + x @ np.linspace(0.5, -0.5, n_covariates)
        + z @ np.full(n_controls, 0.3)
        + theta_r * r
        + theta_m * m
        + 1.5 * u
        + cluster_effect
        + site_shift
        + noise
    )
    if site:
        data["site"] = np.array(["north", "south", "east", "west"])[site_codes]
    return pd.DataFrame(data), pd.Series(y, name="y"), groups


# The scikit-learn common checks that fail on the built-in estimators, and why
# (run with xfail_strict=True: a check that starts passing fails the run).
_TWO_COLUMNS = (
    "the check's data has two columns, both taken by the treatment and mediator "
    "roles, so no covariate is left to form instruments (see test_iv_contracts)"
)
_TOO_FEW_ROWS = "the check's data has fewer distinct rows than the model has parameters"
EXPECTED_FAILED_CHECKS = {
    "IVMediationRegressor": {
        name: _TWO_COLUMNS
        for name in [
            "check_estimators_fit_returns_self",
            "check_estimators_overwrite_params",
            "check_fit_check_is_fitted",
            "check_fit_idempotent",
            "check_n_features_in",
            "check_readonly_memmap_input",
            "check_sample_weights_not_an_array",
            "check_sample_weights_not_overwritten",
            "check_sample_weights_pandas_series",
            "check_sample_weights_shape",
        ]
    }
    | {"check_sample_weight_equivalence_on_dense_data": _TOO_FEW_ROWS},
    "NaiveMediationRegressor": {
        "check_sample_weight_equivalence_on_dense_data": _TOO_FEW_ROWS,
    },
}


def expected_failed_checks(estimator):
    """The expected failures of an estimator, or of a Pipeline or grid around one.

    A SensitivityGrid, and a Pipeline in front of the estimator, fail the
    checks the estimator fails, for the same reasons.
    """
    while isinstance(estimator, (SensitivityGrid, Pipeline)):
        estimator = (
            estimator.estimator
            if isinstance(estimator, SensitivityGrid)
            else estimator[-1]
        )
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


@pytest.fixture
def trial():
    return simulate_trial()


def fit_arrays(
    r,
    m,
    x,
    y,
    z=None,
    *,
    weights=None,
    groups=None,
    cov_type="HC1",
    instrumented=True,
    kappa=1.0,
    fuller_alpha=0.0,
    sensitivity=False,
    ar_meat="leverage",
):
    """The numerics' fit of arrays (treatment, mediator, covariates, controls, outcome)."""
    from skmediate._numerics.design import Design
    from skmediate._numerics.engine import fit_model

    x = np.asarray(x, dtype=float).reshape(len(r), -1)
    z = (
        np.empty((len(r), 0))
        if z is None
        else np.asarray(z, dtype=float).reshape(len(r), -1)
    )
    design = Design(
        "r",
        ("m",),
        tuple(f"x{j + 1}" for j in range(x.shape[1])),
        tuple(f"z{j + 1}" for j in range(z.shape[1])),
        "y",
        instrumented,
    )
    raw = np.column_stack([r, m, x, z])
    return fit_model(
        design,
        raw,
        np.asarray(y, dtype=float),
        weights=weights,
        groups=groups,
        cov_type_name=cov_type,
        kappa=kappa,
        fuller_alpha=fuller_alpha,
        sensitivity=sensitivity,
        ar_meat=ar_meat,
    )


BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_benchmark(name: str):
    """Import a script of ``benchmarks/`` by name.

    The folder goes on ``sys.path`` (which joblib's workers inherit), so that
    the workers can import the script's functions by name too.
    """
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module(name)


# A tqdm bar as drawn on a text stream: "desc:  40%|####      | 4/10 [..."
BAR = re.compile(r"(?P<desc>[^:\r\n]+): +\d+%\|[^|]*\| (?P<done>\d+)/(?P<total>\d+) \[")


def progress_bars(err: str) -> list:
    """``(description, done, total)`` of each bar tqdm drew on ``err``, in
    order, at its last refresh (tqdm redraws a bar in place after a carriage
    return)."""
    final = {}
    for state in re.split(r"[\r\n]", err):
        match = BAR.match(state)
        if match:
            final[match["desc"]] = (int(match["done"]), int(match["total"]))
    return [(desc, *counts) for desc, counts in final.items()]


def assert_same_set(got, want, rtol=1e-8):
    """Two confidence sets have the same pieces, their ends equal to ``rtol``."""
    from numpy.testing import assert_allclose

    assert len(got) == len(want), (got, want)
    if len(want):
        assert_allclose(
            np.array(list(got), dtype=float),
            np.array(list(want), dtype=float),
            rtol=rtol,
            atol=0,
        )
