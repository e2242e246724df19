"""Batch throughput and memory: 8 workers vs 1 worker on the same trials, in the same run.

Each trial is a full `run_trial` (fresh workspace, sandboxed judge, SQLite store) whose scripted model
answers after a fixed delay, the way a real trial mostly waits on a model API. The batch runs as a
separate process; its memory (the driver, the forkserver, the workers and everything they start) is
sampled from /proc while it runs.

    python benchmarks/bench_batch.py [--delay 5] [--trials 16] [--out benchmarks/results/bench_batch.md]

Targets (issue 5): 8 workers >= 6x faster than 1; batch process + workers < 2 GB.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchbench.records import Usage

HERE = Path(__file__).resolve()


class DelayModel:
    """Answers 'done' after `delay_s`, like a model API that takes that long."""

    def __init__(self, model: str, delay_s: float) -> None:
        self.model = model
        self.delay_s = delay_s

    def complete(self, *, system: str, messages: list[dict], tools: list[dict]) -> Any:
        from orchbench.models.base import ModelResponse

        time.sleep(self.delay_s)
        return ModelResponse(content=[{"type": "text", "text": "done"}], usage=Usage(input=1000, output=50),
                             stop_reason="end_turn", latency_s=self.delay_s, model=self.model)


class DelayFactory:
    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s

    def __call__(self, cfg: Any, role: str) -> DelayModel:
        return DelayModel(cfg.model, self.delay_s)


def make_experiment(root: Path, trials: int, workers: int) -> Path:
    repo = root / "repo"
    repo.mkdir(exist_ok=True)
    (repo / "hello.py").write_text("print('hello')\n")
    (root / "bench-task.toml").write_text(
        'name = "bench-task"\nprompt = "Reply done."\n[source]\npath = "repo"\n'
        '[[judge.commands]]\nname = "check"\nrun = ["python", "-c", "raise SystemExit(0)"]\n'
    )
    per_cell = trials // 2
    exp = root / f"bench-{workers}.toml"
    exp.write_text(
        f'name = "bench-{workers}w"\narms = ["A", "D"]\ntasks = ["bench-task.toml"]\n'
        f"target_successes = {per_cell}\nmax_attempts = {per_cell}\nworkers = {workers}\n"
    )
    return exp


def _tree(root_pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _mem_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in kB; PSS shares pages between forked workers fairly, RSS counts them once per process."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def run_one(exp: Path, db: Path, delay: float) -> dict[str, float]:
    code = (f"import sys; sys.path.insert(0, {str(HERE.parent)!r}); import bench_batch as b; "
            f"b.drive({str(exp)!r}, {str(db)!r}, {delay})")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=exp.parent)
    peak_rss = peak_pss = 0
    peak_procs = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_rss, peak_pss, peak_procs
        while not stop.is_set():
            pids = _tree(proc.pid)
            mem = [_mem_kb(p) for p in pids]
            peak_rss = max(peak_rss, sum(m[0] for m in mem))
            peak_pss = max(peak_pss, sum(m[1] for m in mem))
            peak_procs = max(peak_procs, len(pids))
            time.sleep(0.1)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    rc = proc.wait()
    wall = time.perf_counter() - t0
    stop.set()
    th.join()
    if rc != 0:
        raise SystemExit(f"batch run failed (exit {rc})")
    from orchbench.store import Store

    with Store(db, readonly=True) as s:
        trials = s.trials()
    ok = sum(t.status == "success" for t in trials)
    return {"wall_s": wall, "trials": len(trials), "successes": ok, "peak_rss_mb": peak_rss / 1024,
            "peak_pss_mb": peak_pss / 1024, "peak_procs": peak_procs}


def drive(exp: str, db: str, delay: float) -> None:
    """The batch process itself (run in a subprocess so its memory is measured alone)."""
    from orchbench.runner.batch import run_batch
    from orchbench.runner.experiment import load_experiment

    run_batch(load_experiment(exp), db, model_factory=DelayFactory(delay))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--delay", type=float, default=15.0, help="seconds each model call takes")
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--out", type=Path, default=HERE.parent / "results" / "bench_batch.md")
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        root = Path(tmp)
        # Warm the task's caches (base copy, judge venv) so neither run pays for them.
        warm = make_experiment(root, 2, 2)
        run_one(warm, root / "warm.db", 0.0)
        res = {}
        for workers in (1, 8):
            exp = make_experiment(root, args.trials, workers)
            res[workers] = run_one(exp, root / f"w{workers}.db", args.delay)
            print(f"{workers} worker(s): {res[workers]}", flush=True)
    one, eight = res[1], res[8]
    speedup = one["wall_s"] / eight["wall_s"]
    ideal = args.trials * args.delay
    lines = [
        "# bench_batch: 8 workers vs 1 worker",
        "",
        (f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"),
        (f"- workload: {args.trials} trials (arms A and D x one tiny local task, target = cap = "
        f"{args.trials // 2} per cell), each a full `run_trial` (workspace, bubblewrap-sandboxed judge, "
        f"SQLite store) with a scripted model answering once after {args.delay:g} s"),
        f"- baseline: the same trials with 1 worker, in the same run (sequential model time alone: {ideal:g} s)",
        (f"- machine load (1-min load average) at start / end: {load_before:.1f} / {os.getloadavg()[0]:.1f} "
        "(other processes share the cores: a busy machine lowers the ratio)"),
        "",
        "| workers | wall s | trials | successes | peak RSS MB (sum) | peak PSS MB (sum) | processes |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for w, r in res.items():
        lines.append(f"| {w} | {r['wall_s']:.1f} | {r['trials']:.0f} | {r['successes']:.0f} | "
                     f"{r['peak_rss_mb']:.0f} | {r['peak_pss_mb']:.0f} | {r['peak_procs']:.0f} |")
    lines += [
        "",
        f"**speed-up 8 vs 1 workers: {speedup:.2f}x** (target >= 6x: {'met' if speedup >= 6 else 'NOT met'})",
        "",
        (f"**peak memory of the batch process tree with 8 workers: {eight['peak_rss_mb']:.0f} MB RSS summed over "
        f"processes ({eight['peak_pss_mb']:.0f} MB PSS)** (target < 2048 MB: "
        f"{'met' if eight['peak_rss_mb'] < 2048 else 'NOT met'}). RSS counts pages shared between forked "
        "workers once per process, so it over-states; PSS splits them fairly."),
        "",
        "Reproduce: `python benchmarks/bench_batch.py` (options `--delay`, `--trials`).",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
