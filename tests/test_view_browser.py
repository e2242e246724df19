"""The viewer in headless Chromium: every page on the paper store and on a store of recorded
transcripts, clicking from the grid to a trial, numbers checked against `orchbench analyze --json`,
screenshots kept under test-artifacts/viewer/."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from orchbench.cli import app
from orchbench.records import Call, Usage
from orchbench.store import Store
from orchbench.viewer.server import start_in_thread, stop
from tests.test_view_support import (
    CHROMIUM,
    RECORDED,
    RUNNING_ID,
    TRANSCRIPT_EXPERIMENT,
    Browser,
    paper_store,
    transcript_store,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"chromium not installed at {CHROMIUM}"),
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "viewer"


def fmt_cost(v: float | None) -> str:
    return "—" if v is None else f"${v:.4f}"


@pytest.fixture(scope="module")
def browser():
    pytest.importorskip("websocket", reason="websocket-client is needed to speak CDP")
    b = Browser()
    yield b
    b.close()


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("view-browser")
    return {"paper": paper_store(d / "paper.db"), "rec": transcript_store(d / "rec.db")}


@pytest.fixture()
def serve():
    running = []

    def start(db: Path) -> str:
        running.append(start_in_thread(db))
        return running[-1][0].url.rstrip("/")

    yield start
    for srv, th in running:
        stop(srv, th)


def analyze_json(db: Path) -> dict[str, Any]:
    res = CliRunner().invoke(app, ["analyze", "--db", str(db), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def shown(b: Browser, scope: str, field: str) -> tuple[Any, str]:
    """(data-value, text) of the element showing `field` inside `scope`."""
    got = b.eval(f"(() => {{ const e = document.querySelector({json.dumps(scope + ' [data-field=' + field + ']')});"
                 " return e && [e.dataset.value, e.textContent]; })()")
    assert got is not None, f"{scope} shows no {field}"
    return json.loads(got[0]), got[1]


def check_grid(b: Browser, analysis: dict[str, Any]) -> None:
    assert analysis["cells"]
    for c in analysis["cells"]:
        scope = f'td[data-arm="{c["arm"]}"][data-task="{c["task"]}"]'
        for field in ("n_success", "n_total"):
            assert shown(b, scope, field) == (c[field], str(c[field]))
        for field in ("cost_median", "expected_cost"):
            assert shown(b, scope, field) == (c[field], fmt_cost(c[field]))
        if c["arm"] != analysis["baseline"] and c["cache_read_ratio_to_baseline"] is not None:
            ratio = c["cache_read_ratio_to_baseline"]
            assert shown(b, scope, "cache_read_ratio_to_baseline") == (ratio, f"×{ratio:.2f}")
    # One Pareto chart per task, its front exactly the analysis's.
    for task, front in analysis["pareto_front"].items():
        labels = b.eval(f"Chart.getChart(document.querySelector('canvas[data-task=\"{task}\"]'))"
                        ".data.datasets[0].labels")
        assert sorted(labels) == front


def test_paper_store_from_grid_to_a_trial(browser: Browser, stores, serve) -> None:
    b, base = browser, serve(stores["paper"])
    expected = analyze_json(stores["paper"])
    b.color_scheme("light")
    b.goto(base + "/")
    assert b.eval("document.querySelector('tr[data-experiment=\"imported\"] [data-field=n_trials]').textContent") == "41"
    b.screenshot(ARTIFACTS / "paper-1-experiments.png")

    n = b.renders()
    b.click('tr[data-experiment="imported"] a')
    b.wait_ready(n)
    assert b.eval("location.pathname") == "/e/imported"
    check_grid(b, expected)
    b.screenshot(ARTIFACTS / "paper-2-grid.png")

    n = b.renders()
    b.click('td[data-arm="B"][data-task="T1"] a')
    b.wait_ready(n)
    assert b.eval("location.pathname") == "/e/imported/cell/B/T1"
    cell = next(c for c in expected["cells"] if (c["arm"], c["task"]) == ("B", "T1"))
    assert shown(b, "dl", "cost_median") == (cell["cost_median"], fmt_cost(cell["cost_median"]))
    with Store(stores["paper"], readonly=True) as store:
        records = store.trials(arm="B", task="T1")
    costs = lambda: b.eval("[...document.querySelectorAll('table.trials [data-field=total_cost]')]"
                           ".map(e => JSON.parse(e.dataset.value))")
    b.click('th[data-sort="total_cost"]')
    assert costs() == sorted(t.total_cost for t in records)
    b.click('th[data-sort="total_cost"]')
    assert costs() == sorted((t.total_cost for t in records), reverse=True)
    b.eval("(() => { const s = document.querySelector('select[data-filter=status]'); s.value = 'failure';"
           " s.dispatchEvent(new Event('change')); })()")
    assert len(costs()) == sum(t.status == "failure" for t in records) >= 1
    assert "status=failure" in b.eval("location.search")  # the filtered view is a shareable URL
    b.screenshot(ARTIFACTS / "paper-3-cell.png")

    n = b.renders()
    b.click("table.trials a")
    b.wait_ready(n)
    tid = b.eval("decodeURIComponent(location.pathname.split('/')[2])")
    rec = next(t for t in records if t.id == tid)
    assert shown(b, "dl", "total_cost") == (rec.total_cost, fmt_cost(rec.total_cost))
    assert b.eval("!!document.querySelector('[data-empty=calls]')")
    b.screenshot(ARTIFACTS / "paper-4-trial.png")

    b.goto(base + "/t/no-such-trial")
    assert b.eval("document.body.dataset.status") == "404"
    assert "404" in b.eval("document.querySelector('.notfound h1').textContent")
    b.screenshot(ARTIFACTS / "paper-5-404.png")


def test_recorded_transcripts_from_grid_to_a_trial(browser: Browser, stores, serve) -> None:
    b, base = browser, serve(stores["rec"])
    expected = analyze_json(stores["rec"])
    b.color_scheme("light")
    b.goto(base + "/")
    n = b.renders()
    b.click(f'tr[data-experiment="{TRANSCRIPT_EXPERIMENT}"] a')
    b.wait_ready(n)
    check_grid(b, expected)
    b.screenshot(ARTIFACTS / "rec-1-grid.png")

    n = b.renders()
    b.click('td[data-arm="B"][data-task="T1"] a')
    b.wait_ready(n)
    tid = RECORDED[0][0]
    n = b.renders()
    b.click(f'tr[data-trial="{tid}"] a')
    b.wait_ready(n)
    assert b.eval("location.pathname") == f"/t/{tid}"
    with Store(stores["rec"], readonly=True) as store:
        trial, calls = store.trial(tid), store.calls(tid)
    orch = [c for c in calls if c.role == "orchestrator"]
    execs = [c for c in calls if c.role == "executor"]
    assert b.eval("document.querySelectorAll('.turns > .turn[data-role=orchestrator]').length") == len(orch)
    nested = b.eval("[...document.querySelectorAll('.turns > .turn[data-role=orchestrator]')].map(t => "
                    "[Number(t.dataset.turn), [...t.querySelectorAll('.delegation .turn[data-role=executor]')]"
                    ".map(e => Number(e.dataset.turn))])")
    assert nested == [[o.turn, [e.turn for e in execs if e.parent_turn == o.turn]] for o in orch]
    assert any(e for _, e in nested)
    handbacks = b.eval("document.querySelectorAll('[data-result=\"hand-back from the executor\"]').length")
    assert handbacks == sum(c.handback_chars is not None for c in orch) > 0
    # Each turn's bar is its tokens; the running cost ends at the trial's total.
    bars = b.eval("[...document.querySelectorAll('.turns > .turn[data-role=orchestrator] > .side .bar')]"
                  ".map(e => Number(e.dataset.total))")
    assert bars == [c.usage.total for c in orch]
    running = b.eval("[...document.querySelectorAll('.turns > .turn[data-role=orchestrator] > .side "
                     "[data-field=running_cost]')].map(e => [JSON.parse(e.dataset.value), e.textContent])")
    assert running[-1][0] == pytest.approx(trial.total_cost) and running[-1][1] == fmt_cost(trial.total_cost)
    assert b.eval("document.querySelectorAll('[data-seg=reread]').length") > 0
    assert b.eval("document.querySelectorAll('details.fold').length") > 0
    assert b.eval("Chart.getChart(document.querySelector('canvas[data-chart=turns]')).data.labels.length") == len(orch)
    b.screenshot(ARTIFACTS / "rec-2-trial-light.png")
    n = b.renders()
    b.color_scheme("dark")
    b.wait_ready(n)  # charts are redrawn in the dark theme's colours
    bg = b.eval("getComputedStyle(document.body).backgroundColor")
    assert bg == "rgb(15, 18, 23)"
    b.screenshot(ARTIFACTS / "rec-3-trial-dark.png")
    b.color_scheme("light")


def test_corrupt_row_and_live_update(browser: Browser, stores, serve, tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    shutil.copy(stores["rec"], db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE calls SET tool_results = 'oops' WHERE id = "
                     "(SELECT max(id) FROM calls WHERE trial_id = ?)", (RUNNING_ID,))
        conn.execute("UPDATE trials SET usage = 'garbage' WHERE id = ?", (RECORDED[1][0],))
    b, base = browser, serve(db)
    b.goto(f"{base}/e/{TRANSCRIPT_EXPERIMENT}")
    assert b.eval("document.querySelector('[data-corrupt-trials]').dataset.corruptTrials") == "1"
    assert b.eval("document.querySelector('[data-corrupt-trials] a').textContent") == RECORDED[1][0]
    b.goto(f"{base}/t/{RECORDED[1][0]}")
    assert b.eval("document.querySelector('[data-corrupt=usage]').textContent") == "corrupt column usage: garbage"
    b.goto(f"{base}/t/{RUNNING_ID}")
    assert b.eval("document.querySelector('[data-corrupt=tool_results]').textContent").startswith(
        "corrupt column tool_results")
    count = "document.querySelectorAll('.turns > .turn[data-role=orchestrator]').length"
    assert b.eval(count) == 2
    b.screenshot(ARTIFACTS / "live-1-before.png")
    n = b.renders()
    with Store(db) as store:  # a batch goes on writing while the page is open
        for turn in range(2, 5):
            store.add_call(Call(trial_id=RUNNING_ID, role="orchestrator", turn=turn, model="m",
                                usage=Usage(input=100, output=50, cache_read=4000), cost_usd=0.02,
                                content=[{"type": "text", "text": f"live turn {turn}"}]))
    b.wait_ready(n)
    b.wait(f"{count} === 5")
    with sqlite3.connect(db) as conn:  # (Store.calls would refuse the row this test damaged)
        so_far = conn.execute("SELECT sum(cost_usd) FROM calls WHERE trial_id = ?", (RUNNING_ID,)).fetchone()[0]
    assert shown(b, "dl", "total_cost")[0] == pytest.approx(so_far)
    b.screenshot(ARTIFACTS / "live-2-after.png")
