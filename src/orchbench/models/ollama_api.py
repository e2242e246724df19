"""Ollama's native chat API through the official `ollama` client.

The native API, not Ollama's OpenAI-compatible endpoint, because only the native API takes the
context length per request (`options.num_ctx`); the compatible endpoint runs with the server's
default and silently truncates longer prompts, keeping the end. Here a prompt that does not fit is
an error the trial records: newer servers refuse it (HTTP 400), and a reply whose prompt and
output fill the whole window (an older server truncated) is refused here.

The first call also looks up what makes a local run reproducible, for the trial's notes: the
server's version, the model's digest and its trained context length (`provenance`).
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import httpx
import ollama

from orchbench.models.base import (
    ContextOverflow,
    InfraError,
    ModelResponse,
    RetryPolicy,
    Transient,
    with_retries,
)
from orchbench.models.openai_api import to_openai_tools
from orchbench.records import Usage


def to_ollama_messages(system: str, messages: list[dict]) -> list[dict[str, Any]]:
    """Anthropic-shaped messages as Ollama's: tool calls carry no ids, tool results name their tool."""
    out: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    names: dict[str, str] = {}
    for msg in messages:
        content = msg["content"]
        if isinstance(content, str):
            out.append({"role": msg["role"], "content": content})
            continue
        text = "".join(b.get("text", "") for b in content if b.get("type") == "text")
        if msg["role"] == "assistant":
            calls = [b for b in content if b.get("type") == "tool_use"]
            names.update({b["id"]: b["name"] for b in calls})
            item: dict[str, Any] = {"role": "assistant", "content": text}
            if calls:
                item["tool_calls"] = [{"function": {"name": b["name"], "arguments": b.get("input") or {}}}
                                      for b in calls]
            out.append(item)
            continue
        for b in content:
            if b.get("type") == "tool_result":
                result = b.get("content", "")
                out.append({"role": "tool", "tool_name": names.get(b["tool_use_id"], ""),
                            "content": result if isinstance(result, str) else str(result)})
        if text:
            out.append({"role": "user", "content": text})
    return out


class OllamaModel:
    def __init__(self, model: str, *, host: str, max_tokens: int = 8192, num_ctx: int | None = None,
                 timeout_s: float = 600.0, retry: RetryPolicy | None = None) -> None:
        self.model, self.host = model, host.rstrip("/")
        self.max_tokens, self.num_ctx = max_tokens, num_ctx
        self.retry = retry or RetryPolicy()
        self.client = ollama.Client(host=self.host, timeout=timeout_s)
        self.provenance: str | None = None  # set by the first call: version, digest, context length
        self._ids = itertools.count()

    def describe(self) -> str:
        try:  # a proxy in front of Ollama may not pass /api/version: then the version is unknown
            version = str(httpx.get(f"{self.host}/api/version", timeout=30).json().get("version", "?"))
        except (httpx.HTTPError, ValueError, AttributeError):
            version = "?"
        listed = {m.model: m.digest for m in self.client.list().models}
        digest = listed.get(self.model) or listed.get(f"{self.model}:latest") or "?"
        info = self.client.show(self.model).modelinfo or {}
        trained = next((v for k, v in info.items() if k.endswith(".context_length")), "?")
        ctx = f"num_ctx {self.num_ctx}" if self.num_ctx else "num_ctx unset (the server's default)"
        return f"ollama {version} at {self.host}: {self.model} digest {digest}, {ctx}, trained context {trained}"

    def options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"num_predict": self.max_tokens}
        if self.num_ctx:
            opts["num_ctx"] = self.num_ctx
        return opts

    def complete(self, *, system: str, messages: list[dict], tools: list[dict]) -> ModelResponse:
        msgs = to_ollama_messages(system, messages)

        def attempt() -> ModelResponse:
            t0 = time.perf_counter()
            try:
                if self.provenance is None:
                    self.provenance = self.describe()
                resp = self.client.chat(self.model, msgs, tools=to_openai_tools(tools) or None,
                                        options=self.options())
            except (ConnectionError, httpx.TransportError) as exc:
                raise Transient(f"connection error: {exc}") from exc
            except ollama.ResponseError as exc:
                text = f"HTTP {exc.status_code}: {exc.error}"
                if exc.status_code == 429 or exc.status_code >= 500:
                    raise Transient(text) from exc
                if "context" in str(exc.error).lower() and "exceed" in str(exc.error).lower():
                    raise ContextOverflow(text) from exc
                raise InfraError(f"ollama {self.model}: {text}") from exc
            return self._response(resp, time.perf_counter() - t0)

        return with_retries(attempt, self.retry, f"ollama {self.model}")

    def _response(self, resp: ollama.ChatResponse, latency: float) -> ModelResponse:
        prompt, output = resp.prompt_eval_count or 0, resp.eval_count or 0
        if self.num_ctx and prompt + output >= self.num_ctx:
            raise ContextOverflow(f"the prompt ({prompt} tokens) and reply ({output}) filled the whole "
                                  f"{self.num_ctx}-token context: the server may have cut the prompt")
        blocks: list[dict[str, Any]] = []
        if resp.message.content:
            blocks.append({"type": "text", "text": resp.message.content})
        for call in resp.message.tool_calls or []:
            blocks.append({"type": "tool_use", "id": f"ollama_call_{next(self._ids)}", "name": call.function.name,
                           "input": dict(call.function.arguments or {})})
        # Ollama says "stop" even when the reply is a tool call.
        stop = ("tool_use" if resp.message.tool_calls
                else "max_tokens" if resp.done_reason == "length" else "end_turn")
        return ModelResponse(content=blocks, usage=Usage(input=prompt, output=output), stop_reason=stop,
                             latency_s=latency, model=resp.model or self.model)
