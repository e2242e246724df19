"""Hard limits of the runner: a trial deadline, SIGTERM and SIGKILL mid-command, FIFOs in the
workspace; every billed call is stored the moment its response arrives (real CLI, real sandbox, the
real SDK against the loopback server)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from orchbench.agent.returns import snapshot
from orchbench.arms import load_arm
from orchbench.models.base import RetryPolicy
from orchbench.runner.trial import run_trial
from orchbench.sandbox import sandbox_available
from orchbench.store import Store
from orchbench.tasks.spec import load_task
from tests.fakes._http import Reply, text, tool_use
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.faulty_server import wait_for

needs_bwrap = pytest.mark.skipif(not sandbox_available(), reason="bubblewrap (bwrap) is not installed/usable")
TINY = Path(__file__).parent / "fakes" / "tinytask" / "tiny.toml"
KEY = {"ANTHROPIC_API_KEY": "sk-test"}


def bash(command: str, id: str = "b1") -> Reply:
    # The bash tool's argument is `command` (orchbench's tool profile) or `cmd` (the paper's).
    return tool_use("bash", {"command": command, "cmd": command}, id=id)


def fast() -> RetryPolicy:
    return RetryPolicy(max_retries=1, base_s=0.001, max_s=0.002, sleep=lambda s: None)


def _running(token: str) -> bool:
    for pid in os.listdir("/proc"):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if cmd.startswith("sleep") and token in cmd:
            return True
    return False


@pytest.mark.timeout(60)
def test_snapshot_skips_fifos_and_sockets_without_opening_them(tmp_path: Path) -> None:
    import socket

    (tmp_path / "a.py").write_text("x = 1\n")
    os.mkfifo(tmp_path / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    (tmp_path / "link").symlink_to(tmp_path / "pipe")
    out: dict[str, dict[str, bytes]] = {}
    t = threading.Thread(target=lambda: out.setdefault("files", snapshot(tmp_path)), daemon=True)
    t.start()
    t.join(20)
    sock.close()
    assert not t.is_alive(), "snapshot blocked opening a FIFO"
    assert out["files"] == {"a.py": b"x = 1\n"}


@needs_bwrap
@pytest.mark.timeout(300)
def test_mkfifo_in_the_workspace_does_not_hang_a_diff_stat_trial(tmp_path: Path) -> None:
    arm_file = tmp_path / "diffstat.toml"
    arm_file.write_text('base = "C"\n[return_policy]\nkind = "diff_stat"\n')
    # The FIFO exists before the delegation: the snapshots before and after it both meet it.
    script = [bash("mkfifo pipe && echo made"), tool_use("delegate_to_executor", {"instruction": "go"}, id="d1"),
              text("nothing to do"), text("done")]
    with FakeAnthropic(script) as srv, Store(tmp_path / "runs.db") as store:
        arm = load_arm(str(arm_file)).with_base_url(srv.base_url)
        t = run_trial(load_task(str(TINY)), arm, store=store, rate_card="paper-2026-06", env=KEY, retry=fast())
        assert t.status == "failure" and store.trial(t.id).status == "failure"  # judged; nothing fixed
        handback = store.calls(t.id)[1].tool_results[0]["content"]
        assert "0 files changed" in handback  # the snapshot after the delegation skipped the FIFO


@needs_bwrap
@pytest.mark.timeout(300)
def test_trial_past_its_deadline_is_a_named_failure(tmp_path: Path) -> None:
    script = [bash("sleep 7301"), text("done")]
    with FakeAnthropic(script) as srv, Store(tmp_path / "runs.db") as store:
        t0 = time.monotonic()
        t = run_trial(load_task(str(TINY)), load_arm("A").with_base_url(srv.base_url), store=store,
                      rate_card="paper-2026-06", env=KEY, retry=fast(), deadline_s=3)
        assert time.monotonic() - t0 < 60
        stored = store.trial(t.id)
        assert stored.status == "failure" and "trial deadline" in (stored.failure_reason or "")
        [call] = store.calls(t.id)  # the billed call is kept, with what interrupted its tool
        assert call.error and "TrialDeadline" in call.error
    assert not _running("7301")


def _start_run(srv: FakeAnthropic, db: Path, arm: str = "A") -> subprocess.Popen[str]:
    import orchbench

    env = {**os.environ, **KEY, "PYTHONPATH": str(Path(orchbench.__file__).resolve().parent.parent)}
    return subprocess.Popen(
        [sys.executable, "-m", "orchbench", "run", "--arm", arm, "--task", str(TINY), "--db", str(db),
         "--base-url", srv.base_url, "--rate-card", "paper-2026-06"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@needs_bwrap
@pytest.mark.timeout(300)
@pytest.mark.parametrize("sig,arm", [(signal.SIGKILL, "A"), (signal.SIGTERM, "A"), (signal.SIGKILL, "C")],
                         ids=["SIGKILL", "SIGTERM", "SIGKILL-mid-delegation"])
def test_killed_during_a_long_command_every_billed_call_is_stored(tmp_path: Path, sig: int, arm: str) -> None:
    token = f"73{sig}{os.getpid() % 1000}"
    script: list[Reply] = [bash(f"sleep {token}"), text("done")]  # a billed call, a long tool
    if arm == "C":  # the orchestrator's call is billed before its delegation: kill while the executor thinks
        script = [tool_use("delegate_to_executor", {"instruction": "wait"}, id="d1"), Reply(text("ok").content,
                                                                                            delay_s=120)]
    db = tmp_path / "runs.db"
    with FakeAnthropic(script) as srv:
        proc = _start_run(srv, db, arm)
        try:
            busy = (lambda: len(srv.requests) == 2) if arm == "C" else (lambda: _running(token))
            assert wait_for(busy, 120), proc.stderr.read() if proc.poll() is not None else ""
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        billed = len(srv.billed)
    assert billed == 1 and "Traceback" not in err
    with Store(db, readonly=True) as store:
        [trial] = store.trials()
        assert len(store.calls(trial.id)) == billed
        if sig == signal.SIGTERM:
            assert trial.status == "interrupted" and trial.ended_at is not None
    assert wait_for(lambda: not _running(token), 10)  # the command died with the runner
