"""Fit the loop model to recorded per-role totals (the paper's trials) and find break-even hand-backs.

What the fit assumes, printed next to every number it produces (`ASSUMPTIONS`):
- one orchestrator request per iteration, and `tail` tokens after the last breakpoint per request
  (1 in the paper's data: input - iterations is the same for every trial of a cell, see docs);
- the input left after the tail is the warm-up: requests below the model's minimum cacheable
  length (2048 for Opus 4.7, 4096 for Haiku 4.5), each shorter than that minimum;
- the first cached request is just past the minimum, and the context grows linearly up to the
  last request, which is what cache_write measures (everything is written once);
- an orchestrated arm's own growth per turn equals its solo baseline's on the same task (same
  model, tools and repository); what it grows more is hand-backs, of the size the arm's return
  policy allows (the paper: B 4000 chars, C 1500 chars; 4 characters per token).
cache_read is then a prediction, not an input of the fit: comparing it with the recorded value
measures how well turns and context growth explain the bill.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from orchbench.errors import UserError
from orchbench.records import Trial, Usage, lead_role
from orchbench.simulate.billing import min_cacheable_for
from orchbench.simulate.model import Loop, LoopUsage, Prices, breakeven_handback
from orchbench.simulate.replay import CHARS_PER_TOKEN

# The paper's harness: what one delegation can hand back (its arms B and C).
PAPER_HANDBACK_CHARS: dict[str, int] = {"B": 4000, "C": 1500}
DEFAULT_HANDBACK_CHARS = 4000
PAPER_TAIL = 1.0

ASSUMPTIONS = (
    "one orchestrator request per iteration; 1 token after the last cache breakpoint per request",
    "input beyond that = warm-up requests below the model's minimum cacheable length (never re-read)",
    "context grows linearly from the minimum cacheable length to the last prompt (= cache_write)",
    "an orchestrated arm grows by itself as fast as its solo baseline; the excess is hand-backs",
    "hand-backs are as long as the arm's return policy allows (B 4000, C 1500 chars; 4 chars/token)",
    "same trajectory under every what-if: same turns, outputs and timing (no cache expiry)",
)


@dataclass
class Observed:
    """Success-only medians of one cell, orchestrator (or solo) role."""

    n: int
    turns: float
    usage: LoopUsage
    cost: float  # median total cost of the trial
    orchestrator_cost: float
    other_cost: float  # median cost of the other role (the executor), kept as recorded


@dataclass
class FittedCell:
    arm: str
    task: str
    model: str
    observed: Observed
    loop: Loop
    prices: Prices
    baseline: str | None = None  # the solo arm this orchestrated arm is compared with
    handback_tokens: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def predicted(self) -> LoopUsage:
        return self.loop.usage()

    def cost(self, *, cap: float | None = None, caching: bool = True, ttl: str = "5m") -> float:
        u = self.loop.capped(cap).usage(caching=caching)
        return u.cost(self.prices, ttl=ttl) + self.observed.other_cost

    @property
    def read_error(self) -> float | None:
        obs = self.observed.usage.cache_read
        return self.predicted.cache_read / obs - 1 if obs else None


def _median(xs: Iterable[float]) -> float:
    return float(statistics.median(list(xs)))


def fit_loop(turns: float, u: LoopUsage, *, min_cacheable: int, tail: float = PAPER_TAIL) -> Loop:
    """Loop parameters from one role's totals (see the module docstring for the assumptions)."""
    if turns < 1:
        raise UserError(f"cannot fit a loop of {turns} turns: need at least one request")
    warm_tokens = max(u.input - tail * turns, 0.0)
    if min_cacheable > 0 and warm_tokens > 0:
        warm = min(float(math.ceil(warm_tokens / min_cacheable)), turns - 1)
    else:
        warm = 0.0
    n = turns - warm
    out = u.output / turns
    if u.cache_write == 0 and u.cache_read == 0:  # nothing was cached: all prompt is input
        return Loop(base=0, turns=turns, growth=0, output_per_turn=out, warmup_turns=turns,
                    warmup_tokens=u.input, tail=0)
    if warm > 0:
        base = min(float(min_cacheable), u.cache_write)
    elif n >= 3:  # no warm-up: solve base and growth from write and read together
        a = (n - 1) * (n - 2) / 2
        growth = (u.cache_read - (n - 1) * u.cache_write) / (a - (n - 1) ** 2)
        base = u.cache_write - (n - 1) * growth
        if growth < 0 or base < 0:
            base, growth = u.cache_write, 0.0
        return Loop(base=base, turns=turns, growth=growth, output_per_turn=out, tail=tail)
    else:
        base = u.cache_write
    growth = (u.cache_write - base) / (n - 1) if n > 1 else 0.0
    return Loop(base=base, turns=turns, growth=max(growth, 0.0), output_per_turn=out,
                warmup_turns=warm, warmup_tokens=warm_tokens, tail=tail)


