"""Where trials come from: a results store, paper-format JSONL files, or the paper's packaged copy."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from orchbench.analysis.columns import TrialColumns, TrialItem
from orchbench.analysis.paperscan import read_paper_columns
from orchbench.errors import ConflictingSources, StoreNotFound
from orchbench.records import FINAL_STATUSES


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
    if not Path(db).is_file():
        raise StoreNotFound(db)
    from orchbench.store import Store

    with Store(db, readonly=True) as store:
        trials = [t for t in store.trials() if t.status in FINAL_STATUSES]
        if not with_calls:
            return list(trials)
        calls = store.calls_by_trial(t.id for t in trials)  # one pass, no transcripts
        return [(t, calls.get(t.id, [])) for t in trials]
