"""Across tasks: the paired comparisons and the mixed-effects summary of an Analysis, as data and tables."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from rich.markup import escape as e
from rich.table import Table

from orchbench.analysis.mixed import MixedFit, MixedSummary, mixed_summary
from orchbench.analysis.paired import PairedComparison, paired_comparisons
from orchbench.analysis.summary import Analysis, finite


@dataclass
class AcrossTasks:
    paired: list[PairedComparison]
    mixed: MixedSummary

    def to_dict(self) -> dict[str, Any]:
        return finite({"paired": [asdict(p) | {"decided": p.decided} for p in self.paired],
                       "mixed": asdict(self.mixed)})


def across_tasks(a: Analysis) -> AcrossTasks | None:
    """None unless the data holds several tasks (one task has nothing to pair across)."""
    if a.columns is None or len(a.tasks) < 2:
        return None
    return AcrossTasks(paired=paired_comparisons(a.columns, seed=a.bootstrap.get("seed", 20260601)),
                       mixed=mixed_summary(a.columns))


def _f(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def _p(v: float | None) -> str:
    return "-" if v is None else "<1e-16" if v < 1e-16 else format(v, ".3g")


def paired_table(x: AcrossTasks) -> Table:
    t = Table(title="Paired by task: median cost of successes, a / b (Wilcoxon signed-rank on log ratios; "
                    "bootstrap over tasks)", title_justify="left")
    for name in ["a", "b", "tasks", "ratio", "95% CI", "p", "method", "a<b", "a>b"]:
        t.add_column(name, justify="left" if name in ("a", "b", "method") else "right")
    for p in x.paired:
        ci = "-" if p.ratio_ci95 is None else f"{p.ratio_ci95[0]:.2f}-{p.ratio_ci95[1]:.2f}"
        t.add_row(e(p.a), e(p.b), str(p.n_tasks), _f(p.ratio, ".2f"), ci, _p(p.p), p.p_method or "-",
                  str(p.a_cheaper_tasks), str(p.b_cheaper_tasks))
    return t


def mixed_table(x: AcrossTasks) -> Table:
    t = Table(title="Mixed effects (arm fixed, task random intercept; statsmodels MixedLM)", title_justify="left")
    for name in ["outcome", "arm", "vs ref", "95% CI", "p", "task SD", "resid SD"]:
        t.add_column(name, justify="left" if name in ("outcome", "arm") else "right")
    fits: list[MixedFit] = [f for f in (x.mixed.cost, x.mixed.success) if f is not None]
    for f in fits:
        kind = "ratio" if f.outcome.startswith("log") else "diff"
        t.add_row(e(f.outcome), e(f.reference) + " (ref)", _f(f.intercept, ".3g"), "-", "-",
                  _f(f.task_sd, ".2f"), _f(f.residual_sd, ".2f"))
        for eff in f.effects:
            ci = "-" if eff.ci95 is None else f"{eff.ci95[0]:.2f}-{eff.ci95[1]:.2f}"
            t.add_row("", e(eff.arm), f"{kind} {eff.estimate:.2f}", ci, _p(eff.p), "", "")
    notes = [f"{f.outcome}: {f.note or 'did not converge'}" for f in fits if f.note or not f.converged]
    t.caption = "; ".join(["cost: ratio to the reference arm; success: linear probability, difference in rate",
                           *notes])
    return t
