"""From an arm, a task and a workspace to a ready agent: tools by profile, prompts by set, the
executor's own tools, cap and deadline. `run_trial` and `run --dry-run` both build agents here."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchbench.agent.loop import Agent
from orchbench.agent.orchestrate import DelegateTool, orchestrator_agent
from orchbench.agent.recorder import Recorder
from orchbench.agent.tools import make_tools
from orchbench.models.base import ModelAPI
from orchbench.models.scripted import UnpluggedModel

if TYPE_CHECKING:  # arms sit above the agent layer: only their shape is needed here
    from orchbench.arms import Arm

# What the paper's harness sent, measured from its code: system prompts and the solo tool list.
PAPER_SIZES = {"solo system prompt": 608, "orchestrator system prompt": 1039, "tools JSON": 1113}


def assemble(arm: Arm, task: Any, ws: Any, models: dict[str, ModelAPI], recorder: Recorder, *,
             unsafe_no_sandbox: bool = False, judge: Callable[[], str] | None = None) -> Agent:
    texts = arm.prompts.resolved()
    tools = make_tools(arm.tool_profile, ws, unsafe_no_sandbox=unsafe_no_sandbox)
    cap = arm.cap_for(task)
    if models.get("executor") is None:
        return Agent(models["solo"], tools, system=texts.solo, cap=cap, role="solo", recorder=recorder)
    executor_tools = None
    if arm.executor_tool_profile not in (None, arm.tool_profile):
        executor_tools = make_tools(arm.executor_tool_profile, ws, unsafe_no_sandbox=unsafe_no_sandbox)
    return orchestrator_agent(models["orchestrator"], models["executor"], tools, root=Path(ws.root),
                              policy=arm.return_policy, cap=cap, executor_cap=arm.executor_cap_for(task),
                              recorder=recorder, system=texts.orchestrator, executor_system=texts.executor,
                              judge=judge, executor_tools=executor_tools, delegate_description=texts.delegate,
                              executor_deadline_s=arm.executor_deadline_s)


@dataclass
class Preview:
    """What the first request of each role carries, without calling a model."""

    system: str
    tools: list[dict[str, Any]]
    first_message: str
    executor_system: str | None = None
    executor_tools: list[dict[str, Any]] | None = None

    @property
    def tools_json(self) -> str:
        return json.dumps(self.tools)

    def sizes(self, orchestrated: bool) -> list[tuple[str, int, int | None]]:
        """(what, our characters, the paper's characters or None)."""
        role = "orchestrator" if orchestrated else "solo"
        rows: list[tuple[str, int, int | None]] = [
            (f"{role} system prompt", len(self.system), PAPER_SIZES[f"{role} system prompt"]),
            ("tools JSON", len(self.tools_json), PAPER_SIZES["tools JSON"] if not orchestrated else None),
            ("first user message", len(self.first_message), None),
        ]
        if self.executor_system is not None:
            rows.append(("executor system prompt", len(self.executor_system), None))
            rows.append(("executor tools JSON", len(json.dumps(self.executor_tools)), None))
        return rows


def preview(arm: Arm, task: Any, ws: Any, *, unsafe_no_sandbox: bool = False) -> Preview:
    models: dict[str, ModelAPI] = {role: UnpluggedModel(cfg.model) for role, cfg in arm.models()}
    agent = assemble(arm, task, ws, models, Recorder("preview"), unsafe_no_sandbox=unsafe_no_sandbox)
    out = Preview(system=agent.system, tools=[t.schema() for t in agent.tools.values()], first_message=task.prompt)
    delegate = next((t for t in agent.tools.values() if isinstance(t, DelegateTool)), None)
    if delegate is not None:
        out.executor_system = delegate.system
        out.executor_tools = [t.schema() for t in delegate.tools]
    return out
