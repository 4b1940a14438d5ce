"""The certified projection of the joint robust Anderson-Rubin set.

Checks and tolerances:

- the strict-copositivity criterion (``joint._copositive``) against the least
  value of ``λᵀAλ`` over the simplex, found independently by solving for the
  stationary point of every face, for orders 1 to 5; matrices whose least
  value is within 1e-9 of zero are left out, and the boundary cases (least
  value exactly zero) must be refused;
- a joint set far smaller than the old spacing of the angles (``π/48``) of
  the projected coordinate, with heteroskedastic blocks, for two and three
  mediators: the projection is found, no angle of that spacing falls inside
  it, and at each end the minimum of the joint statistic over the other
  effects (scipy Nelder-Mead from several starts) is the critical value
  (1e-6), below it inside and above it outside;
- with blocks of the homoskedastic form (``V_jk = S_jk·I``) the projection
  is the closed form of the quadric (``joint.quadric_projection``), to 1e-9
  relative, for a small, a bounded, a split and an unbounded set with two
  mediators and a small and a split set with three;
- with the budget of arcs exhausted, the unresolved arcs are kept with a
  warning: the set contains the exact one.
"""

import itertools

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import optimize, stats

from skmediate._numerics import joint

P = 3
CRIT = float(stats.chi2.ppf(0.95, P))


def _least_on_simplex(a):
    """``min λᵀaλ`` over ``λ ≥ 0``, ``Σλ = 1``: the stationary points of the faces."""
    n = a.shape[0]
    best = np.inf
    for size in range(1, n + 1):
        for face in itertools.combinations(range(n), size):
            sub = a[np.ix_(face, face)]
            system = np.zeros((size + 1, size + 1))
            system[:size, :size] = sub
            system[:size, size] = -1.0
            system[size, :size] = 1.0
            rhs = np.zeros(size + 1)
            rhs[size] = 1.0
            try:
                solution = np.linalg.solve(system, rhs)
            except np.linalg.LinAlgError:
                continue
            lam = solution[:size]
            if np.all(lam >= 0):
                best = min(best, lam @ sub @ lam)
    return best


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_copositive_against_the_simplex(n):
    rng = np.random.default_rng(n)
    checked = {True: 0, False: 0}
    for _ in range(400):
        x = rng.normal(size=(n, n))
        a = (x + x.T) / 2 + rng.uniform(0, 1.5) * np.eye(n)
        least = _least_on_simplex(a)
        if abs(least) < 1e-9:
            continue
        verdict = bool(joint._copositive(a))
        assert verdict == (least > 0), (a, least)
        checked[verdict] += 1
    assert min(checked.values()) > 40  # both answers are exercised


def test_copositive_boundary_and_batches():
    horn = np.array([[1.0, -1.0, 1.0], [-1.0, 1.0, -1.0], [1.0, -1.0, 1.0]])
    assert _least_on_simplex(horn) == pytest.approx(0.0, abs=1e-12)
    assert not joint._copositive(horn)  # copositive, not strictly
    assert joint._copositive(horn + 1e-6 * np.eye(3))
    assert not joint._copositive(np.diag([1.0, 1.0, 0.0]))
    # negative entries do not exclude strict copositivity
    a = np.array([[1.0, -0.6, -0.6], [-0.6, 1.0, -0.6], [-0.6, -0.6, 1.0]])
    assert joint._copositive(a) == (_least_on_simplex(a) > 0)
    batch = np.stack([horn, np.eye(3), a])
    assert joint._copositive(batch).tolist() == [False, True, False]


TRUTH = np.array([0.7, -0.3, 0.4])


