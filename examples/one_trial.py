"""Run one trial of the oracle arm (it replays the task's reference solution: no model, no API key)
on a tiny task, store it, and print what the judge decided and what each call cost.

    python examples/one_trial.py [STORE]      # default: a fresh store in a temporary directory
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from orchbench import Store, load_arm, load_task, run_trial

TASK = Path(__file__).parent / "tinytask" / "tiny.toml"


def main(db: Path) -> None:
    task = load_task(TASK)
    with Store(db) as store:
        trial = run_trial(task, load_arm("oracle"), store=store)
        print(f"{trial.id}: {trial.status} after {trial.iterations} turns, judge: {trial.verdict_summary}")
        for call in store.calls(trial.id):
            print(f"  {call.role} turn {call.turn}: {', '.join(call.tool_names)}  ${call.cost_usd:.4f}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp) / "orchbench.db")
