"""One trial of an external arm: the agent's own program runs in the sandbox, in a fresh workspace,
talking to the provider only through the recording proxy; then the judge decides, as for every arm.

Inside the sandbox (its own network namespace: loopback only) a relay listens on 127.0.0.1:PORT and
leads to the proxy's Unix socket, bound in from outside. The agent gets a placeholder key; the proxy
adds the real one. Its own account of the run (Claude Code's cost and `modelUsage`, mini-swe-agent's
cost) is stored on the trial as a note beside ours, and so is the agent's pinned version.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchbench.agent.install import Installed, require
from orchbench.agent.loop import LoopResult, Outcome, is_blocked
from orchbench.external_arm import ExternalArm, substitute
from orchbench.models.base import InfraError
from orchbench.models.factory import key_env
from orchbench.proxy import RecordingProxy, StoreSink, WireRecorder
from orchbench.records import Trial, utcnow
from orchbench.sandbox import Limits, SandboxResult, run_sandboxed

RELAY = Path(__file__).resolve().parent.parent / "proxy" / "relay.py"
RELAY_PORT = 8765  # inside the sandbox's own network namespace, so it never clashes
REPORT_NOTE = "agent-report "
_MODEL_USAGE_KEYS = ("inputTokens", "outputTokens", "cacheReadInputTokens", "cacheCreationInputTokens", "costUSD")
DEFAULT_UPSTREAM = {"anthropic": "https://api.anthropic.com", "openai": "https://api.openai.com/v1"}


@dataclass
class AgentRun:
    """What the agent process left: its exit, its final answer, its own account of the run."""

    result: SandboxResult
    answer: str = ""
    stopped_by_cap: bool = False
    report: dict[str, Any] = field(default_factory=dict)


def agent_report(trial: Trial) -> dict[str, Any] | None:
    """The agent's own account stored with the trial (None when it gave none)."""
    for note in trial.notes:
        if note.startswith(REPORT_NOTE):
            return dict(json.loads(note[len(REPORT_NOTE):]))
    return None


def run_external(task: Any, arm: Any, *, store: Any = None, experiment: str = "adhoc",
                 attempt: int = 0, trial_id: str | None = None, unsafe_no_sandbox: bool = False,
                 rate_card: Any = None, env: Mapping[str, str] | None = None) -> Trial:
    """Like `runner.trial.run_trial` for an ExternalArm: stored as running, then its outcome (infra
    failures and interrupts included), usage and cost re-derived from the stored calls."""
    from orchbench.runner.trial import UNSAFE_NOTE, check_ready, new_trial_id

    assert isinstance(arm, ExternalArm)
    card = check_ready(task, arm, unsafe_no_sandbox=unsafe_no_sandbox, rate_card=rate_card, env=env)
    agent = require(arm.agent) if arm.agent else None
    notes = [f"agent {agent.label}" if agent else f"agent command {arm.command[0]}",
             *([UNSAFE_NOTE] if unsafe_no_sandbox else [])]
    trial = Trial(id=trial_id or new_trial_id(arm.name, task.name), experiment=experiment, arm=arm.name,
                  task=task.name, attempt=attempt, status="running", started_at=utcnow(),
                  models={role: cfg.model for role, cfg in arm.models()},  # type: ignore[misc]
                  notes=notes)
    if store is not None:
        store.start_trial(trial)
    recorder = WireRecorder(trial.id, arm.role_map(), sink=StoreSink(store.path) if store is not None else None,
                            pricer=card, delegating_tools=arm.delegating_tools)
    t0 = time.perf_counter()
    try:
        update = _attempt(task, arm, agent, recorder, unsafe_no_sandbox, os.environ if env is None else env, notes)
    except InfraError as exc:
        update = {"status": "infra_error", "error": str(exc)}
    except BaseException as exc:  # a bug or an interrupt: record what happened, then let it surface
        kind = "interrupted" if isinstance(exc, KeyboardInterrupt) else "infra_error"
        _finish(trial, {"status": kind, "error": f"{type(exc).__name__}: {exc}"}, recorder, store, t0, notes)
        raise
    return _finish(trial, update, recorder, store, t0, notes)


