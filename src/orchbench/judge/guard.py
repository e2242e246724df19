"""Evidence from the test runner, gathered by the judge's guard (judge/guard_runtime.py).

The judge writes the guard and a sitecustomize that installs it into a directory outside the
workspace, bound read-only into the sandbox and put first on PYTHONPATH (ahead of the workspace), and
names the guard in PYTEST_PLUGINS. Each command gets a fresh report directory; afterwards the judge
reads what the runner really did: which tests ran with which outcome, whether the run reached its
end, and whether the runner was tampered with. The verdict then depends on that evidence, not on the
exit status or the summary line the process printed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchbench.judge import guard_runtime
from orchbench.judge.rules import skip_markers, test_names

GUARD_MODULE = "orchbench_judge_guard"
_SITECUSTOMIZE = f"import {GUARD_MODULE}\n{GUARD_MODULE}.install()\n"
_RUNNER_WORD = re.compile(r"(?<![\w.-])(?:py\.test|pytest|unittest)(?![\w-])")
_RANK = {"passed": 0, "xfailed": 1, "skipped": 2, "xpassed": 3, "failed": 4, "error": 5}
_MAX = 10


def guard_dir(base: Path) -> Path:
    """The guard's files, written once per guard version under `base` (outside every workspace)."""
    source = Path(guard_runtime.__file__).read_bytes()
    d = base / "judge-guard" / hashlib.sha256(source + _SITECUSTOMIZE.encode()).hexdigest()[:16]
    if not (d / "sitecustomize.py").is_file():
        d.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=d.parent, prefix=".tmp-"))
        (tmp / f"{GUARD_MODULE}.py").write_bytes(source)
        (tmp / "sitecustomize.py").write_text(_SITECUSTOMIZE)
        try:
            os.replace(tmp, d)
        except OSError:  # another judge wrote it first
            shutil.rmtree(tmp, ignore_errors=True)
    return d


def guard_env(env: dict[str, str], guard: Path, reports: Path, root: Path) -> dict[str, str]:
    out = dict(env)
    out["PYTHONPATH"] = os.pathsep.join(p for p in (str(guard), env.get("PYTHONPATH", "")) if p)
    plugins = [p for p in env.get("PYTEST_PLUGINS", "").split(",") if p]
    out["PYTEST_PLUGINS"] = ",".join([GUARD_MODULE, *plugins])
    out["ORCHBENCH_GUARD_REPORTS"] = str(reports)
    out["ORCHBENCH_GUARD_ROOT"] = str(root)
    return out


def new_report_dir(scratch: Path) -> Path:
    d = scratch / "reports" / uuid.uuid4().hex
    d.mkdir(parents=True)
    return d


@dataclass
class Evidence:
    """What the guard saw during one command."""

    runners: list[str] = field(default_factory=list)  # "pytest" / "unittest", per process that ran one
    finished: bool = False  # a runner reached its end in a non-worker process
    outcomes: dict[str, str] = field(default_factory=dict)  # test id -> worst outcome
    tampered: list[str] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes.values() if o == outcome)


