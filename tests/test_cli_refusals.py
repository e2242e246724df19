"""Bad input gets one line and exit code 2, never a traceback; what is stored is shown escaped;
read-only commands read a store on a read-only mount (the real command, `python -m orchbench`)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import orchbench
from orchbench.records import Call, Trial, Usage
from orchbench.sandbox import run_sandboxed, sandbox_available
from orchbench.store import Store

TINY_DIR = Path(__file__).parent / "fakes" / "tinytask"
PACKAGE_ROOT = Path(orchbench.__file__).resolve().parent.parent


def cli(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}
    return subprocess.run([sys.executable, "-m", "orchbench", *map(str, args)], check=False, capture_output=True,
                          text=True, timeout=timeout, env=env)


def one_line(r: subprocess.CompletedProcess[str], *expect: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    for e in expect:
        assert e in r.stderr, r.stderr


def tiny_variant(tmp_path: Path, old: str, new: str) -> Path:
    (tmp_path / "repo").symlink_to(TINY_DIR / "repo")
    path = tmp_path / "task.toml"
    text = (TINY_DIR / "tiny.toml").read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return path


def a_store(path: Path, *, content: str = "hello") -> str:
    with Store(path) as s:
        t = Trial(id="t1", arm="A", task="tiny-calc", status="failure")
        s.start_trial(t)
        s.add_call(Call(trial_id="t1", role="orchestrator", turn=0, model="claude-opus-4-7",
                        usage=Usage(input=10, output=5), content=[{"type": "text", "text": content}],
                        tool_results=[]))
        s.finish_trial(t.model_copy(update={"failure_reason": content}))
    return "t1"


@pytest.mark.parametrize("value,expect", [("inf", "finite"), ("nan", "finite"), ("-5", "greater than 0")])
def test_judge_timeout_must_be_positive_and_finite(tmp_path: Path, value: str, expect: str) -> None:
    task = tiny_variant(tmp_path, "timeout_s = 60", f"timeout_s = {value}")
    one_line(cli("run", "--arm", "oracle", "--task", task, "--db", tmp_path / "x.db"), "judge.timeout_s", expect)


@pytest.mark.parametrize("name", ["../escape", "a/b", "x y"])
def test_task_names_that_would_leave_the_workspaces_folder_are_refused(tmp_path: Path, name: str) -> None:
    task = tiny_variant(tmp_path, 'name = "tiny-calc"', f'name = "{name}"')
    one_line(cli("run", "--arm", "oracle", "--task", task, "--db", tmp_path / "x.db"), "'name'")
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize("command", ["run", "import"])
def test_experiment_ids_with_paths_or_spaces_are_refused(tmp_path: Path, command: str) -> None:
    args = ["--arm", "oracle", "--task", TINY_DIR / "tiny.toml"] if command == "run" else [tmp_path]
    one_line(cli(command, *args, "--db", tmp_path / "x.db", "--experiment", "../x y"), "--experiment")


def test_judge_with_a_missing_venv_is_refused_not_failed(tmp_path: Path) -> None:
    one_line(cli("judge", TINY_DIR / "repo", "--task", TINY_DIR / "tiny.toml", "--venv", tmp_path / "missing"),
             "--venv")


@pytest.mark.parametrize("args", [["export", "--out", "/proc/orchbench.jsonl"],
                                  ["export", "--format", "csv", "--out", "{ro}/x.csv"]])
def test_export_to_an_unwritable_path_is_one_line(tmp_path: Path, args: list[str]) -> None:
    a_store(tmp_path / "runs.db")
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    if os.access(ro, os.W_OK):
        args = [a.replace("{ro}", "/proc/self") for a in args]  # root writes anywhere but /proc
    args = [a.replace("{ro}", str(ro)) for a in args]
    one_line(cli(*args, "--db", tmp_path / "runs.db"), "--out", "cannot write")


def test_simulate_plot_to_an_unwritable_path_is_one_line() -> None:
    one_line(cli("simulate", "--plot", "/proc/orchbench-plots"), "--plot", "cannot write")


def test_view_refuses_a_store_of_a_future_schema(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    a_store(db)
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version = 99")
    con.close()
    try:
        r = cli("view", "--db", db, "--port", "0", timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("view served a store of a future schema")
    one_line(r, "schema version 99")


def test_show_escapes_terminal_control_sequences(tmp_path: Path) -> None:
    hostile = "ok \x1b]0;owned\x07 \x1b]52;c;ZWNobyBwd25lZA==\x07 \r\u202eevil"
    tid = a_store(tmp_path / "runs.db", content=hostile)
    r = cli("show", tid, "--db", tmp_path / "runs.db")
    assert r.returncode == 0, r.stderr
    assert "\x1b]" not in r.stdout and "\x07" not in r.stdout and "\u202e" not in r.stdout and "\r" not in r.stdout
    assert "\\x1b]0;owned\\x07" in r.stdout  # shown, escaped


@pytest.mark.skipif(not sandbox_available(), reason="bubblewrap (bwrap) is not installed/usable")
@pytest.mark.parametrize("command", [["status"], ["show", "t1"], ["export", "--format", "csv"]])
def test_read_only_commands_read_a_store_on_a_read_only_mount(tmp_path: Path, command: list[str]) -> None:
    d = tmp_path / "archive"
    d.mkdir()
    a_store(d / "runs.db")
    con = sqlite3.connect(d / "runs.db")  # a store a batch left in WAL mode, closed cleanly
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    assert [p.name for p in d.iterdir()] == ["runs.db"]
    r = run_sandboxed([sys.executable, "-m", "orchbench", *command, "--db", str(d / "runs.db")], cwd=tmp_path,
                      readonly=[d], env={"PYTHONPATH": str(PACKAGE_ROOT)})
    assert r.exit_code == 0 and "tiny-calc" in r.stdout, r.stdout + r.stderr
