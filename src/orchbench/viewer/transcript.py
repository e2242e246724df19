"""A trial's calls shaped for reading: orchestrator turns with their delegations nested, per-turn
token bars, the estimated re-reading of earlier hand-backs, and the running cost.

Input is the list of call dicts `queries.trial_calls` returns (a corrupt column is `None` and named in
the call's `corrupt` list), so one bad row never hides the rest of a transcript.

The hand-back re-read estimate: an orchestrator call with `handback_chars = h` carries the executor's
summary in its tool results, which are first sent in the *next* request (written to the prompt
cache there) and re-read from the cache by every request after that. So at orchestrator turn k the
tokens spent re-reading earlier hand-backs are about
    sum(h_j for orchestrator turns j < k - 1) / 4
(4 characters per token, the usual rule of thumb for English and code), capped at that call's
`cache_read`, since a re-read from the cache can only show up there.
"""

from __future__ import annotations

from typing import Any

CHARS_PER_TOKEN = 4
USAGE_KEYS = ("input", "output", "cache_write", "cache_read")


def _usage(call: dict[str, Any]) -> dict[str, int]:
    u = call.get("usage") or {}
    return {k: int(u.get(k) or 0) for k in USAGE_KEYS}


def reread_estimates(orchestrator_calls: list[dict[str, Any]]) -> list[int]:
    """Estimated hand-back tokens re-read from the cache by each orchestrator call (turn order)."""
    out: list[int] = []
    delivered = 0  # chars of hand-backs already sent in an earlier request (so now in the cache)
    pending = 0  # chars handed back by the previous call: sent in this request for the first time
    for call in orchestrator_calls:
        cache_read = _usage(call)["cache_read"]
        out.append(min(cache_read, round(delivered / CHARS_PER_TOKEN)))
        delivered += pending
        pending = int(call.get("handback_chars") or 0)
    return out


def _sort_key(call: dict[str, Any]) -> tuple[int, int]:
    turn = call.get("turn")
    return (turn if isinstance(turn, int) else 1 << 30, int(call.get("id") or 0))


def build_transcript(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """Turns of the orchestrator (or solo model), executor calls nested under the turn they serve."""
    orch = sorted((c for c in calls if c.get("role") != "executor"), key=_sort_key)
    execs = sorted((c for c in calls if c.get("role") == "executor"), key=_sort_key)
    by_parent: dict[Any, list[dict[str, Any]]] = {}
    orch_turns = {c.get("turn") for c in orch}
    orphans: list[dict[str, Any]] = []
    for c in execs:
        p = c.get("parent_turn")
        (by_parent.setdefault(p, []) if p in orch_turns else orphans).append(c)

    rereads = reread_estimates(orch)
    running = 0.0
    turns: list[dict[str, Any]] = []
    series: list[dict[str, Any]] = []
    for call, reread in zip(orch, rereads):
        delegations = by_parent.get(call.get("turn"), [])
        # Executor calls run while the orchestrator's delegate tool runs: their money is spent before
        # the next orchestrator request, so the running cost after a turn includes them.
        deleg_cost = sum(float(d.get("cost_usd") or 0.0) for d in delegations)
        running += float(call.get("cost_usd") or 0.0) + deleg_cost
        u = _usage(call)
        turns.append({
            "call": call,
            "tokens": u,
            "reread_tokens": reread,
            "delegations": [{"call": d, "tokens": _usage(d)} for d in delegations],
            "delegation_cost": deleg_cost,
            "running_cost": running,
        })
        series.append({"turn": call.get("turn"), "running_cost": running, **u, "reread": reread,
                       "cost": float(call.get("cost_usd") or 0.0), "delegation_cost": deleg_cost})
    orphan_cost = sum(float(d.get("cost_usd") or 0.0) for d in orphans)
    return {
        "turns": turns,
        "orphan_executor_calls": [{"call": d, "tokens": _usage(d)} for d in orphans],
        "series": series,
        "total_cost": running + orphan_cost,
        "reread_tokens_total": sum(rereads),
        "n_calls": len(calls),
        "chars_per_token": CHARS_PER_TOKEN,
    }
