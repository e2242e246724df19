"""Figures (matplotlib, Agg): Pareto per task, token breakdown per arm and role, cost by role."""

from __future__ import annotations

import io
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display, ever: reports are written on servers and in CI
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from orchbench.analysis.columns import USAGE_FIELDS, TrialColumns
from orchbench.analysis.summary import Analysis

COMPONENTS = ("cache_read", "input", "cache_write", "output")  # stacking order, biggest usually first
COMPONENT_COLORS = {"cache_read": "#9ecae1", "input": "#3182bd", "cache_write": "#fdae6b", "output": "#e6550d"}
ROLE_COLORS = {"orchestrator": "#3182bd", "executor": "#31a354"}
ROLES = ("orchestrator", "executor")


def _arm_colors(arms: list[str]) -> dict[str, tuple]:
    cmap = plt.get_cmap("tab10")
    return {arm: cmap(i % 10) for i, arm in enumerate(arms)}


def _rows(cols: TrialColumns, arm: str, task: str) -> np.ndarray:
    return np.flatnonzero((cols.arm_code == cols.arms.index(arm)) & (cols.task_code == cols.tasks.index(task)))


def pareto_figure(a: Analysis, task: str) -> Figure:
    """Cost vs wall of every counted trial: success o, failure x, cell median as a square."""
    cols = a.columns
    assert cols is not None
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=100)
    colors = _arm_colors(a.arms)
    for arm in a.arms:
        if arm not in cols.arms or task not in cols.tasks:
            continue
        rows = _rows(cols, arm, task)
        ok = rows[cols.success[rows]]
        bad = rows[cols.counted[rows] & ~cols.success[rows]]
        ax.scatter(cols.cost[ok], cols.wall[ok], marker="o", color=colors[arm], alpha=0.6, label=f"{arm}")
        ax.scatter(cols.cost[bad], cols.wall[bad], marker="x", color=colors[arm], alpha=0.8)
        c = a.cell(arm, task)
        if c is not None and c.cost_median is not None and c.wall_median is not None:
            ax.scatter([c.cost_median], [c.wall_median], marker="s", s=90, color=colors[arm],
                       edgecolor="black", linewidth=1.2, zorder=3)
            ax.annotate(arm, (c.cost_median, c.wall_median), textcoords="offset points", xytext=(7, 5))
    front = [a.cell(arm, task) for arm in a.pareto_front.get(task, [])]
    pts = sorted((c.cost_median, c.wall_median) for c in front if c is not None)
    if len(pts) > 1:
        ax.step(*zip(*pts), where="post", color="grey", linestyle="--", linewidth=1, label="Pareto front")
    ax.set_xlabel(f"cost per trial, $ ({a.rate_card})")
    ax.set_ylabel("wall time, s")
    ax.set_title(f"{task}: cost vs wall (o success, x failure, square = success median)")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def tokens_figure(a: Analysis) -> Figure:
    """Mean tokens per successful trial, per arm and role, stacked by kind; one panel per task."""
    cols = a.columns
    assert cols is not None
    fig, axes = plt.subplots(1, len(a.tasks), figsize=(4.2 * len(a.tasks), 4.4), dpi=100, squeeze=False)
    for ax, task in zip(axes[0], a.tasks):
        labels, bottoms = [], None
        stacks: dict[str, list[float]] = {k: [] for k in COMPONENTS}
        for arm in a.arms:
            for role in ROLES:
                rows = _rows(cols, arm, task) if arm in cols.arms and task in cols.tasks else np.zeros(0, int)
                ok = rows[cols.success[rows]]
                usage = cols.usage.get(role)
                if usage is None or ok.shape[0] == 0 or not usage[ok].any():
                    continue
                mean = usage[ok].mean(axis=0)
                labels.append(f"{arm}\n{role[:4]}")
                for k in COMPONENTS:
                    stacks[k].append(mean[USAGE_FIELDS.index(k)])
        x = np.arange(len(labels))
        bottoms = np.zeros(len(labels))
        for k in COMPONENTS:
            ax.bar(x, stacks[k], bottom=bottoms, color=COMPONENT_COLORS[k], label=k)
            bottoms += np.asarray(stacks[k], dtype=float)
        ax.set_xticks(x, labels, fontsize="small")
        ax.set_title(task)
        ax.margins(y=0.08)
        ax.ticklabel_format(axis="y", style="sci", scilimits=(0, 3))
    axes[0][0].set_ylabel("tokens per successful trial (mean)")
    axes[0][-1].legend(fontsize="small")
    fig.suptitle("Token breakdown per arm and role")
    fig.tight_layout()
    return fig


