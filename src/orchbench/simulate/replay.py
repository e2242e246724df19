"""Rebuild a recorded trial's requests from its per-call usage and bill them again.

A call's prompt is input + cache_write + cache_read; what grew between two consecutive requests
of one conversation is what the loop appended (the assistant's blocks, then the tool results).
Breakpoints follow the trial's caching policy (`paper`: last tool, system prompt, newest user
block; `none`: no breakpoint). Re-billing the rebuilt requests with `PromptCache` must give the
recorded usage back to the token when the trial was recorded against the loopback server, which
bills with the same rules; after that, the same requests can be billed under other assumptions
(no cache, a 1-hour TTL, executor hand-backs capped at K tokens).

Paper-format trials carry only per-role totals and no calls: there is nothing to replay, and
`orchbench.simulate.model` answers for them in closed form.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from orchbench.errors import UserError
from orchbench.records import Call, Usage
from orchbench.simulate.billing import Bill, Block, PromptCache, Ttl, min_cacheable_for

Caching = Literal["auto", "paper", "none"]
CHARS_PER_TOKEN = 4  # the loopback server's count, and the usual rule of thumb for English and code


@dataclass
class Step:
    """One recorded request, rebuilt: the conversation it belongs to and what it appended."""

    call: Call
    conversation: str
    now: float
    prompt: int  # recorded input + cache_write + cache_read
    new_tokens: int  # appended to the conversation since its previous request (first: prompt - static)
    new_blocks: int  # how many content blocks that was (decides the 20-block lookback)
    handback_tokens: int = 0  # of new_tokens: an executor's hand-back (tool result of a delegation)


@dataclass
class Replay:
    steps: list[Step]
    bills: list[Bill]
    static_tokens: dict[str, int]  # per role: tools + system prompt, inferred from the usage
    caching: dict[str, str]  # per role: the policy used
    notes: list[str] = field(default_factory=list)

    @property
    def predicted(self) -> list[Usage]:
        return [
            Usage(input=b.input, output=s.call.usage.output, cache_write=b.cache_write, cache_read=b.cache_read)
            for s, b in zip(self.steps, self.bills)
        ]

    def mismatches(self) -> list[tuple[Call, Usage]]:
        """(call, predicted) for every call whose prompt-side usage is not reproduced to the token."""
        out = []
        for s, p in zip(self.steps, self.predicted):
            u = s.call.usage
            if (u.input, u.cache_write, u.cache_read) != (p.input, p.cache_write, p.cache_read):
                out.append((s.call, p))
        return out

    @property
    def exact(self) -> bool:
        return not self.mismatches()

    def usage_by_role(self) -> dict[str, Usage]:
        out: dict[str, Usage] = {}
        for s, p in zip(self.steps, self.predicted):
            out[s.call.role] = out.get(s.call.role, Usage()) + p
        return out

    def write_1h_by_role(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s, b in zip(self.steps, self.bills):
            out[s.call.role] = out.get(s.call.role, 0) + b.cache_write_1h
        return out


def prompt_of(u: Usage) -> int:
    return u.input + u.cache_write + u.cache_read


def handback_tokens(chars: int | None) -> int:
    return math.ceil((chars or 0) / CHARS_PER_TOKEN)


def _blocks_appended(call: Call) -> int:
    """Content blocks a call adds to its conversation: its own output, then the tool results."""
    n = len(call.content) + len(call.tool_results)
    return n if n else 2  # not stored: assume one assistant block and one user block


def _conversations(calls: Sequence[Call]) -> list[tuple[Call, str]]:
    """Label each call with its conversation: the orchestrator's loop, or one executor sub-loop."""
    out: list[tuple[Call, str]] = []
    index: Counter[str] = Counter()
    open_conv: dict[str, tuple[str, int | None]] = {}  # role -> (label, parent_turn) still running
    for c in calls:
        cur = open_conv.get(c.role)
        if cur is None or (c.role == "executor" and cur[1] != c.parent_turn):
            label = f"{c.role}#{index[c.role]}"
            index[c.role] += 1
            cur = open_conv[c.role] = (label, c.parent_turn)
        out.append((c, cur[0]))
        if not c.tool_names:  # a reply without tool use ends its loop
            open_conv.pop(c.role, None)
    return out


def _infer_static(labelled: list[tuple[Call, str]]) -> dict[str, int]:
    """Tools + system prompt per role: the part a new conversation (or a lookback miss) reads back.

    It shows in the usage only when such a read happened; otherwise it never changes a bill, and 0
    is as good as any value.
    """
    candidates: dict[str, Counter[int]] = {}
    prev: dict[str, int] = {}
    for c, conv in labelled:
        read = c.usage.cache_read
        p = prev.get(conv)
        if read and (p is None or read < p):
            candidates.setdefault(c.role, Counter())[read] += 1
        prev[conv] = prompt_of(c.usage)
    return {role: cnt.most_common(1)[0][0] for role, cnt in candidates.items()}


