"""The results store: experiments, trials and every API call, in one SQLite file.

Several processes write at once (a batch's workers): the file runs in WAL mode with a busy timeout,
and every write is one short `BEGIN IMMEDIATE` transaction, so writers queue instead of failing.
An orchbench database is recognised by its SQLite `application_id`; `user_version` is the schema
version. Opening any other file is a UserError naming it: the store never writes into a file it
did not create.

Bulk reads for the viewer and analysis: `trials()` builds records without re-validating rows this
module wrote; `calls(trial_id, transcript=False)` skips the transcript columns; `calls_by_trial()`
loads the calls of many trials in one indexed query.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from orchbench.bulk import construct_trusted, gc_paused
from orchbench.errors import UserError
from orchbench.records import Call, Experiment, Trial, Usage, Verdict

APPLICATION_ID = 0x4F524342  # "ORCB"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 60_000
_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE experiments (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL, spec TEXT NOT NULL
);
CREATE TABLE trials (
    id TEXT PRIMARY KEY, experiment TEXT NOT NULL, arm TEXT NOT NULL, task TEXT NOT NULL,
    attempt INTEGER NOT NULL, status TEXT NOT NULL, wall_s REAL NOT NULL, iterations INTEGER NOT NULL,
    models TEXT NOT NULL, usage TEXT NOT NULL, cost TEXT NOT NULL, total_cost REAL NOT NULL,
    verdict_summary TEXT NOT NULL, verdict TEXT, error TEXT, failure_reason TEXT,
    started_at TEXT, ended_at TEXT, notes TEXT NOT NULL, source TEXT NOT NULL
);
CREATE INDEX trials_by_cell ON trials (experiment, arm, task);
CREATE INDEX trials_by_status ON trials (status);
CREATE TABLE calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT, trial_id TEXT NOT NULL, role TEXT NOT NULL,
    turn INTEGER NOT NULL, model TEXT NOT NULL, input INTEGER NOT NULL, output INTEGER NOT NULL,
    cache_write INTEGER NOT NULL, cache_read INTEGER NOT NULL, cost_usd REAL NOT NULL,
    latency_s REAL NOT NULL, stop_reason TEXT, tool_names TEXT NOT NULL, handback_chars INTEGER,
    parent_turn INTEGER, started_at TEXT NOT NULL, content TEXT NOT NULL, tool_results TEXT NOT NULL,
    error TEXT
);
CREATE INDEX calls_by_trial ON calls (trial_id, id);
"""

_TRIAL_COLS = ("id", "experiment", "arm", "task", "attempt", "status", "wall_s", "iterations", "models",
               "usage", "cost", "total_cost", "verdict_summary", "verdict", "error", "failure_reason",
               "started_at", "ended_at", "notes", "source")
_CALL_LIGHT = ("trial_id", "role", "turn", "model", "input", "output", "cache_write", "cache_read",
               "cost_usd", "latency_s", "stop_reason", "tool_names", "handback_chars", "parent_turn",
               "started_at", "error")
_CALL_COLS = _CALL_LIGHT + ("content", "tool_results")
_INSERT_TRIAL = (
    f"INSERT INTO trials ({', '.join(_TRIAL_COLS)}) VALUES ({', '.join('?' * len(_TRIAL_COLS))}) "
    f"ON CONFLICT(id) DO UPDATE SET {', '.join(f'{c}=excluded.{c}' for c in _TRIAL_COLS[1:])}"
)
_INSERT_CALL = f"INSERT INTO calls ({', '.join(_CALL_COLS)}) VALUES ({', '.join('?' * len(_CALL_COLS))})"
_dumps = json.dumps
_loads = json.loads
# Rows were validated on the way in; re-validating 500,000 calls would dominate a viewer load.
_construct = construct_trusted
_NAME_LISTS: dict[str, tuple[str, ...]] = {}


