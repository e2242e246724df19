"""`plan`: variance components from a pilot, simulated power, and the paper's A vs B."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from orchbench.analysis.paperscan import read_paper_columns
from orchbench.analysis.plan import Pilot, estimate_pilot, plan, simulate_power
from orchbench.analysis.sources import paper_data_dir
from tests.helpers import run_cli


def test_pilot_recovers_its_variance_components(tmp_path: Path) -> None:
    rng = random.Random(3)
    rows = []
    for t in range(60):
        level, effect = rng.gauss(0, 1), rng.gauss(math.log(0.7), 0.3)
        for arm, shift in (("A", effect), ("B", 0.0)):
            for k in range(4):
                rows.append({"arm": arm, "task": f"t{t}", "trial": k, "success": True, "blocked": False,
                             "wall_sec": 1.0, "iterations": 1, "usage_by_role": {}, "cost_usd_by_role": {},
                             "total_cost_usd": math.exp(level + shift + rng.gauss(0, 0.4)),
                             "verify_final": {}, "error": None})
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    pilot = estimate_pilot(read_paper_columns([tmp_path]), "A", "B")
    assert pilot.tasks == 60
    assert pilot.sd_within == pytest.approx(0.4, rel=0.1)
    assert pilot.sd_task == pytest.approx(0.3, rel=0.35)
    assert pilot.ratio == pytest.approx(0.7, rel=0.1)


def test_power_grows_with_tasks_and_is_alpha_under_no_effect() -> None:
    pilot = Pilot("A", "B", 3, 0.7, 0.3, 0.2, {"A": 1.0, "B": 0.5}, {"A": 2.0, "B": 1.0})
    assert simulate_power(pilot, 0.7, 6, 3) < simulate_power(pilot, 0.7, 12, 3) < simulate_power(pilot, 0.7, 30, 3)
    assert simulate_power(pilot, 1.0 + 1e-12, 20, 3, simulations=4000) == pytest.approx(0.05, abs=0.015)
    p = plan(pilot, ratio=0.7, successes=(3,))
    d = p.designs[0]
    assert d.power >= 0.8 and simulate_power(pilot, 0.7, d.tasks - 1, 3) < 0.8
    assert d.usd == pytest.approx(d.tasks * (3 / 1.0 * 2.0 + 3 / 0.5 * 1.0))


def test_plan_on_the_papers_data_says_how_many_tasks(capsys: pytest.CaptureFixture[str]) -> None:
    cols = read_paper_columns([paper_data_dir()])
    pilot = estimate_pilot(cols, "A", "B")
    assert pilot.tasks == 3
    code, out, _ = run_cli(["plan", "A", "B", "--paper", "--successes", "3"], capsys)
    assert code == 0
    assert "80% power" in out and "tasks x 3 success(es) per cell" in out
    n = int(out.split("tasks x 3")[0].split()[-1])
    assert n > 3  # the paper's three tasks were not enough


def test_plan_rejects_unknown_arm(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["plan", "A", "Z", "--paper"], capsys)
    assert code == 2 and "arm 'Z'" in err
