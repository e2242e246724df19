"""CLI command: `orchbench view`, a local read-only web viewer over a results store."""

from __future__ import annotations

import errno
import socket
from typing import Annotated

import typer

from orchbench.cli.app import DEFAULT_DB, DbOption, app, console
from orchbench.errors import UserError


@app.command()
def view(
    db: DbOption = DEFAULT_DB,
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: any free port).")] = 8765,
    host: Annotated[str, typer.Option("--host", help="Address to bind; loopback unless you mean to share.")]
    = "127.0.0.1",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every request.")] = False,
) -> None:
    """Browse experiments, cells and trial transcripts in a local web page (never writes to the store)."""
    from orchbench.viewer.server import serve

    if not 0 <= port <= 65535:
        raise UserError(f"--port {port}: not a port number; pass 0..65535")
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"[yellow]warning:[/] binding {host}: anyone who can reach it can read this store",
                      highlight=False)
    try:
        serve(db, host, port, quiet=not verbose,
              on_ready=lambda url: console.print(f"orchbench view: serving {db} at {url} (Ctrl-C to stop)",
                                                 highlight=False, soft_wrap=True))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UserError(f"--port {port}: already in use on {host}; pass another --port (or 0)") from None
        if isinstance(exc, socket.gaierror) or exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
            raise UserError(f"--host {host}: cannot bind ({exc.strerror or exc}); pass a local address") from None
        raise