def _names(s: str) -> list[str]:
    # tool_names repeat endlessly ('["bash"]'): decode each distinct text once, hand out fresh lists.
    t = _NAME_LISTS.get(s)
    if t is None:
        t = tuple(_loads(s))
        if len(_NAME_LISTS) < 10_000:
            _NAME_LISTS[s] = t
    return list(t)


def _ts(d: datetime | None) -> str | None:
    return None if d is None else d.isoformat()


def _dt(s: str | None) -> datetime | None:
    return None if s is None else datetime.fromisoformat(s)


def _trial_row(t: Trial) -> tuple[Any, ...]:
    return (
        t.id, t.experiment, t.arm, t.task, t.attempt, t.status, t.wall_s, t.iterations,
        _dumps(t.models), _dumps({r: u.model_dump() for r, u in t.usage.items()}), _dumps(t.cost),
        t.total_cost, t.verdict_summary, None if t.verdict is None else t.verdict.model_dump_json(),
        t.error, t.failure_reason, _ts(t.started_at), _ts(t.ended_at), _dumps(t.notes), t.source,
    )


def _row_trial(r: tuple[Any, ...]) -> Trial:
    return _construct(Trial, {
        "id": r[0], "experiment": r[1], "arm": r[2], "task": r[3], "attempt": r[4], "status": r[5],
        "wall_s": r[6], "iterations": r[7], "models": _loads(r[8]),
        "usage": {role: _construct(Usage, u) for role, u in _loads(r[9]).items()},
        "cost": _loads(r[10]), "total_cost": r[11], "verdict_summary": r[12],
        "verdict": None if r[13] is None else Verdict.model_validate_json(r[13]),
        "error": r[14], "failure_reason": r[15], "started_at": _dt(r[16]), "ended_at": _dt(r[17]),
        "notes": _loads(r[18]), "source": r[19],
    })


def _call_row(c: Call) -> tuple[Any, ...]:
    u = c.usage
    return (
        c.trial_id, c.role, c.turn, c.model, u.input, u.output, u.cache_write, u.cache_read, c.cost_usd,
        c.latency_s, c.stop_reason, _dumps(c.tool_names), c.handback_chars, c.parent_turn,
        c.started_at.isoformat(), c.error, _dumps(c.content), _dumps(c.tool_results),
    )


def _row_call(r: tuple[Any, ...]) -> Call:
    n = len(r)
    return _construct(Call, {
        "trial_id": r[0], "role": r[1], "turn": r[2], "model": r[3],
        "usage": _construct(Usage, {"input": r[4], "output": r[5], "cache_write": r[6], "cache_read": r[7]}),
        "cost_usd": r[8], "latency_s": r[9], "stop_reason": r[10], "tool_names": _names(r[11]),
        "handback_chars": r[12], "parent_turn": r[13], "started_at": datetime.fromisoformat(r[14]),
        "error": r[15], "content": _loads(r[16]) if n > 16 else [],
        "tool_results": _loads(r[17]) if n > 17 else [],
    })


