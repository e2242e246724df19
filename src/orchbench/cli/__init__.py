"""`orchbench` command line: a thin shell over functions a notebook can call.

Each command group lives in its own module and registers itself on the shared `app`; this module
imports them and turns a UserError into one line on stderr (with how to fix it, `hints`) and
exit code 2.
"""

from __future__ import annotations

import sys

# Importing a module registers its commands.
from orchbench.cli import agents, analysis, batch, judge, run, simulate, store_cmds, tasks, view  # noqa: F401
from orchbench.cli import plan as _plan  # noqa: F401
from orchbench.cli.app import app, err_console
from orchbench.cli.hints import cli_message
from orchbench.errors import UserError


def main() -> None:
    try:
        app()
    except UserError as exc:
        err_console.print(f"orchbench: error: {cli_message(exc)}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("orchbench: interrupted", highlight=False)
        sys.exit(130)


__all__ = ["app", "main"]
