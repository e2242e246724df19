"""A task's set-up state, prepared once per task and cached: base + added files + injected breakage.

The set-up tree is its own git repository with one commit (the set-up state), so an agent can
`git diff` its own work but cannot `git checkout` its way back to the pristine base. Next to the
tree, outside any workspace, lie the manifest (relpath -> sha256), the protected fingerprints and
the injection report: what the judge compares a finished workspace against.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from orchbench.errors import UserError
from orchbench.tasks.cache import READY, cached_dir, sha256_file, spec_key
from orchbench.tasks.inject import Applied, apply_injections, apply_replacements, git_dirty
from orchbench.tasks.source import commit_tree, fetch_base, source_key
from orchbench.tasks.spec import Task

SETUP_VERSION = 3
# Checked once per process: later workspaces of the same task skip straight to the copy.
_MEMO: dict[str, Prepared] = {}


@dataclass(frozen=True)
class Prepared:
    dir: Path  # the cache entry
    tree: Path  # the set-up tree every workspace is copied from (never handed out)
    manifest: dict[str, str]
    protected: dict[str, str]
    applied: list[dict[str, object]]
    stage: str  # "setup" | "base"


def safe_relpath(relpath: str, *, what: str) -> str:
    p = PurePosixPath(relpath.replace(os.sep, "/"))
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise UserError(f"{what} {relpath!r}: must be a relative path inside the repository")
    return str(p)


def tree_manifest(root: Path) -> dict[str, str]:
    """relpath -> sha256 of every file under root, .git excluded (symlinks by their target text)."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        for f in sorted(filenames):
            full = Path(dirpath) / f
            rel = full.relative_to(root).as_posix()
            if full.is_symlink():
                out[rel] = hashlib.sha256(os.readlink(full).encode()).hexdigest()
            elif full.is_file():
                out[rel] = sha256_file(full)
    return out


def match_protected(patterns: list[str], manifest: dict[str, str], *, task: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for pat in patterns:
        hits = [rel for rel in manifest if rel == pat or fnmatch.fnmatchcase(rel, pat)]
        if not hits:
            raise UserError(f"task {task}: protected entry {pat!r} matches no file of the set-up tree")
        found.update({rel: manifest[rel] for rel in hits})
    return dict(sorted(found.items()))


def _copy_without_git(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, symlinks=True, ignore=shutil.ignore_patterns(".git"))


def setup_key(task: Task, base_dir: Path) -> str:
    setup = task.setup.model_dump()
    if not setup["replace"]:
        del setup["replace"]  # tasks without edits keep the keys (and cached verdicts) they always had
    return spec_key({"v": SETUP_VERSION, "source": source_key(task.source, base_dir),
                     "setup": setup, "protected": sorted(task.protected)})


def _write_meta(d: Path, manifest: dict[str, str], protected: dict[str, str], applied: list[Applied]) -> None:
    (d / "manifest.json").write_text(json.dumps(manifest, indent=0, sort_keys=True))
    (d / "protected.json").write_text(json.dumps(protected, indent=0, sort_keys=True))
    (d / "applied.json").write_text(json.dumps([a.to_dict() for a in applied], indent=1))


def _load(d: Path, stage: str) -> Prepared:
    return Prepared(
        dir=d, tree=d / "tree", stage=stage,
        manifest=json.loads((d / "manifest.json").read_text()),
        protected=json.loads((d / "protected.json").read_text()),
        applied=json.loads((d / "applied.json").read_text()),
    )


def prepare(task: Task, *, stage: str = "setup") -> Prepared:
    """The cached set-up state of `task` (or, with stage="base", its untouched base)."""
    base_dir = task.base_dir()
    key = setup_key(task, base_dir) if stage == "setup" else "base-" + source_key(task.source, base_dir)
    known = _MEMO.get(key)
    if known is not None and (known.dir / READY).exists():
        return known
    base = fetch_base(task.source, base_dir)
    # The pristine commit must still be what is on disk: a modified cache is refused, not used.
    dirty = git_dirty(base)
    if dirty:
        raise UserError(f"the cached base {base} was modified ({dirty.splitlines()[0]} ...): delete "
                        f"{base.parent} and run again")

    def build(d: Path) -> None:
        tree = d / "tree"
        _copy_without_git(base, tree)
        applied: list[Applied] = []
        if stage == "setup":
            for f in task.setup.files:
                rel = safe_relpath(f.path, what=f"task {task.name}: setup.files path")
                (tree / rel).parent.mkdir(parents=True, exist_ok=True)
                (tree / rel).write_text(f.content, encoding="utf-8")
            apply_replacements(tree, task.setup.replace, task=task.name)
            applied = apply_injections(tree, task.setup.inject, require_clean=False)
        commit_tree(tree, f"{task.name}: {stage}")
        manifest = tree_manifest(tree)
        protected = match_protected(task.protected, manifest, task=task.name) if stage == "setup" else {}
        _write_meta(d, manifest, protected, applied)

    _MEMO[key] = _load(cached_dir("setups", key, build), stage)
    return _MEMO[key]
