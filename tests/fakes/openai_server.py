"""A loopback server speaking OpenAI chat completions (POST /v1/chat/completions), for tests.

Scripts use the same Anthropic-shaped `Reply` content as the Anthropic fake; the server answers
with `message.content` / `tool_calls`. Prompt caching is automatic, as on OpenAI: the whole prompt
is one cacheable prefix (one block per tool and per message, a breakpoint on the last one) billed
by PromptCache, and cache hits are reported as `prompt_tokens_details.cached_tokens`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any

from orchbench.records import Usage
from orchbench.simulate.billing import Block, PromptCache
from tests.fakes._http import FakeServer, Fault, Reply, View
from tests.fakes.anthropic_server import output_tokens, tokens_of

_ERRORS: dict[str, tuple[int, str, str | None, str]] = {
    "429": (429, "requests", "rate_limit_exceeded", "Rate limit reached for requests"),
    "500": (500, "server_error", None, "The server had an error while processing your request."),
    "529": (503, "server_error", None, "The engine is currently overloaded, please try again later"),
    "credit": (429, "insufficient_quota", "insufficient_quota",
               "You exceeded your current quota, please check your plan and billing details."),
    "auth": (401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided"),
    "context": (400, "invalid_request_error", "context_length_exceeded",
                "This model's maximum context length is 8192 tokens."),
    "400": (400, "invalid_request_error", None, "bad request"),
}


def request_blocks(body: dict[str, Any]) -> list[Block]:
    items = [("tool", t) for t in body.get("tools") or []] + [("msg", m) for m in body.get("messages") or []]
    blocks = []
    for i, (kind, item) in enumerate(items):
        raw = json.dumps(item, sort_keys=True)
        key = hashlib.sha256((kind + "\0" + raw).encode()).hexdigest()
        blocks.append(Block(key=key, tokens=tokens_of(raw), breakpoint=i == len(items) - 1))
    return blocks


class FakeOpenAI(FakeServer):
    path = "/v1/chat/completions"

    def __init__(self, *args: Any, min_cacheable: int = 1024, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.caches: dict[str, PromptCache] = {}
        self.min_cacheable = min_cacheable
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        return self.root_url + "/v1"  # the SDK appends /chat/completions

    def check_auth(self, headers: dict[str, str]) -> Fault | None:
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            return Fault("auth")
        return None

    def view(self, body: dict[str, Any]) -> View:
        msgs = body.get("messages") or []
        last = ""
        for m in reversed(msgs):
            if m.get("role") in ("user", "tool"):
                last = str(m.get("content") or "")
                break
        return View(
            model=body.get("model", ""),
            tool_names=[t.get("function", {}).get("name", "") for t in body.get("tools") or []],
            n_assistant=sum(1 for m in msgs if m.get("role") == "assistant"),
            last_user_text=last,
            body=body,
        )

    def reply_json(self, body: dict[str, Any], reply: Reply) -> tuple[dict[str, Any], Usage]:
        model = body.get("model", "")
        cache = self.caches.setdefault(model, PromptCache(min_cacheable=self.min_cacheable))
        billed = cache.bill(request_blocks(body), now=self.clock())
        prompt_tokens = billed.input + billed.cache_write + billed.cache_read
        out = reply.output_tokens if reply.output_tokens is not None else output_tokens(reply.content)
        texts = [b["text"] for b in reply.content if b.get("type") == "text"]
        calls = [
            {"id": b["id"], "type": "function",
             "function": {"name": b["name"], "arguments": json.dumps(b.get("input") or {})}}
            for b in reply.content if b.get("type") == "tool_use"
        ]
        message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
        if calls:
            message["tool_calls"] = calls
        finish = {"tool_use": "tool_calls", "end_turn": "stop", "max_tokens": "length"}.get(
            reply.stop_reason or "", "tool_calls" if calls else "stop")
        payload = {
            "id": f"chatcmpl-fake{next(self._ids):06d}",
            "object": "chat.completion",
            "created": int(self.clock()),
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": out,
                "total_tokens": prompt_tokens + out,
                "prompt_tokens_details": {"cached_tokens": billed.cache_read},
            },
        }
        # What orchbench should record: cached tokens are cache reads, the rest plain input.
        return payload, Usage(input=prompt_tokens - billed.cache_read, output=out, cache_read=billed.cache_read)

    def error_json(self, fault: Fault) -> tuple[int, dict[str, Any], dict[str, str]]:
        status, kind, code, message = _ERRORS[fault.kind]
        headers: dict[str, str] = {}
        if fault.retry_after is not None:
            headers["retry-after"] = str(fault.retry_after)
        return status, {"error": {"message": fault.message or message, "type": kind, "param": None,
                                  "code": code}}, headers
