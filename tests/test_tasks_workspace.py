"""Base repos from a local path or git repo, cached once; workspaces isolated, immutable base, removed."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
from pathlib import Path

import pytest

from orchbench.errors import UserError
from orchbench.tasks import source as source_mod
from orchbench.tasks.setup import prepare
from orchbench.tasks.source import fetch_base
from orchbench.tasks.spec import Source, load_task
from orchbench.tasks.workspace import new_workspace, remove_workspace, workspace
from tests.test_tasks_support import make_repo, write_task


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ORCHBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ORCHBENCH_WORKSPACES", raising=False)
    return tmp_path / "cache"


def git_log(repo: Path) -> list[str]:
    out = subprocess.run(["git", "log", "--format=%s"], cwd=repo, capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def test_path_source_becomes_one_pristine_commit_without_litter(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "src", git=True)
    base = fetch_base(Source(path=str(repo)))
    assert git_log(base) == [f"pristine: path:{repo}"]
    assert (base / "minipkg" / "core.py").read_text() == (repo / "minipkg" / "core.py").read_text()
    assert not (base / "minipkg" / "__pycache__").exists()
    status = subprocess.run(["git", "status", "--porcelain"], cwd=base, capture_output=True, text=True, check=False)
    assert status.stdout == ""


def test_second_use_costs_nothing_and_a_change_makes_a_new_base(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "src")
    first = fetch_base(Source(path=str(repo)))
    monkeypatch.setattr(source_mod, "_fetch_path", lambda *a: pytest.fail("fetched again"))
    assert fetch_base(Source(path=str(repo))) == first
    monkeypatch.undo()
    (repo / "minipkg" / "core.py").write_text("changed = True\n")
    second = fetch_base(Source(path=str(repo)))
    assert second != first and (second / "minipkg" / "core.py").read_text() == "changed = True\n"


def test_git_source_takes_the_rev(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "src", git=True)
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=False).stdout.strip()
    (repo / "later.py").write_text("x = 1\n")
    subprocess.run(["git", "add", "later.py"], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "two"], cwd=repo, check=True)
    base = fetch_base(Source(git=str(repo), rev=rev))
    assert (base / "minipkg" / "core.py").exists() and not (base / "later.py").exists()
    assert len(git_log(base)) == 1
    with pytest.raises(UserError, match="rev 'nope' not found"):
        fetch_base(Source(git=str(repo), rev="nope"))
    with pytest.raises(UserError, match="clone failed"):
        fetch_base(Source(git=str(tmp_path / "missing")))


def _fetch_in_child(args: tuple[str, str]) -> str:
    cache, repo = args
    os.environ["ORCHBENCH_CACHE"] = cache
    return str(fetch_base(Source(path=repo)))


def test_concurrent_first_use_builds_once(tmp_path: Path, own_cache: Path) -> None:
    repo = make_repo(tmp_path / "src")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        paths = pool.map(_fetch_in_child, [(str(own_cache), str(repo))] * 4)
    assert len(set(paths)) == 1
    entries = [p for p in (own_cache / "bases").iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1  # no leftover temporary builds
    assert not [p for p in (own_cache / "bases").iterdir() if p.is_dir() and p.name.startswith(".")]


def test_workspaces_are_isolated_and_the_base_stays_immutable(tmp_path: Path) -> None:
    task = load_task(str(write_task(tmp_path, make_repo(tmp_path / "src"))))
    with workspace(task) as a, workspace(task) as b:
        assert a.root != b.root
        core_a = a.root / "minipkg" / "core.py"
        assert b"assert False" in core_a.read_bytes()
        setup_bytes = a.original("minipkg/core.py")
        # Write in place (same inode), the way `>>` in a shell would.
        with open(core_a, "r+b") as fh:
            fh.seek(0)
            fh.write(b"#")
        assert (b.root / "minipkg" / "core.py").read_bytes() == setup_bytes
        assert a.original("minipkg/core.py") == setup_bytes == prepare(task).tree.joinpath("minipkg/core.py").read_bytes()
        assert a.original("tests/test_extra.py") is not None  # added at set-up
        assert a.original("brand_new.py") is None
        with pytest.raises(UserError):
            a.original("../outside.py")
        assert a.applied[0]["id"] == "BREAK-1"
        roots = (a.root, b.root)
    assert not any(r.exists() or r.parent.exists() for r in roots)


def test_manifest_and_fingerprints_live_outside_the_workspace(tmp_path: Path) -> None:
    path = write_task(tmp_path, make_repo(tmp_path / "src"), extra='protected = ["tests/test_extra.py"]')
    task = load_task(str(path))
    ws = new_workspace(task)
    try:
        assert set(ws.protected) == {"tests/test_extra.py"}
        assert ws.manifest["tests/test_extra.py"] == ws.protected["tests/test_extra.py"]
        assert not any(".git/" in rel for rel in ws.manifest)
        stored = json.loads((ws.prepared.dir / "protected.json").read_text())
        assert stored == ws.protected and not ws.prepared.dir.is_relative_to(ws.root)
        # Nothing in the workspace carries the fingerprints.
        assert not [p for p in ws.root.rglob("*.json")]
        # The agent's git sees only the set-up state: no pristine history to check out.
        assert git_log(ws.root) == ["mini: setup"]
    finally:
        remove_workspace(ws)
    assert not ws.root.exists()


def test_protected_pattern_matching_nothing_is_a_user_error(tmp_path: Path) -> None:
    path = write_task(tmp_path, make_repo(tmp_path / "src"), extra='protected = ["tests/nope_*.py"]')
    with pytest.raises(UserError, match="protected entry 'tests/nope_\\*.py' matches no file"):
        new_workspace(load_task(str(path)))


def test_venv_imports_the_workspace_package_even_when_pythonpath_is_replaced(tmp_path: Path) -> None:
    task = load_task(str(write_task(tmp_path, make_repo(tmp_path / "src"))))
    with workspace(task, stage="base") as ws:
        env = {**os.environ, **ws.env(), "PYTHONPATH": str(tmp_path)}  # like typer's subprocess tests
        out = subprocess.run([str(ws.venv / "bin" / "python"), "-c", "import minipkg; print(minipkg.__file__)"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
        assert out.returncode == 0, out.stderr
        assert Path(out.stdout.strip()).is_relative_to(ws.root)
        assert not ws.venv.is_relative_to(ws.root)
        assert ws.env()["ORCHBENCH_WORKSPACE"] == str(ws.root)


def test_workspaces_of_dead_processes_are_swept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from orchbench.tasks import workspace as ws_mod

    monkeypatch.setattr(ws_mod, "_swept", set())
    parent = ws_mod.workspaces_root()
    dead = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True, check=True).stdout.strip()
    stale, alive, young = parent / f"mini-{dead}-abc", parent / f"mini-{os.getpid()}-abc", parent / f"x-{dead}-new"
    for d in (stale, alive, young):
        (d / "repo").mkdir(parents=True)
    os.utime(stale, (1, 1))
    os.utime(alive, (1, 1))
    task = load_task(str(write_task(tmp_path, make_repo(tmp_path / "src"))))
    with workspace(task):
        pass
    assert not stale.exists() and alive.exists() and young.exists()


@pytest.mark.parametrize("use_uv", [True, False])
def test_venv_builds_with_uv_or_plain_venv_and_carries_the_workspace_hook(tmp_path: Path, use_uv: bool) -> None:
    from orchbench.tasks.spec import Env
    from orchbench.tasks.venv import build_venv, env_for

    if use_uv:
        from orchbench.tasks.venv import uv_bin

        if uv_bin() is None:
            pytest.skip("uv is not installed")
    target = tmp_path / "venv"
    build_venv(Env(), target, use_uv=use_uv)
    pkg = tmp_path / "ws" / "onlyhere"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("VALUE = 7\n")
    env = {**os.environ, **env_for(tmp_path / "ws", target)}
    env.pop("PYTHONPATH")  # the .pth hook alone must find the workspace
    out = subprocess.run([str(target / "bin" / "python"), "-c", "import onlyhere; print(onlyhere.VALUE)"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "7", out.stderr
