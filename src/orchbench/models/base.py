"""One small interface for every model provider: Anthropic-shaped messages in, a ModelResponse out.

The agent loop only ever sees `ModelAPI.complete`. Adapters translate to their provider's wire
format and back, normalise usage to `records.Usage`, and turn provider failures that are not the
agent's doing into `InfraError` (after retrying what is worth retrying).
"""

from __future__ import annotations

import random
import threading
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


class BadReply(InfraError):
    """A reply arrived, so the call is probably billed, but cannot be used (malformed JSON, invalid
    usage, a tool call without an id). Not retried: the loop stores the call marked with this error
    (with `usage` when it could be read) and the trial ends as infra_error."""

    def __init__(self, message: str, response: ModelResponse | None = None) -> None:
        super().__init__(message)
        self.response = response if response is not None else ModelResponse(usage_known=False)


class ContextOverflow(Exception):
    """The conversation no longer fits the model's context window: the agent's doing, a failure."""


class ModelResponse(BaseModel):
    content: list[dict[str, Any]] = Field(default_factory=list)  # {"type": "text"|"tool_use", ...}
    usage: Usage = Usage()
    stop_reason: str | None = None
    latency_s: float = 0.0
    model: str = ""
    usage_known: bool = True  # False: the reply carried no usage; its tokens and cost are unknown

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
    # Total time for one request, retries included: httpx's timeout is per read, so a server that
    # trickles a byte at a time (or stalls after the headers) would otherwise never time out.
    deadline_s: float = 900.0
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


def call_with_deadline(fn: Callable[[], Any], seconds: float) -> Any:
    """fn() in a watchdog thread; raise Transient if it has not returned within `seconds`. The
    thread is abandoned (an SDK call cannot be cancelled); it ends when its connection does."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=target, daemon=True, name="model-request").start()
    if not done.wait(max(seconds, 0.0)):
        raise _DeadlinePassed(f"no complete reply within {seconds:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


class _DeadlinePassed(Transient):
    pass


def with_retries(fn: Callable[[], Any], policy: RetryPolicy, what: str) -> Any:
    """Call `fn`, retrying on Transient with backoff, all within policy.deadline_s; InfraError with the
    last error text at the end."""
    last = ""
    end = time.monotonic() + policy.deadline_s
    for attempt in range(policy.max_retries + 1):
        try:
            return call_with_deadline(fn, end - time.monotonic())
        except _DeadlinePassed:
            raise InfraError(f"{what}: no complete reply within the request deadline of "
                             f"{policy.deadline_s:g} s (attempt {attempt + 1})") from None
        except Transient as exc:
            last = str(exc)
            if attempt == policy.max_retries:
                break
            delay = policy.delay(attempt, exc.retry_after)
            if time.monotonic() + delay >= end:
                raise InfraError(f"{what}: request deadline of {policy.deadline_s:g} s reached while "
                                 f"retrying: {last}") from None
            policy.sleep(delay)
    raise InfraError(f"{what}: gave up after {policy.max_retries + 1} attempts: {last}")
