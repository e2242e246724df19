"""`orchbench judge WORKSPACE_DIR --task TASK`: judge a directory as the runner would."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from orchbench.cli.app import app, console, err_console
from orchbench.errors import UserError


def _setup_tree(task: Any) -> Path | None:
    """The task's tree right after set-up, from the tasks area when it offers one."""
    try:
        from orchbench.tasks import workspace as wsmod
    except ImportError:
        return None
    fn = getattr(wsmod, "setup_tree", None)
    return Path(fn(task)) if fn else None


@app.command("judge")
def judge_cmd(
    workspace_dir: Annotated[Path, typer.Argument(help="The workspace (repository) directory to judge.")],
    task: Annotated[str, typer.Option("--task", help="Built-in task name (typer-T1) or a task TOML path.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not use or store cached verdicts.")] = False,
    setup: Annotated[
        Path | None, typer.Option("--setup", help="The set-up tree to diff against (default: the task's own).")
    ] = None,
    venv: Annotated[Path | None, typer.Option("--venv", help="The judge venv (default: the task's own).")] = None,
    unsafe_no_sandbox: Annotated[
        bool, typer.Option("--unsafe-no-sandbox", help="Run the judge's commands without bubblewrap.")
    ] = False,
) -> None:
    """Judge WORKSPACE_DIR with TASK's commands, checks and rules; exit 0 on pass, 1 on fail."""
    from orchbench.judge.agent_cli import render
    from orchbench.judge.local import DirWorkspace
    from orchbench.judge.run import run_judge, verdict_json
    from orchbench.tasks.spec import load_task

    if not workspace_dir.is_dir():
        raise UserError(f"{workspace_dir}: not a directory; give the workspace to judge")
    t = load_task(task)
    if venv is None:
        from orchbench.tasks.venv import ensure_venv

        venv = ensure_venv(t.env)
    elif not (venv / "bin" / "python").exists():
        raise UserError(f"--venv {venv}: no bin/python there; give a virtualenv, or leave --venv out "
                        "to use the task's own")
    setup_root = setup or _setup_tree(t)
    if setup_root is None:
        err_console.print("judge: no set-up tree (give --setup DIR): rules and fingerprints are not checked")
        ws: Any = DirWorkspace(workspace_dir.resolve(), t, venv)
        verdict = run_judge(ws, cache=not no_cache, commands_only=True, unsafe_no_sandbox=unsafe_no_sandbox)
    else:
        if not setup_root.is_dir():
            raise UserError(f"--setup {setup_root}: not a directory; give the task's set-up tree")
        ws = DirWorkspace.from_setup(workspace_dir.resolve(), t, venv, setup_root.resolve())
        verdict = run_judge(ws, cache=not no_cache, unsafe_no_sandbox=unsafe_no_sandbox)
    if as_json:
        print(verdict_json(verdict))
    else:
        console.print(render(verdict), highlight=False, markup=False)
    raise typer.Exit(0 if verdict.passed else 1)
