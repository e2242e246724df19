"""One trial as a unit of work a backend can ship to a worker, and what the worker runs.

Two ways for records to reach the store, one per backend:
- `run_into_store` (local pool): the worker runs `run_trial` against the shared SQLite store (WAL),
  so every call is visible the moment it completes; the driver only checks the row ended final.
- `run_and_return` (Ray): the worker runs `run_trial` against a private temporary store on its own
  node and returns the trial with its calls; the driver writes both in one transaction. Remote nodes
  then never need the driver's filesystem, and a trial is either wholly in the store or absent.
"""

from __future__ import annotations

import ctypes
import functools
import os
import select
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchbench.records import Call, Trial

if TYPE_CHECKING:
    from orchbench.arms import Arm
    from orchbench.tasks.spec import Task

# (trial, calls): calls is None when the worker already wrote the trial to the shared store.
JobResult = tuple[Trial, "list[Call] | None"]


@dataclass(frozen=True)
class TrialJob:
    trial_id: str
    experiment: str
    arm: Arm  # the cell's turn cap applied
    task: Task
    attempt: int
    db: str | None = None  # the shared store (local backend); None: return the records
    unsafe_no_sandbox: bool = False
    rate_card: str | None = None  # the card's spec (name or absolute path): each worker loads it once
    deadline_s: float | None = None  # the trial's wall-clock deadline (None: run_trial's default)
    # The variables the trial reads from the driver's environment (its models' keys, OLLAMA_HOST):
    # a worker's own environment may be older (forked from a forkserver started before they were set)
    # or another machine's (Ray).
    env: dict[str, str] | None = None
    model_factory: Callable[..., Any] | None = None  # picklable (module-level); tests inject scripted models
    trial_fn: Callable[[TrialJob], JobResult] | None = None  # replaces run_trial (scheduling tests only)

    @property
    def arm_name(self) -> str:
        return str(self.arm.name)

    @property
    def task_name(self) -> str:
        return str(self.task.name)


@functools.lru_cache(maxsize=8)
def _rate_card(spec: str | None) -> Any:
    from orchbench.pricing import load_rate_card

    return load_rate_card(spec)


def _run_trial(job: TrialJob, store: Any) -> Trial:
    from orchbench.runner.limits import DEFAULT_DEADLINE_S
    from orchbench.runner.trial import run_trial

    return run_trial(
        job.task,
        job.arm,
        store=store,
        experiment=job.experiment,
        attempt=job.attempt,
        unsafe_no_sandbox=job.unsafe_no_sandbox,
        model_factory=job.model_factory,
        trial_id=job.trial_id,
        rate_card=_rate_card(job.rate_card),
        deadline_s=job.deadline_s if job.deadline_s is not None else DEFAULT_DEADLINE_S,
        env={**os.environ, **job.env} if job.env else None,
    )


def trial_env(arm: Arm) -> dict[str, str]:
    """What of this process's environment a trial of `arm` reads: its models' key variables, OLLAMA_HOST."""
    from orchbench.models.factory import key_env

    names = {key_env(cfg) for _, cfg in arm.models()} | {"OLLAMA_HOST"}
    return {n: os.environ[n] for n in sorted(n for n in names if n) if n in os.environ}


def run_into_store(job: TrialJob) -> JobResult:
    if job.trial_fn is not None:
        return job.trial_fn(job)
    from orchbench.store import Store

    assert job.db is not None
    with Store(job.db) as store:
        return _run_trial(job, store), None


def run_and_return(job: TrialJob) -> JobResult:
    if job.trial_fn is not None:
        trial, calls = job.trial_fn(job)
        return trial, calls or []
    from orchbench.store import Store

    with tempfile.TemporaryDirectory(prefix="orchbench-trial-") as tmp, Store(Path(tmp) / "trial.db") as store:
        _run_trial(job, store)
        stored = store.trial(job.trial_id)
        if stored is None:
            raise RuntimeError(f"run_trial did not record trial {job.trial_id}")
        return stored, store.calls(job.trial_id)


_PR_SET_PDEATHSIG = 1


def init_local_worker(parent_pid: int) -> None:
    """Process-pool worker start-up: die with the batch, leave Ctrl-C to the driver.

    A worker that outlived a SIGKILLed batch would finish a trial the restarted batch has already
    marked interrupted and run again: a duplicate. Workers come from a forkserver, so the kernel's
    parent-death signal would watch the forkserver, which itself lives as long as any worker does;
    hence a thread that waits on the batch process itself (a pidfd) and then kills the worker's
    process group: the worker and every command it started.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Out of the terminal's process group: Ctrl-C reaches the driver only, never a judge or agent
    # command mid-run (the driver decides whether running trials finish or are killed).
    os.setpgrp()
    if sys.platform.startswith("linux") and os.getppid() == parent_pid:  # spawn: the batch is the parent
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except OSError:
            pass
    threading.Thread(target=_die_with, args=(parent_pid,), daemon=True, name="orchbench-die-with-batch").start()


def _die_with(pid: int) -> None:
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # no pidfd (old kernel, not Linux): poll
        fd = None
    if fd is not None:
        select.select([fd], [], [])
    else:
        while _alive(pid):
            time.sleep(0.5)
    os.killpg(os.getpgrp(), signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
