"""run_judge: the verdict on a workspace, computed from outside the agent's reach.

Pass = every required command exits 0, no structural check fails, no rule is broken and every
protected file matches its set-up fingerprint. Parsed counts are for display only.

The commands run sandboxed with only the workspace (and a judge scratch dir outside it) writable;
protected files are bound read-only on top, so code under test cannot rewrite them mid-run. Python
bytecode and tool caches go to the scratch dir: a .pyc or .mypy_cache planted in the workspace is
never read (and judge/mtimes.py keeps those caches from missing a same-second edit). The rules see the tree as the agent left it; fingerprints are checked again after the run.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from orchbench.errors import UserError
from orchbench.judge import verdict_cache
from orchbench.judge.checks import CheckContext, run_checks
from orchbench.judge.mtimes import freshen
from orchbench.judge.parsers import parse
from orchbench.judge.rules import check_protected, check_rules
from orchbench.judge.spec import JudgeCommand, JudgeSpec
from orchbench.judge.tree import tree_digests, tree_hash
from orchbench.records import CommandResult, Verdict
from orchbench.sandbox import IN_SANDBOX_VAR, Limits, SandboxResult, run_sandboxed, sandbox_available
from orchbench.tasks.venv import env_for

_TAIL_CHARS = 4000


def judge_env(ws: Any, spec: JudgeSpec, scratch: Path) -> dict[str, str]:
    """The workspace's own env (venv first on PATH, its package first on sys.path, the task's judge
    env; the same code as Workspace.env()), with caches and bytecode sent outside the workspace."""
    env = env_for(Path(ws.root).resolve(), Path(ws.venv), dict(spec.env))
    env.update({
        "PYTHONPYCACHEPREFIX": str(scratch / "pycache"),
        "MYPY_CACHE_DIR": str(scratch / "mypy"),
        "RUFF_CACHE_DIR": str(scratch / "ruff"),
        "COVERAGE_FILE": str(scratch / "coverage"),
    })
    return env


def scratch_dir(ws: Any, cache_dir: Path | None = None) -> Path:
    """Per-workspace scratch for tool caches, outside the workspace (so outside the agent's reach)."""
    key = hashlib.sha256(str(Path(ws.root).resolve()).encode()).hexdigest()[:16]
    base = cache_dir or verdict_cache.default_dir()
    path = base / "judge-scratch" / key
    path.mkdir(parents=True, exist_ok=True)
    return path


class _Runner:
    """Runs argv for the judge: sandboxed unless told it may not be (or is already inside one)."""

    def __init__(self, ws: Any, spec: JudgeSpec, scratch: Path, unsafe: bool) -> None:
        self.root = Path(ws.root).resolve()
        self.env = judge_env(ws, spec, scratch)
        self.timeout = spec.timeout_s
        self.unsafe = unsafe
        self.writable = [self.root, scratch]
        protected = [self.root / rel for rel in getattr(ws, "protected", {})]
        self.readonly = [Path(ws.venv)] + [p for p in protected if p.is_file() and not p.is_symlink()]
        self.limits = Limits(cpu_s=int(spec.timeout_s) + 60, processes=2048, memory_mb=8192)

    def __call__(self, argv: list[str]) -> SandboxResult:
        return run_sandboxed(
            argv,
            cwd=self.root,
            writable=self.writable,
            readonly=self.readonly,
            env=self.env,
            timeout_s=self.timeout,
            limits=self.limits,
            unsafe_no_sandbox=self.unsafe,
        )


def run_command(run: _Runner, cmd: JudgeCommand) -> CommandResult:
    r = run(cmd.run)
    text = r.stdout + ("\n" + r.stderr if r.stderr else "")
    return CommandResult(
        name=cmd.name,
        argv=cmd.run,
        exit_code=r.exit_code,
        required=cmd.required,
        duration_s=r.duration_s,
        timed_out=r.timed_out,
        output_tail=text[-_TAIL_CHARS:],
        counts=parse(cmd.parser, text),
    )


_BAD_COUNTS = ("errors", "failed", "collection_errors", "would_reformat")


def output_mismatch(c: CommandResult, cmd: JudgeCommand) -> str | None:
    """A required command that exits 0 while its own output disagrees: code under test can force
    the exit status (`atexit` + `os._exit(0)`), but not unprint the failures. Counts can only reject."""
    if not c.required or c.exit_code != 0 or cmd.parser is None:
        return None
    if not c.counts:
        return (f"command-output-mismatch: {c.name} exited 0 but printed no {cmd.parser} summary "
                "(let the tool print its summary line, or drop `parser`)")
    bad = {k: v for k, v in c.counts.items() if k in _BAD_COUNTS and v}
    if bad:
        shown = ", ".join(f"{v} {k}" for k, v in bad.items())
        return f"command-output-mismatch: {c.name} exited 0 but reports {shown}"
    return None


def _summary(passed: bool, results: list[CommandResult], reasons: list[str]) -> str:
    parts = []
    for c in results:
        shown = ", ".join(f"{v} {k}" for k, v in c.counts.items() if v)
        flag = "" if c.required else " (info)"
        parts.append(f"{c.name}{flag}: exit {c.exit_code}" + (f" ({shown})" if shown else ""))
    head = "PASS" if passed else "FAIL"
    tail = f"; {len(reasons)} failure reason(s): {reasons[0]}" if reasons else ""
    return f"{head} — " + "; ".join(parts) + tail


def _decide_unsafe(unsafe_no_sandbox: bool) -> bool:
    if unsafe_no_sandbox or os.environ.get(IN_SANDBOX_VAR) == "1":
        return True  # asked for, or already confined by the agent's sandbox
    if not sandbox_available():
        raise UserError(
            "bubblewrap (bwrap) is missing or cannot start a sandbox here: install the Debian package "
            "'bubblewrap', or pass --unsafe-no-sandbox to judge without one"
        )
    return False


def run_judge(
    ws: Any,
    *,
    cache: bool = True,
    commands_only: bool = False,
    cache_dir: Path | None = None,
    unsafe_no_sandbox: bool = False,
    fail_fast: bool = False,
    first_tests: list[str] | None = None,
    command_cache: bool = True,
) -> Verdict:
    """Judge workspace `ws` (root, venv, task, manifest, protected, original()).

    commands_only=True runs the commands alone (no checks, rules or fingerprints): for verifying a
    task's base, where a refactor check is red by design. fail_fast=True is for proving a state red:
    see `fast_red`.
    """
    spec: JudgeSpec = ws.task.judge
    checks = [] if commands_only else list(getattr(ws.task, "checks", []) or [])
    unsafe = _decide_unsafe(unsafe_no_sandbox)
    root = Path(ws.root)
    before = tree_digests(root)
    key = None
    if cache:
        key = verdict_cache.key(ws, spec, checks, tree_hash(before), commands_only)
        hit = verdict_cache.load(key, cache_dir)
        if hit is not None:
            return hit
    scratch = scratch_dir(ws, cache_dir)
    freshen(root, before, scratch / "mtimes.json")
    run = _Runner(ws, spec, scratch, unsafe)
    if fail_fast:
        results, commands = fast_red(run, spec, scratch, first_tests or [])
    else:
        commands = spec.commands
        results = [_cached_command(run, ws, spec, cmd, tree_hash(before), command_cache) for cmd in commands]
    reasons = [
        f"command-failed: {c.name} exited {c.exit_code}" + (" (timed out)" if c.timed_out else "")
        for c in results
        if c.required and c.exit_code != 0
    ]
    reasons += [m for c, cmd in zip(results, commands) if (m := output_mismatch(c, cmd))]
    if not commands_only:
        python = str(Path(ws.venv) / "bin" / "python")
        ctx = CheckContext(root=root.resolve(), run=run, python=python if os.path.exists(python) else sys.executable)
        reasons += run_checks(ctx, checks)
        reasons += check_protected(ws, before) + check_rules(ws, spec.rules, before)
        # Code under test might rewrite a protected file mid-run (they are bound read-only, but
        # without a sandbox they are not): look again afterwards.
        reasons += [r for r in check_protected(ws, tree_digests(root)) if r not in reasons]
    counts = {f"{c.name}_{k}": v for c in results for k, v in c.counts.items()}
    passed = not reasons
    verdict = Verdict(
        passed=passed,
        commands=results,
        counts=counts,
        failure_reasons=reasons,
        summary=_summary(passed, results, reasons),
    )
    if key is not None and not any(c.timed_out for c in results):
        verdict_cache.store(key, verdict, cache_dir)
    return verdict


def _cached_command(run: _Runner, ws: Any, spec: JudgeSpec, cmd: JudgeCommand, tree: str, cache: bool) -> CommandResult:
    if not cache:
        return run_command(run, cmd)
    k = verdict_cache.command_key(ws, spec, cmd, tree)
    hit = verdict_cache.load_command(k)
    if hit is not None:
        return hit
    result = run_command(run, cmd)
    if not result.timed_out:
        verdict_cache.store_command(k, result)
    return result


_FIRST_PLUGIN = """import os

def pytest_collection_modifyitems(session, config, items):
    first = set(filter(None, os.environ.get("ORCHBENCH_FIRST_TESTS", "").split("\\n")))
    items.sort(key=lambda item: item.nodeid not in first)
"""


def fast_red(run: _Runner, spec: JudgeSpec, scratch: Path, first_tests: list[str]) -> tuple[list[CommandResult],
                                                                                               list[JudgeCommand]]:
    """Prove a state red sooner, with the same verdict: one failing required command is enough, so
    pytest commands go first (with -x, the tests known to fail ordered first) and the rest are skipped
    after a failure. -x and the order never turn a failing run green or a passing one red: a passing
    suite still runs every test, and the order is one xdist could have chosen anyway. Without known
    failing tests the judge's own order stands (type and lint checks are the quick ones)."""
    (scratch / "fastred").mkdir(exist_ok=True)
    (scratch / "fastred" / "orchbench_first.py").write_text(_FIRST_PLUGIN)
    run.env = {**run.env, "PYTEST_ADDOPTS": "-x -p orchbench_first", "ORCHBENCH_FIRST_TESTS": "\n".join(first_tests),
               "PYTHONPATH": run.env["PYTHONPATH"] + os.pathsep + str(scratch / "fastred")}
    ordered = sorted(spec.commands, key=lambda c: c.parser != "pytest") if first_tests else list(spec.commands)
    results: list[CommandResult] = []
    for cmd in ordered:
        results.append(run_command(run, cmd))
        if cmd.required and results[-1].exit_code != 0:
            break
    return results, ordered[: len(results)]


def verdict_json(v: Verdict) -> str:
    return json.dumps(v.model_dump(mode="json"), indent=2)
