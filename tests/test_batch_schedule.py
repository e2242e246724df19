"""Pure scheduling logic: per-cell counts, slots, stopping rules, budget."""

from __future__ import annotations

import itertools

import pytest

from orchbench.records import Trial
from orchbench.runner.schedule import (
    InFlight,
    Policy,
    budget_allows,
    cell_states,
    committed_spend,
    finished,
    next_launches,
    over_budget,
    stale_running,
)

_ids = itertools.count()


def tr(arm: str, task: str, attempt: int, status: str, cost: float = 0.0) -> Trial:
    return Trial(id=f"t{next(_ids)}", arm=arm, task=task, attempt=attempt, status=status, total_cost=cost)


CELLS = [("A", "T1"), ("A", "T2"), ("B", "T1")]


def test_counts_per_cell() -> None:
    trials = [
        tr("A", "T1", 0, "success", 1.0),
        tr("A", "T1", 1, "failure", 2.0),
        tr("A", "T1", 2, "blocked", 0.5),
        tr("A", "T1", 3, "infra_error", 0.1),
        tr("A", "T1", 3, "interrupted", 0.2),
        tr("A", "T1", 9, "running"),  # left behind: not counted, holds no slot
        tr("B", "T1", 0, "success", 3.0),
        tr("Z", "T9", 0, "success", 100.0),  # a cell outside the experiment is ignored
    ]
    st = cell_states(trials, CELLS)
    a = st[("A", "T1")]
    assert (a.successes, a.attempts, a.infra_errors, a.interrupted, a.running) == (1, 3, 1, 1, 0)
    assert a.cost == pytest.approx(3.8)
    assert a.next_attempt == 3  # the infra error and the interruption freed slot 3
    assert a.max_trial_cost == 2.0
    assert st[("A", "T2")].attempts == 0 and st[("A", "T2")].next_attempt == 0
    assert st[("B", "T1")].successes == 1
    assert set(st) == set(CELLS)


def test_in_flight_holds_slots_and_adds_live_cost() -> None:
    trials = [tr("A", "T1", 0, "failure", 1.0)]
    st = cell_states(trials, CELLS, [InFlight("x", "A", "T1", 1, live_cost=0.25)])
    a = st[("A", "T1")]
    assert a.running == 1 and a.next_attempt == 2 and a.cost == pytest.approx(1.25)


def test_stale_running_excludes_in_flight() -> None:
    trials = [tr("A", "T1", 0, "running"), tr("A", "T1", 1, "running"), tr("A", "T1", 2, "success")]
    stale = stale_running(trials, in_flight_ids=[trials[1].id])
    assert [t.id for t in stale] == [trials[0].id]


def test_launches_never_exceed_needed_successes_or_cap() -> None:
    pol = Policy(target_successes=3, max_attempts=6)
    st = cell_states([], [("A", "T1")])
    assert next_launches(st, [], pol, free_workers=8) == [("A", "T1", 0), ("A", "T1", 1), ("A", "T1", 2)]
    # two failures and one success: needs 2 more, 3 attempts left
    trials = [tr("A", "T1", 0, "failure"), tr("A", "T1", 1, "success"), tr("A", "T1", 2, "failure")]
    st = cell_states(trials, [("A", "T1")])
    assert next_launches(st, [], pol, 8) == [("A", "T1", 3), ("A", "T1", 4)]
    # five counted, one success: only one attempt left even though two successes are needed
    trials = [tr("A", "T1", i, "failure") for i in range(4)] + [tr("A", "T1", 4, "success")]
    st = cell_states(trials, [("A", "T1")])
    assert next_launches(st, [], pol, 8) == [("A", "T1", 5)]
    # launches do not mutate the caller's states
    assert st[("A", "T1")].running == 0 and st[("A", "T1")].next_attempt == 5


def test_round_robin_across_cells_and_worker_limit() -> None:
    pol = Policy(target_successes=2, max_attempts=4)
    st = cell_states([], CELLS)
    got = next_launches(st, [], pol, free_workers=4)
    assert got == [("A", "T1", 0), ("A", "T2", 0), ("B", "T1", 0), ("A", "T1", 1)]
    assert next_launches(st, [], pol, free_workers=0) == []


def test_done_cell_gets_nothing_and_finished() -> None:
    pol = Policy(target_successes=1, max_attempts=2)
    trials = [tr("A", "T1", 0, "success"), tr("A", "T2", 0, "failure"), tr("A", "T2", 1, "failure")]
    st = cell_states(trials, [("A", "T1"), ("A", "T2")])
    assert next_launches(st, [], pol, 4) == []
    assert st[("A", "T1")].status(pol) == "done" and st[("A", "T2")].status(pol) == "capped"
    assert finished(st, pol)
    st = cell_states(trials, [("A", "T1"), ("A", "T2")], [InFlight("x", "A", "T2", 2)])
    assert not finished(st, pol)


def test_infra_errors_retried_up_to_bound_and_not_counted() -> None:
    pol = Policy(target_successes=1, max_attempts=1, infra_retries=2)
    trials = [tr("A", "T1", 0, "infra_error"), tr("A", "T1", 0, "infra_error")]
    st = cell_states(trials, [("A", "T1")])
    assert st[("A", "T1")].attempts == 0
    assert next_launches(st, [], pol, 4) == [("A", "T1", 0)]  # third try of slot 0 is allowed
    trials.append(tr("A", "T1", 0, "infra_error"))
    st = cell_states(trials, [("A", "T1")])
    assert next_launches(st, [], pol, 4) == []
    assert st[("A", "T1")].status(pol) == "given up"
    assert finished(st, pol)