def cost_by_role_figure(a: Analysis) -> Figure:
    """Mean cost per successful trial, stacked by role; one panel per task."""
    cols = a.columns
    assert cols is not None
    fig, axes = plt.subplots(1, len(a.tasks), figsize=(4.2 * len(a.tasks), 4.0), dpi=100, squeeze=False)
    for ax, task in zip(axes[0], a.tasks):
        x = np.arange(len(a.arms))
        bottoms = np.zeros(len(a.arms))
        for role in ROLES:
            costs = cols.role_cost.get(role)
            vals = []
            for arm in a.arms:
                rows = _rows(cols, arm, task) if arm in cols.arms and task in cols.tasks else np.zeros(0, int)
                ok = rows[cols.success[rows]]
                vals.append(float(costs[ok].mean()) if costs is not None and ok.shape[0] else 0.0)
            ax.bar(x, vals, bottom=bottoms, color=ROLE_COLORS[role], label=role)
            bottoms += vals
        ax.set_xticks(x, a.arms)
        ax.set_title(task)
        ax.margins(y=0.08)
    axes[0][0].set_ylabel(f"$ per successful trial (mean, {a.rate_card})")
    axes[0][-1].legend(fontsize="small")
    fig.suptitle("Cost by role")
    fig.tight_layout()
    return fig


def all_figures(a: Analysis) -> dict[str, Figure]:
    """name -> figure, in report order. Figures need the analysis' columns (kept by `analyze`)."""
    if a.columns is None or not a.tasks:
        return {}
    # Arm and task names are user text: "$" must not start mathtext (which can fail to parse).
    with plt.rc_context({"text.parse_math": False}):
        figs = {f"pareto-{_slug(t)}": pareto_figure(a, t) for t in a.tasks}
        figs["tokens"] = tokens_figure(a)
        figs["cost-by-role"] = cost_by_role_figure(a)
        if len(a.tasks) > 1:
            from orchbench.analysis.heatmap import heatmap_figure

            figs["heatmap"] = heatmap_figure(a)
    return figs


def save_figures(figs: dict[str, Figure], out_dir: Path) -> dict[str, str]:
    """Writes each figure as PNG and SVG; returns name -> SVG text (rendered once, reused inline)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    svgs = {}
    for name, fig in figs.items():
        fig.savefig(out_dir / f"{name}.png", format="png", metadata=_metadata("png"))
        svgs[name] = svg_text(fig)
        (out_dir / f"{name}.svg").write_text(svgs[name], encoding="utf-8")
    return svgs


def svg_text(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata=_metadata("svg"))
    return buf.getvalue()


def inline_svg(fig: Figure | str) -> str:
    """A figure (or its SVG text) as an <svg> element for an HTML page: no prolog, doctype or links."""
    svg = fig if isinstance(fig, str) else svg_text(fig)
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    # HTML5 parses inline <svg> without namespaces; dropping them leaves no URL in the page.
    return re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg).replace("xlink:href", "href")


def close_all(figs: dict[str, Figure]) -> None:
    for fig in figs.values():
        plt.close(fig)


def _metadata(ext: str) -> dict[str, str | None]:
    # No creation dates: the same data gives byte-identical figures.
    return {"Date": None} if ext == "svg" else {"Software": None}


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s)
