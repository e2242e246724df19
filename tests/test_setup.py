"""setup.sh on the Pythons a new user has: a system Python that refuses installs (PEP 668), an active
venv; and requirements.lock pins everything pyproject.toml asks for."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
# the interpreter this venv was made from (sys.executable is the venv's own)
BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)
# what setup.sh needs from a checkout: itself, the lock, and the package with its metadata
CHECKOUT = ["setup.sh", "requirements.lock", "pyproject.toml", "README.md", "src"]


def locked() -> dict[str, set[str]]:
    pins: dict[str, set[str]] = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if m := re.match(r"([A-Za-z0-9._-]+)==([^\s;\\]+)", line):
            pins.setdefault(canonicalize_name(m[1]), set()).add(m[2])
    return pins


def test_lock_pins_every_requirement_within_its_bounds():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    pins = locked()
    stale = []
    for text in wanted:
        req = Requirement(text)
        versions = pins.get(canonicalize_name(req.name), set())
        if not any(req.specifier.contains(v, prereleases=True) for v in versions):
            stale.append(f"{text} (locked: {', '.join(sorted(versions)) or 'nothing'})")
    assert not stale, f"requirements.lock is stale, run scripts/lock: {stale}"


def checkout(tmp: Path) -> Path:
    dest = tmp / "orchbench"
    dest.mkdir()
    junk = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for name in CHECKOUT:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=junk)
        else:
            shutil.copy2(src, dest / name)
    return dest


def pep668_python(tmp: Path) -> Path:
    """A Python installation of its own (not a venv) whose stdlib carries the EXTERNALLY-MANAGED marker,
    like Debian's and Ubuntu's: the running interpreter's binary and stdlib, with pip unpacked into its
    site-packages as a distribution's python3-pip would put it."""
    prefix = tmp / "system"
    (prefix / "bin").mkdir(parents=True)
    # a copy, not a link: Python finds its prefix from where the binary really is
    shutil.copy2(os.path.realpath(BASE_PYTHON), prefix / "bin" / "python3")
    stdlib = Path(sysconfig.get_path("stdlib"))
    lib = prefix / "lib" / stdlib.name
    lib.mkdir(parents=True)
    for entry in stdlib.iterdir():
        if entry.name != "site-packages":
            (lib / entry.name).symlink_to(entry)
    python = prefix / "bin" / "python3"
    (lib / "EXTERNALLY-MANAGED").write_text("[externally-managed]\nError=this Python is managed by the system\n")
    wheels = [*(stdlib / "ensurepip" / "_bundled").glob("pip-*.whl"), *Path("/usr/share/python-wheels").glob("pip-*.whl")]
    if not wheels:
        pytest.skip("no pip wheel bundled with this Python to build an externally managed copy of it")
    site = subprocess.run([python, "-I", "-c", "import site; print(site.getsitepackages()[0])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    zipfile.ZipFile(wheels[0]).extractall(site)
    return python


def tools(tmp: Path) -> list[str]:
    """A PATH entry holding uv alone (when this machine has it), so nothing else leaks in beside it."""
    uv: str | None
    try:
        from uv import find_uv_bin

        uv = find_uv_bin()
    except (ImportError, FileNotFoundError):
        uv = shutil.which("uv")
    if not uv:
        return []
    (tmp / "tools").mkdir()
    (tmp / "tools" / "uv").symlink_to(os.path.realpath(uv))
    return [str(tmp / "tools")]


def clean_env(path: list[str], **extra: str) -> dict[str, str]:
    # no venv active, nothing borrowed from the caller's environment; package caches allowed (speed)
    drop = {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_NO_CACHE", "PIP_NO_CACHE_DIR", "ORCHBENCH_AGENT_TOOLS"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return {**env, "PATH": os.pathsep.join(path), **extra}


def run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 840) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def refuses_installs(python: Path | str, env: dict[str, str], cwd: Path) -> bool:
    proc = run([str(python), "-m", "pip", "install", "--dry-run", "--no-index", "orchbench"], cwd, env, 120)
    return proc.returncode != 0 and "externally-managed-environment" in proc.stderr


def assert_set_up(root: Path, venv: Path, env: dict[str, str]) -> None:
    probe = "import orchbench, sys; print(orchbench.__file__); print(sys.prefix != sys.base_prefix)"
    proc = run([str(venv / "bin" / "python"), "-c", probe], root, env, 120)
    assert proc.stdout.split() == [str(root / "src" / "orchbench" / "__init__.py"), "True"], proc.stderr
    shown = run([str(venv / "bin" / "orchbench"), "reproduce", "--out", str(root / "report")], root, env, 300)
    assert shown.returncode == 0, shown.stderr
    assert "Cells (success-only medians" in shown.stdout and "Mann-Whitney" in shown.stdout


def installed_outside_a_venv(python: Path | str, env: dict[str, str], cwd: Path) -> bool:
    """Whether orchbench landed in the system Python's own site-packages (it must not)."""
    probe = "import importlib.util; print(importlib.util.find_spec('orchbench') is not None)"
    return run([str(python), "-I", "-c", probe], cwd, env, 120).stdout.strip() != "False"


def system_python() -> str:
    found = shutil.which("python3", path="/usr/bin")
    stdlib = subprocess.run([found, "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
                            capture_output=True, text=True, check=False).stdout.strip() if found else ""
    if not stdlib or not (Path(stdlib) / "EXTERNALLY-MANAGED").exists():
        pytest.skip("no externally managed system Python in /usr/bin (a stock Debian 12 / Ubuntu 23.04+ has one)")
    return str(found)


@pytest.mark.slow
def test_setup_on_the_debian_system_python(tmp_path):
    """The stock Debian/Ubuntu case: /usr/bin/python3 as the only Python, no uv: venv + pip."""
    python = system_python()
    root = checkout(tmp_path)
    env = clean_env(["/usr/bin", "/bin"])
    proc = run(["./setup.sh"], root, env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_set_up(root, root / ".venv", env)
    assert not installed_outside_a_venv(python, env, tmp_path)


@pytest.mark.slow
def test_setup_on_a_pep668_python_with_uv(tmp_path):
    python = pep668_python(tmp_path)
    root = checkout(tmp_path)
    env = clean_env([str(python.parent), *tools(tmp_path), "/usr/bin", "/bin"])
    assert refuses_installs(python, env, root)  # the precondition: this Python is externally managed
    proc = run(["./setup.sh"], root, env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "next: .venv/bin/orchbench reproduce" in proc.stderr.lower()
    assert_set_up(root, root / ".venv", env)
    assert not installed_outside_a_venv(python, env, tmp_path)


@pytest.mark.slow
def test_setup_installs_into_the_active_venv(tmp_path):
    root = checkout(tmp_path)
    venv = tmp_path / "active"
    subprocess.run([BASE_PYTHON, "-m", "venv", str(venv)], check=True, capture_output=True)
    env = clean_env([str(venv / "bin"), *tools(tmp_path), "/usr/bin", "/bin"], VIRTUAL_ENV=str(venv))
    proc = run(["./setup.sh"], root, env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not (root / ".venv").exists()
    assert_set_up(root, venv, env)
