"""A batch over a whole suite: the oracle arm and two scripted arms (Opus- and Haiku-priced), killed
mid-run and resumed, then `analyze` with the paired comparison, mixed effects and heat map.

The scripted arms send the task's reference tool calls through the real loop, tools, workspace and
judge (like the oracle), but report token usage, so the rate card prices them: per-task costs differ by
the task's prompt and reference size and a seeded per-trial factor. Baseline for the timing: the same
trials' judge time as recorded (the batch's own overhead is the rest).

    python benchmarks/bench_suite_batch.py SUITE_DIR [--db /tmp/suite.db] [--kill-after 20]
        [--out benchmarks/results/bench_suite_batch.md]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


class ReferenceModel:
    """Replays the reference of whichever suite task the conversation is about, with priced usage."""

    def __init__(self, model: str, references: dict[str, list[list[dict[str, Any]]]], priced: bool) -> None:
        self.model = model
        self.references = references
        self.priced = priced  # the oracle arm: the same replay at zero tokens

    def complete(self, *, system: str, messages: list[dict], tools: list[dict]) -> Any:
        from orchbench.models.base import ModelResponse
        from orchbench.records import Usage

        first = messages[0]["content"]
        text = first if isinstance(first, str) else "".join(b.get("text", "") for b in first)
        # Tasks may share a prompt (two mutants caught by the same test): try their references in
        # turn, moving on when an edit does not apply (a tool error).
        cands = [r for p, refs in self.references.items() if p in text for r in refs]
        errors, step = 0, 0
        for m in messages[1:]:
            blocks = m["content"] if isinstance(m["content"], list) else []
            if m.get("role") == "assistant":
                step += 1
            elif any(b.get("type") == "tool_result" and b.get("is_error") for b in blocks):
                errors, step = errors + 1, 0
        steps = cands[errors] if errors < len(cands) else []
        name = str(errors)
        seen = sum(len(json.dumps(m)) for m in messages) // 4
        h = int(hashlib.sha256(f"{self.model}:{name}:{step}:{len(messages)}".encode()).hexdigest()[:8], 16)
        usage = Usage(input=seen + 500, output=60 + h % 400) if self.priced else Usage()
        if step < len(steps):
            block = {"type": "tool_use", "id": f"toolu_ref_{step:03d}", "name": steps[step]["tool"],
                     "input": steps[step]["input"]}
            return ModelResponse(content=[block], usage=usage, stop_reason="tool_use", model=self.model)
        return ModelResponse(content=[{"type": "text", "text": "Fixed."}], usage=usage, stop_reason="end_turn",
                             model=self.model)


class ReferenceFactory:
    """Picklable: worker processes rebuild the suite's references from its path."""

    def __init__(self, suite: str) -> None:
        self.suite = suite
        self._refs: dict[str, list[list[dict[str, Any]]]] | None = None

    def __call__(self, cfg: Any, role: str) -> Any:
        if self._refs is None:
            from orchbench.tasks.suite import load_suite

            # The conversation names no task; its prompt (with the failing tests) identifies it.
            self._refs = {}
            for t in load_suite(self.suite).tasks:
                self._refs.setdefault(t.prompt, []).append([r.model_dump() for r in t.reference])
        return ReferenceModel(cfg.model, self._refs, priced=cfg.provider != "scripted")


def experiment(suite: Path, root: Path) -> Path:
    path = root / "suite-batch.toml"
    path.write_text(f'name = "suite-batch"\narms = ["oracle", "A", "D"]\ntasks = ["{suite.resolve()}"]\n'
                    'target_successes = 2\nmax_attempts = 3\nworkers = 2\nrate_card = "paper-2026-06"\n')
    return path


def drive(exp: str, db: str, suite: str) -> None:
    from orchbench.runner.batch import run_batch
    from orchbench.runner.experiment import load_experiment

    report = run_batch(load_experiment(exp), db, model_factory=ReferenceFactory(suite))
    print("stopped_by", report.stopped_by, "started", report.started, flush=True)


def _finished(db: Path) -> int:
    from orchbench.store import Store

    if not db.exists():
        return 0
    with Store(db, readonly=True) as s:
        return sum(t.status in ("success", "failure", "blocked") for t in s.trials(experiment="suite-batch"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("suite", type=Path)
    ap.add_argument("--db", type=Path, default=Path("/tmp/suite-batch.db"))
    ap.add_argument("--kill-after", type=int, default=20)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "bench_suite_batch.md")
    args = ap.parse_args()
    args.db.unlink(missing_ok=True)
    exp = experiment(args.suite, args.db.parent)
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); import bench_suite_batch as b; "
            f"b.drive({str(exp)!r}, {str(args.db)!r}, {str(args.suite.resolve())!r})")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    while proc.poll() is None and _finished(args.db) < args.kill_after:
        time.sleep(1)
    killed_at = _finished(args.db)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)  # a crash, not a polite stop: the rows it left must be recovered
        proc.wait()
    t1 = time.perf_counter()
    resumed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    t2 = time.perf_counter()
    heat = args.db.with_suffix(".heatmap.png")
    shown = subprocess.run([sys.executable, "-m", "orchbench", "analyze", "--db", str(args.db), "--heatmap",
                            str(heat)], capture_output=True, text=True, check=False,
                           env={**os.environ, "COLUMNS": "150"})
    lines = [f"# Batch over a suite ({args.suite.name}): oracle + two scripted arms, killed and resumed", "",
             f"- killed (SIGKILL) after {killed_at} finished trials, {t1 - t0:.0f} s",
             f"- resumed: {resumed.stdout.strip()} in {t2 - t1:.0f} s", f"- load: {os.getloadavg()}",
             f"- trials finished: {_finished(args.db)}", "", "```",
             shown.stdout.rstrip().replace(str(heat.parent) + "/", ""), "```", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    if resumed.returncode or shown.returncode or not math.isfinite(t2):
        sys.exit(1)


if __name__ == "__main__":
    main()
