"""Per-trial overhead of the harness itself: everything but model calls and commands.

A trial of the oracle arm on a tiny repo (tests/fakes/tinytask) runs N editor turns through the
real run_trial: workspace set-up, the loop, the editor tool, call records priced and written to a
real SQLite store, the trial record. Time spent in model calls (scripted: near zero) and in
commands (the judge; no bash is used) is measured and subtracted. The rest is the overhead.

Baseline, same run: a bare loop doing the same model calls and editor runs on a plain copy of the
repo, with no records, store, pricing or workspace machinery. Target: overhead < 0.5 s per trial.

    python benchmarks/bench_overhead.py [--trials 5] [--turns 40]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "fakes" / "tinytask" / "tiny.toml"
OUT = ROOT / "benchmarks" / "results" / "bench_overhead.md"
TARGET_S = 0.5


class Timed:
    """Wraps a callable and sums the time spent inside it."""

    def __init__(self, fn):
        self.fn, self.total = fn, 0.0

    def __call__(self, *a, **k):
        t0 = time.perf_counter()
        try:
            return self.fn(*a, **k)
        finally:
            self.total += time.perf_counter() - t0


def reference(task, turns: int) -> list[dict]:
    """The task's reference solution, padded with views of the first file it touches to `turns`."""
    ref = [r.model_dump() for r in task.reference]
    path = next(r["input"]["path"] for r in ref if r["tool"] == "str_replace_editor")
    view = {"tool": "str_replace_editor", "input": {"command": "view", "path": path}}
    return [view] * max(0, turns - len(ref)) + ref


def harness_trial(task, arm, ref, store, card) -> dict[str, float]:
    import orchbench.judge.run as judge_run
    import orchbench.tasks.workspace as wsmod
    from orchbench.models.scripted import OracleModel
    from orchbench.runner.trial import run_trial

    model = OracleModel(ref)
    model.complete = Timed(model.complete)  # type: ignore[method-assign]
    from orchbench.agent.tools import BashTool

    real_judge, real_new, real_remove = judge_run.run_judge, wsmod.new_workspace, wsmod.remove_workspace
    judge, new_ws, rm_ws = Timed(real_judge), Timed(real_new), Timed(real_remove)
    judge_run.run_judge, wsmod.new_workspace, wsmod.remove_workspace = judge, new_ws, rm_ws
    real_bash = BashTool.run
    bash = Timed(real_bash)
    BashTool.run = lambda self, args: bash(self, args)  # type: ignore[method-assign]
    try:
        t0 = time.perf_counter()
        trial = run_trial(task, arm, store=store, rate_card=card, env={}, model_factory=lambda cfg, role: model)
        wall = time.perf_counter() - t0
    finally:
        judge_run.run_judge, wsmod.new_workspace, wsmod.remove_workspace = real_judge, real_new, real_remove
        BashTool.run = real_bash  # type: ignore[method-assign]
    assert trial.status == "success", (trial.status, trial.error, trial.failure_reason)
    commands = judge.total + bash.total
    return {"wall": wall, "model": model.complete.total, "commands": commands,
            "overhead": wall - model.complete.total - commands, "calls": trial.iterations,
            "workspace": new_ws.total + rm_ws.total, "ws_new": new_ws.total, "ws_rm": rm_ws.total}


