"""What a sandboxed command must not reach: host unix sockets, other workspaces, files the harness
user can read, the reference solution, host RAM through /dev/shm; and what it must reach wherever it
lives: the interpreter and its venv (real bubblewrap, real processes)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import orchbench
from orchbench.sandbox import Limits, run_sandboxed, sandbox_available

needs_bwrap = pytest.mark.skipif(not sandbox_available(), reason="bubblewrap (bwrap) is not installed/usable")
PY = sys.executable
PACKAGE_ROOT = Path(orchbench.__file__).resolve().parent.parent
TINY = Path(__file__).parent / "fakes" / "tinytask" / "tiny.toml"


@pytest.fixture
def home_dir() -> Iterator[Path]:
    """A directory in the harness user's home (hidden from the sandbox, unlike pytest's tmp_path)."""
    d = Path.home() / f".orchbench-leak-{os.getpid()}"
    d.mkdir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _listening_socket(path: Path) -> socket.socket:
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(str(path))
    srv.listen()
    return srv


_CONNECT = ("import socket, sys\ns = socket.socket(socket.AF_UNIX)\n"
            "try:\n    s.connect(sys.argv[1]); print('CONNECTED')\nexcept OSError as e:\n    print('refused', e)\n")


@needs_bwrap
@pytest.mark.parametrize("where", ["home", "run"])
def test_host_unix_sockets_are_not_connectable(tmp_path: Path, home_dir: Path, where: str) -> None:
    if where == "run":
        base = Path("/run") / f"orchbench-leak-{os.getpid()}"
        try:
            base.mkdir()
        except OSError:
            pytest.skip("/run is not writable here")
    else:
        base = home_dir
    sock = base / "agent.sock"
    srv = _listening_socket(sock)
    try:
        probe = socket.socket(socket.AF_UNIX)  # the host can connect: the socket is live
        probe.connect(str(sock))
        probe.close()
        r = run_sandboxed([PY, "-c", _CONNECT, str(sock)], cwd=tmp_path)
        assert "refused" in r.stdout and "CONNECTED" not in r.stdout, r.stdout + r.stderr
    finally:
        srv.close()
        shutil.rmtree(base, ignore_errors=True)


@needs_bwrap
def test_other_workspaces_are_not_visible(home_dir: Path) -> None:
    mine, other = home_dir / "arm-a-1" / "repo", home_dir / "arm-b-2" / "repo"
    for d in (mine, other):
        d.mkdir(parents=True)
    (other / "fix.py").write_text("THE FIX")
    r = run_sandboxed("ls ../..; cat ../../arm-b-2/repo/fix.py", cwd=mine, writable=[mine])
    assert "THE FIX" not in r.stdout and "arm-b-2" not in r.stdout
    assert "arm-a-1" in r.stdout  # its own holder is there (the path to the workspace)


@needs_bwrap
def test_files_only_the_harness_user_can_read_are_hidden(home_dir: Path) -> None:
    ws = home_dir / "ws" / "repo"
    ws.mkdir(parents=True)
    secrets = [Path.home() / f".orchbench-leak-{os.getpid()}.env", home_dir / "ws" / ".env"]
    for s in secrets:
        s.write_text("ANTHROPIC_API_KEY=sk-leaked\n")
        s.chmod(0o600)
    try:
        r = run_sandboxed(" ; ".join(f"cat {s}" for s in secrets) + "; cat /etc/shadow", cwd=ws, writable=[ws])
        assert "sk-leaked" not in r.stdout
        assert "root:" not in r.stdout  # /etc/shadow is masked (we may run as root: root owns it)
    finally:
        secrets[0].unlink()


@needs_bwrap
def test_builtin_task_files_are_not_readable(tmp_path: Path) -> None:
    """Not through this package, nor through the copy `python -I` imports (an editable install's)."""
    builtin = PACKAGE_ROOT / "orchbench" / "tasks" / "builtin"
    assert any(builtin.glob("*.toml"))
    find = "import orchbench, pathlib; print(pathlib.Path(orchbench.__file__).parent / 'tasks' / 'builtin')"
    isolated = subprocess.run([PY, "-I", "-c", find], capture_output=True, text=True, check=True).stdout.strip()
    for d in {str(builtin), isolated}:
        r = run_sandboxed(f"ls {d}; cat {d}/*.toml", cwd=tmp_path)
        assert "[[reference]]" not in r.stdout and ".toml" not in r.stdout, d


def test_agent_judge_context_holds_no_reference(tmp_path: Path) -> None:
    from orchbench.judge.local import DirWorkspace, read_snapshot, write_snapshot
    from orchbench.tasks.spec import Task, load_task

    task = load_task(str(TINY))
    assert task.reference  # the task has a reference: it must not be written for the agent
    ws = DirWorkspace(tmp_path / "repo", task, Path(sys.prefix), setup_root=tmp_path)
    write_snapshot(ws, tmp_path / "ctx")
    text = (tmp_path / "ctx" / "context.json").read_text()
    assert "reference" not in json.loads(text)["task"]
    assert read_snapshot(tmp_path / "ctx", Task).task.judge == task.judge  # still enough to judge


@needs_bwrap
def test_dev_shm_is_small(tmp_path: Path) -> None:
    code = "import os; s = os.statvfs('/dev/shm'); print(s.f_blocks * s.f_frsize // 2**20)"
    r = run_sandboxed([PY, "-c", code], cwd=tmp_path, limits=Limits(shm_mb=32))
    assert r.exit_code == 0 and 0 < int(r.stdout) <= 32, r.stdout + r.stderr


@needs_bwrap
def test_interpreter_in_a_venv_under_tmp(tmp_path: Path) -> None:
    """A venv under /tmp (hidden by the private /tmp) whose base lives in a hidden home or anywhere."""
    venv = tmp_path / "fresh-venv"
    subprocess.run([PY, "-m", "venv", "--without-pip", str(venv)], check=True)
    ws = tmp_path / "ws"
    ws.mkdir()
    code = ("import sys; from pathlib import Path; from orchbench.sandbox import run_sandboxed\n"
            f"r = run_sandboxed([sys.executable, '-c', 'import sys; print(sys.prefix)'], cwd=Path({str(ws)!r}))\n"
            "print(r.exit_code, r.stdout.strip(), r.stderr.strip())\n")
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, env=env,
                         timeout=120, check=False)
    assert out.stdout.strip() == f"0 {venv}", out.stdout + out.stderr


@needs_bwrap
def test_judge_venv_built_on_a_python_under_a_hidden_home(tmp_path: Path, home_dir: Path) -> None:
    """A task's venv (bound read-only by the caller) whose base Python lives in a home directory the
    sandbox otherwise hides: the base is bound too."""
    real = Path(sys.base_prefix).resolve()
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    base = home_dir / "python"
    (base / "bin").mkdir(parents=True)
    shutil.copy2(Path(sys.executable).resolve(), base / "bin" / version)
    (base / "lib").symlink_to(real / "lib")  # the stdlib, found from the copied binary
    venv = tmp_path / "judge-venv"
    subprocess.run([str(base / "bin" / version), "-m", "venv", "--without-pip", str(venv)], check=True)
    r = run_sandboxed([str(venv / "bin" / "python"), "-c", "import sys; print(sys.prefix)"], cwd=tmp_path,
                      readonly=[venv])
    assert r.exit_code == 0 and r.stdout.strip() == str(venv), r.stdout + r.stderr
