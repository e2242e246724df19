"""CLI commands: store_cmds (filled in by its issue)."""

from orchbench.cli.app import app  # noqa: F401
