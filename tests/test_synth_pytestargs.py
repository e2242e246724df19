"""What synthesis keeps of the judge's pytest command: which tests count, not how they are run."""

from __future__ import annotations

import pytest

from orchbench.tasks.pytestargs import judge_pytest_args


@pytest.mark.parametrize(("commands", "options", "paths"), [
    ([["bash", "-c", "pytest -q --no-cov -n auto -p no:cacheprovider; exit $?"]], ["-p", "no:cacheprovider"], []),
    ([["python", "-m", "mypy", "pkg"], ["python", "-m", "pytest", "tests", "-k", "not slow", "-x", "-n4"]],
     ["-k", "not slow"], ["tests"]),
    ([[".venv/bin/pytest", "--deselect", "tests/t.py::f[a-b]", "-rfE", "--maxfail", "3", "--hypothesis-seed=0",
       "--cov=pkg", "--cov-report", "term", "-vv", "src/tests"]],
     ["--deselect", "tests/t.py::f[a-b]", "--hypothesis-seed=0"], ["src/tests"]),
    ([["ruff", "check", "."]], [], []),
])
def test_judge_pytest_args(commands: list[list[str]], options: list[str], paths: list[str]) -> None:
    got = judge_pytest_args(commands)
    assert (got.options, got.paths) == (options, paths)
