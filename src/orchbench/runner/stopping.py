"""`batch --stop-when-decided`: the batch asks analysis (analysis/sequential.py) after each change
whether its comparison of two arms is decided, and stops scheduling when it is; this module only
turns the store's trials into per-task medians and prices what the stop saved."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from orchbench.analysis.sequential import Design, Monitor
from orchbench.errors import UserError
from orchbench.runner.schedule import CellKey, CellState, Policy

ENDED = ("done", "capped")


@dataclass
class StopRule:
    a: str
    b: str
    looks: int = 4
    alpha: float = 0.05
    futility_ratio: float | None = None
    monitor: Monitor | None = None
    saved: dict[str, Any] = field(default_factory=dict)

    def start(self, tasks: list[str], arms: list[str]) -> None:
        for arm in (self.a, self.b):
            if arm not in arms:
                raise UserError(f"--compare: no arm {arm!r} in the experiment (arms: {', '.join(arms)})")
        if len(tasks) < 2:
            raise UserError("--stop-when-decided needs an experiment with several tasks (a suite)")
        first = min(max(2, len(tasks) // self.looks), len(tasks))
        design = Design.planned(len(tasks), self.looks, alpha=self.alpha, first=first,
                                futility_ratio=self.futility_ratio)
        self.monitor = Monitor(self.a, self.b, design)

    def check(self, trials: list[Any], states: dict[CellKey, CellState], policy: Policy, tasks: list[str]) -> bool:
        """True once the comparison is decided (or futile); fills `saved` then."""
        assert self.monitor is not None
        costs: dict[CellKey, list[float]] = {}
        for t in trials:
            if t.status == "success" and t.total_cost > 0:
                costs.setdefault((t.arm, t.task), []).append(t.total_cost)
        medians = []
        for task in tasks:
            ca, cb = states.get((self.a, task)), states.get((self.b, task))
            if ca is None or cb is None or ca.status(policy) not in ENDED or cb.status(policy) not in ENDED:
                continue
            xa, xb = costs.get((self.a, task)), costs.get((self.b, task))
            if xa and xb:
                medians.append((statistics.median(xa), statistics.median(xb)))
        self.monitor.update(medians)
        if not self.monitor.stopped:
            return False
        self.saved = _savings(states, policy, (self.a, self.b))
        return True


def _savings(states: dict[CellKey, CellState], policy: Policy, arms: tuple[str, str]) -> dict[str, Any]:
    """Cells that still wanted trials, priced at each arm's mean cost per counted trial so far."""
    out: dict[str, Any] = {"cells": 0, "trials": 0, "usd": 0.0}
    for arm in arms:
        cells = [s for s in states.values() if s.arm == arm]
        attempts = sum(s.attempts for s in cells)
        per_trial = sum(s.cost for s in cells) / attempts if attempts else 0.0
        rate = sum(s.successes for s in cells) / attempts if attempts else 1.0
        for s in cells:
            if s.wants_more(policy):
                need = max(policy.target_successes - s.successes, 0)
                trials = min(round(need / rate) if rate else need, policy.max_attempts - s.attempts)
                out["cells"] += 1
                out["trials"] += trials
                out["usd"] += trials * per_trial
    return out
