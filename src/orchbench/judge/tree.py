"""One pass over a workspace: relpath -> sha256 of every file, and a hash of the whole tree.

Every file a judge command could read is hashed, dotfiles, tool caches and bytecode included; only
`__pycache__` folders are skipped (the judge sends bytecode elsewhere with PYTHONPYCACHEPREFIX, and
CPython never imports a `__pycache__` file without its source). The rules ignore the caches
(`is_noise`), but a sourceless `name.pyc` beside the code is neither noise nor unhashed. Symlinks
are hashed by their target text, never followed, so a link out of the workspace cannot smuggle in
outside content.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

SKIP_DIRS = frozenset({".git", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis"})
UNREAD_DIRS = frozenset({"__pycache__"})  # never read by a judge command: left out of the hash


def is_noise(relpath: str) -> bool:
    """True for cache paths the rules ignore (they are still hashed, except `__pycache__`)."""
    parts = relpath.split("/")
    name = parts[-1]
    return any(p in SKIP_DIRS for p in parts[:-1]) or name == ".coverage" or name.startswith(".coverage.")


# root -> relpath -> ((st_ino, st_size, st_mtime_ns, st_ctime_ns), digest). ctime cannot be set
# from user space (utime changes it too), so an unchanged stat key means unchanged content.
_STAT_CACHE: dict[str, dict[str, tuple[tuple[int, int, int, int], str]]] = {}


def tree_digests(root: Path) -> dict[str, str]:
    """relpath -> sha256 hex ("link:" + hash of the target for symlinks; "x:" if executable).

    Files whose (inode, size, mtime, ctime) did not change since this process last hashed them are
    not read again: a repeated judge of an unchanged tree costs one stat per file.
    """
    out: dict[str, str] = {}
    key_root = str(Path(root).resolve())
    seen = _STAT_CACHE.pop(key_root, {})
    _STAT_CACHE[key_root] = seen  # most recent last; keep a few workspaces only
    while len(_STAT_CACHE) > 8:
        _STAT_CACHE.pop(next(iter(_STAT_CACHE)))
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
                if e.name not in UNREAD_DIRS:
                    stack.append((e.path, rel + "/"))
            elif e.is_file(follow_symlinks=False):
                st = e.stat(follow_symlinks=False)
                key = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
                hit = seen.get(rel)
                if hit is not None and hit[0] == key:
                    out[rel] = hit[1]
                    continue
                try:
                    with open(e.path, "rb") as fh:
                        digest = hashlib.sha256(fh.read()).hexdigest()
                except OSError:
                    digest = "unreadable"
                if st.st_mode & 0o111:
                    digest = "x:" + digest
                seen[rel] = (key, digest)
                out[rel] = digest
    return out


def plain_sha(digest: str) -> str:
    """The sha256 alone, as a set-up manifest records it (drops the "x:" / "link:" markers)."""
    return digest.rpartition(":")[2]


def tree_hash(digests: dict[str, str]) -> str:
    h = hashlib.sha256()
    for rel in sorted(digests):
        h.update(rel.encode())
        h.update(b"\0")
        h.update(digests[rel].encode())
        h.update(b"\n")
    return h.hexdigest()
