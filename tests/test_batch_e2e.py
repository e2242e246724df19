"""End to end through run_trial (workspaces, sandbox, judge, store) with a scripted slow model:
SIGKILL mid-run and resume, budget stop with real pricing, infra_error retried, `status`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from orchbench.records import COUNTED_STATUSES, FINAL_STATUSES, Usage
from orchbench.runner.batch import run_batch
from orchbench.runner.experiment import load_experiment
from orchbench.store import Store
from tests.test_batch_support import SlowFactory, make_task, write_experiment

REPO = Path(__file__).resolve().parents[1]
DELAY = 0.6


def cells(db: Path, exp_id: str) -> dict[tuple[str, str], list[tuple[int, str]]]:
    """Counted trials per cell, as (attempt, status), sorted."""
    out: dict[tuple[str, str], list[tuple[int, str]]] = {}
    with Store(db, readonly=True) as s:
        for t in s.trials(experiment=exp_id):
            if t.status in COUNTED_STATUSES:
                out.setdefault((t.arm, t.task), []).append((t.attempt, t.status))
    return {k: sorted(v) for k, v in out.items()}


@pytest.fixture(scope="module")
def small_experiment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("exp")
    tasks = [make_task(root, "pass-e2e", passes=True), make_task(root, "fail-e2e", passes=False)]
    return write_experiment(root, tasks, name="e2e", arms=["A", "D"], target_successes=2, max_attempts=3,
                            workers=4)


@pytest.fixture(scope="module")
def uninterrupted(small_experiment: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("ref") / "ref.db"
    report = run_batch(load_experiment(small_experiment), db, model_factory=SlowFactory(DELAY))
    assert report.stopped_by == "done"
    return db


def test_uninterrupted_run_meets_targets(uninterrupted: Path) -> None:
    got = cells(uninterrupted, "e2e")
    for arm in ("A", "D"):
        assert got[(arm, "pass-e2e")] == [(0, "success"), (1, "success")]
        assert got[(arm, "fail-e2e")] == [(0, "failure"), (1, "failure"), (2, "failure")]
    with Store(uninterrupted, readonly=True) as s:
        trials = s.trials(experiment="e2e")
        assert all(t.status in FINAL_STATUSES for t in trials)
        assert all(len(s.calls(t.id)) == 1 for t in trials)  # the scripted model answers at once


def test_sigkill_mid_run_then_resume(small_experiment: Path, uninterrupted: Path, tmp_path: Path) -> None:
    db = tmp_path / "killed.db"
    code = f"from tests.test_batch_support import drive; drive({str(small_experiment)!r}, {str(db)!r}, {DELAY})"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    finished_before: dict[str, str] = {}
    running: list[str] = []
    while time.monotonic() < deadline:
        time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
        if not db.exists():
            continue
        with Store(db, readonly=True) as s:
            trials = s.trials(experiment="e2e")
        finished_before = {t.id: t.status for t in trials if t.status in FINAL_STATUSES}
        running = [t.id for t in trials if t.status == "running"]
        if len(finished_before) >= 2 and running:
            break
    else:
        pytest.fail("the batch never had finished and running trials at once")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)  # its workers notice and die with it (a trial may end in the few ms that takes)
    with Store(db, readonly=True) as s:
        at_death = {t.id: t.status for t in s.trials(experiment="e2e")}
    finished_before = {i: st for i, st in at_death.items() if st in FINAL_STATUSES}
    left_ids = {i for i, st in at_death.items() if st == "running"}
    assert left_ids, "the kill left no running trial behind: nothing to recover"
    # Nobody finishes the rows it left running behind the restart's back: no orphaned worker lives on.
    time.sleep(DELAY * 3)
    with Store(db, readonly=True) as s:
        assert {t.id: t.status for t in s.trials(experiment="e2e")} == at_death
        left = [t for t in s.trials(experiment="e2e") if t.id in left_ids]

    report = run_batch(load_experiment(small_experiment), db, model_factory=SlowFactory(DELAY))
    assert set(report.recovered) == {t.id for t in left}
    with Store(db, readonly=True) as s:
        trials = s.trials(experiment="e2e")
    by_id = {t.id: t for t in trials}
    for tid, status in finished_before.items():  # no finished trial lost or changed
        assert by_id[tid].status == status
    for t in left:  # interrupted, kept, and their slots ran again
        assert by_id[t.id].status == "interrupted"
        assert any(o.arm == t.arm and o.task == t.task and o.attempt == t.attempt and o.status in COUNTED_STATUSES
                   for o in trials)
    counted = Counter((t.arm, t.task, t.attempt) for t in trials if t.status in COUNTED_STATUSES)
    assert max(counted.values()) == 1  # nothing duplicated
    assert cells(db, "e2e") == cells(uninterrupted, "e2e")
    assert not any(t.status == "running" for t in trials)


def test_budget_stop_with_real_prices(tmp_path: Path) -> None:
    from orchbench.pricing import load_rate_card

    usage = Usage(input=50_000, output=2_000)
    one = load_rate_card("paper-2026-06").cost("claude-opus-4-7", usage)
    assert one > 0
    task = make_task(tmp_path, "fail-budget", passes=False)
    exp = load_experiment(write_experiment(tmp_path, [task], name="budget", arms=["A"], target_successes=1,
                                           max_attempts=6, rate_card="paper-2026-06", max_usd=2.5 * one,
                                           workers=4))
    report = run_batch(exp, tmp_path / "b.db", model_factory=SlowFactory(0.1, usage=usage))
    assert report.stopped_by == "budget"
    st = report.states[("A", "fail-budget")]
    assert st.attempts == 2 and st.cost == pytest.approx(2 * one)
    assert st.cost <= exp.spec.max_usd  # type: ignore[operator]


def test_infra_error_retried_and_not_counted(tmp_path: Path) -> None:
    task = make_task(tmp_path, "pass-infra", passes=True)
    exp = load_experiment(write_experiment(tmp_path, [task], name="infra", arms=["A"], target_successes=2,
                                           max_attempts=2, workers=2))
    marker = tmp_path / "first-call-fails"
    report = run_batch(exp, tmp_path / "i.db", model_factory=SlowFactory(0.2, infra_marker=str(marker)))
    st = report.states[("A", "pass-infra")]
    assert (st.successes, st.attempts, st.infra_errors) == (2, 2, 1)
    with Store(tmp_path / "i.db", readonly=True) as s:
        bad = [t for t in s.trials(experiment="infra") if t.status == "infra_error"]
    assert len(bad) == 1 and "credit balance" in (bad[0].error or "")


def test_status_command_shows_coverage(uninterrupted: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "orchbench", "status", "--db", str(uninterrupted),
                           "--experiment", "e2e"], check=False, capture_output=True, text=True, cwd=REPO, timeout=60,
                          env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if "pass-e2e" in line or "fail-e2e" in line]
    assert len(lines) == 4, proc.stdout
    assert any("2/2" in line and "done" in line for line in lines if "pass-e2e" in line)
    assert any("3/3" in line and "capped" in line for line in lines if "fail-e2e" in line)


def test_workers_read_keys_set_after_their_forkserver_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A forkserver keeps the environment it started with; a key set later (a notebook, a test) must
    # still reach the trial through its job.
    from orchbench.runner.local_backend import LocalBackend
    from tests.fakes._http import text
    from tests.fakes.anthropic_server import FakeAnthropic

    warm = LocalBackend(1)
    warm.start()
    warm.shutdown()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-set-late")
    tiny = Path(__file__).parent / "fakes" / "tinytask" / "tiny.toml"
    with FakeAnthropic([text("done")]) as srv:
        arm = tmp_path / "late.toml"
        arm.write_text(f'base = "A"\n[orchestrator]\nprovider = "anthropic"\nmodel = "claude-opus-4-7"\n'
                       f'base_url = "{srv.base_url}"\n')
        exp = tmp_path / "exp.toml"
        exp.write_text(f'name = "late"\narms = ["{arm}"]\ntasks = ["{tiny}"]\ntarget_successes = 1\n'
                       'max_attempts = 1\nworkers = 1\nunsafe_no_sandbox = true\n')
        run_batch(load_experiment(exp), tmp_path / "late.db")
        served = len(srv.bodies)
    with Store(tmp_path / "late.db", readonly=True) as s:
        [trial] = s.trials(experiment="late")
    assert trial.status in COUNTED_STATUSES, (trial.status, trial.error)  # not an infra_error for a missing key
    assert served == 1
