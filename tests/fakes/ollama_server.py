"""A loopback server speaking Ollama's native API, for tests.

POST /api/chat (non-streaming), GET /api/version, GET /api/tags, POST /api/show, in Ollama's wire
format. Scripts use the same Anthropic-shaped `Reply` content as the other fakes; tool calls go out
without ids, as Ollama sends them, and `done_reason` is "stop" even for a tool call.

Context length: a request's prompt counts ceil(len(json(messages + tools)) / 4) tokens against
`options.num_ctx` (or `default_ctx` when the request sets none). What happens past it depends on
`overflow`: "error" answers 400 as current Ollama does; "truncate" answers as older Ollama did,
silently, with the prompt cut to the window (prompt_eval_count = the window).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from orchbench.records import Usage
from tests.fakes._http import FakeServer, Fault, Reply, View
from tests.fakes.anthropic_server import output_tokens, tokens_of

DIGEST = "6f1c7b0a4d2e9c8b5a3f1e0d9c8b7a6f5e4d3c2b1a09f8e7d6c5b4a3f2e1d0c9"
VERSION = "0.14.2"
TRAINED_CTX = 262144

_ERRORS = {"500": (500, "llama runner process has terminated"), "429": (429, "server busy"),
           "400": (400, "bad request"), "context": (400, "request exceeds the available context size")}


def prompt_tokens(body: dict[str, Any]) -> int:
    return tokens_of(json.dumps({"messages": body.get("messages") or [], "tools": body.get("tools") or []},
                                sort_keys=True))


class FakeOllama(FakeServer):
    path = "/api/chat"

    def __init__(self, *args: Any, overflow: Literal["error", "truncate"] = "error", default_ctx: int = 4096,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.overflow, self.default_ctx = overflow, default_ctx

    @property
    def host(self) -> str:
        return self.root_url

    def route(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        if (method, path) == ("GET", "/api/version"):
            return 200, {"version": VERSION}
        if (method, path) == ("GET", "/api/tags"):
            return 200, {"models": [{"name": "qwen3.5:9b", "model": "qwen3.5:9b", "modified_at": "2026-06-01T10:00:00Z",
                                     "size": 6_600_000_000, "digest": DIGEST,
                                     "details": {"format": "gguf", "family": "qwen35", "parameter_size": "9B",
                                                 "quantization_level": "Q4_K_M"}}]}
        if (method, path) == ("POST", "/api/show"):
            return 200, {"modelfile": "FROM qwen3.5:9b", "parameters": "", "template": "{{ .Prompt }}",
                         "details": {"format": "gguf", "family": "qwen35", "parameter_size": "9B"},
                         "model_info": {"general.architecture": "qwen35", "qwen35.context_length": TRAINED_CTX},
                         "capabilities": ["completion", "tools"], "modified_at": "2026-06-01T10:00:00Z"}
        return None

    def num_ctx(self, body: dict[str, Any]) -> int:
        return int((body.get("options") or {}).get("num_ctx") or self.default_ctx)

    def next_step(self, body: dict[str, Any]) -> Any:
        if self.overflow == "error" and prompt_tokens(body) > self.num_ctx(body):
            return Fault("context", message=f"request ({prompt_tokens(body)} tokens) exceeds the available "
                                            f"context size ({self.num_ctx(body)} tokens), try increasing it")
        return super().next_step(body)

    def view(self, body: dict[str, Any]) -> View:
        msgs = body.get("messages") or []
        last = next((str(m.get("content") or "") for m in reversed(msgs) if m.get("role") in ("user", "tool")), "")
        return View(model=body.get("model", ""),
                    tool_names=[t.get("function", {}).get("name", "") for t in body.get("tools") or []],
                    n_assistant=sum(1 for m in msgs if m.get("role") == "assistant"), last_user_text=last, body=body)

    def reply_json(self, body: dict[str, Any], reply: Reply) -> tuple[dict[str, Any], Usage]:
        prompt = min(prompt_tokens(body), self.num_ctx(body))  # an older server cut it silently
        out = reply.output_tokens if reply.output_tokens is not None else output_tokens(reply.content)
        calls = [{"function": {"name": b["name"], "arguments": b.get("input") or {}}}
                 for b in reply.content if b.get("type") == "tool_use"]
        message: dict[str, Any] = {"role": "assistant",
                                   "content": "".join(b["text"] for b in reply.content if b.get("type") == "text")}
        if calls:
            message["tool_calls"] = calls
        payload = {"model": body.get("model", ""), "created_at": "2026-06-01T10:00:00.000000Z", "message": message,
                   "done": True, "done_reason": "length" if reply.stop_reason == "max_tokens" else "stop",
                   "total_duration": 1_000_000, "load_duration": 1000, "prompt_eval_count": prompt,
                   "prompt_eval_duration": 1000, "eval_count": out, "eval_duration": 1000}
        return payload, Usage(input=prompt, output=out)

    def error_json(self, fault: Fault) -> tuple[int, dict[str, Any], dict[str, str]]:
        status, message = _ERRORS[fault.kind]
        return status, {"error": fault.message or message}, {}
