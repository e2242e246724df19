"""End to end on the real typer 0.26.8: `orchbench tasks check typer-T1 typer-T2 typer-T3`.

Slow (several full typer test-suite runs); CI runs it. The base repo, venv and base verdict are shared
by the three tasks (one fetch, one venv, one base run); it uses the user's cache, so a second run
re-runs only the oracles.
"""

from __future__ import annotations

import pytest

from orchbench.sandbox import sandbox_available
from orchbench.tasks.check import TaskCheck, check_task
from orchbench.tasks.spec import load_task
from orchbench.tasks.workspace import workspace

pytestmark = pytest.mark.slow


def test_t1_setup_applies_the_25_injections_deterministically() -> None:
    task = load_task("typer-T1")
    with workspace(task) as a, workspace(task) as b:
        assert [r["id"] for r in a.applied] == [r.id for r in task.setup.inject]
        for rule in task.setup.inject:
            assert (a.root / rule.file).read_bytes() == (b.root / rule.file).read_bytes()
            assert rule.code.strip() in (a.root / rule.file).read_text()
            assert a.original(rule.file) == (a.root / rule.file).read_bytes()


_RESULTS: dict[str, TaskCheck] = {}


# One test per task so each gets its own timeout (a full typer suite run is ~2 min on 2 idle cores;
# each task needs two, the first task also the shared base run).
@pytest.mark.timeout(2400)
@pytest.mark.parametrize("name", ["typer-T1", "typer-T2", "typer-T3"])
def test_tasks_check(name: str) -> None:
    result = check_task(load_task(name), unsafe_no_sandbox=not sandbox_available())
    _RESULTS[name] = result
    assert not result.broken, f"{name}: {result.broken_reason}"
    assert [s.step for s in result.steps] == ["base", "setup", "oracle"]
    base, red, green = (s.verdict for s in result.steps)
    assert base is not None and red is not None and green is not None
    assert base.passed and base.counts["mypy_errors"] == 0 and base.counts["ruff_errors"] == 0
    assert base.counts["pytest_passed"] >= 1350 and base.counts["pytest_failed"] == 0
    assert not red.passed and green.passed
    if name != "typer-T1" and "typer-T1" in _RESULTS:
        assert result.steps[0].cached  # one base verdict serves all three tasks
    if name == "typer-T1":
        assert red.counts["mypy_errors"] >= 10 and red.counts["ruff_errors"] >= 10
        assert red.counts["pytest_errors"] >= 5
    elif name == "typer-T2":
        assert any("function_moved" in r for r in red.failure_reasons)
    else:
        assert red.counts["pytest_failed"] >= 3
        assert green.counts["pytest_passed"] >= base.counts["pytest_passed"] + 3