def _moments(scale, seed, homoskedastic=False, noise=0.5, q=2):
    """Moments ``[outcome, m1..mq]`` with ``p = 3`` instruments of strength
    ``scale``: the joint set shrinks around ``TRUTH[:q]`` as it grows."""
    rng = np.random.default_rng(seed)
    b = scale * rng.normal(size=(q, P))
    a = TRUTH[:q] @ b + noise * rng.normal(size=P)
    coef = np.vstack([a, b])
    k = q + 1
    if homoskedastic:
        x = rng.normal(size=(k, k))
        s = x @ x.T + np.eye(k)
        return coef, s[:, :, None, None] * np.eye(P), s
    x = rng.normal(size=(k * P, k * P)) / np.sqrt(k * P)
    cov = x @ x.T + 0.5 * np.eye(k * P)
    return coef, cov.reshape(k, P, k, P).transpose(0, 2, 1, 3), None


def _angle(coef, blocks, target, theta):
    """The angle on the projective line of the projected coordinate."""
    order = [0, 1 + target]
    t = joint._normalizer(coef[order], blocks[np.ix_(order, order)])
    e = np.linalg.solve(t, [1.0, -theta])
    return float(np.mod(np.arctan2(e[1], e[0]), np.pi))


@pytest.mark.parametrize(
    "q, scale, target", [(2, 1e3, 0), (2, 1e3, 1), (3, 1e4, 0), (3, 1e4, 2)]
)
def test_a_piece_narrower_than_the_spacing(q, scale, target):
    coef, blocks, _ = _moments(scale, 1, q=q)
    s = joint._robust_projection(coef, blocks, target, CRIT)
    assert len(s) == 1
    low, high = s[0]
    psi = sorted(_angle(coef, blocks, target, v) for v in (low, high))
    assert psi[1] - psi[0] < np.pi / 48 / 2
    grid = np.pi * np.arange(48) / 48
    assert not np.any((grid >= psi[0]) & (grid <= psi[1]))
    others = [j for j in range(q) if j != target]

    def least(value):
        def stat(rest):
            theta = np.empty(q)
            theta[target], theta[others] = value, rest
            return joint._stat(coef, blocks, np.r_[1.0, -theta])

        start = TRUTH[others]
        return min(
            optimize.minimize(
                stat,
                start + shift,
                method="Nelder-Mead",
                options={"xatol": 1e-12, "fatol": 1e-11, "maxfev": 20000},
            ).fun
            for shift in (0.0, 10 / scale, -10 / scale)
        )

    for end, inward in ((low, 1.0), (high, -1.0)):
        assert_allclose(least(end), CRIT, rtol=1e-6)
        step = 1e-3 * (high - low)
        assert least(end + inward * step) < CRIT < least(end - inward * step)


@pytest.mark.parametrize(
    "scale, seed, q, shape",
    [
        (1000.0, 1, 2, "bounded"),
        (6.0, 1, 2, "bounded"),
        (4.0, 1, 2, "split"),
        (1.0, 0, 2, "line"),
        (1000.0, 1, 3, "bounded"),
        (100.0, 1, 3, "split"),
    ],
)
def test_homoskedastic_blocks_give_the_closed_form(scale, seed, q, shape):
    coef, blocks, s = _moments(scale, seed, homoskedastic=True, noise=1.0, q=q)
    sign = np.r_[1.0, -np.ones(q)]
    g = (coef @ coef.T - CRIT * s) * np.outer(sign, sign)
    for target in range(q):
        closed = joint.quadric_projection(g, target)
        found = "split" if len(closed) == 2 else "bounded"
        assert ("line" if closed == [(-np.inf, np.inf)] else found) == shape
        robust = joint._robust_projection(coef, blocks, target, CRIT)
        assert len(robust) == len(closed)
        assert_allclose(np.array(robust), np.array(closed), rtol=1e-9)


def test_an_exhausted_budget_keeps_the_unresolved_arcs(monkeypatch):
    coef, blocks, _ = _moments(6.0, 1)
    exact = joint._robust_projection(coef, blocks, 0, CRIT)
    monkeypatch.setattr(joint, "ARC_BUDGET", 3)
    with pytest.warns(RuntimeWarning, match="did not resolve within 3 arcs"):
        kept = joint._robust_projection(coef, blocks, 0, CRIT)
    # a superset of the exact set, and a larger one
    for low, high in exact:
        assert any(a <= low and high <= b for a, b in kept)
    assert kept != exact
