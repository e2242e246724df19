"""What a task's judge runs and which rules it enforces: the `[judge]` table of a task TOML.

```toml
[judge]
timeout_s = 900
env = { TERMINAL_WIDTH = "3000" }
[[judge.commands]]
name = "mypy"
run = ["mypy", "typer"]
parser = "mypy"
[judge.rules]
forbid_new = ["type: ignore", "noqa"]
allowed_paths = ["typer/", "tests/"]
no_deleted_tests = true
no_skipped_tests = true
```
Structural checks are the task's `[[checks]]` (name + params, see judge/checks.py).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ParserName = Literal["mypy", "ruff", "ruff-format", "pytest"]

# Files whose change can weaken what the tools check (config, pytest plugins, interpreter start-up
# hooks). Matched with fnmatch against the workspace-relative path, and a pattern without "/" also
# against the file name in any folder (nested `pkg/ruff.toml` configures ruff for `pkg/`).
DEFAULT_CONFIG_FILES = [
    "pyproject.toml",
    "pytest.toml",
    ".pytest.toml",
    ".coveragerc",
    "setup.cfg",
    "tox.ini",
    "pytest.ini",
    ".pytest.ini",
    "mypy.ini",
    ".mypy.ini",
    "ruff.toml",
    ".ruff.toml",
    "conftest.py",
    "*/conftest.py",
    "sitecustomize.py",
    "*/sitecustomize.py",
    "sitecustomize.*",
    "usercustomize.*",
    "*.pth",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JudgeCommand(_Strict):
    name: str
    run: list[str] = Field(min_length=1)
    required: bool = True  # informational commands (required=false) never decide pass/fail
    parser: ParserName | None = None


class JudgeRules(_Strict):
    """The task's rules; each broken rule is a named failure reason in the verdict."""

    # Comment markers that must not appear more often in any file than they did after set-up.
    forbid_new: list[str] = Field(default_factory=list)
    # Where the agent may change, add or delete files ("typer/" prefixes or fnmatch globs); empty = anywhere.
    allowed_paths: list[str] = Field(default_factory=list)
    no_deleted_tests: bool = False
    no_skipped_tests: bool = False
    # Which files hold tests (for the two rules above).
    test_files: list[str] = Field(default_factory=lambda: ["tests/*.py", "test_*.py", "*/test_*.py"])
    # Changing, adding or deleting any of these fails the verdict (guards pytest/mypy/ruff config).
    guard_config: bool = True
    config_files: list[str] = Field(default_factory=lambda: list(DEFAULT_CONFIG_FILES))
    # Static rules against attacks on the judge (bytecode, stubs, shadowing, runner patching;
    # judge/tamper.py). Off only for a task whose own code legitimately does these things.
    guard_runner: bool = True


class JudgeSpec(_Strict):
    commands: list[JudgeCommand]
    env: dict[str, str] = Field(default_factory=dict)
    # A float like any value read from a file, so cache keys agree.
    timeout_s: float = Field(default=900.0, gt=0, allow_inf_nan=False)
    rules: JudgeRules = Field(default_factory=JudgeRules)
