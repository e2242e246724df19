"""Per-cell coverage of what the store holds: the view behind `orchbench status`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from orchbench.records import Trial
from orchbench.runner.experiment import ExperimentFile
from orchbench.runner.schedule import CellKey, CellState, InFlight, Policy, cell_states

if TYPE_CHECKING:
    from orchbench.store import Store


@dataclass
class Coverage:
    experiment: str
    policy: Policy
    states: dict[CellKey, CellState]


def _policy_and_cells(spec: dict[str, Any], trials: list[Trial]) -> tuple[Policy, list[CellKey]]:
    """From a batch's stored spec when there is one; else (imports, ad-hoc runs) from the trials."""
    cells: list[CellKey] = [tuple(c) for c in spec.get("cells", []) if len(c) == 2]  # type: ignore[misc]
    policy = Policy()
    try:
        exp = ExperimentFile.model_validate(spec["experiment"])
        policy = Policy(exp.target_successes, exp.max_attempts, exp.infra_retries, exp.max_usd)
    except (KeyError, TypeError, ValidationError):
        pass
    seen = {(t.arm, t.task) for t in trials}
    cells += sorted(seen - set(cells))
    return policy, cells


def coverage(store: Store, experiment: str | None = None) -> list[Coverage]:
    specs = {e.id: e.spec for e in store.experiments()}
    trials = store.trials(experiment=experiment) if experiment else store.trials()
    by_exp: dict[str, list[Trial]] = {}
    for t in trials:
        by_exp.setdefault(t.experiment, []).append(t)
    ids = [experiment] if experiment else sorted(set(by_exp) | set(specs))
    out = []
    for exp_id in ids:
        if exp_id not in by_exp and exp_id not in specs:
            continue
        ts = by_exp.get(exp_id, [])
        policy, cells = _policy_and_cells(specs.get(exp_id, {}), ts)
        # Rows still `running` are either live in a batch or left by a dead one: show them as running.
        flying = [_as_in_flight(t) for t in ts if t.status == "running"]
        out.append(Coverage(exp_id, policy, cell_states(ts, cells, flying)))
    return out


def _as_in_flight(t: Trial) -> InFlight:
    return InFlight(t.id, t.arm, t.task, t.attempt, live_cost=t.total_cost)
