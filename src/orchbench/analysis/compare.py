"""Which conclusions change between two analyses of the same trials (e.g. recorded vs re-priced costs).

The conclusions a cost study draws are orderings, signs and fronts, not decimals: which arm is
cheapest per task, which of two arms costs more, which arms are Pareto-dominated. This lists each of
them before and after, and flags the ones that differ.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from orchbench.analysis.summary import Analysis


@dataclass
class Changes:
    before: str  # rate card names
    after: str
    cost_order: list[dict[str, Any]] = field(default_factory=list)  # per task: arms by cost_median
    expected_cost_order: list[dict[str, Any]] = field(default_factory=list)
    sign_flips: list[dict[str, Any]] = field(default_factory=list)  # pairs whose cost difference flips
    pareto: list[dict[str, Any]] = field(default_factory=list)  # per task: front before / after
    cells: list[dict[str, Any]] = field(default_factory=list)  # cost_median before / after per cell

    @property
    def any(self) -> bool:
        return bool(self.sign_flips) or any(
            x["changed"] for x in self.cost_order + self.expected_cost_order + self.pareto)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["any_change"] = self.any
        return d


def _order(a: Analysis, task: str, key: str) -> list[str]:
    cells = [c for c in a.cells if c.task == task and getattr(c, key) is not None]
    return [c.arm for c in sorted(cells, key=lambda c: (getattr(c, key), c.arm))]


def _sign(x: float | None) -> int | None:
    return None if x is None else (x > 0) - (x < 0)


def compare(before: Analysis, after: Analysis) -> Changes:
    ch = Changes(before=before.rate_card, after=after.rate_card)
    for task in before.tasks:
        for key, out in (("cost_median", ch.cost_order), ("expected_cost", ch.expected_cost_order)):
            b, a = _order(before, task, key), _order(after, task, key)
            out.append({"task": task, "before": b, "after": a, "changed": a != b})
        fb, fa = before.pareto_front.get(task, []), after.pareto_front.get(task, [])
        ch.pareto.append({"task": task, "before": fb, "after": fa, "changed": fb != fa})
    for p in before.pairwise:
        q = after.pair(p.task, p.a, p.b)
        if q is None:
            continue
        sb, sa = _sign(p.median_diff), _sign(q.median_diff)
        if sb is not None and sa is not None and sb != sa:
            ch.sign_flips.append({
                "task": p.task, "a": p.a, "b": p.b,
                "median_diff_before": p.median_diff, "median_diff_after": q.median_diff,
                "cliffs_delta_before": p.cliffs_delta, "cliffs_delta_after": q.cliffs_delta,
            })
    for c in before.cells:
        d = after.cell(c.arm, c.task)
        ch.cells.append({
            "arm": c.arm, "task": c.task, "cost_median_before": c.cost_median,
            "cost_median_after": d.cost_median if d else None,
            "ratio": (d.cost_median / c.cost_median) if d and d.cost_median is not None and c.cost_median else None,
        })
    return ch


def describe(ch: Changes) -> list[str]:
    """One plain sentence per changed conclusion."""
    lines: list[str] = []
    for x in ch.cost_order:
        if x["changed"]:
            lines.append(f"{x['task']}: arms by median cost {' < '.join(x['before'])} "
                         f"become {' < '.join(x['after'])}")
    for x in ch.expected_cost_order:
        if x["changed"]:
            lines.append(f"{x['task']}: arms by expected cost under retry {' < '.join(x['before'])} "
                         f"become {' < '.join(x['after'])}")
    for f in ch.sign_flips:
        more_b = f["a"] if f["median_diff_before"] > 0 else f["b"]
        more_a = f["a"] if f["median_diff_after"] > 0 else f["b"]
        lines.append(f"{f['task']}: {f['a']} vs {f['b']}: {more_b} cost more, now {more_a} does")
    for x in ch.pareto:
        if x["changed"]:
            lines.append(f"{x['task']}: Pareto front {{{', '.join(x['before'])}}} "
                         f"becomes {{{', '.join(x['after'])}}}")
    return lines
