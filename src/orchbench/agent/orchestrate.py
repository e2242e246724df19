"""Orchestration: the `delegate_to_executor` tool, which runs an executor loop in the same
workspace and hands back what the arm's return policy says (agent/returns.py)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchbench.agent import prompts
from orchbench.agent.loop import Agent, LoopResult
from orchbench.agent.recorder import DELEGATE, Recorder
from orchbench.agent.returns import (
    ExecutorReport,
    ReturnPolicy,
    diff_files,
    ls_la,
    render,
    snapshot,
    transcript_text,
)
from orchbench.agent.tool import Tool, ToolOutput
from orchbench.models.base import ModelAPI


class DelegateTool:
    name = DELEGATE

    def __init__(self, executor: ModelAPI, tools: list[Tool], *, root: Path, policy: ReturnPolicy,
                 cap: int | None, recorder: Recorder, system: str = prompts.EXECUTOR,
                 judge: Callable[[], str] | None = None, description: str = prompts.DELEGATE_DESCRIPTION,
                 deadline_s: float | None = None) -> None:
        self.executor, self.tools, self.root, self.policy = executor, tools, Path(root), policy
        self.cap, self.recorder, self.system, self.judge = cap, recorder, system, judge
        self.description, self.deadline_s = description, deadline_s
        self.parent: Agent | None = None  # the orchestrator loop, set once it exists
        self.reports: list[ExecutorReport] = []

    def schema(self) -> dict[str, Any]:
        return {
            "name": DELEGATE,
            "description": self.description,
            "input_schema": {
                "type": "object",
                "properties": {"instruction": {"type": "string", "description": "What the executor must do."}},
                "required": ["instruction"],
            },
        }

    def run(self, args: dict[str, Any]) -> ToolOutput:
        instruction = args.get("instruction")
        if not isinstance(instruction, str) or not instruction.strip():
            return ToolOutput(f"{DELEGATE} needs a non-empty string 'instruction'", is_error=True)
        before = snapshot(self.root) if self.policy.needs_snapshot() else None
        turn = self.parent.turn if self.parent else None
        agent = Agent(self.executor, self.tools, system=self.system, cap=self.cap, role="executor",
                      recorder=self.recorder, parent_turn=turn, deadline_s=self.deadline_s)
        t0 = time.monotonic()
        result: LoopResult = agent.run(instruction)
        report = ExecutorReport(
            final_text=result.final_text,
            turns=result.turns,
            outcome=result.outcome,
            transcript=transcript_text(result.messages, result.final_text),
            changes=diff_files(before, snapshot(self.root)) if before is not None else None,
            judge_summary=self.judge() if (self.judge and self.policy.kind == "structured"
                                           and self.policy.judge) else None,
            wall_s=time.monotonic() - t0,
        )
        if self.policy.needs_listing():
            host = getattr(self.executor, "host", None) or socket.gethostname()
            report.banner = f"== executor {self.executor.model} @ {host} =="
            report.listing = ls_la(self.root)
        if report.outcome != "done":  # what the hand-back may not show: the executor's real outcome
            why = f": {report.final_text[:300]}" if report.outcome == "overflow" else ""
            self.recorder.note(f"delegation at orchestrator turn {turn}: executor {report.outcome} after "
                               f"{report.turns} turns, {report.wall_s:.1f} s{why}")
        self.reports.append(report)
        return ToolOutput(render(report, self.policy))


def orchestrator_agent(orchestrator: ModelAPI, executor: ModelAPI, tools: list[Tool], *, root: Path,
                       policy: ReturnPolicy, cap: int, executor_cap: int | None, recorder: Recorder,
                       system: str = prompts.ORCHESTRATOR, executor_system: str = prompts.EXECUTOR,
                       judge: Callable[[], str] | None = None, executor_tools: list[Tool] | None = None,
                       delegate_description: str = prompts.DELEGATE_DESCRIPTION,
                       executor_deadline_s: float | None = None) -> Agent:
    """An orchestrator loop whose tools are `tools` plus delegate_to_executor; the executor gets
    `executor_tools` (default: the same tools)."""
    delegate = DelegateTool(executor, tools if executor_tools is None else executor_tools, root=root,
                            policy=policy, cap=executor_cap, recorder=recorder, system=executor_system,
                            judge=judge, description=delegate_description, deadline_s=executor_deadline_s)
    agent = Agent(orchestrator, [*tools, delegate], system=system, cap=cap, role="orchestrator",
                  recorder=recorder)
    delegate.parent = agent
    return agent