def _finish(trial: Trial, update: dict[str, Any], recorder: WireRecorder, store: Any, t0: float,
            notes: list[str]) -> Trial:
    notes = [*notes, *update.pop("add_notes", [])]  # flags the judged outcome may carry (BLOCKED)
    done = trial.model_copy(update={**update, "wall_s": time.perf_counter() - t0, "ended_at": utcnow(),
                                    "iterations": sum(1 for c in recorder.calls if c.role == "orchestrator"),
                                    "notes": notes}).with_calls(recorder.calls)
    return store.finish_trial(done) if store is not None else done


def describe(arm: Any, task: Any) -> str:
    """What a trial would run (for `orchbench run --dry-run`): command, environment, roles, upstream."""
    from orchbench.agent.install import installed

    agent = installed(arm.agent) if arm.agent else None
    values = arm.substitutions(prompt="<the task's prompt>", workspace=Path("<workspace>"),
                               base_url=f"http://127.0.0.1:{RELAY_PORT}", outdir=Path("<outdir>"), task=task)
    upstreams, keys = _upstreams(arm, os.environ)
    lines = [f"arm {arm.name} (external): {arm.description}",
             f"agent: {agent.label if agent else (arm.agent or arm.command[0]) + ' (not installed)'}",
             "command: " + " ".join(substitute(a, values) for a in arm.command),
             *(f"env {k}={substitute(v, values)}" for k, v in arm.env.items()),
             "roles: " + ", ".join(f"{m} -> {r}" for m, r in arm.role_map().items()) + "; any other model -> unknown",
             f"proxy forwards {arm.api} calls to {upstreams[arm.api]} with the key from "
             + (f"{key_env(arm.orchestrator)}" if keys[arm.api] else f"{key_env(arm.orchestrator)} (NOT SET)"),
             f"task {task.name}: max turns {arm.cap_for(task)}, timeout {arm.timeout_s} s",
             "dry run: nothing was started"]
    return "\n".join(lines)


def _upstreams(arm: ExternalArm, env: Mapping[str, str]) -> tuple[dict[Any, str], dict[Any, str | None]]:
    cfg = arm.orchestrator
    var = key_env(cfg)
    return {arm.api: cfg.base_url or DEFAULT_UPSTREAM[arm.api]}, {arm.api: env.get(var) if var else None}


def _attempt(task: Any, arm: ExternalArm, agent: Installed | None, recorder: WireRecorder, unsafe: bool,
             env: Mapping[str, str], notes: list[str]) -> dict[str, Any]:
    from orchbench.judge.run import run_judge
    from orchbench.runner.trial import _judged
    from orchbench.tasks.workspace import workspace

    upstreams, keys = _upstreams(arm, env)
    with workspace(task) as ws, tempfile.TemporaryDirectory(prefix="orchbench-agent-") as tmp:
        sock, outdir = Path(tmp) / "proxy.sock", Path(tmp) / "out"
        outdir.mkdir()
        with RecordingProxy(upstreams, recorder, keys=keys, unix_path=None if unsafe else sock, tcp=unsafe) as proxy:
            base_url = proxy.url if unsafe else f"http://127.0.0.1:{RELAY_PORT}"
            run = _run_agent(task, arm, agent, ws, base_url, sock, outdir, unsafe)
        if run.report:
            notes.append(REPORT_NOTE + json.dumps(run.report, separators=(",", ":"), sort_keys=True))
        failed = _infra_failure(run, recorder)
        if failed:
            return {"status": "infra_error", "error": failed}
        verdict = run_judge(ws, unsafe_no_sandbox=unsafe)  # a BLOCKED answer is judged too, as for every arm
    outcome: Outcome = "blocked" if is_blocked(run.answer) else "cap" if run.stopped_by_cap else "done"
    update = _judged(LoopResult(run.answer, len(recorder.calls), outcome), verdict, arm.cap_for(task))
    if run.result.timed_out and update["status"] != "success":
        update["failure_reason"] = f"agent timed out after {arm.timeout_s} s; " + (update["failure_reason"] or "")
    return update