def bare_trial(task, ref, src: Path) -> dict[str, float]:
    """The floor: a plain copy of the set-up repo, the same model answers and editor runs, nothing
    recorded."""
    from orchbench.agent.tools import EditorTool
    from orchbench.models.scripted import OracleModel
    from orchbench.tasks.workspace import workspaces_root

    tmp = Path(tempfile.mkdtemp(prefix="bench-bare-", dir=workspaces_root()))  # same filesystem
    try:
        t0 = time.perf_counter()
        shutil.copytree(src, tmp / "repo", symlinks=True)
        editor = EditorTool(tmp / "repo")
        model = OracleModel(ref)
        messages: list[dict] = [{"role": "user", "content": task.prompt}]
        tools = [editor.schema()]
        while True:
            resp = model.complete(system="", messages=messages, tools=tools)
            messages.append({"role": "assistant", "content": resp.content})
            if not resp.tool_uses:
                break
            results = [{"type": "tool_result", "tool_use_id": u["id"],
                        "content": editor.run(u["input"]).text if u["name"] == editor.name else "(command)"}
                       for u in resp.tool_uses]
            messages.append({"role": "user", "content": results})
        return {"wall": time.perf_counter() - t0}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def adapter_prep(turns: int, result_chars: int = 8000) -> tuple[float, float]:
    """A long trial's request preparation (caching policy applied to the growing history), summed
    over its turns, against the floor of serialising the same bodies (which the SDK must do anyway)."""
    import json

    from orchbench.models.anthropic_api import AnthropicModel

    m = AnthropicModel("claude-opus-4-7", api_key="x", base_url="http://127.0.0.1:9")
    tools = [{"name": f"t{i}", "description": "d" * 300, "input_schema": {"type": "object"}} for i in range(3)]
    msgs: list[dict] = [{"role": "user", "content": "task " * 200}]
    prep = dump = 0.0
    for i in range(turns):
        msgs.append({"role": "assistant", "content": [{"type": "tool_use", "id": f"t{i}", "name": "t0",
                                                       "input": {"command": "pytest -q"}}]})
        msgs.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{i}",
                                                  "content": "x" * result_chars}]})
        t0 = time.perf_counter()
        params = m.request_params(system="s" * 2000, messages=msgs, tools=tools)
        t1 = time.perf_counter()
        json.dumps(params)
        prep += t1 - t0
        dump += time.perf_counter() - t1
    return prep, dump


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--turns", type=int, default=40)
    ap.add_argument("--task", default=str(TINY), help="task name or TOML (default: the tiny repo)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()

    from orchbench.arms import load_arm
    from orchbench.pricing import load_rate_card
    from orchbench.store import Store
    from orchbench.tasks.spec import load_task

    task = load_task(args.task)
    arm = load_arm("oracle")
    card = load_rate_card("paper-2026-06")
    ref = reference(task, args.turns)
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp, Store(Path(tmp) / "b.db") as store:
        from orchbench.tasks.workspace import new_workspace, remove_workspace

        harness_trial(task, arm, ref, store, card)  # warm: base cache, venv, verdict cache, imports
        ws0 = new_workspace(task)
        try:
            bare_trial(task, ref, ws0.root)
            rows = [harness_trial(task, arm, ref, store, card) for _ in range(args.trials)]
            bare = [bare_trial(task, ref, ws0.root)["wall"] for _ in range(args.trials)]
        finally:
            remove_workspace(ws0)

    prep, dump = adapter_prep(120)
    med = {k: statistics.median(r[k] for r in rows) for k in ("wall", "model", "commands", "overhead", "workspace", "ws_new", "ws_rm")}
    base = statistics.median(bare)
    loop = statistics.median(r["overhead"] - r["workspace"] for r in rows)
    ratio = med["overhead"] / base if base > 0 else float("inf")
    per_call_ms = 1000 * loop / args.turns
    verdict = "PASS" if med["overhead"] < TARGET_S else "FAIL"
    loop_verdict = "PASS" if loop < TARGET_S else "FAIL"
    lines = [
        "# Harness overhead per trial",
        "",
        (f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()} "
        f"({os.cpu_count()} cores, Python {platform.python_version()}), `python benchmarks/bench_overhead.py "
        f"--trials {args.trials} --turns {args.turns}"
        f"{'' if task.name == 'tiny-calc' else ' --task ' + task.name}`."),
        "",
        (f"Oracle arm on task `{task.name}`, {args.turns} model turns (its reference solution padded with "
        "editor views), real workspace, tools, SQLite store, paper rate card. Model and command time "
        "(bash tool, judge) are measured and subtracted."),
        "",
        "| | median s |",
        "|---|---|",
        f"| trial wall time | {med['wall']:.3f} |",
        f"| in model calls (scripted) | {med['model']:.4f} |",
        f"| in commands (bash tool, judge) | {med['commands']:.3f} |",
        f"| **harness overhead** | **{med['overhead']:.3f}** |",
        (f"| of which workspace set-up + removal (tasks area) | {med['workspace']:.3f} "
        f"({med['ws_new']:.3f} + {med['ws_rm']:.3f}) |"),
        f"| of which loop, tools, records, store, trial | {loop:.3f} |",
        f"| baseline: plain copy of the repo + bare loop, same turns, no records | {base:.3f} |",
        "",
        (f"Harness overhead / baseline = {ratio:.1f}x; the loop part is {per_call_ms:.2f} ms per model call "
        "(tools, records priced and committed to SQLite one by one, trial bookkeeping). "
        f"Target < {TARGET_S} s per trial: whole harness **{verdict}** ({med['overhead']:.3f} s); "
        f"without the workspace copy (the agents area's part) **{loop_verdict}** ({loop:.3f} s). "
        "The workspace copy is the tasks area's (benchmarks/bench_workspace.py); compare it with the "
        "plain copy in the baseline row."),
        "",
        ("Request preparation on a long trial (120 turns, 8000-char tool results, ~1 MB of history at the "
        f"end; the `paper` caching policy applied each turn): {prep * 1000:.1f} ms in total, against "
        f"{dump * 1000:.0f} ms just to serialise the same request bodies to JSON (ratio {prep / dump:.3f})."),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        out = OUT if task.name == "tiny-calc" else OUT.with_name(f"bench_overhead_{task.name}.md")
        out.write_text(text)
    return 0 if loop_verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
