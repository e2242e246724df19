"""Judge overhead: `run_judge` vs running the same tools directly in the same tree, and a cache hit.

    python benchmarks/bench_judge.py [--task typer-T1] [--rounds 1] [--out benchmarks/results/bench_judge.md]

Each round runs the task's judge commands directly (subprocess, cwd = workspace, our environment plus
the workspace's, bytecode caching on, no sandbox, no checks) and then `run_judge(ws, cache=True)` after emptying the verdict cache (a miss:
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


def direct(ws, only: str | None = None) -> tuple[float, dict[str, float]]:  # type: ignore[no-untyped-def]
    # This machine exports PYTHONDONTWRITEBYTECODE=1; with it typer's hundreds of test subprocesses
    # recompile everything and the baseline is ~1.7x slower. Drop it: bytecode cached, as on a dev box.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | ws.env()
    per: dict[str, float] = {}
    t = time.perf_counter()
    for cmd in ws.task.judge.commands:
        if only is None or cmd.name == only:
            t0 = time.perf_counter()
            subprocess.run(cmd.run, cwd=ws.root, env=env, capture_output=True, check=False,
                           timeout=ws.task.judge.timeout_s)
            per[cmd.name] = time.perf_counter() - t0
    return time.perf_counter() - t, per


def _with_commands(ws, commands: list) -> object:  # type: ignore[no-untyped-def,type-arg]
    """The same workspace, judged with other commands (and no checks)."""
    spec = ws.task.judge.model_copy(update={"commands": commands})
    task = ws.task.model_copy(update={"judge": spec, "checks": []})
    attrs = {k: getattr(ws, k) for k in ("root", "venv", "manifest", "protected")}
    return type("W", (), {**attrs, "task": task, "original": ws.original})()


def judged(ws, cache_dir: Path) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    shutil.rmtree(cache_dir / "verdicts", ignore_errors=True)  # a miss; judge-scratch stays warm
    t = time.perf_counter()
    v = run_judge(ws, cache=True, cache_dir=cache_dir)
    return time.perf_counter() - t, v


def warm_mypy(ws, cache_dir: Path) -> None:  # type: ignore[no-untyped-def]
    direct(ws, only="mypy")
    mypy = [c for c in ws.task.judge.commands if c.name == "mypy"]
    run_judge(_with_commands(ws, mypy), cache=False, commands_only=True, cache_dir=cache_dir)


def fixed_overhead(ws, cache_dir: Path) -> float:  # type: ignore[no-untyped-def]
    """run_judge with `true` as its only command: tree hash, rules, fingerprints, sandbox start."""
    true = ws.task.judge.commands[0].model_copy(update={"name": "true", "run": ["true"], "parser": None})
    t = time.perf_counter()
    run_judge(_with_commands(ws, [true]), cache=False, cache_dir=cache_dir)
    return time.perf_counter() - t


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
        per_cmd: dict[str, list[tuple[float, float]]] = {}
        for i in range(args.rounds):
            # Alternate the order so drifting machine load does not favour one side.
            if i % 2 == 0:
                d, dper = direct(ws)
                j, v = judged(ws, cache_dir)
            else:
                j, v = judged(ws, cache_dir)
                d, dper = direct(ws)
            rows.append((d, j))
            for c in v.commands:  # type: ignore[attr-defined]
                per_cmd.setdefault(c.name, []).append((dper[c.name], c.duration_s))
            print(f"round {i}: direct {d:.2f} s, judge {j:.2f} s, ratio {j / d:.3f}; "
                  f"{v.summary[:160]}", flush=True)  # type: ignore[attr-defined]
        overhead = statistics.median(fixed_overhead(ws, cache_dir) for _ in range(3))
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
        (f"| judge fixed overhead (`true` as the only command: hash, rules, fingerprints, sandbox) "
         f"| {overhead:.2f} s = {overhead / d_med:.4f} of direct | |"),
        "",
        "| command | direct s (per round) | judge s (per round) |",
        "|---|---|---|",
        *(f"| {name} | {', '.join(f'{a:.1f}' for a, _ in pairs)} | {', '.join(f'{b:.1f}' for _, b in pairs)} |"
          for name, pairs in per_cmd.items()),
        "",
        "Per round (direct s, judge s): " + ", ".join(f"({d:.2f}, {j:.2f})" for d, j in rows),
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    sys.exit(0)


if __name__ == "__main__":
    main()
