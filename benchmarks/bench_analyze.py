"""Analysing N paper-format trials vs merely parsing their JSON lines (the baseline), same run.

Target: full analysis (read + validate + cells + bootstrap + pairwise + Pareto) <= 3x the time of
`json.loads` on every line, < 5 s for 100,000 trials, peak memory < 500 MB.

    python benchmarks/bench_analyze.py [--trials 100000] [--repeat 3] [--out benchmarks/results/bench_analyze.md]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from orchbench.analysis import analyze
from orchbench.analysis.paperscan import read_paper_columns

ARMS = {  # arm -> (orchestrator model, executor model or None, success probability, $ per 1k tokens)
    "A": ("claude-opus-4-7", None, 0.9, 0.004),
    "B": ("claude-opus-4-7", "qwen-local", 0.8, 0.004),
    "C": ("claude-opus-4-7", "claude-haiku-4-5-20251001", 0.95, 0.003),
    "D": ("claude-haiku-4-5-20251001", None, 0.75, 0.0002),
}
TASKS = ("T1", "T2", "T3")


def usage(rng: np.random.Generator, scale: float) -> dict[str, int]:
    return {
        "input_tokens": int(rng.integers(500, 5000)),
        "output_tokens": int(rng.integers(200, 6000)),
        "cache_creation_input_tokens": int(rng.integers(1000, 30000)),
        "cache_read_input_tokens": int(rng.lognormal(12, 0.8) * scale),
    }


def generate(n: int, out_dir: Path, seed: int = 7) -> list[Path]:
    """n paper-format lines, spread over one file per arm, ~1% infra errors, ~10% failures."""
    rng = np.random.default_rng(seed)
    files = {arm: (out_dir / f"{arm}.jsonl").open("w") for arm in ARMS}
    for i in range(n):
        arm = list(ARMS)[i % len(ARMS)]
        task = TASKS[(i // len(ARMS)) % len(TASKS)]
        orch, execu, p_success, per_k = ARMS[arm]
        if rng.random() < 0.01:
            row = {"arm": arm, "task": task, "trial": i, "success": False, "blocked": False, "wall_sec": 0.5,
                   "iterations": 0, "usage_by_role": {}, "cost_usd_by_role": {}, "total_cost_usd": 0.0,
                   "verify_final": {}, "error": "BadRequestError: credit balance too low"}
        else:
            u = {orch: usage(rng, 1.0)}
            if execu:
                u[execu] = usage(rng, 0.5)
            costs = {m: round(sum(v.values()) / 1000 * (per_k if m == orch else 0.0005), 6) for m, v in u.items()}
            ok = bool(rng.random() < p_success)
            row = {"arm": arm, "task": task, "trial": i, "success": ok, "blocked": False,
                   "wall_sec": round(float(rng.lognormal(5.5, 0.5)), 2), "iterations": int(rng.integers(3, 90)),
                   "usage_by_role": u, "cost_usd_by_role": costs, "total_cost_usd": round(sum(costs.values()), 6),
                   "verify_final": {"exit_code": 0 if ok else 1, "summary": "exit_code=0, mypy errors=0"},
                   "error": None}
        files[arm].write(json.dumps(row) + "\n")
    for f in files.values():
        f.close()
    return sorted(out_dir.glob("*.jsonl"))


def baseline(paths: list[Path]) -> int:
    """Merely parse every line."""
    n = 0
    for p in paths:
        with p.open("rb") as f:
            for line in f:
                json.loads(line)
                n += 1
    return n


def full(paths: list[Path]):
    return analyze(read_paper_columns(paths))


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM belongs to the current address space; ru_maxrss would also
    carry the RSS of the (large) parent this child was forked from."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_now() -> float:
    """CPU seconds of this process and its finished children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def best_of(fn, repeat: int) -> tuple[float, float]:
    """(best wall seconds, best CPU seconds). On a shared machine the CPU time is the steadier figure."""
    walls, cpus = [], []
    for _ in range(repeat):
        gc.collect()
        t, c = time.perf_counter(), cpu_now()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(cpu_now() - c)
    return min(walls), min(cpus)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--child", nargs="+", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        full(args.child)
        print(peak_rss_mb())
        return
    with tempfile.TemporaryDirectory() as tmp:
        paths = generate(args.trials, Path(tmp))
        size_mb = sum(p.stat().st_size for p in paths) / 1e6
        full(paths)  # warm imports and caches for both sides alike
        baseline(paths)
        t_base = best_of(lambda: baseline(paths), args.repeat)
        t_full = best_of(lambda: full(paths), args.repeat)
        a = full(paths)
        tracemalloc.start()
        full(paths)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        # Max RSS of a fresh process that only imports orchbench and analyses the files once.
        child = subprocess.run([sys.executable, __file__, "--child", *map(str, paths)],
                               capture_output=True, text=True, check=True)
        maxrss_mb = float(child.stdout.strip())
        # End to end, as a user runs it: a fresh `orchbench analyze --json` vs a fresh python that
        # only json.loads every line (both pay interpreter start-up; the CLI also its imports).
        base_cmd = [sys.executable, "-c", ("import json,sys\nfor p in sys.argv[1:]:\n"
                    "    for line in open(p,'rb'): json.loads(line)"), *map(str, paths)]
        cli_cmd = [sys.executable, "-m", "orchbench", "analyze", "--json", "--results", *map(str, paths)]
        t_base_e2e = best_of(lambda: subprocess.run(base_cmd, check=True), args.repeat)
        t_cli_e2e = best_of(lambda: subprocess.run(cli_cmd, check=True, stdout=subprocess.DEVNULL), args.repeat)
    lines = [
        (f"trials: {args.trials:,} paper-format lines ({size_mb:.0f} MB, {len(a.cells)} cells, "
         f"{a.n_trials:,} counted, {a.n_infra_error:,} infra errors); best of {args.repeat}, wall / CPU"),
        f"baseline json.loads of every line: {t_base[0]:.3f} s / {t_base[1]:.3f} s",
        f"full analysis from the files:      {t_full[0]:.3f} s / {t_full[1]:.3f} s",
        (f"ratio: {t_full[0] / t_base[0]:.2f}x wall, {t_full[1] / t_base[1]:.2f}x CPU (target <= 3x); "
         f"absolute: {'OK' if t_full[0] < 5 else 'OVER'} (target < 5 s)"),
        (f"end to end, fresh processes: `orchbench analyze --json --results ...` {t_cli_e2e[0]:.3f} s / "
         f"{t_cli_e2e[1]:.3f} s vs python json.loads-ing the lines {t_base_e2e[0]:.3f} s / {t_base_e2e[1]:.3f} s: "
         f"{t_cli_e2e[0] / t_base_e2e[0]:.2f}x wall, {t_cli_e2e[1] / t_base_e2e[1]:.2f}x CPU"),
        (f"peak memory of one analysis: {peak / 1e6:.0f} MB traced (tracemalloc); {maxrss_mb:.0f} MB max RSS "
         f"of a fresh process doing only the analysis, imports included (target < 500 MB)"),
    ]
    print("\n".join(lines))
    if args.out:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        machine = (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                   f"load average {load} (other work shares the cores: CPU-time ratios are the steadier figures)")
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            "# bench_analyze: analysing paper-format trials vs parsing their JSON\n\n"
            "What: `analyze(read_paper_columns(files))` — read, validate, cells (medians, seeded bootstrap CI),\n"
            "pairwise Mann-Whitney U + Cliff's delta, Pareto — on generated paper-format JSONL (seeded).\n"
            "Baseline, same run: `json.loads` of every line of the same files.\n\n"
            + "".join(f"- {x}\n" for x in lines)
            + f"\nMachine: {machine}; {when}.\n"
            "Command: `python benchmarks/bench_analyze.py --out benchmarks/results/bench_analyze.md`\n"
        )


if __name__ == "__main__":
    main()
