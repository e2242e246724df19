"""Predicted cost per task against the executor's hand-back cap, one line per arm (closed-form model).

Solo arms hand nothing back: flat lines. An orchestrated arm's line falls as the cap cuts its
hand-backs and is flat above the hand-back size it was fitted with (a cap above it changes nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from orchbench.simulate.fit import BreakEven, FittedCell

FIGURE_NAME = "simulate-handback-cap"


def handback_figure(cells: list[FittedCell], breakevens: Sequence[BreakEven] = (), *,
                    max_cap: float | None = None, rate_card: str = "") -> Figure:
    tasks = sorted({c.task for c in cells})
    arms = sorted({c.arm for c in cells})
    colors = {a: plt.get_cmap("tab10")(i % 10) for i, a in enumerate(arms)}
    top = max_cap or max([2 * c.handback_tokens for c in cells] + [1000.0])
    caps = np.linspace(0, top, 81)
    fig, axes = plt.subplots(1, max(len(tasks), 1), figsize=(4.2 * max(len(tasks), 1), 3.8), dpi=100,
                             squeeze=False)
    be = {(b.arm, b.task): b for b in breakevens}
    for ax, task in zip(axes[0], tasks):
        for c in (c for c in cells if c.task == task):
            y = [c.cost(cap=float(k)) for k in caps]
            ax.plot(caps, y, color=colors[c.arm], label=c.arm, linewidth=1.8)
            if c.handback_tokens and c.loop.delegations:
                ax.scatter([c.handback_tokens], [c.cost()], color=colors[c.arm], zorder=3, s=25)
            b = be.get((c.arm, task))
            if b is not None and b.breakeven_tokens is not None and b.breakeven_tokens <= top:
                ax.axvline(b.breakeven_tokens, color=colors[c.arm], linestyle=":", linewidth=1)
        ax.set_title(f"{task}")
        ax.set_xlabel("hand-back cap, tokens per delegation")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"predicted cost per task, $ {f'({rate_card})' if rate_card else ''}".strip())
    axes[0][-1].legend(fontsize="small", title="arm")
    fig.suptitle("Predicted cost vs executor hand-back cap (dot: as recorded; dotted: break-even vs solo)",
                 fontsize="medium")
    fig.tight_layout()
    return fig


def write_handback_plot(cells: list[FittedCell], breakevens: list[BreakEven], out_dir: str | Path, *,
                        rate_card: str = "") -> list[Path]:
    """Writes `simulate-handback-cap.png` and `.svg` into out_dir; returns their paths."""
    from orchbench.analysis.plots import save_figures

    out = Path(out_dir)
    fig = handback_figure(cells, breakevens, rate_card=rate_card)
    try:
        save_figures({FIGURE_NAME: fig}, out)
    finally:
        plt.close(fig)
    return [out / f"{FIGURE_NAME}.png", out / f"{FIGURE_NAME}.svg"]
