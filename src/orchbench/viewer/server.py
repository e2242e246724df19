"""`orchbench view`: a local, read-only web server over a results store.

Stdlib `ThreadingHTTPServer`: a JSON API under /api/ and one single-page app (static files shipped
in the package, Chart.js vendored) whose path routes carry the ids, so a URL can be shared:

    /                                   experiments
    /e/<experiment>                     cell grid (arm x task) and Pareto charts
    /e/<experiment>/cell/<arm>/<task>   the cell's trials
    /t/<trial id>                       the trial's transcript

Only GET and HEAD exist; the store is opened with `mode=ro`, so nothing here can write to it.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import socket
import sqlite3
import sys
import threading
import urllib.parse
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

from orchbench.viewer import queries
from orchbench.viewer.db import VersionWatch, check_store, connect
from orchbench.viewer.grid import GridCache
from orchbench.viewer.transcript import build_transcript

log = logging.getLogger(__name__)
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
STATIC_DIR = Path(str(resources.files("orchbench") / "viewer" / "static"))


class NotFound(Exception):
    pass


class ViewerServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, db: Path, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True) -> None:
        self.db = check_store(db)
        self.watch = VersionWatch(self.db)
        self.grids = GridCache()
        self.quiet = quiet
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}/" if ":" not in host else f"http://[{host}]:{port}/"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A browser closing a kept-alive connection is routine, not an error worth a traceback.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def server_close(self) -> None:
        super().server_close()
        self.watch.close()

    # --- the JSON API: each returns a JSON-able object or raises NotFound -----------------------
    def api(self, parts: list[str], query: dict[str, list[str]]) -> Any:
        if parts == ["version"]:
            return {"version": self.watch.version(), "db": str(self.db)}
        with connect(self.db) as conn:
            if parts == ["experiments"]:
                return {"experiments": queries.experiments(conn)}
            if len(parts) >= 2 and parts[0] == "experiments":
                exp = parts[1]
                info = queries.experiment(conn, exp)
                if info is None:
                    raise NotFound(f"no experiment {exp!r} in this store")
                if len(parts) == 3 and parts[2] == "grid":
                    return {"experiment": info, **self.grids.get(conn, exp, self.watch.version())}
                if len(parts) == 5 and parts[2] == "cells":
                    arm, task = parts[3], parts[4]
                    trials = queries.cell_trials(conn, exp, arm, task)
                    if not trials:
                        raise NotFound(f"no trials of arm {arm!r} on task {task!r} in {exp!r}")
                    cell = self.grids.get(conn, exp, self.watch.version())
                    match = [c for c in cell["analysis"]["cells"] if c["arm"] == arm and c["task"] == task]
                    return {"experiment": info, "arm": arm, "task": task,
                            "cell": match[0] if match else None, "trials": trials}
                if len(parts) == 2:
                    return {"experiment": info}
            if len(parts) == 2 and parts[0] == "trials":
                trial = queries.trial(conn, parts[1])
                if trial is None:
                    raise NotFound(f"no trial {parts[1]!r} in this store")
                calls = queries.trial_calls(conn, parts[1])
                return {"trial": trial, "transcript": build_transcript(calls)}
        raise NotFound("no such API endpoint")

    def page_exists(self, parts: list[str]) -> bool:
        """Whether a page route names things that exist (a missing one is served with status 404)."""
        with connect(self.db) as conn:
            if parts[0] == "t" and len(parts) == 2:
                return queries.trial(conn, parts[1]) is not None
            if parts[0] == "e" and len(parts) == 2:
                return queries.experiment(conn, parts[1]) is not None
            if parts[0] == "e" and len(parts) == 5 and parts[2] == "cell":
                return bool(queries.cell_exists(conn, parts[1], parts[3], parts[4]))
        return False


class Handler(BaseHTTPRequestHandler):
    server: ViewerServer
    protocol_version = "HTTP/1.1"
    server_version = "orchbench-view"

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            super().log_message(format, *args)

    def do_HEAD(self) -> None:
        self._handle(head=True)

    def do_GET(self) -> None:
        self._handle(head=False)

    def _refuse(self) -> None:
        # The request body is never read, so the connection cannot carry another request.
        self.close_connection = True
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, b'{"error": "the viewer is read-only"}',
                   "application/json", extra={"Allow": "GET, HEAD", "Connection": "close"})

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse

    def _host_allowed(self) -> bool:
        """On loopback, only loopback names: a web page elsewhere cannot read the store through a
        DNS-rebinding name that resolves to 127.0.0.1."""
        if self.server.server_address[0] not in LOOPBACK:
            return True
        host = (self.headers.get("Host") or "").strip().lower()
        name = host.rsplit("]", 1)[0].lstrip("[") if host.startswith("[") else host.split(":", 1)[0]
        return name in LOOPBACK

    def _handle(self, *, head: bool) -> None:
        if not self._host_allowed():
            self._send(HTTPStatus.FORBIDDEN, b'{"error": "Host not allowed: use 127.0.0.1 or localhost"}',
                       "application/json", head=head)
            return
        url = urllib.parse.urlsplit(self.path)
        parts = [urllib.parse.unquote(p) for p in url.path.split("/") if p]
        try:
            if parts[:1] == ["api"]:
                self._json(HTTPStatus.OK, self.server.api(parts[1:], urllib.parse.parse_qs(url.query)), head)
            elif parts[:1] == ["static"]:
                self._static(parts[1:], head)
            elif not parts or parts[0] in ("e", "t"):
                ok = not parts or self.server.page_exists(parts)
                self._static(["index.html"], head, status=HTTPStatus.OK if ok else HTTPStatus.NOT_FOUND)
            else:
                self._static(["index.html"], head, status=HTTPStatus.NOT_FOUND)
        except NotFound as exc:
            self._json(HTTPStatus.NOT_FOUND, {"error": str(exc)}, head)
        except sqlite3.Error as exc:
            # A store mid-write or damaged: say so and keep serving.
            self._json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": f"store not readable right now: {exc}"}, head)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:  # one bad request must not take the server down
            log.exception("viewer request failed: %s", self.path)
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{type(exc).__name__}: {exc}"}, head)

    def _json(self, status: HTTPStatus, obj: Any, head: bool) -> None:
        body = json.dumps(obj, default=str, allow_nan=False).encode()
        self._send(status, body, "application/json", head=head, extra={"Cache-Control": "no-store"})

    def _static(self, parts: list[str], head: bool, status: HTTPStatus = HTTPStatus.OK) -> None:
        root = STATIC_DIR.resolve()
        path = root.joinpath(*parts).resolve() if parts else root
        if not path.is_relative_to(root) or not path.is_file():
            raise NotFound("no such file")
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype.endswith("javascript"):
            ctype += "; charset=utf-8"
        self._send(status, path.read_bytes(), ctype, head=head)

    def _send(self, status: HTTPStatus, body: bytes, ctype: str, *, head: bool = False,
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(body)


def start_in_thread(db: Path, host: str = "127.0.0.1", port: int = 0) -> tuple[ViewerServer, threading.Thread]:
    """A running server on a background thread (tests, benchmarks, notebooks); stop with `stop()`."""
    server = ViewerServer(db, host, port)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="orchbench-view", daemon=True)
    thread.start()
    return server, thread


def stop(server: ViewerServer, thread: threading.Thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def serve(db: Path, host: str = "127.0.0.1", port: int = 8765, *,
          on_ready: Callable[[str], None] | None = None, quiet: bool = True) -> None:
    """Serve until interrupted."""
    server = ViewerServer(db, host, port, quiet=quiet)
    if on_ready is not None:
        on_ready(server.url)
    try:
        server.serve_forever()
    finally:
        server.server_close()
