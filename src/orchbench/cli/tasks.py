"""CLI commands: `orchbench tasks list | show | check`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from orchbench.cli.app import app, console, err_console

tasks_app = typer.Typer(help="Built-in and user tasks: list, show, check that a task is sound.",
                        no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")


@tasks_app.command("list")
def list_cmd() -> None:
    """List the built-in tasks."""
    from orchbench.tasks.spec import builtin_tasks, load_task

    table = Table("task", "source", "set-up", "description")
    for name in builtin_tasks():
        t = load_task(name)
        setup = []
        if t.setup.inject:
            setup.append(f"{len(t.setup.inject)} injections")
        if t.setup.files:
            setup.append(f"{len(t.setup.files)} files added")
        table.add_row(name, t.source.describe(), ", ".join(setup) or "-", t.description)
    console.print(table)


@tasks_app.command("show")
def show_cmd(
    name: Annotated[str, typer.Argument(help="A built-in task name or a task TOML path.")],
    json_out: Annotated[bool, typer.Option("--json", help="The whole task as JSON.")] = False,
) -> None:
    """Show a task: source, env, set-up, judge, checks, prompt."""
    from orchbench.tasks.spec import load_task

    t = load_task(name)
    if json_out:
        console.print_json(t.model_dump_json())
        return
    console.print(f"[bold]{t.name}[/bold] — {t.description}")
    console.print(f"source: {t.source.describe()}")
    console.print(f"env: python {t.env.python or 'current'}; {', '.join(t.env.packages) or 'no packages'}",
                  markup=False, highlight=False)
    for rule in t.setup.inject:
        console.print(f"  inject {rule.id} [{rule.category}] {rule.file} ({rule.anchor}): {rule.description}",
                      highlight=False)
    for f in t.setup.files:
        console.print(f"  add file {f.path}", highlight=False)
    if t.protected:
        console.print(f"protected: {', '.join(t.protected)}", highlight=False)
    for c in t.judge.commands:
        console.print(f"judge: {' '.join(c.run)}" + ("" if c.required else "  (informational)"), highlight=False)
    for chk in t.checks:
        console.print(f"check: {chk.name} {chk.params}", highlight=False)
    console.print(f"reference: {len(t.reference)} tool calls")
    console.print("prompt:", style="bold")
    console.print(t.prompt, markup=False, highlight=False)


@tasks_app.command("check")
def check_cmd(
    names: Annotated[list[str], typer.Argument(help="Built-in task names or task TOML paths.")],
    refresh: Annotated[bool, typer.Option("--refresh", help="Re-judge the base and set-up too.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Results as JSON on stdout.")] = False,
    unsafe_no_sandbox: Annotated[bool, typer.Option("--unsafe-no-sandbox",
                                                    help="Judge without bubblewrap.")] = False,
) -> None:
    """Check each task is sound: base green, set-up red, reference solution green (with times)."""
    from orchbench.tasks.check import StepResult, check_task, report_json
    from orchbench.tasks.spec import Task, load_task

    tasks = [load_task(n) for n in names]  # every name is validated before any work starts

    def show(task: Task, s: StepResult) -> None:
        if json_out:
            return
        mark = "[green]ok[/green]" if s.ok else "[red]FAIL[/red]"
        state = s.expect if s.ok else ("red" if s.expect == "green" else "green")
        summary = s.verdict.summary if s.verdict else ""
        cached = " (cached)" if s.cached else ""
        console.print(f"{task.name:>10} {s.step:<6} {mark} {state:<5} {s.seconds:7.1f}s{cached}  {summary}",
                      highlight=False, soft_wrap=True)
        if s.detail and (not s.ok or s.step == "base"):  # a red set-up's reasons are in its summary
            console.print(f"{'':>18}{s.detail}", highlight=False, markup=False, soft_wrap=True)
        if s.step == "setup" and s.verdict and s.verdict.tool_versions:
            tools = ", ".join(f"{n} {v}" for n, v in s.verdict.tool_versions.items())
            console.print(f"{'':>18}judge tools: {tools}", highlight=False, markup=False, soft_wrap=True)

    results = [check_task(t, unsafe_no_sandbox=unsafe_no_sandbox, refresh=refresh, on_step=show) for t in tasks]
    for w in (w for r in results for w in r.warnings):
        err_console.print(f"warning: {w}", markup=False, highlight=False, soft_wrap=True)
    if json_out:
        console.print(report_json(results), markup=False, highlight=False, soft_wrap=True)
    broken = [r for r in results if r.broken]
    for r in broken:
        err_console.print(f"BROKEN TASK {r.task}: {r.broken_reason}", markup=False, highlight=False,
                          soft_wrap=True)
    if broken:
        raise typer.Exit(1)
    if not json_out:
        console.print(f"all {len(results)} task(s) sound")
