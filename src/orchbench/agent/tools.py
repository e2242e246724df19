"""The agent's tools and the tool profiles an arm chooses from.

What a tool is lives in agent/tool.py. The file tools live in agent/editor.py (they run
in our process, confined to the workspace), bash in agent/bash.py (sandboxed). A profile names
the set a role gets:

| profile | tools |
|---|---|
| `orchbench` | str_replace_editor (paged views, snippets), bash (`command`) |
| `paper` | str_replace_editor and bash as the paper's harness ran them (8,000-char views, `cmd`, `[exit=N]`) |
| `paper-files` | the paper's editor and glob: file tools only, no shell and so no `judge` (arm B's executor) |
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from orchbench.agent.bash import BashTool
from orchbench.agent.editor import EditorTool, GlobTool
from orchbench.agent.tool import (
    BASH_OUTPUT_CHARS,
    Style,
    Tool,
    ToolError,
    ToolOutput,
    cut_head_tail,
    cut_middle,
)

Profile = Literal["orchbench", "paper", "paper-files"]
PROFILES: tuple[str, ...] = ("orchbench", "paper", "paper-files")


def make_tools(profile: str, ws: Any, *, unsafe_no_sandbox: bool = False) -> list[Tool]:
    """The tools of `profile` in workspace `ws` (a Workspace, or a bare directory for tests)."""
    root = Path(ws.root if hasattr(ws, "root") else ws)
    if profile == "orchbench":
        return [EditorTool(root), BashTool(ws, unsafe_no_sandbox=unsafe_no_sandbox)]
    if profile == "paper":
        return [EditorTool(root, style="paper"), BashTool(ws, unsafe_no_sandbox=unsafe_no_sandbox, style="paper")]
    if profile == "paper-files":
        return [EditorTool(root, style="paper"), GlobTool(root)]
    from orchbench.errors import UserError

    raise UserError(f"unknown tool profile {profile!r}; use one of {', '.join(PROFILES)}")



__all__ = ["BASH_OUTPUT_CHARS", "PROFILES", "BashTool", "EditorTool", "GlobTool", "Profile", "Style", "Tool",
           "ToolError", "ToolOutput", "cut_head_tail", "cut_middle", "make_tools"]