def read_reports(d: Path) -> Evidence:
    ev = Evidence()
    for f in sorted(d.glob("*.jsonl")) if d.is_dir() else []:
        for line in f.read_text(errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if not isinstance(rec, dict):
                continue
            kind = rec.get("kind")
            if kind == "runner":
                ev.runners.append(str(rec.get("runner")))
            elif kind == "finish" and not rec.get("worker"):
                ev.finished = True
            elif kind == "tamper" and str(rec.get("what")) not in ev.tampered:
                ev.tampered.append(str(rec.get("what")))
            elif kind == "test":
                tid, outcome = str(rec.get("id")), str(rec.get("outcome"))
                if _RANK.get(outcome, 9) >= _RANK.get(ev.outcomes.get(tid, "passed"), 0):
                    ev.outcomes[tid] = outcome
    shutil.rmtree(d, ignore_errors=True)
    return ev


def runs_tests(argv: list[str], parser: str | None) -> bool:
    """A command the judge expects a test runner in: parsed as pytest, or naming pytest/unittest."""
    return parser == "pytest" or any(_RUNNER_WORD.search(a) for a in argv)


def command_reasons(name: str, exit_code: int, ev: Evidence, base_passed: int | None) -> list[str]:
    """Failure reasons for one test-runner command, from its evidence alone."""
    out = [f"runner-tampered: {name}: {what}" for what in ev.tampered[:_MAX]]
    if not ev.runners:
        return [*out, (f"tests-missing: {name} ran no test runner the judge could observe "
                      "(a shadowed or replaced runner, or none at all)")]
    if not ev.finished:
        out.append(f"tests-missing: {name}: the test run never reached its end (the process was ended early)")
    if not ev.outcomes:
        out.append(f"tests-missing: {name} ran no test")
    bad = sorted(t for t, o in ev.outcomes.items() if o in ("failed", "error"))
    if bad and exit_code == 0:
        out.append(f"command-output-mismatch: {name} exited 0 but {len(bad)} test(s) failed (first: {bad[0]})")
    passed = ev.count("passed")
    if base_passed is not None and ev.outcomes and passed < base_passed:
        out.append(f"tests-missing: {name} passed {passed} tests, the base passes {base_passed}")
    return out


def _dotted_tail(test_id: str) -> str:
    """'tests/test_a.py::C::test_x[1]' and 'tests.test_a.C.test_x' both -> 'test_a.C.test_x'."""
    if "::" in test_id:
        path, _, rest = test_id.partition("::")
        stem = path.rsplit("/", 1)[-1].removesuffix(".py")
        return f"{stem}.{rest.split('[', 1)[0].replace('::', '.')}"
    return test_id


def protected_tests(ws: Any) -> dict[str, bool]:
    """'file.py::[Class::]test' -> may it be skipped/xfailed (only if the protected file itself says so)."""
    out: dict[str, bool] = {}
    for rel in sorted(getattr(ws, "protected", {})):
        if not rel.endswith(".py"):
            continue
        src = ws.original(rel)
        names = test_names(src) or set()
        may_skip = skip_markers(src) > 0
        for n in sorted(names):
            out[f"{rel}::{n}"] = may_skip
    return out


def protected_reasons(expected: dict[str, bool], evidence: list[Evidence]) -> list[str]:
    """Every test of the protected files must have run, and passed unless its own file skips it."""
    seen: dict[str, str] = {}
    for ev in evidence:
        for tid, outcome in ev.outcomes.items():
            key = _dotted_tail(tid)
            if _RANK.get(outcome, 9) >= _RANK.get(seen.get(key, "passed"), 0):
                seen[key] = outcome
    missing, wrong = [], []
    for tid, may_skip in expected.items():
        key = _dotted_tail(tid)
        tail = [k for k in seen if k == key or k.endswith("." + key)]
        if not tail:
            missing.append(tid)
            continue
        worst = max((seen[k] for k in tail), key=lambda o: _RANK.get(o, 9))
        if worst != "passed" and not (may_skip and worst in ("skipped", "xfailed")):
            wrong.append(f"{tid} {worst}")
    out = [f"tests-missing: {t} (protected) did not run" for t in missing[:_MAX]]
    out += [f"protected-test-not-passed: {t}" for t in wrong[:_MAX]]
    ran = sum(len(ev.outcomes) for ev in evidence)
    if expected and ran < len(expected):
        out.append(f"tests-missing: {ran} test(s) ran, fewer than the {len(expected)} the protected files hold")
    return out


def too_fast(name: str, seconds: float, base_seconds: float | None) -> str | None:
    """A suite that runs in a small fraction of the base's time did not run what the base ran. The
    base was timed on this machine but maybe under another load (typer's suite: 140 s idle, 875 s
    with eight jobs on two cores), hence a tenth: the issue's attack ran in 2 % of the time."""
    if base_seconds is None or base_seconds < 5 or seconds >= 0.1 * base_seconds:
        return None
    return (f"suite-too-fast: {name} took {seconds:.1f} s, {100 * seconds / base_seconds:.0f}% of the "
            f"base's {base_seconds:.1f} s")


@dataclass
class BaseRecord:
    """Per command: tests the base passes and the seconds it took (when known)."""

    passed: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def base_record(task: Any) -> BaseRecord:
    """From the base verdict `tasks check` keeps (measured here), else the task's `base_counts`."""
    rec = BaseRecord()
    for key, value in (getattr(task, "base_counts", None) or {}).items():
        if key.endswith("_passed"):
            rec.passed[key.removesuffix("_passed")] = int(value)
    source = getattr(task, "source", None)
    if source is None or (source.path and not getattr(task, "origin", None)):
        return rec  # a task built in memory: no base of its own to look up
    try:
        from orchbench.tasks.check import base_verdict

        verdict = base_verdict(task)
    except Exception:  # noqa: BLE001 - an unreadable base record only means "unknown"
        verdict = None
    if verdict is not None and verdict.passed:
        for c in verdict.commands:
            rec.seconds[c.name] = c.duration_s
            if "passed" in c.counts:
                rec.passed[c.name] = c.counts["passed"]
    return rec
