"""CLI commands: judge (filled in by its issue)."""

from orchbench.cli.app import app  # noqa: F401
