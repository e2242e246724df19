"""The paper, reproduced from its own data (shipped in the package): no API key, no network.

Analyses the 40 trials with the costs the paper recorded, then again re-priced with a rate card
(by default today's public prices), and lists which of the paper's comparisons change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchbench.analysis.compare import Changes, compare
from orchbench.analysis.paperscan import read_paper_columns
from orchbench.analysis.report import write_report
from orchbench.analysis.sources import paper_data_dir
from orchbench.analysis.summary import Analysis, analyze

DEFAULT_OUT = Path("orchbench-report")
PAPER = ('"When Free Executors Cost More: The Free-Executor Paradox in Iterative LLM Code-Repair Loops", '
         "Ken Imoto, 2026, DOI 10.5281/zenodo.20978074 (data: MIT License)")


@dataclass
class Reproduction:
    paper: Analysis  # recorded costs, as published
    repriced: Analysis
    changes: Changes
    report: Path | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": PAPER,
            "paper": self.paper.to_dict(),
            "repriced": self.repriced.to_dict(),
            "changes": self.changes.to_dict(),
            "report": str(self.report) if self.report else None,
        }


def reproduce(*, out: str | Path | None = DEFAULT_OUT, rate_card: str | Path = "current") -> Reproduction:
    cols = read_paper_columns([paper_data_dir()])
    paper = analyze(cols)
    repriced = analyze(cols, rate_card=rate_card)
    changes = compare(paper, repriced)
    report = None
    if out is not None:
        # The simulator builds on the analysis, so it is imported here, where both meet.
        from orchbench.simulate.run import simulate
        from orchbench.simulate.section import report_section
        from orchbench.simulate.whatif import load_items

        sim = simulate(load_items(results=[paper_data_dir()]), source="paper", rate_card="paper-2026-06")
        report = write_report(
            paper, out, title="orchbench reproduce: the free-executor paradox", changes=changes,
            intro=f"The paper's trials, costs as recorded. Source: {PAPER}.", extra=[report_section(sim)],
        )
    return Reproduction(paper=paper, repriced=repriced, changes=changes, report=report)
