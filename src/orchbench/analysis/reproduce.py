"""The paper, reproduced from its own data (shipped in the package): no API key, no network.

Analyses the 40 trials with the costs the paper recorded, then again re-priced with a rate card
(by default today's public prices), and lists which of the paper's comparisons change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
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


@dataclass(frozen=True)
class CapNote:
    """A failed trial of the paper that stopped below its Table 2 cap: it ran under a lower one."""

    arm: str
    task: str
    iterations: int
    table_cap: int


def table2_caps() -> dict[tuple[str, str], int]:
    """(arm, task) -> the outer-turn cap of the paper's Table 2, as the built-in typer tasks carry it."""
    from orchbench.tasks.spec import load_task

    caps = {}
    for task in ("T1", "T2", "T3"):
        for arm, cap in load_task(f"typer-{task}").caps.outer_turns_by_arm.items():
            caps[(arm, task)] = cap
    return caps


def caps_notes(cols: Any) -> list[CapNote]:
    """Counted failures that ended below their Table 2 cap (0 iterations = an API failure, not counted)."""
    caps = table2_caps()
    out = set()
    for i in range(len(cols)):
        arm, task = cols.arms[cols.arm_code[i]], cols.tasks[cols.task_code[i]]
        n, cap = int(cols.iterations[i]), caps.get((arm, task))
        if cols.counted[i] and not cols.success[i] and n > 0 and cap is not None and n < cap:
            out.add(CapNote(arm, task, n, cap))
    return sorted(out, key=lambda c: (c.arm, c.task))


def caps_caveat(notes: list[CapNote]) -> str:
    if not notes:
        return ""
    each = ", ".join(f"{c.arm}-{c.task} at {c.iterations} iterations (Table 2: {c.table_cap})" for c in notes)
    return (f"Caps caveat: {len(notes)} of the paper's failures stopped below the caps of its Table 2 — {each}. "
            "The caps changed during the experiment, so those cells' success rates are not what Table 2's caps "
            "give; a reproduction under Table 2's caps (the presets use them) may succeed more often there.")


@dataclass
class Reproduction:
    paper: Analysis  # recorded costs, as published
    repriced: Analysis
    changes: Changes
    report: Path | None
    caps: list[CapNote] = field(default_factory=list)

    @property
    def caps_caveat(self) -> str:
        return caps_caveat(self.caps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": PAPER,
            "caps_caveat": {"text": self.caps_caveat, "trials": [asdict(c) for c in self.caps]},
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
    caps = caps_notes(cols)
    report = None
    if out is not None:
        # The simulator builds on the analysis, so it is imported here, where both meet.
        from orchbench.simulate.run import simulate
        from orchbench.simulate.section import report_section
        from orchbench.simulate.whatif import load_items

        sim = simulate(load_items(results=[paper_data_dir()]), source="paper", rate_card="paper-2026-06")
        report = write_report(
            paper, out, title="orchbench reproduce: the free-executor paradox", changes=changes,
            intro=f"The paper's trials, costs as recorded. Source: {PAPER}. {caps_caveat(caps)}",
            extra=[report_section(sim)],
        )
    return Reproduction(paper=paper, repriced=repriced, changes=changes, report=report, caps=caps)
