"""CLI: `orchbench analyze`, `orchbench report`, `orchbench reproduce` (parse, call, render)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from orchbench.cli.app import DEFAULT_DB, DbOption, app, console

ResultsOption = Annotated[
    list[Path] | None,
    typer.Option("--results", help="Paper-format JSONL file or directory (repeat, or list files after it)."),
]
MoreResults = Annotated[list[Path] | None, typer.Argument(help="More results files (after --results).",
                                                            show_default=False)]
RateCardOption = Annotated[
    str | None,
    typer.Option("--rate-card", help="Re-price from usage: 'current', 'paper-2026-06' or a TOML file. "
                                     "Without it the recorded costs stand."),
]
BaselineOption = Annotated[str | None, typer.Option("--baseline", help="Arm token ratios are taken against "
                                                                          "(default: first arm in sort order).")]


def _load(ctx: typer.Context, db: Path | None, results: list[Path] | None, more: list[Path] | None,
          rate_card: str | None):
    from orchbench.analysis.sources import load_trials
    from orchbench.errors import UserError

    files = [*(results or []), *(more or [])]
    if more and not results:
        raise UserError(f"unexpected argument {more[0]}; use --results {more[0]} to analyse files")
    # ORCHBENCH_DB in the environment is a default, not a choice: explicit --results win over it.
    source = ctx.get_parameter_source("db")
    if files and db is not None and getattr(source, "name", None) != "ENVIRONMENT":
        raise UserError("give either --db or --results, not both")
    return load_trials(db=None if files else (db or DEFAULT_DB), results=files, with_calls=rate_card is not None)


def _simulator_section(db: Path | None, files: list[Path], rate_card: str | None) -> list:
    """The simulator's break-even section, when the trials hold an orchestrated arm and its solo baseline."""
    from orchbench.errors import UserError
    from orchbench.simulate.run import simulate
    from orchbench.simulate.section import report_section
    from orchbench.simulate.whatif import load_items

    try:
        sim = simulate(load_items(db=None if files else (db or DEFAULT_DB), results=files), rate_card=rate_card)
    except UserError:
        return []  # nothing the simulator can say about these trials (no solo baseline, say)
    return [report_section(sim)] if sim.breakeven else []


def _print_json(obj: object) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")


@app.command()
def analyze(
    ctx: typer.Context,
    db: DbOption = None,  # type: ignore[assignment]
    results: ResultsOption = None,
    more: MoreResults = None,
    rate_card: RateCardOption = None,
    baseline: BaselineOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the cells as CSV on stdout.")] = False,
    heatmap: Annotated[Path | None, typer.Option("--heatmap", help="Write the arm x task heat map (PNG or SVG) "
                                                                    "here (several tasks only).")] = None,
) -> None:
    """Cells, pairwise tests and Pareto fronts; across several tasks also paired tests, mixed effects, heat map."""
    from orchbench.analysis import analyze as run_analysis
    from orchbench.analysis.tables import cells_csv, cells_table, pairwise_table, tokens_table
    from orchbench.cli.fit import print_tables

    a = run_analysis(_load(ctx, db, results, more, rate_card), baseline=baseline, rate_card=rate_card)
    if as_json:
        _print_json(a.to_dict())
    elif as_csv:
        sys.stdout.write(cells_csv(a))
    else:
        print_tables(console, cells_table(a), pairwise_table(a), tokens_table(a))
        _print_across_tasks(a, heatmap)


def _print_across_tasks(a, heatmap: Path | None) -> None:  # type: ignore[no-untyped-def]
    from orchbench.analysis.across import across_tasks, mixed_table, paired_table
    from orchbench.analysis.heatmap import write_heatmap
    from orchbench.cli.fit import print_tables

    x = across_tasks(a)
    if x is None:
        return
    print_tables(console, paired_table(x), mixed_table(x))
    where = write_heatmap(a, str(heatmap)) if heatmap else "pass --heatmap FILE, or see figures/heatmap.svg of `report`"
    console.print(f"heat map (arm x task: cost, success): {where}", highlight=False, markup=False)


@app.command()
def report(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Directory for index.html, analysis.json, figures/.")],
    db: DbOption = None,  # type: ignore[assignment]
    results: ResultsOption = None,
    more: MoreResults = None,
    rate_card: RateCardOption = None,
    baseline: BaselineOption = None,
) -> None:
    """Write one self-contained HTML report (tables + figures) that opens offline."""
    from orchbench.analysis import analyze as run_analysis
    from orchbench.analysis.report import write_report

    a = run_analysis(_load(ctx, db, results, more, rate_card), baseline=baseline, rate_card=rate_card)
    index = write_report(a, out, extra=_simulator_section(db, [*(results or []), *(more or [])], rate_card))
    console.print(f"report: {index}", highlight=False, markup=False)


@app.command()
def reproduce(
    out: Annotated[Path, typer.Option("--out", help="Report directory.")] = Path("orchbench-report"),
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    rate_card: Annotated[str, typer.Option("--rate-card", help="Card to re-price the paper's trials with.")]
    = "current",
) -> None:
    """Reproduce the paper's section 4 from its shipped data (no API key, no network), then re-price it."""
    from rich.markup import escape

    from orchbench.analysis.compare import describe
    from orchbench.analysis.reproduce import PAPER
    from orchbench.analysis.reproduce import reproduce as run_reproduce
    from orchbench.analysis.tables import cells_table, pairwise_table, tokens_table
    from orchbench.cli.fit import print_tables, wide

    r = run_reproduce(out=out, rate_card=rate_card)
    if as_json:
        _print_json(r.to_dict())
        return
    out_console = wide(console)
    out_console.print(f"[bold]Reproducing[/bold] {escape(PAPER)}", highlight=False)
    print_tables(out_console, cells_table(r.paper))
    if r.caps_caveat:
        out_console.print(escape(r.caps_caveat), highlight=False)
    print_tables(out_console, pairwise_table(r.paper), tokens_table(r.paper))
    out_console.print(f"\n[bold]Re-priced with {escape(r.repriced.rate_card)}[/bold] "
                      "(costs recomputed from recorded usage)")
    print_tables(out_console, cells_table(r.repriced))
    lines = describe(r.changes)
    out_console.print("[bold]What changes:[/bold]" if lines else "No ordering, sign or Pareto changes.")
    for line in lines:
        out_console.print(f"  - {escape(line)}", highlight=False)
    out_console.print(f"\nreport: {escape(str(r.report))}", highlight=False)
