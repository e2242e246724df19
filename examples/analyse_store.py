"""Import the paper's 41 trials into a store, analyse it, print each cell and the comparisons on T3.

    python examples/analyse_store.py [STORE]   # default: a fresh store in a temporary directory
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from orchbench import Store, analyze, load_trials, paper_data_dir, read_paper_files


def main(db: Path) -> None:
    with Store(db) as store:
        store.add_trials(read_paper_files([paper_data_dir()]))
    a = analyze(load_trials(db=db), rate_card="paper-2026-06")
    print(f"{a.n_trials} trials, {a.n_infra_error} infra error(s), priced with {a.rate_card}")
    for c in a.cells:
        print(f"  {c.arm} {c.task}: {c.n_success}/{c.n_total} succeeded, median ${c.cost_median or 0:.2f} per success")
    for p in a.pairwise:
        if p.task == "T3" and p.p is not None and p.cliffs_delta is not None:
            print(f"  T3 {p.a} vs {p.b}: p = {p.p:.3f} ({p.p_method}), Cliff's delta {p.cliffs_delta:+.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp) / "orchbench.db")
