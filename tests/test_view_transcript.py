"""The transcript shaping of the viewer: nesting, hand-back re-read estimate, running cost."""

from __future__ import annotations

from orchbench.viewer.transcript import build_transcript, reread_estimates


def _call(id_: int, role: str, turn: int, *, cache_read: int = 0, cost: float = 0.0,
          handback: int | None = None, parent: int | None = None) -> dict:
    return {"id": id_, "role": role, "turn": turn, "usage": {"input": 10, "output": 5, "cache_write": 0,
            "cache_read": cache_read}, "cost_usd": cost, "handback_chars": handback, "parent_turn": parent}


def test_reread_starts_two_turns_after_the_handback_and_is_capped_by_cache_read() -> None:
    calls = [
        _call(1, "orchestrator", 0, cache_read=0, handback=400),  # hands back 400 chars (100 tokens)
        _call(2, "orchestrator", 1, cache_read=5000),  # the hand-back is new input here, not a re-read
        _call(3, "orchestrator", 2, cache_read=5000, handback=800),
        _call(4, "orchestrator", 3, cache_read=5000),  # re-reads the first hand-back only
        _call(5, "orchestrator", 4, cache_read=250),  # both (300 tokens) but only 250 read from cache
    ]
    assert reread_estimates(calls) == [0, 0, 100, 100, 250]


def test_executor_calls_nest_under_their_parent_turn_and_running_cost_includes_them() -> None:
    calls = [
        _call(1, "executor", 0, cost=0.01, parent=0),
        _call(2, "executor", 1, cost=0.02, parent=0),
        _call(3, "orchestrator", 0, cost=0.10, handback=40),
        _call(4, "orchestrator", 1, cost=0.20, cache_read=100),
        _call(5, "executor", 2, cost=0.04, parent=7),  # no orchestrator turn 7: shown apart, still costed
    ]
    tr = build_transcript(calls)
    assert [t["call"]["id"] for t in tr["turns"]] == [3, 4]
    assert [d["call"]["id"] for d in tr["turns"][0]["delegations"]] == [1, 2]
    assert tr["turns"][1]["delegations"] == []
    assert [round(t["running_cost"], 9) for t in tr["turns"]] == [0.13, 0.33]
    assert [d["call"]["id"] for d in tr["orphan_executor_calls"]] == [5]
    assert round(tr["total_cost"], 9) == 0.37
    assert tr["n_calls"] == 5


def test_corrupt_usage_counts_as_zero_instead_of_breaking_the_page() -> None:
    bad = {"id": 1, "role": "orchestrator", "turn": 0, "usage": None, "cost_usd": None, "corrupt": ["usage"]}
    tr = build_transcript([bad])
    assert tr["turns"][0]["tokens"] == {"input": 0, "output": 0, "cache_write": 0, "cache_read": 0}
    assert tr["turns"][0]["running_cost"] == 0.0
