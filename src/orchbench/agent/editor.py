"""The file tools: `str_replace_editor` in two styles, and `glob`.

Both styles edit the same way (every path resolved, symlinks included, and refused if it leaves
the workspace; writes make a new inode). They differ in what they show:
- `orchbench`: views page by `view_range` under a cap, directories two levels deep, edits answer
  with a numbered snippet around the change;
- `paper`: the paper's harness, as its code ran: a view is the numbered file cut to 8,000
  characters (head and tail kept), a directory is one level of names, dotfiles included, and
  edits answer with one line.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Literal

from orchbench.agent import fileview
from orchbench.agent.tool import ToolError, ToolOutput, cut_head_tail

Style = Literal["orchbench", "paper"]
VIEW_MAX_CHARS = 16_000  # orchbench style: one view never carries more; view_range pages through
PAPER_VIEW_CHARS, PAPER_KEEP = 8_000, 3_900
MAX_EDIT_BYTES = 16 << 20  # an edit rewrites the whole file in memory: refuse the absurd ones
GLOB_MAX = 500

_ORCHBENCH_DESCRIPTION = (
    "View, create and edit files in the repository. Paths are relative to the repository root.\n"
    "* view: a file with line numbers (optionally view_range [start, end], end -1 = to the end; long "
    f"files are shown {VIEW_MAX_CHARS:,} characters at a time), or a directory listing two levels deep\n"
    "* create: write file_text to path (parents are created)\n"
    "* str_replace: replace old_str, which must occur exactly once, with new_str\n"
    "* insert: insert new_str after line insert_line (0 = at the top)"
)
_PAPER_DESCRIPTION = (
    "Files in the repo (paths relative to its root). view: a file with line numbers (long files cut "
    "in the middle) or a directory's entries; create: write file_text; str_replace: old_str, which "
    "must be unique, becomes new_str; insert: new_str after line insert_line."
)


class EditorTool:
    """str_replace_editor: view / create / str_replace / insert, paths relative to the workspace."""

    name = "str_replace_editor"

    def __init__(self, root: Path | str, style: Style = "orchbench") -> None:
        self.root = Path(root).resolve()
        self.style = style

    def schema(self) -> dict[str, Any]:
        paper = self.style == "paper"
        props: dict[str, Any] = {
            "command": {"type": "string", "enum": ["view", "create", "str_replace", "insert"]},
            "path": {"type": "string"},
            "file_text": {"type": "string"},
            "old_str": {"type": "string"},
            "new_str": {"type": "string"},
            "insert_line": {"type": "integer"},
        }
        if not paper:
            props["path"]["description"] = "File or directory, relative to the repository root."
            props["view_range"] = {"type": "array", "items": {"type": "integer"},
                                   "description": "[start, end] lines for `view`, 1-based, end -1 = to the end."}
        return {"name": self.name, "description": _PAPER_DESCRIPTION if paper else _ORCHBENCH_DESCRIPTION,
                "input_schema": {"type": "object", "properties": props, "required": ["command", "path"]}}

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
        except fileview.NotText as exc:
            return ToolOutput(f"Error: {exc}: not UTF-8 text", is_error=True)
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
        if full.stat().st_size > MAX_EDIT_BYTES:
            raise ToolError(f"{self._rel(full)}: too large to edit here ({full.stat().st_size:,} bytes)")
        try:
            return fileview.read_small(full)
        except fileview.NotText:
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

    # -- view ----------------------------------------------------------------------------------
    def _view(self, args: dict[str, Any]) -> str:
        full = self.resolve(args["path"])
        if full.is_dir():
            if args.get("view_range"):
                raise ToolError("view_range only applies to files")
            if self.style == "paper":
                return fileview.listing(full, depth=1, hidden=True, rel=full)
            return (f"Files and directories up to 2 levels deep in {self._rel(full)}:\n"
                    + fileview.listing(full, depth=2, hidden=False, rel=self.root))
        if not full.is_file():
            raise ToolError(f"{self._rel(full)}: no such file")
        size = fileview.measure(full)
        if self.style == "paper":
            return self._view_paper(full, size)
        return self._view_paged(full, size, args.get("view_range"))

    def _view_paper(self, full: Path, size: fileview.Measure) -> str:
        if size.numbered_chars <= PAPER_VIEW_CHARS:
            return fileview.number(fileview.read_small(full).split("\n"), 1)
        head = fileview.head(full, PAPER_KEEP)
        tail = fileview.tail(full, PAPER_KEEP, size.lines)
        return cut_head_tail(head, tail, size.numbered_chars)

    def _view_paged(self, full: Path, size: fileview.Measure, rng: Any) -> str:
        start, end = 1, size.lines
        if rng is not None:
            if not (isinstance(rng, list) and len(rng) == 2 and all(isinstance(x, int) for x in rng)):
                raise ToolError("view_range must be two integers [start, end]")
            start, end = rng[0], (size.lines if rng[1] == -1 else rng[1])
            if not 1 <= start <= size.lines or end < start or end > size.lines:
                raise ToolError(f"view_range {rng} is outside the file's lines 1..{size.lines}")
        text, last = fileview.line_range(full, start, end, VIEW_MAX_CHARS)
        if last < end:
            more = -1 if rng is None or rng[1] == -1 else end
            text += (f"\n[showing lines {start}-{last} of {size.lines:,}; see more with "
                     f"view_range [{last + 1}, {more}]]")
        return text

    # -- edits -----------------------------------------------------------------------------------
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
        if self.style == "paper":
            return f"Replaced text in {self._rel(full)} at line {first + 1}."
        all_lines = updated.split("\n")
        lo, hi = max(first - 3, 0), min(first + new.count("\n") + 4, len(all_lines))
        return f"Edited {self._rel(full)}. Snippet:\n" + fileview.number(all_lines[lo:hi], lo + 1)

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
        if self.style == "paper":
            return f"Inserted {len(new_lines)} line(s) into {self._rel(full)} after line {line}."
        lo, hi = max(line - 3, 0), min(line + len(new_lines) + 3, len(updated))
        return (f"Inserted into {self._rel(full)} after line {line}. Snippet:\n"
                + fileview.number(updated[lo:hi], lo + 1))


def _find_all(text: str, sub: str) -> list[int]:
    out, i = [], text.find(sub)
    while i != -1:
        out.append(i)
        i = text.find(sub, i + 1)
    return out


class GlobTool:
    """glob: the workspace's files matching a pattern (for an executor that has no shell)."""

    name = "glob"

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()

    def schema(self) -> dict[str, Any]:
        return {"name": self.name, "description": "Files matching a glob pattern (e.g. typer/**/*.py), "
                "relative to the repo root.",
                "input_schema": {"type": "object", "properties": {"pattern": {"type": "string"}},
                                 "required": ["pattern"]}}

    def run(self, args: dict[str, Any]) -> ToolOutput:
        pattern = args.get("pattern")
        if not isinstance(pattern, str) or not pattern or Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            return ToolOutput("Error: give a relative 'pattern' inside the repository", is_error=True)
        found: list[str] = []
        more = 0
        for p in self.root.glob(pattern):
            if len(found) < GLOB_MAX:
                found.append(p.relative_to(self.root).as_posix())
            else:
                more += 1
        found.sort()
        if more:
            found.append(f"[... {more:,} more matches not shown]")
        return ToolOutput("\n".join(found) or "no matches")
