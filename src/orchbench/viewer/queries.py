"""The viewer's SQL over the store's tables (read-only), returning plain JSON-able dicts.

Aggregates run in SQLite and transcripts come by indexed lookups, so a 10,000-trial store costs a
few milliseconds, not a pydantic record per row. Rows are decoded leniently: a column that should
hold JSON but does not is returned as None, named in the row's `corrupt` list, with the raw text in
`raw`, so the page can show the damage instead of failing.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from orchbench.analysis.columns import ROLES as COLUMN_ROLES
from orchbench.analysis.columns import STATUSES, TrialColumns, build_columns, status_code
from orchbench.records import BLOCKED_NOTE, FINAL_STATUSES

USAGE_KEYS = ("input", "output", "cache_write", "cache_read")


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def _has_table(conn: sqlite3.Connection, table: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone() is not None


def decode(row: sqlite3.Row, json_fields: frozenset[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    corrupt: list[str] = []
    raw: dict[str, str] = {}
    for key in row.keys():  # noqa: SIM118 (iterating a Row yields values, not keys)
        value = row[key]
        if key in json_fields and isinstance(value, (str, bytes)):
            try:
                value = json.loads(value)
            except ValueError:
                corrupt.append(key)
                raw[key] = value if isinstance(value, str) else value.decode("utf-8", "replace")
                value = None
        out[key] = value
    if corrupt:
        out["corrupt"], out["raw"] = corrupt, raw
    return out


_TRIAL_JSON = frozenset({"models", "usage", "cost", "verdict", "notes"})
_TRIAL_NUM = ("attempt", "wall_s", "iterations", "total_cost")
_CALL_JSON = frozenset({"tool_names", "content", "tool_results"})
_CALL_NUM = ("turn", *USAGE_KEYS, "cost_usd", "latency_s")


def _check_numbers(d: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """Numeric columns holding something else (SQLite allows it) are flagged like bad JSON."""
    for f in fields:
        v = d.get(f)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            d.setdefault("corrupt", []).append(f)
            d.setdefault("raw", {})[f] = str(v)
            d[f] = None
    return d


# ---- experiments ---------------------------------------------------------------------------------

def experiments(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every experiment with trials or a row of its own, with status counts and total cost."""
    out: dict[str, dict[str, Any]] = {}

    def entry(exp: str) -> dict[str, Any]:
        return out.setdefault(exp, {"id": exp, "name": "", "created_at": None, "n_trials": 0, "counts": {},
                                    "total_cost": 0.0, "arms": [], "tasks": []})

    if _has_table(conn, "experiments"):
        for r in conn.execute("SELECT id, name, created_at FROM experiments"):
            entry(r["id"]).update(name=r["name"], created_at=r["created_at"])
    for r in conn.execute("SELECT experiment, status, count(*) AS n, total(total_cost) AS cost "
                          "FROM trials GROUP BY experiment, status"):
        e = entry(r["experiment"])
        e["counts"][r["status"]] = r["n"]
        e["n_trials"] += r["n"]
        e["total_cost"] += r["cost"]
    for r in conn.execute("SELECT DISTINCT experiment, arm, task FROM trials"):
        e = entry(r["experiment"])
        if r["arm"] not in e["arms"]:
            e["arms"].append(r["arm"])
        if r["task"] not in e["tasks"]:
            e["tasks"].append(r["task"])
    for e in out.values():
        e["arms"].sort()
        e["tasks"].sort()
    return sorted(out.values(), key=lambda e: (e["created_at"] or "", e["id"]))


def experiment(conn: sqlite3.Connection, exp: str) -> dict[str, Any] | None:
    row = None
    if _has_table(conn, "experiments"):
        row = conn.execute("SELECT id, name, created_at, spec FROM experiments WHERE id = ?", (exp,)).fetchone()
    if row is not None:
        return decode(row, frozenset({"spec"}))
    if conn.execute("SELECT 1 FROM trials WHERE experiment = ? LIMIT 1", (exp,)).fetchone():
        return {"id": exp, "name": "", "created_at": None, "spec": {}}
    return None


# ---- the grid's inputs ---------------------------------------------------------------------------

_VALID = ("json_valid(usage) AND json_type(usage) = 'object' AND typeof(wall_s) IN ('integer', 'real') "
          "AND typeof(iterations) IN ('integer', 'real') AND typeof(total_cost) IN ('integer', 'real')")
# SQLite pulls the token counts out of the JSON in C; it computes result columns only for rows that
# pass WHERE, so json_extract never meets a corrupt row (those come from _BAD). Per-role costs and
# models only matter when re-pricing with a rate card, which the viewer does not do (it shows the
# recorded costs, as `analyze` does without --rate-card), so they are not read.
# The columns' lead role ("orchestrator") is the solo agent's usage when the trial had one.
_EXTRACT = ", ".join([f"coalesce(json_extract(usage, '$.solo.{k}'), json_extract(usage, '$.orchestrator.{k}'), 0)"
                      for k in USAGE_KEYS] + [f"coalesce(json_extract(usage, '$.executor.{k}'), 0)" for k in USAGE_KEYS])
