"""The agent's tools: a file editor confined to the workspace and a sandboxed bash.

Both speak Anthropic's tool-definition format. The editor runs in our process, so every path is
resolved (symlinks included) and refused if it leaves the workspace. Bash runs each command in a
fresh bubblewrap sandbox where only the workspace is writable; the task's venv and a read-only
`judge` command are on its PATH. The agent's `judge` shows what the judge would say; it cannot
change the final verdict, which the runner computes afterwards from outside the sandbox.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from orchbench.errors import UserError
from orchbench.sandbox import Limits, run_sandboxed, sandbox_available

BASH_OUTPUT_CHARS = 8000
VIEW_MAX_CHARS = 200_000


@dataclass
class ToolOutput:
    text: str
    is_error: bool = False


class Tool(Protocol):
    name: str

    def schema(self) -> dict[str, Any]: ...

    def run(self, args: dict[str, Any]) -> ToolOutput: ...


class ToolError(Exception):
    """A mistake in the tool call: reported to the model as an error result, never raised further."""


def cut_middle(text: str, limit: int) -> str:
    """Head and tail of `text` with a marker saying how much was cut, when it exceeds `limit`."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} chars cut ...]\n{text[-half:]}"


def _numbered(lines: list[str], start: int) -> str:
    return "\n".join(f"{i:6}\t{line}" for i, line in enumerate(lines, start))


