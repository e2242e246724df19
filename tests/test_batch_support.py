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

SCRIPTED_MODEL = "claude-opus-4-7"  # priced by the rate card like the real one


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

    def __call__(self, *args: Any, **kwargs: Any) -> SlowModel:
        return SlowModel(SCRIPTED_MODEL, self.delay_s, self.usage, self.infra_marker)


def drive(exp_path: str, db: str, delay_s: float) -> None:
    """Run a batch as a separate process (the SIGKILL test kills this one)."""
    from orchbench.runner.batch import run_batch
    from orchbench.runner.experiment import load_experiment

    report = run_batch(load_experiment(exp_path), db, model_factory=SlowFactory(delay_s))
    print("stopped_by", report.stopped_by, flush=True)


if __name__ == "__main__":
    drive(sys.argv[1], sys.argv[2], float(sys.argv[3]))
