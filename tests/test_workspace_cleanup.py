"""Cleaning up after a trial: removing a workspace never changes what its symlinks point at; the
judge's tool caches are fresh per command, out of reach of later commands, and removed."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import orchbench
from orchbench.judge.local import DirWorkspace
from orchbench.judge.run import run_judge, scratch_dir
from orchbench.sandbox import sandbox_available
from orchbench.tasks.spec import load_task

TINY = Path(__file__).parent / "fakes" / "tinytask" / "tiny.toml"
PACKAGE_ROOT = Path(orchbench.__file__).resolve().parent.parent

_REMOVE = """
import os, sys
from pathlib import Path
import orchbench.tasks.workspace as w
holder, target = Path(sys.argv[1]), Path(sys.argv[2])
sub = holder / "repo" / "sub"
sub.mkdir(parents=True)
(sub / "link").symlink_to(target)  # its unlink fails first: the directory is read-only
sub.chmod(0o555)
(getattr(w, "force_rmtree", None) or getattr(w, "_force_rmtree"))(holder)
print(oct(target.stat().st_mode & 0o777), holder.exists())
"""


@pytest.mark.skipif(not shutil.which("setpriv"), reason="needs util-linux setpriv to drop capabilities")
def test_removing_a_workspace_never_chmods_a_symlink_target(tmp_path: Path) -> None:
    """Run without capabilities (as a non-root user would): unlinking from a read-only dir fails, and
    the old fallback chmod-ed the failing path, following the agent's symlink to a file of ours."""
    target = tmp_path / "users-file.txt"
    target.write_text("mine")
    target.chmod(0o644)
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}
    r = subprocess.run(["setpriv", "--bounding-set=-all", "--inh-caps=-all", sys.executable, "-c", _REMOVE,
                        str(tmp_path / "holder"), str(target)], capture_output=True, text=True, env=env,
                       check=False, timeout=60)
    assert r.stdout.split() == ["0o644", "False"], r.stdout + r.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


@pytest.mark.skipif(not sandbox_available(), reason="bubblewrap (bwrap) is not installed/usable")
def test_judge_caches_are_fresh_per_command_unwritable_state_and_removed(tmp_path: Path) -> None:
    task = load_task(str(TINY))
    plant = ["sh", "-c", 'mkdir -p "$MYPY_CACHE_DIR" && echo planted > "$MYPY_CACHE_DIR/poison"']
    check = ["sh", "-c", 'test ! -e "$MYPY_CACHE_DIR/poison"']
    tamper = ["sh", "-c", 'echo tampered > "$MYPY_CACHE_DIR/../../mtimes.json"']
    commands = [{"name": "plant", "run": plant}, {"name": "check", "run": check},
                {"name": "tamper", "run": tamper, "required": False}]
    judge = task.judge.model_copy(update={"commands": [type(task.judge.commands[0])(**c) for c in commands]})
    task = task.model_copy(update={"judge": judge})
    root = tmp_path / "repo"
    shutil.copytree(TINY.parent / "repo", root)
    ws = DirWorkspace(root, task, Path(sys.prefix))
    cache = tmp_path / "cache"
    verdict = run_judge(ws, cache=False, commands_only=True, cache_dir=cache)
    assert verdict.passed, verdict.summary  # the second command did not see what the first planted
    state = scratch_dir(ws, cache)
    left = [p.name for p in state.iterdir() if p.name.startswith("caches-") or p.name in ("pycache", "mypy")]
    assert left == []  # no tool caches left behind
    json.loads((state / "mtimes.json").read_text())  # and the runner's own record is untouched
