"""CLI: `orchbench plan` — how many tasks and trials a comparison needs, and what they would cost."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchbench.cli.app import DEFAULT_DB, DbOption, app, console


def _pilot_columns(db: Path | None, results: list[Path], paper: bool, rate_card: str | None):  # type: ignore[no-untyped-def]
    from orchbench.analysis.columns import TrialColumns, from_trials, reprice
    from orchbench.analysis.sources import load_trials, paper_data_dir
    from orchbench.analysis.summary import resolve_rate_card

    files = [paper_data_dir()] if paper else results
    loaded = load_trials(db=None if files else (db or DEFAULT_DB), results=files, with_calls=rate_card is not None)
    card = resolve_rate_card(rate_card)
    if isinstance(loaded, TrialColumns):
        return reprice(loaded, card) if card is not None else loaded
    return from_trials(loaded, rate_card=card)


@app.command("plan")
def plan_cmd(
    a: Annotated[str, typer.Argument(help="First arm (the ratio is a / b).")],
    b: Annotated[str, typer.Argument(help="Second arm.")],
    db: DbOption = None,  # type: ignore[assignment]
    results: Annotated[list[Path] | None, typer.Option("--results", help="Pilot in paper-format JSONL.")] = None,
    paper: Annotated[bool, typer.Option("--paper", help="Use the paper's shipped trials as the pilot.")] = False,
    ratio: Annotated[float | None, typer.Option("--ratio", help="Cost ratio a / b to detect "
                                                                "(default: the pilot's).")] = None,
    power: Annotated[float, typer.Option("--power", min=0.05, max=0.99)] = 0.8,
    alpha: Annotated[float, typer.Option("--alpha", min=0.001, max=0.5)] = 0.05,
    successes: Annotated[str, typer.Option("--successes", help="Successes per cell to consider.")] = "1,3,5",
    rate_card: Annotated[str | None, typer.Option("--rate-card", help="Price the design with this card "
                                                                       "(default: the pilot's recorded costs).")] = None,
    simulations: Annotated[int, typer.Option("--simulations", min=100)] = 2000,
    seed: Annotated[int, typer.Option("--seed")] = 20261130,
) -> None:
    """From a pilot, the tasks x successes per cell needed to detect a cost ratio (simulated power)."""
    from orchbench.analysis.plan import estimate_pilot, plan
    from orchbench.errors import UserError

    try:
        ks = tuple(int(x) for x in successes.split(",") if x.strip())
    except ValueError:
        raise UserError(f"--successes {successes!r}: give whole numbers separated by commas, e.g. 1,3,5") from None
    if not ks or min(ks) < 1:
        raise UserError(f"--successes {successes!r}: each must be >= 1")
    pilot = estimate_pilot(_pilot_columns(db, results or [], paper, rate_card), a, b)
    p = plan(pilot, ratio=ratio, power=power, alpha=alpha, successes=ks, simulations=simulations, seed=seed)
    console.print(
        f"pilot: {a} / {b} over {pilot.tasks} task(s): ratio {pilot.ratio:.3f}; log-cost SD within a cell "
        f"{pilot.sd_within:.3f}, between tasks {pilot.sd_task:.3f}; success {a} {pilot.success_rate[a]:.2f}, "
        f"{b} {pilot.success_rate[b]:.2f}; $/trial {a} {pilot.cost_per_trial[a]:.2f}, {b} "
        f"{pilot.cost_per_trial[b]:.2f}", highlight=False, markup=False, soft_wrap=True)
    console.print(f"to detect ratio {p.ratio:.3f} at {power:.0%} power, two-sided alpha {alpha} "
                  f"(Wilcoxon signed-rank on per-task medians; {simulations} simulations, seed {seed}):",
                  highlight=False, markup=False)
    for d in p.designs:
        console.print(f"  {d.tasks:4d} tasks x {d.successes_per_cell} success(es) per cell: power {d.power:.2f}, "
                      f"about ${d.usd:,.2f} for both arms", highlight=False, markup=False)
    if p.note:
        console.print(p.note.strip(), highlight=False, markup=False)
