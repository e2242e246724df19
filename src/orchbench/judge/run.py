"""run_judge: the verdict on a workspace, computed from outside the agent's reach.

Pass = every required command exits 0, no structural check fails, no rule is broken and every
protected file matches its set-up fingerprint. Parsed counts are for display only.

The commands run sandboxed with only the workspace (and a judge scratch dir outside it) writable;
protected files are bound read-only on top, so code under test cannot rewrite them mid-run. Python
bytecode and tool caches go to the scratch dir: a .pyc or .mypy_cache planted in the workspace is
never read (and judge/mtimes.py keeps those caches from missing a same-second edit). The rules see the tree as the agent left it; fingerprints are checked again after the run.
Test runners run under the judge's guard (judge/guard.py): what they really ran, not what the
process printed or its exit status, decides; the threat model is in docs/judge.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from orchbench.judge import guard, verdict_cache
from orchbench.judge.checks import CheckContext, run_checks
from orchbench.judge.mtimes import freshen
from orchbench.judge.parsers import parse
from orchbench.judge.rules import check_protected, check_rules
from orchbench.judge.spec import JudgeCommand, JudgeSpec
from orchbench.judge.tamper import tamper_reasons
from orchbench.judge.tree import tree_digests, tree_hash
from orchbench.records import CommandResult, Verdict
from orchbench.sandbox import IN_SANDBOX_VAR, Limits, SandboxResult, require_sandbox, run_sandboxed
from orchbench.tasks.venv import env_for, tool_versions
from orchbench.tasks.workspace import force_rmtree

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
        self.ws, self.spec, self.scratch = ws, spec, scratch
        self.env = judge_env(ws, spec, scratch)
        self.timeout = spec.timeout_s
        self.unsafe = unsafe
        self.writable = [self.root, scratch]
        # Inside the agent's sandbox the caches are the agent's own and stay warm between its `judge`
        # calls. The runner gives each command fresh caches, removed after it: code under test cannot
        # plant bytecode or cache entries for a later command or judge run, and nothing piles up.
        self.fresh_caches = os.environ.get(IN_SANDBOX_VAR) != "1"
        protected = [self.root / rel for rel in getattr(ws, "protected", {})]
        self.guard = guard.guard_dir(scratch.parent.parent)
        self.readonly = [Path(ws.venv), self.guard] + [p for p in protected if p.is_file() and not p.is_symlink()]
        self.limits = Limits(cpu_s=int(spec.timeout_s) + 60, processes=2048, memory_mb=8192)
        self.last_evidence = guard.Evidence()
        self.extra_env: dict[str, str] = {}  # on top of every command's env (see fast_red)

    def __call__(self, argv: list[str]) -> SandboxResult:
        # The guard's report directory is fresh per command; so are the tool caches, unless this
        # judge runs inside the agent's sandbox (see fresh_caches).
        reports = guard.new_report_dir(self.scratch)
        caches = Path(tempfile.mkdtemp(prefix="caches-", dir=self.scratch)) if self.fresh_caches else None
        env = self.env if caches is None else judge_env(self.ws, self.spec, caches)
        env = {**env, **self.extra_env}
        writable = self.writable if caches is None else [self.root, caches, reports]
        try:
            return run_sandboxed(
                argv,
                cwd=self.root,
                writable=writable,
                readonly=self.readonly,
                env=guard.guard_env(env, self.guard, reports, self.root),
                timeout_s=self.timeout,
                limits=self.limits,
                unsafe_no_sandbox=self.unsafe,
            )
        finally:
            self.last_evidence = guard.read_reports(reports)
            if caches is not None:
                force_rmtree(caches)


def run_command(run: _Runner, cmd: JudgeCommand) -> tuple[CommandResult, guard.Evidence]:
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
    ), run.last_evidence


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


def _evidence_reasons(ws: Any, commands: list[JudgeCommand], ran: list[tuple[CommandResult, guard.Evidence]],
                      commands_only: bool) -> list[str]:
    """What the test runners really did, against what the base and the protected files require."""
    base = guard.base_record(ws.task)
    reasons: list[str] = []
    seen: list[guard.Evidence] = []
    for (c, ev), cmd in zip(ran, commands):
        if not c.required or c.timed_out or not guard.runs_tests(cmd.run, cmd.parser):
            continue
        seen.append(ev)
        reasons += guard.command_reasons(c.name, c.exit_code, ev, base.passed.get(c.name))
        if (slow := guard.too_fast(c.name, c.duration_s, base.seconds.get(c.name))) and c.exit_code == 0:
            reasons.append(slow)
    if seen and not commands_only:
        reasons += guard.protected_reasons(guard.protected_tests(ws), seen)
    return reasons


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
    require_sandbox("the judge's commands")
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
    command_cache: bool | None = None,
    command_refresh: bool = False,
) -> Verdict:
    """Judge workspace `ws` (root, venv, task, manifest, protected, original()).

    commands_only=True runs the commands alone (no checks, rules or fingerprints): for verifying a
    task's base, where a refactor check is red by design. fail_fast=True is for proving a state red:
    see `fast_red`. command_cache (default: as `cache`) reuses single commands' results by tree;
    command_refresh=True runs every command afresh and keeps its result for later reuse.
    """
    t0 = time.perf_counter()
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
        ran, commands = fast_red(run, spec, scratch, first_tests or [])
    else:
        commands = spec.commands
        reuse = cache if command_cache is None else command_cache
        ran = [_cached_command(run, ws, spec, cmd, _files_hash(before), reuse, command_refresh)
               for cmd in commands]
    results = [c for c, _ in ran]
    reasons = [
        f"command-failed: {c.name} exited {c.exit_code}" + (" (timed out)" if c.timed_out else "")
        for c in results
        if c.required and c.exit_code != 0
    ]
    reasons += [m for c, cmd in zip(results, commands) if (m := output_mismatch(c, cmd))]
    reasons += _evidence_reasons(ws, commands, ran, commands_only)
    if not commands_only:
        python = str(Path(ws.venv) / "bin" / "python")
        ctx = CheckContext(root=root.resolve(), run=run, python=python if os.path.exists(python) else sys.executable,
                           evidence=lambda: run.last_evidence, original=ws.original)
        reasons += run_checks(ctx, checks)
        reasons += check_protected(ws, before) + check_rules(ws, spec.rules, before)
        if spec.rules.guard_runner:
            reasons += tamper_reasons(ws, before, spec.rules.test_files)
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
        tool_versions=tool_versions(Path(ws.venv), list(getattr(getattr(ws.task, "env", None), "packages", []))),
        duration_s=time.perf_counter() - t0,
    )
    if key is not None and not any(c.timed_out for c in results):
        verdict_cache.store(key, verdict, cache_dir)
    return verdict


def _files_hash(digests: dict[str, str]) -> str:
    """The tree's hash without `.git`: a task's set-up commit changes the history but not the files,
    and a reference that restores the base's files must meet the base's command results. (Only
    `tasks check` and hand-run judges reuse command results; a trial's final judge never does.)"""
    return tree_hash({k: v for k, v in digests.items() if not k.startswith(".git/")})


def _cached_command(run: _Runner, ws: Any, spec: JudgeSpec, cmd: JudgeCommand, tree: str,
                    cache: bool, refresh: bool = False) -> tuple[CommandResult, guard.Evidence]:
    """A command's result and the guard's evidence, reused for the same tree (the evidence is kept with
    the result, so a cached run is held to the same standard as a fresh one). refresh: run it anyway
    and replace what was kept."""
    if not cache and not refresh:
        return run_command(run, cmd)
    k = verdict_cache.command_key(ws, spec, cmd, tree)
    hit = None if refresh else verdict_cache.load_command(k)
    if hit is not None:
        return hit
    result, evidence = run_command(run, cmd)
    if not result.timed_out:
        verdict_cache.store_command(k, result, evidence)
    return result, evidence


_FIRST_PLUGIN = """import os

def pytest_collection_modifyitems(session, config, items):
    first = set(filter(None, os.environ.get("ORCHBENCH_FIRST_TESTS", "").split("\\n")))
    items.sort(key=lambda item: item.nodeid not in first)
"""


def fast_red(run: _Runner, spec: JudgeSpec, scratch: Path, first_tests: list[str]
             ) -> tuple[list[tuple[CommandResult, guard.Evidence]], list[JudgeCommand]]:
    """Prove a state red sooner, with the same verdict: one failing required command is enough, so
    pytest commands go first (with -x, the tests known to fail ordered first) and the rest are skipped
    after a failure. -x and the order never turn a failing run green or a passing one red: a passing
    suite still runs every test, and the order is one xdist could have chosen anyway. Without known
    failing tests the judge's own order stands (type and lint checks are the quick ones)."""
    plugin_dir = scratch / "fastred"
    plugin_dir.mkdir(exist_ok=True)
    (plugin_dir / "orchbench_first.py").write_text(_FIRST_PLUGIN)
    addopts = f"{run.env.get('PYTEST_ADDOPTS', '')} -x -p orchbench_first".strip()  # after the judge's own
    fast = {"PYTEST_ADDOPTS": addopts, "ORCHBENCH_FIRST_TESTS": "\n".join(first_tests),
            "PYTHONPATH": run.env["PYTHONPATH"] + os.pathsep + str(plugin_dir)}
    run.readonly = [*run.readonly, plugin_dir]  # the sandbox shows a command only what it binds
    ordered = sorted(spec.commands, key=lambda c: c.parser != "pytest") if first_tests else list(spec.commands)
    results: list[tuple[CommandResult, guard.Evidence]] = []
    for cmd in ordered:
        run.extra_env = fast
        ran = run_command(run, cmd)
        if cmd.parser == "pytest" and ran[0].exit_code in _NOT_A_TEST_RESULT:
            # An internal or usage error, or no tests, may come from the additions (-x, the plugin)
            # rather than from the state: only the judge's own command may call it red.
            run.extra_env = {}
            ran = run_command(run, cmd)
        results.append(ran)
        if cmd.required and ran[0].exit_code != 0:
            break
    run.extra_env = {}
    return results, ordered[: len(results)]


_NOT_A_TEST_RESULT = (3, 4, 5)  # pytest's internal error, usage error, no tests collected


def verdict_json(v: Verdict) -> str:
    return json.dumps(v.model_dump(mode="json"), indent=2)
