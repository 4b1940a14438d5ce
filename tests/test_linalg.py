"""Closed forms and invariances of the numerics layer."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from skmediate._covariance import covariance, encode_groups
from skmediate._linalg import fit_ols, fit_tsls
from skmediate.exceptions import RankDeficiencyError

COV_TYPES = ["unadjusted", "classical", "HC0", "HC1", "cluster"]


def _problem(n=300, p=2, seed=0):
    rng = np.random.default_rng(seed)
    r = rng.integers(0, 2, n).astype(float)
    x = rng.normal(size=(n, p))
    u = rng.normal(size=n)
    m = r * (0.5 + x @ np.linspace(1, 0.5, p)) + u + rng.normal(size=n)
    y = 1 + x.sum(axis=1) - r + 2 * m + u + rng.normal(size=n) * (1 + r)
    exog = np.column_stack([np.ones(n), x, r])
    excluded = r[:, None] * (x - x.mean(axis=0))
    groups = encode_groups(rng.integers(0, 20, n))[0]
    return exog, m[:, None], excluded, y, groups


def test_self_instrumented_mediator_is_ols():
    exog, endog, _, y, groups = _problem()
    iv = fit_tsls(exog, endog, endog, y)
    ols = fit_ols(np.hstack([exog, endog]), y)
    assert_allclose(iv.structural.params, ols.params, rtol=1e-12)
    for cov_type in COV_TYPES:
        assert_allclose(
            covariance(iv.structural, cov_type, groups),
            covariance(ols, cov_type, groups),
            rtol=1e-10,
            atol=1e-14,
        )


def test_just_identified_is_ratio_of_reduced_form_to_first_stage():
    exog, endog, excluded, y, _ = _problem(p=1)
    fit = fit_tsls(exog, endog, excluded, y)
    instruments = np.hstack([exog, excluded])
    first = fit_ols(instruments, endog[:, 0]).params[-1]
    reduced = fit_ols(instruments, y).params[-1]
    assert fit.structural.params[-1] == pytest.approx(reduced / first, rel=1e-12)
    assert fit.first_stage[0].params[-1] == pytest.approx(first, rel=1e-12)


def test_ols_matches_lstsq():
    exog, endog, _, y, _ = _problem()
    design = np.hstack([exog, endog])
    fit = fit_ols(design, y)
    expected = np.linalg.lstsq(design, y, rcond=None)[0]
    assert_allclose(fit.params, expected, rtol=1e-12)
    assert_allclose(fit.resid, y - design @ expected, atol=1e-10)


def test_row_order_invariance():
    exog, endog, excluded, y, groups = _problem()
    order = np.random.default_rng(1).permutation(len(y))
    a = fit_tsls(exog, endog, excluded, y).structural
    b = fit_tsls(exog[order], endog[order], excluded[order], y[order]).structural
    assert_allclose(a.params, b.params, rtol=1e-12)
    for cov_type in COV_TYPES:
        assert_allclose(
            covariance(a, cov_type, groups),
            covariance(b, cov_type, groups[order]),
            rtol=1e-10,
        )


def test_rescaling_a_covariate_rescales_only_its_coefficient():
    exog, endog, excluded, y, _ = _problem()
    factor = 1e6
    exog2, excluded2 = exog.copy(), excluded.copy()
    exog2[:, 1] *= factor
    excluded2[:, 0] *= factor
    a = fit_tsls(exog, endog, excluded, y).structural
    b = fit_tsls(exog2, endog, excluded2, y).structural
    expected = a.params.copy()
    expected[1] /= factor
    assert_allclose(b.params, expected, rtol=1e-10)
    se_a = np.sqrt(np.diag(covariance(a, "HC1")))
    se_b = np.sqrt(np.diag(covariance(b, "HC1")))
    se_a[1] /= factor
    assert_allclose(se_b, se_a, rtol=1e-10)


def test_frequency_weights_equal_repeated_rows():
    exog, endog, excluded, y, groups = _problem()
    weights = np.random.default_rng(2).integers(1, 5, len(y))
    rows = np.repeat(np.arange(len(y)), weights)
    a = fit_tsls(exog, endog, excluded, y, weights.astype(float))
    b = fit_tsls(exog[rows], endog[rows], excluded[rows], y[rows])
    assert a.structural.nobs == len(rows)
    assert_allclose(a.structural.params, b.structural.params, rtol=1e-11)
    for cov_type in COV_TYPES:
        assert_allclose(
            covariance(a.structural, cov_type, groups),
            covariance(b.structural, cov_type, groups[rows]),
            rtol=1e-10,
        )


def test_linear_operator_reproduces_params_and_is_linear():
    exog, endog, excluded, y, _ = _problem()
    weights = np.random.default_rng(3).uniform(0.5, 2, len(y))
    fit = fit_tsls(exog, endog, excluded, y, weights).structural
    assert_allclose(fit.solve(y), fit.params, rtol=1e-12)
    rng = np.random.default_rng(4)
    rhs = rng.normal(size=(len(y), 3))
    combined = fit.solve(rhs)
    for j in range(3):
        refit = fit_tsls(exog, endog, excluded, rhs[:, j], weights).structural.params
        assert_allclose(combined[:, j], refit, rtol=1e-10, atol=1e-13)


def test_bread_is_inverse_of_weighted_cross_product():
    exog, endog, excluded, y, _ = _problem()
    fit = fit_tsls(exog, endog, excluded, y).structural
    regressors = fit.regressors.toarray()
    cross = regressors.T @ regressors
    assert_allclose(fit.bread() @ cross, np.eye(cross.shape[0]), atol=1e-10)


def test_rank_deficient_instruments_name_the_column():
    exog, endog, excluded, y, _ = _problem()
    collinear = np.column_stack([exog, 2 * exog[:, 1] - 3])
    with pytest.raises(RankDeficiencyError) as info:
        fit_tsls(collinear, endog, excluded, y)
    assert info.value.block == "instruments"
    assert info.value.index == exog.shape[1]


def test_unidentified_endogenous_regressor():
    exog, _, excluded, y, _ = _problem()
    endog = (2 * exog[:, -1] + 1)[:, None]  # the treatment again, rescaled
    with pytest.raises(RankDeficiencyError) as info:
        fit_tsls(exog, endog, excluded, y)
    assert info.value.block == "regressors"


def test_too_few_rows():
    exog, endog, excluded, y, _ = _problem(n=5)
    with pytest.raises(ValueError, match="n_samples=5"):
        fit_tsls(exog, endog, excluded, y)


# -- the chunked passes --------------------------------------------------------


def _blocks(n=3000, seed=0):
    from skmediate._linalg import ColumnBlocks, Interaction

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)) + 30.0  # far from centered: no cancellation allowed
    r = rng.integers(0, 2, n).astype(float)
    center = x.mean(axis=0)
    lazy = ColumnBlocks(ColumnBlocks(np.ones((n, 1)), x), Interaction(r, x, center))
    dense = np.hstack([np.ones((n, 1)), x, r[:, None] * (x - center)])
    return lazy, dense, rng


def _one(request):
    """A step that asks for one pass and returns its result."""
    result = yield request
    return result


def test_interaction_blocks_match_the_dense_matrix():
    from skmediate._covariance import score_gram_pass, score_sums_pass
    from skmediate._linalg import run_step

    lazy, dense, rng = _blocks()
    n, k = dense.shape
    coef, v = rng.normal(size=(k, 2)), rng.normal(size=n)
    codes = rng.integers(0, 40, n)
    assert_allclose(lazy.dot(coef), dense @ coef, rtol=1e-12)
    assert_allclose(lazy.tdot(v), dense.T @ v, rtol=1e-12, atol=1e-9)
    gram = run_step(_one(score_gram_pass(lazy, v)))
    assert_allclose(gram, (dense * (v * v)[:, None]).T @ dense, rtol=1e-12)
    sums = np.zeros((40, k))
    np.add.at(sums, codes, dense * v[:, None])
    cluster_sums = run_step(_one(score_sums_pass(lazy, v, None, codes, 40)))
    assert_allclose(cluster_sums, sums, rtol=1e-12, atol=1e-12)
    assert_allclose(np.asarray(lazy), dense)
    rows = rng.permutation(n)[:50]
    assert_allclose(np.asarray(lazy.rows(rows)), dense[rows])
    assert_allclose(np.asarray(lazy.leading(6)), dense[:, :6])
    assert_allclose(lazy.column(-1), dense[:, -1])
    assert_allclose(lazy[:, np.array([0, 5])], dense[:, [0, 5]])


def test_steps_run_together_share_one_pass(monkeypatch):
    import skmediate._linalg as linalg

    lazy, dense, rng = _blocks()
    v = rng.normal(size=dense.shape[0])
    calls = []
    original = linalg.reduce_rows

    def counting(func, arrays, *, combine=None):
        calls.append(len(arrays))
        return original(func, arrays, combine=combine)

    monkeypatch.setattr(linalg, "reduce_rows", counting)

    def gram_then_sum(weights):
        gram = yield linalg.Pass(
            lambda x, w: (x.toarray() * w[:, None]).T @ x.toarray(), (lazy, weights)
        )
        total = yield linalg.Pass(lambda a: a.sum(keepdims=True), (weights,))
        return gram, total

    def two_at_once():
        first, second = yield [
            linalg.Pass(
                lambda x, w: (x.toarray() * w[:, None]).T @ x.toarray(), (lazy, v)
            ),
            linalg.Pass(lambda a: a.T @ a, (v[:, None],)),
        ]
        return first, second

    (gram, total), (first, second) = linalg.run_steps(
        gram_then_sum(v * v), two_at_once()
    )
    assert len(calls) == 2  # two stages, each one pass over the rows
    assert_allclose(gram, (dense * (v * v)[:, None]).T @ dense, rtol=1e-12)
    assert_allclose(total, [np.sum(v * v)], rtol=1e-12)
    assert_allclose(first, (dense * v[:, None]).T @ dense, rtol=1e-12)
    assert_allclose(second, [[v @ v]], rtol=1e-12)


def test_reduce_rows_composes_across_chunks():
    from skmediate._linalg import reduce_rows

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
