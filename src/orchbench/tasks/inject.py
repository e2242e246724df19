"""Rule-driven breakage: insert code blocks at anchors found with `ast`, deterministically.

A rule says which file, which anchor (after the last top-level import, after a named top-level def or
class, the start after the docstring, the end) and what code. Anchors come from the syntax tree, so
multi-line imports and decorators are handled. The engine refuses a base it does not expect (dirty
git tree, file hash mismatch, missing file or anchor, block already present) instead of guessing.
"""

from __future__ import annotations

import ast
import hashlib
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from orchbench.errors import UserError
from orchbench.tasks.spec import Injection, Replace


class InjectionError(UserError):
    """The base is not the one the rules were written for."""


@dataclass(frozen=True)
class Applied:
    id: str
    file: str
    anchor: str
    line: int  # 1-based line where the block now starts
    lines: int  # lines of code inserted
    category: str = ""

    def describe(self) -> str:
        cat = f" [{self.category}]" if self.category else ""
        return f"{self.id}{cat}: {self.file}:{self.line} (+{self.lines} lines, {self.anchor})"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _top_import_end(tree: ast.Module) -> int | None:
    ends = [n.end_lineno or n.lineno for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    return max(ends) if ends else None


def _named_end(tree: ast.Module, name: str, kinds: tuple[type, ...]) -> int | None:
    for node in tree.body:
        if isinstance(node, kinds) and getattr(node, "name", None) == name:
            return node.end_lineno
    return None


def _start_line(tree: ast.Module) -> int:
    """After the module docstring and any `from __future__` imports (the only legal place before)."""
    line = 0
    for node in tree.body:
        is_doc = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(
            node.value.value, str)
        if (is_doc and line == 0) or (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
            line = node.end_lineno or node.lineno
        else:
            break
    return line


def anchor_line(text: str, rule: Injection, *, where: str) -> int:
    """The number of lines of `text` after which the rule's block goes (0 = the very top)."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise InjectionError(f"{rule.id}: {where} does not parse ({exc.msg}, line {exc.lineno})") from None
    if rule.anchor == "after_imports":
        line = _top_import_end(tree)
        what = "a top-level import"
    elif rule.anchor == "after_def":
        line = _named_end(tree, rule.target or "", (ast.FunctionDef, ast.AsyncFunctionDef))
        what = f"a top-level def {rule.target}"
    elif rule.anchor == "after_class":
        line = _named_end(tree, rule.target or "", (ast.ClassDef,))
        what = f"a top-level class {rule.target}"
    elif rule.anchor == "start":
        return _start_line(tree)
    else:
        return len(text.splitlines())
    if line is None:
        raise InjectionError(f"{rule.id}: {where} has no {what} (anchor {rule.anchor}); the base is not the "
                             "one this rule was written for")
    return line


def inject_text(text: str, rule: Injection, *, where: str) -> tuple[str, Applied]:
    block = rule.code.strip("\n")
    if block and block in text:
        raise InjectionError(f"{rule.id}: {where} already contains this block (injected twice?)")
    after = anchor_line(text, rule, where=where)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    # The paper's layout: one blank line before the block, none after. It decides where ruff's import
    # sorting (I001) fires, so it is part of what a task's set-up counts mean.
    block_lines = [ln + "\n" for ln in block.split("\n")]
    before_pad = ["\n"] if after > 0 else []
    new = lines[:after] + before_pad + block_lines + lines[after:]
    applied = Applied(rule.id, where, rule.anchor, after + len(before_pad) + 1, len(block_lines), rule.category)
    return "".join(new), applied


def git_dirty(root: Path) -> str | None:
    if not (root / ".git").exists():
        return None
    proc = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=root,
                          capture_output=True, text=True, check=False)
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def apply_injections(root: Path, rules: list[Injection], *, require_clean: bool = True) -> list[Applied]:
    """Apply `rules` in order under `root`; all checks pass before any file is written."""
    if require_clean and rules:
        dirty = git_dirty(root)
        if dirty:
            first = dirty.splitlines()[0]
            raise InjectionError(f"{root}: the base has uncommitted changes ({first} ...); injection needs "
                                 "the pristine tree")
    texts: dict[str, str] = {}
    applied: list[Applied] = []
    for rule in rules:
        path = root / rule.file
        if rule.file not in texts:
            if not path.is_file():
                raise InjectionError(f"{rule.id}: {rule.file} does not exist in the base")
            data = path.read_bytes()
            if rule.expect_sha256 and hashlib.sha256(data).hexdigest() != rule.expect_sha256:
                raise InjectionError(f"{rule.id}: {rule.file} differs from the expected base (sha256 "
                                     f"mismatch); the rules were written for another version")
            texts[rule.file] = data.decode("utf-8")
        texts[rule.file], done = inject_text(texts[rule.file], rule, where=rule.file)
        applied.append(done)
    for rel, text in texts.items():
        (root / rel).write_text(text, encoding="utf-8")
    return applied


def apply_replacements(root: Path, rules: list[Replace], *, task: str) -> None:
    """Each `old` -> `new`, refusing a file where `old` is missing or not unique (bytes, not lines)."""
    for r in rules:
        path = root / r.file
        if not path.is_file():
            raise InjectionError(f"task {task}: setup.replace file {r.file!r} is not in the base")
        data = path.read_bytes()
        if r.expect_sha256 and hashlib.sha256(data).hexdigest() != r.expect_sha256:
            raise InjectionError(f"task {task}: {r.file} is not the file the edit was made for (sha256 differs)")
        old, new = r.old.encode(), r.new.encode()
        if data.count(old) != 1:
            raise InjectionError(f"task {task}: setup.replace text must occur once in {r.file}, "
                                 f"found {data.count(old)} times")
        path.write_bytes(data.replace(old, new, 1))
