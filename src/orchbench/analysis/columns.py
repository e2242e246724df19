"""Trials as numpy columns: the one shape every statistic, table and plot reads.

Analysing 100,000 trials must cost little more than parsing them, so the statistics never touch
one pydantic object per trial: records from the store and lines of paper-format JSONL are both
turned into these columns once, and everything downstream works on arrays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from orchbench.records import COUNTED_STATUSES, FINAL_STATUSES, Call, Role, Trial, lead_role

if TYPE_CHECKING:
    from orchbench.pricing import RateCard

# Order of the usage columns (the order of `records.Usage` fields).
USAGE_FIELDS: tuple[str, ...] = ("input", "output", "cache_write", "cache_read")
STATUSES: tuple[str, ...] = ("success", "failure", "blocked", "infra_error", "running", "interrupted")
# The columns' roles: the lead model ("orchestrator": a solo agent or an orchestrator) and the executor.
ROLES = ("orchestrator", "executor")
_STATUS_CODE = {s: i for i, s in enumerate(STATUSES)}
SUCCESS = _STATUS_CODE["success"]
COUNTED_CODES = np.array(sorted(_STATUS_CODE[s] for s in COUNTED_STATUSES))
INFRA = _STATUS_CODE["infra_error"]


def status_code(status: str) -> int:
    return _STATUS_CODE[status]


@dataclass
class TrialColumns:
    """One row per trial. Strings are stored once (`arms`, `tasks`) and referenced by code."""

    arms: list[str]
    tasks: list[str]
    arm_code: np.ndarray  # int32, index into `arms`
    task_code: np.ndarray  # int32, index into `tasks`
    status: np.ndarray  # int8, index into STATUSES
    wall: np.ndarray  # float64 seconds
    iterations: np.ndarray  # float64 (medians of ints can be halves)
    cost: np.ndarray  # float64 total dollars
    # role -> (n, 4) int64 usage in USAGE_FIELDS order; role -> (n,) float64 dollars; role -> model ids
    usage: dict[str, np.ndarray] = field(default_factory=dict)
    role_cost: dict[str, np.ndarray] = field(default_factory=dict)
    models: dict[str, np.ndarray] = field(default_factory=dict)  # object arrays, None where absent
    # bool: the agent answered BLOCKED (a flag beside the status); None = only the legacy status says so
    blocked_flag: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.status.shape[0])

    @property
    def success(self) -> np.ndarray:
        return self.status == SUCCESS

    @property
    def blocked(self) -> np.ndarray:
        legacy = self.status == STATUSES.index("blocked")
        return legacy if self.blocked_flag is None else legacy | self.blocked_flag

    @property
    def counted(self) -> np.ndarray:
        return np.isin(self.status, COUNTED_CODES)

    def orchestrator_prompt_side(self) -> np.ndarray:
        """input + cache_read of the orchestrator (or solo model): the paper's token volume."""
        u = self.usage.get("orchestrator")
        if u is None:
            return np.zeros(len(self), dtype=np.int64)
        return u[:, 0] + u[:, 3]

    def orchestrator_cache_read(self) -> np.ndarray:
        u = self.usage.get("orchestrator")
        return np.zeros(len(self), dtype=np.int64) if u is None else u[:, 3].copy()

    def with_costs(self, role_cost: dict[str, np.ndarray]) -> TrialColumns:
        """The same trials with other per-role costs (totals re-summed)."""
        total = np.zeros(len(self), dtype=np.float64)
        for v in role_cost.values():
            total += v
        return TrialColumns(
            arms=self.arms, tasks=self.tasks, arm_code=self.arm_code, task_code=self.task_code,
            status=self.status, wall=self.wall, iterations=self.iterations, cost=total,
            usage=self.usage, role_cost=role_cost, models=self.models, blocked_flag=self.blocked_flag,
        )


