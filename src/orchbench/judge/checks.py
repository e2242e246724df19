"""Structural checks, declared by a task as `[[checks]]` with a name and params.

Import analysis uses `ast`, so multi-line `from x import (a,\\n b)`, aliases (`as g`), relative
imports (`from .utils import f`) and attribute access through a module alias (`from . import utils;
utils.f`, `import typer.utils as u; u.f`, `getattr(u, "f")`) are all seen, which grep is not.
Checks that need the code to run (`function_exported`, `tests_pass`) go through the judge's sandbox.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchbench.errors import UserError
from orchbench.judge.guard import Evidence
from orchbench.judge.parsers import parse_pytest
from orchbench.judge.tree import is_noise
from orchbench.sandbox import SandboxResult


@dataclass
class CheckContext:
    root: Path
    run: Callable[[list[str]], SandboxResult]  # argv run in the judge's sandbox, cwd = root, venv env
    python: str = "python"
    evidence: Callable[[], Evidence | None] = lambda: None  # what the guard saw during the last run
    original: Callable[[str], bytes | None] = lambda rel: None  # a file as it was after set-up


def module_name(rel: str) -> tuple[str, bool]:
    """("typer.utils", False) for typer/utils.py; ("typer", True) for typer/__init__.py."""
    parts = rel.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _resolve(this: str, is_pkg: bool, level: int, module: str | None) -> str:
    if level == 0:
        return module or ""
    pkg = this if is_pkg else this.rpartition(".")[0]
    for _ in range(level - 1):
        pkg = pkg.rpartition(".")[0]
    return f"{pkg}.{module}" if module and pkg else (module or pkg)


def _dotted(node: ast.expr) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def imported_names(source: str | bytes, rel: str) -> set[tuple[str, str]]:
    """(module, name) pairs a file takes from other modules, by import or via a module alias."""
    tree = ast.parse(source)
    this, is_pkg = module_name(rel)
    uses: set[tuple[str, str]] = set()
    bound: dict[str, str] = {}  # local name -> the module it refers to (when it may be a module)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            src = _resolve(this, is_pkg, node.level, node.module)
            for a in node.names:
                uses.add((src, a.name))
                bound[a.asname or a.name] = f"{src}.{a.name}"  # `from typer import utils`
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    bound[a.asname] = a.name
                else:
                    top = a.name.split(".")[0]
                    bound[top] = top
    for node in ast.walk(tree):
        chain: list[str] | None = None
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            chain = _dotted(node)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            base = _dotted(node.args[0])
            chain = [*base, node.args[1].value] if base else None
        if chain and chain[0] in bound:
            full = [*bound[chain[0]].split("."), *chain[1:]]
            uses.add((".".join(full[:-1]), full[-1]))
    return uses


def defines(source: str | bytes, name: str) -> bool:
    """True when the module binds `name` at top level by def, class or assignment."""
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return True
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return True
    return False


def _py_files(root: Path, under: str = "") -> Iterator[tuple[str, bytes]]:
    base = root / under if under else root
    for path in sorted(base.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if is_noise(rel) or path.is_symlink() or not path.is_file():
            continue
        yield rel, path.read_bytes()


def _parses(rel: str, src: bytes, fails: list[str], check: str) -> bool:
    try:
        ast.parse(src)
        return True
    except SyntaxError as exc:
        fails.append(f"check {check}: {rel} does not parse ({exc.msg}, line {exc.lineno})")
        return False


def function_moved(ctx: CheckContext, function: str, old_module: str, new_module: str, package: str = "") -> list[str]:
    name = "function_moved"
    fails: list[str] = []
    old_mod, new_mod = module_name(old_module)[0], module_name(new_module)[0]
    new_path, old_path = ctx.root / new_module, ctx.root / old_module
    if not new_path.is_file():
        fails.append(f"check {name}: {new_module} does not exist")
    elif _parses(new_module, new_path.read_bytes(), fails, name) and not defines(new_path.read_bytes(), function):
        fails.append(f"check {name}: {new_module} does not define {function}")
    old_ok = old_path.is_file() and _parses(old_module, old_path.read_bytes(), fails, name)
    if old_ok and defines(old_path.read_bytes(), function):
        fails.append(f"check {name}: {old_module} still defines {function}")
    importers_new = []
    for rel, src in _py_files(ctx.root):
        # Any import or attribute use names the function literally: skip parsing the other files.
        if rel in (old_module, new_module) or function.encode() not in src:
            continue
        if not _parses(rel, src, fails, name):
            continue
        uses = imported_names(src, rel)
        if (old_mod, function) in uses:
            fails.append(f"check {name}: {rel} still imports {function} from {old_mod}")
        if (new_mod, function) in uses:
            importers_new.append(rel)
    if not importers_new:
        fails.append(f"check {name}: no module imports {function} from {new_mod}")
    return fails


def function_defined(ctx: CheckContext, function: str, package: str = "", module: str = "") -> list[str]:
    where = module or package
    for rel, src in _py_files(ctx.root, where if not module else ""):
        if (module and rel != module) or function.encode() not in src:
            continue
        try:
            if defines(src, function):
                return []
        except SyntaxError:
            continue
    return [f"check function_defined: no module under {where or '.'} defines {function}"]


_CALLABLE = """
import importlib, os, sys
root, pkg, fn = sys.argv[1:4]
m = importlib.import_module(pkg)
if not os.path.realpath(m.__file__).startswith(os.path.realpath(root) + os.sep):
    sys.exit(f"{pkg} was imported from {m.__file__}, not from the workspace")
f = getattr(m, fn, None)
if not callable(f):
    sys.exit(f"{pkg}.{fn} is missing or not callable")