class Store:
    """One orchbench SQLite file. Use as a context manager; one instance per thread."""

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        _check_file(self.path, readonly)
        try:
            if readonly:
                self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                           isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
            else:
                self._db = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._open()
        except UserError:
            self._close_quietly()
            raise
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            raise UserError(f"{self.path}: cannot open as an orchbench store ({exc}); "
                            "pass --db with an orchbench database or a new file name") from None

    # -- opening ------------------------------------------------------------------------------------

    def _open(self) -> None:
        db = self._db
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        if app_id == APPLICATION_ID:
            self._check_version()
        elif app_id != 0 or db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise _not_ours(self.path)
        elif self.readonly:
            raise UserError(f"{self.path}: empty database, not an orchbench store yet; import or run trials first")
        else:
            with self._write():
                # Re-check inside the lock: another process may have created the schema meanwhile.
                app_id = db.execute("PRAGMA application_id").fetchone()[0]
                if app_id == 0:
                    if db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                        raise _not_ours(self.path)
                    for stmt in _SCHEMA.split(";"):
                        if stmt.strip():
                            db.execute(stmt)
                    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                elif app_id != APPLICATION_ID:
                    raise _not_ours(self.path)
            self._check_version()
        if not self.readonly:
            # Persistent once set; a no-op when it already is WAL.
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")

    def _check_version(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise UserError(f"{self.path}: store schema version {version} is newer than this orchbench "
                            f"supports ({SCHEMA_VERSION}); upgrade orchbench")
        # Older versions would be migrated here; version 1 is the first.

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        if self.readonly:
            raise UserError(f"{self.path}: store opened read-only; open it without readonly to write")
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            if db.in_transaction:  # some SQLite errors have rolled back already
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    def _close_quietly(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- experiments --------------------------------------------------------------------------------

    def add_experiment(self, exp: Experiment) -> None:
        with self._write() as db:
            _upsert_experiment(db, exp)

    def experiments(self) -> list[Experiment]:
        rows = self._db.execute("SELECT id, name, created_at, spec FROM experiments ORDER BY created_at, id")
        return [Experiment(id=i, name=n, created_at=datetime.fromisoformat(c), spec=_loads(s))
                for i, n, c, s in rows]

    # -- trials and calls ---------------------------------------------------------------------------

    def start_trial(self, trial: Trial) -> None:
        """Store the trial as "running" (replacing an earlier row and its calls with the same id)."""
        row = _trial_row(trial.model_copy(update={"status": "running"}))
        with self._write() as db:
            db.execute("DELETE FROM calls WHERE trial_id = ?", (trial.id,))
            db.execute(_INSERT_TRIAL, row)

    def add_call(self, call: Call) -> int:
        """Store one call at once (a crash loses no finished call); returns its id."""
        with self._write() as db:
            cur = db.execute(_INSERT_CALL, _call_row(call))
        return int(cur.lastrowid or 0)

    def update_call(self, call_id: int, call: Call) -> None:
        """Add what the harness answered to a call stored on arrival (tool results, hand-back, error)."""
        with self._write() as db:
            db.execute("UPDATE calls SET tool_results = ?, handback_chars = ?, error = ? WHERE id = ?",
                       (_dumps(call.tool_results), call.handback_chars, call.error, call_id))

    def finish_trial(self, trial: Trial) -> Trial:
        """Store the trial's final state with usage and cost re-derived from its stored calls."""
        with self._write() as db:
            final = trial.with_calls(self._stored_calls(trial.id))
            db.execute(_INSERT_TRIAL, _trial_row(final))
        return final

    def add_trials(self, items: Iterable[tuple[Trial, list[Call]]], *, experiment: Experiment | None = None) -> int:
        """Upsert trials (by id) with their calls in one transaction: all of them or none.

        A trial that exists already is replaced, so re-importing a file does not duplicate it.
        Given calls replace the trial's stored calls; an empty list keeps the stored calls (nothing
        stored is dropped by omission). Totals are re-derived from the calls the trial ends up with.
        `experiment`, if given, is upserted in the same transaction.
        """
        n = 0
        with self._write() as db:
            if experiment is not None:
                _upsert_experiment(db, experiment)
            for trial, calls in items:
                if calls:
                    db.execute("DELETE FROM calls WHERE trial_id = ?", (trial.id,))
                    db.executemany(_INSERT_CALL, [_call_row(c) for c in calls])
                    trial = trial.with_calls(calls)
                elif db.execute("SELECT 1 FROM calls WHERE trial_id = ? LIMIT 1", (trial.id,)).fetchone():
                    trial = trial.with_calls(self._stored_calls(trial.id))
                db.execute(_INSERT_TRIAL, _trial_row(trial))
                n += 1
        return n

    def _stored_calls(self, trial_id: str) -> list[Call]:
        q = f"SELECT {', '.join(_CALL_LIGHT)} FROM calls WHERE trial_id = ? ORDER BY id"
        return [_row_call(r) for r in self._db.execute(q, (trial_id,))]

    def existing_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of these trial ids are stored already."""
        ids = list(ids)
        found: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            q = f"SELECT id FROM trials WHERE id IN ({', '.join('?' * len(chunk))})"
            found.update(r[0] for r in self._db.execute(q, chunk))
        return found

    def trials(self, *, experiment: str | None = None, arm: str | None = None, task: str | None = None,
               status: str | None = None) -> list[Trial]:
        where, args = [], []
        for col, val in (("experiment", experiment), ("arm", arm), ("task", task), ("status", status)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        q = f"SELECT {', '.join(_TRIAL_COLS)} FROM trials"
        if where:
            q += " WHERE " + " AND ".join(where)
        q += " ORDER BY rowid"  # insertion order: an export lists an imported file's lines in order
        with gc_paused():
            return [_row_trial(r) for r in self._db.execute(q, args)]

    def trial(self, trial_id: str) -> Trial | None:
        r = self._db.execute(f"SELECT {', '.join(_TRIAL_COLS)} FROM trials WHERE id = ?", (trial_id,)).fetchone()
        return None if r is None else _row_trial(r)

    def calls(self, trial_id: str, *, transcript: bool = True) -> list[Call]:
        """The trial's calls in the order they were stored; transcript=False leaves content empty."""
        cols = _CALL_COLS if transcript else _CALL_LIGHT
        q = f"SELECT {', '.join(cols)} FROM calls WHERE trial_id = ? ORDER BY id"
        return [_row_call(r) for r in self._db.execute(q, (trial_id,))]

    def calls_by_trial(self, trial_ids: Iterable[str] | None = None, *,
                       transcript: bool = False) -> dict[str, list[Call]]:
        """Calls of many trials (all when None) in one pass, grouped by trial id, in stored order."""
        cols = _CALL_COLS if transcript else _CALL_LIGHT
        out: dict[str, list[Call]] = {}
        with gc_paused():
            self._calls_into(out, cols, trial_ids)
        return out

    def _calls_into(self, out: dict[str, list[Call]], cols: tuple[str, ...],
                    trial_ids: Iterable[str] | None) -> None:
        select = f"SELECT {', '.join(cols)} FROM calls"
        if trial_ids is None:
            queries: list[tuple[str, list[str]]] = [(f"{select} ORDER BY trial_id, id", [])]
        else:
            ids = list(dict.fromkeys(trial_ids))
            queries = [(f"{select} WHERE trial_id IN ({', '.join('?' * len(chunk))}) ORDER BY trial_id, id", chunk)
                       for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500))]
        for q, args in queries:
            for r in self._db.execute(q, args):
                calls = out.get(r[0])
                if calls is None:
                    calls = out[r[0]] = []
                calls.append(_row_call(r))


