"""The two facts that make proving generated tasks fast: a command's result is kept by tree content
(a reference that restores the base reuses the base's run), and a red proof stops at the first failing
required command with pytest's -x and the known failing tests first — the same verdict either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchbench.judge.run import run_judge
from orchbench.sandbox import sandbox_available
from orchbench.tasks.spec import parse_task
from orchbench.tasks.workspace import workspace

TESTS = """
def test_a():
    assert True


def test_b():
    assert False, "b fails"


def test_c():
    assert False, "c fails"
"""


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ORCHBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ORCHBENCH_WORKSPACES", raising=False)
    return tmp_path / "cache"


def _task(tmp_path: Path, log: Path, tests: str = TESTS):  # type: ignore[no-untyped-def]
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "tests" / "test_x.py").write_text(tests)
    counter = f"open({str(log)!r}, 'a').write('run\\n')"
    return parse_task({
        "name": "fast", "prompt": "-", "source": {"path": str(repo)}, "env": {"packages": ["pytest"]},
        "judge": {"commands": [
            {"name": "count", "run": ["python", "-c", counter]},
            {"name": "pytest", "run": ["python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
             "parser": "pytest"}]},
    }, origin=str(tmp_path / "fast.toml"))


def test_command_results_are_reused_by_tree_content(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    task = _task(tmp_path, log)
    with workspace(task, stage="base") as ws:
        first = run_judge(ws, cache=False, commands_only=True, unsafe_no_sandbox=True, command_cache=True)
    with workspace(task) as ws:  # another workspace, same bytes: the commands do not run again
        second = run_judge(ws, cache=False, unsafe_no_sandbox=True, command_cache=True)
    assert log.read_text() == "run\n"
    assert [c.exit_code for c in first.commands] == [c.exit_code for c in second.commands] == [0, 1]
    with workspace(task) as ws:
        (ws.root / "tests" / "test_x.py").write_text(TESTS + "\n")  # other content: they run
        run_judge(ws, cache=False, unsafe_no_sandbox=True, command_cache=True)
    assert log.read_text() == "run\nrun\n"


SANDBOXES = [True, pytest.param(False, marks=pytest.mark.skipif(not sandbox_available(), reason="no bubblewrap"))]


@pytest.mark.parametrize("unsafe", SANDBOXES)
def test_fast_red_gives_the_same_verdict_sooner(tmp_path: Path, unsafe: bool) -> None:
    task = _task(tmp_path, tmp_path / "runs.log")
    with workspace(task) as ws:
        full = run_judge(ws, cache=False, command_cache=False, unsafe_no_sandbox=unsafe)
        fast = run_judge(ws, cache=False, unsafe_no_sandbox=unsafe, fail_fast=True,
                         first_tests=["tests/test_x.py::test_c"])
    assert not full.passed and not fast.passed
    assert [c.name for c in fast.commands] == ["pytest"]  # the known failure first, nothing after it
    assert fast.commands[0].counts.get("failed") == 1 and full.commands[1].counts.get("failed") == 2
    assert "test_c" in fast.commands[0].output_tail and "test_b" not in fast.commands[0].output_tail
    green = _task(tmp_path / "green", tmp_path / "runs2.log", TESTS.replace("assert False", "assert True"))
    with workspace(green) as ws:
        ok = run_judge(ws, cache=False, unsafe_no_sandbox=unsafe, fail_fast=True,
                       first_tests=["tests/test_x.py::test_c"])
    assert ok.passed and ok.commands[0].counts.get("passed") == 3  # a green suite still runs every test


def test_fast_red_never_takes_a_usage_error_of_its_own_for_red(tmp_path: Path) -> None:
    """A state that passes stays green when the fail-fast additions make pytest refuse to start."""
    green = _task(tmp_path, tmp_path / "runs.log", TESTS.replace("assert False", "assert True"))
    (tmp_path / "repo" / "tests" / "conftest.py").write_text(
        "import os, pytest\nif '-x' in os.environ.get('PYTEST_ADDOPTS', ''):\n"
        "    raise pytest.UsageError('this suite takes no -x')\n")
    with workspace(green) as ws:
        ok = run_judge(ws, cache=False, unsafe_no_sandbox=True, fail_fast=True)
    assert ok.passed, ok.failure_reasons


@pytest.mark.parametrize(("provenance", "runs"), [({}, "run\n"), ({"kind": "repair"}, "")])
def test_a_generated_tasks_setup_is_proven_red_fail_fast(tmp_path: Path, provenance: dict[str, str],
                                                         runs: str) -> None:
    from orchbench.tasks.check import verify_setup_red

    log = tmp_path / "runs.log"
    log.write_text("")
    counter = f"open({str(log)!r}, 'a').write('run\\n')"
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "app.py").write_text("X = 1\n")
    task = parse_task({
        "name": "red", "prompt": "-", "source": {"path": str(tmp_path / "repo")}, "provenance": provenance,
        "judge": {"commands": [{"name": "lint", "run": ["python", "-c", "raise SystemExit(1)"]},
                               {"name": "count", "run": ["python", "-c", counter]}]},
    }, origin=str(tmp_path / "red.toml"))
    step = verify_setup_red(task, unsafe_no_sandbox=True)
    assert step.ok and step.verdict and not step.verdict.passed
    assert log.read_text() == runs  # a written task is judged in full; a generated one stops at the red


def test_fast_red_keeps_the_judges_own_pytest_options(tmp_path: Path) -> None:
    task = _task(tmp_path, tmp_path / "runs.log")
    task.judge.env["PYTEST_ADDOPTS"] = "--deselect tests/test_x.py::test_b"
    with workspace(task) as ws:
        fast = run_judge(ws, cache=False, unsafe_no_sandbox=True, fail_fast=True)
    tail = fast.commands[-1].output_tail
    assert not fast.passed and "test_c" in tail and "test_b" not in tail, tail
