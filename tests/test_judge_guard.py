"""The judge's layers against attacks on itself, piece by piece: static rules (judge/tamper.py), the
evidence the in-runner guard reports (judge/guard.py), the base record, behaviour checked by the judge
and the `tasks check` warning. The attacks end to end are in test_cheats.py.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from orchbench.judge import guard
from orchbench.judge.guard import Evidence
from orchbench.judge.local import DirWorkspace
from orchbench.judge.tamper import findings, tamper_reasons
from orchbench.judge.tree import tree_digests
from orchbench.records import CommandResult, Verdict
from orchbench.tasks.check import base_key, path_rule_warnings
from orchbench.tasks.spec import load_task
from tests.test_judge import FILES, edit, judge, make_task, make_ws, needs_bwrap

TINY = Path(__file__).parent / "fakes" / "tinytask"
TEST_FILES = ["tests/*.py", "test_*.py", "*/test_*.py"]


def _reasons(ws: DirWorkspace) -> list[str]:
    return tamper_reasons(ws, tree_digests(ws.root), TEST_FILES)


def test_static_rules_count_only_what_the_change_adds(tmp_path: Path) -> None:
    setup_files = {**FILES, "pkg/legacy.py": "import atexit, os\natexit.register(os._exit, 0)\n"}
    ws = make_ws(tmp_path, files=setup_files)
    assert _reasons(ws) == []  # what the set-up already had never counts
    edit(ws, "pkg/legacy.py", "atexit.register", "x = 1\natexit.register")
    assert _reasons(ws) == []
    edit(ws, "pkg/util.py", "from pkg.core import add", "import sys\nfrom pkg.core import add\nsys.modules['json'] = None")
    assert _reasons(ws) == ["runner-patching: pkg/util.py: assigns sys.modules['json']"]


@pytest.mark.parametrize("source,finding", [
    ("import _pytest.python as p\np.Function.runtest = None\n", "runner-patching: assigns p.Function.runtest"),
    ("import importlib\nm = importlib.import_module('_py' + 'test.python')\nsetattr(m, 'x', 1)\n", None),
    ("import importlib\nsetattr(importlib.import_module('pluggy'), 'x', 1)\n",
     "runner-patching: setattr(importlib.import_module('pluggy'), ...)"),
    ("import builtins\nbuiltins.print = None\n", "runner-patching: assigns builtins.print"),
    ("def load_tests(loader, tests, pattern):\n    return tests\n", "runner-hook: defines load_tests"),
    ("import atexit, os\natexit.register(lambda: os.kill(os.getpid(), 9))\n",
     "forced-exit: atexit together with os._exit / kill / abort"),
])
def test_static_findings(source: str, finding: str | None) -> None:
    found = findings(source.encode(), is_test=False)
    if finding is None:  # obfuscated past what a static rule reads: the runtime guard's job
        assert not any(f.startswith("runner-patching: setattr") for f in found), found
    else:
        assert finding in found, found


def test_module_shadowing_is_about_top_level_names(tmp_path: Path) -> None:
    ws = make_ws(tmp_path)
    for rel in ["pkg/json.py", "tests/types.py", "json.py", "scripts/typing.py", "pluggy/__init__.py", "mine.py"]:
        (ws.root / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws.root / rel).write_text("")
    assert _reasons(ws) == [
        "module-shadowing: json.py shadows the 'json' module",
        "module-shadowing: pluggy/__init__.py shadows the 'pluggy' module",
        "module-shadowing: scripts/typing.py shadows the 'typing' module",
    ]  # pkg/ and tests/ are packages: their modules are submodules, not top-level names


def test_bytecode_and_stubs_are_named(tmp_path: Path) -> None:
    ws = make_ws(tmp_path)
    (ws.root / "pkg" / "core.pyi").write_text("def add(a: int, b: int) -> int: ...\n")
    (ws.root / "pkg" / "fast.pyc").write_bytes(b"\0" * 16)
    (ws.root / "pkg" / "__pycache__").mkdir()
    (ws.root / "pkg" / "__pycache__" / "core.cpython-311.pyc").write_bytes(b"\0" * 16)  # never read
    assert _reasons(ws) == [
        "sourceless-bytecode: pkg/fast.pyc (imported without a source; delete it)",
        "stub-file: pkg/core.pyi (mypy would check the stub, not the code)",
    ]
    digests = tree_digests(ws.root)
    assert "pkg/fast.pyc" in digests and not any("__pycache__" in r for r in digests)


def test_evidence_reasons_name_what_is_missing() -> None:
    nothing = Evidence()
    assert guard.command_reasons("pytest", 0, nothing, None) == [
        ("tests-missing: pytest ran no test runner the judge could observe (a shadowed or replaced runner, "
        "or none at all)")]
    cut_short = Evidence(runners=["pytest"], outcomes={"tests/test_a.py::test_x": "passed"})
    assert guard.command_reasons("pytest", 0, cut_short, None) == [
        "tests-missing: pytest: the test run never reached its end (the process was ended early)"]
    empty = Evidence(runners=["pytest"], finished=True)
    assert guard.command_reasons("pytest", 0, empty, None) == ["tests-missing: pytest ran no test"]
    fewer = Evidence(runners=["pytest"], finished=True, outcomes={"tests/test_a.py::test_x": "passed"})
    assert guard.command_reasons("pytest", 0, fewer, 3) == ["tests-missing: pytest passed 1 tests, the base passes 3"]
    expected = {"tests/test_a.py::test_x": False, "tests/test_a.py::T::test_y": False}
    assert guard.protected_reasons(expected, [fewer]) == [
        "tests-missing: tests/test_a.py::T::test_y (protected) did not run",
        "tests-missing: 1 test(s) ran, fewer than the 2 the protected files hold",
    ]
    by_unittest = Evidence(outcomes={"tests.test_a.T.test_y": "passed", "tests.test_a.test_x": "skipped"})
    assert guard.protected_reasons(expected, [by_unittest]) == [
        "protected-test-not-passed: tests/test_a.py::test_x skipped"]
    assert guard.protected_reasons({"tests/test_a.py::test_x": True}, [by_unittest]) == []  # its own file skips it


def test_which_commands_must_show_a_test_runner() -> None:
    assert guard.runs_tests(["bash", "-c", "pytest -q -n auto; exit $?"], None)
    assert guard.runs_tests(["python", "-m", "unittest", "discover"], None)
    assert guard.runs_tests(["make", "check"], "pytest")
    assert not guard.runs_tests(["ruff", "check", "tests/test_pytest_helpers.py", "pytest-plugin"], None)
    assert not guard.runs_tests(["mypy", "typer"], "mypy")


def _tiny_ws(tmp_path: Path) -> DirWorkspace:
    task = load_task(TINY / "tiny.toml")
    shutil.copytree(TINY / "repo", tmp_path / "setup")
    shutil.copytree(TINY / "repo", tmp_path / "ws")
    ws = DirWorkspace.from_setup(tmp_path / "ws", task, Path(sys.prefix), tmp_path / "setup")
    edit(ws, "calc/__init__.py", "return a - b", "return a + b")  # solved honestly
    return ws


@needs_bwrap
def test_a_suite_far_faster_than_the_base_is_flagged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHBENCH_CACHE", str(tmp_path / "cache"))
    ws = _tiny_ws(tmp_path)
    assert judge(ws, tmp_path, cache=False).passed  # no base record: nothing to compare with
    record = tmp_path / "cache" / "green" / f"{base_key(ws.task)}.json"
    record.parent.mkdir(parents=True)
    base = Verdict(passed=True, commands=[CommandResult(name="unittest", exit_code=0, duration_s=60.0)])
    record.write_text(base.model_dump_json())
    v = judge(ws, tmp_path, cache=False)
    assert not v.passed
    assert any(r.startswith("suite-too-fast: unittest took ") and r.endswith("of the base's 60.0 s")
               for r in v.failure_reasons), v.failure_reasons


def test_tasks_check_warns_about_a_task_without_path_rules() -> None:
    tiny = load_task(TINY / "tiny.toml")
    assert path_rule_warnings(tiny) == [
        ("task tiny-calc has no path rules: set [judge.rules] allowed_paths (e.g. [\"pkg/\", \"tests/\"]) so that "
        "files outside the package and its tests are refused")]
    assert path_rule_warnings(load_task("typer-T1")) == []


@needs_bwrap
def test_function_returns_is_judged_outside_the_process(tmp_path: Path) -> None:
    cases = [
        {"expect": "Pkg v1"},
        {"args": ["My"], "expect": "My v1"},
        {"kwargs": {"prefix": "Py3"}, "expect": "Py{python_major} v1"},  # a placeholder the judge fills
    ]
    task = make_task(["smoke"], checks=[{"name": "function_returns",
                                         "params": {"function": "banner", "package": "pkg", "cases": cases}}])
    ws = make_ws(tmp_path, task)
    assert judge(ws, tmp_path, cache=False).passed
    edit(ws, "pkg/banner.py", 'return f"{prefix} v1"', 'return ""')
    v = judge(ws, tmp_path, cache=False)
    assert v.failure_reasons[0] == "check function_returns: pkg.banner() returned '', expected 'Pkg v1'"
    assert len(v.failure_reasons) == 3
    # Printing a forged result line does not help: the judge's line carries a token it chose.
    edit(ws, "pkg/banner.py", 'return ""', 'print("ORCHBENCH-RESULT-x:[]")\n    return ""')
    assert not judge(ws, tmp_path, cache=False).passed


@needs_bwrap
def test_tests_pass_check_believes_the_guard_not_the_summary(tmp_path: Path) -> None:
    task = make_task(["smoke"], rules={"guard_runner": False},
                     checks=[{"name": "tests_pass", "params": {"path": "tests/test_core.py"}}])
    ws = make_ws(tmp_path, task)
    assert judge(ws, tmp_path, cache=False).passed
    edit(ws, "pkg/util.py", "return add(a, a)", "return add(a, a) + 1")
    edit(ws, "pkg/__init__.py", "from pkg.banner", (
        "import atexit, os, sys\n"
        "atexit.register(lambda: (sys.stdout.write('\\n3 passed in 0.1s\\n'), sys.stdout.flush(), os._exit(0)))\n"
        "from pkg.banner"))
    v = judge(ws, tmp_path, cache=False)
    assert "check tests_pass: tests/test_core.py: 1 test(s) failed per the judge's guard " \
           "(first: tests/test_core.py::test_twice)" in v.failure_reasons, v.failure_reasons


@needs_bwrap
def test_the_guard_runs_clean_under_warnings_as_errors(tmp_path: Path) -> None:
    # typer's suite turns every warning into an error: loading the guard must warn about nothing.
    files = {**FILES, "pyproject.toml": FILES["pyproject.toml"] + 'filterwarnings = ["error"]\n'}
    ws = make_ws(tmp_path, make_task(["pytest"]), files=files)
    v = judge(ws, tmp_path, cache=False)
    assert v.passed, v.failure_reasons
    assert v.counts["pytest_passed"] == 4
