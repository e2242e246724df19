"""OpenAI-compatible chat completions through the official `openai` SDK.

One adapter serves OpenAI, Ollama (`$OLLAMA_HOST/v1`), vLLM, LM Studio and llama.cpp: only the
base URL differs. Messages and tools arrive Anthropic-shaped and are translated here; the answer
is translated back. Cached prompt tokens the server reports become cache_read, and input is the
rest of the prompt, matching Anthropic's meaning of input_tokens.
"""

from __future__ import annotations

import json
import time
from typing import Any

import openai

from orchbench.models.base import (
    ContextOverflow,
    InfraError,
    ModelResponse,
    RetryPolicy,
    Transient,
    parse_retry_after,
    with_retries,
)
from orchbench.records import Usage

FINISH_TO_STOP = {"tool_calls": "tool_use", "function_call": "tool_use", "stop": "end_turn", "length": "max_tokens"}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(b.get("text", "") for b in content or [] if b.get("type") == "text")


def to_openai_messages(system: str, messages: list[dict]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for msg in messages:
        content = msg["content"]
        if msg["role"] == "assistant":
            blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
            item: dict[str, Any] = {"role": "assistant", "content": _text_of(blocks) or None}
            calls = [
                {"id": b["id"], "type": "function",
                 "function": {"name": b["name"], "arguments": json.dumps(b.get("input") or {})}}
                for b in blocks if b.get("type") == "tool_use"
            ]
            if calls:
                item["tool_calls"] = calls
            out.append(item)
            continue
        if isinstance(content, str):
            out.append({"role": "user", "content": content})
            continue
        # Tool results must directly follow the assistant message that asked for them.
        for b in content:
            if b.get("type") == "tool_result":
                result = b.get("content", "")
                text = result if isinstance(result, str) else _text_of(result)
                out.append({"role": "tool", "tool_call_id": b["tool_use_id"], "content": text})
        rest = _text_of([b for b in content if b.get("type") == "text"])
        if rest:
            out.append({"role": "user", "content": rest})
    return out


def to_openai_tools(tools: list[dict]) -> list[dict[str, Any]]:
    return [
        {"type": "function", "function": {"name": t["name"], "description": t.get("description", ""),
                                          "parameters": t.get("input_schema", {"type": "object"})}}
        for t in tools
    ]


def from_openai_message(message: Any) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls or []:
        raw = call.function.arguments or "{}"
        try:
            args = json.loads(raw)
        except json.JSONDecodeError:
            args = None
        if not isinstance(args, dict):
            # Small local models emit broken JSON; the tool then answers with an error the model sees.
            args = {"_unparsed_arguments": raw}
        blocks.append({"type": "tool_use", "id": call.id, "name": call.function.name, "input": args})
    return blocks


def usage_from_openai(u: Any) -> Usage:
    if u is None:
        return Usage()
    prompt = u.prompt_tokens or 0
    details = getattr(u, "prompt_tokens_details", None)
    cached = (getattr(details, "cached_tokens", 0) or 0) if details is not None else 0
    return Usage(input=max(prompt - cached, 0), output=u.completion_tokens or 0, cache_read=cached)


def _error_text(exc: openai.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    err = body.get("error", body) if isinstance(body, dict) else {}
    msg = err.get("message") if isinstance(err, dict) else None
    code = (err.get("code") or err.get("type")) if isinstance(err, dict) else None
    return f"HTTP {exc.status_code} {code or 'error'}: {msg or exc.message}"


class OpenAIModel:
    def __init__(
        self,
        model: str,
        *,
        api_key: str,
        base_url: str | None = None,
        max_tokens: int = 8192,
        timeout_s: float = 600.0,
        retry: RetryPolicy | None = None,
        provider: str = "openai",
    ) -> None:
        self.model = model
        self.provider = provider
        self.max_tokens = max_tokens
        self.retry = retry or RetryPolicy()
        # OpenAI's own API wants max_completion_tokens (reasoning models reject max_tokens); local
        # OpenAI-compatible servers (Ollama, vLLM, llama.cpp, LM Studio) all take max_tokens.
        self.token_param = "max_completion_tokens" if provider == "openai" and not base_url else "max_tokens"
        self.client = openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout_s)

    def request_params(self, *, system: str, messages: list[dict], tools: list[dict]) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "messages": to_openai_messages(system, messages),
            self.token_param: self.max_tokens,
        }
        if tools:
            params["tools"] = to_openai_tools(tools)
        return params

    def complete(self, *, system: str, messages: list[dict], tools: list[dict]) -> ModelResponse:
        params = self.request_params(system=system, messages=messages, tools=tools)

        def attempt() -> ModelResponse:
            t0 = time.perf_counter()
            try:
                resp = self.client.chat.completions.create(**params)
            except openai.APIConnectionError as exc:
                raise Transient(f"connection error: {exc}") from exc
            except openai.APIStatusError as exc:
                text = _error_text(exc)
                if "insufficient_quota" in text:  # a 429 that no retry will fix
                    raise InfraError(f"{self.provider} {self.model}: {text}") from exc
                if exc.status_code in (408, 409, 429) or exc.status_code >= 500:
                    raise Transient(text, parse_retry_after(exc.response.headers)) from exc
                if "context_length" in text or "maximum context length" in text:
                    raise ContextOverflow(text) from exc
                raise InfraError(f"{self.provider} {self.model}: {text}") from exc
            if not resp.choices:
                raise Transient(f"{self.provider} {self.model}: reply without choices")
            choice = resp.choices[0]
            return ModelResponse(
                content=from_openai_message(choice.message),
                usage=usage_from_openai(resp.usage),
                # Some compatible servers say "stop" for a tool call: the calls decide.
                stop_reason="tool_use" if choice.message.tool_calls else
                FINISH_TO_STOP.get(choice.finish_reason or "", choice.finish_reason),
                latency_s=time.perf_counter() - t0,
                model=resp.model or self.model,
            )

        return with_retries(attempt, self.retry, f"{self.provider} {self.model}")
