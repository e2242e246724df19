"""Bad input to `orchbench batch` / `status`: one line on stderr, exit code 2, nothing run."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from orchbench.errors import UserError
from orchbench.runner.experiment import load_experiment
from tests.test_batch_support import make_task, write_experiment


def orchbench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchbench", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def assert_one_line_exit_2(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket goes: nothing listens there


@pytest.fixture
def task(tmp_path: Path) -> Path:
    return make_task(tmp_path, "tiny-pass", passes=True)


def test_malformed_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("arms = ['A'\n")
    assert_one_line_exit_2(orchbench("batch", str(bad), cwd=tmp_path), str(bad), "not valid TOML")
    assert not (tmp_path / "orchbench.db").exists()


def test_unknown_arm(tmp_path: Path, task: Path) -> None:
    exp = write_experiment(tmp_path, [task], arms=["A", "Zed"])
    assert_one_line_exit_2(orchbench("batch", str(exp), cwd=tmp_path), str(exp), "arms[1]", "unknown arm 'Zed'")
    assert not (tmp_path / "orchbench.db").exists()


def test_unknown_task(tmp_path: Path, task: Path) -> None:
    exp = write_experiment(tmp_path, [task, Path("typer-T9")], arms=["A"])
    assert_one_line_exit_2(orchbench("batch", str(exp), cwd=tmp_path), str(exp), "tasks[1]", "typer-T9")
    assert not (tmp_path / "orchbench.db").exists()


def test_negative_budget_in_file_and_flag(tmp_path: Path, task: Path) -> None:
    exp = write_experiment(tmp_path, [task], arms=["A"], max_usd=-0.5)
    assert_one_line_exit_2(orchbench("batch", str(exp), cwd=tmp_path), "max_usd", "greater than or equal to 0")
    exp = write_experiment(tmp_path, [task], arms=["A"])
    assert_one_line_exit_2(orchbench("batch", str(exp), "--max-usd", "-1", cwd=tmp_path), "--max-usd", ">= 0")
    assert not (tmp_path / "orchbench.db").exists()


def test_unreachable_ray_address(tmp_path: Path, task: Path) -> None:
    exp = write_experiment(tmp_path, [task], arms=["A"])
    addr = f"127.0.0.1:{closed_port()}"
    proc = orchbench("batch", str(exp), "--backend", "ray", "--address", addr, cwd=tmp_path)
    assert_one_line_exit_2(proc, f"cannot reach a Ray cluster at {addr}")
    assert not (tmp_path / "orchbench.db").exists()
    proc = orchbench("batch", str(exp), "--backend", "ray", cwd=tmp_path)
    assert_one_line_exit_2(proc, "--address: the Ray backend needs HOST:PORT")


def test_status_on_missing_store(tmp_path: Path) -> None:
    assert_one_line_exit_2(orchbench("status", "--db", "nope.db", cwd=tmp_path), "nope.db")


def test_turn_cap_override_reaches_the_arm(tmp_path: Path, task: Path) -> None:
    exp_path = write_experiment(tmp_path, [task], arms=["A", "D"])
    exp_path.write_text(exp_path.read_text() + '[turn_caps.A]\n"tiny-pass" = 7\n')
    from orchbench.runner.experiment import arm_for_cell

    exp = load_experiment(exp_path)
    assert exp.cells == [("A", "tiny-pass"), ("D", "tiny-pass")]
    assert arm_for_cell(exp, "A", "tiny-pass").cap_for(exp.tasks["tiny-pass"]) == 7
    assert arm_for_cell(exp, "D", "tiny-pass").cap_for(exp.tasks["tiny-pass"]) == exp.arms["D"].cap_for(
        exp.tasks["tiny-pass"]
    )
    exp_path.write_text(exp_path.read_text() + '[turn_caps.Q]\n"tiny-pass" = 7\n')
    with pytest.raises(UserError, match="turn_caps.Q"):
        load_experiment(exp_path)


def test_inline_arm_and_duplicate_names(tmp_path: Path, task: Path) -> None:
    exp_path = tmp_path / "inline.toml"
    exp_path.write_text(
        f'arms = ["A", {{ name = "E", orchestrator = {{ provider = "anthropic", model = "claude-opus-4-7" }} }}]\n'
        f'tasks = ["{task}"]\n'
    )
    assert list(load_experiment(exp_path).arms) == ["A", "E"]
    exp_path.write_text(f'arms = ["A", "A"]\ntasks = ["{task}"]\n')
    with pytest.raises(UserError, match="appears twice"):
        load_experiment(exp_path)
    exp_path.write_text(f'arms = [{{ name = "E", orchestrator = {{ model = "x" }} }}]\ntasks = ["{task}"]\n')
    with pytest.raises(UserError, match=r"arms\[0\]"):
        load_experiment(exp_path)


def test_batch_and_status_through_the_cli(tmp_path: Path, task: Path) -> None:
    """The oracle arm needs no API key: `orchbench batch` runs real trials, `status` shows the cells."""
    exp = write_experiment(tmp_path, [task], name="cli", arms=["oracle"], target_successes=2, max_attempts=2,
                           workers=2)
    proc = orchbench("batch", str(exp), "--db", "cli.db", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "started 2 trial(s); stopped: done" in proc.stdout, proc.stdout + proc.stderr
    again = orchbench("batch", str(exp), "--db", "cli.db", cwd=tmp_path)
    assert "started 0 trial(s); stopped: done" in again.stdout, again.stdout + again.stderr
    status = orchbench("status", "--db", "cli.db", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    rows = [line for line in status.stdout.splitlines() if "tiny-pass" in line]
    assert len(rows) == 1, status.stdout
    row = rows[0]
    assert "oracle" in row and "2/2" in row and "done" in row
