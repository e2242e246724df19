"""One pass over a workspace: relpath -> sha256 of every file, and a hash of the whole tree.

Tool caches and bytecode are skipped (they change on every run and never decide anything: the judge
points Python's and mypy's caches outside the workspace). Symlinks are hashed by their target text,
never followed, so a link out of the workspace cannot smuggle in outside content.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

SKIP_DIRS = frozenset({".git", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis"})
SKIP_SUFFIXES = (".pyc", ".pyo")


def is_noise(relpath: str) -> bool:
    """True for cache and bytecode paths that the tree hash and the rules ignore."""
    parts = relpath.split("/")
    return any(p in SKIP_DIRS for p in parts[:-1]) or relpath.endswith(SKIP_SUFFIXES) or (
        parts[-1].startswith(".coverage")
    )


def tree_digests(root: Path) -> dict[str, str]:
    """relpath -> sha256 hex ("link:" + hash of the target for symlinks; mode bit folded in)."""
    out: dict[str, str] = {}
    stack = [(str(root), "")]
    while stack:
        path, prefix = stack.pop()
        try:
            entries = list(os.scandir(path))
        except OSError:
            continue
        for e in entries:
            rel = prefix + e.name
            if e.is_symlink():
                target = os.readlink(e.path)
                out[rel] = "link:" + hashlib.sha256(target.encode()).hexdigest()
            elif e.is_dir(follow_symlinks=False):
                if e.name not in SKIP_DIRS:
                    stack.append((e.path, rel + "/"))
            elif e.is_file(follow_symlinks=False):
                if e.name.endswith(SKIP_SUFFIXES) or e.name.startswith(".coverage"):
                    continue
                try:
                    with open(e.path, "rb") as fh:
                        digest = hashlib.sha256(fh.read()).hexdigest()
                except OSError:
                    digest = "unreadable"
                if os.access(e.path, os.X_OK):
                    digest = "x:" + digest
                out[rel] = digest
    return out


def plain_sha(digest: str) -> str:
    """The content sha256 of a digest from tree_digests (drops the executable marker)."""
    return digest.removeprefix("x:")


def tree_hash(digests: dict[str, str]) -> str:
    h = hashlib.sha256()
    for rel in sorted(digests):
        h.update(rel.encode())
        h.update(b"\0")
        h.update(digests[rel].encode())
        h.update(b"\n")
    return h.hexdigest()