if sys.argv[4] == "1":
    f()
"""


def function_exported(ctx: CheckContext, function: str, package: str, call: bool = True) -> list[str]:
    """Defined under the package, reachable as `package.function` from the workspace's own code, and
    (unless call=false) callable with no arguments."""
    fails = [f.replace("function_defined", "function_exported") for f in function_defined(ctx, function, package)]
    r = ctx.run([ctx.python, "-c", _CALLABLE, str(ctx.root), package, function, "1" if call else "0"])
    if r.exit_code != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["no output"]
        fails.append(f"check function_exported: {package}.{function}() failed: {tail[0][:300]}")
    return fails


def tests_pass(ctx: CheckContext, path: str, args: list[str] | None = None) -> list[str]:
    """The tests under `path` pass: by the exit status, the printed summary and, when the judge's
    guard ran, by the outcomes it recorded (the printed summary is the process's own word)."""
    r = ctx.run([ctx.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *(args or []), path])
    counts = parse_pytest(r.stdout + r.stderr)
    if r.exit_code != 0 or counts.get("passed", 0) < 1 or counts.get("failed", 0):
        shown = ", ".join(f"{v} {k}" for k, v in counts.items() if v) or f"exit {r.exit_code}"
        return [f"check tests_pass: {path}: {shown}"]
    ev = ctx.evidence()
    if ev is not None:
        if ev.tampered:
            return [f"check tests_pass: {path}: the test runner was tampered with ({ev.tampered[0]})"]
        if not ev.finished or ev.count("passed") < 1:
            return [f"check tests_pass: {path}: the judge's guard saw no passing test run to its end"]
        bad = sorted(t for t, o in ev.outcomes.items() if o in ("failed", "error"))
        if bad:
            return [f"check tests_pass: {path}: {len(bad)} test(s) failed per the judge's guard (first: {bad[0]})"]
    return []


_RETURNS = """
import importlib, json, sys
pkg, fn, cases = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
f = getattr(importlib.import_module(pkg), fn)
out = []
for c in cases:
    try:
        out.append({"ok": True, "value": f(*c.get("args", []), **c.get("kwargs", {}))})
    except Exception as exc:
        out.append({"ok": False, "value": f"{type(exc).__name__}: {exc}"})
sys.stdout.write("\\n" + sys.argv[4] + json.dumps(out, default=repr) + "\\n")
"""


def _format_values(ctx: CheckContext, package: str) -> dict[str, str]:
    """Placeholders an expected value may use, computed by the judge, not by the code under test:
    {version} from the set-up original of the package's __init__.py, {python_major}/{python_minor}
    from the task's interpreter started isolated (no workspace on sys.path)."""
    values: dict[str, str] = {}
    src = ctx.original(package.replace(".", "/") + "/__init__.py")
    if src:
        for node in ast.parse(src).body:
            if (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets)
                    and isinstance(node.value, ast.Constant)):
                values["version"] = str(node.value.value)
    import subprocess

    try:
        out = subprocess.run([ctx.python, "-I", "-S", "-c", "import sys; print(*sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=30, check=True).stdout.split()
        values.update(python_major=out[0], python_minor=out[1])
    except (OSError, subprocess.SubprocessError, IndexError):
        pass
    return values


def function_returns(ctx: CheckContext, function: str, package: str, cases: list[dict[str, Any]]) -> list[str]:
    """Behaviour checked by the judge: `package.function(*args, **kwargs)` called in a fresh process
    (no test runner in it) must return `expect`, a str.format template over _format_values. The
    comparison happens here, outside the process: forging the output means producing the answer."""
    import json
    import secrets

    values = _format_values(ctx, package)
    token = "ORCHBENCH-RESULT-" + secrets.token_hex(8) + ":"
    r = ctx.run([ctx.python, "-c", _RETURNS, package, function, json.dumps(cases), token])
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith(token)]
    if r.exit_code != 0 or len(lines) != 1:
        tail = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["no output"]
        return [f"check function_returns: {package}.{function} could not be called: {tail[0][:300]}"]
    got = json.loads(lines[0][len(token):])
    fails = []
    for case, res in zip(cases, got):
        try:
            want = str(case["expect"]).format(**values)
        except (KeyError, IndexError) as exc:
            raise UserError(f"check function_returns: expect {case.get('expect')!r} names an unknown "
                            f"placeholder {exc} (known: {', '.join(sorted(values))})") from None
        shown = ", ".join([*map(repr, case.get("args", [])), *(f"{k}={v!r}" for k, v in case.get("kwargs", {}).items())])
        if not res["ok"] or res["value"] != want:
            fails.append(f"check function_returns: {package}.{function}({shown}) returned {res['value']!r}, "
                         f"expected {want!r}")
    return fails


CHECKS: dict[str, Callable[..., list[str]]] = {
    "function_moved": function_moved,
    "function_defined": function_defined,
    "function_exported": function_exported,
    "tests_pass": tests_pass,
    "function_returns": function_returns,
}


def run_checks(ctx: CheckContext, checks: list[Any]) -> list[str]:
    """Failure reasons of every check; a check named wrongly or given wrong params is a UserError."""
    fails: list[str] = []
    for check in checks:
        name = check["name"] if isinstance(check, dict) else check.name
        params = (check.get("params") if isinstance(check, dict) else check.params) or {}
        fn = CHECKS.get(name)
        if fn is None:
            raise UserError(f"unknown structural check {name!r}: use one of {', '.join(sorted(CHECKS))}")
        try:
            fails += fn(ctx, **params)
        except TypeError as exc:
            raise UserError(f"structural check {name!r}: bad params {params} ({exc})") from None
    return fails
