"""compare: fits side by side as text, HTML and a DataFrame."""

import warnings

import numpy as np
import pytest

from skmediate import IVMediationRegressor, NaiveMediationRegressor, compare

from .conftest import simulate_trial


@pytest.fixture(scope="module")
def fits():
    X, y, _ = simulate_trial(n=600, n_covariates=2, instrument_strength=2.0, seed=3)
    naive = NaiveMediationRegressor(treatment="r", mediator="m").fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iv = IVMediationRegressor(treatment="r", mediator="m").fit(X, y)
    return naive, iv


def test_frame_holds_each_fits_numbers(fits):
    naive, iv = fits
    table = compare([naive.result_, iv])
    frame = table.to_frame()
    assert list(frame.columns.get_level_values(0).unique()) == ["OLS", "IV-2SLS"]
    for name, est in (("OLS", naive), ("IV-2SLS", iv)):
        assert np.array_equal(
            frame[(name, "estimate")].to_numpy(), est.result_.params.to_numpy()
        )
        assert np.array_equal(
            frame[(name, "std_error")].to_numpy(), est.result_.std_errors.to_numpy()
        )
    stats = table.statistics()
    assert stats.loc["First-stage F", "OLS"] == ""
    assert stats.loc["First-stage F", "IV-2SLS"] == f"{iv.first_stage_.f_statistic:.2f}"


def test_text_and_html(fits):
    naive, iv = fits
    table = compare([naive, iv], names=["Baron-Kenny", "IV"])
    text = str(table)
    assert "Baron-Kenny" in text and "IV" in text
    assert (
        f"{iv.mediator_effect_:.4f}" in text and f"{naive.mediator_effect_:.4f}" in text
    )
    assert f"({iv.result_.std_errors['m']:.4f})" in text
    html = table._repr_html_()
    assert html.startswith("<table") and f"{iv.direct_effect_:.4f}" in html
    widths = {len(line) for line in text.splitlines()[:-1]}
    assert len(widths) == 1  # the columns line up


def test_bad_input(fits):
    naive, iv = fits
    with pytest.raises(ValueError, match="at least one"):
        compare([])
    with pytest.raises(TypeError, match="fitted estimators"):
        compare([object()])
    with pytest.raises(ValueError, match="one distinct name"):
        compare([naive, iv], names=["a"])
    same = compare([iv, iv])
    assert list(same.names) == ["(1) IV-2SLS", "(2) IV-2SLS"]
