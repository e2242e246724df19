"""`analyze()`: trials in, one `Analysis` out (cells, pairwise tests, Pareto) — what a notebook calls."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from orchbench.analysis.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED
from orchbench.analysis.cells import Cell, add_ratios, compute_cells, default_baseline
from orchbench.analysis.columns import TrialColumns, TrialItem, from_trials, reprice
from orchbench.analysis.pareto import frontier, mark_dominated
from orchbench.analysis.stats import cliff_magnitude, cliffs_delta, mann_whitney
from orchbench.errors import BadArgument

if TYPE_CHECKING:
    from orchbench.pricing import RateCard


@dataclass
class Pair:
    """Arm a vs arm b (a < b in sort order) on the success-only costs of one task."""

    task: str
    a: str
    b: str
    n_a: int
    n_b: int
    u: float | None  # U of arm a
    p_exact: float | None
    p_method: str | None  # "exact" | "permutation" | "asymptotic"
    p: float | None
    p_normal_approx: float | None  # the paper's: two-sided, no continuity or tie correction
    cliffs_delta: float | None  # > 0: a costs more than b
    magnitude: str | None
    median_diff: float | None  # cost_median(a) - cost_median(b)


@dataclass
class Analysis:
    cells: list[Cell]
    pairwise: list[Pair]
    baseline: str | None
    rate_card: str  # "recorded" or the rate card's name
    arms: list[str]
    tasks: list[str]
    n_trials: int  # counted trials
    n_infra_error: int
    pareto_front: dict[str, list[str]]
    bootstrap: dict[str, Any] = field(default_factory=dict)
    columns: TrialColumns | None = field(default=None, repr=False)

    def cell(self, arm: str, task: str) -> Cell | None:
        return next((c for c in self.cells if c.arm == arm and c.task == task), None)

    def pair(self, task: str, a: str, b: str) -> Pair | None:
        a, b = sorted((a, b))
        return next((p for p in self.pairwise if (p.task, p.a, p.b) == (task, a, b)), None)

    def to_dict(self) -> dict[str, Any]:
        # asdict() would deep-copy the columns too: convert field by field instead.
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "columns"}
        d["cells"] = [asdict(c) for c in self.cells]
        d["pairwise"] = [asdict(p) for p in self.pairwise]
        return finite(d)

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)


def finite(obj: Any) -> Any:
    """NaN / inf are not JSON: they become null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [finite(v) for v in obj]
    return obj


def resolve_rate_card(rate_card: RateCard | str | Path | None) -> RateCard | None:
    """None (the recorded costs stand) or the card `rate_card` is or names."""
    if rate_card is None:
        return None
    from orchbench.pricing import as_rate_card

    return as_rate_card(rate_card)


def analyze(
    trials: TrialColumns | Iterable[TrialItem],
    *,
    baseline: str | None = None,
    rate_card: RateCard | str | Path | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Analysis:
    """Analyse trials (records, (trial, calls) pairs, or columns).

    Without `rate_card` the recorded costs stand; with one, costs are recomputed from usage (per
    call when calls exist). `baseline` is the arm token ratios are taken against (default: the
    first arm in sort order).
    """
    card = resolve_rate_card(rate_card)
    if isinstance(trials, TrialColumns):
        cols = reprice(trials, card) if card is not None else trials
    else:
        cols = from_trials(trials, rate_card=card)
    cells = compute_cells(cols, resamples=resamples, seed=seed)
    arms = sorted({c.arm for c in cells})
    tasks = sorted({c.task for c in cells})
    if baseline is not None and baseline not in arms:
        raise BadArgument("baseline", f"{baseline}: no such arm in the data (arms: {', '.join(arms) or 'none'})")
    base = baseline if baseline is not None else default_baseline(cells)
    if base is not None:
        add_ratios(cells, base)
    mark_dominated(cells)
    return Analysis(
        cells=cells,
        pairwise=_pairwise(cols, cells),
        baseline=base,
        rate_card=getattr(card, "name", "recorded") if card is not None else "recorded",
        arms=arms,
        tasks=tasks,
        n_trials=int(cols.counted.sum()),
        n_infra_error=int(sum(c.n_infra_error for c in cells)),
        pareto_front={t: frontier(cells, t) for t in tasks},
        bootstrap={"resamples": resamples, "seed": seed, "level": 0.95, "statistic": "median cost of successes"},
        columns=cols,
    )


def success_costs(cols: TrialColumns) -> dict[tuple[str, str], np.ndarray]:
    """(arm, task) -> costs of its successful trials."""
    ok = np.flatnonzero(cols.success)
    out: dict[tuple[str, str], np.ndarray] = {}
    a, t = cols.arm_code[ok], cols.task_code[ok]
    for ai in np.unique(a):
        for ti in np.unique(t[a == ai]):
            rows = ok[(a == ai) & (t == ti)]
            out[(cols.arms[ai], cols.tasks[ti])] = cols.cost[rows]
    return out


def _pairwise(cols: TrialColumns, cells: list[Cell]) -> list[Pair]:
    costs = success_costs(cols)
    empty = np.zeros(0)
    out: list[Pair] = []
    by_task: dict[str, list[Cell]] = {}
    for c in cells:
        by_task.setdefault(c.task, []).append(c)
    for task in sorted(by_task):
        task_cells = sorted(by_task[task], key=lambda c: c.arm)
        for i, ca in enumerate(task_cells):
            for cb in task_cells[i + 1:]:
                x = costs.get((ca.arm, task), empty)
                y = costs.get((cb.arm, task), empty)
                mw = mann_whitney(x, y)
                delta = cliffs_delta(x, y, u=mw.u) if mw else None
                diff = (ca.cost_median - cb.cost_median
                        if ca.cost_median is not None and cb.cost_median is not None else None)
                out.append(Pair(
                    task=task, a=ca.arm, b=cb.arm, n_a=int(x.shape[0]), n_b=int(y.shape[0]),
                    u=mw.u if mw else None, p_exact=mw.p_exact if mw else None,
                    p_method=mw.p_method if mw else None, p=mw.p if mw else None,
                    p_normal_approx=mw.p_normal_approx if mw else None,
                    cliffs_delta=delta, magnitude=cliff_magnitude(delta), median_diff=diff,
                ))
    return out
