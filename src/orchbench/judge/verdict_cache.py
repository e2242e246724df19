"""A repeated workspace state gets its verdict at once.

The key is the sha256 of everything a verdict depends on: the tree's content hash, the judge spec,
the checks, the set-up manifest and fingerprints, the venv's identity and this judge's version. The
cache lives outside every workspace (the agent's sandbox sees it read-only at most), so an agent
cannot plant a verdict.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from orchbench.judge.tree import tree_hash
from orchbench.records import Verdict

JUDGE_VERSION = "2"  # bump when a change in the judge could change a verdict


def default_dir() -> Path:
    from orchbench.tasks.cache import cache_root

    return cache_root()


def venv_identity(venv: Path) -> str:
    """Cheap but sufficient: the path, its pyvenv.cfg stat and the installed distributions."""
    parts = [str(Path(venv).resolve())]
    cfg = Path(venv) / "pyvenv.cfg"
    if cfg.exists():
        st = cfg.stat()
        parts.append(f"{st.st_mtime_ns}:{st.st_size}")
    for site in sorted(glob.glob(str(Path(venv) / "lib" / "python*" / "site-packages"))):
        try:
            parts += sorted(n for n in os.listdir(site) if n.endswith((".dist-info", ".egg-link", ".pth")))
        except OSError:
            pass
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def guard_version() -> str:
    from orchbench.judge import guard_runtime

    return hashlib.sha256(Path(guard_runtime.__file__).read_bytes()).hexdigest()[:16]


def key(ws: Any, spec: Any, checks: list[Any], tree: str, commands_only: bool) -> str:
    blob = {
        "v": JUDGE_VERSION,
        "tree": tree,
        "spec": spec.model_dump(mode="json"),
        "checks": [c if isinstance(c, dict) else c.model_dump(mode="json") for c in checks],
        "manifest": tree_hash(dict(ws.manifest)),
        "protected": dict(sorted(getattr(ws, "protected", {}).items())),
        "venv": venv_identity(Path(ws.venv)),
        "commands_only": commands_only,
        "guard": guard_version(),  # the in-runner guard decides too: a new guard, new verdicts
    }
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()


def _path(k: str, cache_dir: Path | None) -> Path:
    return (cache_dir or default_dir()) / "verdicts" / k[:2] / f"{k}.json"


def load(k: str, cache_dir: Path | None = None) -> Verdict | None:
    try:
        data = _path(k, cache_dir).read_text()
        return Verdict.model_validate_json(data).model_copy(update={"cached": True})
    except (OSError, ValueError):
        return None


def store(k: str, verdict: Verdict, cache_dir: Path | None = None) -> None:
    _write(k, verdict.model_copy(update={"cached": False}).model_dump_json(), cache_dir)


def _write(k: str, text: str, cache_dir: Path | None) -> None:
    """Atomic write; a read-only cache (inside the agent's sandbox) is silently skipped."""
    path = _path(k, cache_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError:
        pass


def command_key(ws: Any, spec: Any, cmd: Any, tree: str) -> str:
    """A judge command's result depends on the tree's content, the command, the judge env and the venv
    only (rules and checks are computed afresh each time), so one run serves every workspace with the
    same content: a reference that restores the base bytes gets the base's command results."""
    blob = {
        "v": JUDGE_VERSION, "tree": tree, "command": cmd.model_dump(mode="json"), "env": dict(sorted(spec.env.items())),
        "timeout_s": spec.timeout_s, "venv": venv_identity(Path(ws.venv)),
        "protected": dict(sorted(getattr(ws, "protected", {}).items())),  # read-only binds change the run
    }
    return "cmd-" + hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()


def load_command(k: str, cache_dir: Path | None = None) -> tuple[Any, Any] | None:
    """(CommandResult, guard.Evidence) stored under `k`, or None."""
    from orchbench.judge.guard import Evidence
    from orchbench.records import CommandResult

    try:
        data = json.loads(_path(k, cache_dir).read_text())
        return CommandResult.model_validate(data["result"]), Evidence(**data["evidence"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store_command(k: str, result: Any, evidence: Any, cache_dir: Path | None = None) -> None:
    _write(k, json.dumps({"result": result.model_dump(mode="json"), "evidence": dataclasses.asdict(evidence)}),
           cache_dir)
