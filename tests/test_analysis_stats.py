"""Mann-Whitney U, the paper's normal approximation, Cliff's delta and the bootstrap, on hand cases.

Exact p-values are checked against a brute-force enumeration of every assignment of the pooled
values to the two groups (the definition of the exact / permutation test), not against scipy.
"""

from __future__ import annotations

import math
from itertools import combinations, product

import numpy as np
import pytest

from orchbench.analysis.bootstrap import bootstrap_median_ci
from orchbench.analysis.stats import cliff_magnitude, cliffs_delta, mann_whitney, normal_approx_p


def u_of(x, y) -> float:
    return sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in product(x, y))


def brute_force_p(x, y) -> float:
    """Two-sided: twice the smaller tail of U over all C(n1 + n2, n1) equally likely splits."""
    pooled = list(x) + list(y)
    n1 = len(x)
    u0 = u_of(x, y)
    us = []
    for idx in combinations(range(len(pooled)), n1):
        xs = [pooled[i] for i in idx]
        ys = [pooled[i] for i in range(len(pooled)) if i not in idx]
        us.append(u_of(xs, ys))
    lo = sum(u <= u0 + 1e-12 for u in us) / len(us)
    hi = sum(u >= u0 - 1e-12 for u in us) / len(us)
    return min(1.0, 2 * min(lo, hi))


def test_three_vs_three_fully_separated():
    r = mann_whitney(np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0]))
    assert r.u == 0
    assert r.p_method == "exact" and not r.ties
    assert r.p_exact == pytest.approx(0.1)  # 2 / C(6, 3)
    sigma = math.sqrt(9 * 7 / 12)
    assert r.p_normal_approx == pytest.approx(math.erfc((4.5 / sigma) / math.sqrt(2)))
    assert round(r.p_normal_approx, 4) == 0.0495
    assert mann_whitney(np.array([4.0, 5, 6]), np.array([1.0, 2, 3])).u == 9


@pytest.mark.parametrize(
    "x,y",
    [
        ([0.3, 1.2, 2.5, 4.0], [0.5, 0.9, 3.1, 3.3, 5.0]),
        ([1.0, 7.0], [2.0, 3.0, 4.0]),
        ([10.0], [1.0, 2.0, 3.0, 4.0]),
    ],
)
def test_exact_p_without_ties_matches_enumeration(x, y):
    r = mann_whitney(np.array(x), np.array(y))
    assert r.p_method == "exact"
    assert r.u == u_of(x, y)
    assert r.p_exact == pytest.approx(brute_force_p(x, y))


@pytest.mark.parametrize(
    "x,y",
    [
        ([1.0, 2.0, 2.0], [2.0, 5.0, 6.0]),  # tie across the samples
        ([0.17, 0.17, 0.43], [0.42, 0.70, 0.42]),  # ties inside each sample (the paper's A/T3 shape)
        ([1.0, 1.0, 1.0], [1.0, 1.0]),  # all tied: no evidence at all
        ([3.0, 3.0, 5.0, 1.0], [3.0, 8.0, 9.0, 9.0]),
        ([2.0], [2.0, 3.0]),  # a sample of one
    ],
)
def test_ties_use_an_exact_permutation_test(x, y):
    r = mann_whitney(np.array(x), np.array(y))
    assert r.ties and r.p_method == "permutation"
    assert r.u == u_of(x, y)
    assert r.p_exact == pytest.approx(brute_force_p(x, y))


def test_all_tied_gives_p_one():
    r = mann_whitney(np.array([1.0, 1.0, 1.0]), np.array([1.0, 1.0]))
    assert r.p_exact == pytest.approx(1.0)
    assert cliffs_delta([1.0, 1, 1], [1.0, 1], u=r.u) == 0


def test_large_tied_samples_fall_back_to_asymptotic_and_say_so():
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 4, 60).astype(float), rng.integers(1, 5, 60).astype(float)
    r = mann_whitney(x, y)
    assert r.p_method == "asymptotic" and r.p_exact is None
    assert 0 <= r.p <= 1
    assert r.u == u_of(x, y)


