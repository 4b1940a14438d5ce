"""Closed forms and invariances of the numerics layer (``skmediate._numerics``)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from skmediate import IVMediationRegressor
from skmediate._numerics.rows import reduce_rows
from skmediate.exceptions import RankDeficiencyError

from .conftest import fit_arrays

COV_TYPES = ["unadjusted", "classical", "HC0", "HC1", "cluster"]


def _problem(n=300, p=2, seed=0):
    rng = np.random.default_rng(seed)
    r = rng.integers(0, 2, n).astype(float)
    x = rng.normal(size=(n, p))
    u = rng.normal(size=n)
    m = r * (0.5 + x @ np.linspace(1, 0.5, p)) + u + rng.normal(size=n)
    y = 1 + x.sum(axis=1) - r + 2 * m + u + rng.normal(size=n) * (1 + r)
    groups = rng.integers(0, 20, n)
    return r, m, x, y, groups


def test_just_identified_is_ratio_of_reduced_form_to_first_stage():
    r, m, x, y, _ = _problem(p=1)
    model = fit_arrays(r, m, x, y)
    q = np.column_stack([np.ones_like(r), x, r, r * (x[:, 0] - x[:, 0].mean())])
    first = np.linalg.lstsq(q, m, rcond=None)[0][-1]
    reduced = np.linalg.lstsq(q, y, rcond=None)[0][-1]
    assert model.params[-1] == pytest.approx(reduced / first, rel=1e-12)


def test_naive_model_is_least_squares():
    r, m, x, y, _ = _problem()
    model = fit_arrays(r, m, x, y, instrumented=False, cov_type="classical")
    design = np.column_stack([np.ones_like(r), x, r, m])
    coef, rss = np.linalg.lstsq(design, y, rcond=None)[:2]
    assert_allclose(model.params, coef, rtol=1e-12)
    bread = np.linalg.inv(design.T @ design)
    n, k = design.shape
    assert_allclose(model.cov, rss[0] / (n - k) * bread, rtol=1e-10)


def test_iv_bread_is_the_inverse_of_the_projected_cross_product():
    r, m, x, y, _ = _problem()
    model = fit_arrays(r, m, x, y, cov_type="unadjusted")
    q = np.column_stack([np.ones_like(r), x, r, r[:, None] * (x - x.mean(axis=0))])
    d = np.column_stack([np.ones_like(r), x, r, m])
    d_hat = q @ np.linalg.lstsq(q, d, rcond=None)[0]
    sigma2 = model.rss / len(y)
    assert_allclose(
        model.cov / sigma2 @ (d_hat.T @ d_hat), np.eye(d.shape[1]), atol=1e-9
    )


def test_row_order_invariance():
    r, m, x, y, groups = _problem()
    order = np.random.default_rng(1).permutation(len(y))
    for cov_type in COV_TYPES:
        a = fit_arrays(r, m, x, y, groups=groups, cov_type=cov_type)
        b = fit_arrays(
            r[order],
            m[order],
            x[order],
            y[order],
            groups=groups[order],
            cov_type=cov_type,
        )
        assert_allclose(a.params, b.params, rtol=1e-12)
        assert_allclose(a.cov, b.cov, rtol=1e-10)


def test_rescaling_a_covariate_rescales_only_its_coefficient():
    r, m, x, y, _ = _problem()
    factor = 1e6
    x2 = x.copy()
    x2[:, 0] *= factor
    a = fit_arrays(r, m, x, y)
    b = fit_arrays(r, m, x2, y)
    expected = a.params.copy()
    expected[1] /= factor
    assert_allclose(b.params, expected, rtol=1e-10)
    se_a, se_b = np.sqrt(np.diag(a.cov)), np.sqrt(np.diag(b.cov))
    se_a[1] /= factor
    assert_allclose(se_b, se_a, rtol=1e-10)


def test_frequency_weights_equal_repeated_rows():
    r, m, x, y, groups = _problem()
    weights = np.random.default_rng(2).integers(1, 5, len(y)).astype(float)
    rows = np.repeat(np.arange(len(y)), weights.astype(int))
    for cov_type in COV_TYPES:
        a = fit_arrays(r, m, x, y, weights=weights, groups=groups, cov_type=cov_type)
        b = fit_arrays(
            r[rows], m[rows], x[rows], y[rows], groups=groups[rows], cov_type=cov_type
        )
        assert a.nobs == len(rows)
        assert_allclose(a.params, b.params, rtol=1e-11)
        assert_allclose(a.cov, b.cov, rtol=1e-10)


def test_rows_with_weight_zero_contribute_nothing():
    r, m, x, y, groups = _problem()
    weights = np.random.default_rng(3).uniform(0.5, 2, len(y))
    weights[::7] = 0.0
    keep = weights > 0
    for cov_type in COV_TYPES:
        a = fit_arrays(r, m, x, y, weights=weights, groups=groups, cov_type=cov_type)
        b = fit_arrays(
            r[keep],
            m[keep],
            x[keep],
            y[keep],
            weights=weights[keep],
            groups=groups[keep],
            cov_type=cov_type,
        )
        assert a.n_rows == keep.sum() and a.n_clusters == b.n_clusters
        assert_allclose(a.params, b.params, rtol=1e-11)
        assert_allclose(a.cov, b.cov, rtol=1e-10)


def test_rank_deficient_instruments_name_the_column():
    r, m, x, y, _ = _problem()
    collinear = np.column_stack([x, 2 * x[:, 0] - 3])
    with pytest.raises(RankDeficiencyError) as info:
        fit_arrays(r, m, collinear, y)
    assert info.value.block == "instruments"
    assert info.value.index == 3  # [1, x1, x2, x3]: x3 = 2 x1 - 3


def test_unidentified_mediator():
    r, _, x, y, _ = _problem()
    with pytest.raises(RankDeficiencyError) as info:
        fit_arrays(r, 2 * r + 1, x, y)  # the treatment again, rescaled
    assert info.value.block == "regressors"


def test_too_few_rows():
    r, m, x, y, _ = _problem(n=5)
    with pytest.raises(ValueError, match="n_samples=5"):
        fit_arrays(r, m, x, y)


def test_reduce_rows_composes_across_chunks():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(100_000, 4))
    r = reduce_rows(
        lambda c: np.linalg.qr(c, mode="r"),
        [a],
        combine=lambda parts: np.linalg.qr(np.vstack(parts), mode="r"),
    )
    assert_allclose(
        np.abs(r), np.abs(np.linalg.qr(a, mode="r")), rtol=1e-10, atol=1e-10
    )
    assert_allclose(
        reduce_rows(lambda c: c.sum(axis=0), [a]), a.sum(axis=0), rtol=1e-10
    )
    assert reduce_rows(lambda c: np.array([c.shape[0]]), [np.empty((0, 2))])[0] == 0


def test_small_chunks_give_the_same_fit(monkeypatch):
    """The chunked factor and score sums do not depend on the chunk size."""
    import skmediate._numerics.rows as rows

    r, m, x, y, groups = _problem(n=2000)
    for cov_type in ("HC1", "cluster"):
        whole = fit_arrays(r, m, x, y, groups=groups, cov_type=cov_type)
        with monkeypatch.context() as patch:
            patch.setattr(rows, "CHUNK_BYTES", 8 * 6 * 300)  # chunks of 300 rows
            assert len(list(rows.row_slices(2000, 6))) == 7
            chunked = fit_arrays(r, m, x, y, groups=groups, cov_type=cov_type)
        assert_allclose(chunked.params, whole.params, rtol=1e-12)
        assert_allclose(chunked.cov, whole.cov, rtol=1e-12)
        assert_allclose(chunked.meat, whole.meat, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("n", [300, 40_000])  # one chunk, and many
def test_passes_run_blas_on_one_thread_and_restore_it(n):
    """Both passes run BLAS on one thread; the caller's setting returns after."""
    from threadpoolctl import ThreadpoolController, threadpool_limits

    import skmediate._numerics.engine as engine

    blas = ThreadpoolController().select(user_api="blas")
    if not blas.lib_controllers:
        pytest.skip("no BLAS library that threadpoolctl can control")
    seen = {}

    def threads():
        return max(lib.get_num_threads() for lib in blas.lib_controllers)

    def spy(name, func):
        def traced(*args, **kwargs):
            seen.setdefault(name, set()).add(threads())
            return func(*args, **kwargs)

        return traced

    rng = np.random.default_rng(3)
    r = rng.integers(0, 2, n).astype(float)
    x = rng.normal(size=(n, 2))
    m = r * (1 + x[:, 0]) + rng.normal(size=n)
    y = m + r + rng.normal(size=n)
    X = np.column_stack([r, m, x])
    with threadpool_limits(limits=2, user_api="blas"):
        with pytest.MonkeyPatch.context() as patch:  # a function of each pass
            for name in ("triangular_factor", "meat_of_chunk"):
                patch.setattr(engine, name, spy(name, getattr(engine, name)))
            IVMediationRegressor(treatment=0, mediator=1).fit(X, y)
        after = [lib.get_num_threads() for lib in blas.lib_controllers]
    assert seen["meat_of_chunk"] == {1}
    assert seen["triangular_factor"] == {1}
    assert after == [2] * len(after)


