"""Base repositories: a task's source fetched once, kept as a git repo whose first commit is pristine.

PyPI sources come from the sdist (`pip download --no-binary`), git sources from `git archive` of the
rev, local paths from a copy of the directory. Each lands in a fresh repository with one commit, so
`git diff` against it always shows exactly what changed, whatever the origin's history was.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from orchbench.errors import UserError
from orchbench.tasks.cache import cached_dir, spec_key
from orchbench.tasks.spec import Source

# Never copied from a local path source: build litter and tool caches, not part of a codebase.
IGNORED = (".git", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".venv", "*.egg-info",
           ".tox", ".nox", "coverage", ".coverage")

LITTER = ("__pycache__/", "*.pyc", ".mypy_cache/", ".ruff_cache/", ".pytest_cache/", "coverage/", ".coverage*")

_GIT_ENV = {
    # A fixed identity and date: the pristine commit of the same tree has the same id everywhere.
    "GIT_AUTHOR_NAME": "orchbench", "GIT_AUTHOR_EMAIL": "orchbench@localhost",
    "GIT_COMMITTER_NAME": "orchbench", "GIT_COMMITTER_EMAIL": "orchbench@localhost",
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z",
}


def git(args: list[str], cwd: Path, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **_GIT_ENV}
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}: {proc.stderr.strip()}")
    return proc


def commit_tree(root: Path, message: str) -> str:
    """Make `root` a repository holding its current files as a single commit; return the commit id."""
    git(["init", "-q", "-b", "main"], root)
    # Tool litter never shows in the agent's `git status` (it is not part of any codebase).
    (root / ".git" / "info").mkdir(parents=True, exist_ok=True)
    (root / ".git" / "info" / "exclude").write_text("\n".join(LITTER) + "\n")
    git(["add", "-A", "-f", "."], root)
    git(["-c", "commit.gpgsign=false", "commit", "-q", "--allow-empty", "-m", message], root)
    # One pack file instead of a loose object per file: halves what every workspace copy has to copy.
    git(["repack", "-a", "-d", "-q"], root)
    git(["prune-packed"], root)
    return git(["rev-parse", "HEAD"], root).stdout.strip()


def _resolve_path(source: Source, base_dir: Path) -> Path:
    assert source.path is not None
    p = Path(source.path).expanduser()
    if not p.is_absolute():
        p = base_dir / p
    if not p.is_dir():
        raise UserError(f"source path {source.path!r} (resolved to {p}) is not a directory")
    return p.resolve()


def _tree_stamp(root: Path) -> list[tuple[str, int, int]]:
    """Cheap identity of a local tree: a changed file gives a new cache key, an unchanged one none."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not _ignored(d))
        for f in sorted(filenames):
            if _ignored(f):
                continue
            st = os.stat(os.path.join(dirpath, f))
            out.append((os.path.relpath(os.path.join(dirpath, f), root), st.st_size, st.st_mtime_ns))
    return out


def _ignored(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pat) for pat in IGNORED)


def source_key(source: Source, base_dir: Path) -> str:
    spec: dict[str, object] = {"v": 1, "source": source.model_dump(exclude_none=True)}
    if source.path:
        root = _resolve_path(source, base_dir)
        spec = {"v": 1, "path": str(root), "stamp": spec_key(_tree_stamp(root), 32)}
    return spec_key(spec)


def _safe_extract(archive: Path, dest: Path) -> None:
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                target = (dest / name).resolve()
                if not str(target).startswith(str(dest.resolve())):
                    raise UserError(f"{archive.name}: member {name!r} escapes the archive")
            zf.extractall(dest)
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(dest, filter="data")  # refuses absolute paths, links out, devices


def _single_top(d: Path) -> Path:
    entries = list(d.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else d


def _fetch_pypi(spec: str, dest: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="orchbench-dl-") as tmp:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
             "--disable-pip-version-check", "-q", "-d", tmp, spec],
            check=False, capture_output=True, text=True,
        )
        files = [p for p in Path(tmp).iterdir() if p.suffix in (".gz", ".zip", ".bz2", ".tgz")]
        if proc.returncode != 0 or len(files) != 1:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no sdist downloaded"]
            raise UserError(f"source pypi = {spec!r}: could not download its sdist: {tail[0]}")
        unpacked = Path(tmp) / "unpacked"
        unpacked.mkdir()
        _safe_extract(files[0], unpacked)
        for item in _single_top(unpacked).iterdir():
            shutil.move(str(item), dest / item.name)


def _fetch_git(url: str, rev: str | None, dest: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="orchbench-git-") as tmp:
        proc = subprocess.run(["git", "clone", "-q", "--no-checkout", url, tmp + "/repo"],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise UserError(f"source git = {url!r}: clone failed: {proc.stderr.strip()}")
        repo = Path(tmp) / "repo"
        ok = git(["rev-parse", "--verify", f"{rev or 'HEAD'}^{{commit}}"], repo, check=False)
        if ok.returncode != 0:
            raise UserError(f"source git = {url!r}: rev {rev!r} not found in the repository")
        archive = Path(tmp) / "tree.tar"
        git(["archive", "--format=tar", "-o", str(archive), ok.stdout.strip()], repo)
        with tarfile.open(archive) as tf:
            tf.extractall(dest, filter="data")


def _fetch_path(root: Path, dest: Path) -> None:
    shutil.copytree(root, dest, symlinks=True, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*IGNORED))


def fetch_base(source: Source, base_dir: Path | None = None) -> Path:
    """The cached pristine repository of `source` (built on first use; later uses cost nothing)."""
    base_dir = base_dir or Path.cwd()

    def build(tmp: Path) -> None:
        tree = tmp / "repo"
        tree.mkdir()
        if source.pypi:
            _fetch_pypi(source.pypi, tree)
        elif source.git:
            _fetch_git(source.git, source.rev, tree)
        else:
            _fetch_path(_resolve_path(source, base_dir), tree)
        if not any(tree.iterdir()):
            raise UserError(f"source {source.describe()} is empty")
        commit_tree(tree, f"pristine: {source.describe()}")

    return cached_dir("bases", source_key(source, base_dir), build) / "repo"