# The BLOCKED flag (records.BLOCKED_NOTE, kept in the notes' JSON list), or the legacy status.
_BLOCKED = "(status = 'blocked' OR instr(notes, '\"blocked: ') > 0)"
_GOOD = (f"SELECT arm, task, status, wall_s, iterations, total_cost, {_BLOCKED}, {_EXTRACT} FROM trials {{index}} "
         f"WHERE experiment = ? AND ({_VALID}) ORDER BY rowid")
_BAD = f"SELECT id, arm, task, status FROM trials {{index}} WHERE experiment = ? AND NOT ({_VALID}) ORDER BY rowid"


def grid_inputs(conn: sqlite3.Connection, exp: str) -> tuple[TrialColumns, dict[str, Any], list[str]]:
    """The experiment's finished trials as analysis columns (exactly what `analyze --db` builds from
    the records), status counts per cell (running ones too), and the ids of corrupt rows, which are
    left out of the numbers."""
    n_exp = conn.execute("SELECT count(*) FROM trials WHERE experiment = ?", (exp,)).fetchone()[0]
    n_all = conn.execute("SELECT count(*) FROM trials").fetchone()[0]
    # A scan in rowid order beats 10,000 index lookups when the experiment is most of the store.
    index = "NOT INDEXED" if 2 * n_exp >= n_all else ""
    counts: dict[str, dict[str, dict[str, int]]] = {}

    def count(arm: str, task: str, status: str) -> None:
        cell = counts.setdefault(arm, {}).setdefault(task, {})
        cell[status] = cell.get(status, 0) + 1

    good = conn.execute(_GOOD.format(index=index), (exp,)).fetchall()
    for r in good:
        count(r[0], r[1], r[2])
    final = [r for r in good if r[2] in FINAL_STATUSES]
    rows = [(r[0], r[1], status_code(r[2]), float(r[3]), float(r[4]), float(r[5])) for r in final]
    # 4 ints per trial, flat, in USAGE_FIELDS order (what build_columns takes)
    usage: dict[str, list[int]] = {
        role: [v for r in final for v in r[7 + 4 * i:11 + 4 * i]] for i, role in enumerate(COLUMN_ROLES)}
    corrupt = []
    for tid, arm, task, status in conn.execute(_BAD.format(index=index), (exp,)):
        count(arm, task, status)
        if status in FINAL_STATUSES:
            corrupt.append(tid)
    return build_columns(rows, usage, {}, {}, [bool(r[6]) for r in final]), counts, corrupt


# ---- a cell's trials, one trial, its calls -------------------------------------------------------

def cell_exists(conn: sqlite3.Connection, exp: str, arm: str, task: str) -> bool:
    return conn.execute("SELECT 1 FROM trials WHERE experiment = ? AND arm = ? AND task = ? LIMIT 1",
                        (exp, arm, task)).fetchone() is not None


def cell_trials(conn: sqlite3.Connection, exp: str, arm: str, task: str) -> list[dict[str, Any]]:
    q = ("SELECT t.id, t.attempt, t.status, t.wall_s, t.iterations, t.total_cost, t.failure_reason, t.error, "
         f"t.verdict_summary, t.started_at, t.ended_at, {_BLOCKED} AS blocked, "
         "(SELECT count(*) FROM calls c WHERE c.trial_id = t.id) AS n_calls "
         "FROM trials t WHERE t.experiment = ? AND t.arm = ? AND t.task = ? ORDER BY t.attempt, t.rowid")
    return [_check_numbers(decode(r, frozenset()), _TRIAL_NUM) for r in conn.execute(q, (exp, arm, task))]


def trial(conn: sqlite3.Connection, trial_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM trials WHERE id = ?", (trial_id,)).fetchone()
    if row is None:
        return None
    d = _check_numbers(decode(row, _TRIAL_JSON), _TRIAL_NUM)
    notes = d.get("notes")
    notes = notes if isinstance(notes, list) else []
    d["blocked"] = d.get("status") == "blocked" or any(str(n).startswith(BLOCKED_NOTE) for n in notes)
    if d.get("status") not in STATUSES:
        d.setdefault("corrupt", []).append("status")
        d.setdefault("raw", {})["status"] = str(d.get("status"))
    return d


def trial_calls(conn: sqlite3.Connection, trial_id: str) -> list[dict[str, Any]]:
    """The trial's calls in stored order, with `usage` gathered from its columns."""
    out = []
    for r in conn.execute("SELECT * FROM calls WHERE trial_id = ? ORDER BY id", (trial_id,)):
        d = _check_numbers(decode(r, _CALL_JSON), _CALL_NUM)
        d["usage"] = {k: d.pop(k, None) or 0 for k in USAGE_KEYS}
        out.append(d)
    return out


def count_trials(conn: sqlite3.Connection) -> int:
    """The benchmark's baseline: the cheapest question one can ask the store."""
    return int(conn.execute("SELECT count(*) FROM trials").fetchone()[0])


__all__ = ["cell_exists", "cell_trials", "count_trials", "experiment", "experiments", "grid_inputs", "trial",
           "trial_calls"]
