"""The experiment file: which arms on which tasks, how many successes per cell, within what budget.

An experiment file is TOML validated by `ExperimentFile` (unknown keys are errors, so a typo never
silently changes a run). `resolve()` loads every arm and task up front, so an unknown name fails with
one line before any trial starts. The paper's own design ships as the preset `paper`.

    name = "caching-study"    # the experiment id (default: the file name without .toml)
    arms = ["A", "C", "./arms/bounded.toml", { name = "E", orchestrator = { model = "..." } }]
    tasks = ["typer-T1", "./tasks/mine.toml"]
    target_successes = 3      # per cell
    max_attempts = 6          # per cell, counted trials only (infra errors never count)
    workers = 4
    max_usd = 40.0
    infra_retries = 3         # infra_error trials tolerated per cell before the cell gives up
    trial_deadline_s = 14400  # wall-clock seconds per trial; past it the trial fails, named
    rate_card = "current"
    [turn_caps.A]             # per-cell outer-turn cap overrides: arm -> task (or "*") -> turns
    "typer-T1" = 60
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from orchbench.errors import BadArgument, ExperimentNotFound, UserError
from orchbench.runner.limits import DEFAULT_DEADLINE_S
from orchbench.tomlfile import explain, read_toml

PRESETS: dict[str, dict[str, Any]] = {
    # The paper's design (section 3.5): four arms, three typer tasks, 3 successes per cell, <= 6 attempts.
    "paper": {
        "name": "paper-rerun",  # not "paper": an import of the paper's own data may well be called that
        "arms": ["A", "B", "C", "D"],
        "tasks": ["typer-T1", "typer-T2", "typer-T3"],
        "target_successes": 3,
        "max_attempts": 6,
        "rate_card": "paper-2026-06",
    },
}

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_experiment_id(ident: str, what: str) -> str:
    """An experiment id as a flag gives it: the same rule as in a file (no '/', '..' or spaces)."""
    if not _ID_RE.match(ident):
        raise UserError(f"{what} {ident!r}: an experiment id is letters, digits, '.', '_' or '-' "
                        "and starts with a letter or digit")
    return ident


class ExperimentFile(BaseModel):
    """What an experiment file may say; every other key is an error."""

    model_config = ConfigDict(extra="forbid")

    name: str = ""
    id: str | None = None
    arms: list[str | dict[str, Any]] = Field(min_length=1)
    tasks: list[str] = Field(min_length=1)
    target_successes: int = Field(default=3, ge=1)
    max_attempts: int = Field(default=6, ge=1)
    turn_caps: dict[str, dict[str, int]] = Field(default_factory=dict)
    rate_card: str | None = None
    workers: int = Field(default=1, ge=1, le=512)
    max_usd: float | None = Field(default=None, ge=0)
    infra_retries: int = Field(default=3, ge=0)
    unsafe_no_sandbox: bool = False
    # Wall-clock seconds after which a trial ends as a failure named "trial deadline".
    trial_deadline_s: float = Field(default=DEFAULT_DEADLINE_S, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _check(self) -> ExperimentFile:
        if self.max_attempts < self.target_successes:
            raise ValueError(
                f"max_attempts ({self.max_attempts}) must be >= target_successes ({self.target_successes})"
            )
        ident = self.experiment_id
        if not _ID_RE.match(ident):
            raise ValueError(f"experiment id {ident!r} must be letters, digits, '.', '_' or '-'")
        for arm, caps in self.turn_caps.items():
            for task, cap in caps.items():
                if cap < 1:
                    raise ValueError(f"turn_caps.{arm}.{task} must be >= 1, got {cap}")
        return self

    @property
    def experiment_id(self) -> str:
        return self.id or self.name or "experiment"

    def turn_cap(self, arm: str, task: str) -> int | None:
        caps = self.turn_caps.get(arm, {})
        return caps.get(task, caps.get("*"))


@dataclass
class ResolvedExperiment:
    """An experiment with every arm and task loaded: ready to schedule."""

    spec: ExperimentFile
    arms: dict[str, Any]  # arm name -> orchbench.arms.Arm
    tasks: dict[str, Any]  # task name -> orchbench.tasks.spec.Task
    source: str = "<preset>"
    rate_card: Any = None
    rate_card_spec: str | None = None  # as workers load it: a name or an absolute path
    cells: list[tuple[str, str]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.spec.experiment_id


def parse_experiment(data: dict[str, Any], *, where: str) -> ExperimentFile:
    try:
        return ExperimentFile.model_validate(data)
    except ValidationError as exc:
        raise UserError(explain(where, exc)) from None


def load_experiment_file(path: str | Path) -> ExperimentFile:
    p = Path(path)
    if not p.exists():
        raise ExperimentNotFound(f"{p}: experiment file not found")
    data = read_toml(p, "experiment file")
    if isinstance(data, dict) and "id" not in data and "name" not in data:
        data["name"] = p.stem  # the file's name identifies the experiment unless it names itself
    return parse_experiment(data, where=str(p))


def preset(name: str) -> ExperimentFile:
    if name not in PRESETS:
        raise UserError(f"unknown experiment preset {name!r}; known: {', '.join(sorted(PRESETS))}")
    return parse_experiment(dict(PRESETS[name]), where=f"preset {name}")


def _local_path(ref: str, base: Path | None) -> str:
    """A name stays a name; a relative path is taken relative to the experiment file."""
    if base is not None and (ref.endswith(".toml") or "/" in ref or (base / ref).is_dir()):  # a dir: a suite
        cand = base / ref
        if cand.exists():
            return str(cand.resolve())
    return ref


def arm_for_cell(exp: ResolvedExperiment, arm_name: str, task_name: str) -> Any:
    """The arm to run in this cell, with the experiment's turn-cap override applied."""
    arm = exp.arms[arm_name]
    cap = exp.spec.turn_cap(arm_name, task_name)
    # Arm.caps maps task name -> outer-turn cap, and wins over the task's own hints (Arm.cap_for).
    return arm if cap is None else arm.model_copy(update={"caps": {**arm.caps, task_name: cap}})


