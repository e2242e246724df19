"""What would the paper's orchestrated arms have cost with hand-backs capped at 300 tokens, at
today's prices? Answered from the recorded trials, without running anything.

    python examples/what_if.py [RESULTS.jsonl ...]   # default: the paper's data
"""

from __future__ import annotations

import sys
from pathlib import Path

from orchbench import load_items, run_simulation


def main(results: list[Path]) -> None:
    sim = run_simulation(load_items(results=results), rate_card="current", handback_cap=300)
    for b in sim.breakeven:
        print(f"{b.arm} vs {b.baseline} on {b.task}: {b.verdict}")
    if sim.whatif is not None:
        for s in sim.whatif.scenarios:
            print(f"{s.label}: ${s.total_before:.2f} -> ${s.total_after:.2f} ({s.assumption})")
    for note in sim.notes:
        print(f"note: {note}")


if __name__ == "__main__":
    main([Path(p) for p in sys.argv[1:]])
