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


# --- the agent's `judge`: one short line of counts by default --------------------------------------

def _bash_text(out: str) -> str:
    return out.split("\n[exit code")[0]


@needs_bwrap
def test_agents_judge_prints_one_short_json_line_and_details_on_request(tmp_path: Path) -> None:
    from orchbench.agent.tools import BashTool
    from orchbench.judge.agent_cli import COMPACT_MAX_CHARS
    from tests.test_judge import BROKEN, make_task, make_ws

    ws = make_ws(tmp_path, make_task(["mypy", "ruff", "format", "pytest"]), files=BROKEN)
    bash = BashTool(ws)
    line = _bash_text(bash.run({"command": "judge"}).text)
    assert len(line) < COMPACT_MAX_CHARS and "\n" not in line.strip(), line
    got = json.loads(line)
    assert got["success"] is False
    assert got["mypy_errors"] >= 2 and got["ruff_errors"] >= 1  # the real tools' counts on BROKEN
    assert got["pytest_errors"] == 1  # tests/test_broken.py fails to import: pytest stops there
    assert got["exit"]["mypy"] == 1 and got["exit"]["pytest"] != 0
    details = _bash_text(bash.run({"command": "judge --details"}).text)
    assert details.startswith("[cached] FAIL") and "--- mypy (exit 1), end of output:" in details
    assert len(details) > 2 * len(line)


def test_compact_verdict_stays_short_whatever_the_reasons() -> None:
    from orchbench.judge.agent_cli import COMPACT_MAX_CHARS, compact
    from orchbench.records import CommandResult, Verdict

    cmds = [CommandResult(name="pytest", exit_code=0, counts={"passed": 1356, "failed": 0, "errors": 0,
                                                              "skipped": 21})]
    v = Verdict(passed=False, commands=cmds, failure_reasons=["new-suppression-comment: " + "x" * 900] * 3)
    got = json.loads(compact(v))
    assert got == {"pytest_passed": 1356, "pytest_failed": 0, "pytest_errors": 0, "exit": {"pytest": 0},
                   "other_failures": 3, "first": ("new-suppression-comment: " + "x" * 900)[:160],
                   "success": False}
    many = [CommandResult(name=f"step-{i:02d}-with-a-long-name", exit_code=1, counts={"errors": i})
            for i in range(40)]
    text = compact(Verdict(passed=False, commands=many))
    assert len(text) < COMPACT_MAX_CHARS and json.loads(text)["success"] is False


def test_only_a_bare_judge_call_gets_the_judges_timeout(tmp_path: Path) -> None:
    from orchbench.agent.tools import BashTool
    from orchbench.judge.agent_cli import is_judge_call
    from tests.test_judge import make_task, make_ws

    for ok in ("judge", "judge --details", "  judge --no-cache --json ", "judge 2>&1 | tail -5",
               "judge --details 2>&1 | tail -n 40", "judge | head"):
        assert is_judge_call(ok), ok
    for not_ok in ("judge; sleep 900", "judge && pytest", "judgement", "judge $(sleep 9)",
                   "judge --details\nsleep 900", "sleep 900 # judge", "judge 'unclosed", "judge | sleep 900",
                   "judge | tail -5 | sleep 900", "judge > out.txt", "judge 2>&1 | tail -5 &", "judge | tail -f"):
        assert not is_judge_call(not_ok), not_ok
    if not sandbox_available():
        return
    bash = BashTool(make_ws(tmp_path, make_task(["smoke"])), timeout_s=120)
    bash.env()  # makes the judge bin (the timeout is the judge's only where `judge` is on PATH)
    assert bash._timeout_for("judge --details") == 120  # the judge's 60 s + 30 is below the bash timeout
    long_task = bash.ws.task.model_copy(update={"judge": bash.ws.task.judge.model_copy(update={"timeout_s": 900})})
    bash.ws.task = long_task
    assert bash._timeout_for("judge") == 930
    assert bash._timeout_for("judge; sleep 900") == 120
    assert bash._timeout_for("judge 2>&1 | tail -5") == 930


def test_every_verdict_records_the_versions_of_the_judges_tools(tmp_path: Path) -> None:
    from importlib import metadata

    from orchbench.judge.run import run_judge
    from orchbench.tasks.spec import Env
    from tests.test_judge import make_task, make_ws

    task = make_task(["smoke"]).model_copy(update={"env": Env(packages=["pytest>=8", "Ruff", "no-such-dist==1"])})
    v = run_judge(make_ws(tmp_path, task), cache_dir=tmp_path / "cache", unsafe_no_sandbox=not sandbox_available())
    # Read from the venv's installed distributions (not the spec); a package not installed is left out.
    assert v.tool_versions == {"pytest": metadata.version("pytest"), "ruff": metadata.version("ruff")}
    assert v.passed and v.duration_s > 0
