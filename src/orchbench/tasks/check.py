"""`tasks check`: prove a task sound — base green, set-up red, the reference solution green.

A task that fails any of these is a BROKEN TASK (its author's problem), never an agent failure.
The base verdict is kept per (source, env, judge) and the set-up verdict per set-up state, so a
second check re-runs only the oracle. The oracle is the `oracle` arm of `runner.trial.run_trial`:
the reference tool calls go through the same loop, tools and judge an LLM agent gets.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from orchbench.records import Call, Trial, Verdict
from orchbench.tasks.cache import cache_root, file_lock, spec_key
from orchbench.tasks.setup import setup_key
from orchbench.tasks.source import source_key
from orchbench.tasks.spec import Task
from orchbench.tasks.venv import venv_key
from orchbench.tasks.workspace import workspace

Step = Literal["base", "setup", "oracle"]
GENERATED_KINDS = ("bugfix", "repair")  # what `tasks synth` writes in a task's provenance


class StepResult(BaseModel):
    step: Step
    ok: bool
    expect: Literal["green", "red"]
    seconds: float = 0.0
    cached: bool = False
    verdict: Verdict | None = None
    detail: str = ""


class TaskCheck(BaseModel):
    task: str
    steps: list[StepResult] = Field(default_factory=list)
    broken_reason: str | None = None
    warnings: list[str] = Field(default_factory=list)

    @property
    def broken(self) -> bool:
        return self.broken_reason is not None


def _verdict_file(kind: str, key: str) -> Any:
    d = cache_root() / kind
    d.mkdir(parents=True, exist_ok=True)
    return d / f"{key}.json"


def _remembered(kind: str, key: str, compute: Callable[[], Verdict], refresh: bool) -> tuple[Verdict, bool]:
    """A verdict computed once per key and kept on disk (under a lock: one process computes it)."""
    path = _verdict_file(kind, key)
    with file_lock(path.with_suffix(".lock")):
        if path.exists() and not refresh:
            return Verdict.model_validate_json(path.read_text()), True
        verdict = compute()
        if not any(c.timed_out for c in verdict.commands):
            tmp = path.with_suffix(".tmp")
            tmp.write_text(verdict.model_dump_json())
            tmp.replace(path)
        return verdict, False


def base_key(task: Task) -> str:
    judge = task.judge.model_dump(include={"commands", "env"})
    return spec_key({"v": 1, "source": source_key(task.source, task.base_dir()), "venv": venv_key(task.env),
                     "judge": judge})


def base_verdict(task: Task) -> Verdict | None:
    """The base verdict kept by an earlier `tasks check`, if any (the judge compares trials with it)."""
    path = cache_root() / "green" / f"{base_key(task)}.json"
    try:
        return Verdict.model_validate_json(path.read_text())
    except (OSError, ValueError):
        return None


def path_rule_warnings(task: Task) -> list[str]:
    """A task without `allowed_paths` lets the agent add files anywhere: at the root, a module named
    like the test runner or the standard library is imported instead of it."""
    if task.judge.rules.allowed_paths:
        return []
    return [(f"task {task.name} has no path rules: set [judge.rules] allowed_paths (e.g. [\"pkg/\", \"tests/\"]) "
            "so that files outside the package and its tests are refused")]


def verify_base(task: Task, *, unsafe_no_sandbox: bool = False, refresh: bool = False) -> StepResult:
    """The base must pass the judge's commands (no checks/rules: a refactor check is red there by design)."""
    from orchbench.judge.run import run_judge

    def compute() -> Verdict:
        with workspace(task, stage="base") as ws:
            # A refreshed base keeps its fresh command results: the oracle's restored tree meets them.
            return run_judge(ws, cache=False, commands_only=True, unsafe_no_sandbox=unsafe_no_sandbox,
                             command_cache=not refresh, command_refresh=refresh)

    t0 = time.perf_counter()
    verdict, cached = _remembered("green", base_key(task), compute, refresh)
    detail = _count_mismatch(task, verdict) if verdict.passed else "; ".join(verdict.failure_reasons)
    return StepResult(step="base", ok=verdict.passed, expect="green", seconds=time.perf_counter() - t0,
                      cached=cached, verdict=verdict, detail=detail)


def _count_mismatch(task: Task, verdict: Verdict) -> str:
    """Counts are shown, not judged; a difference from the task's recorded base is worth a note."""
    diff = [f"{k} {verdict.counts.get(k)} (recorded {v})" for k, v in task.base_counts.items()
            if verdict.counts.get(k) != v]
    return ("counts differ from the task's base_counts: " + ", ".join(diff)) if diff else ""


