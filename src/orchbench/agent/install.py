"""Agents installed into orchbench's cache, each at a pinned version: Node ones with npm, Python
ones with uv into a virtual environment of their own (so their dependencies never meet ours).

Layout: <cache>/agents/<name>/<version>/ holding node_modules/ or venv/, and `installed.json`
written last (a directory without it is an interrupted install, redone).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from orchbench.errors import UserError
from orchbench.tasks.cache import cache_root, file_lock


@dataclass(frozen=True)
class Recipe:
    name: str
    version: str
    bin: str
    npm: str | None = None
    pypi: str | None = None


@dataclass(frozen=True)
class Installed:
    name: str
    version: str
    root: Path
    bin_dir: Path

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


def recipes() -> dict[str, Recipe]:
    text = (resources.files("orchbench") / "data" / "agents" / "agents.toml").read_text()
    return {name: Recipe(name=name, **spec) for name, spec in tomllib.loads(text).items()}


def recipe(name: str) -> Recipe:
    known = recipes()
    if name not in known:
        raise UserError(f"unknown agent {name!r}: orchbench can install {', '.join(known)}")
    return known[name]


def agents_dir() -> Path:
    return cache_root() / "agents"


def _bin_dir(r: Recipe, root: Path) -> Path:
    return root / "node_modules" / ".bin" if r.npm else root / "venv" / "bin"


def installed(name: str) -> Installed | None:
    r = recipe(name)
    root = agents_dir() / name / r.version
    if not (root / "installed.json").is_file():
        return None
    return Installed(name, r.version, root, _bin_dir(r, root))


def require(name: str) -> Installed:
    got = installed(name)
    if got is None:
        raise UserError(f"agent {name!r} is not installed: run `orchbench agents install {name}`")
    return got


def list_installed() -> list[tuple[Recipe, Installed | None]]:
    return [(r, installed(name)) for name, r in recipes().items()]


def install(name: str, *, log: Any = print) -> Installed:
    r = recipe(name)
    root = agents_dir() / name / r.version
    root.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(root.parent / f".{r.version}.lock"):
        got = installed(name)
        if got is not None:
            return got
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir()
        for argv in _commands(r, root):
            log("$ " + " ".join(argv))
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
                raise UserError(f"installing {name} {r.version} failed at `{argv[0]}`: {' | '.join(tail)}")
        if not (_bin_dir(r, root) / r.bin).exists():
            raise UserError(f"installing {name} {r.version}: no `{r.bin}` command was installed")
        (root / "installed.json").write_text(json.dumps({"name": name, "version": r.version}))
    return Installed(name, r.version, root, _bin_dir(r, root))


def _uv() -> str | None:
    """uv from the `uv` package of our environment (it is a dev dependency), else from PATH."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def _commands(r: Recipe, root: Path) -> list[list[str]]:
    if r.npm:
        if not shutil.which("npm"):
            raise UserError(f"{r.name} installs with npm, which is not on PATH: install Node.js and npm")
        return [["npm", "install", "--prefix", str(root), "--no-audit", "--no-fund", "--no-save",
                 f"{r.npm}@{r.version}"]]
    uv = _uv()
    if uv is None:
        raise UserError(f"{r.name} installs with uv, which is not on PATH: `pip install uv`")
    venv = root / "venv"
    return [[uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
            [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), f"{r.pypi}=={r.version}"]]
