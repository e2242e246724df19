"""Paper-format JSONL straight into `TrialColumns`, without one pydantic record per line.

The format's rules are checked once, by `orchbench.paperformat.check_line`, for this reader and
the record reader alike: the first model of usage_by_role is the orchestrator (or the solo
model), the second the executor; a line with 0 iterations and no success is an infra error; a bad
line is a UserError naming FILE:LINE and what is wrong, diagnosed by `paperformat.diagnose_line`.
Building one pydantic Trial per line costs several times the JSON parsing itself, which the
100,000-trial benchmark cannot afford; these columns are all the analysis needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from orchbench.analysis.columns import TrialColumns, build_columns, status_code
from orchbench.bulk import gc_paused
from orchbench.paperformat import parse_lines

_ZERO = (0, 0, 0, 0)


def read_paper_columns(paths: Sequence[str | Path]) -> TrialColumns:
    """Every line of the files (directories -> their *.jsonl) as columns; UserError at the first bad line."""
    code = {s: status_code(s) for s in ("success", "failure", "blocked", "infra_error")}
    rows: list[tuple[str, str, int, float, float, float]] = []
    usage: dict[str, list[int]] = {"orchestrator": [], "executor": []}
    role_cost: dict[str, list[float]] = {"orchestrator": [], "executor": []}
    models: dict[str, list[str | None]] = {"orchestrator": [], "executor": []}
    add = rows.append
    ou, eu = usage["orchestrator"].extend, usage["executor"].extend  # flat: 4 ints per trial
    oc, ec = role_cost["orchestrator"].append, role_cost["executor"].append
    om, em = models["orchestrator"].append, models["executor"].append
    with gc_paused():
        for _, _, _, p in parse_lines(paths):
            add((p.arm, p.task, code[p.status], p.wall, float(p.iterations), p.total))
            u0, u1 = p.usage
            ou(u0 or _ZERO)
            eu(u1 or _ZERO)
            c0, c1 = p.cost
            oc(c0 or 0.0)
            ec(c1 or 0.0)
            m0, m1 = p.models
            om(m0)
            em(m1)
    return build_columns(rows, usage, role_cost, models)
