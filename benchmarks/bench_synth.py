"""`tasks synth` on real PyPI packages, from a cold cache: 30 sound tasks per package in < 30 min?

For each package, in a fresh ORCHBENCH_CACHE (so venvs, the base, its judge, the coverage map and
every screening and proof are made in the run): synthesise 30 tasks (26 bug-fix, 4 repair), again into
a second directory from the warm cache (byte-identical?), then `tasks check --refresh` on the suite.
Baseline, same run: the base judge's own time. Screening a mutant runs only its covering tests, so its
median time is compared with the whole judge it would otherwise take.

    python benchmarks/bench_synth.py [typer attrs dateutil ...] [--out benchmarks/results/bench_synth.md]
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
COMMON = ["-n", "30", "--repair", "4", "--errors", "3", "--seed", "1"]
HYPOTHESIS = ["--judge-env", "PYTEST_ADDOPTS=--hypothesis-seed=0",
              "--judge-env", "HYPOTHESIS_STORAGE_DIRECTORY=/tmp/hypothesis"]
# Why each judge is what it is: docs/tasks.md, "When the base is red".
PACKAGES: dict[str, list[str]] = {
    "typer": ["typer==0.26.8", "--like", "typer-T1"],
    "attrs": ["attrs==26.1.0", "--judge", ("pytest -q -p no:cacheprovider -n 2 "
              "--deselect tests/test_converters.py::TestPipe::test_wrapped_annotation"),
              "--judge-env", "PYTHONPATH=src", *HYPOTHESIS, "--env", "pytest", "--env", "pytest-xdist[psutil]",
              "--env", "hypothesis", "--env", "pympler", "--env", "cloudpickle", "--env", "attrs==26.1.0"],
    "dateutil": ["python-dateutil==4.0.0", "--judge", ("pytest -q -p no:cacheprovider -n 2 "
                 "--deselect 'tests/test_tz.py::test_gettz_link[tzpath-Europe/Monaco-Europe/Paris]' "
                 "--deselect tests/test_tzfile.py::test_gettz_local_abbreviation_without_time_zone_data "
                 "--deselect 'tests/test_tzpath_data.py::test_dst_matches_tzdata_zi[tzpath]'"),
                 "--judge-env", "PYTHONPATH=src", *HYPOTHESIS, "--env", "pytest", "--env", "pytest-cov",
                 "--env", "pytest-xdist[psutil]", "--env", "hypothesis", "--env", "freezegun", "--env", "attrs",
                 "--env", "tzdata"],
}


def _orchbench(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "orchbench", *args], env=env, capture_output=True, text=True,
                       check=False)
    if p.returncode != 0:
        raise SystemExit(f"orchbench {' '.join(args[:3])} failed ({p.returncode}): {(p.stdout + p.stderr)[-800:]}")
    return time.perf_counter() - t0, p.stdout + p.stderr


def _same(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    return names == sorted(p.name for p in b.iterdir()) and all(
        filecmp.cmp(a / n, b / n, shallow=False) for n in names)


def _cache_figures(cache: Path) -> dict[str, float]:
    base = json.loads(next((cache / "green").glob("*.json")).read_text())
    screens = [json.loads(p.read_text()) for p in cache.glob("synth/*/screen/*.json")]
    proofs = [json.loads(p.read_text()) for p in cache.glob("synth/*/proof/*.json")]
    return {"base_s": base["duration_s"], "screen_median_s": statistics.median(s["seconds"] for s in screens),
            "screens": len(screens), "killed": sum(s["status"] == "killed" for s in screens),
            "proof_median_s": statistics.median(p["seconds"] for p in proofs), "proofs": len(proofs)}


def bench(name: str, work: Path) -> dict[str, object]:
    cache = work / "cache"
    env = {**os.environ, "ORCHBENCH_CACHE": str(cache)}
    env.pop("ORCHBENCH_WORKSPACES", None)
    load0 = os.getloadavg()[0]
    cold, _ = _orchbench(["tasks", "synth", *PACKAGES[name], *COMMON, "--out", str(work / "one")], env)
    warm, _ = _orchbench(["tasks", "synth", *PACKAGES[name], *COMMON, "--out", str(work / "two")], env)
    check, out = _orchbench(["tasks", "check", str(work / "one"), "--refresh"], env)
    figures = _cache_figures(cache)
    return {"package": PACKAGES[name][0], "cold_s": cold, "warm_s": warm, "identical": _same(work / "one", work / "two"),
            "check_s": check, "sound": "all 30 task(s) sound" in out, "load": (load0, os.getloadavg()[0]), **figures}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("packages", nargs="*", help=f"any of {', '.join(PACKAGES)} (default: all)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "bench_synth.md")
    args = ap.parse_args()
    unknown = [p for p in args.packages if p not in PACKAGES]
    if unknown:
        ap.error(f"unknown package {unknown[0]!r}: choose from {', '.join(PACKAGES)}")
    rows = []
    for name in args.packages or list(PACKAGES):
        with tempfile.TemporaryDirectory(prefix=f"bench-synth-{name}-") as tmp:
            r = bench(name, Path(tmp))
        rows.append(r)
        print(json.dumps(r), flush=True)
    lines = [
        "# `tasks synth`: 30 sound tasks per package from a cold cache (2 cores)", "",
        "`python benchmarks/bench_synth.py` — each package in a fresh cache: synthesis (venvs, base, base judge,",
        "coverage map, screening, proofs), the same command again from the warm cache into a second directory,",
        "then `tasks check --refresh` on the suite. Baseline, same run: the base's whole judge.", "",
        ("| package | cold synthesis | < 30 min | regenerated | identical | `tasks check --refresh` | sound "
        "| base judge | screening / mutant (median) | screened / caught | proof (median) | load |"),
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['package']} | {r['cold_s'] / 60:.1f} min | {'yes' if r['cold_s'] < 1800 else '**no**'} "
            f"| {r['warm_s']:.1f} s | {'yes' if r['identical'] else '**no**'} | {r['check_s'] / 60:.1f} min "
            f"| {'all 30' if r['sound'] else '**no**'} | {r['base_s']:.0f} s "
            f"| {r['screen_median_s']:.1f} s ({r['screen_median_s'] / r['base_s']:.2f}x the judge) "
            f"| {r['screens']} / {r['killed']} | {r['proof_median_s']:.1f} s "
            f"| {r['load'][0]:.1f} → {r['load'][1]:.1f} |")
    args.out.write_text("\n".join(lines) + "\n")
    print(args.out.read_text())


if __name__ == "__main__":
    main()
