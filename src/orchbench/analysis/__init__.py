"""Statistics, tables, plots and the report over trial records.

`analyze(trials)` is the entry point a notebook calls; the CLI (`orchbench analyze / report /
reproduce`) is a shell over it.
"""

from __future__ import annotations

from orchbench.analysis.summary import Analysis, Pair, analyze

__all__ = ["Analysis", "Pair", "analyze"]
