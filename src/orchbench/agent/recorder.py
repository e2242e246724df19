"""Turns each model response (and the harness's answers to it) into a stored `records.Call`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from orchbench.models.base import ModelResponse
from orchbench.pricing import price_call
from orchbench.records import Call, Role, Usage

DELEGATE = "delegate_to_executor"
# Tools whose result is a hand-back from an executor: ours, and Claude Code's (`Agent`, formerly `Task`).
DELEGATING_TOOLS = (DELEGATE, "Agent", "Task")


class Pricer(Protocol):
    def cost(self, model: str, usage: Usage) -> float: ...


class CallSink(Protocol):
    def add_call(self, call: Call) -> int: ...
    # and, optionally, update_call(call_id, call): the answers added once the tools ran


USAGE_UNKNOWN = "usage not reported by the provider: tokens and cost unknown"


class Recorder:
    """Numbers calls per role across the whole trial, prices them, stores each the moment its
    response arrives (before its tools run: a crash mid-command loses no billed call), then adds
    the harness's answers."""

    def __init__(self, trial_id: str, *, store: CallSink | None = None, pricer: Pricer | None = None) -> None:
        self.trial_id = trial_id
        self.store = store
        self.pricer = pricer
        self.calls: list[Call] = []
        self._ids: list[int | None] = []
        # Facts about the trial that are not one call's: a local model's digest and context length,
        # an executor's real outcome behind a hand-back that does not show it. Kept in order, once each.
        self.notes: list[str] = []
        self._next_turn: dict[str, int] = {}

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def price(self, model: str, reported: str | None, usage: Usage) -> tuple[float, str | None]:
        if self.pricer is None or usage.total == 0:  # scripted models: no tokens, nothing to price
            return 0.0, None
        return price_call(self.pricer, usage, configured=model, reported=reported)

    def arrived(self, *, role: Role, response: ModelResponse | None, model: str, started_at: datetime,
                parent_turn: int | None = None, error: str | None = None) -> int:
        """Store a call as soon as its response is in; returns its index for `answered`."""
        turn = self._next_turn.get(role, 0)
        self._next_turn[role] = turn + 1
        content = response.content if response else []
        usage = response.usage if response else Usage()
        if response is not None and not response.usage_known:
            error = f"{error}; {USAGE_UNKNOWN}" if error else USAGE_UNKNOWN
        cost, priced_model = self.price(model, response.model if response else None, usage)
        call = Call(
            trial_id=self.trial_id,
            role=role,
            turn=turn,
            model=(response.model if response and response.model else model),
            usage=usage,
            cost_usd=cost,
            priced_model=priced_model,
            latency_s=response.latency_s if response else 0.0,
            stop_reason=response.stop_reason if response else None,
            tool_names=[b["name"] for b in content if b.get("type") == "tool_use"],
            parent_turn=parent_turn,
            started_at=started_at,
            content=content,
            error=error,
        )
        self.calls.append(call)
        self._ids.append(self.store.add_call(call) if self.store is not None else None)
        return len(self.calls) - 1

    def answered(self, index: int, results: list[dict[str, Any]], error: str | None = None) -> Call:
        """Add the harness's answers (tool results, hand-back size, what went wrong) to a stored call."""
        call = self.calls[index]
        names = {b.get("id"): b.get("name") for b in call.content if b.get("type") == "tool_use"}
        handback = [r for r in results if names.get(r["tool_use_id"]) == DELEGATE]
        if error:
            error = f"{call.error}; {error}" if call.error else error
        call = call.model_copy(update={
            "tool_results": results,
            "handback_chars": sum(len(r["content"]) for r in handback) if handback else None,
            "error": error or call.error,
        })
        self.calls[index] = call
        call_id = self._ids[index]
        update = getattr(self.store, "update_call", None)
        if update is not None and call_id is not None and (results or error):
            update(call_id, call)
        return call

    def record(self, *, role: Role, response: ModelResponse | None, model: str, results: list[dict[str, Any]],
               started_at: datetime, parent_turn: int | None = None, error: str | None = None) -> Call:
        """A call and its answers at once (for callers with nothing to run in between)."""
        index = self.arrived(role=role, response=response, model=model, started_at=started_at,
                             parent_turn=parent_turn)
        return self.answered(index, results, error)
