"""The default backend: a pool of N worker processes on this machine, all writing to one store.

Workers come from a forkserver that has already imported the trial code, so starting eight of them
costs a fork each rather than eight interpreter start-ups; each worker dies with the batch (see
`jobs.init_local_worker`).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from concurrent.futures import Future, ProcessPoolExecutor

from orchbench.runner.jobs import TrialJob, init_local_worker, run_into_store

# Imported once in the forkserver, so each worker starts with them: without this, eight workers
# importing the SDKs, genai-prices and the judge at once on two cores took seconds before the first
# trial. "__main__": a script passing run_batch a model factory of its own gets it unpickled in workers.
_PRELOAD = [
    "__main__", "orchbench.runner.jobs", "orchbench.runner.trial", "orchbench.store", "orchbench.pricing",
    "orchbench.judge.run", "orchbench.tasks.workspace", "orchbench.agent.tools", "orchbench.models.factory",
]


class LocalBackend:
    name = "local"
    workers_write = True  # run_trial writes to the shared store from the worker

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        if self._pool is None:
            method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
            ctx = mp.get_context(method)
            if method == "forkserver":
                ctx.set_forkserver_preload(_PRELOAD)
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=ctx, initializer=init_local_worker, initargs=(os.getpid(),)
            )
            # Start the forkserver and every worker now, in the background, while the driver still
            # checks the experiment and opens the store (the pool would otherwise start them lazily).
            for _ in range(self.workers):
                self._pool.submit(os.getpid)

    def submit(self, job: TrialJob) -> Future:
        self.start()
        assert self._pool is not None
        return self._pool.submit(run_into_store, job)

    def restart(self) -> None:
        """After a worker died (the pool is broken): a fresh pool for the trials still to run."""
        self.shutdown(cancel=True)
        self.start()

    def worker_pids(self) -> list[int]:
        procs = getattr(self._pool, "_processes", None) or {}
        return list(procs)

    def shutdown(self, *, cancel: bool = False) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if cancel:
            # Kill what runs, with the commands it started (each worker leads its own process group);
            # the driver marks those trials interrupted, to be run again.
            for pid in list(getattr(pool, "_processes", None) or {}):
                for kill in (os.killpg, os.kill):
                    try:
                        kill(pid, signal.SIGKILL)
                        break
                    except (ProcessLookupError, PermissionError):
                        continue
        pool.shutdown(wait=True, cancel_futures=True)
