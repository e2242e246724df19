"""From calls seen on the wire to stored `Call` records with roles, nesting and hand-backs.

The role comes from the arm's model -> role map, exactly: a model it does not name is stored with
the role "unknown" (never guessed). Delegation is read off the wire as far as it tells: executor
calls made after an orchestrator reply that used a delegating tool (Claude Code's `Agent`) are
nested under that orchestrator turn (with no such tool, under the latest orchestrator turn), and when the orchestrator's next request carries that tool's
result, the hand-back is attached to the delegating call (like the built-in loop's records).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from orchbench.agent.recorder import DELEGATING_TOOLS, Pricer, Recorder
from orchbench.models.base import ModelResponse
from orchbench.proxy.wire import Reading, Request
from orchbench.records import Call, Role, Usage


class ResultSink(Protocol):
    def add_call(self, call: Call) -> int: ...

    def update_call(self, call_id: int, call: Call) -> None: ...


class StoreSink:
    """The results store, opened in the proxy's own thread (an SQLite connection serves one thread)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._store: Any = None

    def _db(self) -> Any:
        if self._store is None:
            from orchbench.store import Store

            self._store = Store(self.path)
        return self._store

    def add_call(self, call: Call) -> int:
        return int(self._db().add_call(call))

    def update_call(self, call_id: int, call: Call) -> None:
        self._db().update_call(call_id, call)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


class _KeptPricer:
    """Prices with the rate card; a model it does not know costs 0 and the call says so."""

    def __init__(self, card: Pricer | None) -> None:
        self.card = card
        self.last_error: str | None = None

    def cost(self, model: str, usage: Usage) -> float:
        self.last_error = None
        if self.card is None:
            return 0.0
        try:
            return self.card.cost(model, usage)
        except Exception as exc:  # noqa: BLE001 - an unpriced model must not lose the call
            self.last_error = f"not priced: {exc}"
            return 0.0


class _IdSink:
    def __init__(self, sink: ResultSink | None) -> None:
        self.sink = sink
        self.last_id = 0

    def add_call(self, call: Call) -> int:
        self.last_id = self.sink.add_call(call) if self.sink is not None else 0
        return self.last_id


class WireRecorder:
    def __init__(self, trial_id: str, roles: Mapping[str, str], *, sink: ResultSink | None = None,
                 pricer: Pricer | None = None, delegating_tools: Iterable[str] = DELEGATING_TOOLS) -> None:
        self.roles = dict(roles)
        self.sink = sink
        self._ids = _IdSink(sink)
        self._pricer = _KeptPricer(pricer)
        self.recorder = Recorder(trial_id, store=self._ids, pricer=self._pricer)
        self.delegating = frozenset(delegating_tools)
        self._by_tool_use: dict[str, tuple[int, int]] = {}  # tool_use id -> (index in calls, store id)
        self._delegating_turn: int | None = None
        self._tool_delegation = False

    @property
    def calls(self) -> list[Call]:
        return self.recorder.calls

    def role_of(self, model: str) -> Role:
        role = self.roles.get(model, "unknown")
        return role if role in ("orchestrator", "executor") else "unknown"  # type: ignore[return-value]

    def record(self, request: Request, reading: Reading, *, started_at: datetime, latency_s: float) -> Call:
        self._attach_results(request.tool_results)
        role = self.role_of(request.model)
        response = ModelResponse(content=reading.content, usage=reading.usage or Usage(),
                                 stop_reason=reading.stop_reason, latency_s=latency_s,
                                 model=reading.model or request.model)
        call = self.recorder.record(role=role, response=response, model=request.model, results=[],
                                    started_at=started_at, error=reading.error,
                                    parent_turn=self._delegating_turn if role == "executor" else None)
        if self._pricer.last_error:
            call.error = "; ".join(e for e in (call.error, self._pricer.last_error) if e)
        for block in call.content:
            if block.get("type") == "tool_use" and block.get("id"):
                self._by_tool_use[block["id"]] = (len(self.calls) - 1, self._ids.last_id)
        if role == "orchestrator":
            delegated = any(n in self.delegating for n in call.tool_names)
            self._tool_delegation |= delegated
            # Without a delegating tool on the wire (aider's architect hands its plan over as text),
            # executor calls serve the latest orchestrator turn.
            if delegated or not self._tool_delegation:
                self._delegating_turn = call.turn
        return call

    def close(self) -> None:
        close = getattr(self.sink, "close", None)
        if close is not None:
            close()

    def _attach_results(self, results: list[dict[str, Any]]) -> None:
        grouped: dict[tuple[int, int], list[dict[str, Any]]] = {}
        for r in results:
            where = self._by_tool_use.pop(r["tool_use_id"], None)
            if where is not None:
                grouped.setdefault(where, []).append(r)
        for (index, store_id), new in grouped.items():
            call = self.calls[index]
            delegated = {b["id"] for b in call.content
                         if b.get("type") == "tool_use" and b.get("name") in self.delegating}
            merged = call.tool_results + new
            back = [r for r in merged if r["tool_use_id"] in delegated]
            call.tool_results = merged
            call.handback_chars = sum(len(r["content"]) for r in back) if back else None
            if self.sink is not None and store_id:
                self.sink.update_call(store_id, call)
