"""The figures plot the data they claim to: points per trial, medians, stacked token totals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from orchbench.analysis import analyze
from orchbench.analysis.paperscan import read_paper_columns
from orchbench.analysis.plots import close_all, cost_by_role_figure, inline_svg, pareto_figure, tokens_figure


@pytest.fixture(scope="module")
def paper(paper_dir):
    return analyze(read_paper_columns([paper_dir]))


def raw(paper_dir):
    return [json.loads(line) for f in sorted(paper_dir.glob("*.jsonl")) for line in f.read_text().splitlines()]


def test_pareto_points(paper, paper_dir):
    fig = pareto_figure(paper, "T1")
    try:
        ax = fig.axes[0]
        points = [tuple(map(tuple, c.get_offsets())) for c in ax.collections]
        plotted = sorted(p for coll in points for p in coll)
        rows = [r for r in raw(paper_dir) if r["task"] == "T1" and r["iterations"] > 0]
        medians = [(c.cost_median, c.wall_median) for c in paper.cells if c.task == "T1"]
        # every counted trial once (success o / failure x) + one median square per arm; no infra error
        expected = sorted([(r["total_cost_usd"], r["wall_sec"]) for r in rows] + medians)
        # pytest.approx refuses nested data (pytest >= 9.1): compare the points' coordinates in order
        assert [v for p in plotted for v in p] == pytest.approx([v for p in expected for v in p])
        assert len(rows) == 14  # 3 + 4 + 3 + 4 counted T1 trials
        markers = {c.get_label() for c in ax.collections}
        assert {"A", "B", "C", "D"} <= markers
    finally:
        close_all({"f": fig})


def test_token_bars_stack_to_the_mean_total(paper, paper_dir):
    fig = tokens_figure(paper)
    try:
        ax_t3 = fig.axes[2]
        heights: dict[float, float] = {}
        for patch in ax_t3.patches:
            heights[patch.get_x()] = heights.get(patch.get_x(), 0.0) + patch.get_height()
        tops = [heights[x] for x in sorted(heights)]
        ok = [r for r in raw(paper_dir) if r["task"] == "T3" and r["success"]]
        expect = []
        for arm in "ABCD":
            for pos in range(2):  # orchestrator, then executor (skipped when it used no tokens)
                totals = [sum(list(r["usage_by_role"].values())[pos].values()) for r in ok
                          if r["arm"] == arm and len(r["usage_by_role"]) > pos]
                if totals and any(totals):
                    expect.append(np.mean(totals))
        assert tops == pytest.approx(expect)
    finally:
        close_all({"f": fig})


def test_cost_by_role_stacks_to_mean_cost(paper):
    fig = cost_by_role_figure(paper)
    try:
        ax = fig.axes[0]  # T1
        heights: dict[float, float] = {}
        for patch in ax.patches:
            heights[patch.get_x()] = heights.get(patch.get_x(), 0.0) + patch.get_height()
        cols = paper.columns
        ok = cols.success & (cols.task_code == cols.tasks.index("T1"))
        expect = [cols.cost[ok & (cols.arm_code == cols.arms.index(a))].mean() for a in "ABCD"]
        assert [heights[x] for x in sorted(heights)] == pytest.approx(expect)
    finally:
        close_all({"f": fig})


def test_inline_svg_has_no_urls(paper):
    fig = pareto_figure(paper, "T3")
    try:
        svg = inline_svg(fig)
    finally:
        close_all({"f": fig})
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "http" not in svg
