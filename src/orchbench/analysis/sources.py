"""Where trials come from: a results store, paper-format JSONL files, or the paper's packaged copy."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from orchbench.analysis.columns import TrialColumns, TrialItem
from orchbench.analysis.paperscan import read_paper_columns
from orchbench.errors import ConflictingSources


def paper_data_dir() -> Path:
    """The paper's 41 JSONL lines shipped inside the package (MIT, see data/NOTICE.md)."""
    return Path(str(resources.files("orchbench") / "data" / "paper"))


def load_trials(
    *, db: Path | None = None, results: Sequence[Path] = (), with_calls: bool = False
) -> TrialColumns | list[TrialItem]:
    """Columns for paper-format files; records for a store (with calls when re-pricing per call)."""
    if results and db is not None:
        raise ConflictingSources("give either a store or results files, not both")
    if results:
        return read_paper_columns(results)
    if db is None:
        raise ConflictingSources("no trials to analyse: give a store or results files")
    from orchbench.store import finished_trials

    items = finished_trials(db, calls=with_calls)  # calls in one pass, without transcripts
    rows: list[TrialItem] = list(items) if with_calls else [t for t, _ in items]
    return rows
