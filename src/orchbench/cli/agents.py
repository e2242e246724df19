"""CLI commands: `orchbench agents list | install` (external agents in orchbench's cache)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from orchbench.cli.app import app, console

agents_app = typer.Typer(help="External agents run as arms (Claude Code, mini-swe-agent): install, list.",
                         no_args_is_help=True)
app.add_typer(agents_app, name="agents")


@agents_app.command("list")
def list_cmd() -> None:
    """The agents orchbench can install, their pinned versions, and which are installed."""
    from orchbench.agent.install import list_installed
    from orchbench.external_arm import load_preset, preset_names

    arms: dict[str, list[str]] = {}
    for name in preset_names():
        agent = load_preset(name).agent
        if agent:
            arms.setdefault(agent, []).append(name)
    table = Table("agent", "version", "from", "installed", "arms")
    for r, got in list_installed():
        source = f"npm {r.npm}" if r.npm else f"PyPI {r.pypi}"
        table.add_row(r.name, r.version, source, str(got.bin_dir) if got else "no",
                      ", ".join(arms.get(r.name, [])) or "-")
    console.print(table)


@agents_app.command("install")
def install_cmd(
    names: Annotated[list[str], typer.Argument(help="Agents of `orchbench agents list`.")],
) -> None:
    """Install agents at their pinned versions into orchbench's cache (npm, or uv into a venv of their own)."""
    from orchbench.agent.install import install, recipe

    for name in names:
        recipe(name)  # every name checked before anything is installed
    for name in names:
        got = install(name, log=lambda line: console.print(line, highlight=False, markup=False))
        console.print(f"{got.label} installed: {got.bin_dir}", highlight=False)
