"""Scripted models for real external agents on a task: Claude Code (main agent delegates to a
sub-agent, which edits and tests) and mini-swe-agent (one bash tool, then the submit command).

Which conversation a request belongs to is told from the request alone: a sub-agent's first user
message is the instruction the main agent gave it (both are offered the `Agent` tool); the step is
the number of assistant turns so far. Helper calls (no tools at all) get a short text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tests.fakes._http import Reply, View

SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"


@dataclass
class ClaudeCodePolicy:
    """Main agent: delegate once with `Agent`, then finish. Sub-agent: run `commands` with `Bash`, or
    the tool calls of `steps` ((name, input); "{root}" in a string becomes the working directory)."""

    commands: list[str] = field(default_factory=list)
    steps: list[tuple[str, dict[str, Any]]] | None = None
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
        steps = self.steps if self.steps is not None else [
            ("Bash", {"command": c, "description": "step"}) for c in self.commands]
        if i < len(steps):
            name, args = steps[i]
            root = _working_directory(view)
            args = {k: v.replace("{root}", root) if isinstance(v, str) else v for k, v in args.items()}
            return Reply([{"type": "tool_use", "id": f"toolu_sub_{len(self.seen):03d}", "name": name,
                           "input": args}])
        return Reply([{"type": "text", "text": self.handback}])


def claude_code_steps(reference: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    """A task's reference solution (str_replace_editor / bash) as Claude Code's tool calls."""
    out: list[tuple[str, dict[str, Any]]] = []
    for step in reference:
        ref = step.model_dump() if hasattr(step, "model_dump") else dict(step)
        args = ref["input"]
        if ref["tool"] == "bash":
            out.append(("Bash", {"command": args["command"], "description": "check"}))
            continue
        path = "{root}/" + args["path"]
        if args["command"] == "view":
            out.append(("Read", {"file_path": path}))
        elif args["command"] == "create":
            out.append(("Write", {"file_path": path, "content": args["file_text"]}))
        elif args["command"] == "str_replace":
            out += [("Read", {"file_path": path}),  # Claude Code edits only files it has read
                    ("Edit", {"file_path": path, "old_string": args["old_str"], "new_string": args["new_str"]})]
    return out


def _working_directory(view: View) -> str:
    system = view.body.get("system") or ""
    text = system if isinstance(system, str) else "\n".join(b.get("text", "") for b in system)
    m = re.search(r"[Ww]orking directory: (/\S+)", text)
    return m.group(1) if m else "."


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


AIDER_EDIT = ("calc/__init__.py\n```python\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n"
              ">>>>>>> REPLACE\n```\n")


def aider_policy(view: View) -> Reply:
    """aider's architect (the orchestrator model) says what to change; its editor writes the edit block."""
    if "opus" in view.model:
        return Reply([{"type": "text", "text": "In calc/__init__.py, make `add` return `a + b`."}])
    return Reply([{"type": "text", "text": AIDER_EDIT}])
