"""The judge's venv: test tools and runtime deps, kept outside every workspace and shared by all.

The workspace's own package is never installed here. Instead a `.pth` hook puts
`$ORCHBENCH_WORKSPACE` first on sys.path, so every Python started from this venv — including a test's
subprocess whose PYTHONPATH was replaced (typer's suite does that) — imports the workspace's code.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from orchbench.errors import UserError
from orchbench.tasks.cache import cached_dir, spec_key
from orchbench.tasks.spec import Env

WORKSPACE_VAR = "ORCHBENCH_WORKSPACE"
_PTH_NAME = "_orchbench_workspace.pth"
_PTH = (
    # ORCHBENCH_WORKSPACE names the workspace; when only PYTHONPATH was given, its first entry is
    # taken and exported, so subprocesses that replace PYTHONPATH still import the workspace's code.
    "import os, sys; _w = os.environ.get('ORCHBENCH_WORKSPACE') or os.environ.get('PYTHONPATH', '')"
    ".split(os.pathsep)[0]; _w and os.environ.setdefault('ORCHBENCH_WORKSPACE', _w); "
    "_w and _w not in sys.path and sys.path.insert(0, _w)\n"
)


def uv_bin() -> str | None:
    found = shutil.which("uv")
    if found:
        return found
    try:  # the `uv` PyPI package ships its binary
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return None


def venv_key(env: Env) -> str:
    python = env.python or f"{sys.version_info.major}.{sys.version_info.minor}"
    return spec_key({"v": 3, "python": python, "packages": sorted(env.packages),
                     "extra_index_url": env.extra_index_url, "pth": _PTH})


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _run(argv: list[str], what: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "; ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise UserError(f"could not build the judge venv ({what}): {tail} — check [env] of the task")


def _site_packages(venv: Path) -> Path:
    out = subprocess.run(
        [str(venv_python(venv)), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    )
    return Path(out.stdout.strip())


def build_venv(env: Env, target: Path, *, use_uv: bool = True) -> None:
    uv = uv_bin() if use_uv else None
    python = env.python or sys.executable
    index = ["--extra-index-url", env.extra_index_url] if env.extra_index_url else []
    if uv:
        _run([uv, "venv", "-q", "-p", python, str(target)], "uv venv")
        if env.packages:
            _run([uv, "pip", "install", "-q", "--python", str(venv_python(target)), *index, *env.packages],
                 "uv pip install")
    else:
        base = shutil.which(f"python{env.python}") if env.python else sys.executable
        if not base:
            raise UserError(f"[env] python = {env.python!r}: no python{env.python} on PATH (install it or uv)")
        _run([base, "-m", "venv", *([] if env.packages else ["--without-pip"]), str(target)], "venv")
        if env.packages:
            _run([str(venv_python(target)), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                  *index, *env.packages], "pip install")
    (_site_packages(target) / _PTH_NAME).write_text(_PTH)


def ensure_venv(env: Env) -> Path:
    """The cached venv for `env` (hash of its spec), built with uv where present, else venv + pip."""
    return cached_dir("venvs", venv_key(env), lambda d: build_venv(env, d), in_place=True)


def env_for(root: Path, venv: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The variables that make a command in `root` use `venv` and import the workspace's code."""
    path = f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
    return {"PATH": path, "VIRTUAL_ENV": str(venv), WORKSPACE_VAR: str(root), "PYTHONPATH": str(root),
            **(extra or {})}



_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.lru_cache(maxsize=64)
def _installed(venv: str) -> dict[str, str]:
    paths = [str(p) for p in Path(venv).glob("lib/python*/site-packages")]
    return {_canonical(d.metadata["Name"]): d.version for d in metadata.distributions(path=paths)
            if d.metadata["Name"]}


def tool_versions(venv: Path, packages: list[str]) -> dict[str, str]:
    """The installed version of each of `packages` (requirement strings) in `venv`, read from its
    dist-info (not from the spec: an unpinned spec may resolve to anything). Missing ones are left out."""
    found = _installed(str(Path(venv).resolve()))
    names = [_canonical(m.group(0)) for spec in packages if (m := _NAME.match(spec.strip()))]
    return {n: found[n] for n in names if n in found}
