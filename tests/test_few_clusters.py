"""Few clusters: the warning, statistics that are not defined, and the command line."""

import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from skmediate import FewClustersWarning, IVMediationRegressor, NaiveMediationRegressor
from skmediate.datasets import load_jobs, make_mediation_data

ROLES = dict(treatment="r", mediator="m", covariates=["x1", "x2", "x3"])


def _analyze_json(path, *options):
    """``skmediate analyze PATH OPTIONS --format json`` in a subprocess: the document."""
    command = [sys.executable, "-m", "skmediate", "analyze", str(path), *options]
    run = subprocess.run(
        [*command, "--format", "json"], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def trial():
    X, y = make_mediation_data(n_samples=600, n_covariates=3, random_state=3)
    return X, y


def _fit(trial, n_clusters, **params):
    X, y = trial
    groups = np.arange(len(y)) % n_clusters
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = IVMediationRegressor(**ROLES, **params).fit(X, y, groups=groups)
    return est, [w for w in caught if issubclass(w.category, FewClustersWarning)]


@pytest.mark.parametrize("cov_type", ["cluster", "CR0", "CR2"])
def test_few_clusters_warn_and_say_what_to_use(trial, cov_type):
    _, caught = _fit(trial, 8, cov_type=cov_type)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "Only 8 clusters" in message
    for advice in ("cov_type='CR2'", "use_t=True", "wild"):
        assert advice in message


def test_no_warning_with_many_clusters_or_cr2_with_t(trial):
    assert _fit(trial, 30, cov_type="cluster")[1] == []
    assert _fit(trial, 8, cov_type="CR2", use_t=True)[1] == []
    # use_t alone does not cure the downward bias of CR1
    assert len(_fit(trial, 8, cov_type="cluster", use_t=True)[1]) == 1


def test_rank_deficient_cluster_covariance_is_named(trial):
    est, caught = _fit(trial, 3, cov_type="cluster")
    message = str(caught[0].message)
    assert "With G - 1 = 2 below the" in message
    eig = np.linalg.eigvalsh(est.result_.covariance)
    assert eig[-1] > 0 and abs(eig[0]) <= 1e-12 * eig[-1]  # as the warning says


@pytest.mark.parametrize("cov_type", ["cluster", "CR2"])
def test_joint_tests_with_fewer_clusters_than_restrictions(trial, cov_type):
    """3 instruments and 3 clusters: robust joint tests are not defined."""
    est, _ = _fit(trial, 3, cov_type=cov_type)
    fs = est.result_.first_stage
    assert np.isnan(fs.wald_f_statistic) and np.isnan(fs.wald_f_pvalue)
    assert np.isnan(est.result_.diagnostics.loc["hansen_j", "statistic"])
    with pytest.raises(ValueError, match="3 clusters and 3 excluded instruments"):
        est.anderson_rubin_confidence_set()
    text = est.result_.summary().as_text()
    assert "Anderson-Rubin:       not defined" in text
    # with two more clusters than instruments everything is defined again
    est, _ = _fit(trial, 5, cov_type=cov_type)
    assert np.isfinite(est.result_.first_stage.wald_f_statistic)
    assert est.anderson_rubin_confidence_set()


def test_naive_fit_warns_too(trial):
    X, y = trial
    with pytest.warns(FewClustersWarning, match="Only 5 clusters"):
        NaiveMediationRegressor(**ROLES, cov_type="CR2").fit(
            X, y, groups=np.arange(len(y)) % 5
        )


def _jobs():
    X, y = load_jobs()[:2]
    return X, y


def test_jobs_by_occupation_more_clusters_than_instruments():
    """JOBS II by its 7 occupations with 5 instruments: the robust set is defined.

    The 10 × 10 covariance of the two reduced forms has rank at most 7, yet
    every ``V(θ₀)`` (5 × 5) is definite; the exact set agrees with the
    statistic evaluated on a fine grid.
    """
    from skmediate._numerics.weakiv import anderson_rubin_test, critical_value

    X, y = _jobs()
    covariates = ["econ_hard", "depress1", "sex", "age", "nonwhite"]
    est = IVMediationRegressor(
        treatment="treat", mediator="job_seek", covariates=covariates, cov_type="CR2"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y, groups=X["occp"])
    pieces = est.anderson_rubin_confidence_set()
    moments = est.result_.anderson_rubin_moments
    c = critical_value(moments, 0.95)
    for theta in np.linspace(-5, 5, 2001):
        inside = any(lo <= theta <= hi for lo, hi in pieces)
        stat, _ = anderson_rubin_test(moments, theta)
        # c is on the scale of W; the default compares W (G - p)/(p (G - 1))
        # with F(p, G - p)
        g, p = moments.n_clusters, moments.n_instruments
        wald = stat * p * (g - 1) / (g - p) if moments.f_df is not None else stat
        if abs(wald - c) > 1e-6 * c:  # away from the ends
            assert inside == (wald <= c), theta


def test_jobs_by_occupation(tmp_path):
    """JOBS II by its 7 occupations with 7 instruments: no traceback anywhere."""
    X, y = _jobs()
    X = X.assign(income_low=(X["income"] == X["income"].iloc[0]).astype(float))
    X = X.assign(married=(X["marital"] == X["marital"].iloc[0]).astype(float))
    covariates = ["econ_hard", "depress1", "sex", "age", "nonwhite"]
    covariates += ["income_low", "married"]
    est = IVMediationRegressor(
        treatment="treat", mediator="job_seek", covariates=covariates, cov_type="CR2"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y, groups=X["occp"])
    with pytest.raises(ValueError, match="7 clusters and 7 excluded") as info:
        est.anderson_rubin_confidence_set()
    assert "f(a) and f(b)" not in str(info.value)
    assert np.isnan(est.result_.first_stage.wald_f_statistic)
    assert "not defined" in est.result_.summary()
    path = tmp_path / "jobs.csv"
    X.assign(depress2=y).to_csv(path, index=False)
    doc = _analyze_json(
        path,
        *("--outcome", "depress2", "--treatment", "treat", "--mediator", "job_seek"),
        *("--covariates", *covariates, "--clusters", "occp", "--cov-type", "CR2"),
    )
    ar = doc["weak_iv_robust"]
    assert ar["intervals"] == []
    assert "7 clusters and 7 excluded instruments" in ar["not_defined"]
    note = next(note for note in doc["warnings"] if "Only 7 clusters" in note)
    assert "--cov-type CR2 with --use-t" in note and "use_t=True" not in note


def test_command_line_use_t_matches_the_library(tmp_path, trial):
    X, y = trial
    groups = np.arange(len(y)) % 12
    path = tmp_path / "trial.csv"
    pd.DataFrame(X).assign(y=y, site=groups).to_csv(path, index=False)
    doc = _analyze_json(
        path,
        *("--outcome", "y", "--treatment", "r", "--mediator", "m"),
        *("--covariates", "x1", "x2", "x3", "--clusters", "site"),
        *("--cov-type", "CR2", "--use-t"),
    )
    assert doc["settings"]["use_t"] is True and doc["settings"]["cov_type"] == "CR2"
    data = pd.read_csv(path)
    est = IVMediationRegressor(**ROLES, cov_type="CR2", use_t=True).fit(
        data[["r", "m", "x1", "x2", "x3"]], data["y"], groups=data["site"]
    )
    row = est.result_.to_frame().loc["m"]
    (iv,) = next(e for e in doc["estimates"] if e["method"] == "iv")["mediator_effect"]
    assert iv["lower"] == pytest.approx(row["lower"], rel=1e-12)
    assert iv["upper"] == pytest.approx(row["upper"], rel=1e-12)
    assert iv["pvalue"] == pytest.approx(row["pvalue"], rel=1e-12)
