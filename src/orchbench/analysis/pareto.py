"""Which arms are Pareto-dominated on (cost_median, wall_median) within a task (lower is better)."""

from __future__ import annotations

from collections.abc import Sequence


def dominated(points: dict[str, tuple[float, float]]) -> dict[str, list[str]]:
    """arm -> the arms that dominate it (no worse on both axes, better on at least one)."""
    out: dict[str, list[str]] = {}
    for a, (ca, wa) in points.items():
        out[a] = sorted(
            b for b, (cb, wb) in points.items()
            if b != a and cb <= ca and wb <= wa and (cb < ca or wb < wa)
        )
    return out


def mark_dominated(cells: Sequence) -> None:
    """Sets `pareto_dominated` / `dominated_by` on cells; cells with no success stay None."""
    by_task: dict[str, dict[str, tuple[float, float]]] = {}
    for c in cells:
        if c.cost_median is not None and c.wall_median is not None:
            by_task.setdefault(c.task, {})[c.arm] = (c.cost_median, c.wall_median)
    verdicts = {task: dominated(points) for task, points in by_task.items()}
    for c in cells:
        by = verdicts.get(c.task, {}).get(c.arm)
        if by is not None:
            c.dominated_by = by
            c.pareto_dominated = bool(by)


def frontier(cells: Sequence, task: str) -> list[str]:
    """Arms on the Pareto front of `task`, sorted."""
    return sorted(c.arm for c in cells if c.task == task and c.pareto_dominated is False)
