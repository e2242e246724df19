"""The task's rules, checked by diffing the workspace against its state right after set-up.

The set-up state comes from outside the workspace (`ws.manifest`, `ws.protected`, `ws.original()`),
so nothing the agent writes can change what it is compared with. Every broken rule is one failure
reason of the form "<rule>: <detail>".
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from fnmatch import fnmatch
from typing import Any

from orchbench.judge.spec import JudgeRules
from orchbench.judge.tree import is_noise, plain_sha

# A forbidden marker also covers the other spellings that have the same effect.
_MARKER_PATTERNS: dict[str, list[str]] = {
    "type: ignore": [r"type:\s*ignore", r"mypy:\s*ignore-errors", r"mypy:\s*disable-error-code", r"pyright:\s*ignore"],
    "noqa": [r"noqa", r"ruff\s*:\s*noqa", r"flake8\s*:\s*noqa"],
}
_SKIP_NAMES = frozenset({"skip", "skipif", "xfail", "importorskip", "skipTest", "skipIf", "skipUnless"})
_MAX_PER_RULE = 10


def _marker_regex(marker: str) -> re.Pattern[str]:
    pats = _MARKER_PATTERNS.get(marker) or [r"\s*".join(map(re.escape, marker.split()))]
    return re.compile("|".join(f"(?:{p})" for p in pats), re.IGNORECASE)


def comments(source: bytes) -> list[str]:
    """The comments of a Python file (tokenize, so strings that look like comments are not counted)."""
    try:
        toks = tokenize.tokenize(io.BytesIO(source).readline)
        return [t.string for t in toks if t.type == tokenize.COMMENT]
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError):
        # Broken file: count every '#...' tail, erring on the side of seeing a marker.
        text = source.decode("utf-8", "replace")
        return [line[line.index("#") :] for line in text.splitlines() if "#" in line]


def count_markers(source: bytes | None, marker: str) -> int:
    if not source:
        return 0
    rx = _marker_regex(marker)
    return sum(len(rx.findall(c)) for c in comments(source))


def test_names(source: bytes | None) -> set[str] | None:
    """Test functions (`test_*`, `Class::test_*`) of a module; None if it does not parse."""
    if source is None:
        return set()
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)) and sub.name.startswith("test"):
                    names.add(f"{node.name}::{sub.name}")
    return names


def skip_markers(source: bytes | None) -> int:
    """Skip / xfail marks and calls, `pytestmark` and `__test__` assignments in a module."""
    if not source:
        return 0
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return 0
    n = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in _SKIP_NAMES or isinstance(node, ast.Name) and node.id in _SKIP_NAMES | {"pytestmark", "__test__"} or isinstance(node, ast.alias) and node.name.split(".")[-1] in _SKIP_NAMES:
            n += 1
    return n


def _matches(rel: str, patterns: list[str]) -> bool:
    for p in patterns:
        if any(c in p for c in "*?["):
            if fnmatch(rel, p):
                return True
        elif rel == p.rstrip("/") or rel.startswith(p if p.endswith("/") else p + "/"):
            return True
    return False


def is_config(rel: str, patterns: list[str]) -> bool:
    """A guarded config file: matched as a path, and by its bare name in any folder (tools read
    nested `pkg/ruff.toml`, `pkg/pyproject.toml`, `tests/conftest.py` too)."""
    name = rel.rsplit("/", 1)[-1]
    return _matches(rel, patterns) or any("/" not in p and fnmatch(name, p) for p in patterns)


def changed_files(manifest: dict[str, str], current: dict[str, str]) -> tuple[set[str], set[str], set[str]]:
    """(modified, added, deleted) relative to the set-up manifest, ignoring caches."""
    base = {r: s for r, s in manifest.items() if not is_noise(r)}
    now = {r: d for r, d in current.items() if not is_noise(r)}
    modified = {r for r in now.keys() & base.keys() if plain_sha(now[r]) != base[r]}
    return modified, now.keys() - base.keys(), base.keys() - now.keys()


def _read(ws: Any, rel: str) -> bytes | None:
    try:
        return (ws.root / rel).read_bytes()
    except OSError:
        return None


def _capped(name: str, details: list[str]) -> list[str]:
    out = [f"{name}: {d}" for d in sorted(details)[:_MAX_PER_RULE]]
    if len(details) > _MAX_PER_RULE:
        out.append(f"{name}: ... and {len(details) - _MAX_PER_RULE} more")
    return out


def check_protected(ws: Any, current: dict[str, str]) -> list[str]:
    out = []
    for rel, sha in sorted(getattr(ws, "protected", {}).items()):
        if rel not in current:
            out.append(f"protected-file-deleted: {rel}")
        elif plain_sha(current[rel]) != sha:
            out.append(f"protected-file-modified: {rel} (sha256 differs from the set-up fingerprint)")
    return out


def check_rules(ws: Any, rules: JudgeRules, current: dict[str, str]) -> list[str]:
    modified, added, deleted = changed_files(ws.manifest, current)
    touched = modified | added | deleted
    reasons: list[str] = []
    if rules.allowed_paths:
        outside = [r for r in touched if not _matches(r, rules.allowed_paths)]
        reasons += _capped("edit-outside-allowed-paths", outside)
    if rules.guard_config:
        config = [r for r in touched if is_config(r, rules.config_files)]
        reasons += _capped("config-changed", config)
    py = sorted(r for r in modified | added if r.endswith((".py", ".pyi")))
    for marker in rules.forbid_new:
        found = []
        for rel in py:
            before, after = count_markers(ws.original(rel), marker), count_markers(_read(ws, rel), marker)
            if after > before:
                found.append(f"{rel} has {after - before} new '# {marker}'")
        reasons += _capped("new-suppression-comment", found)
    tests = sorted(r for r in touched if r.endswith(".py") and _matches(r, rules.test_files))
    if rules.no_deleted_tests:
        gone = []
        for rel in tests:
            had, has = test_names(ws.original(rel)), test_names(_read(ws, rel))
            if had and has is not None:  # a file that no longer parses fails under pytest anyway
                gone += [f"{rel}::{name}" for name in sorted(had - has)]
        reasons += _capped("deleted-test", gone)
    if rules.no_skipped_tests:
        skipped = []
        for rel in tests:
            was, now = skip_markers(ws.original(rel)), skip_markers(_read(ws, rel))
            if now > was:
                skipped.append(f"{rel} has {now - was} new skip/xfail marker(s)")
        reasons += _capped("skipped-test", skipped)
    return reasons
