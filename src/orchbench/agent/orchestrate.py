"""Orchestration: the `delegate_to_executor` tool, which runs an executor loop in the same
workspace and hands back what the arm's return policy says (agent/returns.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchbench.agent import prompts
from orchbench.agent.loop import Agent, LoopResult, ToolLike
from orchbench.agent.recorder import DELEGATE, Recorder
from orchbench.agent.returns import (
    ExecutorReport,
    ReturnPolicy,
    diff_files,
    render,
    snapshot,
    transcript_text,
)
from orchbench.models.base import ModelAPI


@dataclass
class Handback:
    text: str
    is_error: bool = False


class DelegateTool:
    name = DELEGATE

    def __init__(self, executor: ModelAPI, tools: list[ToolLike], *, root: Path, policy: ReturnPolicy,
                 cap: int, recorder: Recorder, system: str = prompts.EXECUTOR,
                 judge: Callable[[], str] | None = None) -> None:
        self.executor, self.tools, self.root, self.policy = executor, tools, Path(root), policy
        self.cap, self.recorder, self.system, self.judge = cap, recorder, system, judge
        self.parent: Agent | None = None  # the orchestrator loop, set once it exists
        self.reports: list[ExecutorReport] = []

    def schema(self) -> dict[str, Any]:
        return {
            "name": DELEGATE,
            "description": prompts.DELEGATE_DESCRIPTION,
            "input_schema": {
                "type": "object",
                "properties": {"instruction": {"type": "string", "description": "What the executor must do."}},
                "required": ["instruction"],
            },
        }

    def run(self, args: dict[str, Any]) -> Handback:
        instruction = args.get("instruction")
        if not isinstance(instruction, str) or not instruction.strip():
            return Handback("delegate_to_executor needs a non-empty string 'instruction'", is_error=True)
        before = snapshot(self.root) if self.policy.needs_snapshot() else None
        agent = Agent(self.executor, self.tools, system=self.system, cap=self.cap, role="executor",
                      recorder=self.recorder, parent_turn=self.parent.turn if self.parent else None)
        result: LoopResult = agent.run(instruction)
        report = ExecutorReport(
            final_text=result.final_text or ("(turn cap reached)" if result.outcome == "cap" else ""),
            turns=result.turns,
            outcome=result.outcome,
            transcript=transcript_text(result.messages, result.final_text),
            changes=diff_files(before, snapshot(self.root)) if before is not None else None,
            judge_summary=self.judge() if (self.judge and self.policy.kind == "structured"
                                           and self.policy.judge) else None,
        )
        self.reports.append(report)
        return Handback(render(report, self.policy))


def orchestrator_agent(orchestrator: ModelAPI, executor: ModelAPI, tools: list[ToolLike], *, root: Path,
                       policy: ReturnPolicy, cap: int, executor_cap: int, recorder: Recorder,
                       system: str = prompts.ORCHESTRATOR, executor_system: str = prompts.EXECUTOR,
                       judge: Callable[[], str] | None = None) -> Agent:
    """An orchestrator loop whose tools are `tools` plus delegate_to_executor."""
    delegate = DelegateTool(executor, tools, root=root, policy=policy, cap=executor_cap, recorder=recorder,
                            system=executor_system, judge=judge)
    agent = Agent(orchestrator, [*tools, delegate], system=system, cap=cap, role="orchestrator",
                  recorder=recorder)
    delegate.parent = agent
    return agent
