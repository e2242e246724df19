"""Counts from tool output, for display only: the verdict is decided by exit codes.

Each parser reads the summary lines the tool prints (the last match wins, so noise above it is
harmless) and returns {} when it finds nothing it recognises.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_MYPY_FOUND = re.compile(r"^Found (\d+) errors? in (\d+) files?", re.MULTILINE)
_MYPY_OK = re.compile(r"^Success: no issues found in (\d+) source files?", re.MULTILINE)
_RUFF_FOUND = re.compile(r"^Found (\d+) errors?", re.MULTILINE)
_RUFF_OK = re.compile(r"^All checks passed!", re.MULTILINE)
_RUFF_FMT = re.compile(r"^(\d+) files? would be reformatted", re.MULTILINE)
_PYTEST_ITEM = re.compile(
    r"(\d+) (passed|failed|skipped|deselected|xfailed|xpassed|errors?|warnings?|error)\b"
)
# A summary line: counts then " in 1.23s" (optionally wrapped in "=== ... ===").
_PYTEST_SUMMARY = re.compile(r"^[=\s]*((?:\d+ \w+(?:, )?)+) in [\d.]+\s*s", re.MULTILINE)
_PYTEST_NO_TESTS = re.compile(r"^[=\s]*no tests ran in [\d.]+\s*s", re.MULTILINE)
_PYTEST_COLLECT = re.compile(r"Interrupted: (\d+) errors? during collection")
_PYTEST_ERROR_COLLECTING = re.compile(r"^_* ERROR collecting (\S+)", re.MULTILINE)


def parse_mypy(text: str) -> dict[str, int]:
    found = _MYPY_FOUND.findall(text)
    if found:
        errors, files = found[-1]
        return {"errors": int(errors), "files_with_errors": int(files)}
    ok = _MYPY_OK.findall(text)
    if ok:
        return {"errors": 0, "files": int(ok[-1])}
    return {}


def parse_ruff(text: str) -> dict[str, int]:
    found = _RUFF_FOUND.findall(text)
    if found:
        return {"errors": int(found[-1])}
    if _RUFF_OK.search(text):
        return {"errors": 0}
    return {}


def parse_ruff_format(text: str) -> dict[str, int]:
    found = _RUFF_FMT.findall(text)
    if found:
        return {"would_reformat": int(found[-1])}
    if re.search(r"^\d+ files? already formatted", text, re.MULTILINE):
        return {"would_reformat": 0}
    return {}


def parse_pytest(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    summaries = _PYTEST_SUMMARY.findall(text)
    if summaries:
        for n, word in _PYTEST_ITEM.findall(summaries[-1]):
            key = {"error": "errors", "warning": "warnings"}.get(word, word)
            counts[key] = counts.get(key, 0) + int(n)
        for key in ("passed", "failed", "skipped", "errors", "xfailed"):
            counts.setdefault(key, 0)
    elif _PYTEST_NO_TESTS.search(text):
        counts = {"passed": 0, "failed": 0, "skipped": 0, "errors": 0, "xfailed": 0}
    collect = _PYTEST_COLLECT.findall(text)
    named = set(_PYTEST_ERROR_COLLECTING.findall(text))
    if collect or named:
        counts["collection_errors"] = max([int(c) for c in collect] + [len(named)])
    elif counts:
        counts["collection_errors"] = 0
    return counts


PARSERS: dict[str, Callable[[str], dict[str, int]]] = {
    "mypy": parse_mypy,
    "ruff": parse_ruff,
    "ruff-format": parse_ruff_format,
    "pytest": parse_pytest,
}


def parse(parser: str | None, text: str) -> dict[str, int]:
    if parser is None:
        return {}
    return PARSERS[parser](text)