def rebuild(calls: Sequence[Call], *, static_tokens: Mapping[str, int] | None = None) -> tuple[list[Step], dict[str, int]]:
    """The recorded requests as steps, in the order they were sent."""
    ordered = sorted((c for c in calls if c.error is None or prompt_of(c.usage)), key=lambda c: c.started_at)
    labelled = _conversations(ordered)
    static = dict(_infer_static(labelled))
    static.update(static_tokens or {})
    for c, _ in labelled:  # the static part can never exceed a role's smallest prompt
        static[c.role] = min(static.get(c.role, 0), prompt_of(c.usage))
    steps: list[Step] = []
    last: dict[str, Call] = {}
    alias: dict[str, str] = {}
    for c, label in labelled:
        conv = alias.get(label, label)
        prompt = prompt_of(c.usage)
        prev = last.get(conv)
        s = static.get(c.role, 0)
        if prev is None or prompt < prompt_of(prev.usage):  # new (or trimmed) conversation
            if prev is not None:
                conv = alias[label] = conv + "'"
            steps.append(Step(c, conv, c.started_at.timestamp(), prompt, prompt - s, 1))
        else:
            hb = handback_tokens(prev.handback_chars) if prev.role == "orchestrator" else 0
            grew = prompt - prompt_of(prev.usage)
            steps.append(Step(c, conv, c.started_at.timestamp(), prompt, grew, _blocks_appended(prev),
                              min(hb, grew)))
        last[conv] = c
    return steps, static


def _policy(calls: Sequence[Call], role: str, caching: Caching) -> str:
    if caching != "auto":
        return caching
    used = any(c.usage.cache_write or c.usage.cache_read for c in calls if c.role == role)
    return "paper" if used else "none"


def replay(
    calls: Sequence[Call],
    *,
    caching: Caching = "auto",
    ttl: Ttl = "5m",
    handback_cap: int | None = None,
    min_cacheable: int | Mapping[str, int] | None = None,
    static_tokens: Mapping[str, int] | None = None,
) -> Replay:
    """Bill a trial's calls again; with no options it must reproduce the recorded usage.

    `handback_cap`: every executor hand-back is cut to at most that many tokens (the rest of the
    trajectory kept as it was: same turns, same outputs, same timing).
    """
    if handback_cap is not None and handback_cap < 0:
        raise UserError(f"hand-back cap must be >= 0 tokens, got {handback_cap}")
    steps, static = rebuild(calls, static_tokens=static_tokens)
    policy: dict[str, str] = {role: _policy(calls, role, caching) for role in {s.call.role for s in steps}}
    caches: dict[str, PromptCache] = {}
    convs: dict[str, list[Block]] = {}
    bills: list[Bill] = []
    notes: list[str] = []
    for i, st in enumerate(steps):
        c = st.call
        cache = caches.get(c.model)
        if cache is None:
            cache = caches[c.model] = PromptCache(min_cacheable=_min_for(c.model, min_cacheable))
        cut = max(0, st.handback_tokens - handback_cap) if handback_cap is not None else 0
        msgs = convs.setdefault(st.conversation, [])
        # the tokens sit in the segment's last block: hits only ever happen at segment ends
        seg = [Block(f"{st.conversation}/{i}/{j}", 0) for j in range(st.new_blocks - 1)]
        seg.append(Block(f"{st.conversation}/{i}/last", st.new_tokens - cut))
        msgs.extend(seg)
        paper = policy[c.role] == "paper"
        head = Block(f"{c.role}/{c.model}/static", static.get(c.role, 0), breakpoint=paper, ttl=ttl)
        body = msgs[:-1] + [Block(msgs[-1].key, msgs[-1].tokens, breakpoint=paper, ttl=ttl)]
        bills.append(cache.bill_detail([head, *body], now=st.now))
    if handback_cap is not None and not any(s.handback_tokens for s in steps):
        notes.append("no hand-back recorded in these calls: the cap changes nothing")
    return Replay(steps, bills, static, policy, notes)


def _min_for(model: str, given: int | Mapping[str, int] | None) -> int:
    if isinstance(given, int):
        return given
    if given is not None and model in given:
        return given[model]
    return min_cacheable_for(model)


def known_model(model: str) -> bool:
    """True when the model has documented caching rules (an Anthropic model we know)."""
    try:
        min_cacheable_for(model)
    except UserError:
        return False
    return True


def replayable(calls: Sequence[Call]) -> list[Call]:
    """The calls whose model's caching rules are known: each model has its own cache, so these can
    be replayed while the others (e.g. a local executor) keep their recorded usage."""
    return [c for c in calls if known_model(c.model)]
