"""Static rules against changes that attack the judge rather than solve the task.

They read the change (the workspace against its set-up state) and name what they find:
- `sourceless-bytecode` / `native-module`: a `.pyc`/`.pyo` outside `__pycache__` (CPython imports it
  without a source) or a new compiled extension: code no rule can read.
- `stub-file`: a new or changed `.pyi` (mypy checks the stub instead of the module beside it).
- `module-shadowing`: a new top-level module named like a standard-library or installed one.
- `runner-patching`: code that imports the test runner's internals and rewrites attributes, or
  assigns into `sys.modules` / `builtins`.
- `forced-exit`: `atexit` together with `os._exit` (forces the exit status whatever the tests said).
- `runner-hook`: new `load_tests`, `pytest_*` hooks or `pytest_plugins` (they can empty the suite).
Source rules count occurrences per file against the set-up original, so code that was already there
never counts. They are one layer: the guard inside the runner and the evidence it reports are the
others (docs/judge.md).
"""

from __future__ import annotations

import ast
import glob
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from orchbench.judge.rules import _capped, _matches, _read, changed_files

RUNNER_MODULES = frozenset({"_pytest", "pytest", "pluggy", "xdist", "execnet", "unittest"})
_EXIT_NAMES = frozenset({"_exit", "kill", "abort"})


def installed_names(venv: Path) -> set[str]:
    """Top-level importable names of the venv's site-packages (and the interpreter's own)."""
    names: set[str] = set()
    for site in glob.glob(str(Path(venv) / "lib" / "python*" / "site-packages")):
        try:
            entries = os.listdir(site)
        except OSError:
            continue
        for e in entries:
            if e.endswith((".dist-info", ".egg-info", ".pth")) or e.startswith(("_", ".")) and e != "_pytest":
                continue
            names.add(e.split(".", 1)[0])
    return names


def _top_level_module(rel: str, present: set[str]) -> str | None:
    """The importable top-level name `rel` adds when its folder is not a package, else None."""
    parts = rel.split("/")
    folder = "/".join(parts[:-1])
    name = parts[-1]
    if name == "__init__.py" and len(parts) >= 2:
        parent = "/".join(parts[:-2])
        if (f"{parent}/__init__.py" if parent else "__init__.py") in present:
            return None
        return parts[-2]
    if not name.endswith((".py", ".pyc", ".so", ".pyd")):
        return None
    if (f"{folder}/__init__.py" if folder else "__init__.py") in present:
        return None
    return name.split(".", 1)[0]


def _bound_runner_names(tree: ast.AST) -> dict[str, str]:
    """Local names bound to a runner module (`import _pytest.python as p`, `from _pytest import x`)."""
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in RUNNER_MODULES:
                    bound[a.asname or a.name.split(".")[0]] = a.name
        elif (isinstance(node, ast.ImportFrom) and node.module and node.level == 0
              and node.module.split(".")[0] in RUNNER_MODULES):
            for a in node.names:
                bound[a.asname or a.name] = f"{node.module}.{a.name}"
    return bound


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _chain(node: ast.expr) -> str:
    try:
        return ast.unparse(node)[:80]
    except Exception:  # noqa: BLE001 - display only
        return "?"


def findings(source: bytes | None, is_test: bool) -> Counter[str]:
    """What one file does that can attack the judge, as counted findings."""
    found: Counter[str] = Counter()
    if not source:
        return found
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return found
    bound = _bound_runner_names(tree)
    runner_strings = any(
        isinstance(n, ast.Constant) and isinstance(n.value, str)
        and n.value.split(".")[0] in RUNNER_MODULES - {"pytest", "unittest"} for n in ast.walk(tree)
    ) or any(isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in ("runtest", "TestCase")
             for n in ast.walk(tree))
    # Dynamic patching (setattr through a variable) counts where the file reaches the runner at all.
    dynamic = runner_strings or (bool(bound) and not is_test)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    if not is_test and any(m.split(".")[0] in RUNNER_MODULES - {"unittest"} for m in bound.values()):
        found["runner-patching: imports the test runner's internals"] += 1
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        for t in targets:
            if not isinstance(t, (ast.Attribute, ast.Subscript)):
                continue
            root = _root_name(t)
            text = _chain(t)
            if root in bound or text.startswith(("sys.modules", "builtins.", "__builtins__")) or ".__dict__[" in text:
                found[f"runner-patching: assigns {text}"] += 1
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr"):
            first = node.args[0] if node.args else None
            if first is not None and (_root_name(first) in bound or dynamic):
                found[f"runner-patching: {node.func.id}({_chain(first)}, ...)"] += 1
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
            "update", "setdefault", "__setitem__", "pop"
        ) and _chain(node.func.value) in ("sys.modules", "builtins.__dict__", "__builtins__"):
            found[f"runner-patching: {_chain(node.func)}(...)"] += 1
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            hook = node.name.startswith("pytest_") and (not is_test or node.name != "pytest_generate_tests")
            if node.name == "load_tests" or hook:
                found[f"runner-hook: defines {node.name}"] += 1
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytest_plugins"
                                                for t in node.targets):
            found["runner-hook: sets pytest_plugins"] += 1
    if "atexit" in names | attrs and (attrs | names) & _EXIT_NAMES:
        found["forced-exit: atexit together with os._exit / kill / abort"] += 1
    return found


def tamper_reasons(ws: Any, current: dict[str, str], test_files: list[str]) -> list[str]:
    modified, added, deleted = changed_files(ws.manifest, current)
    present = set(current)
    reasons: list[str] = []
    bytecode = [r for r in modified | added if r.endswith((".pyc", ".pyo"))]
    reasons += _capped("sourceless-bytecode", [f"{r} (imported without a source; delete it)" for r in bytecode])
    native = [r for r in added | modified if r.endswith((".so", ".pyd"))]
    reasons += _capped("native-module", native)
    stubs = [r for r in added | modified | deleted if r.endswith(".pyi")]
    reasons += _capped("stub-file", [f"{r} (mypy would check the stub, not the code)" for r in stubs])
    known = set(sys.stdlib_module_names) | installed_names(Path(ws.venv)) | RUNNER_MODULES
    shadows = []
    for rel in sorted(added):
        name = _top_level_module(rel, present)
        if name and name in known:
            shadows.append(f"{rel} shadows the {name!r} module")
    reasons += _capped("module-shadowing", shadows)
    found = []
    for rel in sorted(r for r in modified | added if r.endswith(".py")):
        is_test = _matches(rel, test_files) or rel.endswith("conftest.py")
        now, was = findings(_read(ws, rel), is_test), findings(ws.original(rel), is_test)
        for what, n in sorted(now.items()):
            if n > was.get(what, 0):
                rule, _, detail = what.partition(": ")
                found.append((rule, f"{rel}: {detail}"))
    for rule in ("runner-patching", "forced-exit", "runner-hook"):
        reasons += _capped(rule, [d for r, d in found if r == rule])
    return reasons
