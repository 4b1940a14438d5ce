"""NIST StRD linear regression datasets with certified values.

The first two x columns take the treatment and mediator roles and the rest are
covariates (polynomial models use the powers of x as columns); the naive
regressor is plain least squares on them, so it must reproduce every certified
coefficient to at least 7 significant digits and every certified standard error
(``cov_type="classical"``) to at least 6 (below 1e-8 in absolute value where
the certified value is 0). The same general QR path serves every dataset.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skmediate import NaiveMediationRegressor

NIST = Path(__file__).parent / "data" / "nist"
DATASETS = ["longley", "wampler1", "wampler2", "wampler3"]


def _load(name):
    spec = json.loads((NIST / f"nist_{name}.json").read_text())
    data = spec["data"]
    if spec["polynomial_degree"]:
        x = np.asarray(data["x"], dtype=float)
        columns = {f"x{k}": x**k for k in range(1, spec["polynomial_degree"] + 1)}
    else:
        columns = {
            key: np.asarray(val, dtype=float) for key, val in data.items() if key != "y"
        }
    return pd.DataFrame(columns), np.asarray(data["y"], dtype=float), spec["certified"]


def _significant_digits(value, certified):
    if value == certified:
        return np.inf
    return -np.log10(abs(value - certified) / abs(certified))


# a NIST regressor stands in for the treatment: it is not coded 0/1
@pytest.mark.filterwarnings("ignore::skmediate.TreatmentCodingWarning")
@pytest.mark.parametrize("name", DATASETS)
def test_nist_certified_values(name):
    X, y, certified = _load(name)
    names = list(X.columns)
    est = NaiveMediationRegressor(
        treatment=names[0],
        mediator=names[1],
        covariates=names[2:],
        cov_type="classical",
    ).fit(X, y)
    # Certified order is B0 (intercept), B1..Bk for x1..xk.
    ours = est.result_.params[["intercept", *names]].to_numpy()
    ses = est.result_.std_errors[["intercept", *names]].to_numpy()
    for value, cert in zip(ours, certified["estimates"], strict=True):
        assert _significant_digits(value, cert) >= 7, (value, cert)
    for value, cert in zip(ses, certified["std_errors"], strict=True):
        if cert == 0:
            assert abs(value) < 1e-8
        else:
            assert _significant_digits(value, cert) >= 6, (value, cert)
    residual_sd = np.sqrt(np.sum((y - est.predict(X)) ** 2) / (len(y) - len(ours)))
    if certified["residual_sd"] == 0:
        assert residual_sd < 1e-8
    else:
        assert _significant_digits(residual_sd, certified["residual_sd"]) >= 6