def _upsert_experiment(db: sqlite3.Connection, exp: Experiment) -> None:
    db.execute(
        "INSERT INTO experiments (id, name, created_at, spec) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET name=excluded.name, spec=excluded.spec",
        (exp.id, exp.name, exp.created_at.isoformat(), _dumps(exp.spec)),
    )


def _not_ours(path: Path) -> UserError:
    return UserError(f"{path}: is a SQLite database but not an orchbench store; pass --db with another file name")


def _check_file(path: Path, readonly: bool) -> None:
    """Refuse, before SQLite touches it, a path that is not (and cannot become) an orchbench store."""
    if path.is_dir():
        raise UserError(f"{path}: is a directory; pass --db with a file name such as orchbench.db")
    if not path.exists():
        if readonly:
            raise UserError(f"{path}: no such results store; import or run trials first, or check --db")
        if not path.parent.is_dir():
            raise UserError(f"{path}: directory {path.parent} does not exist; create it or pass another --db")
        return
    try:
        with path.open("rb") as f:
            head = f.read(16)
    except OSError as exc:
        raise UserError(f"{path}: cannot read the store ({exc.strerror}); check the path and permissions") from None
    if head and head != _SQLITE_MAGIC:
        raise UserError(f"{path}: not an orchbench store (not a SQLite file); pass --db with another file name")
