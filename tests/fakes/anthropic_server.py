"""A loopback server speaking the Anthropic Messages API (POST /v1/messages), for tests.

Usage is billed the way Anthropic bills it, by `orchbench.simulate.billing.PromptCache`: the
request is cut into blocks in prefix order (each tool definition, each system block, each message
content block), a block counts ceil(len(text or json) / 4) tokens, and `cache_control` marks
breakpoints. One cache per model, kept across requests, like the real service.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from typing import Any

from orchbench.errors import UserError
from orchbench.records import Usage
from orchbench.simulate.billing import Block, PromptCache
from tests.fakes._http import FakeServer, Fault, Reply, View

CREDIT_MESSAGE = (
    "Your credit balance is too low to access the Anthropic API. "
    "Please go to Plans & Billing to upgrade or purchase credits."
)

_ERRORS: dict[str, tuple[int, str, str]] = {
    "429": (429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
    "500": (500, "api_error", "Internal server error"),
    "529": (529, "overloaded_error", "Overloaded"),
    "credit": (400, "invalid_request_error", CREDIT_MESSAGE),
    "auth": (401, "authentication_error", "invalid x-api-key"),
    "context": (400, "invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"),
    "400": (400, "invalid_request_error", "bad request"),
}


def tokens_of(s: str) -> int:
    return math.ceil(len(s) / 4)


def _strip(block: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in block.items() if k != "cache_control"}


def _block(kind: str, block: dict[str, Any]) -> Block:
    clean = _strip(block)
    raw = clean["text"] if clean.get("type") == "text" and "text" in clean and kind != "tool" else json.dumps(
        clean, sort_keys=True
    )
    key = hashlib.sha256((kind + "\0" + json.dumps(clean, sort_keys=True)).encode()).hexdigest()
    cc = block.get("cache_control")
    return Block(key=key, tokens=tokens_of(raw), breakpoint=cc is not None,
                 ttl=(cc or {}).get("ttl", "5m"))


def request_blocks(body: dict[str, Any]) -> list[Block]:
    """A Messages request as billing blocks, in Anthropic's prefix order: tools, system, messages."""
    blocks = [_block("tool", t) for t in body.get("tools") or []]
    system = body.get("system")
    if isinstance(system, str) and system:
        blocks.append(_block("system", {"type": "text", "text": system}))
    elif isinstance(system, list):
        blocks += [_block("system", b) for b in system]
    for msg in body.get("messages") or []:
        content = msg.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        blocks += [_block(msg.get("role", "user"), b) for b in content or []]
    return blocks


def output_tokens(content: list[dict[str, Any]]) -> int:
    total = 0
    for b in content:
        if b.get("type") == "text":
            total += tokens_of(b.get("text", ""))
        else:
            total += tokens_of(json.dumps({"name": b.get("name"), "input": b.get("input")}, sort_keys=True))
    return total


def bill_request(cache: PromptCache, body: dict[str, Any], *, now: float) -> Usage:
    """The one place the fake bills a request's prompt side (input / cache_write / cache_read)."""
    return cache.bill(request_blocks(body), now=now)


class FakeAnthropic(FakeServer):
    path = "/v1/messages"

    def __init__(self, *args: Any, min_cacheable: int | None = None, reported_models: dict[str, str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.min_cacheable = min_cacheable
        self.reported_models = reported_models or {}  # alias asked for -> dated id answered, as the real API does
        self.caches: dict[str, PromptCache] = {}
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        return self.root_url  # the SDK appends /v1/messages

    def cache_for(self, model: str) -> PromptCache:
        if model not in self.caches:
            if self.min_cacheable is not None:
                self.caches[model] = PromptCache(min_cacheable=self.min_cacheable)
            else:
                try:
                    self.caches[model] = PromptCache.for_model(model)
                except UserError:
                    self.caches[model] = PromptCache(min_cacheable=1024)
        return self.caches[model]

    def check_auth(self, headers: dict[str, str]) -> Fault | None:
        # Older SDKs send x-api-key, newer ones a bearer token; the real API takes both.
        sent = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
        if self.api_key is not None and sent != self.api_key:
            return Fault("auth")
        return None

    def view(self, body: dict[str, Any]) -> View:
        msgs = body.get("messages") or []
        last = ""
        for m in reversed(msgs):
            if m.get("role") == "user":
                c = m.get("content")
                last = c if isinstance(c, str) else "\n".join(
                    str(b.get("text") or b.get("content") or "") for b in c or []
                )
                break
        return View(
            model=body.get("model", ""),
            tool_names=[t.get("name", "") for t in body.get("tools") or []],
            n_assistant=sum(1 for m in msgs if m.get("role") == "assistant"),
            last_user_text=last,
            body=body,
        )

    def reply_json(self, body: dict[str, Any], reply: Reply) -> tuple[dict[str, Any], Usage]:
        model = body.get("model", "")
        prompt = bill_request(self.cache_for(model), body, now=self.clock())
        out = reply.output_tokens if reply.output_tokens is not None else output_tokens(reply.content)
        usage = prompt + Usage(output=out)
        stop = reply.stop_reason or (
            "tool_use" if any(b.get("type") == "tool_use" for b in reply.content) else "end_turn"
        )
        payload = {
            "id": f"msg_fake{next(self._ids):06d}",
            "type": "message",
            "role": "assistant",
            "model": self.reported_models.get(model, model),
            "content": reply.content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {
                "input_tokens": usage.input,
                "output_tokens": usage.output,
                "cache_creation_input_tokens": usage.cache_write,
                "cache_read_input_tokens": usage.cache_read,
            },
        }
        return payload, usage

    def error_json(self, fault: Fault) -> tuple[int, dict[str, Any], dict[str, str]]:
        status, kind, message = _ERRORS[fault.kind]
        headers = {"request-id": f"req_fake{next(self._ids):06d}"}
        if fault.retry_after is not None:
            headers["retry-after"] = str(fault.retry_after)
        payload = {"type": "error", "error": {"type": kind, "message": fault.message or message},
                   "request_id": headers["request-id"]}
        return status, payload, headers
