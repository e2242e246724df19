"""The typer application and the options every command shares."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from orchbench.errors import UserError

app = typer.Typer(
    name="orchbench",
    help="Measure what an LLM coding-agent configuration really costs, under a deterministic judge.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

console = Console()
err_console = Console(stderr=True)

DEFAULT_DB = Path("orchbench.db")
DbOption = Annotated[Path, typer.Option("--db", help="SQLite results store.", envvar="ORCHBENCH_DB")]


def printable(text: object) -> str:
    """Model output made safe for a terminal: control and format characters (ESC sequences that set
    the window title or the clipboard, a carriage return that overwrites a line, bidi overrides)
    shown escaped, e.g. \\x1b; newlines and tabs kept."""
    return "".join(_escape(c) for c in str(text))


def _escape(c: str) -> str:
    if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf"):
        return c
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def cannot_write(flag: str, path: object, exc: OSError) -> UserError:
    return UserError(f"{flag} {path}: cannot write there ({exc.strerror or exc}); pass a writable path")
