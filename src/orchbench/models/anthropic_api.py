"""Anthropic Messages API through the official `anthropic` SDK.

The SDK's own retries are switched off (`max_retries=0`): we retry here so the backoff is
configurable (tests do not sleep) and so the error text of the last attempt is kept in the
InfraError that ends the trial.
"""

from __future__ import annotations

import time
from typing import Any

import anthropic

from orchbench.models.base import (
    BadReply,
    ContextOverflow,
    InfraError,
    ModelResponse,
    RetryPolicy,
    Transient,
    parse_retry_after,
    with_retries,
)
from orchbench.models.caching import apply_caching
from orchbench.records import Usage

RETRYABLE_STATUS = {408, 409, 429}  # plus every 5xx, including Anthropic's 529 overloaded


def _error_text(exc: anthropic.APIStatusError) -> str:
    kind = getattr(exc, "type", None) or "error"
    msg = getattr(exc, "api_message", None) or exc.message
    return f"HTTP {exc.status_code} {kind}: {msg}"


def _content_block(block: Any) -> dict[str, Any]:
    data = block.model_dump(exclude_none=True) if hasattr(block, "model_dump") else dict(block)
    if data.get("type") == "text":
        return {"type": "text", "text": str(data.get("text", ""))}
    if data.get("type") == "tool_use":
        if not isinstance(data.get("id"), str) or not data["id"] or not isinstance(data.get("name"), str):
            raise ValueError(f"tool_use block without a string id and name: {str(data)[:200]}")
        return {"type": "tool_use", "id": data["id"], "name": data["name"], "input": data.get("input") or {}}
    return data


def usage_from_anthropic(u: Any) -> Usage:
    """Raises ValueError (pydantic's) for values that are not token counts."""
    return Usage(
        input=getattr(u, "input_tokens", 0) or 0,
        output=getattr(u, "output_tokens", 0) or 0,
        cache_write=getattr(u, "cache_creation_input_tokens", 0) or 0,
        cache_read=getattr(u, "cache_read_input_tokens", 0) or 0,
    )


class AnthropicModel:
    def __init__(
        self,
        model: str,
        *,
        api_key: str,
        base_url: str | None = None,
        caching: str = "paper",
        max_tokens: int = 8192,
        timeout_s: float = 600.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.model = model
        self.caching = caching
        self.max_tokens = max_tokens
        self.retry = retry or RetryPolicy()
        self.client = anthropic.Anthropic(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout_s)

    def request_params(self, *, system: str, messages: list[dict], tools: list[dict]) -> dict[str, Any]:
        sys_param, msgs, tool_defs = apply_caching(self.caching, system, messages, tools)
        params: dict[str, Any] = {"model": self.model, "max_tokens": self.max_tokens, "messages": msgs}
        if sys_param:
            params["system"] = sys_param
        if tool_defs:
            params["tools"] = tool_defs
        return params

    def complete(self, *, system: str, messages: list[dict], tools: list[dict]) -> ModelResponse:
        params = self.request_params(system=system, messages=messages, tools=tools)

        def attempt() -> ModelResponse:
            t0 = time.perf_counter()
            try:
                resp = self.client.messages.create(**params)
            except anthropic.APIConnectionError as exc:  # includes timeouts and dropped connections
                raise Transient(f"connection error: {exc}") from exc
            except anthropic.APIStatusError as exc:
                text = _error_text(exc)
                if exc.status_code in RETRYABLE_STATUS or exc.status_code >= 500:
                    raise Transient(text, parse_retry_after(exc.response.headers)) from exc
                low = text.lower()
                if exc.status_code == 400 and ("prompt is too long" in low or "context window" in low):
                    raise ContextOverflow(text) from exc
                # auth, permission, credit, unknown model, malformed request: none is the agent's doing
                raise InfraError(f"anthropic {self.model}: {text}") from exc
            except (ValueError, TypeError, anthropic.APIResponseValidationError) as exc:  # a 200 not JSON
                raise BadReply(f"anthropic {self.model}: unusable reply: {type(exc).__name__}: {exc}") from exc
            return self._response(resp, time.perf_counter() - t0)

        return with_retries(attempt, self.retry, f"anthropic {self.model}")

    def _response(self, resp: Any, latency_s: float) -> ModelResponse:
        """The reply as a ModelResponse; BadReply (carrying the usage when it could be read) if not usable."""
        out = ModelResponse(latency_s=latency_s, model=str(getattr(resp, "model", "") or self.model))
        raw_usage = getattr(resp, "usage", None)
        out.usage_known = False
        try:
            if raw_usage is not None:
                out.usage = usage_from_anthropic(raw_usage)
                out.usage_known = True
            out.content = [_content_block(b) for b in resp.content or []]
            out.stop_reason = resp.stop_reason
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise BadReply(f"anthropic {self.model}: unusable reply: {type(exc).__name__}: {exc}", out) from exc
        return out
