"""Run each trial as a Ray task on an existing cluster; the driver alone writes the store.

A worker node runs `run_trial` against a private temporary store and returns the trial with its
calls (`jobs.run_and_return`); the driver commits both in one transaction. Remote nodes therefore
never touch the driver's SQLite file (SQLite over NFS is not safe), and a trial is either wholly
recorded or absent. Each node builds and caches its own base repositories and judge venvs in its own
cache directory (`ORCHBENCH_CACHE` / XDG), the first time one of its trials needs them.

Every node must have orchbench installed in the Python that runs its Ray workers (the same version
as the driver): the trial code is imported there, not shipped.
"""

from __future__ import annotations

import socket
from concurrent.futures import Future
from typing import Any

from orchbench.errors import BadArgument, UserError
from orchbench.runner.jobs import JobResult, TrialJob, run_and_return

CONNECT_TIMEOUT_S = 3.0


def parse_address(address: str | None) -> tuple[str, int]:
    if not address:
        raise BadArgument("address", "the Ray backend needs HOST:PORT (the Ray head's GCS address, e.g. 10.0.0.5:6379)")
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BadArgument("address", f"{address!r}: expected HOST:PORT, e.g. 127.0.0.1:6379")
    return host.strip("[]"), int(port)


def check_reachable(address: str | None, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """One TCP connect with a short timeout, so a wrong address fails before anything runs."""
    host, port = parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise BadArgument(
            "address", f"cannot reach a Ray cluster at {address} ({reason}); start one with `ray start --head "
                       f"--port={port}` or give the head's HOST:PORT") from None


def _remote_run(job: TrialJob) -> JobResult:
    return run_and_return(job)


class RayBackend:
    name = "ray"
    workers_write = False  # workers return records; the driver writes them

    def __init__(self, address: str, workers: int, *, cpus_per_trial: float = 1.0) -> None:
        self.address = address
        self.workers = workers
        self.cpus_per_trial = cpus_per_trial
        self._remote: Any = None
        self._refs: dict[Future, Any] = {}
        self._we_connected = False

    def start(self) -> None:
        if self._remote is not None:
            return
        check_reachable(self.address)
        import ray

        if not ray.is_initialized():
            try:
                ray.init(address=self.address, log_to_driver=False, configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise UserError(f"cannot connect to the Ray cluster at {self.address}: {exc}") from None
            self._we_connected = True
        # max_retries=0: a trial is not idempotent (it costs money); the scheduler decides re-runs.
        self._remote = ray.remote(num_cpus=self.cpus_per_trial, max_retries=0)(_remote_run)

    def submit(self, job: TrialJob) -> Future:
        self.start()
        ref = self._remote.remote(job)
        fut: Future = ref.future()
        self._refs[fut] = ref
        fut.add_done_callback(lambda f: self._refs.pop(f, None))
        return fut

    def restart(self) -> None:  # nothing to rebuild: Ray replaces dead workers itself
        pass

    def shutdown(self, *, cancel: bool = False) -> None:
        if self._remote is None:
            return
        import ray

        if cancel:
            for ref in list(self._refs.values()):
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001, S110 - a task that already ended cannot be cancelled
                    pass
        self._refs.clear()
        self._remote = None
        if self._we_connected:
            ray.shutdown()
            self._we_connected = False
