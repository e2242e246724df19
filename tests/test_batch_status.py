"""`status` coverage: from a batch's stored spec, or from the trials alone (imports, ad-hoc runs)."""

from __future__ import annotations

from pathlib import Path

from orchbench.records import Experiment, Trial
from orchbench.runner.status import coverage
from orchbench.store import Store


def test_coverage_from_stored_spec_and_from_trials(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as s:
        s.add_experiment(Experiment(id="exp", spec={
            "experiment": {"arms": ["A"], "tasks": ["T1", "T2"], "target_successes": 2, "max_attempts": 4},
            "cells": [["A", "T1"], ["A", "T2"]],
        }))
        s.add_trials([
            (Trial(id="1", experiment="exp", arm="A", task="T1", attempt=0, status="success", total_cost=1.5), []),
            (Trial(id="2", experiment="exp", arm="A", task="T1", attempt=1, status="infra_error"), []),
            (Trial(id="3", experiment="paper", arm="B", task="T3", attempt=0, status="failure"), []),
        ])
        s.start_trial(Trial(id="4", experiment="exp", arm="A", task="T1", attempt=1, status="running"))
        views = {v.experiment: v for v in coverage(s)}
        only = coverage(s, "exp")
    assert set(views) == {"exp", "paper"} and [v.experiment for v in only] == ["exp"]
    exp = views["exp"]
    assert (exp.policy.target_successes, exp.policy.max_attempts) == (2, 4)
    assert list(exp.states) == [("A", "T1"), ("A", "T2")]  # a cell with no trial yet is listed too
    t1 = exp.states[("A", "T1")]
    assert (t1.successes, t1.attempts, t1.infra_errors, t1.running, t1.next_attempt) == (1, 1, 1, 1, 2)
    assert t1.status(exp.policy) == "running"
    paper = views["paper"]  # no stored spec: cells from the trials, default policy
    assert list(paper.states) == [("B", "T3")] and paper.states[("B", "T3")].attempts == 1
