"""A workspace described by plain directories: what `run_judge` needs, when no live Workspace exists.

Used by `orchbench judge DIR --task T` (the set-up tree says what the agent started from), by the
agent's own `judge` command inside its sandbox (a snapshot written by the bash tool), and by tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchbench.judge.tree import plain_sha, tree_digests


@dataclass
class DirWorkspace:
    """root: the tree to judge; setup_root: the same tree right after set-up (outside root)."""

    root: Path
    task: Any
    venv: Path
    setup_root: Path | None = None
    manifest: dict[str, str] = field(default_factory=dict)
    protected: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_setup(cls, root: Path, task: Any, venv: Path, setup_root: Path) -> DirWorkspace:
        digests = {rel: plain_sha(d) for rel, d in tree_digests(setup_root).items()}
        protected = {rel: digests[rel] for rel in getattr(task, "protected", []) if rel in digests}
        return cls(Path(root), task, Path(venv), Path(setup_root), digests, protected)

    def original(self, relpath: str) -> bytes | None:
        if self.setup_root is None:
            return None
        path = self.setup_root / relpath
        try:
            return path.read_bytes() if path.is_file() else None
        except OSError:
            return None


def write_snapshot(ws: Any, dest: Path) -> Path:
    """What the agent's `judge` needs, written to `dest` (bound read-only into the agent's sandbox):
    the task, venv, manifest and fingerprints. The set-up content is the workspace's set-up tree when
    it exposes one (bind it read-only too), else a copy of its Python files. Returns the originals dir."""
    tree = getattr(ws, "setup_root", None) or getattr(getattr(ws, "prepared", None), "tree", None)
    if tree is not None:
        originals = Path(tree).resolve()
    else:
        originals = dest / "originals"
        for rel in ws.manifest:
            if rel.endswith((".py", ".pyi")):
                data = ws.original(rel)
                if data is not None:
                    target = originals / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
    dest.mkdir(parents=True, exist_ok=True)
    ctx = {
        "root": str(Path(ws.root).resolve()),
        "venv": str(ws.venv),
        # Never the reference solution: the agent's sandbox can read this file.
        "task": ws.task.model_dump(mode="json", exclude={"reference"}),
        "manifest": dict(ws.manifest),
        "protected": dict(getattr(ws, "protected", {})),
        "originals": str(originals),
    }
    (dest / "context.json").write_text(json.dumps(ctx))
    return originals


def read_snapshot(src: Path, task_type: Any) -> DirWorkspace:
    ctx = json.loads((src / "context.json").read_text())
    task = task_type.model_validate(ctx["task"])
    return DirWorkspace(
        Path(ctx["root"]), task, Path(ctx["venv"]), Path(ctx["originals"]), ctx["manifest"], ctx["protected"]
    )
