"""The results store: experiments, trials and every API call, in one SQLite file.

Several processes write at once (a batch's workers): the file runs in WAL mode with a busy timeout,
and every write is one short `BEGIN IMMEDIATE` transaction, so writers queue instead of failing.
An orchbench database is recognised by its SQLite `application_id`; `user_version` is the schema
version, the number of migrations (`orchbench.migrations`) it has had. A store from an older
orchbench is upgraded in place when opened (every row kept); one from a newer orchbench is refused.
Opening any other file is a StoreError naming it: the store never writes into a file it did not
create.

Bulk reads for the viewer and analysis: `trials()` builds records without re-validating rows this
module wrote; `calls(trial_id, transcript=False)` skips the transcript columns; `calls_by_trial()`
loads the calls of many trials in one indexed query.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from orchbench import migrations
from orchbench.bulk import construct_trusted, gc_paused
from orchbench.errors import NotAStore, StoreError, StoreNotFound, StoreReadOnly, StoreTooNew, UserError
from orchbench.migrations import SCHEMA_VERSION
from orchbench.records import FINAL_STATUSES, Call, Experiment, Trial, Usage, Verdict

APPLICATION_ID = 0x4F524342  # "ORCB"
BUSY_TIMEOUT_MS = 60_000
_SQLITE_MAGIC = b"SQLite format 3\x00"


_TRIAL_COLS = ("id", "experiment", "arm", "task", "attempt", "status", "wall_s", "iterations", "models",
               "usage", "cost", "total_cost", "verdict_summary", "verdict", "error", "failure_reason",
               "started_at", "ended_at", "notes", "source")
_CALL_LIGHT = ("trial_id", "role", "turn", "model", "input", "output", "cache_write", "cache_read",
               "cost_usd", "latency_s", "stop_reason", "tool_names", "handback_chars", "parent_turn",
               "started_at", "error", "priced_model")
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
        c.started_at.isoformat(), c.error, c.priced_model, _dumps(c.content), _dumps(c.tool_results),
    )


def _row_call(r: tuple[Any, ...]) -> Call:
    n = len(r)
    return _construct(Call, {
        "trial_id": r[0], "role": r[1], "turn": r[2], "model": r[3],
        "usage": _construct(Usage, {"input": r[4], "output": r[5], "cache_write": r[6], "cache_read": r[7]}),
        "cost_usd": r[8], "latency_s": r[9], "stop_reason": r[10], "tool_names": _names(r[11]),
        "handback_chars": r[12], "parent_turn": r[13], "started_at": datetime.fromisoformat(r[14]),
        "error": r[15], "priced_model": r[16], "content": _loads(r[17]) if n > 17 else [],
        "tool_results": _loads(r[18]) if n > 18 else [],
    })


class Store:
    """One orchbench SQLite file. Use as a context manager; one instance per thread."""

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        _check_file(self.path, readonly)
        try:
            if readonly:
                self._db = sqlite3.connect(readonly_uri(self.path), uri=True,
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
            raise NotAStore(self.path, f"cannot open as an orchbench store ({exc})") from None

    # -- opening ------------------------------------------------------------------------------------

    def _open(self) -> None:
        db = self._db
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        if app_id == APPLICATION_ID:
            self._upgrade()
        elif app_id != 0 or db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise _not_ours(self.path)
        elif self.readonly:
            raise StoreNotFound(self.path)  # an empty file: nothing stored yet
        else:
            with self._write():
                # Re-check inside the lock: another process may have created the schema meanwhile.
                app_id = db.execute("PRAGMA application_id").fetchone()[0]
                if app_id == 0:
                    if db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                        raise _not_ours(self.path)
                    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                elif app_id != APPLICATION_ID:
                    raise _not_ours(self.path)
            self._upgrade()
        if not self.readonly:
            # Persistent once set; a no-op when it already is WAL.
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")

    def _upgrade(self) -> None:
        """Refuse a store from a newer orchbench; bring one from an older orchbench up to date."""
        db = self._db
        check_schema(db, self.path)
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION or not migrations.pending(db):
            return
        if self.readonly:
            # Upgrading changes the schema, never a stored row: do it through a writable connection.
            try:
                Store(self.path).close()
            except StoreError:
                raise StoreReadOnly(self.path, f"store schema version {version} needs upgrading to "
                                               f"{SCHEMA_VERSION} and cannot be written") from None
            return
        for name, fn in migrations.pending(db):
            with self._write():
                # Re-checked inside the lock: another process may have applied it meanwhile.
                if name in migrations.applied(db):
                    continue
                migrations.apply_one(db, name, fn)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        if self.readonly:
            raise StoreReadOnly(self.path)
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


def finished_trials(db: str | Path, *, calls: bool = False, transcript: bool = False) -> list[tuple[Trial, list[Call]]]:
    """A store's finished trials (not running or interrupted ones), read-only, with their calls if asked."""
    with Store(db, readonly=True) as store:
        trials = [t for t in store.trials() if t.status in FINAL_STATUSES]
        by_trial = store.calls_by_trial([t.id for t in trials], transcript=transcript) if calls else {}
    return [(t, by_trial.get(t.id, [])) for t in trials]


def _upsert_experiment(db: sqlite3.Connection, exp: Experiment) -> None:
    db.execute(
        "INSERT INTO experiments (id, name, created_at, spec) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET name=excluded.name, spec=excluded.spec",
        (exp.id, exp.name, exp.created_at.isoformat(), _dumps(exp.spec)),
    )


def readonly_uri(path: str | Path) -> str:
    """A URI opening the store read-only. In a directory we cannot write (a read-only mount, an
    archive), SQLite cannot create the WAL's shared-memory file and refuses a WAL-mode store: when no
    write-ahead log holds pending pages, the file alone is the whole store and is opened immutable."""
    p = Path(path).resolve()
    uri = f"{p.as_uri()}?mode=ro"
    wal = p.with_name(p.name + "-wal")
    if os.access(p.parent, os.W_OK) or (wal.exists() and wal.stat().st_size > 0):
        return uri
    return uri + "&immutable=1"


def check_schema(db: sqlite3.Connection, path: Path) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION or migrations.unknown(db):
        raise StoreTooNew(path, version, SCHEMA_VERSION)


def _not_ours(path: Path) -> StoreError:
    return NotAStore(path, "is a SQLite database but not an orchbench store")


def _check_file(path: Path, readonly: bool) -> None:
    """Refuse, before SQLite touches it, a path that is not (and cannot become) an orchbench store."""
    if path.is_dir():
        raise NotAStore(path, "is a directory, not a store file")
    if not path.exists():
        if readonly:
            raise StoreNotFound(path)
        if not path.parent.is_dir():
            raise NotAStore(path, f"directory {path.parent} does not exist")
        return
    try:
        with path.open("rb") as f:
            head = f.read(16)
    except OSError as exc:
        raise StoreError(path, f"cannot read the store ({exc.strerror}); check the path and permissions") from None
    if head and head != _SQLITE_MAGIC:
        raise NotAStore(path, "not an orchbench store (not a SQLite file)")
