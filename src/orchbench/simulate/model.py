"""A closed-form model of one model's agent loop under prompt caching, and what it costs.

With caching, request i of a loop reads everything request i-1 wrote and writes only what was
appended since. So a token appended before request k of a T-request loop is written once and read
back (T - k) times at the cache-read price: an executor hand-back of h tokens received at turn k
costs h * (p_write + (T - k) * p_read) on the orchestrator's bill, however free the executor is.

The loop (all counts in tokens):
  warm-up: the first `warmup_turns` requests are below the model's minimum cacheable length and are
           billed wholly as input (`warmup_tokens` in total); they are never re-read;
  cached phase: N = turns - warmup_turns requests; request i (0-based) has prompt
           P_i = base + i * growth + handback * (hand-backs received before it);
  `delegations` hand-backs arrive spread evenly over the cached phase, so on average one is
           re-read (N - 2) / 2 times, the same as a token of the loop's own growth;
  `tail` tokens per request follow the last breakpoint (billed as input).
Then   write = base + (N - 1) growth + D h
       read  = (N - 1) base + ((N - 1)(N - 2) / 2) growth + D h (N - 2) / 2
       input = warmup_tokens + tail * turns,   output = output_per_turn * turns.
Caching off: every prompt token is input.  A 1-hour TTL: the same tokens, writes at 2x input
instead of 1.25x (https://platform.claude.com/docs/en/build-with-claude/prompt-caching#pricing).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from orchbench.errors import UserError
from orchbench.records import Usage

_PROBE = 100_000  # tokens per probe: below any long-context price tier
ONE_HOUR_WRITE_MULTIPLIER = 2.0


@dataclass(frozen=True)
class Prices:
    """Dollars per token of one model, read off a rate card."""

    input: float
    output: float
    cache_write: float
    cache_read: float
    cache_write_1h: float

    @classmethod
    def from_rate_card(cls, card, model: str) -> Prices:
        def per_token(field: str) -> float:
            return card.cost(model, Usage(**{field: _PROBE})) / _PROBE

        p_in = per_token("input")
        return cls(input=p_in, output=per_token("output"), cache_write=per_token("cache_write"),
                   cache_read=per_token("cache_read"), cache_write_1h=ONE_HOUR_WRITE_MULTIPLIER * p_in)

    def cost(self, input: float, output: float, write: float, read: float, *, write_1h: float = 0.0) -> float:
        return (input * self.input + output * self.output + write * self.cache_write
                + write_1h * self.cache_write_1h + read * self.cache_read)

    def usage_cost(self, u: Usage, *, ttl: str = "5m") -> float:
        if ttl == "1h":
            return self.cost(u.input, u.output, 0, u.cache_read, write_1h=u.cache_write)
        return self.cost(u.input, u.output, u.cache_write, u.cache_read)


@dataclass(frozen=True)
class LoopUsage:
    input: float
    output: float
    cache_write: float
    cache_read: float

    @property
    def prompt_side(self) -> float:
        return self.input + self.cache_read

    def cost(self, prices: Prices, *, ttl: str = "5m") -> float:
        if ttl == "1h":
            return prices.cost(self.input, self.output, 0, self.cache_read, write_1h=self.cache_write)
        return prices.cost(self.input, self.output, self.cache_write, self.cache_read)


@dataclass(frozen=True)
class Loop:
    base: float  # prompt of the first cached request: tools + system + task (+ warm-up turns)
    turns: float  # requests in the loop, warm-up included
    growth: float  # tokens the loop appends per turn by itself (model output + tool results)
    output_per_turn: float = 0.0
    delegations: float = 0.0  # hand-backs received over the loop
    handback: float = 0.0  # tokens per hand-back
    warmup_turns: float = 0.0
    warmup_tokens: float = 0.0
    tail: float = 0.0

    def __post_init__(self) -> None:
        for name in ("base", "turns", "growth", "output_per_turn", "delegations", "handback",
                     "warmup_turns", "warmup_tokens", "tail"):
            v = getattr(self, name)
            if v < 0:
                raise UserError(f"loop model: {name} must be >= 0, got {v}")
        if self.warmup_turns > self.turns:
            raise UserError(f"loop model: warmup_turns ({self.warmup_turns}) exceeds turns ({self.turns})")

    @property
    def cached_turns(self) -> float:
        return self.turns - self.warmup_turns

    def capped(self, cap: float | None) -> Loop:
        """The same trajectory with every hand-back cut to at most `cap` tokens."""
        return self if cap is None else replace(self, handback=min(self.handback, cap))

    def usage(self, *, caching: bool = True) -> LoopUsage:
        n = self.cached_turns
        hb = self.delegations * self.handback
        out = self.output_per_turn * self.turns
        fixed_input = self.warmup_tokens + self.tail * self.turns
        if n <= 0:
            return LoopUsage(fixed_input, out, 0.0, 0.0)
        if not caching:
            # every request's prompt is input: sum of P_i over the cached phase
            prompts = n * self.base + self.growth * n * (n - 1) / 2 + hb * n / 2
            return LoopUsage(fixed_input + prompts, out, 0.0, 0.0)
        write = self.base + (n - 1) * self.growth + hb
        read = (n - 1) * self.base + (n - 1) * (n - 2) / 2 * self.growth + hb * max(n - 2, 0) / 2
        return LoopUsage(fixed_input, out, write, read)

    def handback_token_cost(self, prices: Prices, *, ttl: str = "5m") -> float:
        """Dollars one more token in every hand-back adds: D * (p_write + mean re-reads * p_read)."""
        rereads = max(self.cached_turns - 2, 0) / 2
        p_w = prices.cache_write_1h if ttl == "1h" else prices.cache_write
        return self.delegations * (p_w + rereads * prices.cache_read)


def rereads(turns: int, k: int) -> int:
    """How often a token first sent in request k (1-based) of a T-request cached loop is read back."""
    if not 1 <= k <= turns:
        raise UserError(f"turn {k} is outside a loop of {turns} turns; use 1..{turns}")
    return turns - k


def breakeven_handback(loop: Loop, prices: Prices, target_cost: float, *, other_cost: float = 0.0,
                       ttl: str = "5m") -> float | None:
    """Largest hand-back (tokens) at which loop cost + other_cost <= target_cost.

    None when even empty hand-backs cost more; inf when the loop has no delegations and is cheaper.
    """
    at_zero = loop.capped(0).usage().cost(prices, ttl=ttl) + other_cost
    if at_zero > target_cost:
        return None
    slope = loop.handback_token_cost(prices, ttl=ttl)
    if slope <= 0:
        return float("inf")
    return (target_cost - at_zero) / slope
