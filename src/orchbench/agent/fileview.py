"""Bounded reading for the editor's `view`: what a tool result shows of a file or a directory.

A workspace file may be hundreds of megabytes. Nothing here holds more of it than it shows: the
file is measured by streaming it in chunks, then only the head, the tail or the requested lines
are read and numbered. Directory listings stop collecting past their cap and only count the rest.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20
NUM_WIDTH = 6  # "{i:6}\t{line}": the numbering of both editor profiles
DIR_MAX_ENTRIES = 1000


class NotText(Exception):
    """The file is not UTF-8 text."""


@dataclass(frozen=True)
class Measure:
    lines: int  # as str.split("\n") counts them: a trailing newline opens an empty last line
    chars: int

    @property
    def numbered_chars(self) -> int:
        """len(number(whole file)), computed without reading it again."""
        total, lo, width = 0, 1, NUM_WIDTH
        while lo <= self.lines:  # lines with a wider number than the padding widen the prefix
            hi = min(self.lines, 10**width - 1)
            total += (hi - lo + 1) * (width + 1)
            lo, width = hi + 1, width + 1
        return total + self.chars


def _chunks(path: Path) -> Iterator[str]:
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk
    except UnicodeDecodeError:
        raise NotText(path.name) from None


def measure(path: Path) -> Measure:
    lines, chars = 1, 0
    for chunk in _chunks(path):
        lines += chunk.count("\n")
        chars += len(chunk)
    return Measure(lines, chars)


def number(lines: list[str], start: int) -> str:
    return "\n".join(f"{i:{NUM_WIDTH}}\t{line}" for i, line in enumerate(lines, start))


def read_small(path: Path) -> str:
    """The whole file, for callers that checked its size first."""
    return "".join(_chunks(path))


def head(path: Path, chars: int) -> str:
    """The first `chars` characters of the numbered file (reads at most `chars` of it)."""
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        text = fh.read(chars)
    return number(text.split("\n"), 1)[:chars]


def tail(path: Path, chars: int, total_lines: int) -> str:
    """The last `chars` characters of the numbered file (reads about 4 x `chars` bytes from its end)."""
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        start = max(0, size - 4 * chars - 16)
        fh.seek(start)
        text = fh.read().decode("utf-8", errors="replace")
    lines = text.split("\n")  # the first may have started before the block: only its end is shown
    return number(lines, total_lines - len(lines) + 1)[-chars:]


def line_range(path: Path, start: int, end: int, max_chars: int) -> tuple[str, int]:
    """Numbered lines start..end (1-based, inclusive), stopping before `max_chars`.

    Returns the text and the last line shown. Each line is read with a bound, so one enormous
    line cannot be pulled into memory whole.
    """
    out: list[str] = []
    used, last = 0, start - 1
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        for i in range(1, end + 1):
            raw = fh.readline(max_chars + 1)
            ended = raw.endswith("\n")
            line = raw[:-1] if ended else raw
            if not ended and len(raw) > max_chars:  # a line longer than a page: show its start
                line = raw[:max_chars] + " [line cut]"
                while (rest := fh.readline(CHUNK)) and not rest.endswith("\n"):
                    pass
                ended = rest.endswith("\n")
            if i >= start:
                piece = f"{i:{NUM_WIDTH}}\t{line}"
                if out and used + len(piece) + 1 > max_chars:
                    break
                out.append(piece)
                used, last = used + len(piece) + 1, i
            if not ended:  # the file's last line (as str.split counts them)
                break
    return "\n".join(out), last


def listing(root: Path, *, depth: int, hidden: bool, rel: Path, max_entries: int = DIR_MAX_ENTRIES) -> str:
    """Paths under `root` down to `depth` levels, relative to `rel`, sorted.

    Past `max_entries` the walk only counts, and a final marker says how many were left out.
    """
    shown: list[str] = []
    more = 0
    stack: list[tuple[Path, int]] = [(root, 1)]
    while stack:
        d, level = stack.pop()
        try:
            with os.scandir(d) as it:
                entries = sorted((e for e in it if hidden or not (e.name.startswith(".") or e.name == "__pycache__")),
                                 key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for e in entries:
            if len(shown) < max_entries:
                shown.append(Path(e.path).relative_to(rel).as_posix())
            else:
                more += 1
            if level < depth and e.is_dir(follow_symlinks=False):
                subdirs.append(Path(e.path))
        stack.extend((s, level + 1) for s in reversed(subdirs))
    shown.sort()
    if more:
        shown.append(f"[... {more:,} more entries not shown]")
    return "\n".join(shown)
