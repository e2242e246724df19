"""Run one command confined: bubblewrap for the filesystem and namespaces, rlimits and a pids cgroup.

Used by the agent's bash tool and by the judge. What is enforced (see docs/judge.md):
- bubblewrap: only the system, the interpreter and what the caller binds are visible (sandbox_view),
  read-only, only `writable` paths writable, a private size-limited /tmp and /dev/shm, fresh /dev and /proc, every namespace unshared (no network unless asked), all capabilities
  dropped (we run as root: without `--cap-drop ALL` the sandboxed root could unmount /tmp), killed with
  its parent, a new session (no TIOCSTI into our terminal).
- rlimits (set by a wrapper, util-linux `prlimit`, so no preexec_fn in a threaded parent): CPU seconds and address
  space per process, largest file size, and RLIMIT_NPROC.
- RLIMIT_NPROC does not bind uid 0, so when a pids cgroup can be created the process count is capped
  there too; the cgroup also lets us kill every process left behind, even ones that called setsid.
- Output is read in threads and capped (head and tail kept), a timeout kills the whole process group.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from orchbench.sandbox_view import mount_argv

# Variables copied from our environment when the caller gives no value: nothing secret, only what
# tools need to find themselves (pyenv shims read PYENV_*).
_PASS_THROUGH = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYENV_ROOT", "PYENV_VERSION")
IN_SANDBOX_VAR = "ORCHBENCH_IN_SANDBOX"
_CGROUP_V1_PIDS = Path("/sys/fs/cgroup/pids")


@dataclass
class Limits:
    cpu_s: int = 600
    memory_mb: int = 4096
    processes: int = 512
    output_bytes: int = 1_000_000
    file_size_mb: int = 512
    tmp_mb: int = 1024  # size of the private /tmp (tmpfs) inside the sandbox
    shm_mb: int = 64  # size of /dev/shm inside (else a tmpfs of half the host's RAM)


@dataclass
class SandboxResult:
    exit_code: int
    stdout: str
    stderr: str
    timed_out: bool
    duration_s: float
    truncated: bool


class _Capture:
    """Drains one pipe in a thread, keeping the first and the last `cap/2` bytes."""

    def __init__(self, fd: int, cap: int) -> None:
        self.fd = fd
        self.half = max(cap // 2, 1)
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_len = 0
        self.total = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.total += len(chunk)
            room = self.half - len(self.head)
            if room > 0:
                self.head += chunk[:room]
                chunk = chunk[room:]
            if chunk:
                self.tail.append(chunk)
                self.tail_len += len(chunk)
                while self.tail_len - len(self.tail[0]) >= self.half:
                    self.tail_len -= len(self.tail.popleft())

    def text(self) -> tuple[str, bool]:
        tail = b"".join(self.tail)[-self.half :]
        cut = self.total - len(self.head) - len(tail)
        if cut <= 0:
            return (bytes(self.head) + tail).decode("utf-8", "replace"), False
        marker = f"\n[... {cut} bytes cut ...]\n".encode()
        return (bytes(self.head) + marker + tail).decode("utf-8", "replace"), True


class _PidsCgroup:
    """A cgroup-v1 pids group for one run: caps the process count even for root, kills leftovers."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, max_pids: int) -> _PidsCgroup | None:
        if not _cgroup_usable():
            return None
        path = _CGROUP_V1_PIDS / f"orchbench-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            path.mkdir()
            (path / "pids.max").write_text(str(max_pids))
        except OSError:
            shutil.rmtree(path, ignore_errors=True)
            return None
        return cls(path)

    def pids(self) -> list[int]:
        try:
            return [int(x) for x in (self.path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def kill_all_and_remove(self) -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.01)
        for _ in range(100):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)


@lru_cache(maxsize=1)
def _cgroup_usable() -> bool:
    probe = _CGROUP_V1_PIDS / f"orchbench-probe-{os.getpid()}"
    try:
        probe.mkdir()
        ok = (probe / "pids.max").exists()
        probe.rmdir()
        return ok
    except OSError:
        return False


def _bwrap_argv(cwd: Path, writable: Sequence[Path], readonly: Sequence[Path], limits: Limits, network: bool,
                env: Mapping[str, str] | None = None) -> list[str]:
    mb = 1024 * 1024
    argv = ["bwrap", *mount_argv(cwd, writable, readonly, env=env or {}, tmp_bytes=limits.tmp_mb * mb,
                                 shm_bytes=limits.shm_mb * mb, network=network)]
    argv += ["--unshare-all"]
    if network:
        argv += ["--share-net"]
    argv += ["--die-with-parent", "--new-session", "--cap-drop", "ALL", "--chdir", str(cwd)]
    return argv + ["--"]


def _rlimits(limits: Limits) -> dict[str, int]:
    """The limits to set, never above the hard limits we run under (raising them is not allowed,
    e.g. for the agent's `judge`, already inside a sandbox)."""
    import resource

    mb = 1024 * 1024
    wanted = {
        "cpu": (resource.RLIMIT_CPU, limits.cpu_s),
        "as": (resource.RLIMIT_AS, limits.memory_mb * mb),
        "fsize": (resource.RLIMIT_FSIZE, limits.file_size_mb * mb),
        "nproc": (resource.RLIMIT_NPROC, limits.processes),
    }
    out = {}
    for name, (res, value) in wanted.items():
        hard = resource.getrlimit(res)[1]
        out[name] = value if hard == resource.RLIM_INFINITY else min(value, hard)
    return out


