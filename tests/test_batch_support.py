"""Helpers for the batch tests (no tests here): tiny tasks, a scripted slow model, a driver script.

Lives in a module of its own so worker processes (forkserver, Ray) can import the model factory.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from orchbench.records import Usage

SCRIPTED_MODEL = "claude-opus-4-7"  # what the scripted trial function records


def make_task(root: Path, name: str, *, passes: bool) -> Path:
    """A task on a one-file repository whose judge passes (or fails) whatever the agent does."""
    repo = root / f"{name}-repo"
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "hello.py").write_text("print('hello')\n")
    code = "raise SystemExit(0)" if passes else "raise SystemExit(1)"
    path = root / f"{name}.toml"
    path.write_text(
        f'name = "{name}"\n'
        'prompt = "Reply done."\n'
        "[source]\n"
        f'path = "{repo.name}"\n'
        "[[judge.commands]]\n"
        'name = "check"\n'
        f'run = ["python", "-c", "{code}"]\n'
        "[[reference]]\n"  # what the oracle arm applies: harmless, the judge decides alone
        'tool = "bash"\n'
        'input = { command = "echo done" }\n'
    )
    return path


def write_experiment(root: Path, tasks: list[Path], **fields: Any) -> Path:
    lines = [f"{k} = {_toml(v)}" for k, v in fields.items()]
    lines.append("tasks = [" + ", ".join(f'"{t}"' for t in tasks) + "]")
    path = root / "exp.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return str(v)


class SlowModel:
    """Answers 'done' after a fixed delay, with fixed usage; raises InfraError when told to."""

    def __init__(self, model: str, delay_s: float, usage: Usage, infra_marker: str | None) -> None:
        self.model = model
        self.delay_s = delay_s
        self.usage = usage
        self.infra_marker = infra_marker

    def complete(self, *, system: str, messages: list[dict], tools: list[dict]) -> Any:
        from orchbench.models.base import InfraError, ModelResponse

        time.sleep(self.delay_s)
        if self.infra_marker is not None:
            # The first call anywhere (across processes) fails like an exhausted credit balance.
            try:
                fd = os.open(self.infra_marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                os.close(fd)
                raise InfraError("400 credit balance is too low (scripted)")
            except FileExistsError:
                pass
        return ModelResponse(
            content=[{"type": "text", "text": "done"}], usage=self.usage, stop_reason="end_turn",
            latency_s=self.delay_s, model=self.model,
        )


class SlowFactory:
    """A picklable model factory: every role gets a SlowModel."""

    def __init__(self, delay_s: float = 0.2, usage: Usage | None = None, infra_marker: str | None = None) -> None:
        self.delay_s = delay_s
        self.usage = usage or Usage()
        self.infra_marker = infra_marker

    def __call__(self, cfg: Any, role: str) -> SlowModel:
        return SlowModel(cfg.model, self.delay_s, self.usage, self.infra_marker)


def slot_outcome(task: str, attempt: int) -> str:
    """Deterministic per slot: "pass*" tasks succeed, "fail*" fail, "flaky*" fail on even attempts,
    "infra*" end in infra_error, "crash*" raise inside the worker, "die*" kill the worker."""
    if task.startswith("pass"):
        return "success"
    if task.startswith("flaky"):
        return "failure" if attempt % 2 == 0 else "success"
    if task.startswith("infra"):
        return "infra_error"
    if task.startswith("crash"):
        raise RuntimeError("harness bug (scripted)")
    if task.startswith("die"):
        os._exit(3)  # the worker process itself dies (OOM kill, segfault)
    return "failure"


class ScriptedTrial:
    """A trial function for the scheduling tests: no workspace, one priced call, outcome by slot."""

    def __init__(self, delay_s: float = 0.05, cost: float = 1.0) -> None:
        self.delay_s = delay_s
        self.cost = cost

    def __call__(self, job: Any) -> tuple[Any, list[Any]]:
        return _scripted_trial(job, self.delay_s, self.cost)


scripted_trial = ScriptedTrial()


def _scripted_trial(job: Any, delay_s: float, cost: float) -> tuple[Any, list[Any] | None]:
    """Like run_trial: with a store (local backend) the row is `running` while the trial runs and
    the worker writes it; without one (Ray) the trial and its calls are returned to the driver."""
    from orchbench.records import Call, Trial, utcnow

    trial = Trial(id=job.trial_id, experiment=job.experiment, arm=job.arm_name, task=job.task_name,
                  attempt=job.attempt, status="running", started_at=utcnow())
    store = None
    if job.db is not None:
        from orchbench.store import Store

        store = Store(job.db)
        store.start_trial(trial)
    time.sleep(delay_s)
    status = slot_outcome(job.task_name, job.attempt)
    call = Call(trial_id=job.trial_id, role="orchestrator", turn=0, model=SCRIPTED_MODEL, cost_usd=cost)
    done = trial.model_copy(update={"status": status, "ended_at": utcnow()}).with_calls([call])
    if store is None:
        return done, [call]
    with store:
        store.add_call(call)
        return store.finish_trial(done), None


def drive(exp_path: str, db: str, delay_s: float) -> None:
    """Run a batch as a separate process (the SIGKILL test kills this one)."""
    from orchbench.runner.batch import run_batch
    from orchbench.runner.experiment import load_experiment

    report = run_batch(load_experiment(exp_path), db, model_factory=SlowFactory(delay_s))
    print("stopped_by", report.stopped_by, flush=True)


def drive_scripted(exp_path: str, db: str, delay_s: float) -> None:
    """A batch process with the scripted trial function (the Ctrl-C tests signal this one)."""
    from orchbench.runner.batch import run_batch
    from orchbench.runner.experiment import load_experiment

    report = run_batch(load_experiment(exp_path), db, trial_fn=ScriptedTrial(delay_s=delay_s))
    print("stopped_by", report.stopped_by, flush=True)


if __name__ == "__main__":
    drive(sys.argv[1], sys.argv[2], float(sys.argv[3]))
