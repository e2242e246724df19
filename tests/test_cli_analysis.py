"""`orchbench analyze` / `report` through the CLI: outputs, and one line + exit 2 on bad input."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys

import pytest

from tests.helpers import run_cli


def one_line_error(code: int, out: str, err: str, *needles: str) -> None:
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0]


def test_missing_file_subprocess(tmp_path):
    """The real entry point, as a user runs it: one line on stderr, exit 2."""
    missing = tmp_path / "nope.jsonl"
    r = subprocess.run([sys.executable, "-m", "orchbench", "analyze", "--results", str(missing), "--json"],
                       capture_output=True, text=True, timeout=60, check=False)
    one_line_error(r.returncode, r.stdout, r.stderr, str(missing), "no such file")


def test_malformed_line(tmp_path, paper_dir, capsys):
    bad = tmp_path / "bad.jsonl"
    good = (paper_dir / "A.jsonl").read_text().splitlines()
    bad.write_text("\n".join([*good[:3], '{"arm": "A", "task": "T1", "success": tru', *good[3:]]) + "\n")
    one_line_error(*run_cli(["analyze", "--results", str(bad)], capsys), f"{bad}:4:", "not valid JSON")


def test_db_that_does_not_exist(tmp_path, capsys):
    one_line_error(*run_cli(["analyze", "--db", str(tmp_path / "none.db")], capsys), "none.db")


def test_db_and_results_together(tmp_path, paper_dir, capsys):
    one_line_error(*run_cli(["analyze", "--db", str(tmp_path / "x.db"), "--results", str(paper_dir)], capsys),
                   "either --db or --results")


def test_several_files_after_results(paper_dir, capsys):
    code, out, err = run_cli(["analyze", "--results", str(paper_dir / "A.jsonl"), str(paper_dir / "D.jsonl"),
                              "--json", "--baseline", "D"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert {c["arm"] for c in doc["cells"]} == {"A", "D"}
    assert doc["baseline"] == "D"
    assert len(doc["pairwise"]) == 3


def test_csv(paper_dir, capsys):
    code, out, err = run_cli(["analyze", "--results", str(paper_dir), "--csv"], capsys)
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 12
    b1 = next(r for r in rows if (r["arm"], r["task"]) == ("B", "T1"))
    assert (b1["n_success"], b1["n_total"], b1["pareto_dominated"]) == ("3", "4", "True")
    assert round(float(b1["cost_median"]), 2) == 2.27


EXTERNAL = re.compile(r"""(https?:)?//[\w.-]+\.\w|(?:src|href)\s*=\s*["'](?!#|data:)""", re.IGNORECASE)


def test_report_is_self_contained(tmp_path, paper_dir, capsys):
    out_dir = tmp_path / "rep"
    code, _, err = run_cli(["report", "--out", str(out_dir), "--results", str(paper_dir)], capsys)
    assert code == 0, err
    html = (out_dir / "index.html").read_text()
    assert EXTERNAL.search(html) is None, EXTERNAL.search(html)
    assert "<script" not in html and "<link" not in html
    assert html.count("<svg") == 7  # Pareto T1..T3, tokens, cost by role, heat map, the simulator's hand-back cap
    assert "2.27" in html and "733,142" in html and "0.050" in html
    for name in ("pareto-T1", "pareto-T2", "pareto-T3", "tokens", "cost-by-role", "heatmap", "simulate-handback-cap"):
        for ext in ("png", "svg"):
            assert (out_dir / "figures" / f"{name}.{ext}").stat().st_size > 1000
    assert (out_dir / "figures" / "pareto-T1.png").read_bytes()[:4] == b"\x89PNG"
    doc = json.loads((out_dir / "analysis.json").read_text())
    assert len(doc["cells"]) == 12