def test_runs_of_chunks_on_threads_give_the_same_fit(monkeypatch):
    """A pass of many chunks folds fixed runs of them, on as many threads as
    BLAS may use: the fit is the same bit for bit on one thread or several."""
    import skmediate._numerics.rows as rows

    rng = np.random.default_rng(5)
    n = 40_000
    r = rng.integers(0, 2, n).astype(float)
    x = rng.normal(size=(n, 3))
    m = r * (1 + x[:, 0]) + rng.normal(size=n)
    y = m + r + rng.normal(size=n) * (1 + r)
    X = np.column_stack([r, m, x])
    monkeypatch.setattr(rows, "CHUNK_BYTES", 2**12)  # 256 rows a chunk
    assert len(list(rows.row_slices(n, 8))) >= rows.PARALLEL_CHUNKS
    fits = {}
    for threads in (1, 2, 3):
        monkeypatch.setattr(rows, "blas_threads", lambda threads=threads: threads)
        est = IVMediationRegressor(treatment=0, mediator=1, cov_type="HC3")
        fits[threads] = est.fit(X, y).result_
    for threads in (2, 3):
        np.testing.assert_array_equal(fits[threads].params, fits[1].params)
        np.testing.assert_array_equal(fits[threads].std_errors, fits[1].std_errors)
        np.testing.assert_array_equal(
            fits[threads].first_stage.wald_f_statistic,
            fits[1].first_stage.wald_f_statistic,
        )
