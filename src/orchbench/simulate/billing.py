"""Anthropic's prompt-caching rules as a billing function: blocks in, Usage out.

Rules followed (Anthropic, "Prompt caching",
https://platform.claude.com/docs/en/build-with-claude/prompt-caching):
- The cached prefix covers tools, then system, then messages, up to and including a block marked
  with `cache_control` (a breakpoint). A prefix is identified by the exact content before it.
- At most 4 breakpoints per request (a fifth is a 400 error).
- At each breakpoint the system looks for a cache hit at the block boundaries going backwards,
  at most 20 blocks (the breakpoint itself counted as the first); the longest hit wins.
- `cache_read_input_tokens` is the hit prefix; `cache_creation_input_tokens` is what lies between
  the hit and the last breakpoint (it is written); `input_tokens` is what follows the last
  breakpoint. Their sum is the whole prompt.
- A prefix shorter than the model's minimum cacheable length is not cached (no error, billed as
  input). Minimums per model: see MIN_CACHEABLE below.
- An entry lives 5 minutes, refreshed at no cost each time it is read; `ttl: "1h"` makes it an hour.
  When TTLs are mixed, longer-TTL breakpoints must come before shorter ones.

The loopback Anthropic server of the tests bills every request with `PromptCache.bill`, so the
usage recorded in test trials follows these rules and `replay` can check itself against it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from orchbench.errors import UserError
from orchbench.records import Usage

Ttl = Literal["5m", "1h"]
TTL_SECONDS: dict[str, float] = {"5m": 300.0, "1h": 3600.0}
MAX_BREAKPOINTS = 4
LOOKBACK = 20

# Minimum cacheable prompt length (tokens) by model-id prefix, from the "Cache limitations" section of
# https://platform.claude.com/docs/en/build-with-claude/prompt-caching (checked 2026-11): 4096 for
# Opus 4.6 / 4.5 and Haiku 4.5; 2048 for Opus 4.7 and Haiku 3.x; 1024 for Sonnet and older Opus.
# Secondary sources disagree on Opus 4.7 (2048 vs 4096); the paper's own arm-A T3 trials read the
# cache with prompts averaging ~2.8k tokens on claude-opus-4-7, which only 2048 (or less) explains.
# Longest matching prefix wins, so "claude-opus-4-5" does not shadow "claude-opus-4-1".
MIN_CACHEABLE: dict[str, int] = {
    "claude-opus-4-8": 1024,
    "claude-opus-4-7": 2048,
    "claude-opus-4-6": 4096,
    "claude-opus-4-5": 4096,
    "claude-opus-4-1": 1024,
    "claude-opus-4": 1024,
    "claude-sonnet-4-6": 1024,
    "claude-sonnet-4-5": 1024,
    "claude-sonnet-4": 1024,
    "claude-3-7-sonnet": 1024,
    "claude-3-5-sonnet": 1024,
    "claude-3-opus": 1024,
    "claude-haiku-4-5": 4096,
    "claude-3-5-haiku": 2048,
    "claude-3-haiku": 2048,
}


def min_cacheable_for(model: str) -> int:
    """The minimum cacheable prompt length of an Anthropic model id (dated suffixes allowed)."""
    name = model.split("/")[-1].lower()
    matches = [p for p in MIN_CACHEABLE if name.startswith(p)]
    if not matches:
        known = ", ".join(sorted(MIN_CACHEABLE))
        raise UserError(
            f"unknown model {model!r} for prompt caching: no minimum cacheable length is known; "
            f"use one of {known}, or pass min_cacheable explicitly"
        )
    return MIN_CACHEABLE[max(matches, key=len)]


@dataclass(frozen=True)
class Block:
    """One cacheable unit of a request, in Anthropic's prefix order: tools, system, messages."""

    key: str  # content hash of this block (the prefix identity is the chain of keys)
    tokens: int
    breakpoint: bool = False  # cache_control on this block
    ttl: Ttl = "5m"

    def __post_init__(self) -> None:
        if isinstance(self.tokens, bool) or not isinstance(self.tokens, int) or self.tokens < 0:
            raise UserError(f"block {self.key!r}: tokens must be a non-negative integer, got {self.tokens!r}")
        if self.ttl not in TTL_SECONDS:
            raise UserError(f"block {self.key!r}: ttl must be '5m' or '1h', got {self.ttl!r}")


