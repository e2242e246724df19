"""Every script in examples/ runs, as a user runs it, and prints what it promises: they cannot go stale."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SRC = Path(__file__).resolve().parent.parent / "src"
# What each example must print (a line of its real output, not just "no crash").
EXPECTED = {
    "one_trial.py": [": success after 4 turns, judge: PASS", "solo turn 1: str_replace_editor"],
    "analyse_store.py": ["40 trials, 1 infra error(s), priced with paper-2026-06", "  A T1: 3/3 succeeded",
                         "T3 C vs D: p = 0.100 (exact), Cliff's delta +1.00"],
    "what_if.py": ["C vs A on T2: C costs no more than A on T2 with hand-backs of at most",
                   "hand-backs capped at 300 tokens: $"],
}


def run_example(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=cwd, env=env, check=False,
                          capture_output=True, text=True, timeout=300)


def test_every_example_is_covered() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


def test_the_public_api_is_flat_lazy_and_complete() -> None:
    code = ("import sys, orchbench; heavy = {'numpy', 'pydantic', 'scipy', 'orchbench.store'} & set(sys.modules); "
            "assert not heavy, heavy; "
            "missing = [n for n in orchbench.__all__ if getattr(orchbench, n, None) is None]; "
            "assert not missing, missing; "
            "undocumented = [n for n in orchbench.__all__ if not (getattr(orchbench, n).__doc__ or '').strip()]; "
            "assert not undocumented, undocumented; "
            "from orchbench import run_simulation; assert callable(run_simulation)")
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_and_prints_what_it_promises(name: str, tmp_path: Path) -> None:
    proc = run_example(name, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for line in EXPECTED[name]:
        assert line in proc.stdout, proc.stdout
    assert list(tmp_path.iterdir()) == []  # nothing left behind in the working directory


def test_one_trial_example_keeps_its_store_when_given_one(tmp_path: Path) -> None:
    from orchbench import Store

    proc = run_example("one_trial.py", str(tmp_path / "runs.db"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with Store(tmp_path / "runs.db", readonly=True) as store:
        [trial] = store.trials()
        assert trial.arm == "oracle" and trial.status == "success" and len(store.calls(trial.id)) == 4
