"""The on-disk cache that makes a task's second use free: base repos, venvs, set-up trees.

Every entry is a directory built once under a lock, in a temporary sibling, then renamed into place:
a reader either sees a complete entry or none, and several processes starting at once build it once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def cache_root() -> Path:
    """ORCHBENCH_CACHE, else $XDG_CACHE_HOME/orchbench, else ~/.cache/orchbench."""
    explicit = os.environ.get("ORCHBENCH_CACHE")
    if explicit:
        root = Path(explicit)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg) if xdg else Path.home() / ".cache") / "orchbench"
    root.mkdir(parents=True, exist_ok=True)
    return root


def spec_key(spec: Any, length: int = 16) -> str:
    """A stable short hash of a JSON-able spec (sorted keys, so dict order never matters)."""
    blob = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock across processes (released when the holder dies, too)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


READY = ".orchbench-ready"


def cached_dir(kind: str, key: str, build: Callable[[Path], None], *, in_place: bool = False) -> Path:
    """The directory `<cache>/<kind>/<key>`, built by `build(dir)` the first time only.

    By default `build` fills an empty temporary sibling that is renamed into place when it returns,
    so a crash leaves no half-built entry. Things that must not move once built (a venv's scripts
    hold its absolute path) use `in_place=True`: built at the final path, a marker written last,
    and an entry without the marker is wiped and rebuilt.
    """
    parent = cache_root() / kind
    final = parent / key
    if (final / READY).exists():
        return final
    parent.mkdir(parents=True, exist_ok=True)
    with file_lock(parent / f".{key}.lock"):
        if (final / READY).exists():  # another process built it while we waited
            return final
        shutil.rmtree(final, ignore_errors=True)
        work = final if in_place else Path(tempfile.mkdtemp(prefix=f".{key}.", dir=parent))
        work.mkdir(exist_ok=True)
        try:
            build(work)
            (work / READY).write_text("")
            if not in_place:
                os.rename(work, final)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return final


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
