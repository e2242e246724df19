"""What a recording proxy reads off the wire: the request's model and tool results, and the reply's
content, usage and stop reason, for the Anthropic Messages API and OpenAI chat completions.

Replies come either as one JSON body or as server-sent events fed in chunks as they pass through
(`Reading.feed`), so nothing is buffered on the way to the client. Usage is the provider's own:
Anthropic's `message_start` usage updated by the cumulative counts of `message_delta`; OpenAI's
`usage` object (the final chunk of a stream). Shapes follow `records.Usage` (input excludes cache).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Literal

from orchbench.models.anthropic_api import usage_from_anthropic
from orchbench.models.openai_api import usage_from_openai
from orchbench.records import Usage

Api = Literal["anthropic", "openai"]


def api_of(path: str) -> Api | None:
    """Which API a request path belongs to (None: forward it, record nothing)."""
    bare = path.split("?", 1)[0].rstrip("/")
    if bare.endswith("/messages"):
        return "anthropic"
    if bare.endswith("/chat/completions"):
        return "openai"
    return None


@dataclass
class Request:
    model: str
    stream: bool
    tool_results: list[dict[str, Any]]  # answers to earlier tool uses, from the last user turn(s)


def read_request(api: Api, body: dict[str, Any]) -> Request:
    msgs = body.get("messages") or []
    results: list[dict[str, Any]] = []
    if api == "anthropic":
        last = msgs[-1] if msgs and msgs[-1].get("role") == "user" else None
        content = last.get("content") if last else None
        for b in content if isinstance(content, list) else []:
            if isinstance(b, dict) and b.get("type") == "tool_result":
                results.append({"tool_use_id": b.get("tool_use_id", ""), "content": _text_of(b.get("content")),
                                "is_error": bool(b.get("is_error"))})
    else:
        for m in reversed(msgs):  # the trailing run of tool messages
            if m.get("role") != "tool":
                break
            results.insert(0, {"tool_use_id": m.get("tool_call_id", ""), "content": _text_of(m.get("content")),
                               "is_error": False})
    return Request(model=str(body.get("model", "")), stream=bool(body.get("stream")), tool_results=results)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) if isinstance(b, dict) else str(b) for b in content)
    return "" if content is None else str(content)


def _anthropic_usage(u: dict[str, Any]) -> Usage:
    return usage_from_anthropic(SimpleNamespace(**u))


def _openai_usage(u: dict[str, Any] | None) -> Usage:
    if not u:
        return Usage()
    details = u.get("prompt_tokens_details") or {}
    ns = SimpleNamespace(prompt_tokens=u.get("prompt_tokens"), completion_tokens=u.get("completion_tokens"),
                         prompt_tokens_details=SimpleNamespace(**details))
    return usage_from_openai(ns)


@dataclass
class Reading:
    """The reply of one call, assembled from a JSON body or from SSE chunks as they stream by."""

    api: Api
    streamed: bool
    model: str = ""
    content: list[dict[str, Any]] = field(default_factory=list)
    usage_fields: dict[str, Any] = field(default_factory=dict)  # Anthropic: merged start + delta usage
    usage: Usage | None = None
    stop_reason: str | None = None
    error: str | None = None
    complete: bool = False  # the stream's last event (message_stop / [DONE]) has been read
    _buf: bytes = b""
    _event_lines: list[str] = field(default_factory=list)
    _partial: dict[int, str] = field(default_factory=dict)  # tool input JSON / OpenAI arguments by index
    _body: bytearray = field(default_factory=bytearray)

    # -- feeding ----------------------------------------------------------------------------------
    def feed(self, chunk: bytes) -> None:
        if not self.streamed:
            self._body += chunk
            return
        self._buf += chunk
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            text = line.decode("utf-8", "replace").rstrip("\r")
            if text:
                self._event_lines.append(text)
            elif self._event_lines:
                self._dispatch(self._event_lines)
                self._event_lines = []

    def close(self, status: int) -> None:
        if self.streamed and self._event_lines:
            self._dispatch(self._event_lines)
        if status >= 400:
            self.error = f"HTTP {status}: {bytes(self._body or self._buf)[:300].decode('utf-8', 'replace')}"
            return
        if not self.streamed:
            try:
                self._whole(json.loads(bytes(self._body) or b"{}"))
            except json.JSONDecodeError:
                self.error = "reply is not JSON"
        self._finish()

    def _dispatch(self, lines: list[str]) -> None:
        data = "\n".join(line[5:].lstrip(" ") for line in lines if line.startswith("data:"))
        if data == "[DONE]":
            self.complete = True
        if not data or data == "[DONE]":
            return
        try:
            event = json.loads(data)
        except json.JSONDecodeError:
            return
        if self.api == "anthropic":
            self._anthropic_event(event)
        else:
            self._openai_chunk(event)

    # -- Anthropic ----------------------------------------------------------------------------------
    def _anthropic_event(self, ev: dict[str, Any]) -> None:
        kind = ev.get("type")
        if kind == "message_start":
            msg = ev.get("message") or {}
            self.model = msg.get("model", self.model)
            self.usage_fields.update(msg.get("usage") or {})
        elif kind == "content_block_start":
            block = dict(ev.get("content_block") or {})
            self.content.append(block)
            self._partial[len(self.content) - 1] = ""
        elif kind == "content_block_delta" and self.content:
            i = min(int(ev.get("index", len(self.content) - 1)), len(self.content) - 1)
            delta = ev.get("delta") or {}
            if delta.get("type") == "text_delta":
                self.content[i]["text"] = self.content[i].get("text", "") + delta.get("text", "")
            elif delta.get("type") == "input_json_delta":
                self._partial[i] = self._partial.get(i, "") + delta.get("partial_json", "")
        elif kind == "message_delta":
            self.stop_reason = (ev.get("delta") or {}).get("stop_reason", self.stop_reason)
            # Counts here are cumulative: they replace those of message_start.
            self.usage_fields.update({k: v for k, v in (ev.get("usage") or {}).items() if v is not None})
        elif kind == "message_stop":
            self.complete = True
        elif kind == "error":
            self.error = json.dumps(ev.get("error") or ev)[:300]

    # -- OpenAI -----------------------------------------------------------------------------------
    def _openai_chunk(self, ch: dict[str, Any]) -> None:
        self.model = ch.get("model") or self.model
        if ch.get("usage"):
            self.usage = _openai_usage(ch["usage"])
        for choice in ch.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("content"):
                if not self.content or self.content[0].get("type") != "text":
                    self.content.insert(0, {"type": "text", "text": ""})
                self.content[0]["text"] += delta["content"]
            for tc in delta.get("tool_calls") or []:
                self._openai_tool_delta(tc)
            if choice.get("finish_reason"):
                self.stop_reason = choice["finish_reason"]

    def _openai_tool_delta(self, tc: dict[str, Any]) -> None:
        key = 1000 + int(tc.get("index", 0))
        fn = tc.get("function") or {}
        if key not in self._partial:
            self.content.append({"type": "tool_use", "id": tc.get("id", ""), "name": fn.get("name", ""),
                                 "input": {}, "_key": key})
            self._partial[key] = ""
        self._partial[key] += fn.get("arguments") or ""

    # -- both -------------------------------------------------------------------------------------
    def _whole(self, body: dict[str, Any]) -> None:
        self.model = body.get("model", self.model)
        if self.api == "anthropic":
            self.content = list(body.get("content") or [])
            self.stop_reason = body.get("stop_reason")
            self.usage_fields = dict(body.get("usage") or {})
            return
        self.usage = _openai_usage(body.get("usage"))
        choice = (body.get("choices") or [{}])[0]
        msg = choice.get("message") or {}
        self.stop_reason = choice.get("finish_reason")
        if msg.get("content"):
            self.content.append({"type": "text", "text": msg["content"]})
        for i, tc in enumerate(msg.get("tool_calls") or []):
            fn = tc.get("function") or {}
            self.content.append({"type": "tool_use", "id": tc.get("id", ""), "name": fn.get("name", ""),
                                 "input": {}, "_key": 1000 + i})
            self._partial[1000 + i] = fn.get("arguments") or ""

    def _finish(self) -> None:
        for i, block in enumerate(self.content):
            key = block.pop("_key", i)
            raw = self._partial.get(key)
            if block.get("type") == "tool_use" and raw:
                try:
                    block["input"] = json.loads(raw)
                except json.JSONDecodeError:
                    block["input"] = {"_unparsed_arguments": raw}
        if self.api == "anthropic" and self.usage_fields:
            self.usage = _anthropic_usage(self.usage_fields)
        if self.usage is None and self.error is None:
            self.error = "the reply carried no usage"  # e.g. an OpenAI stream without include_usage

    @property
    def tool_names(self) -> list[str]:
        return [b.get("name", "") for b in self.content if b.get("type") == "tool_use"]
