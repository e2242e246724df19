"""Schema migrations: a store written by an earlier orchbench opens, upgrades in place, keeps every row."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from orchbench import migrations
from orchbench.errors import StoreTooNew
from orchbench.records import Call, Usage
from orchbench.store import SCHEMA_VERSION, Store

V1_DUMP = Path(__file__).parent / "data" / "store-v1.sql"


def v1_store(path: Path) -> Path:
    """A store as orchbench 0.1.0 (schema version 1) wrote it, from its SQL dump."""
    con = sqlite3.connect(path)
    con.executescript(V1_DUMP.read_text())
    con.close()
    return path


def rows(path: Path, table: str, columns: str = "*") -> list[tuple[object, ...]]:
    con = sqlite3.connect(path)
    try:
        return con.execute(f"SELECT {columns} FROM {table} ORDER BY rowid").fetchall()
    finally:
        con.close()


V1_CALL_COLUMNS = ("id, trial_id, role, turn, model, input, output, cache_write, cache_read, cost_usd, latency_s, "
                   "stop_reason, tool_names, handback_chars, parent_turn, started_at, content, tool_results, error")


def test_the_fixture_is_a_version_1_store(tmp_path: Path) -> None:
    p = v1_store(tmp_path / "v1.db")
    con = sqlite3.connect(p)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 1
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "_migrations" not in names and {"experiments", "trials", "calls"} <= names
    con.close()


def as_solo(row: tuple[object, ...], solo_ids: set[str]) -> tuple[object, ...]:
    """A version-1 row as the solo-role migration should leave it (JSON keys or the role renamed)."""
    if row[0] in solo_ids:  # a trial row: models, usage, cost are columns 8-10
        return tuple(json.dumps({("solo" if k == "orchestrator" else k): v for k, v in json.loads(str(x)).items()})
                     if 8 <= i <= 10 else x for i, x in enumerate(row))
    if row[1] in solo_ids and row[2] == "orchestrator":  # a call row: trial_id, role
        return (*row[:2], "solo", *row[3:])
    return row


def test_a_version_1_store_upgrades_in_place_with_every_row_kept(tmp_path: Path) -> None:
    p = v1_store(tmp_path / "v1.db")
    experiments, trials_before = rows(p, "experiments"), rows(p, "trials")
    calls_before = rows(p, "calls", V1_CALL_COLUMNS)
    assert len(trials_before) == 14 and len(calls_before) == 4
    # Solo trials (one model, no executor): the fixture's arm D and the paper's arm A (its 10 trials;
    # its infra-error line has no model at all, so nothing to rename).
    solo_ids = {str(r[0]) for r in trials_before if "executor" not in str(r[8]) and "orchestrator" in str(r[8])}
    assert len(solo_ids) == 11 and "D-tiny-1" in solo_ids and "C-tiny-1" not in solo_ids
    with Store(p) as s:
        trials = s.trials()
        calls = s.calls_by_trial(transcript=True)
    con = sqlite3.connect(p)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert [r[0] for r in con.execute("SELECT name FROM _migrations ORDER BY rowid")] == \
        [name for name, _ in migrations.MIGRATIONS]
    con.close()
    # Every row kept, every value as it was but the solo agent's role name.
    assert rows(p, "experiments") == experiments
    assert rows(p, "trials") == [as_solo(r, solo_ids) for r in trials_before]
    assert rows(p, "calls", V1_CALL_COLUMNS) == [as_solo(r, solo_ids) for r in calls_before]
    assert [t.id for t in trials] == [r[0] for r in trials_before]
    solo = calls["D-tiny-1"]
    assert [(c.role, c.turn) for c in solo] == [("solo", 0), ("solo", 1)] and solo[1].usage.cache_read == 2000
    assert solo[0].content == [{"type": "text", "text": "turn 0"}]
    assert [c.role for c in calls["C-tiny-1"]] == ["orchestrator", "executor"]
    assert all(c.priced_model is None for cs in calls.values() for c in cs)  # not recorded before v2
    by_id = {t.id: t for t in trials}
    assert by_id["D-tiny-1"].usage["solo"].cache_read == 2000 and by_id["D-tiny-1"].iterations == 2


def test_an_upgraded_store_takes_new_rows_and_reopens_without_migrating_again(tmp_path: Path) -> None:
    p = v1_store(tmp_path / "v1.db")
    Store(p).close()
    with Store(p) as s:
        s.add_call(Call(trial_id="D-tiny-1", role="orchestrator", turn=2, model="claude-haiku-4-5-20251001",
                        usage=Usage(input=1), priced_model="claude-haiku-4-5-20251001"))
        assert s.calls("D-tiny-1")[-1].priced_model == "claude-haiku-4-5-20251001"
    assert len(rows(p, "_migrations")) == SCHEMA_VERSION


def test_a_read_only_open_upgrades_the_schema_but_no_row(tmp_path: Path) -> None:
    p = v1_store(tmp_path / "v1.db")
    trials = rows(p, "trials")
    with Store(p, readonly=True) as s:
        assert [t.id for t in s.trials()] == [r[0] for r in trials]
    assert [r[0] for r in rows(p, "trials")] == [r[0] for r in trials]


def test_a_store_with_a_migration_this_orchbench_does_not_know_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "s.db"
    Store(p).close()
    con = sqlite3.connect(p)
    con.execute("INSERT INTO _migrations (name, applied_at) VALUES ('m999_from_the_future', '')")
    con.commit()
    con.close()
    with pytest.raises(StoreTooNew, match="newer than this orchbench supports"):
        Store(p)


def test_a_new_store_has_every_migration_recorded_once(tmp_path: Path) -> None:
    p = tmp_path / "s.db"
    Store(p).close()
    Store(p).close()
    assert [r[0] for r in rows(p, "_migrations", "name")] == [n for n, _ in migrations.MIGRATIONS]


def test_adding_a_column_is_one_migration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = v1_store(tmp_path / "v1.db")
    Store(p).close()

    def m999_trials_reviewer(db: sqlite3.Connection) -> None:
        migrations.add_column(db, "trials", "reviewer", "TEXT NOT NULL DEFAULT ''")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, ("m999_trials_reviewer",
                                                                            m999_trials_reviewer)])
    monkeypatch.setattr("orchbench.store.SCHEMA_VERSION", SCHEMA_VERSION + 1)
    before = rows(p, "trials")
    Store(p).close()
    after = rows(p, "trials")
    assert [r[:-1] for r in after] == before and {r[-1] for r in after} == {""}
