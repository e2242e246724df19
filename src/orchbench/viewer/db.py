"""Read-only access to a results store: the viewer never writes, so it never opens it writable.

Each request opens its own connection (`file:PATH?mode=ro`, `PRAGMA query_only`): cheap in SQLite,
and it keeps threads apart. One long-lived connection answers `PRAGMA data_version`, which changes
whenever another connection (a running batch) commits: the pages poll it to know when to refresh.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orchbench.errors import NotAStore, StoreNotFound
from orchbench.store import APPLICATION_ID, check_schema, readonly_uri

BUSY_TIMEOUT_MS = 5000


def check_store(path: str | Path) -> Path:
    """The store's path, or a StoreError saying what is wrong."""
    p = Path(path)
    if not p.is_file():
        raise StoreNotFound(p)
    try:
        with connect(p) as conn:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if app_id == APPLICATION_ID:
                check_schema(conn, p)
    except sqlite3.DatabaseError as exc:
        raise NotAStore(p, f"not an SQLite database ({exc})") from None
    if app_id != APPLICATION_ID or not {"trials", "calls"} <= names:
        raise NotAStore(p, "not an orchbench results store")
    return p


@contextmanager
def connect(path: str | Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(readonly_uri(path), uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                           check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA query_only = 1")
        # One read transaction per request: all its queries see one snapshot of a store that a
        # batch may be writing meanwhile (a trial and its calls always agree).
        conn.isolation_level = None
        conn.execute("BEGIN")
        yield conn
    finally:
        conn.close()


class VersionWatch:
    """A number that changes whenever the store has changed since it was last asked."""

    def __init__(self, path: str | Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def version(self) -> int:
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = sqlite3.connect(readonly_uri(self._path), uri=True,
                                                 check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
                    self._conn.execute("PRAGMA query_only = 1")
                return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error:
                self.close_locked()
                return -1

    def close_locked(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        with self._lock:
            self.close_locked()
