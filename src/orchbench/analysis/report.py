"""One self-contained HTML page (tables + inline SVG figures) that opens offline, plus the figure files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from matplotlib.figure import Figure

from orchbench.analysis.compare import Changes, describe
from orchbench.analysis.plots import all_figures, close_all, inline_svg, save_figures
from orchbench.analysis.summary import Analysis

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3} td.l,th.l{text-align:left}
.dom{color:#b00} .front{color:#070} .note{color:#555;font-size:13px}
figure{margin:1em 0} svg{max-width:100%;height:auto}
"""


def _f(v: float | None, fmt: str) -> str:
    return "&ndash;" if v is None else format(v, fmt)


def _table(head: list[str], rows: list[list[str]], left: int = 2) -> str:
    th = "".join(f'<th class="{"l" if i < left else ""}">{escape(h)}</th>' for i, h in enumerate(head))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{v}</td>' for i, v in enumerate(r)) + "</tr>"
        for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def cells_html(a: Analysis) -> str:
    rows = []
    for c in a.cells:
        ci = "&ndash;" if c.cost_ci95 is None else f"{c.cost_ci95[0]:.2f}&ndash;{c.cost_ci95[1]:.2f}"
        if c.pareto_dominated is None:
            pareto = "&ndash;"
        elif c.pareto_dominated:
            pareto = f'<span class="dom">dominated by {escape(", ".join(c.dominated_by))}</span>'
        else:
            pareto = '<span class="front">front</span>'
        rows.append([escape(c.arm), escape(c.task), f"{c.n_success}/{c.n_total}", _f(c.success_rate, ".2f"),
                     _f(c.wall_median, ".0f"), _f(c.iterations_median, "g"), _f(c.cost_median, ".2f"), ci,
                     _f(c.expected_cost, ".2f"), _f(c.orchestrator_tokens_median, ",.0f"),
                     _f(c.tokens_ratio_to_baseline, ".2f"), _f(c.cache_read_ratio_to_baseline, ".2f"),
                     str(c.n_infra_error), pareto])
    head = ["arm", "task", "success/total", "rate", "wall s", "iters", "cost $", "95% CI $", "expected $",
            "orch. tokens", f"tokens ×{a.baseline}", f"cache_read ×{a.baseline}", "infra errors", "Pareto"]
    return _table(head, rows)


def pairwise_html(a: Analysis) -> str:
    rows = [[escape(p.task), escape(p.a), escape(p.b), f"{p.n_a} v {p.n_b}", _f(p.u, "g"),
             _f(p.p_exact, ".3f"), escape(p.p_method or "–"), _f(p.p_normal_approx, ".3f"),
             _f(p.cliffs_delta, "+.2f"), escape(p.magnitude or "–")] for p in a.pairwise]
    head = ["task", "a", "b", "n", "U (a)", "p exact", "method", "p normal approx.", "Cliff's δ (a vs b)",
            "magnitude"]
    return _table(head, rows, left=3)


def changes_html(ch: Changes) -> str:
    lines = describe(ch)
    items = "".join(f"<li>{escape(x)}</li>" for x in lines) or "<li>No ordering, sign or front changes.</li>"
    rows = [[escape(x["arm"]), escape(x["task"]), _f(x["cost_median_before"], ".2f"),
             _f(x["cost_median_after"], ".2f"), _f(x["ratio"], ".2f")] for x in ch.cells]
    table = _table(["arm", "task", f"cost $ ({ch.before})", f"cost $ ({ch.after})", "ratio"], rows)
    return (f"<h2>Re-priced with {escape(ch.after)}: what changes</h2><ul>{items}</ul>{table}")


@dataclass
class Section:
    """A block another layer adds to the report (the simulator's break-even, say): its HTML, written
    escaped by its author, and its figures, embedded inline and saved beside the others."""

    html: str
    figures: dict[str, Figure] = field(default_factory=dict)


def render_html(a: Analysis, *, title: str = "orchbench report", changes: Changes | None = None,
                intro: str = "", svg_texts: dict[str, str] | None = None, extra: Sequence[Section] = ()) -> str:
    """The page; `svg_texts` (name -> SVG) when the figures were already rendered."""
    if svg_texts is None:
        figs = {**all_figures(a), **{n: f for sec in extra for n, f in sec.figures.items()}}
        try:
            svgs = {name: inline_svg(fig) for name, fig in figs.items()}
        finally:
            close_all(figs)
    else:
        svgs = {name: inline_svg(text) for name, text in svg_texts.items()}
    own = {n for sec in extra for n in sec.figures}

    def figure(n: str) -> str:
        return f'<figure id="{escape(n)}">{svgs[n]}</figure>'

    fig_html = "".join(figure(n) for n in svgs if n not in own)
    extra_html = "".join(sec.html + "".join(figure(n) for n in sec.figures if n in svgs) for sec in extra)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{escape(title)}</h1>
<p class="note">{escape(intro)} {a.n_trials} counted trials (infra errors left out: {a.n_infra_error});
arms {escape(", ".join(a.arms))}; tasks {escape(", ".join(a.tasks))}; costs: {escape(a.rate_card)};
generated {when}.</p>
<h2>Cells</h2>
<p class="note">Medians over successful trials only. Success rate counts success, failure and blocked
(infra errors are never the agent's failure). Expected cost = median cost / success rate (the cost of
one success when failures are retried). 95% CI: seeded percentile bootstrap of the median cost
({a.bootstrap.get("resamples")} resamples). Orchestrator tokens = median of input + cache_read.</p>
{cells_html(a)}
<h2>Pairwise comparisons of cost</h2>
<p class="note">Mann-Whitney U, two-sided. <b>p exact</b> is the exact p (scipy; with ties, an exact
permutation test enumerating every assignment; "asymptotic" when the samples are too large).
<b>p normal approx.</b> is the paper's normal approximation without continuity or tie correction; at
3 vs 3 it cannot go below 0.0495 while the exact p cannot go below 0.1. Cliff's δ &gt; 0 means a costs
more; magnitude thresholds 0.147 / 0.33 / 0.474.</p>
{pairwise_html(a)}
{changes_html(changes) if changes is not None else ""}
{extra_html}
<h2>Figures</h2>
{fig_html}
</body></html>
"""


def write_report(a: Analysis, out_dir: str | Path, *, title: str = "orchbench report",
                 changes: Changes | None = None, intro: str = "", extra: Sequence[Section] = ()) -> Path:
    """Writes index.html, analysis.json and every figure as PNG and SVG into `out_dir`."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from orchbench.errors import BadArgument

        raise BadArgument("out", f"cannot create the report directory {out} ({exc.strerror})") from None
    figs = {**all_figures(a), **{n: f for sec in extra for n, f in sec.figures.items()}}
    try:
        svg_texts = save_figures(figs, out / "figures")
        html = render_html(a, title=title, changes=changes, intro=intro, svg_texts=svg_texts, extra=extra)
    finally:
        close_all(figs)
    payload = a.to_dict()
    if changes is not None:
        payload["changes"] = changes.to_dict()
    (out / "analysis.json").write_text(json.dumps(payload, indent=2) + "\n")
    index = out / "index.html"
    index.write_text(html, encoding="utf-8")
    return index
