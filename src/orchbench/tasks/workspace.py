"""Workspaces: each trial's own copy of a task's set-up tree, made in well under a second.

The copy is a real copy (`cp --reflink=auto -a`: copy-on-write where the filesystem has it, a plain
copy elsewhere), never hardlinks: the editor writes files in place, which through a shared inode
would change the cached set-up tree and every later trial (see benchmarks/bench_workspace.py).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from orchbench.errors import UserError
from orchbench.tasks.cache import cache_root
from orchbench.tasks.setup import Prepared, prepare, safe_relpath
from orchbench.tasks.spec import Task
from orchbench.tasks.venv import ensure_venv, env_for


def workspaces_root() -> Path:
    """Next to the cache by default (same filesystem, so reflinks work); ORCHBENCH_WORKSPACES overrides."""
    root = Path(os.environ.get("ORCHBENCH_WORKSPACES") or cache_root() / "workspaces")
    root.mkdir(parents=True, exist_ok=True)
    return root


def copy_tree(src: Path, dst: Path) -> None:
    """A full, independent copy of src at dst (dst must not exist)."""
    if shutil.which("cp"):
        proc = subprocess.run(["cp", "--reflink=auto", "-a", str(src), str(dst)],
                              capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            return
        shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, symlinks=True)


def _chmod_own(path: str) -> None:
    """Make `path` ours to list and change, never through a symlink: chmod follows links, and the
    agent's link may point at any file the harness user owns."""
    try:
        if not stat.S_ISLNK(os.lstat(path).st_mode):
            os.chmod(path, stat.S_IRWXU)
    except OSError:
        pass


def force_rmtree(path: Path) -> None:
    """Remove a tree even where the agent made files read-only or dirs unlistable."""
    def onerror(func, p, _exc):  # type: ignore[no-untyped-def]
        _chmod_own(p)
        _chmod_own(os.path.dirname(p))
        try:
            func(p)
        except OSError:
            pass

    shutil.rmtree(path, onerror=onerror)


@dataclass
class Workspace:
    root: Path
    venv: Path
    task: Task
    manifest: dict[str, str]  # relpath -> sha256 right after set-up; lives outside root
    protected: dict[str, str]  # relpath -> sha256 of the protected files; lives outside root
    prepared: Prepared = field(repr=False)

    @property
    def applied(self) -> list[dict[str, object]]:
        """The injections set-up applied (what, where)."""
        return self.prepared.applied

    def original(self, relpath: str) -> bytes | None:
        """The file as it was right after set-up, read from the cached set-up tree outside root."""
        rel = safe_relpath(relpath, what="original()")
        if rel not in self.manifest:
            return None
        return (self.prepared.tree / rel).read_bytes()

    def env(self) -> dict[str, str]:
        """Variables for any command judging or testing this workspace: its venv, its own package
        first on sys.path (also in subprocesses that replace PYTHONPATH), then the task's judge env."""
        return env_for(self.root, self.venv, dict(self.task.judge.env))


def new_workspace(task: Task, *, stage: str = "setup") -> Workspace:
    """A fresh copy; the caller removes it with `remove_workspace` (or use `workspace()`)."""
    if stage not in ("setup", "base"):
        raise UserError(f"workspace stage {stage!r}: expected 'setup' or 'base'")
    prepared = prepare(task, stage=stage)
    venv = ensure_venv(task.env)
    parent = workspaces_root()
    _sweep_once(parent)
    holder = Path(tempfile.mkdtemp(prefix=f"{task.name}-{os.getpid()}-", dir=parent))
    root = holder / "repo"
    try:
        copy_tree(prepared.tree, root)
    except BaseException:
        force_rmtree(holder)
        raise
    return Workspace(root=root, venv=venv, task=task, manifest=dict(prepared.manifest),
                     protected=dict(prepared.protected), prepared=prepared)


_HOLDER = re.compile(r"^.+-(\d+)-[^-]+$")
_swept: set[Path] = set()


def _sweep_once(parent: Path, min_age_s: float = 300) -> None:
    """Remove workspaces left by processes that died without cleaning up (killed batches, crashes)."""
    if parent in _swept:
        return
    _swept.add(parent)
    now = time.time()
    for holder in parent.iterdir():
        m = _HOLDER.match(holder.name)
        if not m or not holder.is_dir():
            continue
        try:
            os.kill(int(m.group(1)), 0)
            continue  # its creator is alive
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError):
            continue
        try:
            if now - holder.stat().st_mtime > min_age_s:
                force_rmtree(holder)
        except FileNotFoundError:
            pass


def remove_workspace(ws: Workspace) -> None:
    force_rmtree(ws.root.parent)


@contextmanager
def workspace(task: Task, *, stage: str = "setup", keep: bool = False) -> Iterator[Workspace]:
    """A fresh set-up copy of the task's base for one trial; removed afterwards (unless keep)."""
    ws = new_workspace(task, stage=stage)
    try:
        yield ws
    finally:
        if not keep:
            remove_workspace(ws)


def setup_tree(task: Task) -> Path:
    """The cached set-up tree of `task` (what every workspace starts as). Never write to it."""
    return prepare(task).tree