def _run_agent(task: Any, arm: ExternalArm, agent: Installed | None, ws: Any, base_url: str, sock: Path,
               outdir: Path, unsafe: bool) -> AgentRun:
    from orchbench.agent.tools import BashTool

    tool = BashTool(ws, unsafe_no_sandbox=unsafe)
    values = arm.substitutions(prompt=task.prompt, workspace=Path(ws.root), base_url=base_url, outdir=outdir,
                               task=task)
    env = tool.env()  # the task's interpreter and `judge` on PATH, as for the built-in bash tool
    if agent is not None:
        env["PATH"] = f"{agent.bin_dir}:{env['PATH']}"
    env.update({k: substitute(v, values) for k, v in arm.env.items()})
    argv = [substitute(a, values) for a in arm.command]
    if not unsafe:
        argv = [sys.executable, str(RELAY), str(sock), str(RELAY_PORT), "--", *argv]
    # What the bash tool binds for its commands: the task's venv, `judge` and its snapshot, the workspace.
    readonly = [Path(p) for p in (getattr(ws, "venv", None), tool._bin, tool._originals) if p is not None]
    writable = [Path(ws.root)] + ([tool._bin / "cache"] if tool._bin is not None else [])
    # The agent's install and the interpreter the relay (and a Python agent's venv) run on.
    readonly += [*([agent.root] if agent else []), *arm.binds, sock.parent, Path(sys.base_prefix), Path(sys.prefix)]
    limits = Limits(cpu_s=arm.timeout_s, memory_mb=arm.memory_mb, output_bytes=4_000_000)
    result = run_sandboxed(argv, cwd=Path(ws.root), writable=[*writable, outdir], readonly=readonly, env=env,
                           timeout_s=arm.timeout_s, limits=limits, unsafe_no_sandbox=unsafe)
    return read_answer(arm, result, outdir)


def read_answer(arm: ExternalArm, result: SandboxResult, outdir: Path) -> AgentRun:
    if arm.answer == "claude-json":
        data = _last_json(result.stdout)
        report: dict[str, Any] = {k: data[k] for k in ("total_cost_usd", "num_turns", "subtype") if k in data}
        if isinstance(data.get("modelUsage"), dict):
            report["modelUsage"] = {m: {k: v for k, v in u.items() if k in _MODEL_USAGE_KEYS}
                                    for m, u in data["modelUsage"].items()}
        return AgentRun(result, str(data.get("result") or ""), data.get("subtype") == "error_max_turns", report)
    if arm.answer == "mini-trajectory":
        try:
            traj = json.loads((outdir / "trajectory.json").read_text())
        except (OSError, json.JSONDecodeError):
            return AgentRun(result, result.stdout[-2000:])
        info = traj.get("info") or {}
        stats = info.get("model_stats") or {}
        report = {"cost_usd": stats.get("instance_cost"), "api_calls": stats.get("api_calls"),
                  "exit_status": info.get("exit_status")}
        return AgentRun(result, str(info.get("submission") or ""), info.get("exit_status") == "LimitsExceeded", report)
    return AgentRun(result, result.stdout[-2000:])


def _last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict):
                return data
    return {}


def _infra_failure(run: AgentRun, recorder: WireRecorder) -> str | None:
    """Why the run failed for reasons that are not the agent's (None: let the judge decide)."""
    r = run.result
    if r.timed_out or r.exit_code == 0:
        return None
    tail = (r.stderr.strip() or r.stdout.strip())[-600:]
    if not recorder.calls:
        return f"agent exited {r.exit_code} before calling a model: {tail}"
    last = recorder.calls[-1]
    if last.error and last.error.startswith("HTTP"):
        return f"agent exited {r.exit_code} after a provider error ({last.error[:200]}): {tail}"
    return None
