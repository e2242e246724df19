"""The task format: one TOML file describes a task on any Python repository.

A task names where its code comes from (`[source]`), the venv its judge needs (`[env]`), how a fresh
workspace is set up (`[setup]`: files to add, breakage to inject), which files are fingerprinted
(`protected`), how it is judged (`[judge]`, `[[checks]]`), what the agent is told (`prompt`) and a
reference solution as the tool calls an LLM would send (`[[reference]]`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from orchbench.errors import UserError
from orchbench.judge.spec import JudgeSpec
from orchbench.tomlfile import explain, read_toml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Source(_Strict):
    """Exactly one of: a PyPI sdist (`pypi = "typer==0.26.8"`), a git URL + rev, a local path."""

    pypi: str | None = None
    git: str | None = None
    rev: str | None = None
    path: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Source:
        kinds = [k for k in ("pypi", "git", "path") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError("give exactly one of pypi, git, path")
        if self.rev and not self.git:
            raise ValueError("rev only goes with git")
        if self.pypi and "==" not in self.pypi:
            raise ValueError('pypi must pin a version, e.g. "typer==0.26.8"')
        return self

    @property
    def kind(self) -> str:
        return "pypi" if self.pypi else "git" if self.git else "path"

    def describe(self) -> str:
        if self.pypi:
            return f"pypi:{self.pypi}"
        if self.git:
            return f"git:{self.git}@{self.rev or 'HEAD'}"
        return f"path:{self.path}"


class Env(_Strict):
    """The judge's venv, built outside the workspace: test tools and the project's runtime deps only."""

    python: str | None = None  # e.g. "3.11"; None = the interpreter running orchbench
    packages: list[str] = Field(default_factory=list)
    extra_index_url: str | None = None


Anchor = Literal["after_imports", "after_def", "after_class", "start", "end"]


class Injection(_Strict):
    """One breakage rule: insert `code` into `file` at `anchor` (see tasks/inject.py)."""

    id: str
    file: str
    code: str
    anchor: Anchor = "after_imports"
    target: str | None = None  # the def / class name for after_def / after_class
    category: str = ""
    description: str = ""
    expect_sha256: str | None = None  # refuse the base if the file is not exactly this

    @model_validator(mode="after")
    def _target(self) -> Injection:
        if self.anchor in ("after_def", "after_class") and not self.target:
            raise ValueError(f"anchor {self.anchor} needs target = the name of the def/class")
        return self


class AddFile(_Strict):
    path: str
    content: str


class Replace(_Strict):
    """One in-place edit (a synthesised bug): `old` must occur exactly once in `file`; it becomes `new`."""

    file: str
    old: str = Field(min_length=1)
    new: str
    expect_sha256: str | None = None  # refuse the base if the file is not exactly this


class Setup(_Strict):
    files: list[AddFile] = Field(default_factory=list)
    replace: list[Replace] = Field(default_factory=list)
    inject: list[Injection] = Field(default_factory=list)


class Check(_Strict):
    """A structural check run by the judge, by name with its parameters."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class ToolCall(_Strict):
    tool: Literal["str_replace_editor", "bash"]
    input: dict[str, Any]


class Caps(_Strict):
    """Hints for runners: outer-turn caps by arm name, executor sub-loop cap."""

    outer_turns: int | None = None
    outer_turns_by_arm: dict[str, int] = Field(default_factory=dict)
    executor_turns: int | None = None


class Task(_Strict):
    """A task: where its code comes from, how it is set up and broken, how it is judged, the prompt."""

    # Names a workspace folder and trial ids: no '/', '..' or spaces.
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str = ""
    source: Source
    env: Env = Field(default_factory=Env)
    setup: Setup = Field(default_factory=Setup)
    protected: list[str] = Field(default_factory=list)
    judge: JudgeSpec
    checks: list[Check] = Field(default_factory=list)
    prompt: str
    reference: list[ToolCall] = Field(default_factory=list)
    caps: Caps = Field(default_factory=Caps)
    # What the green base is expected to show (display / sanity only: exit codes decide).
    base_counts: dict[str, int] = Field(default_factory=dict)
    # Where a generated task came from (operator, file, line, failing tests) and how hard it looks;
    # `failing_tests` also lets `tasks check` reach a red verdict sooner (it never changes the verdict).
    provenance: dict[str, Any] = Field(default_factory=dict)
    # Where the TOML was read from (relative `path` sources resolve against it); not part of the file.
    origin: str | None = Field(default=None, exclude=True)

    def base_dir(self) -> Path:
        return Path(self.origin).parent if self.origin else Path.cwd()


def _builtin_dir() -> Path:
    return Path(str(resources.files("orchbench.tasks") / "builtin"))


def builtin_tasks() -> list[str]:
    """Names of the tasks shipped with orchbench ("typer-T1", ...), for `load_task`."""
    return sorted(p.stem for p in _builtin_dir().glob("*.toml"))


def parse_task(data: dict[str, Any], *, origin: str) -> Task:
    try:
        task = Task.model_validate(data)
    except ValidationError as exc:
        raise UserError(explain(origin, exc)) from None
    return task.model_copy(update={"origin": origin})


def load_task(name_or_path: str | Path) -> Task:
    """A built-in task by name ("typer-T1") or a task TOML file by path."""
    text_name = str(name_or_path)
    path = Path(text_name)
    if not path.suffix and not path.exists():
        candidate = _builtin_dir() / f"{text_name}.toml"
        if not candidate.exists():
            known = ", ".join(builtin_tasks())
            raise UserError(f"unknown task {text_name!r}: give a TOML path or one of: {known}")
        path = candidate
    if not path.is_file():
        raise UserError(f"{path}: task file not found (give a TOML path or a built-in task name)")
    data = read_toml(path, "task file")
    return parse_task(data, origin=str(path.resolve()))
