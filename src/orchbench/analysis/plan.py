"""How many tasks and trials per cell a comparison needs, estimated from a pilot by simulation.

From the pilot's successful trials of arms a and b (log cost), two variance components:
- within a cell (trial to trial): the pooled SD of log cost around each cell's mean;
- between tasks in the arm effect: how much the log cost ratio a / b moves from task to task, net of
  the part the within-cell noise explains (var of per-task mean differences minus sigma_w^2 (1/n_a + 1/n_b)).
A design (tasks T, successes k per cell) is simulated many times with the ratio to detect: per task
a true log ratio ~ N(log ratio, sd_task), k log costs per arm around it; the analysis is the one
`analyze` runs (per-task medians, Wilcoxon signed-rank, two-sided). Power = share of rejections.
Cost = T x k successes per arm / success rate x mean cost per counted trial (at the pilot's costs
or re-priced by a rate card).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from orchbench.analysis.columns import TrialColumns
from orchbench.errors import UserError

DEFAULT_SEED = 20261130


@dataclass
class Pilot:
    a: str
    b: str
    tasks: int
    ratio: float  # observed geometric-mean cost ratio a / b
    sd_within: float  # log scale, trial to trial within a cell
    sd_task: float  # log scale, task-to-task spread of the log ratio
    success_rate: dict[str, float]
    cost_per_trial: dict[str, float]  # mean over counted trials


@dataclass
class DesignPower:
    tasks: int
    successes_per_cell: int
    power: float
    usd: float


@dataclass
class Plan:
    pilot: Pilot
    ratio: float  # the ratio to detect
    power: float
    alpha: float
    simulations: int
    seed: int
    designs: list[DesignPower] = field(default_factory=list)  # the smallest T reaching power, per k
    note: str = ""


def estimate_pilot(cols: TrialColumns, a: str, b: str) -> Pilot:
    for arm in (a, b):
        if arm not in cols.arms:
            raise UserError(f"arm {arm!r} is not in the pilot (arms: {', '.join(cols.arms)})")
    ai, bi = cols.arms.index(a), cols.arms.index(b)
    ok = cols.success & (cols.cost > 0)
    logc = np.log(np.where(ok, cols.cost, 1.0))
    diffs, sq, dof, inv_n = [], 0.0, 0, []
    for ti in range(len(cols.tasks)):
        xa = logc[ok & (cols.arm_code == ai) & (cols.task_code == ti)]
        xb = logc[ok & (cols.arm_code == bi) & (cols.task_code == ti)]
        for x in (xa, xb):
            if x.shape[0]:
                sq += float(((x - x.mean()) ** 2).sum())
                dof += x.shape[0] - 1
        if xa.shape[0] and xb.shape[0]:
            diffs.append(xa.mean() - xb.mean())
            inv_n.append(1 / xa.shape[0] + 1 / xb.shape[0])
    if not diffs:
        raise UserError(f"no task where both {a} and {b} succeeded: the pilot says nothing about their ratio")
    sd_within = math.sqrt(sq / dof) if dof else 0.0
    d = np.array(diffs)
    between = float(d.var(ddof=1)) - sd_within ** 2 * float(np.mean(inv_n)) if d.shape[0] > 1 else 0.0
    counted = cols.counted
    rate, cost = {}, {}
    for arm, i in ((a, ai), (b, bi)):
        rows = counted & (cols.arm_code == i)
        rate[arm] = float(cols.success[rows].mean()) if rows.any() else 0.0
        cost[arm] = float(cols.cost[rows].mean()) if rows.any() else 0.0
    return Pilot(a=a, b=b, tasks=len(diffs), ratio=float(np.exp(d.mean())), sd_within=sd_within,
                 sd_task=math.sqrt(max(between, 0.0)), success_rate=rate, cost_per_trial=cost)


def simulate_power(pilot: Pilot, ratio: float, tasks: int, k: int, *, alpha: float = 0.05,
                   simulations: int = 2000, seed: int = DEFAULT_SEED) -> float:
    """Share of simulated studies of `tasks` tasks x `k` successes per cell whose signed-rank p < alpha."""
    rng = np.random.default_rng([seed, tasks, k])
    true = rng.normal(math.log(ratio), pilot.sd_task, size=(simulations, tasks))
    noise_a = rng.normal(0.0, pilot.sd_within, size=(simulations, tasks, k))
    noise_b = rng.normal(0.0, pilot.sd_within, size=(simulations, tasks, k))
    d = true + np.median(noise_a, axis=2) - np.median(noise_b, axis=2)
    # Continuous draws: no ties or zeros, so the exact test applies wherever scipy uses it.
    p = stats.wilcoxon(d, axis=1, method="exact" if tasks <= 50 else "asymptotic").pvalue
    return float(np.mean(p < alpha))


def design_cost(pilot: Pilot, tasks: int, k: int) -> float:
    """Expected spend: k successes per cell need k / success rate counted trials."""
    total = 0.0
    for arm in (pilot.a, pilot.b):
        rate = pilot.success_rate[arm]
        total += tasks * (k / rate if rate else math.inf) * pilot.cost_per_trial[arm]
    return total


def plan(pilot: Pilot, *, ratio: float | None = None, power: float = 0.8, alpha: float = 0.05,
         successes: tuple[int, ...] = (1, 3, 5), max_tasks: int = 500, simulations: int = 2000,
         seed: int = DEFAULT_SEED) -> Plan:
    """For each k in `successes`, the smallest number of tasks reaching `power` (bisection on T)."""
    r = ratio if ratio is not None else pilot.ratio
    if r <= 0 or r == 1.0:
        raise UserError(f"--ratio {r}: the ratio to detect must be positive and not 1")
    out = Plan(pilot=pilot, ratio=r, power=power, alpha=alpha, simulations=simulations, seed=seed)
    for k in successes:
        lo, hi = 6, max_tasks  # n < 6: no two-sided exact signed-rank p below 0.05
        if simulate_power(pilot, r, hi, k, alpha=alpha, simulations=simulations, seed=seed) < power:
            out.note += f"k={k}: {power:.0%} power needs more than {max_tasks} tasks. "
            continue
        while lo < hi:
            mid = (lo + hi) // 2
            if simulate_power(pilot, r, mid, k, alpha=alpha, simulations=simulations, seed=seed) >= power:
                hi = mid
            else:
                lo = mid + 1
        got = simulate_power(pilot, r, lo, k, alpha=alpha, simulations=simulations, seed=seed)
        out.designs.append(DesignPower(tasks=lo, successes_per_cell=k, power=got, usd=design_cost(pilot, lo, k)))
    return out
