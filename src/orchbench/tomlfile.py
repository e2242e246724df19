"""Reading the TOML files users write (tasks, arms, experiments, rate cards) into one-line errors.

Every such file fails the same way: "FILE: what is wrong", naming the key and what was expected,
so the CLI can print it as one line and exit 2.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from orchbench.errors import UserError


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """The parsed file; UserError for a missing, unreadable, non-UTF-8 or malformed `what` file."""
    p = Path(path)
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{p}: {what} not found; check the path") from None
    except UnicodeDecodeError:
        raise UserError(f"{p}: not UTF-8 text; a {what} is TOML") from None
    except OSError as exc:
        raise UserError(f"{p}: cannot read {what} ({exc.strerror}); check the path and permissions") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{p}: not valid TOML ({exc}); fix the syntax") from None


def key_path(loc: tuple[Any, ...]) -> str:
    """('setup', 'inject', 0, 'anchor') -> 'setup.inject[0].anchor'."""
    out = ""
    for part in loc:
        if isinstance(part, str) and part.startswith("function-"):
            continue  # the validator that raised, not a key of the file
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def explain(where: str, exc: ValidationError, *, under: str = "") -> str:
    """One line for a validation error: the file, the key, what was expected, and how many more."""
    errs = exc.errors()
    # A misspelt key also shows up as the right key missing: name the misspelling first.
    first = min(errs, key=lambda e: e["type"] != "extra_forbidden")
    kind = first["type"]
    if kind == "extra_forbidden":
        what = "unknown key (remove it or check its spelling)"
    elif kind == "missing":
        what = "required key is missing"
    else:
        what = first["msg"].removeprefix("Value error, ")
        got = first.get("input")
        if kind != "value_error" and "input" in first and not isinstance(got, dict):
            what += f" (got {got!r})"
    key = key_path(first["loc"])
    if under:
        key = under if key == "(top level)" else f"{under}.{key}"
    more = f" (+{len(errs) - 1} more)" if len(errs) > 1 else ""
    return f"{where}: key '{key}': {what}{more}"
