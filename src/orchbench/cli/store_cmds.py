"""CLI: `orchbench import` and `orchbench export` (parse, call the store, render)."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Annotated

import typer

from orchbench.cli.app import DEFAULT_DB, DbOption, app, cannot_write, console
from orchbench.errors import UserError
from orchbench.records import ROLES, Experiment, Trial

CSV_COLUMNS = (
    ["id", "experiment", "arm", "task", "attempt", "status", "wall_s", "iterations"]
    + [f"{r}_model" for r in ROLES]
    + [f"{r}_{k}" for r in ROLES for k in ("input", "output", "cache_write", "cache_read")]
    + [f"{r}_cost" for r in ROLES]
    + ["total_cost", "verdict_summary", "error", "source"]
)


@app.command("import")
def import_(
    files: Annotated[list[Path], typer.Argument(help="Paper-format JSONL files or directories of them.")],
    db: DbOption = DEFAULT_DB,
    experiment: Annotated[str, typer.Option("--experiment", help="Experiment id for the imported trials.")]
    = "imported",
) -> None:
    """Load paper-format JSONL results into the store: all lines or none."""
    from orchbench.paperformat import expand_paths, read_paper_files
    from orchbench.runner.experiment import check_experiment_id
    from orchbench.store import Store

    check_experiment_id(experiment, "--experiment")
    paths = expand_paths(files)
    items = read_paper_files(paths, experiment=experiment)  # every line is checked before the store is opened
    with Store(db) as store:
        replaced = len(store.existing_ids(t.id for t, _ in items))
        exp = Experiment(id=experiment, name=experiment, spec={"imported_from": [str(p) for p in paths]})
        store.add_trials(items, experiment=exp)  # one transaction: all or nothing
    infra = sum(t.status == "infra_error" for t, _ in items)
    console.print(
        f"imported {len(items)} lines from {len(paths)} file(s) into {db}: "
        f"{len(items) - infra} trials, {infra} infra error(s) (kept, not counted)"
        + (f"; {replaced} already stored were replaced, not duplicated" if replaced else ""),
        highlight=False, soft_wrap=True,
    )


@app.command("export")
def export(
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl (the paper format).")] = "jsonl",
    out: Annotated[Path | None, typer.Option("--out", help="Output file (default: stdout).")] = None,
    db: DbOption = DEFAULT_DB,
    experiment: Annotated[str | None, typer.Option("--experiment", help="Only this experiment.")] = None,
) -> None:
    """Write the stored trials as CSV or as paper-format JSONL (which `orchbench import` reads back)."""
    from orchbench.paperformat import write_paper_jsonl
    from orchbench.store import Store

    if fmt not in ("csv", "jsonl"):
        raise UserError(f"--format {fmt!r} is not supported; use --format csv or --format jsonl")
    with Store(db, readonly=True) as store:
        trials = store.trials(experiment=experiment)
    if out is not None and out.is_dir():
        raise UserError(f"--out {out}: is a directory; pass a file name")
    with ExitStack() as stack:
        try:
            f: IO[str] = sys.stdout if out is None else stack.enter_context(
                open(out, "w", encoding="utf-8", newline=""))
        except OSError as exc:
            raise cannot_write("--out", out, exc) from None
        n = write_paper_jsonl(trials, f) if fmt == "jsonl" else write_csv(trials, f)
    if out is not None:
        skipped = len(trials) - n
        console.print(f"exported {n} trials to {out}"
                      + (f" ({skipped} running/interrupted skipped)" if skipped else ""),
                      highlight=False, soft_wrap=True)


def write_csv(trials: Iterable[Trial], f: IO[str]) -> int:
    """One flat row per trial (all statuses), columns CSV_COLUMNS."""
    w = csv.writer(f, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    n = 0
    for t in trials:
        row: list[object] = [t.id, t.experiment, t.arm, t.task, t.attempt, t.status, t.wall_s, t.iterations]
        row += [t.models.get(r, "") for r in ROLES]
        for r in ROLES:
            u = t.usage.get(r)
            row += [u.input, u.output, u.cache_write, u.cache_read] if u else [0, 0, 0, 0]
        row += [t.cost.get(r, "") for r in ROLES]
        row += [t.total_cost, t.verdict_summary, t.error or "", t.source]
        w.writerow(row)
        n += 1
    return n
