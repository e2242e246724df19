"""Viewer speed on a big store: 10,000 trials, ~500,000 calls.

Targets (issue 7): the cell grid loads in < 1 s and a 100-turn transcript in < 1 s. Measured over
HTTP against the running server, with baselines in the same run: a bare `SELECT count(*)` on the
store, the tiniest API request (/api/version) and a static file fetch (the vendored Chart.js, 210 kB).
The grid is timed cold (its per-version cache cleared before every request) and warm. With chromium
present, whole page loads (navigation until the page has rendered its data) are timed as well.

    python benchmarks/bench_view.py [--trials 10000] [--calls-per-trial 50] [--repeat 5]

The store is generated once (not timed) into benchmarks/out/ and reused while its parameters match.
Writes benchmarks/results/bench_view.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import sys
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
RESULTS = ROOT / "benchmarks" / "results" / "bench_view.md"
LONG_EVERY = 101  # every 101st trial has 100 orchestrator turns (101: so arms rotate among them)
GENERATOR_VERSION = 1


def build_store(path: Path, trials: int, calls_per_trial: int) -> dict:
    from orchbench.store import Store
    from orchbench.viewer import synthetic

    params = {"trials": trials, "calls_per_trial": calls_per_trial, "long_every": LONG_EVERY,
              "version": GENERATOR_VERSION}
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists() and json.loads(meta.read_text()) == params:
        return params
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"), meta):
        p.unlink(missing_ok=True)
    t0 = time.perf_counter()
    items = synthetic.trials(trials, calls_per_trial=calls_per_trial, long_every=LONG_EVERY)
    with Store(path) as store:
        while chunk := list(islice(items, 500)):
            store.add_trials(chunk)
    print(f"generated {path} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    meta.write_text(json.dumps(params))
    return params


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument("--calls-per-trial", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()

    from orchbench.viewer.grid import GridCache
    from orchbench.viewer.server import start_in_thread, stop

    OUT.mkdir(parents=True, exist_ok=True)
    db = OUT / f"bench_view_{args.trials}.db"
    build_store(db, args.trials, args.calls_per_trial)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    n_trials = conn.execute("SELECT count(*) FROM trials").fetchone()[0]
    n_calls = conn.execute("SELECT count(*) FROM calls").fetchone()[0]
    # The longest orchestrated transcript: 100 orchestrator turns with its delegations.
    long_id, long_calls, long_turns = conn.execute(
        "SELECT trial_id, count(*), sum(role = 'orchestrator') FROM calls WHERE trial_id LIKE '%-B-%' "
        "GROUP BY trial_id ORDER BY count(*) DESC LIMIT 1").fetchone()
    exp = conn.execute("SELECT experiment FROM trials LIMIT 1").fetchone()[0]

    srv, th = start_in_thread(db)
    base = srv.url.rstrip("/")
    rows: list[tuple[str, list[float]]] = []
    try:
        def grid_cold() -> None:
            srv.grids = GridCache()
            fetch(f"{base}/api/experiments/{exp}/grid")

        grid_json = fetch(f"{base}/api/experiments/{exp}/grid")  # warm-up: imports, page cache
        n_cells = len(json.loads(grid_json)["analysis"]["cells"])
        rows.append(("baseline: SQLite `SELECT count(*) FROM trials`",
                     timed(lambda: conn.execute("SELECT count(*) FROM trials").fetchone(), args.repeat)))
        rows.append(("baseline: SQLite, read every trial's raw grid columns (no JSON, no statistics)",
                     timed(lambda: conn.execute("SELECT arm, task, status, wall_s, iterations, total_cost, usage "
                                                "FROM trials WHERE experiment = ?", (exp,)).fetchall(),
                           args.repeat)))
        rows.append(("baseline: SQLite, read the 100-turn trial's call rows",
                     timed(lambda: conn.execute("SELECT * FROM calls WHERE trial_id = ?", (long_id,)).fetchall(),
                           args.repeat)))
        rows.append(("baseline: GET /api/version (smallest request)",
                     timed(lambda: fetch(f"{base}/api/version"), args.repeat)))
        rows.append(("baseline: GET Chart.js (210 kB static file)",
                     timed(lambda: fetch(f"{base}/static/vendor/chart.umd.min.js"), args.repeat)))
        rows.append((f"grid, cold: GET /api/experiments/{exp}/grid ({n_cells} cells, {n_trials:,} trials)",
                     timed(grid_cold, args.repeat)))
        rows.append(("grid, warm (cached for this store version)",
                     timed(lambda: fetch(f"{base}/api/experiments/{exp}/grid"), args.repeat)))
        rows.append((f"transcript: GET /api/trials/{long_id} ({long_turns} turns, {long_calls} calls)",
                     timed(lambda: fetch(f"{base}/api/trials/{urllib.parse.quote(long_id)}"), args.repeat)))
        rows.append(("cell trials: GET /api/experiments/…/cells/B/T1",
                     timed(lambda: fetch(f"{base}/api/experiments/{exp}/cells/B/T1"), args.repeat)))
        rows.append(("experiments: GET /api/experiments",
                     timed(lambda: fetch(f"{base}/api/experiments"), args.repeat)))
        if not args.no_browser and os.access("/usr/bin/chromium", os.X_OK):
            rows += browser_rows(base, exp, long_id, args.repeat, srv)
    finally:
        stop(srv, th)
        conn.close()
    write(rows, n_trials, n_calls, args)


def browser_rows(base: str, exp: str, long_id: str, repeat: int, srv) -> list[tuple[str, list[float]]]:
    sys.path.insert(0, str(ROOT))
    from orchbench.viewer.grid import GridCache
    from tests.test_view_support import Browser

    b = Browser()
    try:
        def page(url: str, cold: bool = False):
            def go() -> None:
                if cold:
                    srv.grids = GridCache()
                b.goto(url)
            return go
        b.goto(base + "/")
        return [
            ("page in chromium: grid, cold (navigate until rendered, charts drawn)",
             timed(page(f"{base}/e/{exp}", cold=True), repeat)),
            (f"page in chromium: 100-turn transcript {long_id}",
             timed(page(f"{base}/t/{urllib.parse.quote(long_id)}"), repeat)),
        ]
    finally:
        b.close()


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:.3f}" if ms < 1 else f"{ms:.1f}"


def _ratio(r: float) -> str:
    return f"{r:,.0f}" if r >= 10 else f"{r:.2f}"


def write(rows: list[tuple[str, list[float]]], n_trials: int, n_calls: int, args) -> None:
    def med(key: str) -> float:
        return statistics.median(next(ts for name, ts in rows if key in name))

    # Each figure against the bare data read it cannot avoid; requests without one against /api/version.
    grid_sql, calls_sql, request = med("raw grid columns"), med("call rows"), med("/api/version")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    store = (f"Store: {n_trials:,} trials, {n_calls:,} calls (synthetic, `orchbench.viewer.synthetic`), "
             f"SQLite {sqlite3.sqlite_version}. Server: `orchbench view` (stdlib ThreadingHTTPServer) on "
             "127.0.0.1, requests from the same process over HTTP.")
    machine = (f"Machine: {platform.machine()}, {os.cpu_count()} cores shared with other jobs (load average "
               f"{load} at the end of the run), {platform.python_implementation()} {platform.python_version()}. "
               f"Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}. Repeats: {args.repeat} (median, max).")
    lines = [
        "# bench_view: the viewer on a 10,000-trial store", "", store, machine, "",
        "Targets: grid < 1 s, 100-turn transcript < 1 s (issue 7).", "",
        "Ratio: grid rows against the bare SQLite read of the grid's columns, transcript rows against",
        "the bare read of the trial's call rows, the rest against the smallest request (/api/version).", "",
        "| what | median ms | max ms | ratio to its baseline |",
        "|---|---:|---:|---:|",
    ]
    for name, ts in rows:
        m = statistics.median(ts)
        base = grid_sql if "grid" in name else calls_sql if "transcript" in name else request
        ratio = "" if name.startswith("baseline") else _ratio(m / base)
        lines.append(f"| {name} | {_ms(m)} | {_ms(max(ts))} | {ratio} |")
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
