"""Scripted models for real external agents on a task: Claude Code (main agent delegates to a
sub-agent, which edits and tests) and mini-swe-agent (one bash tool, then the submit command).

Which conversation a request belongs to is told from the request alone: a sub-agent's first user
message is the instruction the main agent gave it (both are offered the `Agent` tool); the step is
the number of assistant turns so far. Helper calls (no tools at all) get a short text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.fakes._http import Reply, View

SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"


@dataclass
class ClaudeCodePolicy:
    """Main agent: delegate once with `Agent`, then finish. Sub-agent: run `commands` with `Bash`."""

    commands: list[str]
    instruction: str = "Fix the bug described in the task and run the tests."
    handback: str = "Fixed it: the tests pass."
    final: str = "The fix is in place and the tests pass."
    seen: list[View] = field(default_factory=list)

    def __call__(self, view: View) -> Reply:
        self.seen.append(view)
        if not view.tool_names:
            return Reply([{"type": "text", "text": "ok"}])
        i = view.n_assistant
        if not _first_user_text(view).startswith(self.instruction):
            if i == 0:
                return Reply([{"type": "text", "text": "I will hand this to a sub-agent."},
                              {"type": "tool_use", "id": f"toolu_main_{len(self.seen):03d}", "name": "Agent",
                               "input": {"description": "Fix the bug", "prompt": self.instruction,
                                         "subagent_type": "general-purpose"}}])
            return Reply([{"type": "text", "text": self.final}])
        if i < len(self.commands):
            return Reply([{"type": "tool_use", "id": f"toolu_sub_{len(self.seen):03d}", "name": "Bash",
                           "input": {"command": self.commands[i], "description": "step"}}])
        return Reply([{"type": "text", "text": self.handback}])


def _first_user_text(view: View) -> str:
    for m in view.body.get("messages") or []:
        if m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, str):
                return c.strip()
            texts = [b.get("text", "") for b in c or [] if b.get("type") == "text"]
            # Claude Code puts reminders (<system-reminder>) before the prompt in the same message.
            return next((t.strip() for t in texts if not t.lstrip().startswith("<")), "")
    return ""


@dataclass
class MiniPolicy:
    """mini-swe-agent: one `bash` call per turn (its only tool), the submit command last."""

    commands: list[str]

    def __call__(self, view: View) -> Reply:
        steps = [*self.commands, SUBMIT]
        i = min(view.n_assistant, len(steps) - 1)
        return Reply([{"type": "text", "text": f"Step {i + 1}."},
                      {"type": "tool_use", "id": f"toolu_mini_{i:02d}", "name": "bash",
                       "input": {"command": steps[i]}}])