class EditorTool:
    """str_replace_editor: view / create / str_replace / insert, paths relative to the workspace."""

    name = "str_replace_editor"

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()

    def schema(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": (
                "View, create and edit files in the repository. Paths are relative to the repository root.\n"
                "* view: a file with line numbers (optionally view_range [start, end], end -1 = to the end), "
                "or a directory listing two levels deep\n"
                "* create: write file_text to path (parents are created)\n"
                "* str_replace: replace old_str, which must occur exactly once, with new_str\n"
                "* insert: insert new_str after line insert_line (0 = at the top)"
            ),
            "input_schema": {
                "type": "object",
                "properties": {
                    "command": {"type": "string", "enum": ["view", "create", "str_replace", "insert"]},
                    "path": {"type": "string", "description": "File or directory, relative to the repository root."},
                    "file_text": {"type": "string", "description": "Content for `create`."},
                    "old_str": {"type": "string", "description": "Exact text to replace (`str_replace`)."},
                    "new_str": {"type": "string", "description": "Replacement (`str_replace`) or text to insert."},
                    "insert_line": {"type": "integer", "description": "Insert after this line (`insert`)."},
                    "view_range": {
                        "type": "array",
                        "items": {"type": "integer"},
                        "description": "[start, end] lines for `view`, 1-based, end -1 = to the end.",
                    },
                },
                "required": ["command", "path"],
            },
        }

    def run(self, args: dict[str, Any]) -> ToolOutput:
        try:
            command = args.get("command")
            handler = {"view": self._view, "create": self._create, "str_replace": self._replace,
                       "insert": self._insert}.get(str(command))
            if handler is None:
                raise ToolError(f"unknown command {command!r}: use view, create, str_replace or insert")
            if not isinstance(args.get("path"), str) or not args["path"]:
                raise ToolError("missing 'path'")
            return ToolOutput(handler(args))
        except ToolError as exc:
            return ToolOutput(f"Error: {exc}", is_error=True)
        except OSError as exc:
            return ToolOutput(f"Error: {exc.strerror or exc}", is_error=True)

    # -- paths -------------------------------------------------------------------------------
    def resolve(self, path: str) -> Path:
        """The real path inside the workspace, or ToolError (symlinks that leave it included)."""
        p = Path(path)
        full = (p if p.is_absolute() else self.root / p).resolve()
        if full != self.root and self.root not in full.parents:
            raise ToolError(f"{path}: outside the repository; give a path inside it")
        return full

    def _rel(self, full: Path) -> str:
        return full.relative_to(self.root).as_posix() or "."

    def _read(self, full: Path) -> str:
        if not full.is_file():
            raise ToolError(f"{self._rel(full)}: no such file")
        try:
            return full.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ToolError(f"{self._rel(full)}: not UTF-8 text") from None

    def _write(self, full: Path, text: str) -> None:
        # New inode via rename: never writes through a hardlink into a shared base copy.
        full.parent.mkdir(parents=True, exist_ok=True)
        mode = full.stat().st_mode & 0o7777 if full.exists() else 0o644
        fd, tmp = tempfile.mkstemp(dir=full.parent, prefix=f".{full.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
            os.chmod(tmp, mode)
            os.replace(tmp, full)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # -- commands ----------------------------------------------------------------------------
    def _view(self, args: dict[str, Any]) -> str:
        full = self.resolve(args["path"])
        if full.is_dir():
            if args.get("view_range"):
                raise ToolError("view_range only applies to files")
            out = []
            for dirpath, dirnames, filenames in os.walk(full):
                depth = len(Path(dirpath).relative_to(full).parts)
                dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__pycache__")
                if depth >= 2:
                    dirnames[:] = []
                for name in sorted(dirnames) + sorted(f for f in filenames if not f.startswith(".")):
                    out.append(self._rel(Path(dirpath) / name))
            return f"Files and directories up to 2 levels deep in {self._rel(full)}:\n" + "\n".join(sorted(out))
        lines = self._read(full).split("\n")
        start, end = 1, len(lines)
        rng = args.get("view_range")
        if rng is not None:
            if not (isinstance(rng, list) and len(rng) == 2 and all(isinstance(x, int) for x in rng)):
                raise ToolError("view_range must be two integers [start, end]")
            start, end = rng[0], (len(lines) if rng[1] == -1 else rng[1])
            if not 1 <= start <= len(lines) or end < start or end > len(lines):
                raise ToolError(f"view_range {rng} is outside the file's lines 1..{len(lines)}")
        return cut_middle(_numbered(lines[start - 1 : end], start), VIEW_MAX_CHARS)

    def _create(self, args: dict[str, Any]) -> str:
        text = args.get("file_text")
        if not isinstance(text, str):
            raise ToolError("create needs 'file_text'")
        full = self.resolve(args["path"])
        if full.is_dir():
            raise ToolError(f"{self._rel(full)} is a directory")
        existed = full.exists()
        self._write(full, text)
        return f"{'Overwrote' if existed else 'Created'} {self._rel(full)}"

    def _replace(self, args: dict[str, Any]) -> str:
        old, new = args.get("old_str"), args.get("new_str", "")
        if not isinstance(old, str) or old == "":
            raise ToolError("str_replace needs a non-empty 'old_str'")
        if not isinstance(new, str):
            raise ToolError("'new_str' must be a string")
        full = self.resolve(args["path"])
        text = self._read(full)
        count = text.count(old)
        if count == 0:
            raise ToolError(f"old_str not found in {self._rel(full)}; it must match exactly, whitespace included")
        if count > 1:
            lines = [text[: m].count("\n") + 1 for m in _find_all(text, old)]
            raise ToolError(f"old_str occurs {count} times in {self._rel(full)} (lines {lines}); make it unique")
        at = text.index(old)
        updated = text.replace(old, new, 1)
        self._write(full, updated)
        first = updated[:at].count("\n")
        all_lines = updated.split("\n")
        lo, hi = max(first - 3, 0), min(first + new.count("\n") + 4, len(all_lines))
        return f"Edited {self._rel(full)}. Snippet:\n" + _numbered(all_lines[lo:hi], lo + 1)

    def _insert(self, args: dict[str, Any]) -> str:
        line, new = args.get("insert_line"), args.get("new_str")
        if not isinstance(line, int) or isinstance(line, bool):
            raise ToolError("insert needs an integer 'insert_line'")
        if not isinstance(new, str):
            raise ToolError("insert needs 'new_str'")
        full = self.resolve(args["path"])
        lines = self._read(full).split("\n")
        if not 0 <= line <= len(lines):
            raise ToolError(f"insert_line {line} is outside 0..{len(lines)}")
        new_lines = new.split("\n")
        updated = lines[:line] + new_lines + lines[line:]
        self._write(full, "\n".join(updated))
        lo, hi = max(line - 3, 0), min(line + len(new_lines) + 3, len(updated))
        return f"Inserted into {self._rel(full)} after line {line}. Snippet:\n" + _numbered(updated[lo:hi], lo + 1)


def _find_all(text: str, sub: str) -> list[int]:
    out, i = [], text.find(sub)
    while i != -1:
        out.append(i)
        i = text.find(sub, i + 1)
    return out


class BashTool:
    """bash: one command per call, in a fresh sandbox, cwd = workspace, `judge` on PATH."""

    name = "bash"

    def __init__(
        self,
        ws: Any,
        *,
        unsafe_no_sandbox: bool = False,
        timeout_s: float = 120,
        limits: Limits | None = None,
        output_chars: int = BASH_OUTPUT_CHARS,
    ) -> None:
        if not unsafe_no_sandbox and not sandbox_available():
            raise UserError(
                "bubblewrap (bwrap) is missing or cannot start a sandbox here: install the Debian package "
                "'bubblewrap', or pass --unsafe-no-sandbox to run agent commands unconfined"
            )
        self.ws = None if isinstance(ws, (str, os.PathLike)) else ws  # a Path has `.root` too
        self.root = Path(ws.root if self.ws is not None else ws).resolve()
        self.unsafe = unsafe_no_sandbox
        self.timeout_s = timeout_s
        self.limits = limits or Limits()
        self.output_chars = output_chars
        self._bin: Path | None = None
        self._originals: Path | None = None

    def schema(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": (
                "Run a bash command in the repository root (a fresh shell each call, no network, "
                f"{self.timeout_s:g} s timeout; long output is cut in the middle). "
                "`judge` runs the task's checks and prints the verdict (`judge --json` for details)."
            ),
            "input_schema": {
                "type": "object",
                "properties": {"command": {"type": "string", "description": "The bash command to run."}},
                "required": ["command"],
            },
        }

    def _judge_bin(self) -> Path | None:
        """A read-only dir holding the `judge` script and a snapshot of what it needs (made once)."""
        if self.ws is None or not hasattr(self.ws, "task"):
            return None
        if self._bin is None:
            from orchbench.judge.local import write_snapshot

            d = Path(tempfile.mkdtemp(prefix="orchbench-judge-bin-"))
            weakref.finalize(self, shutil.rmtree, str(d), True)
            self._originals = write_snapshot(self.ws, d / "ctx")
            # The agent's own judge cache and tool caches: kept across calls (a repeated `judge` is
            # instant, mypy stays warm), writable by the agent, never read by the runner's judge.
            (d / "cache").mkdir()
            script = d / "bin" / "judge"
            script.parent.mkdir()
            # -I: the workspace (cwd, PYTHONPATH) must not shadow the judge's own modules.
            script.write_text(
                f'#!/bin/sh\nexec "{sys.executable}" -I -m orchbench.judge.agent_cli --context "{d / "ctx"}" "$@"\n'
            )
            script.chmod(0o755)
            self._bin = d
        return self._bin

    def env(self) -> dict[str, str]:
        """The workspace's env (the same code as the judge's), plus `judge` first on PATH."""
        ws: Any = self.ws
        venv = getattr(ws, "venv", None)
        if venv is not None:
            from orchbench.tasks.venv import env_for

            env = env_for(self.root, Path(venv), dict(getattr(ws.task.judge, "env", {}) or {}))
        else:
            env = {"PATH": os.environ.get("PATH", os.defpath), "PYTHONPATH": str(self.root)}
        bindir = self._judge_bin()
        if bindir is not None:
            env["PATH"] = f"{bindir / 'bin'}:{env['PATH']}"
            env["ORCHBENCH_CACHE"] = str(bindir / "cache")
        return env

    def _timeout_for(self, command: str) -> float:
        """`judge` may take as long as the task's judge does (typer's suite alone is ~140 s)."""
        words, ws = command.split(), self.ws
        if self._bin is not None and words and words[0] == "judge" and ws is not None:
            return max(self.timeout_s, float(ws.task.judge.timeout_s) + 30)
        return self.timeout_s

    def run(self, args: dict[str, Any]) -> ToolOutput:
        command = args.get("command")
        if not isinstance(command, str) or not command.strip():
            return ToolOutput("Error: missing 'command'", is_error=True)
        env = self.env()
        extra = (getattr(self.ws, "venv", None), self._bin, self._originals)
        readonly = [Path(p) for p in extra if p is not None]
        writable = [self.root] + ([self._bin / "cache"] if self._bin is not None else [])
        timeout_s = self._timeout_for(command)
        r = run_sandboxed(
            command,
            cwd=self.root,
            writable=writable,
            readonly=readonly,
            env=env,
            timeout_s=timeout_s,
            limits=self.limits,
            unsafe_no_sandbox=self.unsafe,
        )
        text = r.stdout
        if r.stderr:
            text += ("\n" if text and not text.endswith("\n") else "") + r.stderr
        text = cut_middle(text, self.output_chars)
        if r.timed_out:
            return ToolOutput(f"{text}\n[command timed out after {timeout_s:g} s and was killed]", True)
        if r.exit_code != 0:
            text += f"\n[exit code {r.exit_code}]"
        return ToolOutput(text or "(no output)")
