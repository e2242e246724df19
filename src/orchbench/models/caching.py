"""Where a request carries Anthropic `cache_control` breakpoints: one function per caching policy.

The loop keeps its message history free of breakpoints; the adapter applies the policy to a copy
at request time, so old breakpoints never pile up past Anthropic's limit of four.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

EPHEMERAL: dict[str, str] = {"type": "ephemeral"}

Prepared = tuple[Any, list[dict], list[dict]]  # (system param, messages, tools)


def _none(system: str, messages: list[dict], tools: list[dict]) -> Prepared:
    return system, messages, tools


def _paper(system: str, messages: list[dict], tools: list[dict]) -> Prepared:
    """The paper's policy: the system prompt, the last tool definition, the newest user block."""
    sys_param: Any = [{"type": "text", "text": system, "cache_control": dict(EPHEMERAL)}] if system else system
    # Copy only what gets a breakpoint: the history can be megabytes and is resent on every turn.
    tools = list(tools)
    if tools:
        tools[-1] = {**tools[-1], "cache_control": dict(EPHEMERAL)}
    messages = list(messages)
    for i in range(len(messages) - 1, -1, -1):
        msg = messages[i]
        if msg.get("role") != "user":
            continue
        content = msg["content"]
        if isinstance(content, str):
            content = [{"type": "text", "text": content, "cache_control": dict(EPHEMERAL)}]
        elif content:
            content = [*content[:-1], {**content[-1], "cache_control": dict(EPHEMERAL)}]
        messages[i] = {**msg, "content": content}
        break
    return sys_param, messages, tools


POLICIES: dict[str, Callable[[str, list[dict], list[dict]], Prepared]] = {"none": _none, "paper": _paper}


def apply_caching(policy: str, system: str, messages: list[dict], tools: list[dict]) -> Prepared:
    from orchbench.errors import UserError

    try:
        fn = POLICIES[policy]
    except KeyError:
        raise UserError(
            f"unknown caching policy {policy!r}; use one of {', '.join(sorted(POLICIES))}"
        ) from None
    return fn(system, messages, tools)
