"""An experiment's cell grid: exactly `orchbench.analysis.analyze`, fed from one SQL query.

The numbers must equal `orchbench analyze --json`, so the viewer computes none of its own: it reads
the few columns the statistics need straight into `TrialColumns` (no pydantic record per trial) and
calls `analyze` on them. Results are cached per (experiment, store version): polling pages cost a
dictionary lookup until a batch commits.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from typing import Any

from orchbench.analysis import analyze
from orchbench.viewer import queries

CACHE_SIZE = 32


def compute_grid(conn: sqlite3.Connection, experiment: str) -> dict[str, Any]:
    cols, counts, corrupt = queries.grid_inputs(conn, experiment)
    result = analyze(cols).to_dict() if len(cols) else _empty()
    return {"analysis": result, "status_counts": counts, "corrupt_trials": corrupt}


def _empty() -> dict[str, Any]:
    return {"cells": [], "pairwise": [], "arms": [], "tasks": [], "pareto_front": {}, "n_trials": 0,
            "n_infra_error": 0, "baseline": None, "rate_card": "recorded", "bootstrap": {}}


class GridCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, int], dict[str, Any]] = OrderedDict()

    def get(self, conn: sqlite3.Connection, experiment: str, version: int) -> dict[str, Any]:
        key = (experiment, version)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        value = compute_grid(conn, experiment)
        if version >= 0:  # -1: the version is unknown, so the result may be stale at once
            with self._lock:
                self._items[key] = value
                while len(self._items) > CACHE_SIZE:
                    self._items.popitem(last=False)
        return value
