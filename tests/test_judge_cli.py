"""`orchbench judge DIR --task TOML`: exit codes, JSON, bad input."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchbench.cli import app
from orchbench.sandbox import sandbox_available
from tests.test_judge import FILES

needs_bwrap = pytest.mark.skipif(not sandbox_available(), reason="bubblewrap (bwrap) is not installed/usable")

TASK = """\
name = "tiny"
prompt = "fix it"
protected = ["tests/test_feature.py"]
[source]
path = "setup"
[judge]
timeout_s = 60
[[judge.commands]]
name = "smoke"
run = ["python", "-c", "import pkg; assert pkg.add(1, 2) == 3"]
[judge.rules]
forbid_new = ["noqa"]
allowed_paths = ["pkg/", "tests/"]
"""


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ORCHBENCH_CACHE", str(tmp_path / "cache"))
    for rel, text in FILES.items():
        (tmp_path / "setup" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "setup" / rel).write_text(text)
    shutil.copytree(tmp_path / "setup", tmp_path / "ws")
    (tmp_path / "task.toml").write_text(TASK)
    return tmp_path


def judge(tmp: Path, *extra: str) -> tuple[int, str]:
    args = ["judge", str(tmp / "ws"), "--task", str(tmp / "task.toml"), "--setup", str(tmp / "setup"),
            "--venv", sys.prefix, *extra]
    r = CliRunner().invoke(app, args)
    return r.exit_code, r.output


@needs_bwrap
def test_judge_command_pass_fail_and_json(tiny: Path) -> None:
    code, out = judge(tiny)
    assert code == 0 and out.startswith("PASS")
    p = tiny / "ws" / "pkg" / "core.py"
    p.write_text(p.read_text().replace("return a + b", "return a - b  # noqa"))
    code, out = judge(tiny, "--no-cache")
    assert code == 1 and "command-failed: smoke exited 1" in out and "new-suppression-comment" in out
    code, out = judge(tiny, "--json")
    assert code == 1
    v = json.loads(out)
    assert v["passed"] is False and v["commands"][0]["name"] == "smoke"


def test_judge_command_bad_input(tiny: Path) -> None:
    r = CliRunner().invoke(app, ["judge", str(tiny / "nope"), "--task", str(tiny / "task.toml")])
    assert r.exit_code != 0 and "not a directory" in str(r.exception or r.output)
    r = CliRunner().invoke(app, ["judge", str(tiny / "ws"), "--task", "no-such-task"])
    assert "unknown task 'no-such-task'" in str(r.exception or r.output)
