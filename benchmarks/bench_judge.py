"""Judge overhead: `run_judge` vs running the same tools directly in the same tree, and a cache hit.

    python benchmarks/bench_judge.py [--task typer-T1] [--rounds 1] [--out benchmarks/results/bench_judge.md]

Each round runs the task's judge commands directly (subprocess, cwd = workspace, the workspace's env,
no sandbox, no checks) and then `run_judge(ws, cache=True)` after emptying the verdict cache (a miss:
sandbox, rules, checks, fingerprints, tree hash and all). Both sides keep their tool caches between
rounds (direct: .mypy_cache and __pycache__ in the tree; judge: its scratch dir outside it); a
warm-up runs mypy once on each side, the only tool whose cold start differs much. Then the same
state is judged again: a cache hit. Targets: judge/direct <= 1.05, cache hit < 0.2 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from orchbench.judge.run import run_judge
from orchbench.judge.tree import tree_digests
from orchbench.tasks.spec import load_task
from orchbench.tasks.workspace import workspace


def direct(ws, only: str | None = None) -> float:  # type: ignore[no-untyped-def]
    env = {**os.environ, **ws.env()}
    t = time.perf_counter()
    for cmd in ws.task.judge.commands:
        if only is None or cmd.name == only:
            subprocess.run(cmd.run, cwd=ws.root, env=env, capture_output=True, check=False,
                           timeout=ws.task.judge.timeout_s)
    return time.perf_counter() - t


def judged(ws, cache_dir: Path) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    shutil.rmtree(cache_dir / "verdicts", ignore_errors=True)  # a miss; judge-scratch stays warm
    t = time.perf_counter()
    v = run_judge(ws, cache=True, cache_dir=cache_dir)
    return time.perf_counter() - t, v


def warm_mypy(ws, cache_dir: Path) -> None:  # type: ignore[no-untyped-def]
    direct(ws, only="mypy")
    mypy_only = ws.task.judge.model_copy(update={"commands": [c for c in ws.task.judge.commands if c.name == "mypy"]})
    task = ws.task.model_copy(update={"judge": mypy_only, "checks": []})
    run_judge(type("W", (), {**{k: getattr(ws, k) for k in ("root", "venv", "manifest", "protected")},
                             "task": task, "original": ws.original})(), cache=False, commands_only=True,
              cache_dir=cache_dir)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", default="typer-T1")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "bench_judge.md")
    args = ap.parse_args()
    task = load_task(args.task)
    rows = []
    with workspace(task) as ws, tempfile.TemporaryDirectory() as tmp:
        cache_dir = Path(tmp)
        print(f"workspace {ws.root}; warming mypy ...", flush=True)
        warm_mypy(ws, cache_dir)
        for i in range(args.rounds):
            d = direct(ws)
            j, v = judged(ws, cache_dir)
            rows.append((d, j))
            print(f"round {i}: direct {d:.2f} s, judge {j:.2f} s, ratio {j / d:.3f}; {v.summary[:160]}", flush=True)
        hits = []
        for _ in range(5):
            t = time.perf_counter()
            v = run_judge(ws, cache=True, cache_dir=cache_dir)
            hits.append(time.perf_counter() - t)
            assert v.cached
        t = time.perf_counter()
        n_files = len(tree_digests(ws.root))
        hash_s = time.perf_counter() - t
    d_med = statistics.median(r[0] for r in rows)
    j_med = statistics.median(r[1] for r in rows)
    ratio = j_med / d_med
    hit = statistics.median(hits)
    load = os.getloadavg()
    lines = [
        "# bench_judge: judge overhead and verdict cache",
        "",
        f"- task: `{args.task}` (set-up state), {n_files} files in the tree; rounds: {args.rounds} after a mypy warm-up",
        (f"- machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
         f"load average at the end {load[0]:.1f} (cores shared with other work)"),
        f"- date: {datetime.now(UTC).isoformat(timespec='seconds')}",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| direct: the same commands, subprocess in the tree (median) | {d_med:.2f} s | baseline |",
        f"| run_judge, cache miss: bubblewrap, rules, checks, fingerprints (median) | {j_med:.2f} s | |",
        f"| ratio judge / direct | {ratio:.3f} | <= 1.05 |",
        f"| verdict cache hit (median of 5) | {hit * 1000:.1f} ms | < 200 ms |",
        f"| of which one tree hash | {hash_s * 1000:.1f} ms | |",
        "",
        "Per round (direct s, judge s): " + ", ".join(f"({d:.2f}, {j:.2f})" for d, j in rows),
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    sys.exit(0)


if __name__ == "__main__":
    main()
