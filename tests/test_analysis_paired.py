"""Paired statistics across tasks, checked against plain-Python recomputation on random data."""

from __future__ import annotations

import itertools
import json
import math
import random
import statistics
from pathlib import Path

import numpy as np
import pytest

from orchbench.analysis import analyze
from orchbench.analysis.across import across_tasks
from orchbench.analysis.mixed import mixed_summary
from orchbench.analysis.paired import paired_comparisons, resample_indices
from orchbench.analysis.paperscan import read_paper_columns


def write_rows(out: Path, seed: int, n_tasks: int, ratio: float = 1.0, trials: int = 3) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for t in range(n_tasks):
        level = math.exp(rng.gauss(0, 1.0))
        for arm, mult in (("A", ratio), ("B", 1.0), ("C", 1.3)):
            for k in range(rng.randint(1, trials + 2)):
                ok = rng.random() < 0.85
                cost = round(level * mult * math.exp(rng.gauss(0, 0.3)), 4)
                rows.append({"arm": arm, "task": f"task-{t:02d}", "trial": k, "success": ok, "blocked": False,
                             "wall_sec": 10.0, "iterations": 3, "usage_by_role": {}, "cost_usd_by_role": {},
                             "total_cost_usd": cost, "verify_final": {}, "error": None})
    (out / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def plain_signed_rank_p(d: list[float]) -> tuple[float, float]:
    """W+ and the exact two-sided p by enumerating every sign pattern (no ties, no zeros)."""
    order = sorted(range(len(d)), key=lambda i: abs(d[i]))
    rank = {i: r + 1 for r, i in enumerate(order)}
    w_plus = sum(rank[i] for i in range(len(d)) if d[i] > 0)
    total = len(d) * (len(d) + 1) / 2
    dist = [sum(r for r, s in zip(range(1, len(d) + 1), signs) if s) for signs in
            itertools.product([0, 1], repeat=len(d))]
    lo = sum(w <= w_plus for w in dist) / len(dist)
    hi = sum(w >= w_plus for w in dist) / len(dist)
    return min(w_plus, total - w_plus), min(1.0, 2 * min(lo, hi))


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_paired_matches_plain_recomputation(tmp_path: Path, seed: int) -> None:
    rows = write_rows(tmp_path, seed, n_tasks=random.Random(seed).randint(5, 12), ratio=0.8)
    comps = paired_comparisons(read_paper_columns([tmp_path]), resamples=2000, seed=seed)
    med: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        if r["success"]:
            med.setdefault((r["arm"], r["task"]), []).append(r["total_cost_usd"])
    medians = {k: statistics.median(v) for k, v in med.items()}
    for c in comps:
        tasks = sorted(t for (arm, t) in medians if arm == c.a and (c.b, t) in medians)
        assert c.tasks == tasks
        d = [math.log(medians[(c.a, t)]) - math.log(medians[(c.b, t)]) for t in tasks]
        assert c.ratio == pytest.approx(math.exp(sum(d) / len(d)))
        assert c.a_cheaper_tasks == sum(x < 0 for x in d)
        stat, p = plain_signed_rank_p(d)
        assert c.p_method == "exact"
        assert c.wilcoxon_stat == pytest.approx(stat)
        assert c.p == pytest.approx(p)
        idx = resample_indices(len(d), 2000, seed)
        means = sorted(sum(d[i] for i in row) / len(d) for row in idx)
        lo, hi = np.quantile(means, [0.025, 0.975])
        assert c.ratio_ci95 == pytest.approx([math.exp(lo), math.exp(hi)])


def test_a_real_difference_is_found_and_no_difference_is_not(tmp_path: Path) -> None:
    write_rows(tmp_path, 7, n_tasks=30, ratio=0.5)
    comps = {(c.a, c.b): c for c in paired_comparisons(read_paper_columns([tmp_path]), resamples=2000)}
    ab = comps[("A", "B")]
    assert ab.decided and ab.ratio_ci95 is not None and ab.ratio_ci95[1] < 1 and ab.p is not None and ab.p < 0.001
    assert ab.ratio == pytest.approx(0.5, rel=0.2)


def test_mixed_effects_recover_the_cost_ratio(tmp_path: Path) -> None:
    write_rows(tmp_path, 11, n_tasks=25, ratio=0.5)
    m = mixed_summary(read_paper_columns([tmp_path]))
    assert m.cost is not None and m.cost.reference == "A"
    eff = {e.arm: e for e in m.cost.effects}
    assert eff["B"].estimate == pytest.approx(2.0, rel=0.15)  # B / A
    assert eff["C"].estimate == pytest.approx(2.6, rel=0.15)
    assert m.cost.task_sd == pytest.approx(1.0, rel=0.4)
    assert m.cost.residual_sd == pytest.approx(0.3, rel=0.25)
    assert m.success is not None and m.success.note.startswith("") and len(m.success.effects) == 2


def test_analyze_prints_paired_mixed_and_heatmap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.helpers import run_cli

    write_rows(tmp_path, 5, n_tasks=8, ratio=0.7)
    heat = tmp_path / "heat.png"
    code, out, _ = run_cli(["analyze", "--results", str(tmp_path / "rows.jsonl"), "--heatmap", str(heat)], capsys)
    assert code == 0
    assert "Paired by task" in out and "Mixed effects" in out and str(heat) in out.replace("\n", "")
    assert heat.read_bytes()[:4] == b"\x89PNG"


def test_one_task_has_nothing_to_pair(tmp_path: Path) -> None:
    write_rows(tmp_path, 5, n_tasks=1)
    assert across_tasks(analyze(read_paper_columns([tmp_path]), resamples=100)) is None