def test_empty_sample_gives_none():
    assert mann_whitney(np.array([]), np.array([1.0])) is None
    assert cliffs_delta([], [1.0]) is None
    assert cliff_magnitude(None) is None


def test_single_observation_each():
    r = mann_whitney(np.array([1.0]), np.array([2.0]))
    assert r.p_exact == pytest.approx(1.0)
    assert normal_approx_p(r.u, 1, 1) == pytest.approx(math.erfc((0.5 / math.sqrt(0.25)) / math.sqrt(2)))


def test_cliffs_delta_hand_counted():
    # pairs: x=1 loses 3; x=2 ties 2, loses 1; x=3 wins 2, loses 1 -> (2 - 5) / 9
    x, y = [1.0, 2.0, 3.0], [2.0, 2.0, 4.0]
    d = cliffs_delta(x, y)
    assert d == pytest.approx(-3 / 9)
    assert cliff_magnitude(d) == "medium"
    assert cliffs_delta(y, x) == pytest.approx(3 / 9)  # antisymmetric
    assert cliffs_delta([5.0, 6.0], [1.0, 2.0]) == 1.0
    assert cliffs_delta([1.0, 2.0], [5.0, 6.0]) == -1.0


@pytest.mark.parametrize(
    "d,magnitude",
    [(0.0, "negligible"), (0.146, "negligible"), (-0.146, "negligible"), (0.147, "small"),
     (0.329, "small"), (0.33, "medium"), (-0.4, "medium"), (0.473, "medium"), (0.474, "large"),
     (-1.0, "large")],
)
def test_cliff_magnitude_thresholds(d, magnitude):
    assert cliff_magnitude(d) == magnitude


def test_bootstrap_is_seeded_and_brackets_the_median():
    x = np.array([1.24, 1.84, 1.74])
    a = bootstrap_median_ci(x, seed=1)
    assert a == bootstrap_median_ci(x, seed=1)
    # 3 values: P(resampled median = min) = 7/27 > 2.5%, so the 95% CI spans min..max
    assert a == (1.24, 1.84)
    assert bootstrap_median_ci(np.array([2.0])) == (2.0, 2.0)
    assert bootstrap_median_ci(np.array([])) is None


@pytest.mark.parametrize("n", [4, 7, 30])
def test_bootstrap_order_statistic_draw_matches_direct_resampling(n):
    x = np.random.default_rng(n).lognormal(size=n)
    direct = bootstrap_median_ci(x, method="direct", resamples=100_000, seed=5)
    fast = bootstrap_median_ci(x, method="order_statistic", resamples=100_000, seed=6)
    # Same distribution: the CI endpoints are data values (or midpoints) and agree.
    assert fast == pytest.approx(direct, rel=0.05)


def test_large_samples_without_ties_use_the_asymptotic_p():
    rng = np.random.default_rng(11)
    x, y = rng.random(300), rng.random(300) + 0.1
    r = mann_whitney(x, y)
    assert not r.ties and r.p_method == "asymptotic" and r.p_exact is None
    assert r.p < 0.01
    assert r.p_normal_approx == pytest.approx(r.p, rel=0.05)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_asymptotic_p_with_ties_matches_the_textbook_formula(seed):
    # The large-sample path is computed without scipy (importing it would dominate `analyze`):
    # check it against the tie-corrected, continuity-corrected formula written out term by term.
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, 9, 150).astype(float), rng.integers(1, 10, 120).astype(float)
    r = mann_whitney(x, y)
    n1, n2 = len(x), len(y)
    n = n1 + n2
    assert r.u == u_of(x, y)
    counts = np.unique(np.concatenate([x, y]), return_counts=True)[1]
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - sum(t ** 3 - t for t in counts) / (n * (n - 1))))
    z = (abs(r.u - n1 * n2 / 2) - 0.5) / sigma
    assert r.p_method == "asymptotic"
    assert r.p == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-12)
    assert cliffs_delta(x, y) == pytest.approx(2 * u_of(x, y) / (n1 * n2) - 1)
