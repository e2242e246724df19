"""Scripted model behaviour for the loopback servers: a model that solves a task.

`SolutionPolicy` plays both roles of an arm from the request alone (so it survives retries and
serves several conversations): a request that offers `delegate_to_executor` is the orchestrator,
which delegates the whole reference solution once and then finishes; any other request is a solo
model or an executor, which sends the reference tool calls one per turn, then a final text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchbench.agent.recorder import DELEGATE
from tests.fakes._http import Reply, View


def _ref(step: Any) -> dict[str, Any]:
    return step.model_dump() if hasattr(step, "model_dump") else dict(step)


@dataclass
class SolutionPolicy:
    reference: list[Any]
    final_text: str = "Done: the change is made and the checks pass."
    instruction: str = "Apply the change described in the task, then run the checks."
    orchestrator_checks: list[dict[str, Any]] | None = None  # tool calls the orchestrator makes after

    def __call__(self, view: View) -> Reply:
        if DELEGATE in view.tool_names:
            return self.orchestrator(view.n_assistant)
        steps = [_ref(s) for s in self.reference]
        i = view.n_assistant
        if i < len(steps):
            return Reply([{"type": "tool_use", "id": f"toolu_e{i:03d}", "name": steps[i]["tool"],
                           "input": steps[i]["input"]}])
        return Reply([{"type": "text", "text": self.final_text}])

    def orchestrator(self, i: int) -> Reply:
        if i == 0:
            return Reply([{"type": "text", "text": "Delegating the edit."},
                          {"type": "tool_use", "id": "toolu_o000", "name": DELEGATE,
                           "input": {"instruction": self.instruction}}])
        checks = self.orchestrator_checks or []
        if i - 1 < len(checks):
            c = checks[i - 1]
            return Reply([{"type": "tool_use", "id": f"toolu_o{i:03d}", "name": c["tool"], "input": c["input"]}])
        return Reply([{"type": "text", "text": self.final_text}])
