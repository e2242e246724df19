"""The `judge` command on the agent's PATH, run inside the agent's sandbox.

It judges the workspace with the snapshot the bash tool wrote (task, venv, set-up manifest,
fingerprints, original Python files) and prints the verdict. It only informs the agent: it runs with
the agent's own permissions (workspace writable, everything else read-only), so it cannot write the
runner's verdict cache, and the final verdict is computed again by the runner from outside.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from orchbench.judge.local import read_snapshot
from orchbench.judge.run import run_judge, verdict_json
from orchbench.records import Verdict

_FAILED_OUTPUT_CHARS = 2000


def render(v: Verdict) -> str:
    lines = [("[cached] " if v.cached else "") + v.summary]
    lines += [f"  - {r}" for r in v.failure_reasons]
    for c in v.commands:
        if c.required and c.exit_code != 0:
            lines += [f"--- {c.name} (exit {c.exit_code}), end of output:", c.output_tail[-_FAILED_OUTPUT_CHARS:]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="judge", description="Run the task's judge on this workspace.")
    ap.add_argument("--context", required=True, type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true", help="print the verdict as JSON")
    ap.add_argument("--no-cache", action="store_true", help="ignore cached verdicts")
    args = ap.parse_args(argv)
    from orchbench.tasks.spec import Task

    ws = read_snapshot(args.context, Task)
    verdict = run_judge(ws, cache=not args.no_cache)
    print(verdict_json(verdict) if args.json else render(verdict))
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    sys.exit(main())