def _min_for(model: str) -> int:
    try:
        return min_cacheable_for(model)
    except UserError:
        return 0  # not an Anthropic model: no documented minimum, assume none


def observe(trials: list[Trial]) -> Observed:
    ok = [t for t in trials if t.status == "success"]
    orch = [t.usage.get(lead_role(t.usage), Usage()) for t in ok]
    return Observed(
        n=len(ok),
        turns=_median(t.iterations for t in ok),
        usage=LoopUsage(_median(u.input for u in orch), _median(u.output for u in orch),
                        _median(u.cache_write for u in orch), _median(u.cache_read for u in orch)),
        cost=_median(t.total_cost for t in ok),
        orchestrator_cost=_median(t.cost.get(lead_role(t.usage), 0.0) for t in ok),
        other_cost=_median(t.total_cost - t.cost.get(lead_role(t.usage), 0.0) for t in ok),
    )


def fit_cells(
    trials: Iterable[Trial],
    rate_card,
    *,
    handback_chars: Mapping[str, int] | None = None,
    baseline: str | None = None,
    tail: float = PAPER_TAIL,
) -> list[FittedCell]:
    """One fitted cell per (arm, task) with at least one success; orchestrated arms split into
    own growth and hand-backs against a solo baseline with the same orchestrator model."""
    chars = dict(PAPER_HANDBACK_CHARS if handback_chars is None else handback_chars)
    groups: dict[tuple[str, str], list[Trial]] = {}
    for t in trials:
        groups.setdefault((t.arm, t.task), []).append(t)
    cells: list[FittedCell] = []
    for (arm, task), ts in sorted(groups.items()):
        ok = [t for t in ts if t.status == "success"]
        if not ok or ok[0].iterations < 1:
            continue
        model = ok[0].models.get(lead_role(ok[0].models))
        if model is None:
            continue
        obs = observe(ts)
        loop = fit_loop(obs.turns, obs.usage, min_cacheable=_min_for(model), tail=tail)
        solo = not any(t.usage.get("executor") for t in ok) and "executor" not in ok[0].models
        cell = FittedCell(arm, task, model, obs, loop, Prices.from_rate_card(rate_card, model))
        cell.notes.append("solo" if solo else "orchestrated")
        cells.append(cell)
    _split_handbacks(cells, chars, baseline)
    return cells


def _solo(cell: FittedCell) -> bool:
    return cell.notes[:1] == ["solo"]


def _split_handbacks(cells: list[FittedCell], chars: Mapping[str, int], baseline: str | None) -> None:
    for c in cells:
        if _solo(c):
            continue
        bases = [b for b in cells if b.task == c.task and _solo(b) and b.model == c.model
                 and (baseline is None or b.arm == baseline)]
        if not bases:
            c.notes.append("no solo baseline with the same orchestrator model: hand-backs not separated")
            continue
        base = min(bases, key=lambda b: b.arm)
        c.baseline = base.arm
        h = chars.get(c.arm, DEFAULT_HANDBACK_CHARS) / CHARS_PER_TOKEN
        c.handback_tokens = h
        n = c.loop.cached_turns
        excess = c.loop.growth - base.loop.growth
        if excess <= 0 or n < 2 or h <= 0:
            c.notes.append(f"grows no faster than {base.arm} per turn: no hand-back visible")
            continue
        d = excess * (n - 1) / h
        c.loop = replace(c.loop, growth=base.loop.growth, delegations=d, handback=h)