def test_interrupted_trial_reruns_same_slot() -> None:
    pol = Policy(target_successes=2, max_attempts=3)
    trials = [tr("A", "T1", 0, "success"), tr("A", "T1", 1, "interrupted")]
    st = cell_states(trials, [("A", "T1")])
    assert next_launches(st, [], pol, 4) == [("A", "T1", 1)]


def test_budget_stops_scheduling() -> None:
    pol = Policy(target_successes=5, max_attempts=10, max_usd=3.0)
    trials = [tr("A", "T1", 0, "failure", 1.0)]
    st = cell_states(trials, [("A", "T1")])
    # spent 1.0; each trial may cost 1.0: room for two more (1 + 1 + 1 = 3.0 <= 3.0)
    assert next_launches(st, [], pol, 8) == [("A", "T1", 1), ("A", "T1", 2)]
    fl = [InFlight("x", "A", "T1", 1, live_cost=0.4)]
    st = cell_states(trials, [("A", "T1")], fl)
    # spent 1.4, worst case of the running one 1.0 in total -> committed 2.0
    assert committed_spend(st, fl) == pytest.approx(2.0)
    assert budget_allows(st, fl, ("A", "T1"), pol)
    fl2 = fl + [InFlight("y", "A", "T1", 2)]
    st = cell_states(trials, [("A", "T1")], fl2)
    assert not budget_allows(st, fl2, ("A", "T1"), pol)
    assert not over_budget(st, fl2, pol)
    # a running trial that already spent more than the estimate counts at its live cost
    fl3 = [InFlight("x", "A", "T1", 1, live_cost=2.5)]
    st = cell_states(trials, [("A", "T1")], fl3)
    assert over_budget(st, fl3, pol) and next_launches(st, fl3, pol, 8) == []


def test_budget_without_estimate_runs_one_trial_per_arm_first() -> None:
    pol = Policy(target_successes=3, max_attempts=6, max_usd=10.0)
    st = cell_states([], [("A", "T1"), ("A", "T2"), ("B", "T1")])
    assert next_launches(st, [], pol, 8) == [("A", "T1", 0), ("B", "T1", 0)]
    # the estimate comes from the arm's other cells once one has finished
    # (spent 4 + 4 + 4 = 12 <= 12: room for two trials of the A arm)
    pol = Policy(target_successes=3, max_attempts=6, max_usd=12.0)
    st = cell_states([tr("A", "T1", 0, "success", 4.0)], [("A", "T1"), ("A", "T2")])
    assert next_launches(st, [], pol, 8) == [("A", "T1", 1), ("A", "T2", 0)]


def test_zero_budget_allows_only_free_trials() -> None:
    pol = Policy(target_successes=2, max_attempts=2, max_usd=0.0, free_arms=frozenset({"Q"}))
    # A has shown it costs nothing; B's cost is unknown (not run); Q is free by its rate card
    st = cell_states([tr("A", "T1", 0, "success", 0.0)], [("A", "T1"), ("B", "T1"), ("Q", "T1")])
    assert next_launches(st, [], pol, 8) == [("A", "T1", 1), ("Q", "T1", 0), ("Q", "T1", 1)]
    st = cell_states([tr("A", "T1", 0, "success", 0.01)], [("A", "T1")])
    assert next_launches(st, [], pol, 8) == []


def test_unknown_cost_needs_money_left() -> None:
    pol = Policy(target_successes=1, max_attempts=1, max_usd=5.0)
    st = cell_states([tr("A", "T1", 0, "success", 5.0)], [("A", "T1"), ("B", "T1")])
    assert next_launches(st, [], pol, 8) == []  # $5 of $5 spent: B's first trial would be blind


def test_after_an_infra_error_one_trial_at_a_time() -> None:
    pol = Policy(target_successes=3, max_attempts=6, infra_retries=3)
    trials = [tr("A", "T1", 0, "infra_error")]
    st = cell_states(trials, [("A", "T1")])
    assert next_launches(st, [], pol, 4) == [("A", "T1", 0)]
    st = cell_states(trials, [("A", "T1")], [InFlight("x", "A", "T1", 0)])
    assert next_launches(st, [InFlight("x", "A", "T1", 0)], pol, 4) == []


def test_infra_errors_do_not_set_a_cost_estimate() -> None:
    pol = Policy(target_successes=3, max_attempts=6, max_usd=10.0)
    st = cell_states([tr("A", "T1", 0, "infra_error", 0.0)], [("A", "T1"), ("A", "T2")])
    assert st[("A", "T1")].max_trial_cost is None
    # still no estimate: one blind trial for arm A, not six "free" ones
    assert next_launches(st, [], pol, 8) == [("A", "T1", 0)]
    st = cell_states([tr("A", "T1", 1, "interrupted", 2.5), tr("A", "T1", 0, "success", 1.0)], [("A", "T1")])
    assert st[("A", "T1")].max_trial_cost == 2.5  # but a dearer interrupted trial raises it
