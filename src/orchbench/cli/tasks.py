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
def list_cmd(
    suites: Annotated[list[str] | None, typer.Argument(help="Suites (directories or suite TOML files) or "
                                                             "task files to list; default: the built-in tasks.")] = None,
) -> None:
    """List the built-in tasks, or the tasks of suites."""
    from orchbench.tasks.spec import builtin_tasks
    from orchbench.tasks.suite import expand

    table = Table("task", "source", "set-up", "description")
    for t in expand(suites or builtin_tasks()):
        setup = []
        if t.setup.replace:
            setup.append(f"{len(t.setup.replace)} edit(s)")
        if t.setup.inject:
            setup.append(f"{len(t.setup.inject)} injections")
        if t.setup.files:
            setup.append(f"{len(t.setup.files)} files added")
        table.add_row(t.name, t.source.describe(), ", ".join(setup) or "-", t.description)
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
    for r in t.setup.replace:
        console.print(f"  edit {r.file}: {r.old.strip()[:60]!r} -> {r.new.strip()[:60]!r}", highlight=False,
                      markup=False)
    if t.provenance:
        console.print(f"provenance: {t.provenance}", highlight=False, markup=False)
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
    names: Annotated[list[str], typer.Argument(help="Built-in task names, task TOML paths or suites.")],
    refresh: Annotated[bool, typer.Option("--refresh", help="Re-judge the base (once per base) and each set-up too.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Results as JSON on stdout.")] = False,
    unsafe_no_sandbox: Annotated[bool, typer.Option("--unsafe-no-sandbox",
                                                    help="Judge without bubblewrap.")] = False,
) -> None:
    """Check each task is sound: base green, set-up red, reference solution green (with times)."""
    from orchbench.tasks.check import StepResult, check_tasks, report_json
    from orchbench.tasks.spec import Task
    from orchbench.tasks.suite import expand

    tasks = expand(names)  # every name is validated before any work starts

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

    results = check_tasks(tasks, unsafe_no_sandbox=unsafe_no_sandbox, refresh=refresh, on_step=show)
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


def _judge_command(text: str, i: int):  # type: ignore[no-untyped-def]
    import shlex

    from orchbench.judge.spec import JudgeCommand

    argv = shlex.split(text)
    tools = [a for a in argv[:3] if a in ("mypy", "ruff", "pytest")]
    parser = tools[0] if tools else None
    if parser == "ruff" and "format" in argv:
        parser = "ruff-format"
    return JudgeCommand(name=parser or f"cmd-{i}", run=argv, parser=parser)  # type: ignore[arg-type]


def _source(text: str, rev: str | None):  # type: ignore[no-untyped-def]
    from pathlib import Path

    from orchbench.tasks.spec import Source

    if text.startswith(("http://", "https://", "git@", "ssh://", "file://")) or text.endswith(".git"):
        return Source(git=text, rev=rev)
    if "==" in text and not Path(text).exists():
        return Source(pypi=text)
    return Source(path=str(Path(text).resolve()))


@tasks_app.command("synth")
def synth_cmd(
    source: Annotated[str, typer.Argument(help="PyPI 'name==version', a git URL (with --rev) or a local path.")],
    out: Annotated[str, typer.Option("--out", help="Suite directory to write.")],
    judge: Annotated[list[str] | None, typer.Option("--judge", help="A judge command (repeat), e.g. "
                                                                     "'pytest -q'.")] = None,
    like: Annotated[str | None, typer.Option("--like", help="Copy [env] and [judge] from this task "
                                                             "(built-in name or TOML).")] = None,
    env: Annotated[list[str] | None, typer.Option("--env", help="A package for the judge venv (repeat).")] = None,
    judge_env: Annotated[list[str] | None, typer.Option("--judge-env", help="KEY=VALUE for the judge's "
                                                                             "commands (repeat).")] = None,
    paths: Annotated[list[str] | None, typer.Option("--paths", help="Package code to mutate "
                                                                     "(default: the package dirs).")] = None,
    rev: Annotated[str | None, typer.Option("--rev", help="Git revision for a git SOURCE.")] = None,
    n: Annotated[int, typer.Option("-n", min=1, help="Sound tasks to produce.")] = 30,
    repair: Annotated[int, typer.Option("--repair", min=0, help="How many of them are repair tasks "
                                                                  "(injected type/lint/collection errors).")] = 0,
    errors: Annotated[int, typer.Option("--errors", min=1, help="Errors per repair task.")] = 3,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1)] = 2,
    prefix: Annotated[str | None, typer.Option("--prefix", help="Task name prefix (default: the project).")] = None,
    unsafe_no_sandbox: Annotated[bool, typer.Option("--unsafe-no-sandbox", help="Run tests without bubblewrap.")]
    = False,
) -> None:
    """Generate sound tasks from a repository: mutate functions, keep what the tests catch, prove each."""
    import re
    import time
    from pathlib import Path

    from orchbench.errors import UserError
    from orchbench.judge.spec import JudgeSpec
    from orchbench.tasks.spec import Env, load_task
    from orchbench.tasks.synth import SynthOptions, synthesize
    from orchbench.tasks.taskfile import Template

    if repair > n:
        raise UserError(f"--repair {repair}: cannot exceed -n {n}")
    src = _source(source, rev)
    if like:
        base_task = load_task(like)
        judge_spec, env_spec = base_task.judge, base_task.env
        if env:
            env_spec = env_spec.model_copy(update={"packages": [*env_spec.packages, *env]})
    elif judge:
        bad = [x for x in judge_env or [] if "=" not in x]
        if bad:
            raise UserError(f"--judge-env {bad[0]!r}: expected KEY=VALUE, e.g. PYTHONPATH=src")
        judge_spec = JudgeSpec(commands=[_judge_command(j, i) for i, j in enumerate(judge)],
                               env=dict(x.split("=", 1) for x in judge_env or []))
        env_spec = Env(packages=list(env or ["pytest"]))
    else:
        raise UserError("give the judge: --judge 'pytest -q' (repeat for more commands) or --like TASK")
    name = prefix or re.sub(r"[^A-Za-z0-9_.-]+", "-", (src.pypi or "").split("==")[0] or Path(source.rstrip("/")).name
                            .removesuffix(".git")).strip("-") or "synth"
    template = Template(source=src, env=env_spec, judge=judge_spec, paths=list(paths or []), prefix=name)
    t0 = time.perf_counter()
    result = synthesize(SynthOptions(template=template, n=n, seed=seed, repair=repair, errors_per_task=errors,
                                     workers=workers, unsafe_no_sandbox=unsafe_no_sandbox), Path(out))
    console.print(f"{len(result.tasks)} sound task(s) written to {result.out} in {time.perf_counter() - t0:.0f}s "
                  f"(screened {result.screened} mutants, {result.killed} caught by tests, "
                  f"{len(result.rejected)} rejected by the proof)", highlight=False, markup=False)
    if len(result.tasks) < n:
        raise typer.Exit(1)
