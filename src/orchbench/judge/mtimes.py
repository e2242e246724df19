"""Make every content change visible to caches that trust (mtime in whole seconds, size).

Python's .pyc files, pytest's rewritten test modules and mypy's cache all treat a file as unchanged
when its mtime (in seconds) and size match what they saw. An agent that edits `a + b` into `a - b`
within the same second as the last judge run would get a stale verdict. The judge remembers, per
workspace, each file's digest and the highest mtime second it was judged at; a file whose content
changed but whose mtime is not newer is touched forward by a second, so every cache sees the change.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def freshen(root: Path, digests: dict[str, str], record: Path) -> int:
    """Touch changed files whose mtime would hide the change; returns how many were touched."""
    try:
        seen: dict[str, list] = json.loads(record.read_text())
    except (OSError, ValueError):
        seen = {}
    touched = 0
    out: dict[str, list] = {}
    for rel, digest in digests.items():
        path = root / rel
        try:
            st = os.stat(path, follow_symlinks=False)
        except OSError:
            continue
        mtime = int(st.st_mtime)
        old = seen.get(rel)
        if old is not None and old[0] != digest and mtime <= old[1]:
            mtime = old[1] + 1
            os.utime(path, (st.st_atime, mtime), follow_symlinks=False)
            touched += 1
        out[rel] = [digest, max(mtime, old[1]) if old else mtime]
    tmp = record.with_suffix(".tmp")
    tmp.write_text(json.dumps(out))
    os.replace(tmp, record)
    return touched
