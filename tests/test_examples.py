"""The runnable examples run and say what they should."""

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_demo_trial(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["demo_trial.py"])
    runpy.run_path(str(EXAMPLES / "demo_trial.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "Naive mediation regression (least squares)" in out
    assert "IV mediation regression (two-stage least squares)" in out
    # Both summaries share lines: printed side by side.
    assert any(
        "Outcome:" in line and line.count("Outcome:") == 2 for line in out.splitlines()
    )
    assert "truth" in out and "first-stage partial F" in out


def test_demo_recovers_truth_where_naive_fails():
    module = runpy.run_path(str(EXAMPLES / "demo_trial.py"))
    from skmediate import IVMediationRegressor, NaiveMediationRegressor

    X, y = module["simulate_trial"](n=20000, seed=1)
    roles = dict(treatment="r", mediator="m", covariates=["past_use", "baseline_use"])
    truth = {"r": module["TRUE_DIRECT"], "m": module["TRUE_MEDIATOR"]}
    iv = IVMediationRegressor(**roles).fit(X, y).result_.conf_int(0.999)
    naive = NaiveMediationRegressor(**roles).fit(X, y).result_.conf_int(0.999)
    for term, value in truth.items():
        assert iv.loc[term, "lower"] < value < iv.loc[term, "upper"]
        assert not naive.loc[term, "lower"] < value < naive.loc[term, "upper"]


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_example_has_docstring_and_main(script):
    text = (EXAMPLES / script).read_text()
    assert text.startswith('"""') and 'if __name__ == "__main__":' in text
