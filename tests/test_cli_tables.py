"""Tables at 80 columns in a pipe (COLUMNS=80): nothing cut to "c.…", nothing past the edge; what
could not fit is left out by name, least needed first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_view_support import PAPER_DIR, transcript_store

SRC = Path(__file__).resolve().parent.parent / "src"


def orchbench(*args: str, columns: int = 80, cwd: Path) -> str:
    env = {**os.environ, "COLUMNS": str(columns), "PYTHONPATH": str(SRC)}
    proc = subprocess.run([sys.executable, "-m", "orchbench", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, check=False, timeout=300)  # stdout is a pipe, as in `| less`
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def assert_legible(out: str, columns: int) -> None:
    assert "…" not in out, out  # no cell or header cut short
    too_wide = [line for line in out.splitlines() if len(line.rstrip()) > columns]
    assert not too_wide, "\n".join(too_wide)


@pytest.mark.parametrize("columns", [80, 60])
def test_analyze_fits_and_says_what_it_left_out(tmp_path: Path, columns: int) -> None:
    out = orchbench("analyze", "--results", str(PAPER_DIR), columns=columns, cwd=tmp_path)
    assert_legible(out, columns)
    assert "cost $" in out and "p exact" in out and "534,586" in out  # the key columns stay
    assert f"left out to fit {columns} columns: infra" in out
    if columns == 80:
        assert "dom. by" in out and "Cliff's d" in out


def test_analyze_without_columns_in_a_pipe_keeps_every_column(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    proc = subprocess.run([sys.executable, "-m", "orchbench", "analyze", "--results", str(PAPER_DIR)],
                          env={**env, "PYTHONPATH": str(SRC)}, cwd=tmp_path, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0 and "left out" not in proc.stdout
    assert "95% CI $" in proc.stdout and "p normal approx*" in proc.stdout


def test_reproduce_fits(tmp_path: Path) -> None:
    out = orchbench("reproduce", "--out", str(tmp_path / "report"), cwd=tmp_path)
    assert_legible(out, 80)
    assert "Re-priced with" in out and "left out to fit 80 columns" in out


def test_show_an_orchestrated_trial_fits(tmp_path: Path) -> None:
    db = transcript_store(tmp_path / "t.db")
    out = orchbench("show", "rec-B-T1-0", "--db", str(db), cwd=tmp_path)
    table = out.split("─ handed back at")[0]  # the hand-back excerpts below end in "… [N more chars]"
    assert_legible(table, 80)
    assert "orch 3" in table and "└ exec" in table and "delegate_to_executor" in table
    assert "left out to fit 80 columns:" in table


def test_status_fits(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    orchbench("import", str(PAPER_DIR), "--db", str(db), cwd=tmp_path)
    out = orchbench("status", "--db", str(db), cwd=tmp_path)
    assert_legible(out, 80)
    assert "12/12 end" in out and "cost $" in out
