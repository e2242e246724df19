"""Rich tables (terminal) and CSV for an Analysis. Formatting only: every number comes from it."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, fields

from rich.markup import escape as e
from rich.table import Table

from orchbench.analysis.cells import Cell
from orchbench.analysis.summary import Analysis


def _f(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def cells_table(a: Analysis) -> Table:
    t = Table(title=f"Cells (success-only medians; costs: {e(a.rate_card)})", title_justify="left")
    for name, just in [("arm", "left"), ("task", "left"), ("succ", "right"), ("rate", "right"),
                       ("wall s", "right"), ("iters", "right"), ("cost $", "right"), ("95% CI $", "right"),
                       ("exp. $", "right"), ("orch tok", "right"), (e(f"x{a.baseline}"), "right"),
                       ("blocked", "right"), ("infra", "right"), ("Pareto", "left")]:
        t.add_column(name, justify=just, no_wrap=name == "95% CI $")  # type: ignore[arg-type]
    for c in a.cells:
        ci = "-" if c.cost_ci95 is None else f"{c.cost_ci95[0]:.2f}-{c.cost_ci95[1]:.2f}"
        pareto = "-" if c.pareto_dominated is None else (
            f"dom. by {e(','.join(c.dominated_by))}" if c.pareto_dominated else "front")
        t.add_row(e(c.arm), e(c.task), f"{c.n_success}/{c.n_total}", _f(c.success_rate, ".2f"),
                  _f(c.wall_median, ".0f"), _f(c.iterations_median, "g"), _f(c.cost_median, ".2f"), ci,
                  _f(c.expected_cost, ".2f"), _f(c.orchestrator_tokens_median, ",.0f"),
                  _f(c.tokens_ratio_to_baseline, ".2f"), str(c.n_blocked), str(c.n_infra_error), pareto)
    return t


def pairwise_table(a: Analysis) -> Table:
    t = Table(title="Pairwise on success-only cost (Mann-Whitney U, two-sided; Cliff's delta: a vs b)",
              title_justify="left")
    for name in ["task", "a", "b", "n", "U", "p exact", "method", "p normal approx*", "Cliff's d", "magnitude"]:
        t.add_column(name, justify="left" if name in ("task", "a", "b", "method", "magnitude") else "right")
    for p in a.pairwise:
        t.add_row(e(p.task), e(p.a), e(p.b), f"{p.n_a}v{p.n_b}", _f(p.u, "g"), _f(p.p_exact, ".3f"), p.p_method or "-",
                  _f(p.p_normal_approx, ".3f"), _f(p.cliffs_delta, "+.2f"), p.magnitude or "-")
    t.caption = "* the paper's p: normal approximation without continuity or tie correction"
    return t


def tokens_table(a: Analysis) -> Table:
    """The paper's token-volume table: orchestrator input + cache_read, median over successes."""
    t = Table(title="Orchestrator-side tokens (input + cache_read, median over successes)", title_justify="left")
    t.add_column("arm")
    for task in a.tasks:
        t.add_column(e(task), justify="right")
    for task in a.tasks:
        t.add_column(e(f"{task} cache_read x{a.baseline}"), justify="right")
    for arm in a.arms:
        cells = [a.cell(arm, task) for task in a.tasks]
        t.add_row(e(arm), *[_f(c.orchestrator_tokens_median if c else None, ",.0f") for c in cells],
                  *[_f(c.cache_read_ratio_to_baseline if c else None, ".2f") for c in cells])
    return t


CELL_COLUMNS = [f.name for f in fields(Cell)]
def cells_csv(a: Analysis) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CELL_COLUMNS, lineterminator="\n")
    w.writeheader()
    for c in a.cells:
        row = asdict(c)
        row["cost_ci95"] = "" if c.cost_ci95 is None else f"{c.cost_ci95[0]};{c.cost_ci95[1]}"
        row["dominated_by"] = ";".join(c.dominated_by)
        w.writerow({k: "" if v is None else v for k, v in row.items()})
    return buf.getvalue()