def test_report_into_an_unwritable_place(tmp_path, paper_dir, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    one_line_error(*run_cli(["report", "--out", str(blocker / "sub"), "--results", str(paper_dir)], capsys),
                   "cannot create the report directory")


def test_analyze_a_store(tmp_path, paper_dir, capsys):
    store_mod = pytest.importorskip("orchbench.store")
    paperformat = pytest.importorskip("orchbench.paperformat")
    db = tmp_path / "r.db"
    with store_mod.Store(db) as s:
        s.add_trials(paperformat.read_paper_files([paper_dir]))
    code, out, err = run_cli(["analyze", "--db", str(db), "--json"], capsys)
    assert code == 0, err
    from_db = json.loads(out)
    code, out, err = run_cli(["analyze", "--results", str(paper_dir), "--json"], capsys)
    assert from_db["cells"] == json.loads(out)["cells"]


def test_rate_card_reprices_a_store_per_call(tmp_path, capsys):
    store_mod = pytest.importorskip("orchbench.store")
    pytest.importorskip("orchbench.pricing")
    from orchbench.records import Call, Trial, Usage

    db = tmp_path / "calls.db"
    with store_mod.Store(db) as s:
        for k, arm in enumerate(["opus-solo", "opus-solo", "haiku-solo"]):
            model = "claude-opus-4-7" if arm == "opus-solo" else "claude-haiku-4-5"
            t = Trial(id=f"t{k}", arm=arm, task="x", status="running", models={"orchestrator": model})
            s.start_trial(t)
            for turn in range(2):  # recorded at a bogus $999 per call
                s.add_call(Call(trial_id=t.id, role="orchestrator", turn=turn, model=model,
                                usage=Usage(input=1_000_000, cache_read=1_000_000), cost_usd=999.0))
            s.finish_trial(t.model_copy(update={"status": "success", "wall_s": 10.0, "iterations": 2}))
    code, out, err = run_cli(["analyze", "--db", str(db), "--json"], capsys)
    assert code == 0, err
    recorded = {c["arm"]: c["cost_median"] for c in json.loads(out)["cells"]}
    assert recorded == {"haiku-solo": pytest.approx(1998.0), "opus-solo": pytest.approx(1998.0)}
    code, out, err = run_cli(["analyze", "--db", str(db), "--json", "--rate-card", "paper-2026-06"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["rate_card"] == "paper-2026-06"
    repriced = {c["arm"]: c["cost_median"] for c in doc["cells"]}
    # per call: 1M input + 1M cache read; Opus $15 + $1.50, Haiku $1 + $0.10; two calls each
    assert repriced == {"opus-solo": pytest.approx(33.0), "haiku-solo": pytest.approx(2.2)}
    assert {c["arm"]: c["orchestrator_tokens_median"] for c in doc["cells"]} == {
        "opus-solo": 4_000_000, "haiku-solo": 4_000_000}


def test_unknown_model_when_repricing_is_one_line(tmp_path, capsys):
    pytest.importorskip("orchbench.pricing")
    f = tmp_path / "r.jsonl"
    f.write_text(json.dumps({"arm": "A", "task": "t", "success": True, "wall_sec": 1, "iterations": 1,
                             "usage_by_role": {"mystery-model-9000": {"input_tokens": 5, "output_tokens": 5}},
                             "cost_usd_by_role": {"mystery-model-9000": 0.1}, "total_cost_usd": 0.1}) + "\n")
    one_line_error(*run_cli(["analyze", "--results", str(f), "--rate-card", "paper-2026-06"], capsys),
                   "mystery-model-9000")
    code, out, err = run_cli(["analyze", "--results", str(f), "--json"], capsys)  # recorded costs need no card
    assert code == 0, err
    assert json.loads(out)["cells"][0]["cost_median"] == 0.1


def test_rate_card_file_with_a_negative_price_is_one_line(tmp_path, paper_dir, capsys):
    pytest.importorskip("orchbench.pricing")
    card = tmp_path / "card.toml"
    card.write_text('[models."claude-opus-4-7"]\ninput = -1.0\noutput = 5.0\n')
    one_line_error(*run_cli(["analyze", "--results", str(paper_dir), "--rate-card", str(card)], capsys),
                   str(card.name))


def test_not_an_orchbench_database_is_one_line(tmp_path, capsys):
    pytest.importorskip("orchbench.store")
    import sqlite3

    db = tmp_path / "other.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE stuff (x)")
    before = db.read_bytes()
    one_line_error(*run_cli(["analyze", "--db", str(db)], capsys), "other.db")
    assert db.read_bytes() == before  # nothing touched


def test_names_that_look_like_markup_or_math(tmp_path, capsys):
    """Arm / task names are user text: rich markup and matplotlib mathtext must not touch them."""
    lines = []
    for arm in ("[bold]arm[/bold]", r"$\frac{x}$"):
        for k, ok in enumerate([True, True, False]):
            lines.append({"arm": arm, "task": "<task&1>", "trial": k, "success": ok, "wall_sec": 10.0 + k,
                          "iterations": 3, "usage_by_role": {"m": {"input_tokens": 1, "output_tokens": 1}},
                          "cost_usd_by_role": {"m": 0.5 + k}, "total_cost_usd": 0.5 + k})
    f = tmp_path / "odd.jsonl"
    f.write_text("".join(json.dumps(x) + "\n" for x in lines))
    code, out, err = run_cli(["analyze", "--results", str(f)], capsys)
    assert code == 0, err
    assert "[bold]arm[/bold]" in out and r"$\frac{x}$" in out
    code, _, err = run_cli(["report", "--out", str(tmp_path / "rep"), "--results", str(f)], capsys)
    assert code == 0, err
    html = (tmp_path / "rep" / "index.html").read_text()
    assert "&lt;task&amp;1&gt;" in html and "<task&1>" not in html


def test_orchbench_db_in_the_environment_does_not_block_results(tmp_path, paper_dir, capsys, monkeypatch):
    monkeypatch.setenv("ORCHBENCH_DB", str(tmp_path / "elsewhere.db"))
    code, out, err = run_cli(["analyze", "--results", str(paper_dir), "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["n_trials"] == 40
    one_line_error(*run_cli(["analyze"], capsys), "elsewhere.db")  # and it is the default store
