"""The agent loop: query the model, run the tools it asks for, show it the results, repeat.

Solo arms run one of these; an orchestrated arm runs one for the orchestrator whose
`delegate_to_executor` tool runs another for the executor (agent/orchestrate.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from orchbench.agent.recorder import Recorder
from orchbench.models.base import BadReply, ContextOverflow, InfraError, ModelAPI
from orchbench.records import Role, utcnow

Outcome = Literal["done", "blocked", "cap", "overflow"]


class ToolLike(Protocol):
    name: str

    def schema(self) -> dict: ...
    def run(self, args: dict) -> Any: ...  # -> an object with .text and .is_error (ToolOutput)


@dataclass
class LoopResult:
    final_text: str
    turns: int
    outcome: Outcome
    messages: list[dict[str, Any]] = field(default_factory=list)


def is_blocked(text: str) -> bool:
    return text.lstrip().upper().startswith("BLOCKED")


class Agent:
    def __init__(self, model: ModelAPI, tools: list[ToolLike], *, system: str, cap: int, role: Role,
                 recorder: Recorder, parent_turn: int | None = None) -> None:
        self.model, self.system, self.cap, self.role = model, system, cap, role
        self.tools = {t.name: t for t in tools}
        self.recorder, self.parent_turn = recorder, parent_turn
        self.turn = 0  # read by the delegate tool: the orchestrator turn a delegation belongs to

    def run(self, prompt: str) -> LoopResult:
        messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
        schemas = [t.schema() for t in self.tools.values()]
        for turn in range(self.cap):
            self.turn = turn
            started = utcnow()
            try:
                resp = self.model.complete(system=self.system, messages=messages, tools=schemas)
            except ContextOverflow as exc:
                return LoopResult(f"context overflow: {exc}", self.turn, "overflow", messages)
            except BadReply as exc:  # a reply came (billed) but is unusable: store it, marked
                self.recorder.arrived(role=self.role, response=exc.response, model=self.model.model,
                                      started_at=started, parent_turn=self.parent_turn, error=str(exc))
                raise
            call = self.recorder.arrived(role=self.role, response=resp, model=self.model.model,
                                         started_at=started, parent_turn=self.parent_turn)
            messages.append({"role": "assistant", "content": resp.content})
            results: list[dict[str, Any]] = []
            error = None
            try:
                results = [self.run_tool(use) for use in resp.tool_uses]
            except BaseException as exc:  # the call is stored already: add what went wrong
                error = f"{type(exc).__name__}: {exc}"
                raise
            finally:
                self.recorder.answered(call, results, error)
            if not resp.tool_uses:
                final = resp.text
                return LoopResult(final, self.turn + 1, "blocked" if is_blocked(final) else "done", messages)
            messages.append({"role": "user", "content": [{"type": "tool_result", **r} for r in results]})
        return LoopResult("", self.cap, "cap", messages)

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
