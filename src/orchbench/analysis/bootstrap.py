"""Seeded percentile bootstrap CI of a median, vectorised.

Small samples are resampled directly (B x n indices). For large samples that would cost B x n
memory and time, so the median of a resample is drawn from its exact distribution instead: the
median of a resample is an order statistic of n uniform indices, and the k-th order statistic of n
uniforms is Beta(k, n - k + 1) (the next one follows from the minimum of the n - k uniforms above
it). Both draw from the same bootstrap distribution; tests check they agree.
"""

from __future__ import annotations

import numpy as np

DEFAULT_RESAMPLES = 10_000
DEFAULT_SEED = 20260601
_DIRECT_LIMIT = 2_000_000  # B * n above which the order-statistic draw is used


def bootstrap_median_ci(
    x: np.ndarray,
    *,
    level: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    method: str = "auto",
) -> tuple[float, float] | None:
    """Percentile CI of the median of `x`; None for an empty sample."""
    x = np.sort(np.asarray(x, dtype=np.float64))
    n = x.shape[0]
    if n == 0:
        return None
    rng = np.random.default_rng(seed)
    if method == "direct" or (method == "auto" and resamples * n <= _DIRECT_LIMIT):
        medians = _direct(x, resamples, rng)
    else:
        medians = _order_statistic(x, resamples, rng)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(medians, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def _direct(x: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    idx = rng.integers(0, x.shape[0], size=(resamples, x.shape[0]))
    return np.median(x[idx], axis=1)


def _order_statistic(x: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    n = x.shape[0]
    k = (n + 1) // 2  # 1-based rank of the (lower) middle order statistic
    u_k = rng.beta(k, n - k + 1, size=resamples)
    lower = x[np.minimum((u_k * n).astype(np.int64), n - 1)]
    if n % 2:
        return lower
    u_next = u_k + (1.0 - u_k) * rng.beta(1, n - k, size=resamples)
    upper = x[np.minimum((u_next * n).astype(np.int64), n - 1)]
    return (lower + upper) / 2.0
