"""Run an experiment to its target: schedule trials over a backend, record them, survive crashes.

The driver loop re-reads the experiment's trials from the store, asks `schedule` what to start,
submits those trials to the backend and waits for the next one to end. Everything it decides comes
from the store, so a batch killed at any point resumes by running the same loop again: rows a dead
batch left `running` are marked interrupted first (their slot runs again), finished ones are never
touched. A lock file per (store, experiment) keeps two live batches from stealing each other's rows.

Ctrl-C once: start nothing more, let the running trials finish. Twice: kill them, mark them
interrupted. Either way every row ends final or interrupted, never half-written.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Self

from orchbench.errors import BadArgument
from orchbench.records import Experiment, new_trial_id
from orchbench.runner.experiment import ResolvedExperiment, arm_for_cell
from orchbench.runner.jobs import JobResult, TrialJob, trial_env
from orchbench.runner.recording import batch_lock, mark_interrupted, record_failure, record_outcome
from orchbench.runner.schedule import (
    CellKey,
    CellState,
    InFlight,
    Policy,
    cell_states,
    next_launches,
    over_budget,
    stale_running,
)
from orchbench.runner.stopping import StopRule

TICK_S = 0.5  # how often the display refreshes and live costs are re-read while nothing ends


class Backend(Protocol):
    name: str
    workers_write: bool

    def start(self) -> None: ...
    def submit(self, job: TrialJob) -> Future: ...
    def restart(self) -> None: ...
    def shutdown(self, *, cancel: bool = False) -> None: ...


@dataclass
class Snapshot:
    """What the progress display shows, after every change."""

    experiment: str
    policy: Policy
    states: dict[CellKey, CellState]
    stopping: str | None = None  # why nothing new starts: "budget", "interrupt", ...
    events: list[str] = field(default_factory=list)


@dataclass
class BatchReport:
    experiment: str
    states: dict[CellKey, CellState]
    policy: Policy
    started: int = 0  # trials this batch started
    recovered: list[str] = field(default_factory=list)  # rows found `running` and marked interrupted
    stopped_by: str = "done"  # "done" | "budget" | "interrupt" | "decided" | "futile"
    decision: str | None = None  # --stop-when-decided: the comparison's last look, in words
    saved: dict[str, Any] = field(default_factory=dict)  # what stopping early did not spend


def policy_of(exp: ResolvedExperiment) -> Policy:
    s = exp.spec
    free = frozenset(name for name, arm in exp.arms.items() if _is_free(arm, exp.rate_card))
    return Policy(s.target_successes, s.max_attempts, s.infra_retries, s.max_usd, free)


def _is_free(arm: Any, rate_card: Any) -> bool:
    """Every model of the arm is scripted or priced at $0 (local models): no budget estimate needed."""
    from orchbench.records import Usage

    probe = Usage(input=1_000_000, output=1_000_000, cache_write=1_000_000, cache_read=1_000_000)
    for _, cfg in arm.models():
        if cfg.provider == "scripted":
            continue
        if rate_card is None or not rate_card.knows(cfg.model) or rate_card.cost(cfg.model, probe) > 0:
            return False
    return True


def experiment_record(exp: ResolvedExperiment) -> Experiment:
    """Stored with the trials: `orchbench status` reads the cells and the policy back from it."""
    spec = {
        "experiment": exp.spec.model_dump(mode="json"),
        "source": exp.source,
        "cells": [list(c) for c in exp.cells],
    }
    return Experiment(id=exp.id, name=exp.spec.name or exp.id, spec=spec)


class _Interrupts:
    """Signals in the main thread. SIGINT: the first asks for a graceful stop, the second for a hard
    one. SIGTERM (a service manager, `kill`): a hard stop at once, so no row is left `running`."""

    def __init__(self) -> None:
        self.count = 0
        self._old: dict[int, Any] = {}

    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.count += 2 if signum == signal.SIGTERM else 1

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def check_cells_ready(exp: ResolvedExperiment, *, check_keys: bool = True) -> None:
    """Sandbox, API keys, prices of every cell: a mistake fails with one line before anything runs."""
    from orchbench.runner.trial import check_ready

    for arm, task in exp.cells:
        check_ready(exp.tasks[task], arm_for_cell(exp, arm, task), unsafe_no_sandbox=exp.spec.unsafe_no_sandbox,
                    rate_card=exp.rate_card, check_key=check_keys)


def check_backend(kind: str) -> None:
    if kind not in ("local", "ray"):
        raise BadArgument("backend", f"{kind!r}: expected local or ray")


def make_backend(kind: str, workers: int, address: str | None = None) -> Backend:
    check_backend(kind)
    if kind == "local":
        from orchbench.runner.local_backend import LocalBackend

        return LocalBackend(workers)
    from orchbench.runner.ray_backend import RayBackend, check_reachable

    check_reachable(address)
    assert address is not None
    return RayBackend(address, workers)


def run_batch(
    exp: ResolvedExperiment,
    db: str | Path,
    *,
    backend: Backend | None = None,
    workers: int | None = None,
    model_factory: Callable[..., Any] | None = None,
    trial_fn: Callable[[TrialJob], JobResult] | None = None,
    on_update: Callable[[Snapshot], None] | None = None,
    stop: threading.Event | None = None,
    stop_rule: StopRule | None = None,
) -> BatchReport:
    """Run `exp` until every cell meets its target, hits its cap, or the budget says stop (or, with a
    stop rule, until its comparison is decided)."""
    from orchbench.store import Store

    n_workers = workers or exp.spec.workers
    if stop_rule is not None:
        stop_rule.start(list(exp.tasks), list(exp.arms))
        # Task by task, so tasks finish (and looks come) early rather than all at the end.
        exp.cells = [(a, t) for t in exp.tasks for a in exp.arms]
    backend = backend or make_backend("local", n_workers)
    backend.start()  # workers start up while the cells are checked and the store opened
    try:
        if trial_fn is None:
            check_cells_ready(exp, check_keys=model_factory is None)
        with batch_lock(db, exp.id), Store(db) as store, _Interrupts() as sigint:
            driver = _Driver(exp, str(db), store, backend, n_workers, model_factory, trial_fn)
            driver.stop_rule = stop_rule
            return driver.run(sigint, stop, on_update)
    except BaseException:
        backend.shutdown(cancel=True)
        raise


class _Driver:
    """One batch's loop: what runs where, and getting every ended trial into the store."""

    def __init__(self, exp: ResolvedExperiment, db: str, store: Any, backend: Backend, n_workers: int,
                 model_factory: Callable[..., Any] | None, trial_fn: Callable[[TrialJob], JobResult] | None) -> None:
        self.exp, self.db, self.store, self.backend, self.n_workers = exp, db, store, backend, n_workers
        self.model_factory, self.trial_fn = model_factory, trial_fn
        self.policy = policy_of(exp)
        self.report = BatchReport(experiment=exp.id, states={}, policy=self.policy)
        self.flying: dict[Future, TrialJob] = {}
        self.stopping: str | None = None
        self.events: list[str] = []
        self.stop_rule: StopRule | None = None

    def run(self, sigint: _Interrupts, stop: threading.Event | None,
            on_update: Callable[[Snapshot], None] | None) -> BatchReport:
        exp, store = self.exp, self.store
        store.add_experiment(experiment_record(exp))
        stale = stale_running(store.trials(experiment=exp.id))
        self.report.recovered = mark_interrupted(store, stale, "batch stopped while the trial ran; re-run")
        if stale:
            self.events.append(f"recovered {len(stale)} interrupted trial(s): their attempts run again")
        try:
            while True:
                if self.stopping is None and (sigint.count or (stop is not None and stop.is_set())):
                    self.stopping = "interrupt"
                if sigint.count >= 2:
                    break
                states = self._schedule()
                if on_update is not None:
                    on_update(Snapshot(exp.id, self.policy, states, self.stopping, self.events))
                    self.events = []
                if not self.flying:
                    break
                self._collect()
        finally:
            cancelled = list(self.flying.values())
            self.backend.shutdown(cancel=bool(cancelled))
            for job in cancelled:
                record_failure(store, job, "interrupted", "batch stopped while the trial ran; re-run")
        self.report.states = cell_states(store.trials(experiment=exp.id), exp.cells)
        self.report.stopped_by = self.stopping or "done"
        if on_update is not None:
            on_update(Snapshot(exp.id, self.policy, self.report.states, self.stopping, self.events))
        return self.report

    def _in_flight(self) -> list[InFlight]:
        """What runs, with what its stored calls cost so far (local workers store calls as they go)."""
        flying = [InFlight(j.trial_id, j.arm_name, j.task_name, j.attempt) for j in self.flying.values()]
        if not self.backend.workers_write or not flying:
            return flying
        calls = self.store.calls_by_trial([f.trial_id for f in flying])
        return [InFlight(f.trial_id, f.arm, f.task, f.attempt, sum(c.cost_usd for c in calls.get(f.trial_id, [])))
                for f in flying]

    def _schedule(self) -> dict[CellKey, CellState]:
        """Start what the policy allows; decide whether the batch is stopping. Returns the cells' state."""
        exp, policy = self.exp, self.policy
        trials = self.store.trials(experiment=exp.id)
        live = self._in_flight()
        states = cell_states(trials, exp.cells, live)
        # Money spent on cells no longer in the experiment file still counts against the budget.
        elsewhere = sum(t.total_cost for t in trials if (t.arm, t.task) not in states)
        if self.stopping is None and over_budget(states, live, policy, elsewhere):
            self.stopping = "budget"
        if self.stopping is None and self.stop_rule is not None:
            self._ask_analysis(trials, states)
        launches = []
        if self.stopping is None:
            launches = next_launches(states, live, policy, self.n_workers - len(self.flying), elsewhere)
        for arm, task, attempt in launches:
            job = self._job(arm, task, attempt)
            self.flying[self.backend.submit(job)] = job
            live.append(InFlight(job.trial_id, arm, task, attempt))
            self.report.started += 1
        if launches:
            states = cell_states(trials, exp.cells, live)
        elif not self.flying and self.stopping is None and any(s.wants_more(policy) for s in states.values()):
            self.stopping = "budget"  # cells want trials but none may start: only money stops them
        return states

    def _ask_analysis(self, trials: list[Any], states: dict[CellKey, CellState]) -> None:
        rule = self.stop_rule
        assert rule is not None and rule.monitor is not None
        before = rule.monitor.last
        tasks = list(self.exp.tasks)
        if rule.check(trials, states, self.policy, tasks):
            self.stopping = rule.monitor.last.decision if rule.monitor.last else "decided"
            self.report.saved = rule.saved
        if rule.monitor.last is not before:
            self.report.decision = rule.monitor.describe()
            self.events.append(self.report.decision)

    def _job(self, arm: str, task: str, attempt: int) -> TrialJob:
        exp = self.exp
        return TrialJob(
            trial_id=new_trial_id(exp.id, arm, task, attempt),
            experiment=exp.id,
            arm=arm_for_cell(exp, arm, task),
            task=exp.tasks[task],
            attempt=attempt,
            db=self.db if self.backend.workers_write else None,
            unsafe_no_sandbox=exp.spec.unsafe_no_sandbox,
            rate_card=exp.rate_card_spec,
            deadline_s=exp.spec.trial_deadline_s,
            env=trial_env(arm_for_cell(exp, arm, task)),
            model_factory=self.model_factory,
            trial_fn=self.trial_fn,
        )

    def _collect(self) -> None:
        """Wait for the next trial to end (or a tick, to refresh the display) and record what ended."""
        done, _ = wait(list(self.flying), timeout=TICK_S, return_when=FIRST_COMPLETED)
        broken = False
        for fut in done:
            broken |= record_outcome(self.store, fut, self.flying.pop(fut), self.events)
        if broken:
            # A dead worker breaks the whole pool, and with it every trial it ran.
            for fut, job in list(self.flying.items()):
                record_failure(self.store, job, "infra_error", "the worker pool broke while the trial ran")
                del self.flying[fut]
            self.backend.restart()
