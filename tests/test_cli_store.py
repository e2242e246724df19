"""`orchbench import` / `orchbench export`, run as the real command (`python3 -m orchbench.cli`)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from orchbench.store import Store


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchbench.cli", *map(str, args)], cwd=cwd, check=False,
                          capture_output=True, text=True, timeout=120)


def assert_one_line_error(r: subprocess.CompletedProcess[str], *expect: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for e in expect:
        assert e in lines[0], lines[0]


def _dump(db: Path) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return [*con.execute("SELECT * FROM trials ORDER BY id"), *con.execute("SELECT * FROM calls ORDER BY id"),
                *con.execute("SELECT * FROM experiments ORDER BY id")]
    finally:
        con.close()


def _original(paper_dir: Path) -> list[dict]:
    return [json.loads(line) for f in sorted(paper_dir.glob("*.jsonl"))
            for line in f.read_text().splitlines() if line.strip()]


def test_import_paper_data_then_reimport_does_not_duplicate(tmp_path: Path, paper_dir: Path) -> None:
    r = run("import", paper_dir, cwd=tmp_path)  # default --db ./orchbench.db
    assert r.returncode == 0, r.stderr
    assert "imported 41 lines from 4 file(s)" in r.stdout and "40 trials, 1 infra error" in r.stdout
    with Store(tmp_path / "orchbench.db", readonly=True) as s:
        trials = s.trials()
        assert len(trials) == 41
        (infra,) = [t for t in trials if t.status == "infra_error"]
        assert (infra.arm, infra.task, infra.attempt) == ("A", "T1", 0)
    r = run("import", paper_dir / "A.jsonl", "--db", "orchbench.db", cwd=tmp_path)
    assert r.returncode == 0 and "11 already stored were replaced, not duplicated" in r.stdout
    with Store(tmp_path / "orchbench.db", readonly=True) as s:
        assert len(s.trials()) == 41


def test_malformed_line_leaves_the_store_unchanged(tmp_path: Path, paper_dir: Path) -> None:
    db = tmp_path / "s.db"
    assert run("import", paper_dir / "A.jsonl", "--db", db, cwd=tmp_path).returncode == 0
    before = _dump(db)
    results = tmp_path / "results"
    results.mkdir()
    shutil.copy(paper_dir / "B.jsonl", results / "B.jsonl")
    lines = (paper_dir / "C.jsonl").read_text().splitlines()
    lines[2] = lines[2].replace('"iterations": 20', '"iterations": -20')
    (results / "C.jsonl").write_text("\n".join(lines) + "\n")
    r = run("import", results, "--db", db, cwd=tmp_path)
    assert_one_line_error(r, f"{results / 'C.jsonl'}:3:", '"iterations" must be an integer >= 0')
    assert _dump(db) == before


def test_bad_store_files_get_one_line_and_stay_intact(tmp_path: Path, paper_dir: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n")
    foreign = tmp_path / "other.db"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    foreign_bytes = foreign.read_bytes()
    for db in (text, foreign):
        assert_one_line_error(run("import", paper_dir, "--db", db, cwd=tmp_path), str(db), "not an orchbench store")
        assert_one_line_error(run("export", "--db", db, cwd=tmp_path), str(db), "not an orchbench store")
    assert text.read_text() == "not a database\n"
    assert foreign.read_bytes() == foreign_bytes


def test_bad_arguments_get_one_line(tmp_path: Path, paper_dir: Path) -> None:
    assert run("import", paper_dir, cwd=tmp_path).returncode == 0
    for args, expect in [
        (["import", "missing.jsonl"], "missing.jsonl: no such file"),
        (["export", "--db", "missing.db"], "missing.db: no such results store"),
        (["export", "--format", "xml"], "--format 'xml' is not supported"),
    ]:
        assert_one_line_error(run(*args, cwd=tmp_path), expect)


def test_export_jsonl_round_trips_and_csv_is_flat(tmp_path: Path, paper_dir: Path) -> None:
    assert run("import", paper_dir, "--db", "s.db", cwd=tmp_path).returncode == 0
    r = run("export", "--format", "jsonl", "--db", "s.db", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert [json.loads(line) for line in r.stdout.splitlines()] == _original(paper_dir)

    r = run("export", "--format", "jsonl", "--db", "s.db", "--out", "out.jsonl", cwd=tmp_path)
    assert r.returncode == 0 and "exported 41 trials" in r.stdout
    assert run("import", "out.jsonl", "--db", "again.db", cwd=tmp_path).returncode == 0
    with Store(tmp_path / "s.db", readonly=True) as a, Store(tmp_path / "again.db", readonly=True) as b:
        strip = {"id", "source"}
        assert [t.model_dump(exclude=strip) for t in a.trials()] == [t.model_dump(exclude=strip) for t in b.trials()]

    r = run("export", "--format", "csv", "--db", "s.db", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 41
    c = next(x for x in rows if x["arm"] == "C" and x["task"] == "T3" and x["attempt"] == "0")
    assert c["executor_model"] == "claude-haiku-4-5-20251001" and c["executor_input"] == "42488"
    assert float(c["total_cost"]) == pytest.approx(0.346099)
    assert sum(x["status"] == "infra_error" for x in rows) == 1


def test_bad_rate_card_and_unknown_model_get_one_line(tmp_path: Path, paper_dir: Path) -> None:
    # The rate card is the store area's; `analyze` is the command that takes one.
    (tmp_path / "card.toml").write_text('[models."claude-opus-4-7"]\ninput = -15\noutput = 75\n')
    r = run("analyze", "--results", paper_dir, "--rate-card", "card.toml", cwd=tmp_path)
    assert_one_line_error(r, "card.toml", 'models."claude-opus-4-7".input is negative')
    lines = (paper_dir / "A.jsonl").read_text().replace("claude-opus-4-7", "acme-coder-1")
    (tmp_path / "acme.jsonl").write_text(lines)
    r = run("analyze", "--results", "acme.jsonl", "--rate-card", "paper-2026-06", cwd=tmp_path)
    assert_one_line_error(r, 'no price for model "acme-coder-1" on rate card "paper-2026-06"',
                          '[models."acme-coder-1"]')
