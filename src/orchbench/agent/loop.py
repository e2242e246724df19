"""The agent loop: query the model, run the tools it asks for, show it the results, repeat.

Solo arms run one of these; an orchestrated arm runs one for the orchestrator whose
`delegate_to_executor` tool runs another for the executor (agent/orchestrate.py).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from orchbench.agent.recorder import Recorder
from orchbench.agent.tool import Tool
from orchbench.models.base import BadReply, ContextOverflow, InfraError, ModelAPI, ModelResponse
from orchbench.records import Role, utcnow

Outcome = Literal["done", "blocked", "cap", "timeout", "overflow"]


@dataclass
class LoopResult:
    final_text: str
    turns: int
    outcome: Outcome
    messages: list[dict[str, Any]] = field(default_factory=list)


def is_blocked(text: str) -> bool:
    return text.lstrip().upper().startswith("BLOCKED")


class Agent:
    """One model with its tools. `cap` bounds its turns (None: no cap), `deadline_s` its wall time."""

    def __init__(self, model: ModelAPI, tools: list[Tool], *, system: str, cap: int | None, role: Role,
                 recorder: Recorder, parent_turn: int | None = None, deadline_s: float | None = None) -> None:
        self.model, self.system, self.cap, self.role = model, system, cap, role
        self.tools = {t.name: t for t in tools}
        self.recorder, self.parent_turn, self.deadline_s = recorder, parent_turn, deadline_s
        self.turn = 0  # read by the delegate tool: the orchestrator turn a delegation belongs to
        self.clock = time.monotonic  # for the deadline; tests pass their own

    def run(self, prompt: str) -> LoopResult:
        messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
        schemas = [t.schema() for t in self.tools.values()]
        ends_at = None if self.deadline_s is None else self.clock() + self.deadline_s
        last_text = ""  # what a capped or timed-out loop hands back
        for turn in range(self.cap) if self.cap is not None else itertools.count():
            if ends_at is not None and self.clock() >= ends_at:
                return LoopResult(last_text, turn, "timeout", messages)
            self.turn, started = turn, utcnow()
            try:
                resp = self.model.complete(system=self.system, messages=messages, tools=schemas)
            except ContextOverflow as exc:
                return LoopResult(f"context overflow: {exc}", turn, "overflow", messages)
            except BadReply as exc:  # a reply came (billed) but is unusable: store it, marked
                self.arrived(exc.response, started, error=str(exc))
                raise
            call = self.arrived(resp, started)  # stored before its tools run: a crash loses no billed call
            messages.append({"role": "assistant", "content": resp.content})
            last_text = resp.text or last_text
            # Any stop but tool_use ends the loop, max_tokens included (as in the paper's harness).
            ends = not resp.tool_uses or resp.stop_reason not in (None, "tool_use")
            results: list[dict[str, Any]] = []
            error = None
            try:
                results = [] if ends else [self.run_tool(use) for use in resp.tool_uses]
            except BaseException as exc:  # the call is stored already: add what went wrong
                error = f"{type(exc).__name__}: {exc}"
                raise
            finally:
                self.recorder.answered(call, results, error)
            if ends:
                return LoopResult(resp.text, turn + 1, "blocked" if is_blocked(resp.text) else "done", messages)
            messages.append({"role": "user", "content": [{"type": "tool_result", **r} for r in results]})
        return LoopResult(last_text, self.cap or 0, "cap", messages)

    def run_tool(self, use: dict[str, Any]) -> dict[str, Any]:
        tool = self.tools.get(use["name"])
        if tool is None:
            text, is_error = f"unknown tool {use['name']!r}; available: {', '.join(self.tools)}", True
        else:
            try:
                out = tool.run(use.get("input") or {})
                text, is_error = out.text, bool(out.is_error)
            except (InfraError, ContextOverflow):
                raise
            except Exception as exc:  # noqa: BLE001 - a bad argument must not end the trial: the model sees it
                text, is_error = f"tool {use['name']} failed: {type(exc).__name__}: {exc}", True
        result: dict[str, Any] = {"tool_use_id": use["id"], "content": text}
        if is_error:
            result["is_error"] = True
        return result

    def arrived(self, resp: ModelResponse | None, started: Any, error: str | None = None) -> int:
        provenance = getattr(self.model, "provenance", None)  # e.g. a local model's digest and context
        if provenance:
            self.recorder.note(f"{self.role}: {provenance}")
        return self.recorder.arrived(role=self.role, response=resp, model=self.model.model,
                                     started_at=started, parent_turn=self.parent_turn, error=error)
