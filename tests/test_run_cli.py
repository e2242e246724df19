"""`orchbench run` and `orchbench show` as a user types them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchbench.cli import app
from orchbench.store import Store
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.policies import SolutionPolicy

TINY = str(Path(__file__).parent / "fakes" / "tinytask" / "tiny.toml")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "orchbench", *args], check=False, capture_output=True, text=True,
                          env=full, timeout=120)


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    from orchbench.cli.app import console

    monkeypatch.setattr(console, "width", 200)  # the call table is wide; a test has no terminal


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def test_missing_key_is_one_line_naming_the_variable(tmp_path):
    r = cli("run", "--arm", "C", "--task", TINY, "--db", str(tmp_path / "x.db"))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().count("\n") == 0 and "ANTHROPIC_API_KEY" in r.stderr
    assert not (tmp_path / "x.db").exists()  # nothing was set up


@pytest.mark.parametrize("args,expect", [
    (["--arm", "Z", "--task", TINY], "unknown arm 'Z'"),
    (["--arm", "A", "--task", "no-such-task"], "unknown task 'no-such-task'"),
])
def test_bad_input_is_one_line(args, expect):
    r = cli("run", *args)
    assert r.returncode == 2 and expect in r.stderr and "Traceback" not in r.stderr


def test_oracle_run_then_show(tmp_path):
    db = str(tmp_path / "o.db")
    r = invoke("run", "--arm", "oracle", "--task", TINY, "--db", db, "--trials", "2")
    assert r.exit_code == 0, r.output
    ids = re.findall(r"^(adhoc-oracle-tiny-calc-\d+-\w+)\s+success", r.output, re.MULTILINE)
    assert len(ids) == 2
    with Store(db, readonly=True) as s:
        assert [t.attempt for t in sorted(s.trials(), key=lambda t: t.attempt)] == [0, 1]
    shown = invoke("show", ids[0], "--db", db)
    assert shown.exit_code == 0 and "success" in shown.output and "str_replace_editor" in shown.output


def test_arm_c_through_base_url_then_show_the_handback(tmp_path):
    db = str(tmp_path / "c.db")
    with FakeAnthropic(policy=SolutionPolicy([], final_text="x")) as srv:
        # the executor applies the tiny task's reference; the orchestrator delegates once
        from orchbench.tasks.spec import load_task

        srv.state.policy = SolutionPolicy(load_task(TINY).reference, final_text="Fixed add; tests pass.")
        r = invoke("run", "--arm", "C", "--task", TINY, "--db", db, "--base-url", srv.base_url,
                   "--rate-card", "paper-2026-06", env={"ANTHROPIC_API_KEY": "sk-test"})
    assert r.exit_code == 0, r.output
    (tid,) = re.findall(r"^(adhoc-C-tiny-calc-\d+-\w+)\s+success", r.output, re.MULTILINE)
    with Store(db, readonly=True) as s:
        trial = s.trial(tid)
        calls = s.calls(tid)
    assert len(calls) == len(srv.requests) == 6
    shown = invoke("show", tid, "--db", db, "--full")
    out = shown.output
    assert shown.exit_code == 0 and "exec 3 (of 0)" in out and "handed back at orchestrator turn 0" in out
    assert "executor (4 iters): Fixed add; tests pass." in out
    # the last running total is the trial's total cost
    rows = [line.split() for line in out.splitlines() if line.startswith(("orch ", " └ exec "))]
    assert len(rows) == 6
    last = rows[-1]  # orch 1 (final answer): ... $ total
    assert float(last[-1]) == pytest.approx(trial.total_cost, abs=1e-4)


def test_dry_run_calls_no_model(tmp_path):
    with FakeAnthropic([]) as srv:
        r = invoke("run", "--arm", "C", "--task", TINY, "--dry-run", "--base-url", srv.base_url,
                   env={"ANTHROPIC_API_KEY": ""})
    assert r.exit_code == 0, r.output
    assert srv.requests == []
    out = r.output
    for needle in ("ANTHROPIC_API_KEY MISSING", "delegate_to_executor", "str_replace_editor", "input_schema",
                   "The function `add`", "Avoid create, str_replace and insert", "protected tests/test_calc.py",
                   "no model was called", "outer-turn cap on tiny-calc: 40; executor cap 20"):
        assert needle in out, needle


def test_show_unknown_trial_is_one_line(tmp_path):
    db = tmp_path / "e.db"
    Store(db).close()
    r = cli("show", "nope", "--db", str(db))
    assert r.returncode == 2 and "no trial 'nope'" in r.stderr
    r = cli("show", "nope", "--db", str(tmp_path / "missing.db"))
    assert r.returncode == 2 and "no such results store" in r.stderr


def test_show_an_imported_trial_without_calls(tmp_path):
    from orchbench.records import Trial, Usage

    db = tmp_path / "i.db"
    t = Trial(id="paper-A-T3-1", arm="A", task="typer-T3", status="success", iterations=7,
              usage={"orchestrator": Usage(input=10, output=5, cache_read=1000)},
              cost={"orchestrator": 0.5}, total_cost=0.5, source="import:A.jsonl")
    with Store(db) as s:
        s.add_trials([(t, [])])
    r = invoke("show", "paper-A-T3-1", "--db", str(db))
    assert r.exit_code == 0 and "no per-call records" in r.output and "$0.5000" in r.output
