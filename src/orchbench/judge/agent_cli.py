"""The `judge` command on the agent's PATH, run inside the agent's sandbox.

It judges the workspace with the snapshot the bash tool wrote (task, venv, set-up manifest,
fingerprints, original Python files) and prints the verdict. It only informs the agent: it runs with
the agent's own permissions (workspace writable, everything else read-only), so it cannot write the
runner's verdict cache, and the final verdict is computed again by the runner from outside.

By default it prints one short JSON object of counts and exit codes, as the paper's harness did: the
agent re-reads every tool result on each later turn, so the tools' own output (5-6k characters on
typer) is only printed when asked for with `--details`.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from pathlib import Path

from orchbench.judge.local import read_snapshot
from orchbench.judge.run import run_judge, verdict_json
from orchbench.records import Verdict

_FAILED_OUTPUT_CHARS = 2000
COMPACT_MAX_CHARS = 500
# The counts worth a turn's tokens (of any parser's), under the name the compact line gives them.
_SHOWN = {"passed": "passed", "failed": "failed", "errors": "errors", "would_reformat": "files"}
_FLAGS = {"--details", "--json", "--no-cache", "-h", "--help"}
_COUNT = re.compile(r"-n|-?\d+|--lines=\d+")


def render(v: Verdict) -> str:
    lines = [("[cached] " if v.cached else "") + v.summary]
    lines += [f"  - {r}" for r in v.failure_reasons]
    for c in v.commands:
        if c.required and c.exit_code != 0:
            lines += [f"--- {c.name} (exit {c.exit_code}), end of output:", c.output_tail[-_FAILED_OUTPUT_CHARS:]]
    return "\n".join(lines)


def compact(v: Verdict) -> str:
    """One JSON object, under COMPACT_MAX_CHARS: each command's main counts and exit code, the first
    reason that is not a failed command (a broken rule, a failed check), and success."""
    out: dict[str, object] = {}
    for c in v.commands:
        key = c.name.replace("-", "_")
        out |= {f"{key}_{label}": c.counts[count] for count, label in _SHOWN.items() if count in c.counts}
    out["exit"] = {c.name: c.exit_code for c in v.commands}
    other = [r for r in v.failure_reasons if not r.startswith("command-failed:")]
    if other:
        out["other_failures"] = len(other)
        out["first"] = other[0][:160]
    out["success"] = v.passed
    text = json.dumps(out)
    if len(text) >= COMPACT_MAX_CHARS:  # a task with many commands: keep the decision, drop the detail
        failed = sum(1 for c in v.commands if c.required and c.exit_code != 0)
        text = json.dumps({"commands": len(v.commands), "commands_failed": failed,
                           "other_failures": len(other), "success": v.passed, "more": "judge --details"})
    return text


def is_judge_call(command: str) -> bool:
    """True for a plain `judge [flags]` command line, the only one that earns the judge's timeout:
    `judge; sleep 900` or `judge && pytest` is an ordinary command with the ordinary timeout. A
    `2>&1` and one pipe into `head` / `tail` (which end when the judge does) are allowed."""
    if any(ch in command for ch in "`$\n"):
        return False
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError:
        return False
    if not words or words[0] != "judge":
        return False
    i = 1
    while i < len(words) and words[i] in _FLAGS:
        i += 1
    if words[i:i + 3] == ["2", ">&", "1"]:
        i += 3
    if i < len(words) and words[i] == "|" and words[i + 1:i + 2] in (["head"], ["tail"]):
        i += 2
        while i < len(words) and _COUNT.fullmatch(words[i]):
            i += 1
    return i == len(words)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="judge", description="Run the task's judge on this workspace "
                                 "(prints one line of counts; --details for the tools' output).")
    ap.add_argument("--context", required=True, type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--details", action="store_true", help="print the summary, reasons and failing tools' output")
    ap.add_argument("--json", action="store_true", help="print the whole verdict as JSON")
    ap.add_argument("--no-cache", action="store_true", help="ignore cached verdicts")
    args = ap.parse_args(argv)
    from orchbench.tasks.spec import Task

    ws = read_snapshot(args.context, Task)
    verdict = run_judge(ws, cache=not args.no_cache)
    print(verdict_json(verdict) if args.json else render(verdict) if args.details else compact(verdict))
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    sys.exit(main())
