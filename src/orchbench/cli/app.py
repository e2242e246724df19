"""The typer application and the options every command shares."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

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