_SET_LIMITS = (
    "import os, resource, sys\n"
    "for name, value in zip(('CPU', 'AS', 'FSIZE', 'NPROC'), map(int, sys.argv[1:5])):\n"
    "    resource.setrlimit(getattr(resource, 'RLIMIT_' + name), (value, value))\n"
    "os.execvp(sys.argv[5], sys.argv[5:])\n"
)


def _limits_argv(limits: Limits) -> list[str]:
    """A wrapper that sets the limits then execs the command: `prlimit`, else a tiny Python one."""
    values = _rlimits(limits)
    if shutil.which("prlimit"):
        return ["prlimit", *(f"--{k}={v}" for k, v in values.items()), "--"]
    return [sys.executable, "-c", _SET_LIMITS, *(str(v) for v in values.values())]


def clean_env(env: Mapping[str, str] | None, *, home: str, tmpdir: str) -> dict[str, str]:
    """An explicit environment: nothing from ours but harmless basics, so API keys never leak in."""
    out = {k: os.environ[k] for k in _PASS_THROUGH if k in os.environ}
    out.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    out.setdefault("LANG", "C.UTF-8")
    out.update({"HOME": home, "TMPDIR": tmpdir, IN_SANDBOX_VAR: "1"})
    out.update(env or {})
    return out


@lru_cache(maxsize=1)
def sandbox_available() -> bool:
    """True when bubblewrap is installed and really starts a sandbox here (checked once)."""
    if not shutil.which("bwrap"):
        return False
    try:
        argv = _bwrap_argv(Path("/"), (), (), Limits(), False) + ["true"]
        return subprocess.run(argv, check=False, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def require_sandbox(what: str) -> None:
    """Raise NoSandbox unless a sandbox can start here (`what` names what would run unconfined)."""
    if not sandbox_available():
        from orchbench.errors import NoSandbox

        raise NoSandbox(what)


def run_sandboxed(
    argv: list[str] | str,
    *,
    cwd: Path,
    writable: Sequence[Path] = (),
    readonly: Sequence[Path] = (),
    env: Mapping[str, str] | None = None,
    timeout_s: float = 120,
    limits: Limits | None = None,
    network: bool = False,
    unsafe_no_sandbox: bool = False,
) -> SandboxResult:
    """Run `argv` (a string runs through `bash -c`) confined; never raises for the command's failures."""
    limits = limits or Limits()
    cmd = ["bash", "-c", argv] if isinstance(argv, str) else list(argv)
    cwd = Path(cwd).resolve()
    scratch = None
    if unsafe_no_sandbox:
        scratch = tempfile.mkdtemp(prefix="orchbench-unsafe-")
        full_env = clean_env(env, home=scratch, tmpdir=scratch)
        full = _limits_argv(limits) + cmd
    else:
        full_env = clean_env(env, home="/tmp", tmpdir="/tmp")
        full = _limits_argv(limits) + _bwrap_argv(cwd, writable, readonly, limits, network, full_env) + cmd
    cgroup = _PidsCgroup.create(limits.processes)
    if cgroup is not None:
        # Join the cgroup from inside the child before anything else runs: no window for a fork.
        full = ["sh", "-c", f'echo $$ > {cgroup.path}/cgroup.procs && exec "$@"', "sh"] + full

    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    start = time.monotonic()
    timed_out = False
    try:
        proc = subprocess.Popen(
            full,
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=out_w,
            stderr=err_w,
            start_new_session=True,
        )
    except OSError as exc:
        for fd in (out_r, out_w, err_r, err_w):
            os.close(fd)
        if cgroup:
            cgroup.kill_all_and_remove()
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        return SandboxResult(127, "", f"cannot start {cmd[0]}: {exc}", False, 0.0, False)
    os.close(out_w)
    os.close(err_w)
    half = max(limits.output_bytes // 2, 1)
    out_cap, err_cap = _Capture(out_r, limits.output_bytes), _Capture(err_r, half * 2)
    try:
        exit_code = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        _killpg(proc.pid)
        exit_code = proc.wait()
    finally:
        # Whatever the command left behind (background jobs, daemons) dies with it.
        _killpg(proc.pid)
        if cgroup is not None:
            cgroup.kill_all_and_remove()
    duration = time.monotonic() - start
    for cap in (out_cap, err_cap):
        cap.thread.join(timeout=5)
    for fd in (out_r, err_r):
        try:
            os.close(fd)
        except OSError:
            pass
    if scratch:
        shutil.rmtree(scratch, ignore_errors=True)
    stdout, t1 = out_cap.text()
    stderr, t2 = err_cap.text()
    if timed_out:
        stderr += f"\n[timed out after {timeout_s:g} s; process group killed]"
    if exit_code < 0:  # killed by a signal: report like a shell does
        exit_code = 128 - exit_code
    return SandboxResult(exit_code, stdout, stderr, timed_out, duration, t1 or t2)


def _killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
