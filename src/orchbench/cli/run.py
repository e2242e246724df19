"""`orchbench run` (trials of one arm on one task) and `orchbench show` (one trial, call by call)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from orchbench.cli.app import DEFAULT_DB, DbOption, app, console, printable
from orchbench.errors import UserError
from orchbench.models.base import RetryPolicy
from orchbench.runner.limits import DEFAULT_DEADLINE_S, check_seconds, sigterm_interrupts


@app.command()
def run(
    arm: Annotated[str, typer.Option("--arm", help="Preset A, B, C, D, oracle, or an arm TOML file.")],
    task: Annotated[str, typer.Option("--task", help="Built-in task name (typer-T3) or a task TOML file.")],
    trials: Annotated[int, typer.Option("--trials", min=1, help="How many trials to run, one after another.")] = 1,
    base_url: Annotated[str | None, typer.Option(
        "--base-url", help="Point the arm's Anthropic/OpenAI models at this server (Ollama uses OLLAMA_HOST).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Set up, print arm, prompts, tools; call no model.")] = False,
    db: DbOption = DEFAULT_DB,
    rate_card: Annotated[str | None, typer.Option(
        "--rate-card", help="'current' (default), 'paper-2026-06', or a TOML file of prices.")] = None,
    experiment: Annotated[str, typer.Option("--experiment", help="Experiment id the trials belong to.")] = "adhoc",
    unsafe_no_sandbox: Annotated[bool, typer.Option(
        "--unsafe-no-sandbox", help="Run agent commands without bubblewrap (noted on the trial).")] = False,
    deadline: Annotated[float, typer.Option(
        "--deadline", help="Wall-clock seconds per trial; past it the trial ends as a failure.")] = DEFAULT_DEADLINE_S,
    request_deadline: Annotated[float, typer.Option(
        "--request-deadline", help="Seconds per model request, retries included.")] = RetryPolicy.deadline_s,
) -> None:
    """Run trials of an arm on a task; every API call is stored the moment its response arrives."""
    from orchbench.arms import load_arm
    from orchbench.runner.experiment import check_experiment_id
    from orchbench.tasks.spec import load_task

    deadline = check_seconds(deadline, "--deadline")
    retry = RetryPolicy(deadline_s=check_seconds(request_deadline, "--request-deadline"))
    check_experiment_id(experiment, "--experiment")

    the_arm = load_arm(arm)
    if base_url:
        the_arm = the_arm.with_base_url(base_url)
    the_task = load_task(task)
    if dry_run and getattr(the_arm, "kind", None) == "external":  # the agent's command, env, roles
        from orchbench.agent.external import describe

        console.print(describe(the_arm, the_task), markup=False, highlight=False)
        return
    if dry_run:
        _dry_run(the_arm, the_task, unsafe_no_sandbox)
        return

    from orchbench.pricing import load_rate_card
    from orchbench.records import Experiment
    from orchbench.runner.trial import check_ready, run_trial
    from orchbench.store import Store

    card = check_ready(the_task, the_arm, unsafe_no_sandbox=unsafe_no_sandbox, rate_card=load_rate_card(rate_card))
    failed_infra = 0
    with Store(db) as store, sigterm_interrupts():
        if experiment not in {e.id for e in store.experiments()}:
            store.add_experiment(Experiment(id=experiment, name=experiment))
        for i in range(trials):
            t = run_trial(the_task, the_arm, store=store, experiment=experiment, attempt=i,
                          unsafe_no_sandbox=unsafe_no_sandbox, rate_card=card, deadline_s=deadline, retry=retry)
            failed_infra += t.status == "infra_error"
            tokens = sum(u.total for u in t.usage.values())
            console.print(
                f"{t.id}  [bold]{t.status}[/bold]  turns {t.iterations}  tokens {tokens:,}  "
                f"${t.total_cost:.4f}  {t.wall_s:.1f}s" + (f"  {t.error}" if t.error else "")
                + (f"  ({t.failure_reason})" if t.failure_reason and t.status != "success" else ""),
                highlight=False,
            )
    console.print(f"stored in {db}; see a trial with: orchbench show TRIAL --db {db}", highlight=False)
    if failed_infra:
        raise typer.Exit(1)


def _dry_run(arm: Any, task: Any, unsafe_no_sandbox: bool) -> None:
    from orchbench.agent.assemble import preview
    from orchbench.models.factory import key_env
    from orchbench.tasks.workspace import workspace

    console.rule(f"arm {arm.name}")
    console.print_json(arm.model_dump_json(exclude={"prompts"}))
    for role, cfg in arm.models():
        var = key_env(cfg)
        state = "not needed" if var is None else (f"{var} set" if os.environ.get(var) else f"{var} MISSING")
        console.print(f"{role}: {cfg.provider} {cfg.model}  key: {state}", highlight=False)
    executor = ""
    if arm.orchestrated:
        cap = arm.executor_cap_for(task)
        executor = "; executor " + ("no turn cap" if cap is None else f"cap {cap}") + (
            f", {arm.executor_deadline_s:g} s per delegation" if arm.executor_deadline_s else "")
    console.print(f"outer-turn cap on {task.name}: {arm.cap_for(task)}{executor}", highlight=False)
    with workspace(task) as ws:
        console.rule(f"task {task.name}: set-up state")
        console.print(f"workspace {ws.root} (removed after this dry run)", highlight=False)
        console.print(f"source {task.source.describe()}; {len(ws.manifest)} files fingerprinted; "
                      f"{len(task.setup.inject)} injections; {len(task.setup.files)} files added", highlight=False)
        for item in getattr(ws, "applied", []) or []:
            console.print("injected " + "  ".join(f"{k}={v}" for k, v in item.items() if k != "code"),
                          highlight=False, markup=False)
        for rel, digest in sorted(ws.protected.items()):
            console.print(f"protected {rel} sha256 {digest}", highlight=False)
        view = preview(arm, task, ws, unsafe_no_sandbox=unsafe_no_sandbox)
    sections = [("system prompt", view.system), ("tool definitions", json.dumps(view.tools, indent=2)),
                ("first user message", view.first_message)]
    if view.executor_system is not None:
        sections += [("executor system prompt", view.executor_system),
                     ("executor tool definitions", json.dumps(view.executor_tools, indent=2))]
    for title, text in sections:
        console.rule(title)
        console.print(text, markup=False, highlight=False)
    console.rule(f"sizes in characters (prompt set {arm.prompts.set!r}, tool profile {arm.tool_profile!r})")
    for what, ours, paper in view.sizes(arm.orchestrated):
        versus = f"   paper {paper:,} ({ours / paper - 1:+.0%})" if paper else ""
        console.print(f"{what:<28} {ours:>7,}{versus}", highlight=False, markup=False)
    console.print("dry run: no model was called", highlight=False)


@app.command()
def show(
    trial_id: Annotated[str, typer.Argument(help="Trial id (see `orchbench status` or the run output).")],
    db: DbOption = DEFAULT_DB,
    full: Annotated[bool, typer.Option("--full", help="Print hand-backs in full.")] = False,
) -> None:
    """A trial call by call: token split, cost, what each delegation handed back, running total."""
    from orchbench.agent.recorder import DELEGATING_TOOLS
    from orchbench.cli.fit import print_tables
    from orchbench.store import Store

    if not Path(db).exists():
        raise UserError(f"{db}: no such results store; pass --db PATH (or run `orchbench run` first)")
    with Store(db, readonly=True) as store:
        trial = store.trial(trial_id)
        if trial is None:
            raise UserError(f"no trial {trial_id!r} in {db}; list trials with `orchbench status --db {db}`")
        calls = store.calls(trial_id)
    # Everything stored came from a model, a provider or an imported file: printed escaped, never raw.
    console.print(
        f"[bold]{escape(printable(trial.id))}[/bold]  arm {escape(printable(trial.arm))}  "
        f"task {escape(printable(trial.task))}  status [bold]{trial.status}[/bold]  "
        f"turns {trial.iterations}  ${trial.total_cost:.4f}  {trial.wall_s:.1f}s", highlight=False)
    for note in [*trial.notes, trial.error, trial.failure_reason, trial.verdict_summary]:
        if note:
            console.print(f"  {printable(note)}", highlight=False, markup=False)
    for role, u in trial.usage.items():
        console.print(f"{role}: input {u.input:,}  cache write {u.cache_write:,}  cache read {u.cache_read:,}  "
                      f"output {u.output:,}  ${trial.cost.get(role, 0.0):.4f}", highlight=False)
    if not calls:
        console.print("no per-call records (imported trials keep only their totals)", highlight=False)
        return
    table = Table(show_lines=False, box=None, pad_edge=False)
    for col in ("call", "model", "input", "c.write", "c.read", "output", "$", "total $", "tools", "back"):
        table.add_column(col, justify="left" if col in ("call", "model", "tools") else "right", no_wrap=True)
    running = 0.0
    handbacks: list[tuple[str, str]] = []
    for c in sorted(calls, key=lambda c: (c.started_at, c.role == "executor")):
        running += c.cost_usd
        u = c.usage
        label = (f" └ exec {c.turn} (of {c.parent_turn})" if c.role == "executor"
                 else f"{'orch' if c.role == 'orchestrator' else 'solo'} {c.turn}")
        table.add_row(label, Text(printable(c.model)), f"{u.input:,}", f"{u.cache_write:,}", f"{u.cache_read:,}",
                      f"{u.output:,}", f"{c.cost_usd:.4f}", f"{running:.4f}", Text(printable(",".join(c.tool_names))),
                      "" if c.handback_chars is None else f"{c.handback_chars:,}")
        if c.handback_chars is not None:
            ids = {b["id"] for b in c.content if b.get("type") == "tool_use" and b.get("name") in DELEGATING_TOOLS}
            for r in c.tool_results:
                if r.get("tool_use_id") in ids:
                    text = str(r.get("content", ""))
                    handbacks.append((f"orchestrator turn {c.turn}", text if full or len(text) <= 600
                                      else text[:600] + f" … [{len(text) - 600} more chars; --full]"))
    print_tables(console, table)
    for where, text in handbacks:
        console.rule(f"handed back at {where}")
        console.print(printable(text), markup=False, highlight=False)
