"""One small interface for every model provider: Anthropic-shaped messages in, a ModelResponse out.

The agent loop only ever sees `ModelAPI.complete`. Adapters translate to their provider's wire
format and back, normalise usage to `records.Usage`, and turn provider failures that are not the
agent's doing into `InfraError` (after retrying what is worth retrying).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from orchbench.records import Usage


class InfraError(Exception):
    """The provider failed in a way that is not the agent's doing (auth, credit, retries exhausted).

    A trial that ends with this is `infra_error`, never `failure`: the message keeps the provider's
    own error text so the user can see what went wrong.
    """


class ContextOverflow(Exception):
    """The conversation no longer fits the model's context window: the agent's doing, a failure."""


class ModelResponse(BaseModel):
    content: list[dict[str, Any]] = Field(default_factory=list)  # {"type": "text"|"tool_use", ...}
    usage: Usage = Usage()
    stop_reason: str | None = None
    latency_s: float = 0.0
    model: str = ""

    @property
    def text(self) -> str:
        return "".join(b.get("text", "") for b in self.content if b.get("type") == "text")

    @property
    def tool_uses(self) -> list[dict[str, Any]]:
        return [b for b in self.content if b.get("type") == "tool_use"]


@runtime_checkable
class ModelAPI(Protocol):
    model: str

    def complete(self, *, system: str, messages: list[dict], tools: list[dict]) -> ModelResponse: ...


@dataclass
class RetryPolicy:
    """Backoff for transient provider failures; tests shrink the delays so they never sleep long."""

    max_retries: int = 6
    base_s: float = 1.0
    max_s: float = 60.0
    # Upper bound on a server's retry-after, so a hostile value cannot stall a trial for hours.
    max_retry_after_s: float = 120.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.max_retry_after_s)
        backoff = min(self.max_s, self.base_s * (2**attempt))
        return backoff * (0.5 + random.random() / 2)  # jitter: parallel trials do not retry in step


def parse_retry_after(headers: Any) -> float | None:
    if headers is None:
        return None
    for name in ("retry-after-ms", "retry-after"):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        return seconds / 1000 if name.endswith("-ms") else seconds
    return None


class Transient(Exception):
    """Internal: a failure worth retrying; carries the text kept if retries run out."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def with_retries(fn: Callable[[], Any], policy: RetryPolicy, what: str) -> Any:
    """Call `fn`, retrying on Transient with backoff; InfraError with the last error text at the end."""
    last = ""
    for attempt in range(policy.max_retries + 1):
        try:
            return fn()
        except Transient as exc:
            last = str(exc)
            if attempt == policy.max_retries:
                break
            policy.sleep(policy.delay(attempt, exc.retry_after))
    raise InfraError(f"{what}: gave up after {policy.max_retries + 1} attempts: {last}")
