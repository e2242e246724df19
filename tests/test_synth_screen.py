"""Screening keeps mutants apart: what one run leaves in the copy (a test suite's saved state, such as
Hypothesis's example database) is gone before the next mutant is screened."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchbench.sandbox import sandbox_available
from orchbench.tasks.mutate import Mutant, mutants
from orchbench.tasks.pytestargs import judge_pytest_args
from orchbench.tasks.screen import ScreenEnv, screen
from orchbench.tasks.spec import Env
from orchbench.tasks.venv import ensure_venv

CODE = '''def double(x: int) -> int:
    return x * 2


def half(x: int) -> int:
    return x // 2
'''

# Fails when a state file from an earlier run is present, as a replayed saved example would.
TEST = '''import os

from calc import double


def test_double_without_leftovers():
    assert not os.path.exists(".saved-state")
    open(".saved-state", "w").close()
    assert double(2) == 4
'''


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ORCHBENCH_WORKSPACES", raising=False)


def _env(tmp_path: Path, test: str = TEST, **kw: Any) -> ScreenEnv:
    """A base of `calc` and one test file, and a screening set-up for it (kw: ScreenEnv fields)."""
    base = tmp_path / "base"
    (base / "calc").mkdir(parents=True)
    (base / "calc" / "__init__.py").write_text(CODE)
    (base / "tests").mkdir()
    (base / "tests" / "test_calc.py").write_text(test)
    venv = ensure_venv(Env(packages=["pytest", "pytest-cov"]))
    return ScreenEnv(**{"base": str(base), "venv": str(venv), "judge_env": {}, "pytest": ["python", "-m", "pytest"],
                        "unsafe_no_sandbox": not sandbox_available(), **kw})


def _mutant_of(function: str) -> Mutant:
    return next(m for m in mutants("calc/__init__.py", CODE.encode()) if m.function == function)


def test_each_mutant_is_screened_in_a_copy_equal_to_the_base(tmp_path: Path) -> None:
    env = _env(tmp_path)
    # Mutants of `half`, which no test calls: each one survives, unless a leftover fails the test.
    ms = [m for m in mutants("calc/__init__.py", CODE.encode()) if m.function == "half"][:2]
    assert len(ms) == 2
    test = ["tests/test_calc.py::test_double_without_leftovers"]
    results = [screen(env, m, test, str(tmp_path / "screen" / f"{m.id}.json")) for m in ms]
    assert [r.status for r in results] == ["survived", "survived"], [r.tail for r in results]
    assert not (tmp_path / "base" / ".saved-state").exists()


def test_screening_runs_with_the_judges_own_pytest_options(tmp_path: Path) -> None:
    env = _env(tmp_path, judge_env={"PYTEST_ADDOPTS": "-k no_such_test"})
    r = screen(env, _mutant_of("double"), ["tests/test_calc.py"], str(tmp_path / "screen.json"))
    assert r.status == "error"  # the judge's -k selects nothing here: no test ran, so nothing caught it


def test_a_test_the_judge_deselects_never_catches_a_mutant(tmp_path: Path) -> None:
    own = judge_pytest_args([["pytest", "-q", "--deselect", "tests/test_calc.py::test_double", "tests"]])
    env = _env(tmp_path, "from calc import double\n\n\ndef test_double():\n    assert double(2) == 4\n",
               options=own.options, paths=own.paths)
    r = screen(env, _mutant_of("double"), ["tests/test_calc.py::test_double"], str(tmp_path / "screen.json"))
    assert r.status != "killed"


def test_a_mutant_that_hangs_is_remembered_and_never_caught(tmp_path: Path) -> None:
    env = _env(tmp_path, "import time\n\nfrom calc import double\n\n\ndef test_double():\n"
                         "    time.sleep(60)\n    assert double(2) == 4\n", timeout_s=3)
    m, kept = _mutant_of("double"), tmp_path / "screen.json"
    first = screen(env, m, ["tests/test_calc.py"], str(kept))
    assert first.status == "timeout" and kept.exists()
    assert screen(env, m, ["tests/test_calc.py"], str(kept)) == first  # from the file, without waiting again
