"""The task format: built-in tasks load, and malformed files get one line naming file, key, expectation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from orchbench.errors import UserError
from orchbench.tasks.spec import builtin_tasks, load_task
from tests.test_tasks_support import make_repo, task_toml


def test_builtin_tasks_load_with_their_parts() -> None:
    assert builtin_tasks() == ["typer-T1", "typer-T2", "typer-T3"]
    t1, t2, t3 = (load_task(n) for n in builtin_tasks())
    assert len(t1.setup.inject) == 25
    # typer.md heads the table "in 15 files", but its rows name 18 (13 under typer/, 5 tests).
    assert len({r.file for r in t1.setup.inject}) == 18
    assert sorted({r.category for r in t1.setup.inject}) == ["mypy", "pytest", "ruff"]
    assert all(r.expect_sha256 for r in t1.setup.inject)
    assert t1.judge.rules.allowed_paths == ["typer/", "tests/"]
    assert [c.name for c in t2.checks] == ["function_moved"]
    assert t3.protected == ["tests/test_t3_feature.py"]
    assert [f.path for f in t3.setup.files] == ["tests/test_t3_feature.py"]
    for t in (t1, t2, t3):
        assert t.source.pypi == "typer==0.26.8"
        assert [c.name for c in t.judge.commands if c.required] == ["mypy", "ruff", "pytest"]
        assert t.reference and all(step.tool in ("str_replace_editor", "bash") for step in t.reference)
        assert t.base_counts["pytest_passed"] == 1356


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "bad.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("old", "new", "key", "expect"),
    [
        ('name = "mini"', 'name = "mini"\nnmae = "x"', "'nmae'", "unknown key"),
        ('prompt = "Make the tests pass."', "", "'prompt'", "required key is missing"),
        ('timeout_s = 120', 'timeout_s = "soon"', "'judge.timeout_s'", "valid number"),
        ('category = "test"', 'category = "test"\nanchor = "middle"', "'setup.inject[0].anchor'",
         "'after_imports'"),
        ('category = "test"', 'category = "test"\nanchor = "after_def"', "'setup.inject[0]'", "needs target"),
        ('name = "unittest"', 'name = "unittest"\nrequird = false', "'judge.commands[0].requird'", "unknown key"),
        ('[source]', '[source]\npypi = "typer==1"', "'source'", "exactly one of pypi, git, path"),
        ('path = "', 'pypi = "typer"\n# "', "'source'", "pin a version"),
        ('tool = "str_replace_editor"', 'tool = "editor"', "'reference[0].tool'", "'bash'"),
    ],
)
def test_malformed_task_names_file_key_and_expectation(tmp_path: Path, old: str, new: str, key: str,
                                                       expect: str) -> None:
    text = task_toml(tmp_path / "repo")
    assert old in text
    path = _write(tmp_path, text.replace(old, new, 1))
    with pytest.raises(UserError) as err:
        load_task(str(path))
    msg = str(err.value)
    assert str(path) in msg and key in msg and expect in msg, msg
    assert "\n" not in msg


def test_invalid_toml_and_missing_file_and_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"bad.toml: not valid TOML"):
        load_task(str(_write(tmp_path, "name = ")))
    with pytest.raises(UserError, match="task file not found"):
        load_task(str(tmp_path / "nope.toml"))
    with pytest.raises(UserError, match="typer-T1, typer-T2, typer-T3"):
        load_task("typer-T9")


def test_valid_task_loads_and_remembers_origin(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    t = load_task(str(_write(tmp_path, task_toml(repo))))
    assert t.name == "mini" and t.source.kind == "path" and t.origin == str(tmp_path / "bad.toml")
    assert t.setup.inject[0].anchor == "after_imports"


def test_cli_reports_bad_task_in_one_line_exit_2(tmp_path: Path) -> None:
    path = _write(tmp_path, task_toml(tmp_path).replace('name = "mini"', 'name = "mini"\nextra = 1'))
    proc = subprocess.run([sys.executable, "-m", "orchbench", "tasks", "show", str(path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "'extra'" in proc.stderr and str(path) in proc.stderr and "Traceback" not in proc.stderr


def test_the_example_in_docs_tasks_md_is_a_valid_task() -> None:
    import re
    import tomllib

    from orchbench.tasks.spec import parse_task

    text = (Path(__file__).parents[1] / "docs" / "tasks.md").read_text()
    block = re.search(r"## Writing a task on your own code\n\n```toml\n(.*?)```", text, re.DOTALL)
    assert block is not None
    task = parse_task(tomllib.loads(block.group(1)), origin="docs/tasks.md")
    assert task.protected == ["tests/test_new_feature.py"] and task.setup.inject[0].id == "BUG-1"
    assert [c.required for c in task.judge.commands] == [True, True, False]
