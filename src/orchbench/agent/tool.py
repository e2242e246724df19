"""What every agent tool is: a schema in Anthropic's tool-definition format and a `run` that
returns a ToolOutput; and the cutting rules tool results share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

Style = Literal["orchbench", "paper"]  # how a tool shows its results (agent/tools.py: profiles)
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
