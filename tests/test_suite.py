"""Suites: a directory or a TOML list of tasks, wherever tasks are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchbench.errors import UserError
from orchbench.runner.experiment import load_experiment
from orchbench.tasks.suite import expand, is_suite, load_suite
from tests.helpers import run_cli
from tests.test_tasks_support import make_repo, task_toml


def _suite_dir(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "src")
    d = tmp_path / "suite"
    d.mkdir()
    for name in ("b-task", "a-task"):
        (d / f"{name}.toml").write_text(task_toml(repo).replace('name = "mini"', f'name = "{name}"'))
    return d


def test_a_directory_is_a_suite_of_its_task_files_in_order(tmp_path: Path) -> None:
    d = _suite_dir(tmp_path)
    s = load_suite(d)
    assert [t.name for t in s.tasks] == ["a-task", "b-task"]
    assert is_suite(d) and not is_suite(d / "a-task.toml")


def test_a_suite_file_lists_paths_and_builtin_names(tmp_path: Path) -> None:
    d = _suite_dir(tmp_path)
    (d / "suite.toml").write_text('name = "mine"\ntasks = ["b-task.toml", "typer-T3"]\n')
    s = load_suite(d)  # the listing wins over the directory's files
    assert s.name == "mine" and [t.name for t in s.tasks] == ["b-task", "typer-T3"]
    assert [t.name for t in expand([str(d / "suite.toml"), "typer-T1"])] == ["b-task", "typer-T3", "typer-T1"]


def test_bad_suites_fail_with_one_line(tmp_path: Path) -> None:
    d = _suite_dir(tmp_path)
    (d / "suite.toml").write_text('tasks = ["b-task.toml", "b-task.toml"]\n')
    with pytest.raises(UserError, match="appears twice"):
        load_suite(d)
    (d / "suite.toml").write_text('tasks = ["nope.toml"]\n')
    with pytest.raises(UserError, match=r"key 'tasks\[0\]'"):
        load_suite(d)
    (d / "suite.toml").write_text('tasks = ["b-task.toml"]\nextra = 1\n')
    with pytest.raises(UserError, match="unknown key 'extra'"):
        load_suite(d)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="needs task TOML files"):
        load_suite(empty)


def test_cli_lists_a_suite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["tasks", "list", str(_suite_dir(tmp_path))], capsys)
    assert code == 0 and "a-task" in out and "b-task" in out and "typer-T1" not in out


def test_an_experiment_accepts_a_suite(tmp_path: Path) -> None:
    d = _suite_dir(tmp_path)
    exp = tmp_path / "exp.toml"
    exp.write_text('arms = ["oracle"]\ntasks = ["suite", "typer-T1"]\n')
    resolved = load_experiment(exp)
    assert list(resolved.tasks) == ["a-task", "b-task", "typer-T1"]
    assert len(resolved.cells) == 3
    del d
