"""Minimal tools for loop tests that must not depend on the sandbox: a file writer and an echo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchbench.agent.tools import ToolOutput as Out


class WriteTool:
    name = "write_file"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def schema(self) -> dict[str, Any]:
        return {"name": self.name, "description": "write a file",
                "input_schema": {"type": "object", "properties": {"path": {"type": "string"},
                                                                  "text": {"type": "string"}},
                                 "required": ["path", "text"]}}

    def run(self, args: dict[str, Any]) -> Out:
        p = self.root / args["path"]
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(args["text"])
        return Out(f"wrote {args['path']}")


class EchoTool:
    name = "echo"

    def schema(self) -> dict[str, Any]:
        return {"name": self.name, "description": "echo text",
                "input_schema": {"type": "object", "properties": {"text": {"type": "string"}}}}

    def run(self, args: dict[str, Any]) -> Out:
        if args.get("text") == "boom":
            raise RuntimeError("echo exploded")
        return Out(str(args.get("text", "")))
