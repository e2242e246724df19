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

import fcntl
import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Self

from orchbench.errors import UserError
from orchbench.records import FINAL_STATUSES, Experiment, Trial, utcnow
from orchbench.runner.experiment import ResolvedExperiment, arm_for_cell
from orchbench.runner.jobs import Outcome, TrialJob
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
    stopped_by: str = "done"  # "done" | "budget" | "interrupt"


def policy_of(exp: ResolvedExperiment) -> Policy:
    s = exp.spec
    return Policy(s.target_successes, s.max_attempts, s.infra_retries, s.max_usd)


def experiment_record(exp: ResolvedExperiment) -> Experiment:
    """Stored with the trials: `orchbench status` reads the cells and the policy back from it."""
    spec = {
        "experiment": exp.spec.model_dump(mode="json"),
        "source": exp.source,
        "cells": [list(c) for c in exp.cells],
    }
    return Experiment(id=exp.id, name=exp.spec.name or exp.id, spec=spec)


@contextmanager
def batch_lock(db: str | Path, experiment: str) -> Iterator[None]:
    """One live batch per (store, experiment); the kernel drops the lock if the holder dies."""
    path = Path(f"{db}.{experiment}.batch-lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise UserError(
                f"another batch (pid {other}) is running experiment {experiment!r} on {db}; "
                "wait for it to end or stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


def mark_interrupted(store: Any, trials: list[Trial], reason: str) -> list[str]:
    ids = []
    for t in trials:
        store.finish_trial(
            t.model_copy(update={"status": "interrupted", "error": reason, "ended_at": t.ended_at or utcnow()})
        )
        ids.append(t.id)
    return ids


def _new_trial_id(experiment: str, arm: str, task: str, attempt: int) -> str:
    return f"{experiment}-{arm}-{task}-{attempt}-{uuid.uuid4().hex[:8]}"


class _Interrupts:
    """SIGINT in the main thread: the first asks for a graceful stop, the second for a hard one."""

    def __init__(self) -> None:
        self.count = 0
        self._old: Any = None

    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.count += 1

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def check_cells_ready(exp: ResolvedExperiment, *, check_keys: bool = True) -> None:
    """Sandbox, API keys, prices of every cell: a mistake fails with one line before anything runs."""
    from orchbench.runner.trial import check_ready

    for arm, task in exp.cells:
        check_ready(exp.tasks[task], arm_for_cell(exp, arm, task), unsafe_no_sandbox=exp.spec.unsafe_no_sandbox,
                    rate_card=exp.rate_card, check_key=check_keys)


def make_backend(kind: str, workers: int, address: str | None = None) -> Backend:
    if kind == "local":
        from orchbench.runner.local_backend import LocalBackend

        return LocalBackend(workers)
    if kind == "ray":
        from orchbench.runner.ray_backend import RayBackend, check_reachable

        check_reachable(address)
        assert address is not None
        return RayBackend(address, workers)
    raise UserError(f"--backend {kind!r}: expected local or ray")


def run_batch(
    exp: ResolvedExperiment,
    db: str | Path,
    *,
    backend: Backend | None = None,
    workers: int | None = None,
    model_factory: Callable[..., Any] | None = None,
    trial_fn: Callable[[TrialJob], Outcome] | None = None,
    on_update: Callable[[Snapshot], None] | None = None,
    stop: threading.Event | None = None,
) -> BatchReport:
    """Run `exp` until every cell meets its target, hits its cap, or the budget says stop."""
    from orchbench.store import Store

    n_workers = workers or exp.spec.workers
    if trial_fn is None:
        check_cells_ready(exp, check_keys=model_factory is None)
    backend = backend or make_backend("local", n_workers)
    policy = policy_of(exp)
    report = BatchReport(experiment=exp.id, states={}, policy=policy)
    with batch_lock(db, exp.id), Store(db) as store, _Interrupts() as sigint:
        store.add_experiment(experiment_record(exp))
        stale = stale_running(store.trials(experiment=exp.id))
        report.recovered = mark_interrupted(store, stale, "batch stopped while the trial ran; re-run")
        flying: dict[Future, tuple[InFlight, TrialJob]] = {}
        stopping: str | None = None
        events: list[str] = [f"recovered {len(stale)} interrupted trial(s)"] if stale else []
        try:
            backend.start()
            while True:
                if stopping is None and (sigint.count or (stop is not None and stop.is_set())):
                    stopping = "interrupt"
                if sigint.count >= 2:
                    break
                trials = store.trials(experiment=exp.id)
                live = _live(store, [f for f, _ in flying.values()], backend)
                states = cell_states(trials, exp.cells, live)
                # Money spent on cells no longer in the experiment file still counts against the budget.
                elsewhere = sum(t.total_cost for t in trials if (t.arm, t.task) not in states)
                if stopping is None and over_budget(states, live, policy, elsewhere):
                    stopping = "budget"
                launches = []
                if stopping is None:
                    launches = next_launches(states, live, policy, n_workers - len(flying), elsewhere)
                for arm, task, attempt in launches:
                    job = TrialJob(
                        trial_id=_new_trial_id(exp.id, arm, task, attempt),
                        experiment=exp.id,
                        arm=arm_for_cell(exp, arm, task),
                        task=exp.tasks[task],
                        attempt=attempt,
                        db=str(db) if backend.workers_write else None,
                        unsafe_no_sandbox=exp.spec.unsafe_no_sandbox,
                        rate_card=exp.rate_card_spec,
                        model_factory=model_factory,
                        trial_fn=trial_fn,
                    )
                    info = InFlight(job.trial_id, arm, task, attempt)
                    flying[backend.submit(job)] = (info, job)
                    live.append(info)
                    report.started += 1
                if launches:
                    states = cell_states(trials, exp.cells, live)
                elif not flying and stopping is None and not _want_any(states, policy):
                    break
                elif not flying and stopping is None:
                    stopping = "budget"  # cells want trials but none may start: only money stops them
                if on_update is not None:
                    on_update(Snapshot(exp.id, policy, states, stopping, events))
                    events = []
                if not flying and not launches:
                    break
                done, _ = wait(list(flying), timeout=TICK_S, return_when=FIRST_COMPLETED)
                broken = False
                for fut in done:
                    info, job = flying.pop(fut)
                    broken |= _record(store, backend, fut, job, events)
                if broken:
                    # A dead worker breaks the whole pool: the others' trials are lost too.
                    for fut, (info, job) in list(flying.items()):
                        _record_failure(store, job, "interrupted", "worker pool broke while the trial ran")
                        flying.pop(fut)
                    backend.restart()
        finally:
            if flying:
                backend.shutdown(cancel=True)
                for info, job in flying.values():
                    _record_failure(store, job, "interrupted", "batch stopped while the trial ran; re-run")
            else:
                backend.shutdown()
        report.states = cell_states(store.trials(experiment=exp.id), exp.cells)
        report.stopped_by = stopping or "done"
        if on_update is not None:
            on_update(Snapshot(exp.id, policy, report.states, stopping, events))
    return report


def _want_any(states: dict[CellKey, CellState], policy: Policy) -> bool:
    return any(s.wants_more(policy) for s in states.values())


def _live(store: Any, flying: list[InFlight], backend: Backend) -> list[InFlight]:
    """In-flight trials with what their stored calls cost so far (local workers store calls as they go)."""
    if not backend.workers_write or not flying:
        return flying
    calls = store.calls_by_trial([f.trial_id for f in flying])
    return [InFlight(f.trial_id, f.arm, f.task, f.attempt, live_cost=sum(c.cost_usd for c in calls.get(f.trial_id, [])))
            for f in flying]


def _record(store: Any, backend: Backend, fut: Future, job: TrialJob, events: list[str]) -> bool:
    """Make sure the ended trial is in the store, final. Returns True if the worker pool broke."""
    try:
        trial, calls = fut.result()
    except BrokenProcessPool:
        _record_failure(store, job, "infra_error", "a worker process died (this trial's or another's): "
                        "the pool stopped every trial it ran")
        events.append(f"{job.arm_name}/{job.task_name}#{job.attempt}: worker died (infra_error)")
        return True
    except Exception as exc:  # noqa: BLE001 - any crash of the harness is infrastructure, not the agent
        _record_failure(store, job, "infra_error", f"{type(exc).__name__}: {exc}")
        events.append(f"{job.arm_name}/{job.task_name}#{job.attempt}: infra_error ({type(exc).__name__})")
        return False
    if calls is not None:
        store.add_trials([(trial, calls)])
    else:
        stored = store.trial(trial.id)
        if stored is None:
            store.add_trials([(trial, [])])
        elif stored.status not in FINAL_STATUSES:
            store.finish_trial(trial)
    events.append(f"{job.arm_name}/{job.task_name}#{job.attempt}: {trial.status} ${trial.total_cost:.4f}")
    return False


def _record_failure(store: Any, job: TrialJob, status: str, reason: str) -> None:
    """A trial whose worker never reported: keep what it stored, end it as `status`, never lose a row."""
    stored = store.trial(job.trial_id)
    if stored is not None and stored.status in FINAL_STATUSES:
        return
    if stored is None:
        now = utcnow()
        row = Trial(
            id=job.trial_id, experiment=job.experiment, arm=job.arm_name, task=job.task_name,
            attempt=job.attempt, status=status, error=reason, started_at=now, ended_at=now,  # type: ignore[arg-type]
        )
        store.add_trials([(row, [])])
    else:
        store.finish_trial(stored.model_copy(update={"status": status, "error": reason, "ended_at": utcnow()}))
