"""The SQLite store: schema, round trips, derived totals, all-or-nothing writes, foreign files, concurrency."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchbench.errors import UserError
from orchbench.paperformat import read_paper_files
from orchbench.records import Call, CommandResult, Experiment, Trial, Usage, Verdict
from orchbench.store import APPLICATION_ID, SCHEMA_VERSION, Store


def _call(trial_id: str, turn: int, role: str = "orchestrator", **kw: object) -> Call:
    return Call(trial_id=trial_id, role=role, turn=turn, model=kw.pop("model", "m-" + role),  # type: ignore[arg-type]
                usage=Usage(input=10 + turn, output=5, cache_write=1, cache_read=100 * turn),
                cost_usd=0.01 * (turn + 1), **kw)


def test_new_store_has_schema_wal_and_marks(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    Store(db).close()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    indexes = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"trials_by_cell", "calls_by_trial"} <= indexes
    plan = " ".join(str(r) for r in con.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM calls WHERE trial_id = ? ORDER BY id", ("x",)))
    assert "calls_by_trial" in plan


def test_paper_trials_round_trip(tmp_path: Path, paper_dir: Path) -> None:
    items = read_paper_files([paper_dir])
    with Store(tmp_path / "s.db") as s:
        assert s.add_trials(items) == 41
        assert s.trials() == [t for t, _ in items]  # insertion order, every field
        assert len(s.trials(status="infra_error")) == 1
        assert len(s.trials(arm="B", task="T1")) == 4
        first = items[0][0]
        assert s.trial(first.id) == first
        assert s.trial("nope") is None
    with Store(tmp_path / "s.db", readonly=True) as s:
        assert [Trial.model_validate(t.model_dump()) for t in s.trials()] == [t for t, _ in items]


def test_readding_the_same_trials_does_not_duplicate(tmp_path: Path, paper_dir: Path) -> None:
    items = read_paper_files([paper_dir])
    with Store(tmp_path / "s.db") as s:
        s.add_trials(items)
        assert s.existing_ids([items[0][0].id, "other"]) == {items[0][0].id}
        s.add_trials(items)
        assert len(s.trials()) == 41


def test_run_lifecycle_derives_totals_from_stored_calls(tmp_path: Path) -> None:
    t = Trial(id="t1", arm="C", task="T1", status="success", wall_s=3.0, iterations=2,
              verdict=Verdict(passed=True, commands=[CommandResult(name="pytest", exit_code=0)]),
              started_at=datetime(2026, 1, 1, tzinfo=UTC))
    with Store(tmp_path / "s.db") as s:
        s.add_experiment(Experiment(id="e", name="exp", spec={"arms": ["C"]}))
        s.start_trial(t)
        assert s.trial("t1").status == "running"  # type: ignore[union-attr]
        ids = [s.add_call(_call("t1", 0)), s.add_call(_call("t1", 0, "executor", handback_chars=42,
                                                             content=[{"type": "text", "text": "hi"}])),
               s.add_call(_call("t1", 1, tool_names=["bash"]))]
        assert ids == sorted(ids) and len(set(ids)) == 3
        # A stale total in the trial passed in is ignored: the calls are the source of truth.
        final = s.finish_trial(t.model_copy(update={"total_cost": 99.0}))
        assert final.status == "success"
        assert final.usage["orchestrator"] == Usage(input=21, output=10, cache_write=2, cache_read=100)
        assert final.cost == {"orchestrator": pytest.approx(0.03), "executor": pytest.approx(0.01)}
        assert final.total_cost == pytest.approx(0.04)
        assert final.models == {"orchestrator": "m-orchestrator", "executor": "m-executor"}
        assert s.trial("t1") == final
        calls = s.calls("t1")
        assert [c.role for c in calls] == ["orchestrator", "executor", "orchestrator"]
        assert calls[1].handback_chars == 42 and calls[1].content == [{"type": "text", "text": "hi"}]
        assert calls[2].tool_names == ["bash"]
        assert calls[0] == _call("t1", 0).model_copy(update={"started_at": calls[0].started_at})
        assert s.calls("t1", transcript=False)[1].content == []
        assert all(Call.model_validate(c.model_dump()) == c for c in calls)
        assert {k: len(v) for k, v in s.calls_by_trial().items()} == {"t1": 3}
        assert len(s.calls_by_trial(["t1", "t2"])["t1"]) == 3
        assert [e.spec for e in s.experiments()] == [{"arms": ["C"]}]
        s.start_trial(t)  # a restart of the same id begins with no calls
        assert s.calls("t1") == []


def test_add_trials_is_all_or_nothing(tmp_path: Path, paper_dir: Path) -> None:
    items = read_paper_files([paper_dir])
    db = tmp_path / "s.db"
    with Store(db) as s:
        s.add_trials(items[:5])

    def failing() -> Iterator[tuple[Trial, list[Call]]]:
        yield from items[5:20]
        raise UserError("bad line")

    with Store(db) as s:
        with pytest.raises(UserError):
            s.add_trials(failing())
        assert [t.id for t in s.trials()] == [t.id for t, _ in items[:5]]
        new = Trial(id="n", arm="A", task="T", status="success")
        with pytest.raises(sqlite3.IntegrityError):  # a call that cannot be stored aborts the batch
            s.add_trials([(new, [_call("n", 0)]), (items[6][0], [_call("x", 0).model_copy(update={"model": None})])])
        assert s.trial("n") is None and s.calls("n") == []
        assert len(s.trials()) == 5


def test_trial_with_calls_in_add_trials_gets_derived_totals(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as s:
        s.add_trials([(Trial(id="n", arm="A", task="T", status="success"), [_call("n", 0), _call("n", 1)])])
        assert s.trial("n").total_cost == pytest.approx(0.03)  # type: ignore[union-attr]
        assert len(s.calls("n")) == 2


def test_text_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    p = tmp_path / "notes.txt"
    p.write_text("hello, not a database\n")
    with pytest.raises(UserError, match=f"{p}: not an orchbench store"):
        Store(p)
    assert p.read_text() == "hello, not a database\n"


def test_foreign_sqlite_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    p = tmp_path / "other.db"
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE people (name TEXT)")
    con.execute("INSERT INTO people VALUES ('ada')")
    con.commit()
    con.close()
    before = p.read_bytes()
    for readonly in (False, True):
        with pytest.raises(UserError, match="not an orchbench store"):
            Store(p, readonly=readonly)
    assert p.read_bytes() == before


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "s.db"
    Store(p).close()
    con = sqlite3.connect(p)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(UserError, match="newer than this orchbench supports"):
        Store(p)


def test_readonly_store(tmp_path: Path) -> None:
    p = tmp_path / "s.db"
    with pytest.raises(UserError, match="no such results store"):
        Store(p, readonly=True)
    assert not p.exists()
    Store(p).close()
    with Store(p, readonly=True) as s:
        assert s.trials() == []
        with pytest.raises(UserError, match="read-only"):
            s.add_experiment(Experiment(id="e"))


def test_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is a directory"):
        Store(tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        Store(tmp_path / "missing" / "s.db")


def _writer(db: str, worker: int, n_trials: int, n_calls: int) -> None:
    with Store(db) as s:
        for i in range(n_trials):
            tid = f"w{worker}-{i}"
            s.start_trial(Trial(id=tid, arm=f"arm{worker}", task="T", status="success"))
            for turn in range(n_calls):
                s.add_call(_call(tid, turn))
            s.finish_trial(Trial(id=tid, arm=f"arm{worker}", task="T", status="success"))
        s.add_trials([(Trial(id=f"bulk{worker}-{i}", arm="bulk", task="T", status="failure"), [])
                      for i in range(10)])


def test_concurrent_writer_processes_lose_nothing(tmp_path: Path) -> None:
    db = str(tmp_path / "shared.db")  # created by the racing workers themselves
    workers, n_trials, n_calls = 4, 15, 4
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(db, w, n_trials, n_calls)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * workers
    with Store(db, readonly=True) as s:
        trials = s.trials()
        assert len(trials) == workers * (n_trials + 10)
        by_trial = s.calls_by_trial()
        for w in range(workers):
            for i in range(n_trials):
                t = s.trial(f"w{w}-{i}")
                assert t is not None and t.status == "success"
                assert [c.turn for c in by_trial[t.id]] == list(range(n_calls))
                assert t.total_cost == pytest.approx(sum(0.01 * (k + 1) for k in range(n_calls)))


def test_add_trials_without_calls_keeps_stored_calls(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as s:
        t = Trial(id="k", arm="A", task="T", status="running")
        s.start_trial(t)
        s.add_call(_call("k", 0))
        s.add_call(_call("k", 1))
        s.add_trials([(t.model_copy(update={"status": "success", "total_cost": 0.0}), [])])
        stored = s.trial("k")
        assert stored is not None and stored.status == "success"
        assert len(s.calls("k")) == 2 and stored.total_cost == pytest.approx(0.03)


def test_failed_add_trials_does_not_leave_its_experiment_behind(tmp_path: Path) -> None:
    def failing() -> Iterator[tuple[Trial, list[Call]]]:
        yield Trial(id="a", arm="A", task="T", status="success"), []
        raise UserError("bad line")

    with Store(tmp_path / "s.db") as s:
        with pytest.raises(UserError):
            s.add_trials(failing(), experiment=Experiment(id="imp"))
        assert s.experiments() == [] and s.trials() == []
        s.add_trials([(Trial(id="a", arm="A", task="T", status="success", experiment="imp"), [])],
                     experiment=Experiment(id="imp"))
        assert [e.id for e in s.experiments()] == ["imp"]


def test_corrupt_sqlite_file_is_a_user_error(tmp_path: Path) -> None:
    p = tmp_path / "broken.db"
    p.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 8)
    before = p.read_bytes()
    with pytest.raises(UserError, match="broken.db"):
        Store(p)
    assert p.read_bytes() == before
