"""What a user waits for: a fresh `orchbench analyze --json` vs a fresh python that only parses the lines.

Target: the fresh `analyze` process <= 3x the fresh parse-only process, on 100,000 paper-format lines.
Both are whole processes (interpreter start-up, imports, reading the files); they run in turn,
A B A B ..., and the ratio is taken pair by pair so a machine that speeds up or slows down during
the run moves both sides alike. The median pair is quoted.

    python benchmarks/bench_analyze_cold.py [--trials 100000] [--runs 7] [--out benchmarks/results/bench_analyze_cold.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench_analyze import generate

PARSE_ONLY = "import json,sys\nfor p in sys.argv[1:]:\n    for line in open(p,'rb'): json.loads(line)"


def whole_process(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one child process from start to exit, its start-up included."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:4]} exited {proc.returncode}")
    return wall, ru.ru_utime + ru.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = [str(p) for p in generate(args.trials, Path(tmp))]
        cli = [sys.executable, "-m", "orchbench", "analyze", "--json", "--results", *paths]
        base = [sys.executable, "-c", PARSE_ONLY, *paths]
        whole_process(cli), whole_process(base)  # warm the page cache for both alike
        pairs = [(whole_process(cli), whole_process(base)) for _ in range(args.runs)]
    med = statistics.median
    lines = [
        f"trials: {args.trials:,} paper-format lines; {args.runs} pairs, run in turn; medians, wall / CPU",
        (f"fresh `orchbench analyze --json --results ...`: {med(a[0] for a, _ in pairs):.3f} s / "
         f"{med(a[1] for a, _ in pairs):.3f} s"),
        (f"fresh python that only json.loads every line:  {med(b[0] for _, b in pairs):.3f} s / "
         f"{med(b[1] for _, b in pairs):.3f} s"),
        (f"ratio (median of pairs): {med(a[0] / b[0] for a, b in pairs):.2f}x wall, "
         f"{med(a[1] / b[1] for a, b in pairs):.2f}x CPU (target <= 3x); "
         f"range {min(a[0] / b[0] for a, b in pairs):.2f}-{max(a[0] / b[0] for a, b in pairs):.2f}x wall"),
    ]
    print("\n".join(lines))
    if args.out:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            "# bench_analyze_cold: a fresh `orchbench analyze` vs a fresh parse of its input\n\n"
            "What a user waits for: both sides are whole processes (start-up, imports, reading the files),\n"
            "run in turn. scipy.stats (the exact tests of small samples) and matplotlib are imported only when needed.\n\n"
            + "".join(f"- {x}\n" for x in lines)
            + f"\nMachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"load average {load}; {when}.\n"
            "Command: `python benchmarks/bench_analyze_cold.py --out benchmarks/results/bench_analyze_cold.md`\n"
        )


if __name__ == "__main__":
    main()
