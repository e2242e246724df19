"""CLI: `orchbench simulate` — what would these trials cost if… (parse, call, render)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from orchbench.cli.app import app, cannot_write, console


def _money(v: float | None) -> str:
    return "-" if v is None else f"${v:,.3f}"


def _tokens(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


@app.command()
def simulate(
    db: Annotated[Path | None, typer.Option("--db", help="SQLite results store (default: the paper's data).",
                                            envvar="ORCHBENCH_DB")] = None,
    results: Annotated[list[Path] | None, typer.Option(
        "--results", help="Paper-format JSONL file or directory (repeat, or list files after it).")] = None,
    more: Annotated[list[Path] | None, typer.Argument(help="More results files (after --results).",
                                                      show_default=False)] = None,
    rate_card: Annotated[str | None, typer.Option(
        "--rate-card", help="Price with 'current', 'paper-2026-06' or a TOML file; also shows the recorded "
                            "costs re-priced with it. Default: paper-2026-06 for paper data, else current.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="What if prompt caching were off.")] = False,
    handback_cap: Annotated[int | None, typer.Option(
        "--handback-cap", help="What if each executor hand-back were cut to K tokens.", metavar="K")] = None,
    cache_ttl: Annotated[str | None, typer.Option("--cache-ttl", help="What if the cache TTL were 5m or 1h.",
                                                  metavar="5m|1h")] = None,
    baseline: Annotated[str | None, typer.Option("--baseline", help="Solo arm orchestrated arms are compared "
                                                                     "with (default: same orchestrator model).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write the cost-vs-hand-back-cap plot "
                                                             "(PNG + SVG) into this directory.")] = None,
) -> None:
    """Predict what a configuration costs from recorded trials: break-even hand-back, what-ifs."""
    from orchbench.errors import UserError
    from orchbench.simulate.run import simulate as run_simulation
    from orchbench.simulate.whatif import load_items

    files = [*(results or []), *(more or [])]
    if more and not results:
        raise UserError(f"unexpected argument {more[0]}; use --results {more[0]} to simulate files")
    items = load_items(db=db, results=files)
    source = str(db) if db is not None else (", ".join(map(str, files)) or "the paper's data (packaged)")
    try:
        sim = run_simulation(items, source=source, rate_card=rate_card, no_cache=no_cache,
                             handback_cap=handback_cap, ttl=cache_ttl, plot_dir=plot, baseline=baseline)
    except OSError as exc:  # the only file it writes is the plot
        if plot is None:
            raise
        raise cannot_write("--plot", plot, exc) from None
    if as_json:
        sys.stdout.write(json.dumps(sim.to_dict()) + "\n")
        return
    _render(sim)


def _render(sim) -> None:
    console.print(f"[bold]orchbench simulate[/bold] — {sim.source}; prices: {sim.rate_card}")
    t = Table(title="Break-even hand-back per task (closed-form model fitted to the success medians)")
    for h in ("arm/solo", "task", "solo $", "arm $", "h=0 $", "h", "D", "h*", "g", "g*"):
        t.add_column(h, justify="left" if h in ("arm/solo", "task") else "right", no_wrap=True)
    for b in sim.breakeven:
        if b.breakeven_tokens is None:
            be = "none"
        elif b.breakeven_tokens == float("inf"):
            be = "any"
        else:
            be = _tokens(b.breakeven_tokens)
        bg = "none" if b.breakeven_growth is None else _tokens(b.breakeven_growth)
        t.add_row(f"{b.arm}/{b.baseline}", b.task, f"{b.baseline_cost:.2f}", f"{b.cost:.2f}",
                  f"{b.cost_empty_handbacks:.2f}", f"{b.handback_tokens:.0f}", f"{b.delegations:.1f}", be,
                  _tokens(b.growth_per_turn), bg)
    console.print(t)
    console.print(
        "$ per task; h: tokens per hand-back as recorded (assumed); D: hand-backs per trial (fitted); "
        "h*: break-even hand-back, the largest at which the arm costs no more than the solo arm ('none': it costs more even "
        "with empty hand-backs); g: context growth per turn (own + hand-backs); g*: the largest "
        "growth per turn at which it would ('none': its turns and output alone cost more).", highlight=False)
    for b in sim.breakeven:
        console.print(f"  - {b.verdict}", highlight=False)
    console.print("Assumptions:")
    for a in sim.assumptions:
        console.print(f"  - {a}", highlight=False)

    f = Table(title="Model fit: orchestrator cache_read predicted from turns, input and cache_write")
    for h in ("arm", "task", "turns", "read rec.", "read model", "error", "$ rec.", "$ model"):
        f.add_column(h, justify="left" if h in ("arm", "task") else "right")
    for c in sim.cells:
        err = "-" if c.read_error is None else f"{c.read_error:+.0%}"
        f.add_row(c.arm, c.task, f"{c.observed.turns:g}", _tokens(c.observed.usage.cache_read),
                  _tokens(c.predicted.cache_read), err, _money(c.observed.cost), _money(c.cost()))
    console.print(f)
    if sim.ratios:
        r = Table(title=f"cache_read ratio to {sim.ratios[0]['baseline']} (orchestrator), recorded vs model")
        for h in ("arm", "task", "recorded", "model"):
            r.add_column(h)
        for x in sim.ratios:
            r.add_row(x["arm"], x["task"], f"{x['observed']:.2f}", f"{x['predicted']:.2f}")
        console.print(r)
    rc = sim.replay
    if rc.trials:
        console.print(f"Replay: {rc.exact_calls} of {rc.calls} calls in {rc.trials} trials reproduced to the token"
                      + (f"; {rc.skipped_calls} calls of models without known caching rules kept as recorded"
                         if rc.skipped_calls else ""), highlight=False)
    if sim.whatif:
        _render_whatif(sim.whatif)
    for n in sim.notes:
        console.print(f"Note: {n}", highlight=False)
    for p in sim.plots:
        console.print(f"wrote {p}", highlight=False)


def _render_whatif(w) -> None:
    for s in w.scenarios:
        console.print(f"[bold]What if: {s.label}[/bold] ({s.assumption})")
        t = Table()
        for h in ("arm", "task", "median $ before", "after", "saving", "saving %"):
            t.add_column(h, justify="left" if h in ("arm", "task") else "right")
        for c in s.cells:
            pct = "-" if c["saving_pct"] is None else f"{c['saving_pct']:.1f}%"
            t.add_row(c["arm"], c["task"], _money(c["cost_before"]), _money(c["cost_after"]),
                      _money(c["saving"]), pct)
        console.print(t)
        how = ", ".join(f"{k}: {v}" for k, v in sorted(s.methods.items()))
        console.print(f"  all {w.n_trials} trials: {_money(s.total_before)} -> {_money(s.total_after)} "
                      f"(saving {_money(s.saving)}); computed by {how}", highlight=False)
        if s.flips:
            console.print("  Conclusions that flip:")
            for line in s.flips:
                console.print(f"    - {line}", highlight=False)
        else:
            console.print("  No conclusion of the analysis flips (cost order, pairwise sign, Pareto front).")
    for n in w.notes:
        console.print(f"Note: {n}", highlight=False)
