"""Turns each model response (and the harness's answers to it) into a stored `records.Call`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from orchbench.models.base import ModelResponse
from orchbench.records import Call, Role, Usage

DELEGATE = "delegate_to_executor"
# Tools whose result is a hand-back from an executor: ours, and Claude Code's (`Agent`, formerly `Task`).
DELEGATING_TOOLS = (DELEGATE, "Agent", "Task")


class Pricer(Protocol):
    def cost(self, model: str, usage: Usage) -> float: ...


class CallSink(Protocol):
    def add_call(self, call: Call) -> int: ...


class Recorder:
    """Numbers calls per role across the whole trial, prices them, stores each at once."""

    def __init__(self, trial_id: str, *, store: CallSink | None = None, pricer: Pricer | None = None) -> None:
        self.trial_id = trial_id
        self.store = store
        self.pricer = pricer
        self.calls: list[Call] = []
        self._next_turn: dict[str, int] = {}

    def price(self, model: str, usage: Usage) -> float:
        if self.pricer is None or usage.total == 0:  # scripted models: no tokens, nothing to price
            return 0.0
        return self.pricer.cost(model, usage)

    def record(
        self,
        *,
        role: Role,
        response: ModelResponse | None,
        model: str,
        results: list[dict[str, Any]],
        started_at: datetime,
        parent_turn: int | None = None,
        error: str | None = None,
    ) -> Call:
        turn = self._next_turn.get(role, 0)
        self._next_turn[role] = turn + 1
        content = response.content if response else []
        names = {b["id"]: b["name"] for b in content if b.get("type") == "tool_use"}
        handback = [r for r in results if names.get(r["tool_use_id"]) == DELEGATE]
        usage = response.usage if response else Usage()
        call = Call(
            trial_id=self.trial_id,
            role=role,
            turn=turn,
            model=(response.model if response and response.model else model),
            usage=usage,
            cost_usd=self.price(model, usage),
            latency_s=response.latency_s if response else 0.0,
            stop_reason=response.stop_reason if response else None,
            tool_names=[b["name"] for b in content if b.get("type") == "tool_use"],
            handback_chars=sum(len(r["content"]) for r in handback) if handback else None,
            parent_turn=parent_turn,
            started_at=started_at,
            content=content,
            tool_results=results,
            error=error,
        )
        self.calls.append(call)
        if self.store is not None:
            self.store.add_call(call)
        return call
