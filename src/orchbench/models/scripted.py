"""Models that need no provider: the oracle (a task's reference solution) and replay.

The oracle answers one reference tool call per turn, then a final text: running it through the
ordinary loop, tools and judge is what proves a task solvable (`tasks check`, `run --arm oracle`).
Replay answers a stored trial's recorded content, call by call, to re-run a transcript.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from orchbench.errors import UserError
from orchbench.models.base import ModelResponse
from orchbench.records import Call, Usage, lead_role

ORACLE_MODEL = "oracle"
ORACLE_FINAL = "Reference solution applied."


class OracleModel:
    """One tool call of `reference` per turn, then ORACLE_FINAL. Zero tokens, zero cost."""

    def __init__(self, reference: Iterable[Any], *, model: str = ORACLE_MODEL) -> None:
        # Accept the task's ToolCall models or plain dicts.
        reference = [r.model_dump() if hasattr(r, "model_dump") else r for r in reference]
        for i, step in enumerate(reference):
            if not isinstance(step, dict) or "tool" not in step or not isinstance(step.get("input"), dict):
                raise UserError(
                    f"task reference step {i}: expected {{'tool': NAME, 'input': {{...}}}}, got {step!r}"
                )
        self.model = model
        self.reference = reference

    def complete(self, *, system: str, messages: list[dict], tools: list[dict]) -> ModelResponse:
        # Stateless: the step is the number of assistant turns so far, so one instance may serve
        # several conversations (and a retried call gives the same answer).
        step = sum(1 for m in messages if m.get("role") == "assistant")
        if step < len(self.reference):
            ref = self.reference[step]
            block = {"type": "tool_use", "id": f"toolu_oracle_{step:03d}", "name": ref["tool"],
                     "input": ref["input"]}
            return ModelResponse(content=[block], usage=Usage(), stop_reason="tool_use", model=self.model)
        return ModelResponse(content=[{"type": "text", "text": ORACLE_FINAL}], usage=Usage(),
                             stop_reason="end_turn", model=self.model)


class ReplayModel:
    """Answers the recorded content of a stored trial's calls (one role), in order."""

    def __init__(self, calls: Iterable[Call], *, role: str | None = None) -> None:
        calls = list(calls)
        role = role or lead_role({c.role for c in calls})  # default: the solo agent or the orchestrator
        self.calls = sorted((c for c in calls if c.role == role), key=lambda c: (c.started_at, c.turn))
        if not self.calls:
            raise UserError(f"nothing to replay: the trial has no stored {role} calls with content")
        self.model = self.calls[0].model
        self._next = 0

    def complete(self, *, system: str, messages: list[dict], tools: list[dict]) -> ModelResponse:
        if self._next >= len(self.calls):
            return ModelResponse(content=[{"type": "text", "text": "BLOCKED: replay exhausted"}],
                                 stop_reason="end_turn", model=self.model)
        call = self.calls[self._next]
        self._next += 1
        return ModelResponse(content=call.content, usage=call.usage, stop_reason=call.stop_reason,
                             latency_s=0.0, model=call.model)


class UnpluggedModel:
    """A model that must not be called: stands in where an agent is built only to be looked at
    (`run --dry-run` shows its prompts and tools)."""

    def __init__(self, model: str = "none") -> None:
        self.model = model

    def complete(self, *, system: str, messages: list[dict], tools: list[dict]) -> ModelResponse:
        raise RuntimeError(f"model {self.model!r} is unplugged: this agent was built to be inspected, not run")