def verify_setup_red(task: Task, *, unsafe_no_sandbox: bool = False, refresh: bool = False) -> StepResult:
    """A fresh workspace must fail the full judge, else the task asks nothing of the agent."""
    from orchbench.judge.run import run_judge

    failing = list(task.provenance.get("failing_tests", []))
    generated = task.provenance.get("kind") in GENERATED_KINDS

    def compute() -> Verdict:
        # Red needs one failing command, so a generated task fails fast (a bug-fix task with the tests
        # its mutant fails first). A written task is judged in full, so its set-up's counts are shown.
        with workspace(task) as ws:
            return run_judge(ws, cache=False, unsafe_no_sandbox=unsafe_no_sandbox, fail_fast=generated,
                             first_tests=failing)

    # v3: red verdicts from before fast red was bound into the sandbox may be a usage error of ours
    key = spec_key({"v": 3, "setup": setup_key(task, task.base_dir()), "venv": venv_key(task.env),
                    "judge": task.judge.model_dump(), "checks": [c.model_dump() for c in task.checks]})
    t0 = time.perf_counter()
    verdict, cached = _remembered("setup-red", key, compute, refresh)
    detail = "; ".join(verdict.failure_reasons[:3]) if not verdict.passed else "the set-up already passes"
    return StepResult(step="setup", ok=not verdict.passed, expect="red", seconds=time.perf_counter() - t0,
                      cached=cached, verdict=verdict, detail=detail)


class _CallLog:
    """The smallest store run_trial accepts: keeps the oracle's calls to report tool errors."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def start_trial(self, trial: Trial) -> None:
        pass

    def add_call(self, call: Call) -> int:
        self.calls.append(call)
        return len(self.calls)

    def update_call(self, call_id: int, call: Call) -> None:
        self.calls[call_id - 1] = call

    def finish_trial(self, trial: Trial) -> Trial:
        return trial


def verify_oracle(task: Task, *, unsafe_no_sandbox: bool = False) -> StepResult:
    """The reference solution, applied through the agent's own tools, must pass the full judge."""
    from orchbench.arms import load_arm
    from orchbench.runner.trial import run_trial

    t0 = time.perf_counter()
    if not task.reference:
        return StepResult(step="oracle", ok=False, expect="green", detail="the task has no [[reference]] solution")
    log = _CallLog()
    trial = run_trial(task, load_arm("oracle"), store=log, experiment="tasks-check",
                      unsafe_no_sandbox=unsafe_no_sandbox, judge_cache=True)
    errors = [f"step {i}: {r.get('content', '')!s:.200}" for i, c in enumerate(log.calls)
              for r in c.tool_results if r.get("is_error")]
    ok = trial.status == "success" and not errors
    detail = trial.failure_reason or ""
    if trial.status == "infra_error":  # ours, not the task's: say so instead of blaming the reference
        detail = f"infra error while running the oracle (not the task's fault): {trial.error}"
    if errors:
        detail = (detail + "; " if detail else "") + f"{len(errors)} reference tool call(s) failed: {errors[0]}"
    return StepResult(step="oracle", ok=ok, expect="green", seconds=time.perf_counter() - t0,
                      verdict=trial.verdict, detail=detail)


def check_task(task: Task, *, unsafe_no_sandbox: bool = False, refresh: bool = False,
               refresh_base: bool | None = None,
               on_step: Callable[[Task, StepResult], None] | None = None) -> TaskCheck:
    """refresh re-judges the base (unless refresh_base says otherwise) and the set-up."""
    result = TaskCheck(task=task.name, warnings=path_rule_warnings(task))
    again = refresh if refresh_base is None else refresh_base
    steps: list[tuple[Callable[[], StepResult], str]] = [
        (lambda: verify_base(task, unsafe_no_sandbox=unsafe_no_sandbox, refresh=again),
         "the base does not pass the judge"),
        (lambda: verify_setup_red(task, unsafe_no_sandbox=unsafe_no_sandbox, refresh=refresh),
         "the set-up already passes the judge, so the task asks nothing"),
        (lambda: verify_oracle(task, unsafe_no_sandbox=unsafe_no_sandbox),
         "the reference solution does not pass the judge"),
    ]
    for run, why in steps:
        step = run()
        result.steps.append(step)
        if on_step:
            on_step(task, step)
        if not step.ok:
            infra = step.detail.startswith("infra error")
            result.broken_reason = step.detail if infra else why + (f": {step.detail}" if step.detail else "")
            break
    return result


def check_tasks(tasks: list[Task], *, unsafe_no_sandbox: bool = False, refresh: bool = False,
                on_step: Callable[[Task, StepResult], None] | None = None) -> list[TaskCheck]:
    """Check many tasks; with refresh, each distinct base is re-judged once, not once per task (a
    suite's tasks share one base, and its verdict is the same for all of them)."""
    refreshed: set[str] = set()
    out = []
    for task in tasks:
        key = base_key(task)
        out.append(check_task(task, unsafe_no_sandbox=unsafe_no_sandbox, refresh=refresh,
                              refresh_base=refresh and key not in refreshed, on_step=on_step))
        refreshed.add(key)
    return out


def report_json(checks: list[TaskCheck]) -> str:
    return json.dumps([c.model_dump(mode="json") for c in checks], indent=2)
