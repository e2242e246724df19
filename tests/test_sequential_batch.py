"""`batch --stop-when-decided` over a suite: the batch stops once analysis calls the comparison, says
what it saved, and `analyze` of the store prints the paired comparison, mixed effects and heat map."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from orchbench.runner.batch import run_batch
from orchbench.runner.experiment import load_experiment
from orchbench.runner.stopping import StopRule
from orchbench.store import Store
from tests.helpers import run_cli
from tests.test_batch_support import _scripted_trial, make_task, write_experiment


class CostTrial:
    """Success with a cost set by task and arm: D costs `ratio` times A, with some noise."""

    def __init__(self, ratio: float) -> None:
        self.ratio = ratio

    def __call__(self, job: Any) -> Any:
        k = int(job.task_name.split("-")[1])
        level = math.exp(((k * 7919) % 13) / 6.0)
        noise = 1.0 + 0.05 * (((k * 31 + job.attempt * 17 + len(job.arm_name)) % 7) - 3)
        cost = level * noise * (self.ratio if job.arm_name == "D" else 1.0)
        return _scripted_trial(job, 0.0, round(cost, 6))


def _experiment(tmp_path: Path, n: int) -> Path:
    suite = tmp_path / "suite"
    suite.mkdir()
    for i in range(n):
        make_task(suite, f"pass-{i:02d}", passes=True)
    return write_experiment(tmp_path, [suite], name="seq", arms=["A", "D"], target_successes=2, max_attempts=3,
                            workers=2)


def test_stops_when_decided_and_reports_savings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exp = load_experiment(_experiment(tmp_path, 24))
    assert len(exp.tasks) == 24
    db = tmp_path / "seq.db"
    report = run_batch(exp, db, trial_fn=CostTrial(0.3), stop_rule=StopRule("A", "D", looks=4))
    assert report.stopped_by == "decided"
    assert report.decision and "decided" in report.decision
    with Store(db, readonly=True) as s:
        ran = len(s.trials(experiment="seq"))
    assert ran < 24 * 2 * 2 and report.saved["trials"] > 0 and report.saved["usd"] > 0
    assert ran + report.saved["trials"] >= 24 * 2 * 2 - 4  # what ran plus what was saved is the plan
    heat = tmp_path / "heat.svg"
    code, out, err = run_cli(["analyze", "--db", str(db), "--heatmap", str(heat)], capsys)
    assert code == 0, err
    assert "Paired by task" in out and "Mixed effects" in out and heat.read_text().startswith("<?xml")


def test_no_difference_runs_to_the_end(tmp_path: Path) -> None:
    exp = load_experiment(_experiment(tmp_path, 8))
    report = run_batch(exp, tmp_path / "null.db", trial_fn=CostTrial(1.0), stop_rule=StopRule("A", "D", looks=2))
    assert report.stopped_by == "done" and not report.saved
    assert report.decision and "undecided" in report.decision
