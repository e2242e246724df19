"""Arms compared task by task: many tasks, few trials each, and the task as the unit of replication.

Per task, each arm's cost is the median over its successful trials (as in the cells). Two arms are
compared on the tasks where both have a success: the Wilcoxon signed-rank test on the per-task log
cost ratios (log median a - log median b; exact null distribution while n <= 50 without ties or
zeros, normal approximation above), and the geometric-mean cost ratio a / b with a percentile CI from
a paired bootstrap that resamples tasks (keeping each task's two medians together).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from orchbench.analysis.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED
from orchbench.analysis.columns import TrialColumns

EXACT_MAX_N = 50  # scipy's exact signed-rank distribution; above it the normal approximation is good


@dataclass
class PairedComparison:
    """Arm a vs arm b over the tasks both solved at least once. ratio > 1: a costs more than b."""

    a: str
    b: str
    n_tasks: int
    tasks: list[str]
    ratio: float | None  # geometric mean over tasks of median(a) / median(b)
    ratio_ci95: list[float] | None  # paired bootstrap over tasks
    wilcoxon_stat: float | None
    p: float | None
    p_method: str | None  # "exact" | "asymptotic"
    a_cheaper_tasks: int = 0
    b_cheaper_tasks: int = 0

    @property
    def decided(self) -> bool:
        ci = self.ratio_ci95
        return ci is not None and (ci[0] > 1.0 or ci[1] < 1.0)


def task_medians(cols: TrialColumns) -> dict[str, dict[str, float]]:
    """arm -> task -> median cost of its successful trials (cells without a success are absent)."""
    out: dict[str, dict[str, float]] = {}
    ok = cols.success
    for ai, arm in enumerate(cols.arms):
        for ti, task in enumerate(cols.tasks):
            rows = ok & (cols.arm_code == ai) & (cols.task_code == ti)
            if rows.any():
                out.setdefault(arm, {})[task] = float(np.median(cols.cost[rows]))
    return out


def resample_indices(n: int, resamples: int, seed: int) -> np.ndarray:
    """The bootstrap's (resamples, n) task indices: one seeded draw, shared by every use."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def log_ratio_ci(d: np.ndarray, *, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                 level: float = 0.95) -> tuple[float, float] | None:
    """Percentile CI of exp(mean(d)) under resampling of the rows of d (one row per task)."""
    if d.shape[0] < 2:
        return None
    means = d[resample_indices(d.shape[0], resamples, seed)].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(np.exp(lo)), float(np.exp(hi))


def signed_rank(d: np.ndarray) -> tuple[float, float, str] | None:
    """Two-sided Wilcoxon signed-rank of d against 0: (statistic, p, method); None if all d are 0."""
    if d.shape[0] == 0 or not np.any(d):
        return None
    _, counts = np.unique(np.abs(d[d != 0]), return_counts=True)
    exact = d.shape[0] <= EXACT_MAX_N and bool(np.all(d != 0)) and bool(np.all(counts == 1))
    method = "exact" if exact else "asymptotic"
    res = stats.wilcoxon(d, method=method, zero_method="wilcox" if exact else "pratt")
    return float(res.statistic), float(res.pvalue), method


def compare_arms(medians: dict[str, dict[str, float]], a: str, b: str, *,
                 resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> PairedComparison:
    ma, mb = medians.get(a, {}), medians.get(b, {})
    tasks = sorted(t for t in set(ma) & set(mb) if ma[t] > 0 and mb[t] > 0)
    d = np.array([np.log(ma[t]) - np.log(mb[t]) for t in tasks], dtype=np.float64)
    sr = signed_rank(d)
    ci = log_ratio_ci(d, resamples=resamples, seed=seed)
    return PairedComparison(
        a=a, b=b, n_tasks=len(tasks), tasks=tasks,
        ratio=float(np.exp(d.mean())) if tasks else None,
        ratio_ci95=list(ci) if ci else None,
        wilcoxon_stat=sr[0] if sr else None, p=sr[1] if sr else None, p_method=sr[2] if sr else None,
        a_cheaper_tasks=int((d < 0).sum()), b_cheaper_tasks=int((d > 0).sum()),
    )


def paired_comparisons(cols: TrialColumns, *, resamples: int = DEFAULT_RESAMPLES,
                       seed: int = DEFAULT_SEED) -> list[PairedComparison]:
    """Every pair of arms (a < b in sort order) that shares at least one solved task."""
    medians = task_medians(cols)
    arms = sorted(medians)
    out = []
    for i, a in enumerate(arms):
        for b in arms[i + 1:]:
            c = compare_arms(medians, a, b, resamples=resamples, seed=seed)
            if c.n_tasks:
                out.append(c)
    return out
