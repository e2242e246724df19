"""The Ray backend against a real Ray head started on loopback: same per-cell results as local."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from orchbench.store import Store

from orchbench.runner.batch import run_batch
from orchbench.runner.experiment import load_experiment
from orchbench.runner.ray_backend import RayBackend
from tests.test_batch_support import make_task, scripted_trial, write_experiment

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`ray start --head --block` in its own process group; the whole group is stopped afterwards."""
    tmp = tmp_path_factory.mktemp("ray")
    port = free_port()
    ray_bin = Path(sys.executable).with_name("ray")
    cmd = [
        str(ray_bin) if ray_bin.exists() else "ray", "start", "--head", f"--port={port}",
        "--node-ip-address=127.0.0.1", "--include-dashboard=false", "--num-cpus=2",
        f"--ray-client-server-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}",
        f"--temp-dir={tmp / 'r'}", "--block",
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env["ORCHBENCH_CACHE"] = str(tmp / "cache")  # the node's own cache, as on a remote machine
    log = open(tmp / "ray.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while "Ray runtime started" not in (tmp / "ray.log").read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("ray head did not start: " + (tmp / "ray.log").read_text()[-2000:])
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        if ray.is_initialized():
            ray.shutdown()
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)
        log.close()


def cell_rows(db: Path, exp_id: str) -> dict[tuple[str, str], list[tuple[int, str]]]:
    out: dict[tuple[str, str], list[tuple[int, str]]] = {}
    with Store(db) as s:
        for t in s.trials(experiment=exp_id):
            out.setdefault((t.arm, t.task), []).append((t.attempt, t.status))
    return {k: sorted(v) for k, v in out.items()}


def test_ray_gives_same_cells_as_local_scheduling(tmp_path: Path, ray_head: str) -> None:
    tasks = [make_task(tmp_path, n, passes=True) for n in ("pass-1", "flaky-1", "infra-1")]
    exp = load_experiment(write_experiment(tmp_path, tasks, arms=["A"], target_successes=2, max_attempts=4,
                                           infra_retries=1))
    run_batch(exp, tmp_path / "local.db", workers=2, trial_fn=scripted_trial)
    report = run_batch(exp, tmp_path / "ray.db", backend=RayBackend(ray_head, 2), workers=2, trial_fn=scripted_trial)
    local, remote = cell_rows(tmp_path / "local.db", exp.id), cell_rows(tmp_path / "ray.db", exp.id)
    for cell in [("A", "pass-1"), ("A", "flaky-1")]:  # outcome fixed per slot: identical rows
        assert remote[cell] == local[cell]
    # infra errors depend on what ran at once, not on the slot: the same counts, and the cell gave up
    assert [s for _, s in remote[("A", "infra-1")]] == [s for _, s in local[("A", "infra-1")]] == ["infra_error"] * 2
    assert report.states[("A", "flaky-1")].successes == 2
    with Store(tmp_path / "ray.db") as s:
        # the driver wrote the workers' calls with their trials
        assert all(len(s.calls(t.id)) == 1 for t in s.trials(experiment=exp.id))
