"""Suites: many tasks named at once — a directory of task TOML files, or a TOML file listing tasks.

    # suite.toml
    name = "typer-mutants"
    tasks = ["bugfix-001.toml", "bugfix-002.toml", "typer-T1"]   # paths relative to this file, or built-ins

A directory is a suite of its `*.toml` files (sorted; a `suite.toml` inside it lists the tasks instead).
Wherever a task is named (`tasks list/check`, an experiment's `tasks`), a suite may be named too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orchbench.errors import UserError
from orchbench.tasks.spec import Task, load_task
from orchbench.tomlfile import read_toml

SUITE_FILE = "suite.toml"


@dataclass
class Suite:
    name: str
    tasks: list[Task]
    origin: str


def is_suite(ref: str | Path) -> bool:
    p = Path(ref)
    if p.is_dir():
        return True
    if p.suffix != ".toml" or not p.is_file():
        return False
    data = read_toml(p, "task or suite file")
    return "tasks" in data and "source" not in data


def load_suite(ref: str | Path) -> Suite:
    p = Path(ref)
    if p.is_dir():
        listing = p / SUITE_FILE
        if not listing.is_file():
            files = sorted(f for f in p.glob("*.toml"))
            if not files:
                raise UserError(f"{p}: a suite directory needs task TOML files or a {SUITE_FILE} listing them")
            return _checked(Suite(name=p.resolve().name, tasks=[load_task(f) for f in files], origin=str(p)))
        p = listing
    data = read_toml(p, "suite file")
    refs = data.get("tasks")
    if not isinstance(refs, list) or not refs or not all(isinstance(r, str) for r in refs):
        raise UserError(f"{p}: key 'tasks' must be a non-empty list of task paths or names")
    unknown = sorted(set(data) - {"name", "tasks", "description"})
    if unknown:
        raise UserError(f"{p}: unknown key {unknown[0]!r} (a suite file has name, description, tasks)")
    tasks = []
    for i, r in enumerate(refs):
        cand = p.parent / r
        try:
            tasks.append(load_task(cand if cand.exists() else r))
        except UserError as exc:
            raise UserError(f"{p}: key 'tasks[{i}]': {exc}") from None
    return _checked(Suite(name=str(data.get("name") or p.stem), tasks=tasks, origin=str(p)))


def _checked(s: Suite) -> Suite:
    seen: set[str] = set()
    for t in s.tasks:
        if t.name in seen:
            raise UserError(f"suite {s.origin}: task name {t.name!r} appears twice; names must be unique")
        seen.add(t.name)
    return s


def expand(refs: list[str]) -> list[Task]:
    """Task names, task files and suites, in order, as one list of tasks."""
    out: list[Task] = []
    for r in refs:
        out += load_suite(r).tasks if is_suite(r) else [load_task(r)]
    return out
