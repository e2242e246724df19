"""The per-task heat map: arm x task, median cost of successes (log colour scale) and success rate."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from orchbench.analysis.summary import Analysis


def heat_values(a: Analysis) -> tuple[np.ndarray, np.ndarray]:
    """(cost, success) arrays of shape (arms, tasks); NaN where a cell has no value."""
    cost = np.full((len(a.arms), len(a.tasks)), np.nan)
    rate = np.full_like(cost, np.nan)
    for c in a.cells:
        i, j = a.arms.index(c.arm), a.tasks.index(c.task)
        if c.cost_median is not None:
            cost[i, j] = c.cost_median
        if c.success_rate is not None:
            rate[i, j] = c.success_rate
    return cost, rate


def heatmap_figure(a: Analysis) -> Figure:
    cost, rate = heat_values(a)
    width = min(max(6.0, 0.32 * len(a.tasks) + 2.5), 40.0)
    height = 1.2 + 0.45 * len(a.arms)
    fig, axes = plt.subplots(2, 1, figsize=(width, 2 * height + 0.8), dpi=100)
    positive = cost[np.isfinite(cost) & (cost > 0)]
    norm = LogNorm(vmin=positive.min(), vmax=max(positive.max(), positive.min() * 1.0001)) if positive.size else None
    panels = [
        (axes[0], np.where(cost > 0, cost, np.nan), "viridis", norm, f"median cost of successes, $ ({a.rate_card})"),
        (axes[1], rate, "RdYlGn", None, "success rate"),
    ]
    for ax, values, cmap, nrm, title in panels:
        kw = {"norm": nrm} if nrm is not None else {"vmin": 0.0, "vmax": 1.0}
        im = ax.imshow(np.ma.masked_invalid(values), aspect="auto", cmap=cmap, interpolation="nearest", **kw)
        ax.set_yticks(range(len(a.arms)), a.arms)
        ax.set_xticks(range(len(a.tasks)), a.tasks, rotation=90, fontsize="x-small")
        ax.set_title(title)
        bar = fig.colorbar(im, ax=ax, fraction=0.025, pad=0.01)
        if nrm is not None:  # plain numbers: mathtext is off for user-named axes
            bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            bar.ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    fig.suptitle("Arm x task (blank: no value; a $0 cost has no place on the log scale)")
    fig.tight_layout()
    return fig


def write_heatmap(a: Analysis, path: str) -> str:
    with plt.rc_context({"text.parse_math": False}):
        fig = heatmap_figure(a)
    fig.savefig(path, metadata={"Software": None} if path.endswith(".png") else {"Date": None})
    plt.close(fig)
    return path
