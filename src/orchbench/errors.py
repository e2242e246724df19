"""orchbench's exceptions: one family, so a caller can catch anything orchbench raises on purpose.

    OrchbenchError                  everything below
    ├── UserError                   bad input: the message says what and where, in one line
    │   ├── BadArgument             one argument's value is wrong (.argument names the parameter)
    │   ├── ConflictingSources      a store and results files given together, or neither
    │   ├── NoReferenceSolution     the oracle arm on a task without a reference solution
    │   ├── ExperimentNotFound      no experiment file at that path
    │   ├── RateCardError           a rate card cannot be loaded or cannot price a model
    │   │   ├── UnknownModel        no price for a model
    │   │   └── NotRepriceable      stored trials lack what re-pricing needs
    │   └── StoreError              a results store cannot be used (.path)
    │       ├── StoreNotFound       no such store (read-only open)
    │       ├── NotAStore           the file is not an orchbench store (or cannot be one)
    │       ├── StoreTooNew         written by a newer orchbench (.version, .supported)
    │       └── StoreReadOnly       a write on a store opened read-only
    └── (InfraError, in orchbench.models.base: the provider failed, not the agent)

Library messages say what went wrong and where; they do not name command-line flags, which a
Python caller does not have. The CLI (`orchbench.cli.hints`) adds how to fix it with flags, turns a
UserError into one line on stderr and exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class OrchbenchError(Exception):
    """Base of every exception orchbench raises on purpose."""


class UserError(OrchbenchError):
    """Bad input: the message says what and where, in one line."""

    exit_code = 2


class BadArgument(UserError):
    """One argument's value is wrong; `argument` is the Python parameter's name (`handback_cap`)."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(f"{argument}: {message}")
        self.argument = argument
        self.detail = message


class ConflictingSources(UserError):
    """Trials must come from exactly one source: a store or results files."""


class NoReferenceSolution(UserError):
    """The oracle arm replays a task's [[reference]] solution; this task has none."""

    def __init__(self, task: str) -> None:
        super().__init__(f"task {task!r} has no [[reference]] solution, so the oracle arm cannot run it")
        self.task = task


class NoSandbox(UserError):
    """bubblewrap is missing or cannot start a sandbox here, and `what` must not run unconfined."""

    def __init__(self, what: str) -> None:
        super().__init__(f"bubblewrap (bwrap) is missing or cannot start a sandbox here, so {what} cannot be "
                         "confined: install the Debian package 'bubblewrap'")
        self.what = what


class ExperimentNotFound(UserError):
    """No experiment file at the path given."""


class RateCardError(UserError):
    """A rate card cannot be loaded, or cannot price a model."""


class UnknownModel(RateCardError):
    """A model the rate card cannot price."""


class NotRepriceable(RateCardError):
    """Stored trials lack what re-pricing needs (a model name for their usage)."""


class StoreError(UserError):
    """A results store cannot be used; `path` is the file."""

    def __init__(self, path: str | Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = Path(path)


class StoreNotFound(StoreError):
    """No store at `path` (opening read-only does not create one)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, "no such results store")


class NotAStore(StoreError):
    """The file is not an orchbench store and cannot become one (another SQLite file, a directory...)."""


class StoreTooNew(StoreError):
    """Written by a newer orchbench: its schema has migrations this one does not know."""

    def __init__(self, path: str | Path, version: int, supported: int) -> None:
        super().__init__(path, f"store schema version {version} is newer than this orchbench supports "
                               f"({supported}); upgrade orchbench")
        self.version, self.supported = version, supported


class StoreReadOnly(StoreError):
    """A write to a store opened read-only, or an upgrade of a file that cannot be written."""

    def __init__(self, path: str | Path, why: str = "store opened read-only") -> None:
        super().__init__(path, why)
