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

from orchbench.runner.batch import run_batch
from orchbench.runner.experiment import load_experiment
from orchbench.runner.ray_backend import RayBackend
from orchbench.store import Store
from tests.test_batch_support import SlowFactory, make_task, write_experiment

ray = pytest.importorskip("ray")

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
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
    with open(tmp / "ray.log", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while "Ray runtime started" not in (tmp / "ray.log").read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("ray head did not start: " + (tmp / "ray.log").read_text()[-2000:])
            time.sleep(0.2)
        yield f"127.0.0.1:{port}", tmp / "cache"
    finally:
        if ray.is_initialized():
            ray.shutdown()
        os.killpg(proc.pid, signal.SIGTERM)  # the head's whole process group, by its id
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


def cell_rows(db: Path, exp_id: str) -> dict[tuple[str, str], list[tuple[int, str]]]:
    out: dict[tuple[str, str], list[tuple[int, str]]] = {}
    with Store(db) as s:
        for t in s.trials(experiment=exp_id):
            out.setdefault((t.arm, t.task), []).append((t.attempt, t.status))
    return {k: sorted(v) for k, v in out.items()}


def test_ray_runs_real_trials_like_local(tmp_path: Path, ray_head: tuple[str, Path]) -> None:
    """The same small experiment through run_trial (workspace, sandbox, judge) on both backends."""
    address, node_cache = ray_head
    tasks = [make_task(tmp_path, "pass-r", passes=True), make_task(tmp_path, "fail-r", passes=False)]
    exp = load_experiment(write_experiment(tmp_path, tasks, name="ray-e2e", arms=["A", "D"], target_successes=2,
                                           max_attempts=3, workers=2))
    local = run_batch(exp, tmp_path / "local.db", model_factory=SlowFactory(0.1))
    remote = run_batch(exp, tmp_path / "ray.db", backend=RayBackend(address, 2), model_factory=SlowFactory(0.1))
    assert cell_rows(tmp_path / "ray.db", exp.id) == cell_rows(tmp_path / "local.db", exp.id)
    for key, st in local.states.items():
        r = remote.states[key]
        assert (r.successes, r.attempts, r.infra_errors) == (st.successes, st.attempts, st.infra_errors)
        assert r.cost == pytest.approx(st.cost)
    assert remote.states[("A", "pass-r")].successes == 2 and remote.states[("D", "fail-r")].attempts == 3
    with Store(tmp_path / "ray.db") as s:
        trials = s.trials(experiment=exp.id)
        assert all(len(s.calls(t.id)) == 1 and t.verdict is not None for t in trials)
    # the node built its own task caches, in its own cache directory
    assert node_cache.is_dir() and any(node_cache.iterdir())
