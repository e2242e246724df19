"""CLI: `orchbench batch` (run an experiment to its targets) and `orchbench status` (per-cell coverage)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.live import Live
from rich.table import Table

from orchbench.cli.app import DEFAULT_DB, DbOption, app, console
from orchbench.cli.fit import print_tables
from orchbench.errors import UserError
from orchbench.runner.schedule import CellKey, CellState, Policy, totals


def cells_table(title: str, policy: Policy, states: dict[CellKey, CellState], note: str | None = None) -> Table:
    budget = f"budget ${policy.max_usd:.2f}" if policy.max_usd is not None else ""
    caption = "; ".join(x for x in (budget, note) if x) or None
    table = Table(title=title, caption=caption, title_justify="left", caption_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False)
    # Short headers: the table must fit 80 columns, names are never cut.
    for col in ("arm", "task", "succ", "att", "infra", "intr", "run", "next", "cost $", "state"):
        left = col in ("arm", "task", "state")
        table.add_column(col, justify="left" if left else "right", no_wrap=True,
                         min_width=8 if col == "state" else len(col))
    for st in states.values():
        table.add_row(
            st.arm, st.task, f"{st.successes}/{policy.target_successes}", f"{st.attempts}/{policy.max_attempts}",
            str(st.infra_errors), str(st.interrupted), str(st.running), str(st.next_attempt),
            f"{st.cost:.3f}", st.status(policy),
        )
    tot = totals(states)
    table.add_section()
    table.add_row(
        "all", f"{len(states)} cells", str(int(tot["successes"])), str(int(tot["attempts"])),
        str(int(tot["infra_errors"])), str(int(tot["interrupted"])), str(int(tot["running"])), "",
        f"{tot['cost']:.3f}", f"{sum(s.status(policy) in ('done', 'capped') for s in states.values())}/{len(states)} end",
    )
    return table


@app.command()
def batch(
    experiment: Annotated[Path | None, typer.Argument(help="Experiment TOML file.")] = None,
    preset: Annotated[str | None, typer.Option("--preset", help="A built-in experiment: paper.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", "-j", min=1, help="Trials at once.")] = None,
    max_usd: Annotated[float | None, typer.Option("--max-usd", help="Stop scheduling past this spend.")] = None,
    backend: Annotated[str, typer.Option("--backend", help="local (process pool) or ray.")] = "local",
    address: Annotated[str | None, typer.Option("--address", help="Ray head HOST:PORT.")] = None,
    unsafe_no_sandbox: Annotated[
        bool, typer.Option("--unsafe-no-sandbox", help="Run agent commands without bubblewrap.")
    ] = False,
    db: DbOption = DEFAULT_DB,
    stop_when_decided: Annotated[bool, typer.Option(
        "--stop-when-decided", help="Stop once the paired comparison of two arms is decided (group-sequential, "
                                    "O'Brien-Fleming alpha spending over planned looks).")] = False,
    compare: Annotated[str | None, typer.Option("--compare", help="The two arms, A:B (default: the "
                                                                   "experiment's two arms).")] = None,
    looks: Annotated[int, typer.Option("--looks", min=1, help="Planned looks for --stop-when-decided.")] = 4,
    futility: Annotated[float | None, typer.Option("--futility", min=1.0, help="Also stop once a cost ratio "
                                                                                "this large is ruled out.")] = None,
) -> None:
    """Run an experiment: every arm on every task until each cell has its target successes."""
    from orchbench.runner.batch import Snapshot, check_backend, make_backend, run_batch
    from orchbench.runner.experiment import load_experiment
    from orchbench.runner.stopping import StopRule

    check_backend(backend)
    if max_usd is not None and max_usd < 0:
        raise UserError(f"--max-usd {max_usd}: a budget must be >= 0 dollars")
    if backend == "ray":
        from orchbench.runner.ray_backend import check_reachable

        check_reachable(address)  # before loading anything: a wrong address is the likeliest mistake
    overrides = {"workers": workers, "max_usd": max_usd, "unsafe_no_sandbox": unsafe_no_sandbox or None}
    exp = load_experiment(experiment, preset_name=preset, **overrides)
    rule = None
    if stop_when_decided or compare:
        pair = compare.split(":") if compare else list(exp.arms)
        if len(pair) != 2:
            raise UserError(f"--compare {compare or ''!r}: name two arms as A:B (the experiment has "
                            f"{len(exp.arms)} arms: {', '.join(exp.arms)})")
        rule = StopRule(pair[0], pair[1], looks=looks, futility_ratio=futility)
    n = exp.spec.workers
    be = make_backend(backend, n, address)

    live = Live(console=console, auto_refresh=False, transient=False) if console.is_terminal else None

    def show(snap: Snapshot) -> None:
        note = {"budget": "budget reached: no new trials", "interrupt": "stopping: waiting for running trials "
                "(Ctrl-C again to abandon them)"}.get(snap.stopping or "")
        if live is not None:
            live.update(cells_table(f"experiment {snap.experiment} ({be.name}, {n} workers)", snap.policy,
                                    snap.states, note), refresh=True)
            for e in snap.events:
                live.console.print(e, highlight=False)
        else:
            for e in snap.events:
                console.print(e, highlight=False, markup=False)

    if live is not None:
        live.start()
    try:
        report = run_batch(exp, db, backend=be, workers=n, on_update=show, stop_rule=rule)
    finally:
        if live is not None:
            live.stop()
    if live is None:
        console.print(cells_table(f"experiment {exp.id}", report.policy, report.states))
    if report.recovered:
        console.print(f"re-ran {len(report.recovered)} trial(s) interrupted by an earlier batch", highlight=False)
    console.print(f"started {report.started} trial(s); stopped: {report.stopped_by}", highlight=False)
    if report.decision:
        console.print(report.decision, highlight=False, markup=False)
    if report.saved:
        console.print(f"stopping early saved about {report.saved['trials']} trial(s) in {report.saved['cells']} "
                      f"cell(s), about ${report.saved['usd']:.2f}", highlight=False)
    if report.stopped_by == "interrupt":
        raise typer.Exit(130)


@app.command()
def status(
    db: DbOption = DEFAULT_DB,
    experiment: Annotated[str | None, typer.Option("--experiment", "-e", help="Only this experiment id.")] = None,
) -> None:
    """Per-cell coverage of the experiments in the store: successes, attempts, infra errors, next attempt."""
    if not db.exists():
        raise UserError(f"{db}: no such store; run `orchbench batch` first or pass --db PATH")
    from orchbench.runner.status import coverage
    from orchbench.store import Store

    with Store(db, readonly=True) as store:
        views = coverage(store, experiment)
    if not views:
        where = f"experiment {experiment!r}" if experiment else "any experiment"
        raise UserError(f"{db}: no trials for {where}; see `orchbench status --db {db}` for what is there")
    for view in views:
        print_tables(console, cells_table(f"experiment {view.experiment}", view.policy, view.states))
