"""`orchbench reproduce`: the packaged paper data, no API key, no network, re-priced comparisons."""

from __future__ import annotations

import json
import socket

import pytest

from tests.helpers import run_cli

pytest.importorskip("orchbench.pricing")


@pytest.fixture
def offline(monkeypatch):
    """No API key, and any attempt to open a non-loopback connection fails the test."""
    for var in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "::1", "localhost") and not host.startswith("/"):
            raise AssertionError(f"network access to {address!r} during reproduce")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket, "create_connection",
                        lambda *a, **k: (_ for _ in ()).throw(AssertionError(f"network: {a!r}")))


def test_reproduce_json_with_the_papers_own_prices_changes_nothing(tmp_path, offline, capsys):
    """Re-pricing from usage with the paper's pinned card must give back the recorded costs."""
    code, out, err = run_cli(["reproduce", "--json", "--out", str(tmp_path / "r"),
                              "--rate-card", "paper-2026-06"], capsys)
    assert code == 0, err
    [line] = out.splitlines()
    doc = json.loads(line)
    assert doc["repriced"]["rate_card"] == "paper-2026-06"
    for c in doc["changes"]["cells"]:
        assert c["cost_median_after"] == pytest.approx(c["cost_median_before"], abs=1e-5)
    assert doc["changes"]["any_change"] is False
    b1 = next(c for c in doc["paper"]["cells"] if (c["arm"], c["task"]) == ("B", "T1"))
    assert round(b1["cost_median"], 2) == 2.27
    html = (tmp_path / "r" / "index.html").read_text()
    assert "what changes" in html


def test_reproduce_with_current_prices(tmp_path, offline, capsys):
    code, out, err = run_cli(["reproduce", "--json", "--out", str(tmp_path / "r")], capsys)
    assert code == 0, err
    doc = json.loads(out)
    paper, repriced, changes = doc["paper"], doc["repriced"], doc["changes"]
    assert repriced["rate_card"] != "recorded"
    # The trials, successes and token volumes are the same; only the dollars move.
    for before, after in zip(paper["cells"], repriced["cells"]):
        assert (before["arm"], before["task"], before["n_success"]) == (after["arm"], after["task"],
                                                                       after["n_success"])
        assert before["orchestrator_tokens_median"] == after["orchestrator_tokens_median"]
    assert {x["task"] for x in changes["cost_order"]} == {"T1", "T2", "T3"}
    assert isinstance(changes["any_change"], bool)
    # The paper's order by cost (recorded prices), which the comparison starts from:
    order = {x["task"]: x["before"] for x in changes["cost_order"]}
    assert order == {"T1": ["D", "C", "A", "B"], "T2": ["D", "C", "A", "B"], "T3": ["D", "A", "C", "B"]}


def test_reproduce_text(tmp_path, offline, capsys):
    code, out, err = run_cli(["reproduce", "--out", str(tmp_path / "r")], capsys)
    assert code == 0, err
    assert "733,142" in out and "Re-priced with" in out
    assert (tmp_path / "r" / "index.html").is_file()


def test_reproduce_prints_the_caps_caveat_under_the_cells_table(tmp_path, offline, capsys):
    """Three of the paper's failures stopped below Table 2's caps: the caps changed mid-experiment."""
    code, out, err = run_cli(["reproduce", "--out", str(tmp_path / "r")], capsys)
    assert code == 0, err
    flat = " ".join(out.split())
    assert ("B-T1 at 30 iterations (Table 2: 80), D-T1 at 40 iterations (Table 2: 100), "
            "D-T2 at 80 iterations (Table 2: 120)") in flat
    # Under the first cells table, before the pairwise table.
    assert flat.index("Cells (success-only medians") < flat.index("Caps caveat") < flat.index("Pairwise on")
    assert "Caps caveat" in (tmp_path / "r" / "index.html").read_text()
    code, out, err = run_cli(["reproduce", "--json", "--out", str(tmp_path / "r2")], capsys)
    caveat = json.loads(out)["caps_caveat"]
    assert [(c["arm"], c["task"], c["iterations"], c["table_cap"]) for c in caveat["trials"]] == [
        ("B", "T1", 30, 80), ("D", "T1", 40, 100), ("D", "T2", 80, 120)]
    assert caveat["text"].startswith("Caps caveat: 3 of the paper's failures")


def test_reproduce_with_an_unknown_card_is_one_line(tmp_path, capsys):
    code, _, err = run_cli(["reproduce", "--out", str(tmp_path / "r"), "--rate-card",
                              str(tmp_path / "missing.toml")], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
