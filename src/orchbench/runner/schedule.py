"""What to run next, decided from the store's trials alone: pure functions, no I/O.

Attempt indices are slots. A cell's counted trials (success / failure / blocked) and its trials in
flight hold slots 0, 1, 2, ...; an infra_error or interrupted trial frees its slot, so the retry runs
under the same attempt index (as the paper's own re-run of its credit-exhausted A/T1 trial 0 did).

A cell never has more trials in flight than the successes it still needs, and never more counted
attempts plus trials in flight than its cap. If each slot's outcome is fixed (a scripted model), the
set of slots that run is therefore the same as in a one-at-a-time run, whatever the concurrency and
however often the batch is killed and resumed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from orchbench.records import COUNTED_STATUSES, Trial

CellKey = tuple[str, str]  # (arm, task)


@dataclass(frozen=True)
class Policy:
    target_successes: int = 3
    max_attempts: int = 6
    infra_retries: int = 3  # infra_error trials tolerated per cell; one more and the cell gives up
    max_usd: float | None = None
    free_arms: frozenset[str] = frozenset()  # arms whose every model costs $0 (local models, the oracle)


@dataclass(frozen=True)
class InFlight:
    trial_id: str
    arm: str
    task: str
    attempt: int
    live_cost: float = 0.0  # dollars its calls have cost so far (0 when the backend cannot see them)


@dataclass
class CellState:
    arm: str
    task: str
    successes: int = 0
    attempts: int = 0  # counted trials: success, failure, blocked
    infra_errors: int = 0
    interrupted: int = 0
    running: int = 0  # in flight in this batch
    cost: float = 0.0  # every trial's dollars, counted or not, plus live cost of those in flight
    slots: set[int] = field(default_factory=set)
    max_trial_cost: float | None = None  # dearest trial that ran to its end: the worst-case estimate

    @property
    def key(self) -> CellKey:
        return (self.arm, self.task)

    @property
    def next_attempt(self) -> int:
        i = 0
        while i in self.slots:
            i += 1
        return i

    def status(self, policy: Policy) -> str:
        if self.successes >= policy.target_successes:
            return "done"
        if self.infra_errors > policy.infra_retries:
            return "given up"
        if self.attempts >= policy.max_attempts:
            return "capped"
        if self.running:
            return "running"
        return "pending"

    def wants_more(self, policy: Policy) -> bool:
        """True if launching one more trial here keeps every rule of the policy."""
        if self.infra_errors > policy.infra_retries:
            return False
        if self.infra_errors and self.running:
            return False  # after an infra error, probe one trial at a time rather than hammer a failing provider
        if self.successes + self.running >= policy.target_successes:
            return False
        return self.attempts + self.running < policy.max_attempts


def cell_states(
    trials: Sequence[Trial], cells: Sequence[CellKey], in_flight: Iterable[InFlight] = ()
) -> dict[CellKey, CellState]:
    """Per-cell counts from stored trials plus what this batch has in flight.

    Stored `running` rows are ignored here: either they are in flight (and listed in `in_flight`)
    or a dead batch left them behind (see `stale_running`).
    """
    states = {key: CellState(*key) for key in cells}
    for t in trials:
        st = states.get((t.arm, t.task))
        if st is None:
            continue
        st.cost += t.total_cost
        if t.status in COUNTED_STATUSES:
            st.attempts += 1
            st.slots.add(t.attempt)
            if t.status == "success":
                st.successes += 1
        elif t.status == "infra_error":
            st.infra_errors += 1
        elif t.status == "interrupted":
            st.interrupted += 1
    # Only a trial that ran to its end says what a trial costs; an infra error or interruption
    # (often $0, or cut short) may raise an estimate but never set one. Counted trials go first.
    for t in sorted(trials, key=lambda t: t.status not in COUNTED_STATUSES):
        st = states.get((t.arm, t.task))
        if st is None or t.status == "running":
            continue
        if t.status in COUNTED_STATUSES or st.max_trial_cost is not None:
            st.max_trial_cost = max(st.max_trial_cost or 0.0, t.total_cost)
    for f in in_flight:
        st = states.get((f.arm, f.task))
        if st is None:
            continue
        st.running += 1
        st.slots.add(f.attempt)
        st.cost += f.live_cost
    return states


def stale_running(trials: Iterable[Trial], in_flight_ids: Iterable[str] = ()) -> list[Trial]:
    """Rows left `running` by a batch that is gone: to be marked interrupted and run again."""
    live = set(in_flight_ids)
    return [t for t in trials if t.status == "running" and t.id not in live]


def cost_estimate(states: dict[CellKey, CellState], key: CellKey) -> float | None:
    """Worst case for one more trial in this cell: its dearest finished trial, else its arm's dearest.

    Never another arm's: a cheap arm's history would let an expensive arm start blind.
    """
    st = states[key]
    if st.max_trial_cost is not None:
        return st.max_trial_cost
    same_arm = [s.max_trial_cost for s in states.values() if s.arm == key[0] and s.max_trial_cost is not None]
    return max(same_arm) if same_arm else None


def committed_spend(
    states: dict[CellKey, CellState], in_flight: Iterable[InFlight], extra_spent: float = 0.0
) -> float:
    """Money spent plus what the trials in flight may still spend (each at its worst-case estimate)."""
    spent = sum(s.cost for s in states.values()) + extra_spent
    for f in in_flight:
        key = (f.arm, f.task)
        if key in states:
            est = cost_estimate(states, key) or 0.0
            spent += max(0.0, est - f.live_cost)
    return spent


def budget_allows(
    states: dict[CellKey, CellState], in_flight: Sequence[InFlight], key: CellKey, policy: Policy,
    extra_spent: float = 0.0,
) -> bool:
    """May one more trial start in this cell without the worst case passing max_usd?

    With no finished trial to estimate from, an arm's first trial runs alone, and only while some
    money is left: it calibrates the estimate instead of N blind trials overshooting the budget
    together. Arms known to be free need no estimate.
    """
    if policy.max_usd is None:
        return True
    committed = committed_spend(states, in_flight, extra_spent)
    est = cost_estimate(states, key)
    if est is None:
        if key[0] in policy.free_arms:
            est = 0.0
        elif any(f.arm == key[0] for f in in_flight) or committed >= policy.max_usd:
            return False  # calibrating already, or no money left for a trial of unknown cost
        else:
            est = 0.0
    return committed + est <= policy.max_usd


def over_budget(
    states: dict[CellKey, CellState], in_flight: Sequence[InFlight], policy: Policy, extra_spent: float = 0.0
) -> bool:
    """Spent plus the worst case of what is running already passes max_usd: schedule nothing more."""
    return policy.max_usd is not None and committed_spend(states, in_flight, extra_spent) > policy.max_usd


def next_launches(
    states: dict[CellKey, CellState],
    in_flight: Sequence[InFlight],
    policy: Policy,
    free_workers: int,
    extra_spent: float = 0.0,
) -> list[tuple[str, str, int]]:
    """(arm, task, attempt) to start now, round-robin across cells so every cell makes progress."""
    launches: list[tuple[str, str, int]] = []
    flying = list(in_flight)
    order = list(states)  # cells in experiment order
    progress = True
    while free_workers > 0 and progress:
        progress = False
        for key in order:
            if free_workers <= 0:
                break
            st = states[key]
            if not st.wants_more(policy) or not budget_allows(states, flying, key, policy, extra_spent):
                continue
            attempt = st.next_attempt
            launches.append((st.arm, st.task, attempt))
            # Count the launch as in flight so the next decision sees it.
            pending = InFlight(trial_id=f"pending-{len(launches)}", arm=st.arm, task=st.task, attempt=attempt)
            flying.append(pending)
            st.running += 1
            st.slots.add(attempt)
            free_workers -= 1
            progress = True
    # Undo the bookkeeping on the caller's states: the launches are reported, not yet started.
    for arm, task, attempt in launches:
        st = states[(arm, task)]
        st.running -= 1
        st.slots.discard(attempt)
    return launches


def finished(states: dict[CellKey, CellState], policy: Policy) -> bool:
    """No cell wants another trial and none is running."""
    return all(not s.running and not s.wants_more(policy) for s in states.values())


def totals(states: dict[CellKey, CellState]) -> dict[str, float]:
    return {
        "successes": sum(s.successes for s in states.values()),
        "attempts": sum(s.attempts for s in states.values()),
        "infra_errors": sum(s.infra_errors for s in states.values()),
        "interrupted": sum(s.interrupted for s in states.values()),
        "running": sum(s.running for s in states.values()),
        "cost": sum(s.cost for s in states.values()),
    }
