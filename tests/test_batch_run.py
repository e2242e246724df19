"""The batch driver on the local process pool, with a trial function injected (no workspaces):
per-slot determinism across worker counts, budget stop, infra retries, crashes, lock, graceful stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from orchbench.errors import UserError
from orchbench.runner.batch import Snapshot, run_batch
from orchbench.runner.experiment import load_experiment
from orchbench.runner.recording import batch_lock
from orchbench.store import Store
from tests.test_batch_support import ScriptedTrial, make_task, scripted_trial, write_experiment


def experiment(tmp_path: Path, task_names: list[str], **fields: object):
    tasks = [make_task(tmp_path, n, passes=True) for n in task_names]
    fields.setdefault("arms", ["A", "D"])
    return load_experiment(write_experiment(tmp_path, tasks, **fields))


def counts(db: Path, exp_id: str) -> dict[tuple[str, str], list[tuple[int, str]]]:
    out: dict[tuple[str, str], list[tuple[int, str]]] = {}
    with Store(db) as s:
        for t in s.trials(experiment=exp_id):
            out.setdefault((t.arm, t.task), []).append((t.attempt, t.status))
    return {k: sorted(v) for k, v in out.items()}


def test_same_cells_with_1_and_4_workers(tmp_path: Path) -> None:
    exp = experiment(tmp_path, ["pass-1", "flaky-1", "fail-1"], target_successes=2, max_attempts=4)
    r1 = run_batch(exp, tmp_path / "one.db", workers=1, trial_fn=scripted_trial)
    r4 = run_batch(exp, tmp_path / "four.db", workers=4, trial_fn=scripted_trial)
    c1, c4 = counts(tmp_path / "one.db", exp.id), counts(tmp_path / "four.db", exp.id)
    assert c1 == c4
    assert c1[("A", "pass-1")] == [(0, "success"), (1, "success")]
    assert c1[("A", "flaky-1")] == [(0, "failure"), (1, "success"), (2, "failure"), (3, "success")]
    assert c1[("D", "fail-1")] == [(i, "failure") for i in range(4)]
    for r in (r1, r4):
        assert r.stopped_by == "done"
        assert r.states[("A", "pass-1")].status(r.policy) == "done"
        assert r.states[("D", "fail-1")].status(r.policy) == "capped"
        assert r.states[("A", "flaky-1")].cost == pytest.approx(4.0)
    # A second run of a finished experiment starts nothing and changes nothing.
    again = run_batch(exp, tmp_path / "four.db", workers=4, trial_fn=scripted_trial)
    assert again.started == 0 and counts(tmp_path / "four.db", exp.id) == c4


def test_budget_stops_scheduling(tmp_path: Path) -> None:
    exp = experiment(tmp_path, ["fail-1"], arms=["A"], target_successes=1, max_attempts=6, max_usd=2.5)
    seen: list[Snapshot] = []
    report = run_batch(exp, tmp_path / "b.db", workers=4, trial_fn=scripted_trial, on_update=seen.append)
    # $1 per trial: the first runs alone (no estimate yet), then 1 + 1 <= 2.5, then 1 + 1 + 1 > 2.5.
    assert report.stopped_by == "budget"
    assert report.started == 2
    assert report.states[("A", "fail-1")].cost == pytest.approx(2.0)
    assert any(s.stopping == "budget" for s in seen)


def test_infra_errors_retried_up_to_bound_and_never_counted(tmp_path: Path) -> None:
    exp = experiment(tmp_path, ["infra-1", "pass-1"], arms=["A"], target_successes=1, max_attempts=1,
                     infra_retries=2)
    report = run_batch(exp, tmp_path / "i.db", workers=2, trial_fn=scripted_trial)
    st = report.states[("A", "infra-1")]
    assert (st.infra_errors, st.attempts, st.successes) == (3, 0, 0)
    assert st.status(report.policy) == "given up"
    assert counts(tmp_path / "i.db", exp.id)[("A", "infra-1")] == [(0, "infra_error")] * 3
    assert report.states[("A", "pass-1")].successes == 1


def test_crash_in_worker_is_infra_error_with_text(tmp_path: Path) -> None:
    exp = experiment(tmp_path, ["crash-1"], arms=["A"], target_successes=1, max_attempts=1, infra_retries=1)
    run_batch(exp, tmp_path / "c.db", workers=2, trial_fn=scripted_trial)
    with Store(tmp_path / "c.db") as s:
        rows = s.trials(experiment=exp.id)
    assert [r.status for r in rows] == ["infra_error", "infra_error"]
    assert all("harness bug (scripted)" in (r.error or "") for r in rows)


def test_dead_worker_is_infra_error_and_the_pool_recovers(tmp_path: Path) -> None:
    exp = experiment(tmp_path, ["die-1", "pass-1"], arms=["A"], target_successes=1, max_attempts=1,
                     infra_retries=1, workers=1)
    report = run_batch(exp, tmp_path / "d.db", trial_fn=scripted_trial)
    die = report.states[("A", "die-1")]
    assert (die.infra_errors, die.attempts) == (2, 0) and die.status(report.policy) == "given up"
    assert report.states[("A", "pass-1")].successes == 1
    with Store(tmp_path / "d.db") as s:
        assert all("worker process died" in (t.error or "") for t in s.trials(task="die-1"))


def test_stale_running_rows_are_marked_interrupted_and_rerun(tmp_path: Path) -> None:
    from orchbench.records import Trial

    exp = experiment(tmp_path, ["pass-1"], arms=["A"], target_successes=2, max_attempts=2)
    db = tmp_path / "s.db"
    with Store(db) as s:
        s.add_trials([(Trial(id="done-0", experiment=exp.id, arm="A", task="pass-1", attempt=0,
                             status="success", total_cost=1.0), [])])
        s.start_trial(Trial(id="dead-1", experiment=exp.id, arm="A", task="pass-1", attempt=1, status="running"))
    report = run_batch(exp, db, workers=2, trial_fn=scripted_trial)
    assert report.recovered == ["dead-1"]
    assert report.started == 1
    with Store(db) as s:
        assert s.trial("dead-1").status == "interrupted"  # type: ignore[union-attr]
        assert s.trial("done-0").status == "success"  # type: ignore[union-attr]
    assert counts(db, exp.id)[("A", "pass-1")] == [(0, "success"), (1, "interrupted"), (1, "success")]


def test_one_batch_per_experiment_and_store(tmp_path: Path) -> None:
    exp = experiment(tmp_path, ["pass-1"], arms=["A"])
    with batch_lock(tmp_path / "l.db", exp.id), pytest.raises(UserError, match="another batch"):
        run_batch(exp, tmp_path / "l.db", workers=1, trial_fn=scripted_trial)


def test_graceful_stop_finishes_running_trials(tmp_path: Path) -> None:
    exp = experiment(tmp_path, ["fail-1"], arms=["A"], target_successes=1, max_attempts=6)
    stop = threading.Event()

    def on_update(snap: Snapshot) -> None:
        if snap.states[("A", "fail-1")].running:
            stop.set()

    report = run_batch(exp, tmp_path / "g.db", workers=2, trial_fn=ScriptedTrial(delay_s=0.5), on_update=on_update,
                       stop=stop)
    assert report.stopped_by == "interrupt"
    rows = counts(tmp_path / "g.db", exp.id)[("A", "fail-1")]
    assert rows == [(0, "failure")]  # the one running trial finished; nothing new started


def _start_driver(tmp_path: Path, delay: float) -> tuple[subprocess.Popen[str], Path]:
    exp = experiment(tmp_path, ["fail-1"], arms=["A"], target_successes=2, max_attempts=6, workers=2)
    db = tmp_path / "sig.db"
    code = f"from tests.test_batch_support import drive_scripted; drive_scripted({exp.source!r}, {str(db)!r}, {delay})"
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until two trials run
        time.sleep(0.05)
        if db.exists():
            with Store(db) as s:
                if len(s.trials(status="running")) == 2:
                    return proc, db
    proc.kill()
    pytest.fail("the driver never ran two trials at once: " + proc.communicate()[1][-2000:])


def test_ctrl_c_once_lets_running_trials_finish(tmp_path: Path) -> None:
    proc, db = _start_driver(tmp_path, delay=1.5)
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped_by interrupt" in out
    with Store(db) as s:
        rows = sorted((t.attempt, t.status) for t in s.trials())
    assert rows == [(0, "failure"), (1, "failure")]


@pytest.mark.parametrize("signals", [(signal.SIGINT, signal.SIGINT), (signal.SIGTERM,)])
def test_ctrl_c_twice_or_sigterm_marks_running_trials_interrupted(tmp_path: Path, signals: tuple[int, ...]) -> None:
    proc, db = _start_driver(tmp_path, delay=20)
    for sig in signals:
        os.kill(proc.pid, sig)
        time.sleep(0.3)
    out, err = proc.communicate(timeout=30)
    assert "stopped_by interrupt" in out, err
    with Store(db) as s:
        rows = sorted((t.attempt, t.status) for t in s.trials())
    assert rows == [(0, "interrupted"), (1, "interrupted")]
