"""`simulate()`: trials in, one `Simulation` out — break-even hand-backs, model fit, replay check,
what-ifs and the plot. What `orchbench simulate` prints, and what a notebook calls."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from orchbench.analysis.summary import finite
from orchbench.errors import UserError
from orchbench.simulate.fit import ASSUMPTIONS, BreakEven, FittedCell, breakevens, fit_cells, read_ratios
from orchbench.simulate.replay import replay, replayable
from orchbench.simulate.whatif import Item, WhatIf, run_whatif, scenarios

PAPER_CARD = "paper-2026-06"


@dataclass
class ReplayCheck:
    trials: int = 0  # trials with calls that could be replayed (Anthropic models)
    calls: int = 0
    exact_calls: int = 0
    skipped_calls: int = 0  # calls of models without documented caching rules (kept as recorded)


@dataclass
class Simulation:
    source: str
    rate_card: str
    assumptions: list[str]
    breakeven: list[BreakEven]
    cells: list[FittedCell]
    ratios: list[dict[str, Any]]
    replay: ReplayCheck
    whatif: WhatIf | None = None
    plots: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return finite({
            "source": self.source,
            "rate_card": self.rate_card,
            "assumptions": self.assumptions,
            "breakeven": [asdict(b) for b in self.breakeven],
            "fit": {
                "cells": [_cell_dict(c) for c in self.cells],
                "cache_read_ratios": self.ratios,
            },
            "replay": asdict(self.replay),
            "whatif": self.whatif.to_dict() if self.whatif else None,
            "plots": self.plots,
            "notes": self.notes,
        })


def _cell_dict(c: FittedCell) -> dict[str, Any]:
    return {
        "arm": c.arm, "task": c.task, "model": c.model, "n_success": c.observed.n,
        "baseline": c.baseline, "loop": asdict(c.loop),
        "observed": {"turns": c.observed.turns, **asdict(c.observed.usage), "cost": c.observed.cost},
        "predicted": {**asdict(c.predicted), "cost": c.cost()},
        "cache_read_error": c.read_error, "notes": c.notes,
    }


def check_replay(items: list[Item]) -> ReplayCheck:
    out = ReplayCheck()
    for _, calls in items:
        if not calls:
            continue
        known = replayable(calls)
        out.skipped_calls += len(calls) - len(known)
        if not known:
            continue
        rp = replay(known)
        out.trials += 1
        out.calls += len(rp.steps)
        out.exact_calls += len(rp.steps) - len(rp.mismatches())
    return out


def simulate(
    items: list[Item],
    *,
    source: str = "",
    rate_card: str | Path | None = None,
    no_cache: bool = False,
    handback_cap: int | None = None,
    ttl: str | None = None,
    plot_dir: str | Path | None = None,
    baseline: str | None = None,
) -> Simulation:
    """Fit the closed-form cost model to recorded trials (from `load_items`) and answer what-ifs.

    `rate_card` re-prices (default: "current" for trials with calls, the paper's card otherwise);
    `no_cache`, `handback_cap` (tokens) and `ttl` ("5m" | "1h") each add a what-if scenario that
    re-bills the recorded calls; `plot_dir` writes the cost-vs-hand-back plot.
    """
    from orchbench.pricing import load_rate_card

    if not items:
        raise UserError(f"no trials in {source or 'the input'}: nothing to simulate")
    has_calls = any(c for _, c in items)
    card = load_rate_card(rate_card if rate_card is not None else ("current" if has_calls else PAPER_CARD))
    trials = [t for t, _ in items]
    cells = fit_cells(trials, card, baseline=baseline)
    bes = breakevens(cells)
    base = baseline or _common_baseline(cells)
    sim = Simulation(
        source=source, rate_card=card.name, assumptions=list(ASSUMPTIONS), breakeven=bes, cells=cells,
        ratios=read_ratios(cells, base) if base else [], replay=check_replay(items),
    )
    scens = scenarios(reprice=card if rate_card is not None else None, no_cache=no_cache,
                      handback_cap=handback_cap, ttl=ttl)
    if scens:
        sim.whatif = run_whatif(items, card, scens)
    if ttl == "5m":
        sim.notes.append("--cache-ttl 5m is the default the trials were billed with: nothing to compare")
    if not has_calls and sim.whatif is None:  # a what-if says the same in its own notes
        sim.notes.append("paper-format trials hold per-role totals only, no calls: nothing to replay; "
                         "the closed-form loop model stands in for them")
    if plot_dir is not None:
        from orchbench.simulate.plot import write_handback_plot

        sim.plots = [str(p) for p in write_handback_plot(cells, bes, plot_dir, rate_card=card.name)]
    return sim


def _common_baseline(cells: list[FittedCell]) -> str | None:
    bases = sorted({c.baseline for c in cells if c.baseline})
    return bases[0] if bases else None
