"""Return policies: what an executor's work hands back to the orchestrator's context.

This text is what the orchestrator re-reads from its prompt cache on every later turn (the
paper's finding), so its size is the knob. Each policy is a function of an ExecutorReport.
"""

from __future__ import annotations

import difflib
import grp
import json
import os
import pwd
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, PositiveInt

from orchbench.errors import UserError

PolicyKind = Literal["final_text", "transcript_tail", "cli_wrapper", "diff_stat", "structured"]
SKIP_DIRS = {".git", ".venv", "venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache",
             "node_modules", ".tox", ".orchbench"}
MAX_SNAPSHOT_FILE = 2_000_000


class ReturnPolicy(BaseModel):
    kind: PolicyKind = "final_text"
    max_chars: PositiveInt = 1500  # final_text / transcript_tail / cli_wrapper / diff_stat
    max_tokens: PositiveInt = 400  # structured: bounded in tokens (4 chars a token)
    judge: bool = False  # structured: run the judge after the delegation and include its summary

    def needs_listing(self) -> bool:
        return self.kind == "cli_wrapper"

    def needs_snapshot(self) -> bool:
        return self.kind in ("diff_stat", "structured")


@dataclass
class FileChange:
    path: str
    added: int
    removed: int
    status: str = "modified"  # modified | added | deleted


@dataclass
class ExecutorReport:
    final_text: str
    turns: int
    outcome: str  # done | blocked | cap | overflow
    transcript: str = ""
    changes: list[FileChange] | None = None
    judge_summary: str | None = None
    banner: str = ""  # cli_wrapper: the wrapper's first line (executor model, host)
    listing: str = ""  # cli_wrapper: `ls -la` of the repository root after the run
    wall_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_status(self) -> int:
        return 0 if self.outcome == "done" else 1


def read_regular(path: Path, max_bytes: int) -> bytes | None:
    """The bytes of a regular file no larger than max_bytes; None for anything else. Never follows a
    symlink and never blocks: a FIFO, socket or device the agent made is skipped, not opened for reading."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > max_bytes:
            return None
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read(max_bytes + 1)[:max_bytes]
    except OSError:
        return None
    finally:
        os.close(fd)


def snapshot(root: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        for name in filenames:
            p = Path(dirpath) / name
            data = read_regular(p, MAX_SNAPSHOT_FILE)
            if data is not None:
                files[p.relative_to(root).as_posix()] = data
    return files


def diff_files(before: dict[str, bytes], after: dict[str, bytes]) -> list[FileChange]:
    changes = []
    for path in sorted(set(before) | set(after)):
        a, b = before.get(path), after.get(path)
        if a == b:
            continue
        old = a.decode(errors="replace").splitlines() if a is not None else []
        new = b.decode(errors="replace").splitlines() if b is not None else []
        added = removed = 0
        for line in difflib.unified_diff(old, new, lineterm="", n=0):
            if line.startswith("+") and not line.startswith("+++"):
                added += 1
            elif line.startswith("-") and not line.startswith("---"):
                removed += 1
        status = "added" if a is None else "deleted" if b is None else "modified"
        changes.append(FileChange(path, added, removed, status))
    return changes


def head_tail(text: str, limit: int) -> str:
    """First and last limit/2 characters with a marker between, like a captured stdout."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} chars cut ...]\n{text[len(text) - half:]}"


def final_text(r: ExecutorReport, p: ReturnPolicy) -> str:
    """The paper's Haiku hand-back: turn count, then the executor's last text, cut."""
    return f"executor ({r.turns} iters): {r.final_text[: p.max_chars]}"


def transcript_tail(r: ExecutorReport, p: ReturnPolicy) -> str:
    return f"{head_tail(r.transcript, p.max_chars)}\n[exit status: {r.exit_status}]"


def cli_wrapper(r: ExecutorReport, p: ReturnPolicy) -> str:
    """The paper's Qwen hand-back: what its wrapper script printed, cut, then the listing's status.

    The wrapper's status was its root listing's (always 0); the executor's own outcome is recorded
    on the trial, not shown here, as in the paper.
    """
    printed = "\n".join(part for part in (r.banner, r.final_text, r.listing) if part)
    return f"{head_tail(printed, p.max_chars)}\n[exit=0]"


