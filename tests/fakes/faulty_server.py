"""A loopback provider that misbehaves on purpose: raw bodies (malformed JSON, invalid usage, a tool
call without an id, no usage), a body trickled one byte at a time, a reply that never comes.

Each POST (any path: it stands in for Anthropic's /v1/messages and OpenAI's /v1/chat/completions)
takes the next step of its script; the last step repeats. Well-formed bodies are built with
`anthropic_message` / `openai_completion` so every fault is one edit away from a valid reply.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass
class Raw:
    """Send `body` as is (status 200 by default): the call is billed whatever the body holds."""

    body: bytes
    status: int = 200


@dataclass
class Trickle:
    """Send valid headers, then the body one byte every `every_s` seconds."""

    body: bytes
    every_s: float = 1.0


@dataclass
class Stall:
    """Read the request, then answer nothing until the server stops."""


Step = Raw | Trickle | Stall
USAGE = {"input_tokens": 1000, "output_tokens": 50, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}


def anthropic_message(content: list[dict[str, Any]], *, usage: Any = USAGE, drop: Sequence[str] = (),
                      model: str = "claude-opus-4-7") -> bytes:
    stop = "tool_use" if any(b.get("type") == "tool_use" for b in content) else "end_turn"
    msg: dict[str, Any] = {"id": "msg_faulty", "type": "message", "role": "assistant", "model": model,
                           "content": content, "stop_reason": stop, "stop_sequence": None, "usage": usage}
    for key in drop:
        msg.pop(key, None)
    return json.dumps(msg).encode()


def openai_completion(message: dict[str, Any], *, usage: Any = None, drop: Sequence[str] = (),
                      model: str = "gpt-5") -> bytes:
    usage = usage if usage is not None else {"prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050}
    body: dict[str, Any] = {
        "id": "chatcmpl-faulty", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", **message},
                     "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}],
        "usage": usage,
    }
    for key in drop:
        body.pop(key, None)
    return json.dumps(body).encode()


class FaultyServer:
    def __init__(self, script: Sequence[Step]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self.answered = 0  # replies whose body was sent whole (billed calls)
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def next_step(self, body: dict[str, Any]) -> Step:
        with self.lock:
            self.requests.append(body)
            return self.script[min(len(self.requests), len(self.script)) - 1]


def _handler(owner: FaultyServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            step = owner.next_step(json.loads(raw or b"{}"))
            if isinstance(step, Stall):
                owner.stopping.wait()
                return
            body = step.body
            self.send_response(step.status if isinstance(step, Raw) else 200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            try:
                if isinstance(step, Trickle):
                    for i in range(len(body)):
                        if owner.stopping.wait(step.every_s):
                            return
                        self.wfile.write(body[i:i + 1])
                        self.wfile.flush()
                else:
                    self.wfile.write(body)
            except OSError:
                return
            with owner.lock:
                owner.answered += 1

    return Handler


def wait_for(predicate: Any, timeout_s: float = 30.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False
