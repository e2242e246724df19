"""Streaming versions of the loopback provider servers: a request with `"stream": true` is answered
with server-sent events in the provider's real shapes, billed exactly like the JSON reply.

Anthropic: message_start (prompt-side usage, output 1), content_block_start / _delta / _stop per
block (text in two text_delta pieces, tool input in two input_json_delta pieces), message_delta
(stop reason, cumulative output tokens), message_stop. OpenAI: chat.completion.chunk deltas, a
finish_reason chunk, then (with stream_options.include_usage) a usage chunk, then `[DONE]`.

`hold`: when set, the server sends the first event, then waits for the event to be set before the
rest, so a test can prove a proxy passes the first bytes on before the reply is complete.
`gap_s`: a pause between events (for benchmarks).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes import _http
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.openai_server import FakeOpenAI


def _halves(s: str) -> list[str]:
    mid = len(s) // 2
    return [p for p in (s[:mid], s[mid:]) if p]


def anthropic_events(payload: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    usage = payload["usage"]
    start = {**payload, "content": [], "stop_reason": None,
             "usage": {**usage, "output_tokens": 1}}
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start})]
    for i, block in enumerate(payload["content"]):
        if block["type"] == "text":
            first = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in _halves(block["text"])]
        else:
            first = {**block, "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in _halves(json.dumps(block["input"]))]
        events.append(("content_block_start", {"type": "content_block_start", "index": i, "content_block": first}))
        events += [("content_block_delta", {"type": "content_block_delta", "index": i, "delta": d}) for d in deltas]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
    events.append(("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": payload["stop_reason"], "stop_sequence": None},
                                     "usage": {"output_tokens": usage["output_tokens"]}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def openai_chunks(payload: dict[str, Any], include_usage: bool) -> list[dict[str, Any]]:
    base = {k: payload[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    choice = payload["choices"][0]
    msg = choice["message"]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        out = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}
        return out | ({"usage": None} if include_usage else {})

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": p}) for p in _halves(msg.get("content") or "")]
    for i, tc in enumerate(msg.get("tool_calls") or []):
        chunks.append(chunk({"tool_calls": [{"index": i, "id": tc["id"], "type": "function",
                                             "function": {"name": tc["function"]["name"], "arguments": ""}}]}))
        chunks += [chunk({"tool_calls": [{"index": i, "function": {"arguments": p}}]})
                   for p in _halves(tc["function"]["arguments"])]
    chunks.append(chunk({}, choice["finish_reason"]))
    if include_usage:
        chunks.append({**base, "choices": [], "usage": payload["usage"]})
    return chunks


class _Streaming:
    """Mixed into a fake server: SSE replies to streaming requests."""

    hold: threading.Event | None = None
    gap_s: float = 0.0

    def reply_json(self, body: dict[str, Any], reply: _http.Reply) -> tuple[dict[str, Any], Any]:
        payload, usage = super().reply_json(body, reply)  # type: ignore[misc]
        if body.get("stream"):
            payload["_stream"] = {"include_usage": bool((body.get("stream_options") or {}).get("include_usage"))}
        return payload, usage

    def sse(self, payload: dict[str, Any], opts: dict[str, Any]) -> list[bytes]:
        raise NotImplementedError

    def start(self) -> Any:
        server = _http._Server(("127.0.0.1", 0), _handler(self, _http._make_handler(self)))  # type: ignore[arg-type]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self


def _handler(owner: _Streaming, base: type[BaseHTTPRequestHandler]) -> type[BaseHTTPRequestHandler]:
    class Handler(base):  # type: ignore[valid-type,misc]
        # Streaming servers send each event at once (TCP_NODELAY), as real providers and Ollama do.
        disable_nagle_algorithm = True

        def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            opts = payload.pop("_stream", None) if isinstance(payload, dict) else None
            if opts is None:
                super()._send(status, payload, headers)
                return
            self.send_response(200)
            self.send_header("content-type", "text/event-stream; charset=utf-8")
            self.send_header("transfer-encoding", "chunked")
            self.send_header("cache-control", "no-cache")
            self.end_headers()
            for i, event in enumerate(owner.sse(payload, opts)):
                if i and owner.gap_s:
                    time.sleep(owner.gap_s)
                self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
                self.wfile.flush()
                if i == 0 and owner.hold is not None:
                    owner.hold.wait(timeout=10)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    return Handler


class StreamingAnthropic(_Streaming, FakeAnthropic):
    def sse(self, payload: dict[str, Any], opts: dict[str, Any]) -> list[bytes]:
        return [f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in anthropic_events(payload)]


class StreamingOpenAI(_Streaming, FakeOpenAI):
    def sse(self, payload: dict[str, Any], opts: dict[str, Any]) -> list[bytes]:
        chunks = openai_chunks(payload, opts["include_usage"])
        return [f"data: {json.dumps(c)}\n\n".encode() for c in chunks] + [b"data: [DONE]\n\n"]