def ls_la(root: Path) -> str:
    """The repository root as `ls -la` prints it (what the paper's wrapper showed after each run)."""
    def line(path: Path, name: str) -> tuple[str, int]:
        st = path.lstat()
        try:
            owner, group = pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name
        except KeyError:
            owner, group = str(st.st_uid), str(st.st_gid)
        when = time.strftime("%b %d %H:%M", time.localtime(st.st_mtime))
        target = f" -> {os.readlink(path)}" if stat.S_ISLNK(st.st_mode) else ""
        text = f"{stat.filemode(st.st_mode)} {st.st_nlink:2} {owner} {group} {st.st_size:8} {when} {name}{target}"
        return text, st.st_blocks

    names = sorted(os.listdir(root))[:1000]  # a listing is shown cut anyway; never walk a huge root whole
    rows = [line(root, "."), line(root.parent, "..")] + [line(root / n, n) for n in names]
    return "\n".join([f"total {sum(b for _, b in rows) // 2}"] + [t for t, _ in rows])


def diff_stat(r: ExecutorReport, p: ReturnPolicy) -> str:
    changes = r.changes or []
    width = max((len(c.path) for c in changes), default=0)
    lines = [f" {c.path.ljust(width)} | {c.added + c.removed} {'+' * min(c.added, 30)}{'-' * min(c.removed, 30)}"
             for c in changes]
    lines.append(f" {len(changes)} files changed, {sum(c.added for c in changes)} insertions(+), "
                 f"{sum(c.removed for c in changes)} deletions(-)")
    head = f"[executor {r.outcome} after {r.turns} turns, exit status {r.exit_status}]\n"
    return head + head_tail("\n".join(lines), p.max_chars)


def structured(r: ExecutorReport, p: ReturnPolicy) -> str:
    limit = p.max_tokens * 4
    files: list[Any] = [{"path": c.path, "status": c.status, "added": c.added, "removed": c.removed}
                        for c in r.changes or []]
    doc: dict[str, Any] = {"status": r.outcome, "turns": r.turns, "files_changed": files,
                           "judge": r.judge_summary, "summary": r.final_text}

    def fits() -> bool:
        return len(json.dumps(doc, ensure_ascii=False)) <= limit

    def shrink(key: str) -> None:
        full = doc[key] or ""
        lo, hi = 0, len(full)
        while lo < hi:  # the longest prefix that fits (JSON escaping makes lengths non-linear)
            mid = (lo + hi + 1) // 2
            doc[key] = full[:mid] + "…"
            lo, hi = (mid, hi) if fits() else (lo, mid - 1)
        doc[key] = full[:lo] + "…" if lo < len(full) else full

    # Shrink the free text first, then the judge summary, then the file list: status and counts stay.
    if not fits():
        shrink("summary")
    if not fits() and doc["judge"]:
        shrink("judge")
    shown = list(files)
    while not fits() and shown:
        shown.pop()
        doc["files_changed"] = [*shown, f"... {len(files) - len(shown)} more"]
    return json.dumps(doc, ensure_ascii=False)


RENDERERS: dict[str, Callable[[ExecutorReport, ReturnPolicy], str]] = {
    "final_text": final_text,
    "transcript_tail": transcript_tail,
    "cli_wrapper": cli_wrapper,
    "diff_stat": diff_stat,
    "structured": structured,
}


def render(report: ExecutorReport, policy: ReturnPolicy) -> str:
    try:
        return RENDERERS[policy.kind](report, policy)
    except KeyError:
        raise UserError(f"unknown return policy {policy.kind!r}; use one of {', '.join(RENDERERS)}") from None


def transcript_text(messages: list[dict[str, Any]], final: str) -> str:
    """An executor loop as the stdout a CLI agent would have printed: actions, outputs, answer."""
    out: list[str] = []
    for msg in messages[1:]:
        content = msg["content"]
        if isinstance(content, str):
            out.append(content)
            continue
        for b in content:
            if b.get("type") == "text" and b.get("text"):
                out.append(b["text"])
            elif b.get("type") == "tool_use":
                args = b.get("input") or {}
                if b["name"] == "bash":
                    out.append(f"$ {args.get('command', args.get('cmd', ''))}")
                else:
                    out.append(f"> {b['name']} {json.dumps(args)[:300]}")
            elif b.get("type") == "tool_result":
                c = b.get("content", "")
                out.append(c if isinstance(c, str) else json.dumps(c))
    if final and (not out or out[-1] != final):
        out.append(final)
    return "\n".join(out)
