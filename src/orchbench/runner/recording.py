"""Getting every trial of a batch into the store exactly once, whatever happened to its worker.

Also the lock that keeps two live batches off one experiment: rows a batch leaves `running` are
recovered by the next one only if no live batch owns them.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from orchbench.errors import UserError
from orchbench.records import FINAL_STATUSES, Trial, utcnow
from orchbench.runner.jobs import TrialJob

if TYPE_CHECKING:
    from orchbench.store import Store


@contextmanager
def batch_lock(db: str | Path, experiment: str) -> Iterator[None]:
    """One live batch per (store, experiment); the kernel drops the lock if its holder dies."""
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


def mark_interrupted(store: Store, trials: list[Trial], reason: str) -> list[str]:
    """End rows a dead batch left `running`: kept with their calls, never counted, their slot re-run."""
    for t in trials:
        store.finish_trial(
            t.model_copy(update={"status": "interrupted", "error": reason, "ended_at": t.ended_at or utcnow()})
        )
    return [t.id for t in trials]


def record_outcome(store: Store, fut: Future, job: TrialJob, events: list[str]) -> bool:
    """Make sure the ended trial is in the store, final. Returns True if the worker pool broke."""
    label = f"{job.arm_name}/{job.task_name}#{job.attempt}"
    try:
        trial, calls = fut.result()
    except BrokenProcessPool:
        record_failure(store, job, "infra_error", "a worker process died (this trial's or another's): "
                       "the pool stopped every trial it ran")
        events.append(f"{label}: worker died (infra_error)")
        return True
    except Exception as exc:  # noqa: BLE001 - any crash of the harness is infrastructure, not the agent
        record_failure(store, job, "infra_error", f"{type(exc).__name__}: {exc}")
        events.append(f"{label}: infra_error ({type(exc).__name__})")
        return False
    if calls is not None:  # the worker returned its records (Ray): one transaction, all or nothing
        store.add_trials([(trial, calls)])
    else:  # the worker wrote them; finish the row if it somehow did not
        stored = store.trial(trial.id)
        if stored is None:
            store.add_trials([(trial, [])])
        elif stored.status not in FINAL_STATUSES:
            store.finish_trial(trial)
    events.append(f"{label}: {trial.status} ${trial.total_cost:.4f}")
    return False


def record_failure(store: Store, job: TrialJob, status: str, reason: str) -> None:
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
