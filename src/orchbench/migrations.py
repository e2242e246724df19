"""The store's schema as an ordered list of named migrations, each applied once and recorded.

A new store runs them all; a store written by an older orchbench runs the ones it lacks, in order,
when it is opened (every row kept). Each migration runs in its own transaction together with its
row in `_migrations`, so a crash leaves the store at the last finished step. `PRAGMA user_version`
is the number of migrations applied: a store with more than this orchbench knows is refused.

Adding a column is one function (see docs/store.md):

    @migration
    def m004_trials_blocked_by(db: sqlite3.Connection) -> None:
        add_column(db, "trials", "blocked_by", "TEXT")

Append new migrations at the end; never edit, reorder or remove one that has shipped.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    """Register `fn` as the next migration, under its function name."""
    MIGRATIONS.append((fn.__name__, fn))
    return fn


def add_column(db: sqlite3.Connection, table: str, column: str, decl: str) -> None:
    """Add one column; rows already stored get its default (NULL unless `decl` says otherwise)."""
    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    """Schema version 1 (orchbench 0.1.0): experiments, trials, calls."""
    for stmt in _V1.split(";"):
        if stmt.strip():
            db.execute(stmt)


@migration
def m002_calls_priced_model(db: sqlite3.Connection) -> None:
    """Which model name the rate card priced the call by (None: stored before this was recorded)."""
    add_column(db, "calls", "priced_model", "TEXT")


@migration
def m003_solo_role(db: sqlite3.Connection) -> None:
    """A solo agent's calls and totals were stored under the role "orchestrator": call them "solo"."""
    solo: list[str] = []
    for tid, models, usage, cost in db.execute("SELECT id, models, usage, cost FROM trials").fetchall():
        m, u, c = json.loads(models), json.loads(usage), json.loads(cost)
        if "executor" in m or "executor" in u or "orchestrator" not in {*m, *u}:
            continue  # orchestrated (or no model at all): nothing to rename
        solo.append(tid)
        db.execute("UPDATE trials SET models = ?, usage = ?, cost = ? WHERE id = ?",
                   (json.dumps(_as_solo(m)), json.dumps(_as_solo(u)), json.dumps(_as_solo(c)), tid))
    for i in range(0, len(solo), 500):
        chunk = solo[i:i + 500]
        db.execute(f"UPDATE calls SET role = 'solo' WHERE role = 'orchestrator' "
                   f"AND trial_id IN ({', '.join('?' * len(chunk))})", chunk)


def _as_solo(by_role: dict[str, object]) -> dict[str, object]:
    return {("solo" if k == "orchestrator" else k): v for k, v in by_role.items()}


_V1 = """
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
CREATE INDEX calls_by_trial ON calls (trial_id, id)
"""

SCHEMA_VERSION = len(MIGRATIONS)


def applied(db: sqlite3.Connection) -> list[str]:
    """Names of the migrations this store has had, in order (a store from before the table: by version)."""
    has_table = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'").fetchone()
    if has_table:
        return [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY rowid")]
    version = db.execute("PRAGMA user_version").fetchone()[0]
    return [name for name, _ in MIGRATIONS[:version]]


def pending(db: sqlite3.Connection) -> list[tuple[str, Migration]]:
    done = set(applied(db))
    return [(name, fn) for name, fn in MIGRATIONS if name not in done]


def unknown(db: sqlite3.Connection) -> list[str]:
    """Migrations the store has had that this orchbench does not know (a newer orchbench wrote it)."""
    known = {name for name, _ in MIGRATIONS}
    return [name for name in applied(db) if name not in known]


def apply_one(db: sqlite3.Connection, name: str, fn: Migration) -> None:
    """Run one migration and record it; the caller holds the write transaction."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    if not db.execute("SELECT count(*) FROM _migrations").fetchone()[0]:
        # A store from before the table: record what its version says it has had.
        version = db.execute("PRAGMA user_version").fetchone()[0]
        db.executemany("INSERT INTO _migrations (name, applied_at) VALUES (?, '')",
                       [(n,) for n, _ in MIGRATIONS[:version]])
    fn(db)
    db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
               (name, datetime.now(UTC).isoformat(timespec="seconds")))
    db.execute(f"PRAGMA user_version = {db.execute('SELECT count(*) FROM _migrations').fetchone()[0]}")
