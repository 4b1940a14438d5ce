"""Reference LIML and Fuller estimates, computed from the textbook formulas with numpy.

Run from the repository root:

    python tests/reference/kclass_reference.py

Writes ``kclass.json`` next to this file. The library reads the LIML ``κ``
and the k-class estimates off one Householder QR factor of the column-scaled
data. This script shares none of that: it writes the formulas out with
residual-maker matrices applied through the normal equations
(``M_A V = V - A (AᵀA)⁻¹AᵀV``, solved with ``numpy.linalg.solve``):

- exogenous regressors ``X = [1, x..., z..., r]``, instruments
  ``Z = [X, r (x - mean x)...]`` with ``L`` columns, regressors
  ``D = [X, m]`` with ``k`` columns, ``W = [y, m]``;
- LIML: ``κ`` is the smallest root of ``det(A - κB) = 0`` with
  ``A = WᵀM_X W`` and ``B = WᵀM_Z W`` (2 x 2). Written for ``λ = κ - 1`` as
  ``det(C - λB) = 0`` with ``C = A - B``, the determinant is the quadratic
  ``det(B) λ² - p λ + det(C) = 0`` with ``p = c₁₁b₂₂ + c₂₂b₁₁ - 2c₁₂b₁₂``,
  whose smaller root is taken in the form
  ``λ = 2 det(C) / (p + sqrt(p² - 4 det(C) det(B)))``, and ``κ = 1 + λ``.
  The shift matters: with weak instruments both roots in ``κ`` lie just
  above 1, and the quadratic formula in ``κ`` itself loses about 100 times
  more precision to the cancellation in its discriminant;
- Fuller: ``κ = κ_LIML - α / (n - L)`` for ``α = 1`` and ``α = 4`` (the
  convention of linearmodels' ``IVLIML`` and of the library);
- k-class estimate: ``β(κ) = [Dᵀ(I - κM_Z)D]⁻¹ Dᵀ(I - κM_Z)y`` with
  ``Dᵀ(I - κM_Z)D = DᵀD - κ (M_Z D)ᵀ(M_Z D)``, by ``numpy.linalg.solve``;
- classical covariance: ``σ² [Dᵀ(I - κM_Z)D]⁻¹`` with ``σ² = eᵀe / (n - k)``
  and the structural residuals ``e = y - D β(κ)``; the inverse is formed by
  ``numpy.linalg.solve`` against the identity. Solving normal equations and
  forming an inverse are acceptable here, in a reference computation on
  three small, well-scaled datasets; the library never does either.

``κ = 1`` (two-stage least squares) is written too, so the same code can be
checked against the R reference (``AER::ivreg``) in ``<dataset>.json``.
Before writing, the script checks that each LIML ``κ`` is a root of the
determinant and is the smaller of the two eigenvalues of ``B⁻¹A`` from
``numpy.linalg.eigvals``. Floats are written with ``repr`` (exact round
trip). Only numpy and pandas are needed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DATASETS = ["trial_binary", "trial_clustered", "trial_weak"]
FULLER_ALPHAS = [1.0, 4.0]


def design(data: pd.DataFrame):
    """Exogenous regressors X, instruments Z, regressors D, outcome y, term names."""
    covariates = [c for c in data.columns if c.startswith("x")]
    controls = [c for c in data.columns if c == "z"]
    n = len(data)
    x = data[covariates].to_numpy(float)
    r = data["r"].to_numpy(float)
    m = data["m"].to_numpy(float)
    exog = np.column_stack([np.ones(n), x, data[controls].to_numpy(float), r])
    instruments = np.column_stack([exog, r[:, None] * (x - x.mean(axis=0))])
    regressors = np.column_stack([exog, m])
    terms = ["intercept", *covariates, *controls, "r", "m"]
    return exog, instruments, regressors, data["y"].to_numpy(float), terms


def annihilate(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``M_A v = v - A (AᵀA)⁻¹ Aᵀv`` through the normal equations."""
    return v - a @ np.linalg.solve(a.T @ a, a.T @ v)


def liml_kappa(exog, instruments, y, m) -> float:
    w = np.column_stack([y, m])
    mx_w, mz_w = annihilate(exog, w), annihilate(instruments, w)
    a, b = mx_w.T @ mx_w, mz_w.T @ mz_w
    c = a - b
    det_b = b[0, 0] * b[1, 1] - b[0, 1] * b[1, 0]
    det_c = c[0, 0] * c[1, 1] - c[0, 1] * c[1, 0]
    p = c[0, 0] * b[1, 1] + c[1, 1] * b[0, 0] - 2.0 * c[0, 1] * b[0, 1]
    kappa = 1.0 + 2.0 * det_c / (p + np.sqrt(p * p - 4.0 * det_c * det_b))
    # Self-checks: a root of the determinant, and the smaller eigenvalue.
    residual = np.linalg.det(a - kappa * b) / np.linalg.det(a)
    assert abs(residual) < 1e-10, residual
    eigenvalues = np.sort(np.linalg.eigvals(np.linalg.solve(b, a)).real)
    assert abs(kappa / eigenvalues[0] - 1.0) < 1e-12, (kappa, eigenvalues)
    assert 1.0 <= kappa < eigenvalues[1]
    return float(kappa)


def kclass(instruments, regressors, y, kappa):
    """k-class estimate and its classical standard errors."""
    n, k = regressors.shape
    mz_d = annihilate(instruments, regressors)
    mz_y = annihilate(instruments, y)
    gram = regressors.T @ regressors - kappa * (mz_d.T @ mz_d)
    rhs = regressors.T @ y - kappa * (mz_d.T @ mz_y)
    params = np.linalg.solve(gram, rhs)
    resid = y - regressors @ params
    sigma2 = resid @ resid / (n - k)
    bread = np.linalg.solve(gram, np.eye(k))
    return params, np.sqrt(sigma2 * np.diag(bread))


def main() -> None:
    out = {"description": __doc__.strip().splitlines()[0], "datasets": []}
    for name in DATASETS:
        data = pd.read_csv(HERE / f"{name}.csv")
        exog, instruments, regressors, y, terms = design(data)
        n, n_inst = instruments.shape
        kappa_liml = liml_kappa(exog, instruments, y, data["m"].to_numpy(float))
        kappas = {"2sls": (1.0, None), "liml": (kappa_liml, None)}
        for alpha in FULLER_ALPHAS:
            kappas[f"fuller{alpha:g}"] = (kappa_liml - alpha / (n - n_inst), alpha)
        estimates = {}
        for label, (kappa, alpha) in kappas.items():
            params, se = kclass(instruments, regressors, y, kappa)
            estimates[label] = {
                "kappa": kappa,
                "fuller_alpha": alpha,
                "params": params.tolist(),
                "se_classical": se.tolist(),
            }
        out["datasets"].append(
            {
                "dataset": name,
                "n": n,
                "n_instruments": n_inst,
                "k": regressors.shape[1],
                "terms": terms,
                "estimates": estimates,
            }
        )
    out["versions"] = {"numpy": np.__version__, "pandas": pd.__version__}
    # json writes floats with repr, which round-trips exactly.
    (HERE / "kclass.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
