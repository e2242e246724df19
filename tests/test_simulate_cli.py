"""`orchbench simulate`: JSON shape on the paper's data, plots, and one-line errors with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchbench", "simulate", *args],
                          check=False, capture_output=True, text=True, timeout=120)


def test_json_on_the_packaged_paper_data_with_every_what_if(tmp_path) -> None:
    p = run("--json", "--rate-card", "current", "--no-cache", "--handback-cap", "250",
            "--cache-ttl", "1h", "--plot", str(tmp_path))
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert set(d) >= {"source", "rate_card", "assumptions", "breakeven", "fit", "replay", "whatif", "plots"}
    assert d["rate_card"] == "current" and len(d["assumptions"]) >= 5
    rows = {(b["arm"], b["task"]): b for b in d["breakeven"]}
    assert set(rows) == {(a, t) for a in "BC" for t in ("T1", "T2", "T3")}
    for b in rows.values():
        assert b["baseline"] == "A"
        assert set(b) >= {"breakeven_tokens", "handback_tokens", "delegations", "cost", "baseline_cost", "verdict"}
        assert b["verdict"].startswith("none") == (b["breakeven_tokens"] is None)
    assert [s["key"] for s in d["whatif"]["scenarios"]] == ["reprice", "no-cache", "cap-250", "ttl-1h"]
    for s in d["whatif"]["scenarios"]:
        assert {"cells", "flips", "total_before", "total_after", "saving", "assumption"} <= set(s)
        assert len(s["cells"]) == 12
    # re-pricing the paper's trials at today's Opus price changes some of its conclusions
    assert d["whatif"]["scenarios"][0]["flips"]
    assert len(d["fit"]["cells"]) == 12 and d["replay"]["trials"] == 0
    assert sorted(p.rsplit(".", 1)[1] for p in d["plots"]) == ["png", "svg"]
    assert (tmp_path / "simulate-handback-cap.png").stat().st_size > 1000


def in_process(args: list[str], capsys, monkeypatch) -> tuple[int, str, str]:
    """`orchbench simulate ARGS` through the real entry point, without a new interpreter."""
    from orchbench.cli import main

    monkeypatch.setattr(sys, "argv", ["orchbench", "simulate", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def test_text_output_prints_assumptions_next_to_the_break_even(capsys, monkeypatch) -> None:
    code, out, err = in_process([], capsys, monkeypatch)
    assert code == 0, err
    assert "Break-even hand-back" in out and "Assumptions:" in out
    assert out.index("Assumptions:") - out.index("Break-even hand-back") < 3000
    assert "paper-2026-06" in out


@pytest.mark.parametrize("args, needle", [
    (["--cache-ttl", "2h"], "--cache-ttl"),
    (["--handback-cap", "-5"], "--handback-cap"),
    (["--results", "/nonexistent/x.jsonl"], "/nonexistent/x.jsonl"),
    (["--rate-card", "no-such-card"], "no-such-card"),
    (["--db", "/nonexistent/o.db"], "/nonexistent/o.db"),
])
def test_bad_input_exits_2_with_one_line(args: list[str], needle: str, capsys, monkeypatch) -> None:
    code, out, err = in_process(args, capsys, monkeypatch)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in err


def test_bad_input_in_a_fresh_process_exits_2() -> None:
    p = run("--cache-ttl", "2h")
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "--cache-ttl" in p.stderr
