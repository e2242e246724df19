"""`tasks check` on a small task of our own: sound, broken reference, red base, and the CLI's exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchbench.sandbox import sandbox_available
from orchbench.tasks.check import check_task
from orchbench.tasks.spec import load_task
from tests.test_tasks_support import make_repo, write_task

UNSAFE = not sandbox_available()  # the judge's sandbox is tested by the judge area; here it is a means


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ORCHBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ORCHBENCH_WORKSPACES", raising=False)
    return tmp_path / "cache"


def test_sound_task_is_green_red_green_and_remembers_base_and_setup(tmp_path: Path) -> None:
    task = load_task(str(write_task(tmp_path, make_repo(tmp_path / "src"))))
    first = check_task(task, unsafe_no_sandbox=UNSAFE)
    assert not first.broken, first.broken_reason
    assert [(s.step, s.ok, s.cached) for s in first.steps] == [
        ("base", True, False), ("setup", True, False), ("oracle", True, False)]
    base, setup, oracle = first.steps
    assert base.verdict and base.verdict.passed
    assert setup.verdict and not setup.verdict.passed and "command-failed: unittest" in setup.detail
    assert oracle.verdict and oracle.verdict.passed
    again = check_task(task, unsafe_no_sandbox=UNSAFE)
    assert [s.cached for s in again.steps] == [True, True, False]  # the oracle always runs


def test_failing_reference_is_a_broken_task(tmp_path: Path) -> None:
    path = write_task(tmp_path, make_repo(tmp_path / "src"), reference_old="text that is not there")
    result = check_task(load_task(str(path)), unsafe_no_sandbox=UNSAFE)
    assert result.broken and result.steps[-1].step == "oracle"
    assert "reference solution does not pass" in (result.broken_reason or "")
    assert "reference tool call(s) failed" in (result.broken_reason or "")


def test_red_base_is_a_broken_task_and_stops_early(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "src")
    (repo / "tests" / "test_core.py").write_text((repo / "tests" / "test_core.py").read_text().replace("3)", "4)"))
    result = check_task(load_task(str(write_task(tmp_path, repo))), unsafe_no_sandbox=UNSAFE)
    assert result.broken and [s.step for s in result.steps] == ["base"]
    assert "the base does not pass the judge" in (result.broken_reason or "")


def test_cli_check_exit_codes(tmp_path: Path, own_cache: Path) -> None:
    good = write_task(tmp_path, make_repo(tmp_path / "src"))
    env = {**os.environ, "ORCHBENCH_CACHE": str(own_cache)}
    flags = ["--unsafe-no-sandbox"] if UNSAFE else []
    ok = subprocess.run([sys.executable, "-m", "orchbench", "tasks", "check", str(good), *flags],
                        capture_output=True, text=True, env=env, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "base" in ok.stdout and "setup" in ok.stdout and "oracle" in ok.stdout and "sound" in ok.stdout
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    bad = write_task(bad_dir, make_repo(bad_dir / "src"), reference_old="nothing like this")
    broken = subprocess.run([sys.executable, "-m", "orchbench", "tasks", "check", str(bad), *flags],
                            capture_output=True, text=True, env=env, check=False)
    assert broken.returncode == 1
    assert "BROKEN TASK mini: the reference solution does not pass the judge" in broken.stderr


def test_refresh_rejudges_a_shared_base_once_and_every_setup(tmp_path: Path) -> None:
    from orchbench.tasks.check import check_tasks

    repo = make_repo(tmp_path / "src")
    tasks = []
    for i in range(3):  # three tasks on one base, as a generated suite has
        d = tmp_path / f"t{i}"
        d.mkdir()
        text = write_task(d, repo).read_text().replace('name = "mini"', f'name = "mini-{i}"')
        (d / "mini.toml").write_text(text.replace("injected", f"injected {i}"))
        tasks.append(load_task(str(d / "mini.toml")))
    check_tasks(tasks, unsafe_no_sandbox=UNSAFE)  # everything cached now
    again = check_tasks(tasks, unsafe_no_sandbox=UNSAFE, refresh=True)
    assert all(not r.broken for r in again), [r.broken_reason for r in again]
    assert [[s.cached for s in r.steps] for r in again] == [[False, False, False], [True, False, False],
                                                            [True, False, False]]
    assert len({r.steps[0].verdict.model_dump_json() for r in again if r.steps[0].verdict}) == 1
