"""The judge's guard inside a test run (copied next to a sitecustomize the judge puts first on PYTHONPATH).

It runs before any code under test is imported and does three things:
- evidence: every test outcome (pytest's reports, unittest's TestResult calls) goes, as it happens,
  to a JSON-lines file in a report directory outside the workspace; the judge compares it with the
  tests that must run. A runner that never finishes writes no `finish` record.
- stop: the runner's modules (`_pytest.*`, `pytest`, `pluggy`, `unittest.*`, this guard) get a
  module type that refuses attribute stores from code under the workspace; stdlib `unittest` is
  imported from outside the workspace, so a root `unittest.py` cannot stand in for it.
- detect: the identities of every function and class attribute of those modules (and of `builtins`)
  are recorded before collection, re-checked (and restored) once collection has imported the code
  under test, and checked again at the end; any difference is a `tamper` record.

CPython raises no audit event for class attribute stores (`Function.runtest = f`), so they cannot be
refused; they are undone and reported. What in-process code can still do is in docs/judge.md.
Standard library only: this file runs under the task's interpreter. PYTEST_DONT_REWRITE: it is
imported before pytest starts, so pytest must not try (and warn, an error under -W error) to rewrite it.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import types
from typing import Any

RUNNER_PREFIXES = ("_pytest", "pytest", "pluggy", "unittest", "xdist", "execnet", "orchbench_judge_guard")
_REPORTS = os.environ.get("ORCHBENCH_GUARD_REPORTS", "")
_ROOT = os.path.realpath(os.environ.get("ORCHBENCH_GUARD_ROOT", "/nonexistent")) + os.sep
_out: Any = None
_snapshot: dict[tuple[str, str, str], Any] = {}
_tampered: list[str] = []
_is_worker = False  # an xdist worker: its reports reach the controller, which records them


def _write(rec: dict[str, Any]) -> None:
    global _out
    if not _REPORTS:
        return
    if _out is None or _out.closed:
        fresh = _out is None
        _out = open(os.path.join(_REPORTS, f"{os.getpid()}.jsonl"), "a", buffering=1)  # noqa: SIM115
        # Closed at exit: left to the garbage collector it is a ResourceWarning in the suite's output
        # (an error where a suite's filterwarnings turns warnings into errors).
        atexit.register(_out.close)
        if fresh:
            _out.write(json.dumps({"kind": "start", "argv": sys.argv[:8]}) + "\n")
    _out.write(json.dumps(rec) + "\n")


_INSIDE: dict[str, str | None] = {}  # co_filename -> workspace-relative path, or None if outside


def _inside(filename: str) -> str | None:
    if filename not in _INSIDE:
        real = os.path.realpath(filename)  # relative names are relative to cwd, the workspace
        inside = not filename.startswith("<") and real.startswith(_ROOT)  # <frozen runpy>, <string>
        _INSIDE[filename] = real[len(_ROOT):] if inside else None
    return _INSIDE[filename]


def _from_workspace() -> str | None:
    """The workspace file of the innermost frame on the stack that lives under the workspace."""
    f: Any = sys._getframe(2)
    while f is not None:
        who = _inside(f.f_code.co_filename)
        if who is not None:
            return who
        f = f.f_back
    return None


def _is_runner(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in RUNNER_PREFIXES)


class _GuardedModule(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and sys.modules.get(f"{self.__name__}.{name}") is value:
            return super().__setattr__(name, value)  # the import system binding a submodule
        who = _from_workspace()
        if who is not None:
            _tamper(f"{self.__name__}.{name} set by {who}")
            raise AttributeError(f"orchbench judge: code under test may not patch the test runner ({self.__name__}.{name})")
        super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        who = _from_workspace()
        if who is not None:
            _tamper(f"{self.__name__}.{name} deleted by {who}")
            raise AttributeError(f"orchbench judge: code under test may not patch the test runner ({self.__name__}.{name})")
        super().__delattr__(name)


def _tamper(what: str) -> None:
    if what not in _tampered:
        _tampered.append(what)
        _write({"kind": "tamper", "what": what})


def _runner_modules() -> list[tuple[str, types.ModuleType]]:
    mods = [(n, m) for n, m in list(sys.modules.items()) if _is_runner(n) and isinstance(m, types.ModuleType)]
    return [*mods, ("builtins", sys.modules["builtins"])]


_DUNDER_CODE = frozenset({"__call__", "__init__", "__new__", "__eq__", "__hash__", "__bool__", "__iter__"})


def _code_like(value: Any) -> bool:
    return callable(value) or isinstance(value, (staticmethod, classmethod, property))


def protect() -> None:
    """Guard the runner modules loaded so far and record what their attributes are."""
    for name, mod in _runner_modules():
        if name != "builtins" and type(mod) is types.ModuleType:
            try:
                mod.__class__ = _GuardedModule
            except TypeError:
                pass
        for attr, value in list(vars(mod).items()):
            if not _code_like(value) or (attr.startswith("__") and attr != "__import__"):
                continue  # module state (flags, caches) changes legitimately; code does not
            _snapshot.setdefault((name, "", attr), (mod, value))
            if isinstance(value, type) and _is_runner(getattr(value, "__module__", "") or ""):
                for cattr, cval in list(vars(value).items()):
                    if _code_like(cval) and not (cattr.startswith("__") and cattr.endswith("__") and
                                                 cattr not in _DUNDER_CODE):
                        _snapshot.setdefault((name, attr, cattr), (value, cval))


def check(restore: bool) -> list[str]:
    """Attributes that differ from the snapshot (each also written as a `tamper` record)."""
    found = []
    for (mod, cls, attr), (owner, value) in list(_snapshot.items()):
        if cls == "" and sys.modules.get(mod) is not owner and mod != "builtins":
            found.append(f"sys.modules[{mod!r}] replaced")
            continue
        where = vars(owner)
        if where.get(attr, _snapshot) is not value:
            found.append(f"{mod}.{cls + '.' if cls else ''}{attr} replaced")
            if restore:
                try:
                    type.__setattr__(owner, attr, value) if isinstance(owner, type) else types.ModuleType.__setattr__(owner, attr, value)
                except (TypeError, AttributeError):
                    pass
    for what in found:
        _tamper(what)
    return found


# --- unittest ------------------------------------------------------------------------------------

def _unittest_record(outcome: str) -> Any:
    def record(self: Any, test: Any, *args: Any) -> None:
        _write({"kind": "test", "runner": "unittest", "id": test.id(), "outcome": outcome})
    return record


def _install_unittest() -> None:
    # Import the real unittest with the workspace off sys.path: a root unittest.py cannot shadow it.
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if not (os.path.realpath(p or ".") + os.sep).startswith(_ROOT)]
    try:
        from unittest import result as unittest_result
        from unittest.main import TestProgram
    finally:
        sys.path[:] = saved
    result = unittest_result.TestResult
    for meth, outcome in [("addSuccess", "passed"), ("addFailure", "failed"), ("addError", "error"),
                          ("addSkip", "skipped"), ("addExpectedFailure", "xfailed"),
                          ("addUnexpectedSuccess", "xpassed")]:
        orig = getattr(result, meth)
        rec = _unittest_record(outcome)

        def wrapped(self: Any, test: Any, *args: Any, _o: Any = orig, _r: Any = rec) -> Any:
            _r(self, test, *args)
            return _o(self, test, *args)
        setattr(result, meth, wrapped)
    orig_sub = result.addSubTest

    def add_subtest(self: Any, test: Any, subtest: Any, err: Any) -> Any:
        if err is not None:
            _write({"kind": "test", "runner": "unittest", "id": test.id(), "outcome": "failed"})
        return orig_sub(self, test, subtest, err)
    result.addSubTest = add_subtest  # type: ignore[method-assign]
    program = TestProgram
    orig_run = program.runTests

    def run_tests(self: Any) -> Any:
        _write({"kind": "runner", "runner": "unittest"})
        try:
            return orig_run(self)
        finally:
            check(restore=False)
            ran = getattr(getattr(self, "result", None), "testsRun", None)
            _write({"kind": "finish", "runner": "unittest", "ran": ran, "tampered": _tampered})
    program.runTests = run_tests  # type: ignore[method-assign]


# --- pytest (loaded as a plugin through PYTEST_PLUGINS) -------------------------------------------

def pytest_configure(config: Any) -> None:
    global _is_worker
    _is_worker = hasattr(config, "workerinput")  # set by xdist before configure, unlike its env var
    protect()
    _write({"kind": "runner", "runner": "pytest", "worker": _is_worker})


def pytest_collection_finish(session: Any) -> None:
    protect()  # runner modules imported during collection
    check(restore=True)


def pytest_runtest_logreport(report: Any) -> None:
    if _is_worker:
        return  # xdist hands every report to the controller, which records it
    if report.when == "call" or report.outcome != "passed":
        outcome = report.outcome
        if hasattr(report, "wasxfail"):
            outcome = "xfailed" if report.outcome == "skipped" else "xpassed"
        if report.when != "call" and report.outcome == "failed":
            outcome = "error"
        _write({"kind": "test", "runner": "pytest", "id": report.nodeid, "outcome": outcome})


def pytest_sessionfinish(session: Any, exitstatus: Any) -> None:
    check(restore=False)
    _write({"kind": "finish", "runner": "pytest", "worker": _is_worker, "exitstatus": int(exitstatus),
            "collected": getattr(session, "testscollected", None), "tampered": _tampered})


def install() -> None:
    """Called from the judge's sitecustomize, before the code under test exists in this process."""
    if not _REPORTS:
        return
    _install_unittest()
    protect()
