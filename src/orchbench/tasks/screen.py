"""Screening mutants cheaply: which tests cover which lines (one coverage run of the base), then each
mutant runs only the tests that execute its lines, in a private copy of the base, sandboxed.

A mutant is *killed* when that selection fails (exit 1: tests failed, never a usage error or a
timeout). Every result is kept on disk per mutant, so an interrupted synthesis resumes where it was.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from orchbench.sandbox import Limits, run_sandboxed
from orchbench.tasks.mutate import Mutant, parses
from orchbench.tasks.venv import env_for
from orchbench.tasks.workspace import copy_tree, workspaces_root

_FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.MULTILINE)


@dataclass
class Screened:
    mutant_id: str
    status: str  # "killed" | "survived" | "error" | "timeout"
    failing_tests: list[str] = field(default_factory=list)
    seconds: float = 0.0
    tail: str = ""


@dataclass
class ScreenEnv:
    """What every screening run needs (picklable: sent to worker processes)."""

    base: str  # pristine tree
    venv: str
    judge_env: dict[str, str]
    pytest: list[str]  # argv prefix, e.g. ["python", "-m", "pytest"]
    unsafe_no_sandbox: bool
    timeout_s: float = 180.0
    xdist: bool = False  # the venv has pytest-xdist: screening and coverage runs turn it off (-n 0)
    options: list[str] = field(default_factory=list)  # the judge's own pytest options (tasks/pytestargs.py)
    paths: list[str] = field(default_factory=list)  # and what it collects


def _run(env: ScreenEnv, root: Path, argv: list[str], scratch: Path, timeout: float, hash_seed: str = "") -> Any:
    e = env_for(root, Path(env.venv), dict(env.judge_env))
    e.update({"PYTHONPYCACHEPREFIX": str(scratch / "pycache"), "COVERAGE_FILE": str(scratch / ".coverage"),
              # the judge's own PYTEST_ADDOPTS (a --hypothesis-seed, say) holds here too; no one else's
              "PYTEST_ADDOPTS": env.judge_env.get("PYTEST_ADDOPTS", ""),
              **({"PYTHONHASHSEED": hash_seed} if hash_seed else {})})
    return run_sandboxed(argv, cwd=root, writable=[root, scratch], readonly=[Path(env.venv)], env=e,
                         timeout_s=timeout, limits=Limits(cpu_s=int(timeout) * 4 + 60, processes=2048,
                                                          memory_mb=8192),
                         unsafe_no_sandbox=env.unsafe_no_sandbox)


_READ_CONTEXTS = """
import json, os, sys
from coverage import CoverageData
data = CoverageData(basename=sys.argv[1]); data.read()
out = {}
for measured in sorted(data.measured_files()):
    # relative_files = true (typer's config) stores paths relative to the run's directory
    full = measured if os.path.isabs(measured) else os.path.join(sys.argv[2], measured)
    rel = os.path.relpath(os.path.realpath(full), sys.argv[2])
    if rel.startswith(".."):
        continue
    by_line = data.contexts_by_lineno(measured)
    out[rel] = {ln: sorted({c.rsplit("|", 1)[0] for c in ctxs if c}) for ln, ctxs in by_line.items()}