def make_blocks(
    tokens: Sequence[int],
    breakpoints: Sequence[int] = (),
    *,
    keys: Sequence[str] | None = None,
    ttl: Ttl = "5m",
) -> list[Block]:
    """Blocks from token counts and breakpoint indices (negative indices count from the end)."""
    n = len(tokens)
    if keys is not None and len(keys) != n:
        raise UserError(f"make_blocks: {len(keys)} keys for {n} blocks; give one key per block")
    marked: set[int] = set()
    for b in breakpoints:
        if not -n <= b < n:
            raise UserError(
                f"breakpoint at block {b} is past the end of a request of {n} blocks; "
                f"use an index in 0..{n - 1}"
            )
        marked.add(b % n)
    return [
        Block(key=keys[i] if keys is not None else f"b{i}", tokens=t, breakpoint=i in marked, ttl=ttl)
        for i, t in enumerate(tokens)
    ]


@dataclass(frozen=True)
class Bill:
    """One request's billing, with the cache write split by TTL (they are priced differently)."""

    input: int
    cache_write_5m: int
    cache_write_1h: int
    cache_read: int
    hit_block: int | None  # index of the last block of the prefix read from cache

    @property
    def cache_write(self) -> int:
        return self.cache_write_5m + self.cache_write_1h

    def usage(self) -> Usage:
        return Usage(input=self.input, cache_write=self.cache_write, cache_read=self.cache_read)


@dataclass
class _Entry:
    tokens: int
    expires_at: float
    ttl_s: float


class PromptCache:
    """The provider-side cache of one model: state carried across requests."""

    def __init__(self, *, min_cacheable: int = 1024, lookback: int = LOOKBACK) -> None:
        if min_cacheable < 0 or lookback < 1:
            raise UserError(
                f"PromptCache: min_cacheable must be >= 0 and lookback >= 1, got {min_cacheable} / {lookback}"
            )
        self.min_cacheable = min_cacheable
        self.lookback = lookback
        self._entries: dict[bytes, _Entry] = {}

    @classmethod
    def for_model(cls, model: str, *, lookback: int = LOOKBACK) -> PromptCache:
        return cls(min_cacheable=min_cacheable_for(model), lookback=lookback)

    def bill(self, blocks: Sequence[Block], *, now: float) -> Usage:
        """input / cache_write / cache_read of one request (output=0); updates the cache."""
        return self.bill_detail(blocks, now=now).usage()

    def bill_detail(self, blocks: Sequence[Block], *, now: float) -> Bill:
        bps = [i for i, b in enumerate(blocks) if b.breakpoint]
        _validate(blocks, bps)
        cum: list[int] = []
        prefix: list[bytes] = []
        total, h = 0, b""
        for b in blocks:
            total += b.tokens
            h = hashlib.blake2b(h + b.key.encode(), digest_size=16).digest()
            cum.append(total)
            prefix.append(h)

        hit = self._longest_hit(prefix, bps, now)
        read = cum[hit] if hit is not None else 0
        cacheable = [i for i in bps if cum[i] >= self.min_cacheable]
        write_5m = write_1h = 0
        done = hit if hit is not None else -1
        for i in cacheable:
            if i > done:
                seg = cum[i] - (cum[done] if done >= 0 else 0)
                if blocks[i].ttl == "1h":
                    write_1h += seg
                else:
                    write_5m += seg
                done = i

        if hit is not None:  # a read refreshes the entry it read
            read_entry = self._entries[prefix[hit]]
            read_entry.expires_at = max(read_entry.expires_at, now + read_entry.ttl_s)
        for i in cacheable:
            ttl_s = TTL_SECONDS[blocks[i].ttl]
            old = self._entries.get(prefix[i])
            if old is None or old.expires_at <= now:
                self._entries[prefix[i]] = _Entry(cum[i], now + ttl_s, ttl_s)
            else:
                old.ttl_s = max(old.ttl_s, ttl_s)
                old.expires_at = max(old.expires_at, now + ttl_s)
        return Bill(
            input=total - read - write_5m - write_1h,
            cache_write_5m=write_5m,
            cache_write_1h=write_1h,
            cache_read=read,
            hit_block=hit,
        )

    def _longest_hit(self, prefix: list[bytes], bps: list[int], now: float) -> int | None:
        best: int | None = None
        for b in bps:
            for j in range(b, max(-1, b - self.lookback), -1):
                e = self._entries.get(prefix[j])
                if e is not None and e.expires_at > now:
                    if best is None or j > best:
                        best = j
                    break
        return best

    def clear(self) -> None:
        self._entries.clear()


def _validate(blocks: Sequence[Block], bps: list[int]) -> None:
    if len(bps) > MAX_BREAKPOINTS:
        raise UserError(
            f"request has {len(bps)} cache breakpoints; Anthropic allows at most {MAX_BREAKPOINTS} "
            f"(cache_control on at most {MAX_BREAKPOINTS} blocks)"
        )
    seen_5m = False
    for i in bps:
        if blocks[i].ttl == "5m":
            seen_5m = True
        elif seen_5m:
            raise UserError(
                f"breakpoint at block {i} has ttl '1h' after a '5m' breakpoint; "
                "longer TTLs must come first in the prompt"
            )
