"""The common core of the loopback provider servers: threading, scripts, faults, recording.

A server answers each request with the next *step* of its script (or what its policy returns):
a `Reply` (Anthropic-shaped content blocks; the OpenAI server translates) or a `Fault`.
Every request is recorded, every successful reply's billed usage too, so tests can compare what
the harness stored with what the server charged.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from orchbench.records import Usage


@dataclass
class Reply:
    content: list[dict[str, Any]]
    stop_reason: str | None = None  # default: tool_use if any tool_use block, else end_turn
    delay_s: float = 0.0
    output_tokens: int | None = None  # default: ceil(len(text or json) / 4) per block


@dataclass
class Fault:
    """An error reply. kind: 429 | 500 | 529 | drop | credit | auth | context | 400."""

    kind: str
    retry_after: float | None = None
    message: str | None = None
    delay_s: float = 0.0


def text(t: str) -> Reply:
    return Reply([{"type": "text", "text": t}])


def tool_use(name: str, input: dict[str, Any], id: str = "toolu_01") -> Reply:
    return Reply([{"type": "tool_use", "id": id, "name": name, "input": input}])


@dataclass
class View:
    """A provider-neutral look at a request, for policies."""

    model: str
    tool_names: list[str]
    n_assistant: int  # assistant turns so far in this conversation
    last_user_text: str
    body: dict[str, Any]


Step = Reply | Fault | str
Policy = Callable[[View], Step]


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float


@dataclass
class _State:
    script: list[Step] = field(default_factory=list)
    policy: Policy | None = None
    requests: list[Recorded] = field(default_factory=list)
    billed: list[Usage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is part of the tests (slow replies), not an error.
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class FakeServer:
    """Subclasses set `path` and implement view(), reply_json(), error_json(), check_auth()."""

    path = "/"

    def __init__(self, script: Sequence[Step] | None = None, *, policy: Policy | None = None,
                 api_key: str | None = None, clock: Callable[[], float] = time.time) -> None:
        self.state = _State(script=list(script or []), policy=policy)
        self.api_key = api_key
        self.clock = clock
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FakeServer:
        server = _Server(("127.0.0.1", 0), _make_handler(self))
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- recorded ------------------------------------------------------------------------------
    @property
    def requests(self) -> list[Recorded]:
        return self.state.requests

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [r.body for r in self.state.requests]

    @property
    def billed(self) -> list[Usage]:
        return self.state.billed

    def push(self, *steps: Step) -> None:
        with self.state.lock:
            self.state.script.extend(steps)

    # -- per request ---------------------------------------------------------------------------
    def next_step(self, body: dict[str, Any]) -> Step:
        with self.state.lock:
            if self.state.script:
                return self.state.script.pop(0)
        if self.state.policy is not None:
            return self.state.policy(self.view(body))
        return Fault("500", message="fake server: script exhausted and no policy")

    # subclass hooks
    def view(self, body: dict[str, Any]) -> View:
        raise NotImplementedError

    def reply_json(self, body: dict[str, Any], reply: Reply) -> tuple[dict[str, Any], Usage]:
        raise NotImplementedError

    def error_json(self, fault: Fault) -> tuple[int, dict[str, Any], dict[str, str]]:
        raise NotImplementedError

    def check_auth(self, headers: dict[str, str]) -> Fault | None:
        return None

    def route(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        """Answer a request to another path than `path` (metadata endpoints), or None for a 404."""
        return None


def _make_handler(owner: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            answer = owner.route("GET", self.path.split("?")[0], {})
            if answer is None:
                self._send(404, {"error": {"type": "not_found_error", "message": f"no route {self.path}"}})
                return
            self._send(*answer)

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                self._send(400, {"error": {"message": "invalid JSON body"}})
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            with owner.state.lock:
                owner.state.requests.append(Recorded(self.path, headers, body, owner.clock()))
            if self.path.split("?")[0] != owner.path:
                answer = owner.route("POST", self.path.split("?")[0], body)
                if answer is not None:
                    self._send(*answer)
                    return
                self._send(404, {"error": {"type": "not_found_error", "message": f"no route {self.path}"}})
                return
            step: Step | None = owner.check_auth(headers)
            if step is None:
                step = owner.next_step(body)
            if isinstance(step, str):
                step = text(step)
            if step.delay_s:
                time.sleep(step.delay_s)
            if isinstance(step, Fault) and step.kind == "drop":
                # Close without a response: the client sees a dropped connection.
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if isinstance(step, Fault):
                status, payload, extra = owner.error_json(step)
                self._send(status, payload, extra)
                return
            with owner.state.lock:
                payload, usage = owner.reply_json(body, step)
                owner.state.billed.append(usage)
            self._send(200, payload)

    return Handler
