"""The viewer's JSON API and server, without a browser: numbers, 404s, damage, read-only, live."""

from __future__ import annotations

import hashlib
import http.client
import inspect
import json
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from orchbench.cli import app
from orchbench.errors import UserError
from orchbench.records import Call, Usage
from orchbench.store import Store
from orchbench.viewer.server import ViewerServer, start_in_thread, stop
from tests.test_view_support import RECORDED, RUNNING_ID, TRANSCRIPT_EXPERIMENT, paper_store, transcript_store


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("view-stores")
    return {"paper": paper_store(d / "paper.db"), "rec": transcript_store(d / "rec.db")}


@pytest.fixture()
def serve():
    running: list[tuple[ViewerServer, threading.Thread]] = []

    def start(db: Path) -> ViewerServer:
        running.append(start_in_thread(db))
        return running[-1][0]

    yield start
    for srv, th in running:
        stop(srv, th)


def get(srv: ViewerServer, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(srv.url.rstrip("/") + path, timeout=30) as r:
            body = r.read()
            status = r.status
            ctype = r.headers["Content-Type"]
    except urllib.error.HTTPError as exc:
        body, status, ctype = exc.read(), exc.code, exc.headers["Content-Type"]
    return status, json.loads(body) if ctype.startswith("application/json") else body.decode()


def analyze_json(db: Path) -> dict[str, Any]:
    res = CliRunner().invoke(app, ["analyze", "--db", str(db), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def q(s: str) -> str:
    return urllib.parse.quote(s, safe="")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- numbers equal `orchbench analyze --json` -----------------------------------------------------

@pytest.mark.parametrize("which, exp", [("paper", "imported"), ("rec", TRANSCRIPT_EXPERIMENT)])
def test_grid_is_exactly_analyze_json(stores, serve, which: str, exp: str) -> None:
    srv = serve(stores[which])
    status, grid = get(srv, f"/api/experiments/{exp}/grid")
    assert status == 200
    expected = analyze_json(stores[which])
    assert grid["analysis"] == expected
    assert grid["corrupt_trials"] == []
    if which == "paper":  # the paper's figures, as its data says: arm A on T1 is 3 of 3 with one infra error
        cell = next(c for c in grid["analysis"]["cells"] if (c["arm"], c["task"]) == ("A", "T1"))
        assert (cell["n_success"], cell["n_total"], cell["n_infra_error"]) == (3, 3, 1)
        assert cell["cost_median"] == pytest.approx(1.736581)


def test_status_counts_include_running_trials_that_analysis_leaves_out(stores, serve) -> None:
    srv = serve(stores["rec"])
    _, grid = get(srv, f"/api/experiments/{TRANSCRIPT_EXPERIMENT}/grid")
    assert grid["status_counts"]["C"]["T1"] == {"running": 1}
    assert grid["status_counts"]["B"]["T1"] == {"success": 2, "failure": 1}
    assert all(c["arm"] != "C" for c in grid["analysis"]["cells"])


def test_experiments_list_counts_and_costs(stores, serve) -> None:
    srv = serve(stores["paper"])
    _, body = get(srv, "/api/experiments")
    (exp,) = body["experiments"]
    with Store(stores["paper"], readonly=True) as store:
        trials = store.trials()
    assert exp["id"] == "imported" and exp["n_trials"] == len(trials) == 41
    assert exp["counts"] == {"success": 36, "failure": 4, "infra_error": 1}
    assert exp["total_cost"] == pytest.approx(sum(t.total_cost for t in trials))
    assert exp["arms"] == ["A", "B", "C", "D"] and exp["tasks"] == ["T1", "T2", "T3"]


def test_cell_trials_are_the_cells_records(stores, serve) -> None:
    srv = serve(stores["paper"])
    status, body = get(srv, "/api/experiments/imported/cells/B/T1")
    assert status == 200
    with Store(stores["paper"], readonly=True) as store:
        records = {t.id: t for t in store.trials(arm="B", task="T1")}
    assert {t["id"] for t in body["trials"]} == set(records)
    for t in body["trials"]:
        r = records[t["id"]]
        assert (t["status"], t["total_cost"], t["wall_s"], t["iterations"]) == \
               (r.status, r.total_cost, r.wall_s, r.iterations)
        assert t["n_calls"] == 0  # the paper's format has no calls
    assert body["cell"] == next(c for c in analyze_json(stores["paper"])["cells"]
                                if (c["arm"], c["task"]) == ("B", "T1"))


# ---- transcripts ----------------------------------------------------------------------------------

def test_transcript_nests_delegations_and_matches_the_stored_calls(stores, serve) -> None:
    srv = serve(stores["rec"])
    tid = RECORDED[0][0]
    status, body = get(srv, f"/api/trials/{q(tid)}")
    assert status == 200
    with Store(stores["rec"], readonly=True) as store:
        calls, trial = store.calls(tid), store.trial(tid)
    tr = body["transcript"]
    orch = [c for c in calls if c.role == "orchestrator"]
    execs = [c for c in calls if c.role == "executor"]
    assert tr["n_calls"] == len(calls) and len(tr["turns"]) == len(orch) == RECORDED[0][4]
    assert execs and tr["orphan_executor_calls"] == []
    for turn, call in zip(tr["turns"], orch):
        assert turn["call"]["turn"] == call.turn
        assert turn["tokens"] == call.usage.model_dump()
        assert turn["call"]["content"] == call.content and turn["call"]["tool_results"] == call.tool_results
        assert [d["call"]["turn"] for d in turn["delegations"]] == \
               [c.turn for c in execs if c.parent_turn == call.turn]
        assert turn["reread_tokens"] <= call.usage.cache_read
    assert tr["turns"][-1]["running_cost"] == pytest.approx(trial.total_cost)
    assert tr["total_cost"] == pytest.approx(trial.total_cost)
    # Hand-backs happen (every 4th turn) and are re-read on later turns.
    assert tr["reread_tokens_total"] > 0
    assert body["trial"]["usage"] == {r: u.model_dump() for r, u in trial.usage.items()}


def test_a_trial_without_calls_and_a_running_trial(stores, serve) -> None:
    srv = serve(stores["rec"])
    status, body = get(srv, f"/api/trials/{RUNNING_ID}")
    assert status == 200 and body["trial"]["status"] == "running"
    assert body["transcript"]["n_calls"] == 2


# ---- not found, damage, writes --------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/api/trials/no-such-trial", "/api/experiments/nope/grid", "/api/experiments/imported/cells/A/T9",
    "/api/nothing", "/static/nothing.js", "/static/..%2F..%2Fserver.py", "/t/no-such-trial", "/e/nope",
    "/e/imported/cell/Z/T1", "/elsewhere",
])
def test_missing_things_are_404(stores, serve, path: str) -> None:
    srv = serve(stores["paper"])
    status, body = get(srv, path)
    assert status == 404
    if path.startswith("/api/"):
        assert "error" in body
    elif path.startswith(("/t/", "/e/", "/elsewhere")):
        assert "<main id=\"app\">" in body  # the app shell renders the 404 page


def test_existing_pages_and_vendored_chart_library_are_served(stores, serve) -> None:
    srv = serve(stores["paper"])
    assert get(srv, "/")[0] == 200 and get(srv, "/e/imported")[0] == 200
    assert get(srv, "/e/imported/cell/A/T1")[0] == 200
    status, js = get(srv, "/static/vendor/chart.umd.min.js")
    assert status == 200 and "Chart.js v4" in js[:200]


def test_corrupt_rows_are_shown_as_such(stores, serve, tmp_path: Path) -> None:
    db = tmp_path / "damaged.db"
    shutil.copy(stores["rec"], db)
    bad_trial, bad_call_trial = RECORDED[3][0], RECORDED[0][0]
    with sqlite3.connect(db) as conn:  # the test damages its own copy; the viewer only reads it
        conn.execute("UPDATE trials SET usage = '{not json' WHERE id = ?", (bad_trial,))
        conn.execute("UPDATE calls SET content = '[{\"type\": \"text\"', cost_usd = 'lots' WHERE id = "
                     "(SELECT min(id) FROM calls WHERE trial_id = ?)", (bad_call_trial,))
    srv = serve(db)
    status, grid = get(srv, f"/api/experiments/{TRANSCRIPT_EXPERIMENT}/grid")
    assert status == 200 and grid["corrupt_trials"] == [bad_trial]
    status, body = get(srv, f"/api/trials/{bad_trial}")
    assert status == 200 and body["trial"]["corrupt"] == ["usage"]
    assert body["trial"]["raw"]["usage"] == "{not json"
    status, body = get(srv, f"/api/trials/{bad_call_trial}")
    first = min((t["call"] for t in body["transcript"]["turns"]), key=lambda c: c["id"])
    first = min([first] + [d["call"] for t in body["transcript"]["turns"] for d in t["delegations"]],
                key=lambda c: c["id"])
    assert status == 200 and sorted(first["corrupt"]) == ["content", "cost_usd"]
    assert first["content"] is None and first["raw"]["cost_usd"] == "lots"


def test_never_writes_the_store_and_refuses_writes(stores, serve, tmp_path: Path) -> None:
    db = tmp_path / "copy.db"
    shutil.copy(stores["rec"], db)
    before = sha(db)
    srv = serve(db)
    paths = ["/", "/api/version", "/api/experiments", f"/api/experiments/{TRANSCRIPT_EXPERIMENT}/grid",
             f"/api/experiments/{TRANSCRIPT_EXPERIMENT}/cells/B/T1", f"/t/{RECORDED[0][0]}"]
    paths += [f"/api/trials/{t[0]}" for t in RECORDED]
    for p in paths:
        assert get(srv, p)[0] == 200, p
    host, port = srv.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("POST", "/api/experiments", body=b"{}")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 405
    conn.close()
    assert sha(db) == before


def test_loopback_server_refuses_foreign_host_names(stores, serve) -> None:
    srv = serve(stores["paper"])
    host, port = srv.server_address[:2]
    for name, expected in ((f"evil.example:{port}", 403), (f"localhost:{port}", 200), (f"127.0.0.1:{port}", 200)):
        conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.request("GET", "/api/experiments", headers={"Host": name})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == expected, name
        conn.close()


def _outward_address() -> str | None:
    """This machine's address on its default route (no packet is sent), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            addr = s.getsockname()[0]
        except OSError:
            return None
    return None if addr.startswith("127.") else addr


def test_binds_loopback_by_default(stores) -> None:
    from orchbench.cli.view import view

    assert inspect.signature(view).parameters["host"].default == "127.0.0.1"
    srv, th = start_in_thread(stores["paper"])
    try:
        assert srv.server_address[0] == "127.0.0.1"
        other = _outward_address()
        if other is not None:  # the port is not open on the machine's other address
            with pytest.raises(OSError):
                socket.create_connection((other, srv.server_address[1]), timeout=2).close()
    finally:
        stop(srv, th)


def test_live_updates_while_a_batch_writes(stores, serve, tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    shutil.copy(stores["rec"], db)
    srv = serve(db)
    _, v0 = get(srv, "/api/version")
    _, before = get(srv, f"/api/trials/{RUNNING_ID}")
    errors: list[Any] = []
    stop_reading = threading.Event()

    def reader() -> None:  # pages polling while the writer commits
        while not stop_reading.is_set():
            for p in (f"/api/experiments/{TRANSCRIPT_EXPERIMENT}/grid", f"/api/trials/{RUNNING_ID}"):
                status, _ = get(srv, p)
                if status != 200:
                    errors.append((p, status))

    t = threading.Thread(target=reader)
    t.start()
    try:
        with Store(db) as store:
            for turn in range(2, 12):
                store.add_call(Call(trial_id=RUNNING_ID, role="orchestrator", turn=turn, model="m",
                                    usage=Usage(input=10, output=5), cost_usd=0.01))
    finally:
        stop_reading.set()
        t.join()
    assert errors == []
    _, v1 = get(srv, "/api/version")
    assert v1["version"] != v0["version"]
    _, after = get(srv, f"/api/trials/{RUNNING_ID}")
    assert after["transcript"]["n_calls"] == before["transcript"]["n_calls"] + 10


# ---- the command ----------------------------------------------------------------------------------

def _orchbench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchbench", *args], capture_output=True, text=True, timeout=60,
                          check=False)


def test_cli_rejects_a_missing_store_and_a_busy_port(tmp_path: Path, stores) -> None:
    res = _orchbench("view", "--db", str(tmp_path / "missing.db"))
    assert res.returncode == 2 and "no such results store" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE trials (id TEXT)")
    (tmp_path / "text.db").write_text("hello")
    for bad in (other, tmp_path / "text.db"):
        with pytest.raises(UserError, match="not an"):
            ViewerServer(bad)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        res2 = CliRunner().invoke(app, ["view", "--db", str(stores["paper"]), "--port", str(s.getsockname()[1])])
    assert isinstance(res2.exception, UserError) and "already in use" in str(res2.exception)


def test_an_experiment_with_nothing_finished_yet(serve, tmp_path: Path) -> None:
    from orchbench.records import Experiment, Trial

    db = tmp_path / "fresh.db"
    with Store(db) as store:
        store.add_experiment(Experiment(id="empty", name="nothing yet"))
        store.add_experiment(Experiment(id="started"))
        store.start_trial(Trial(id="t0", experiment="started", arm="A", task="T1", status="running"))
    srv = serve(db)
    _, body = get(srv, "/api/experiments")
    assert sorted((e["id"], e["n_trials"]) for e in body["experiments"]) == [("empty", 0), ("started", 1)]
    status, grid = get(srv, "/api/experiments/empty/grid")
    assert status == 200 and grid["analysis"]["cells"] == [] and grid["status_counts"] == {}
    status, grid = get(srv, "/api/experiments/started/grid")
    assert status == 200 and grid["analysis"]["cells"] == [] and grid["status_counts"] == {"A": {"T1": {"running": 1}}}
    status, cell = get(srv, "/api/experiments/started/cells/A/T1")
    assert status == 200 and cell["cell"] is None and [t["id"] for t in cell["trials"]] == ["t0"]


@pytest.mark.parametrize("which, exp", [("paper", "imported"), ("rec", TRANSCRIPT_EXPERIMENT)])
def test_grid_columns_are_the_columns_analysis_builds_from_records(stores, which: str, exp: str) -> None:
    import numpy as np

    from orchbench.analysis.columns import from_trials
    from orchbench.records import FINAL_STATUSES
    from orchbench.viewer.db import connect
    from orchbench.viewer.queries import grid_inputs

    with Store(stores[which], readonly=True) as store:
        want = from_trials([t for t in store.trials(experiment=exp) if t.status in FINAL_STATUSES])
    with connect(stores[which]) as conn:
        got, _, corrupt = grid_inputs(conn, exp)
    assert corrupt == [] and len(got) == len(want) > 0
    assert (got.arms, got.tasks) == (want.arms, want.tasks)
    for name in ("arm_code", "task_code", "status", "wall", "iterations", "cost"):
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
    for role in want.usage:
        assert np.array_equal(got.usage[role], want.usage[role]), role


def test_head_requests_send_headers_only(stores, serve) -> None:
    srv = serve(stores["paper"])
    host, port = srv.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("HEAD", "/api/experiments")
    resp = conn.getresponse()
    assert resp.status == 200 and int(resp.headers["Content-Length"]) > 0 and resp.read() == b""
    conn.close()


def test_the_blocked_flag_is_shown_beside_the_judged_status(serve, tmp_path: Path) -> None:
    from orchbench.records import BLOCKED_NOTE, Trial

    db = tmp_path / "blocked.db"
    with Store(db) as store:
        for i, (status, notes) in enumerate([("success", [BLOCKED_NOTE + "BLOCKED: unsure"]),
                                             ("failure", [BLOCKED_NOTE + "BLOCKED: no network"]),
                                             ("failure", ["ran with --unsafe-no-sandbox"])]):
            store.add_trials([(Trial(id=f"b{i}", experiment="e", arm="A", task="T1", status=status,  # type: ignore[arg-type]
                                     wall_s=10.0, iterations=3, total_cost=1.0, notes=notes), [])])
    srv = serve(db)
    _, grid = get(srv, "/api/experiments/e/grid")
    (cell,) = grid["analysis"]["cells"]
    assert (cell["n_success"], cell["n_failure"], cell["n_blocked"]) == (1, 2, 2)
    assert cell == next(c for c in analyze_json(db)["cells"])  # the same numbers as `analyze`
    _, body = get(srv, "/api/experiments/e/cells/A/T1")
    assert {t["id"]: (t["status"], t["blocked"]) for t in body["trials"]} == {
        "b0": ("success", 1), "b1": ("failure", 1), "b2": ("failure", 0)}
    _, one = get(srv, "/api/trials/b1")
    assert one["trial"]["blocked"] is True and one["trial"]["status"] == "failure"