def resolve(spec: ExperimentFile, *, source: str = "<preset>", base: Path | None = None) -> ResolvedExperiment:
    """Load every arm, task and the rate card now, so bad names fail before anything runs."""
    from orchbench.arms import Arm, load_arm
    from orchbench.tasks.suite import expand

    arms: dict[str, Any] = {}
    for i, ref in enumerate(spec.arms):
        if isinstance(ref, dict):
            try:
                arm = Arm.model_validate(ref)
            except ValidationError as exc:
                raise UserError(explain(source, exc, under=f"arms[{i}]")) from None
        else:
            try:
                arm = load_arm(_local_path(ref, base))
            except UserError as exc:
                raise UserError(f"{source}: key 'arms[{i}]': {exc}") from None
        if arm.name in arms:
            raise UserError(f"{source}: key 'arms[{i}]': arm name {arm.name!r} appears twice; names must be unique")
        arms[arm.name] = arm
    tasks: dict[str, Any] = {}
    for i, ref in enumerate(spec.tasks):
        try:  # a suite (directory or suite file) stands for all its tasks
            loaded = expand([_local_path(ref, base)])
        except UserError as exc:
            raise UserError(f"{source}: key 'tasks[{i}]': {exc}") from None
        for task in loaded:
            if task.name in tasks:
                raise UserError(f"{source}: key 'tasks[{i}]': task {task.name!r} appears twice")
            tasks[task.name] = task
    for arm_name, caps in spec.turn_caps.items():
        if arm_name not in arms:
            raise UserError(f"{source}: key 'turn_caps.{arm_name}': no such arm in `arms` ({', '.join(arms)})")
        for task_name in caps:
            if task_name != "*" and task_name not in tasks:
                raise UserError(
                    f"{source}: key 'turn_caps.{arm_name}.{task_name}': no such task in `tasks` ({', '.join(tasks)})"
                )
    from orchbench.pricing import load_rate_card

    card_spec = _local_path(spec.rate_card, base) if spec.rate_card is not None else None
    try:
        rate_card = load_rate_card(card_spec)
    except UserError as exc:
        raise UserError(f"{source}: key 'rate_card': {exc}") from None
    cells = [(a, t) for a in arms for t in tasks]
    return ResolvedExperiment(spec=spec, arms=arms, tasks=tasks, source=source, rate_card=rate_card,
                              rate_card_spec=card_spec, cells=cells)


def load_experiment(path: str | Path | None = None, *, preset_name: str | None = None, **overrides: Any) -> ResolvedExperiment:
    """Read a file or a preset, apply CLI overrides (workers, max_usd, ...), load arms and tasks."""
    if (path is None) == (preset_name is None):
        raise BadArgument("preset", "give an experiment file or a preset name (exactly one)")
    if path is not None:
        spec = load_experiment_file(path)
        source, base = str(path), Path(path).resolve().parent
    else:
        assert preset_name is not None
        spec = preset(preset_name)
        source, base = f"preset {preset_name}", None
    given = {k: v for k, v in overrides.items() if v is not None}
    if given:
        spec = parse_experiment({**spec.model_dump(exclude_unset=True), **given}, where=source)
    return resolve(spec, source=source, base=base)