class _Interner:
    """Maps strings to dense codes in first-seen order."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.values: list[str] = []

    def __call__(self, s: str) -> int:
        code = self.index.get(s)
        if code is None:
            code = self.index[s] = len(self.values)
            self.values.append(s)
        return code


def build_columns(
    rows: Sequence[tuple[str, str, int, float, float, float]],
    usage: dict[str, list[int]],
    role_cost: dict[str, list[float]],
    models: dict[str, list[str | None]],
    blocked: Sequence[bool] | None = None,
) -> TrialColumns:
    """Columns from plain per-trial tuples (arm, task, status_code, wall, iterations, cost);
    `usage` holds 4 ints per trial, flat, in USAGE_FIELDS order."""
    arm_of, task_of = _Interner(), _Interner()
    n = len(rows)
    arm_code = np.fromiter((arm_of(r[0]) for r in rows), dtype=np.int32, count=n)
    task_code = np.fromiter((task_of(r[1]) for r in rows), dtype=np.int32, count=n)
    status = np.fromiter((r[2] for r in rows), dtype=np.int8, count=n)
    wall = np.fromiter((r[3] for r in rows), dtype=np.float64, count=n)
    iterations = np.fromiter((r[4] for r in rows), dtype=np.float64, count=n)
    cost = np.fromiter((r[5] for r in rows), dtype=np.float64, count=n)
    return TrialColumns(
        arms=arm_of.values, tasks=task_of.values, arm_code=arm_code, task_code=task_code,
        status=status, wall=wall, iterations=iterations, cost=cost,
        usage={r: np.asarray(v, dtype=np.int64).reshape(n, 4) for r, v in usage.items()},
        role_cost={r: np.asarray(v, dtype=np.float64) for r, v in role_cost.items()},
        models={r: np.asarray(v, dtype=object) for r, v in models.items()},
        blocked_flag=None if blocked is None else np.fromiter(blocked, dtype=bool, count=n),
    )


TrialItem = Trial | tuple[Trial, list[Call]]


def from_trials(items: Iterable[TrialItem], *, rate_card: RateCard | None = None) -> TrialColumns:
    """Columns from records (e.g. `Store.trials()` or `read_paper_files`).

    With a rate card, each role's cost is recomputed from usage: per call when the trial has calls
    (tiered prices apply per request), else from the trial's per-role usage. Trials that have not
    ended (running, interrupted) are left out: they are neither successes nor failures yet.
    """
    rows: list[tuple[str, str, int, float, float, float]] = []
    usage: dict[str, list[int]] = {r: [] for r in ROLES}
    role_cost: dict[str, list[float]] = {r: [] for r in ROLES}
    models: dict[str, list[str | None]] = {r: [] for r in ROLES}
    blocked: list[bool] = []
    for item in items:
        trial, calls = item if isinstance(item, tuple) else (item, [])
        if trial.status not in FINAL_STATUSES:
            continue
        costs = _role_costs(trial, calls, rate_card)
        for r in ROLES:
            src: Role = lead_role(trial.usage) if r == "orchestrator" else "executor"  # a solo agent leads too
            u = trial.usage.get(src)
            usage[r].extend((u.input, u.output, u.cache_write, u.cache_read) if u else (0, 0, 0, 0))
            role_cost[r].append(costs.get(src, 0.0))
            models[r].append(trial.models.get(src))
        total = sum(costs.values()) if rate_card is not None else trial.total_cost
        rows.append((trial.arm, trial.task, _STATUS_CODE[trial.status], trial.wall_s,
                     float(trial.iterations), total))
        blocked.append(trial.blocked)
    return build_columns(rows, usage, role_cost, models, blocked)


def _role_costs(trial: Trial, calls: list[Call], rate_card: RateCard | None) -> dict[str, float]:
    if rate_card is None:
        return {str(r): c for r, c in trial.cost.items()}
    if calls:
        from orchbench.pricing import repricing_model

        out: dict[str, float] = {}
        for c in calls:
            out[c.role] = out.get(c.role, 0.0) + rate_card.cost(repricing_model(rate_card, c), c.usage)
        return out
    out = {}
    for role, u in trial.usage.items():
        model = trial.models.get(role)
        if model is None:
            from orchbench.errors import NotRepriceable

            raise NotRepriceable(f"trial {trial.id}: usage for role {role} but no model recorded; "
                                 "cannot re-price it")
        out[role] = rate_card.cost(model, u)
    return out


def reprice(cols: TrialColumns, rate_card: RateCard) -> TrialColumns:
    """Per-role costs recomputed from per-role usage (columns carry no calls)."""
    from orchbench.records import Usage

    cache: dict[tuple[Any, ...], float] = {}
    new: dict[str, np.ndarray] = {}
    for role, u in cols.usage.items():
        models = cols.models.get(role)
        out = np.zeros(len(cols), dtype=np.float64)
        if models is not None:
            for i in np.flatnonzero(models != None):
                key = (models[i], *u[i].tolist())
                price = cache.get(key)
                if price is None:
                    usage = Usage(**dict(zip(USAGE_FIELDS, key[1:])))
                    price = cache[key] = rate_card.cost(str(models[i]), usage)
                out[i] = price
        new[role] = out
    return cols.with_costs(new)
