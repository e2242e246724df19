"""The sandbox: what a confined command can and cannot do (real bubblewrap, real processes)."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from orchbench.sandbox import Limits, run_sandboxed, sandbox_available

needs_bwrap = pytest.mark.skipif(not sandbox_available(), reason="bubblewrap (bwrap) is not installed/usable")
PY = sys.executable


def _alive_with(token: str) -> list[int]:
    """Host processes whose command line contains `token`."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if token in cmd and "pytest" not in cmd:
            found.append(int(pid))
    return found


@needs_bwrap
def test_system_is_read_only_and_workspace_writable(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    r = run_sandboxed("touch /usr/orchbench-x; echo rc=$?; echo ok > inside.txt", cwd=ws, writable=[ws])
    assert "Read-only file system" in r.stderr and "rc=1" in r.stdout
    assert not Path("/usr/orchbench-x").exists()
    assert (ws / "inside.txt").read_text() == "ok\n"


@needs_bwrap
def test_writes_outside_the_workspace_fail(tmp_path: Path) -> None:
    ws, outside = tmp_path / "ws", Path.home() / f".orchbench-test-{os.getpid()}"
    ws.mkdir()
    r = run_sandboxed(f"echo x > {outside}", cwd=ws, writable=[ws])
    assert r.exit_code != 0
    assert not outside.exists()


@needs_bwrap
def test_private_tmp(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    host_file = tmp_path / "host-secret.txt"  # under the host's /tmp, outside the workspace
    host_file.write_text("secret")
    marker = f"/tmp/orchbench-sbx-{os.getpid()}"
    r = run_sandboxed(f"cat {host_file}; echo hi > {marker}; cat {marker}", cwd=ws, writable=[ws])
    assert "secret" not in r.stdout and "hi" in r.stdout
    assert not Path(marker).exists()  # the sandbox's /tmp is its own


@needs_bwrap
def test_orchbench_stays_importable_and_read_only_inside(tmp_path: Path) -> None:
    # The agent's `judge` runs orchbench inside the sandbox; a checkout under /tmp (where CI may
    # clone) would otherwise be hidden by the private /tmp.
    import orchbench

    ws = tmp_path / "ws"
    ws.mkdir()
    pkg = Path(orchbench.__file__).resolve().parent
    code = f"import orchbench; print(orchbench.__file__); open({str(pkg / 'x.txt')!r}, 'w')"
    r = run_sandboxed([PY, "-c", code], cwd=ws, writable=[ws], env={"PYTHONPATH": str(pkg.parent)})
    assert str(pkg) in r.stdout, r.stderr
    assert "Read-only file system" in r.stderr and not (pkg / "x.txt").exists()


@needs_bwrap
def test_no_network(tmp_path: Path) -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    code = f"import socket; s=socket.socket(); s.settimeout(3); print(s.connect_ex(('127.0.0.1', {port})))"
    try:
        r = run_sandboxed([PY, "-c", code], cwd=tmp_path)
        assert r.stdout.strip() not in ("0", "")  # refused: a different network namespace
        shared = run_sandboxed([PY, "-c", code], cwd=tmp_path, network=True)
        assert shared.stdout.strip() == "0"  # the same probe works when network is asked for
    finally:
        srv.close()


@needs_bwrap
def test_secrets_are_not_passed_and_home_is_inside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-should-not-leak")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-nor-this")
    r = run_sandboxed("env; echo HOME=$HOME TMPDIR=$TMPDIR", cwd=tmp_path, env={"MINE": "1"})
    assert "sk-" not in r.stdout
    assert "MINE=1" in r.stdout and "HOME=/tmp TMPDIR=/tmp" in r.stdout


@pytest.mark.parametrize("unsafe", [False, pytest.param(True, id="unsafe")])
def test_timeout_kills_the_whole_group_including_background_children(tmp_path: Path, unsafe: bool) -> None:
    if not unsafe and not sandbox_available():
        pytest.skip("bubblewrap missing")
    token = f"31{os.getpid()}"
    r = run_sandboxed(f"sleep {token} & sleep {token}1 & wait", cwd=tmp_path, timeout_s=1, unsafe_no_sandbox=unsafe)
    assert r.timed_out and r.exit_code != 0
    assert r.duration_s < 10
    time.sleep(0.2)
    assert _alive_with(f"sleep {token}") == []


@needs_bwrap
def test_background_daemon_does_not_outlive_the_command(tmp_path: Path) -> None:
    token = f"42{os.getpid()}"
    r = run_sandboxed(f"setsid nohup sleep {token} >/dev/null 2>&1 & echo started", cwd=tmp_path)
    assert r.exit_code == 0 and "started" in r.stdout and not r.timed_out
    time.sleep(0.2)
    assert _alive_with(f"sleep {token}") == []


@pytest.mark.parametrize("unsafe", [False, True])
def test_output_is_capped_keeping_head_and_tail(tmp_path: Path, unsafe: bool) -> None:
    if not unsafe and not sandbox_available():
        pytest.skip("bubblewrap missing")
    cmd = "echo FIRST; head -c 3000000 /dev/zero | tr '\\0' x; echo; echo LAST"
    r = run_sandboxed(cmd, cwd=tmp_path, limits=Limits(output_bytes=10_000), unsafe_no_sandbox=unsafe)
    assert r.truncated
    assert r.stdout.startswith("FIRST") and r.stdout.rstrip().endswith("LAST")
    assert "bytes cut" in r.stdout and len(r.stdout) < 11_000


@needs_bwrap
def test_memory_limit(tmp_path: Path) -> None:
    code = "b = bytearray(600 * 1024 * 1024); print('allocated')"
    r = run_sandboxed([PY, "-c", code], cwd=tmp_path, limits=Limits(memory_mb=300))
    assert r.exit_code != 0 and "MemoryError" in r.stderr
    ok = run_sandboxed([PY, "-c", code], cwd=tmp_path, limits=Limits(memory_mb=2048))
    assert ok.exit_code == 0 and "allocated" in ok.stdout


@needs_bwrap
def test_cpu_limit(tmp_path: Path) -> None:
    r = run_sandboxed([PY, "-c", "while True: pass"], cwd=tmp_path, limits=Limits(cpu_s=1), timeout_s=30)
    assert not r.timed_out and r.exit_code in (128 + 9, 128 + 24)  # SIGKILL or SIGXCPU


@needs_bwrap
def test_file_size_limit(tmp_path: Path) -> None:
    r = run_sandboxed("head -c 3000000 /dev/zero > big; echo rc=$?", cwd=tmp_path, writable=[tmp_path],
                      limits=Limits(file_size_mb=1))
    assert "rc=0" not in r.stdout
    assert (tmp_path / "big").stat().st_size <= 1024 * 1024


@needs_bwrap
def test_commands_run_concurrently_without_interfering(tmp_path: Path) -> None:
    results = {}

    def one(i: int) -> None:
        d = tmp_path / f"w{i}"
        d.mkdir()
        results[i] = run_sandboxed(f"echo {i} > /tmp/x; sleep 0.2; cat /tmp/x", cwd=d, writable=[d])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {i: r.stdout.strip() for i, r in results.items()} == {i: str(i) for i in range(4)}
