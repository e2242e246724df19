"""Two-sample comparisons for small samples: Mann-Whitney U and Cliff's delta.

At n = 3 per arm the normal approximation the paper used cannot go below p = 0.0495 (it prints
0.050), while the exact two-sided p of two fully separated samples of 3 is 2 / C(6, 3) = 0.1: the
exact value is the honest one, the approximation is kept, labelled, to check the paper's numbers.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

# Above this many distinct group assignments a tie-aware exact permutation test is too costly.
PERMUTATION_LIMIT = 50_000
# scipy's exact null distribution: 100 x 100 takes 0.04 s, 200 x 200 twenty seconds. Samples that
# large are where the normal approximation is accurate anyway.
EXACT_LIMIT = 10_000  # n1 * n2
CLIFF_THRESHOLDS = ((0.147, "negligible"), (0.33, "small"), (0.474, "medium"))


@dataclass(frozen=True)
class MannWhitney:
    u: float  # U of the first sample: pairs (x > y) + half the ties
    p_exact: float | None  # exact (or exact-permutation) two-sided p; None if only an approximation exists
    p_method: str  # "exact" | "permutation" (exact, ties kept) | "asymptotic" (large samples, tie-corrected)
    p: float  # the best p available: p_exact when known, else the asymptotic one
    p_normal_approx: float  # the paper's: two-sided, no continuity or tie correction
    ties: bool


def mann_whitney(x: np.ndarray, y: np.ndarray) -> MannWhitney | None:
    """Two-sided Mann-Whitney U of x vs y; None when either sample is empty."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n1, n2 = x.shape[0], y.shape[0]
    if n1 == 0 or n2 == 0:
        return None
    both = np.concatenate([x, y])
    ranks, tie_sizes = midranks(both)
    ties = bool((tie_sizes > 1).any())
    u = float(ranks[:n1].sum()) - n1 * (n1 + 1) / 2.0
    p_asymptotic = asymptotic_p(u, n1, n2, tie_sizes)
    method, p_exact = "asymptotic", None
    if not ties and n1 * n2 <= EXACT_LIMIT:
        # Imported here: scipy.stats costs more to import than a large analysis takes to run.
        from scipy import stats

        method, p_exact = "exact", float(stats.mannwhitneyu(x, y, alternative="two-sided", method="exact").pvalue)
    elif math.comb(n1 + n2, n1) <= PERMUTATION_LIMIT:
        # scipy's "exact" ignores ties; enumerating every assignment of the pooled midranks is exact.
        method, p_exact = "permutation", _permutation_p(ranks, n1, u)
    p = p_exact if p_exact is not None else p_asymptotic
    return MannWhitney(u=u, p_exact=p_exact, p_method=method, p=p,
                       p_normal_approx=normal_approx_p(u, n1, n2), ties=bool(ties))


def midranks(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranks of `a` (1-based, ties sharing their mean rank) and the size of each group of equal values."""
    order = np.argsort(a, kind="mergesort")
    _, first, counts = np.unique(a[order], return_index=True, return_counts=True)
    mean_rank = first + (counts + 1) / 2.0  # 0-based start of each group + its mid position, 1-based
    ranks = np.empty(a.shape[0], dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, counts)
    return ranks, counts


def asymptotic_p(u: float, n1: int, n2: int, tie_sizes: np.ndarray) -> float:
    """Two-sided normal-approximation p of U with tie and continuity corrections (scipy's "asymptotic")."""
    n = n1 + n2
    t = tie_sizes.astype(np.float64)
    tie_term = float((t ** 3 - t).sum())
    var = n1 * n2 / 12.0 * ((n + 1) - (tie_term / (n * (n - 1)) if n > 1 else 0.0))
    if var <= 0:
        return 1.0
    z = (max(u, n1 * n2 - u) - n1 * n2 / 2.0 - 0.5) / math.sqrt(var)
    return min(1.0, max(0.0, math.erfc(z / math.sqrt(2.0))))  # 2 * P(Z > z)


def _permutation_p(ranks: np.ndarray, n1: int, u: float) -> float:
    """Two-sided exact p of U given ties: twice the smaller tail over all C(n, n1) splits."""
    n = ranks.shape[0]
    combos = np.fromiter(itertools.chain.from_iterable(itertools.combinations(range(n), n1)),
                         dtype=np.int64).reshape(-1, n1)
    us = ranks[combos].sum(axis=1) - n1 * (n1 + 1) / 2.0
    eps = 1e-9
    lower, upper = np.mean(us <= u + eps), np.mean(us >= u - eps)
    return float(min(1.0, 2.0 * min(lower, upper)))


def normal_approx_p(u: float, n1: int, n2: int) -> float:
    """The paper's p: z = (U - n1 n2 / 2) / sqrt(n1 n2 (n1 + n2 + 1) / 12), two-sided, uncorrected."""
    sigma = math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12.0)
    if sigma == 0:
        return 1.0
    z = (u - n1 * n2 / 2.0) / sigma
    return math.erfc(abs(z) / math.sqrt(2.0))  # = 2 * (1 - Phi(|z|))


def cliffs_delta(x: np.ndarray, y: np.ndarray, *, u: float | None = None) -> float | None:
    """P(x > y) - P(x < y) over all pairs; positive means x tends to be larger.

    Computed from U (rank-based, O(n log n)) rather than all n1 * n2 pairs: U counts x > y pairs
    plus half the ties, so delta = 2U / (n1 n2) - 1.
    """
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        return None
    if u is None:
        u = float(midranks(np.concatenate([np.asarray(x, np.float64), np.asarray(y, np.float64)]))[0][:n1].sum())
        u -= n1 * (n1 + 1) / 2.0
    return 2.0 * u / (n1 * n2) - 1.0


def cliff_magnitude(delta: float | None) -> str | None:
    """Romano et al. (2006) thresholds: |d| < 0.147 negligible, < 0.33 small, < 0.474 medium, else large."""
    if delta is None:
        return None
    d = abs(delta)
    for limit, name in CLIFF_THRESHOLDS:
        if d < limit:
            return name
    return "large"
