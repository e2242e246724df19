"""Per (arm, task) cell: success-only medians, success rate, bootstrap CI, expected cost, tokens.

Medians are over successful trials only (a failed trial's cost says how much was wasted, not what
the job costs); the success rate counts success / failure (and the legacy status blocked), never
infra errors, which are ours and not the agent's. A BLOCKED answer is a flag counted in n_blocked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from orchbench.analysis.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, bootstrap_median_ci
from orchbench.analysis.columns import INFRA, STATUSES, TrialColumns


@dataclass
class Cell:
    arm: str
    task: str
    n_success: int
    n_total: int  # counted trials: success + failure (+ blocked, in stores from before the flag)
    n_failure: int
    n_blocked: int  # trials whose agent answered BLOCKED (a flag: they are also successes or failures)
    n_infra_error: int
    success_rate: float | None
    wall_median: float | None
    iterations_median: float | None
    cost_median: float | None
    cost_ci95: list[float] | None
    expected_cost: float | None  # cost_median / success_rate: the cost of one success under retry
    cost_mean_all: float | None  # mean over all counted trials, failures included: what was spent
    orchestrator_tokens_median: float | None  # median of orchestrator input + cache_read
    orchestrator_cache_read_median: float | None
    tokens_ratio_to_baseline: float | None = None
    cache_read_ratio_to_baseline: float | None = None
    pareto_dominated: bool | None = None
    dominated_by: list[str] = field(default_factory=list)


def _median(x: np.ndarray) -> float | None:
    return float(np.median(x)) if x.shape[0] else None


def _groups(cols: TrialColumns) -> list[tuple[str, str, np.ndarray]]:
    """(arm, task, row indices) for every pair present, in (arm, task) sort order."""
    key = cols.arm_code.astype(np.int64) * len(cols.tasks) + cols.task_code
    order = np.argsort(key, kind="stable")
    sorted_keys = key[order]
    bounds = np.flatnonzero(np.diff(sorted_keys)) + 1
    out = []
    for rows in np.split(order, bounds):
        if rows.shape[0] == 0:
            continue
        k = int(key[rows[0]])
        out.append((cols.arms[k // len(cols.tasks)], cols.tasks[k % len(cols.tasks)], rows))
    out.sort(key=lambda g: (g[0], g[1]))
    return out


def compute_cells(
    cols: TrialColumns,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> list[Cell]:
    """One Cell per (arm, task) present, sorted by arm then task (ratios: `add_ratios`)."""
    tokens = cols.orchestrator_prompt_side()
    cache_read = cols.orchestrator_cache_read()
    success = cols.success
    counted = cols.counted
    cells: list[Cell] = []
    for arm, task, rows in _groups(cols):
        ok = rows[success[rows]]
        status_counts = np.bincount(cols.status[rows], minlength=len(STATUSES))
        n_success = int(ok.shape[0])
        n_total = int(counted[rows].sum())
        rate = n_success / n_total if n_total else None
        cost_med = _median(cols.cost[ok])
        ci = bootstrap_median_ci(cols.cost[ok], resamples=resamples, seed=seed)
        counted_rows = rows[counted[rows]]
        cells.append(Cell(
            arm=arm, task=task, n_success=n_success, n_total=n_total,
            n_failure=int(status_counts[STATUSES.index("failure")]),
            n_blocked=int(cols.blocked[rows].sum()),
            n_infra_error=int(status_counts[INFRA]),
            success_rate=rate,
            wall_median=_median(cols.wall[ok]),
            iterations_median=_median(cols.iterations[ok]),
            cost_median=cost_med,
            cost_ci95=list(ci) if ci else None,
            expected_cost=cost_med / rate if cost_med is not None and rate else None,
            cost_mean_all=float(cols.cost[counted_rows].mean()) if counted_rows.shape[0] else None,
            orchestrator_tokens_median=_median(tokens[ok]),
            orchestrator_cache_read_median=_median(cache_read[ok]),
        ))
    return cells


def default_baseline(cells: list[Cell]) -> str | None:
    return min((c.arm for c in cells), default=None)


def add_ratios(cells: list[Cell], baseline: str) -> None:
    """Token ratios of every cell to the baseline arm's cell of the same task."""
    base = {c.task: c for c in cells if c.arm == baseline}
    for c in cells:
        b = base.get(c.task)
        if b is None:
            continue
        c.tokens_ratio_to_baseline = _ratio(c.orchestrator_tokens_median, b.orchestrator_tokens_median)
        c.cache_read_ratio_to_baseline = _ratio(c.orchestrator_cache_read_median,
                                                b.orchestrator_cache_read_median)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None