@dataclass
class BreakEven:
    arm: str
    task: str
    baseline: str
    baseline_cost: float  # model-predicted cost of the solo baseline per task
    cost: float  # model-predicted cost of the orchestrated arm as recorded
    cost_empty_handbacks: float  # ... with hand-backs of 0 tokens
    handback_tokens: float  # the hand-back size assumed as recorded
    delegations: float
    breakeven_tokens: float | None  # largest hand-back at which cost <= baseline; None: no size is enough
    dollars_per_handback_token: float
    growth_per_turn: float  # all context the arm appends per turn (own + hand-backs), as fitted
    breakeven_growth: float | None  # largest per-turn growth at which cost <= baseline; None: turns alone cost more
    verdict: str = ""  # the break-even hand-back in words

    def __post_init__(self) -> None:
        k = self.breakeven_tokens
        if k is None:
            self.verdict = (f"none: {self.arm} costs more than {self.baseline} on {self.task} even with "
                            "empty hand-backs")
        elif k == float("inf"):
            self.verdict = f"any: {self.arm} costs no more than {self.baseline} on {self.task} whatever it hands back"
        else:
            self.verdict = (f"{self.arm} costs no more than {self.baseline} on {self.task} with hand-backs "
                            f"of at most {k:,.0f} tokens ({k * CHARS_PER_TOKEN:,.0f} characters)")


def breakevens(cells: list[FittedCell], *, ttl: str = "5m") -> list[BreakEven]:
    by = {(c.arm, c.task): c for c in cells}
    out: list[BreakEven] = []
    for c in cells:
        if c.baseline is None:
            continue
        base = by[(c.baseline, c.task)]
        target = base.cost(ttl=ttl)
        k = breakeven_handback(c.loop, c.prices, target, other_cost=c.observed.other_cost, ttl=ttl)
        out.append(BreakEven(
            arm=c.arm, task=c.task, baseline=base.arm, baseline_cost=target, cost=c.cost(ttl=ttl),
            cost_empty_handbacks=c.cost(cap=0, ttl=ttl), handback_tokens=c.handback_tokens,
            delegations=c.loop.delegations, breakeven_tokens=k,
            dollars_per_handback_token=c.loop.handback_token_cost(c.prices, ttl=ttl),
            growth_per_turn=_total_growth(c.loop),
            breakeven_growth=_breakeven_growth(c, target, ttl),
        ))
    return out


def read_ratios(cells: list[FittedCell], baseline: str) -> list[dict]:
    """Observed and predicted orchestrator cache_read ratios of every arm to `baseline`, per task."""
    by = {(c.arm, c.task): c for c in cells}
    rows = []
    for c in cells:
        b = by.get((baseline, c.task))
        if b is None or c.arm == baseline or not b.observed.usage.cache_read or not b.predicted.cache_read:
            continue
        rows.append({
            "arm": c.arm, "task": c.task, "baseline": baseline,
            "observed": c.observed.usage.cache_read / b.observed.usage.cache_read,
            "predicted": c.predicted.cache_read / b.predicted.cache_read,
        })
    return rows


def _total_growth(loop: Loop) -> float:
    n = loop.cached_turns
    return loop.growth + (loop.delegations * loop.handback / (n - 1) if n > 1 else 0.0)


def _breakeven_growth(c: FittedCell, target: float, ttl: str) -> float | None:
    """Per-turn context growth (own + hand-backs) at which the arm costs what its baseline costs."""
    flat = replace(c.loop, growth=0.0, delegations=0.0)
    at_zero = flat.usage().cost(c.prices, ttl=ttl) + c.observed.other_cost
    if at_zero > target:
        return None
    slope = replace(flat, growth=1.0).usage().cost(c.prices, ttl=ttl) + c.observed.other_cost - at_zero
    return (target - at_zero) / slope if slope > 0 else float("inf")
