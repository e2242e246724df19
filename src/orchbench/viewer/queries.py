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

import numpy as np

from orchbench.analysis.columns import STATUSES, TrialColumns, build_columns, status_code
from orchbench.records import FINAL_STATUSES, ROLES

USAGE_KEYS = ("input", "output", "cache_write", "cache_read")
_FINAL = tuple(sorted(FINAL_STATUSES))
_FINAL_SQL = ",".join("?" * len(_FINAL))


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def _has_table(conn: sqlite3.Connection, table: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone() is not None


def decode(row: sqlite3.Row, json_fields: frozenset[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    corrupt: list[str] = []
    raw: dict[str, str] = {}
    for key in row.keys():
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
