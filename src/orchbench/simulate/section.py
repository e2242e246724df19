"""The simulator's part of the HTML report: break-even hand-back sizes, with their assumptions next
to the numbers, and the plot of predicted cost against the hand-back cap."""

from __future__ import annotations

from html import escape

from orchbench.analysis.report import Section
from orchbench.simulate.plot import FIGURE_NAME, handback_figure
from orchbench.simulate.run import Simulation


def _num(v: float | None, fmt: str) -> str:
    if v is None:
        return "none"
    return "any" if v == float("inf") else format(v, fmt)


def report_section(sim: Simulation) -> Section:
    rows = "".join(
        f"<tr><td class=l>{escape(b.arm)}</td><td class=l>{escape(b.task)}</td><td class=l>{escape(b.baseline)}</td>"
        f"<td>{b.baseline_cost:.2f}</td><td>{b.cost:.2f}</td><td>{b.cost_empty_handbacks:.2f}</td>"
        f"<td>{b.handback_tokens:,.0f}</td><td>{_num(b.breakeven_tokens, ',.0f')}</td>"
        f"<td class=l>{escape(b.verdict)}</td></tr>"
        for b in sim.breakeven
    )
    head = ("<tr><th class=l>arm</th><th class=l>task</th><th class=l>vs solo</th><th>solo $</th><th>arm $</th>"
            "<th>arm $, empty hand-backs</th><th>hand-back as recorded (tokens)</th>"
            "<th>break-even hand-back (tokens)</th><th class=l>in words</th></tr>")
    assumptions = "".join(f"<li>{escape(a)}</li>" for a in sim.assumptions)
    html = (f"<h2>Simulator: how small must the executor's hand-back be?</h2>"
            f"<p class=note>Closed-form loop model fitted to these trials, priced with {escape(sim.rate_card)}. "
            f"Break-even: the largest hand-back per delegation at which the orchestrated arm costs no more "
            f"than the solo arm (model-predicted costs, so they differ a little from the recorded medians).</p>"
            f"<table>{head}{rows}</table><p class=note>Assumptions:</p><ul class=note>{assumptions}</ul>")
    fig = handback_figure(sim.cells, sim.breakeven, rate_card=sim.rate_card)
    return Section(html=html, figures={FIGURE_NAME: fig})
