"""Where a request carries Anthropic `cache_control` breakpoints: one function per caching policy.

The loop keeps its message history free of breakpoints; the adapter applies the policy to a copy
at request time, so old breakpoints never pile up past Anthropic's limit of four.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

EPHEMERAL: dict[str, str] = {"type": "ephemeral"}

Prepared = tuple[Any, list[dict], list[dict]]  # (system param, messages, tools)


def _none(system: str, messages: list[dict], tools: list[dict]) -> Prepared:
    return system, messages, tools


def _paper(system: str, messages: list[dict], tools: list[dict]) -> Prepared:
    """The paper's policy: the system prompt, the last tool definition, the newest user block."""
    sys_param: Any = [{"type": "text", "text": system, "cache_control": dict(EPHEMERAL)}] if system else system
    tools = copy.deepcopy(tools)
    if tools:
        tools[-1]["cache_control"] = dict(EPHEMERAL)
    messages = copy.deepcopy(messages)
    for msg in reversed(messages):
        if msg.get("role") != "user":
            continue
        content = msg["content"]
        if isinstance(content, str):
            msg["content"] = [{"type": "text", "text": content, "cache_control": dict(EPHEMERAL)}]
        elif content:
            content[-1]["cache_control"] = dict(EPHEMERAL)
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
