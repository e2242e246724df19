"""The simulator's break-even section in the HTML report (issue: the report states the hand-back
size at which B costs no more than A, with the assumptions next to the numbers)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from orchbench.analysis.reproduce import reproduce
from orchbench.simulate.run import simulate
from orchbench.simulate.whatif import load_items
from tests.helpers import run_cli


def test_reproduce_report_states_each_break_even_with_its_assumptions(tmp_path: Path, paper_dir: Path) -> None:
    reproduce(out=tmp_path)
    page = html.unescape((tmp_path / "index.html").read_text())
    sim = simulate(load_items(results=[paper_dir]), rate_card="paper-2026-06")
    b_rows = [b for b in sim.breakeven if b.arm == "B"]
    assert {b.task for b in b_rows} == {"T1", "T2", "T3"}  # one statement per task for arm B vs A
    for b in sim.breakeven:
        assert b.verdict in page
    for a in sim.assumptions:
        assert a in page
    start = page.index("Simulator")
    assert page.index("Assumptions", start) > start  # assumptions sit with the numbers
    assert (tmp_path / "figures" / "simulate-handback-cap.svg").is_file()


def test_report_on_solo_arms_only_has_no_simulator_section(tmp_path: Path, paper_dir: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    solo = tmp_path / "solo.jsonl"
    lines = (paper_dir / "A.jsonl").read_text().splitlines() + (paper_dir / "D.jsonl").read_text().splitlines()
    solo.write_text("\n".join(lines) + "\n")
    code, _, err = run_cli(["report", "--out", str(tmp_path / "r"), "--results", str(solo)], capsys)
    assert code == 0, err
    page = (tmp_path / "r" / "index.html").read_text()
    assert "Simulator" not in page and "<h2>Cells</h2>" in page
    assert json.loads((tmp_path / "r" / "analysis.json").read_text())["cells"]
