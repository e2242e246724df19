"""The agent's tools: what every tool is (a schema and a `run` that returns a ToolOutput), and the
tool profiles an arm chooses from.

Tools speak Anthropic's tool-definition format. The file tools live in agent/editor.py (they run
in our process, confined to the workspace), bash in agent/bash.py (sandboxed). A profile names
the set a role gets:

| profile | tools |
|---|---|
| `orchbench` | str_replace_editor (paged views, snippets), bash (`command`) |
| `paper` | str_replace_editor and bash as the paper's harness ran them (8,000-char views, `cmd`, `[exit=N]`) |
| `paper-files` | the paper's editor and glob: file tools only, no shell and so no `judge` (arm B's executor) |
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

Style = Literal["orchbench", "paper"]
Profile = Literal["orchbench", "paper", "paper-files"]
PROFILES: tuple[str, ...] = ("orchbench", "paper", "paper-files")
BASH_OUTPUT_CHARS = 8000


@dataclass
class ToolOutput:
    """What a tool answers: the text the model reads, and whether it is an error result."""

    text: str
    is_error: bool = False


class Tool(Protocol):
    name: str

    def schema(self) -> dict[str, Any]: ...

    def run(self, args: dict[str, Any]) -> ToolOutput: ...


class ToolError(Exception):
    """A mistake in the tool call: reported to the model as an error result, never raised further."""


def cut_middle(text: str, limit: int) -> str:
    """Head and tail of `text` with a marker saying how much was cut, when it exceeds `limit`."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} chars cut ...]\n{text[-half:]}"


def cut_head_tail(head: str, tail: str, total: int) -> str:
    """A text of `total` characters shown as its `head` and `tail` with a marker between."""
    return f"{head}\n[... {total - len(head) - len(tail):,} characters cut ...]\n{tail}"


def make_tools(profile: str, ws: Any, *, unsafe_no_sandbox: bool = False) -> list[Tool]:
    """The tools of `profile` in workspace `ws` (a Workspace, or a bare directory for tests)."""
    from orchbench.agent.bash import BashTool
    from orchbench.agent.editor import EditorTool, GlobTool

    root = Path(ws.root if hasattr(ws, "root") else ws)
    if profile == "orchbench":
        return [EditorTool(root), BashTool(ws, unsafe_no_sandbox=unsafe_no_sandbox)]
    if profile == "paper":
        return [EditorTool(root, style="paper"), BashTool(ws, unsafe_no_sandbox=unsafe_no_sandbox, style="paper")]
    if profile == "paper-files":
        return [EditorTool(root, style="paper"), GlobTool(root)]
    from orchbench.errors import UserError

    raise UserError(f"unknown tool profile {profile!r}; use one of {', '.join(PROFILES)}")


# The tool classes, for `from orchbench.agent.tools import EditorTool, BashTool`.
from orchbench.agent.bash import BashTool
from orchbench.agent.editor import EditorTool, GlobTool

__all__ = ["BashTool", "EditorTool", "GlobTool", "Tool", "ToolError", "ToolOutput", "cut_head_tail",
           "cut_middle", "make_tools"]