print(json.dumps(out))
"""


def coverage_map(env: ScreenEnv, paths: list[str], out: Path) -> dict[str, dict[int, list[str]]]:
    """relpath -> line -> test node ids that executed it, from one pytest-cov run of the whole suite.

    The run is serial, in the suite's own order, with a fixed hash seed: a line that only the first
    test in a process runs (behind a cache, a lazy import) is credited to that test, and under xdist
    which test that is would change from run to run, and so would the suite made from the map."""
    if out.exists():
        raw = json.loads(out.read_text())
        return {f: {int(k): v for k, v in lines.items()} for f, lines in raw.items()}
    with tempfile.TemporaryDirectory(prefix="synth-cov-", dir=workspaces_root()) as tmp:
        root, scratch = Path(tmp) / "repo", Path(tmp) / "scratch"
        copy_tree(Path(env.base), root)
        scratch.mkdir()
        cov = [f"--cov={p}" for p in paths]
        argv = [*env.pytest, "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *env.options, *cov,
                "--cov-context=test", "--cov-report=", *(["-n", "0"] if env.xdist else []), *env.paths]
        r = _run(env, root, argv, scratch, timeout=max(env.timeout_s * 20, 3600), hash_seed="0")
        data_file = scratch / ".coverage"
        if not data_file.exists():
            raise RuntimeError(f"the coverage run wrote no data (exit {r.exit_code}): {(r.stdout + r.stderr)[-600:]}")
        # Read with the venv's own coverage (pytest-cov brings it): orchbench itself does not need it.
        proc = subprocess.run([str(Path(env.venv) / "bin" / "python"), "-c", _READ_CONTEXTS, str(data_file),
                               os.path.realpath(root)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"could not read the coverage data: {proc.stderr.strip()[-400:]}")
        result = {f: {int(k): v for k, v in lines.items()} for f, lines in json.loads(proc.stdout).items()}
        if not any(tests for lines in result.values() for tests in lines.values()):
            raise RuntimeError("the coverage run recorded no per-test contexts for the package "
                               f"({len(result)} files measured); is pytest-cov installed in the judge venv?")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, sort_keys=True))
    return result


def tests_for(cov: dict[str, dict[int, list[str]]], m: Mutant) -> list[str]:
    lines = cov.get(m.file, {})
    found: set[str] = set()
    for ln in range(m.first_line, m.last_line + 1):
        found.update(lines.get(ln, []))
    return sorted(t for t in found if "::" in t)


_WORKER: dict[str, Path] = {}


def _private_copy(env: ScreenEnv) -> Path:
    """One copy of the base per worker process, reused for every mutant it screens."""
    root = _WORKER.get(env.base)
    if root is None or not root.exists():
        holder = Path(tempfile.mkdtemp(prefix=f"synth-{os.getpid()}-", dir=workspaces_root()))
        root = holder / "repo"
        copy_tree(Path(env.base), root)
        (holder / "scratch").mkdir()
        _WORKER[env.base] = root
    return root


def _forget_run(base: Path, root: Path) -> None:
    """Remove what a run left at the top of the copy (.hypothesis, .pytest_cache, ...): a test
    suite's saved state would make the next mutant's screening depend on this one's."""
    for extra in set(os.listdir(root)) - set(os.listdir(base)):
        path = root / extra
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() and not path.is_symlink() else path.unlink()


def screen(env: ScreenEnv, m: Mutant, tests: list[str], cache_file: str) -> Screened:
    """Run `tests` against the mutant; the file is restored afterwards whatever happens."""
    cached = Path(cache_file)
    if cached.exists():
        return Screened(**json.loads(cached.read_text()))
    root = _private_copy(env)
    target = root / m.file
    original = target.read_bytes()
    if not parses(m.apply(original)):
        return Screened(m.id, "error", tail="the mutant does not parse")
    try:
        target.write_bytes(m.apply(original))
        argv = [*env.pytest, "-q", "-p", "no:cacheprovider", "--maxfail=25", "-rfE", "-p", "no:randomly",
                *env.options, "--no-cov", *(["-n", "0"] if env.xdist else []), *tests]
        r = _run(env, root, argv, root.parent / "scratch", env.timeout_s)
    finally:
        target.write_bytes(original)
        shutil.rmtree(root.parent / "scratch" / "pycache", ignore_errors=True)
        _forget_run(Path(env.base), root)
    text = r.stdout + "\n" + r.stderr
    status = "timeout" if r.timed_out else {0: "survived", 1: "killed"}.get(r.exit_code, "error")
    failing = sorted(set(_FAILED.findall(text))) if status == "killed" else []
    if status == "killed" and not failing:
        status = "error"  # a failure we cannot name is not a test catching the bug
    out = Screened(m.id, status, failing, round(r.duration_s, 2), text[-300:] if status == "error" else "")
    # A timeout is kept too (it never counts as a catch either way): it is almost always a mutant
    # that hangs, a loop that no longer ends, and a resumed or repeated synthesis should not wait
    # out the limit for it again.
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(out)))
    tmp.replace(cached)
    return out
