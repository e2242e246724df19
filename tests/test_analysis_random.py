"""Data sets the code has never seen: random paper-format files with odd names, ties, failures,
blocked trials and infra errors, checked against plain-Python recomputation from the raw lines."""

from __future__ import annotations

import json
import math
import random
import statistics
from itertools import combinations, product
from pathlib import Path

import pytest

from orchbench.analysis import analyze
from orchbench.analysis.paperscan import read_paper_columns
from orchbench.paperformat import read_paper_files

ARMS = ["zeta solo", "Ärm-β", "orch+exec", "0-local"]
TASKS = ["repo/task one", "fix#2", "Ω"]


def make_dataset(seed: int, out: Path) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    price_levels = [0.1, 0.2, 0.2, 0.3, 0.5, 0.8]  # few distinct values: plenty of ties
    for arm in rng.sample(ARMS, k=rng.randint(2, 4)):
        for task in rng.sample(TASKS, k=rng.randint(1, 3)):
            for k in range(rng.randint(1, 6)):
                kind = rng.choices(["success", "failure", "blocked", "infra"], [6, 2, 1, 1])[0]
                models = ["big"] if rng.random() < 0.5 else ["big", "small"]
                usage = {m: {"input_tokens": rng.randint(0, 50), "output_tokens": rng.randint(0, 50),
                             "cache_creation_input_tokens": rng.randint(0, 50),
                             "cache_read_input_tokens": rng.choice([0, 100, 100, 250, 900])} for m in models}
                costs = {m: rng.choice(price_levels) for m in models}
                row = {"arm": arm, "task": task, "trial": k, "success": kind == "success",
                       "blocked": kind == "blocked", "wall_sec": float(rng.choice([10, 20, 20, 35.5, 60])),
                       "iterations": 0 if kind == "infra" else rng.randint(1, 40), "usage_by_role": usage,
                       "cost_usd_by_role": costs, "total_cost_usd": round(sum(costs.values()), 6),
                       "verify_final": {}, "error": "boom" if kind == "infra" else None}
                if kind == "infra":
                    row.update(usage_by_role={}, cost_usd_by_role={}, total_cost_usd=0.0)
                rows.append(row)
    rng.shuffle(rows)
    half = len(rows) // 2
    (out / "one.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:half]))
    (out / "two.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[half:]))
    return rows


def exact_p(x: list[float], y: list[float]) -> float:
    def u_of(a, b):
        return sum(1.0 if p > q else 0.5 if p == q else 0.0 for p, q in product(a, b))

    pooled, u0 = x + y, u_of(x, y)
    us = []
    for idx in combinations(range(len(pooled)), len(x)):
        us.append(u_of([pooled[i] for i in idx], [pooled[i] for i in range(len(pooled)) if i not in idx]))
    lo = sum(u <= u0 + 1e-9 for u in us) / len(us)
    hi = sum(u >= u0 - 1e-9 for u in us) / len(us)
    return min(1.0, 2 * min(lo, hi))


@pytest.mark.parametrize("seed", range(6))
def test_random_dataset_against_plain_python(tmp_path, seed):
    rows = make_dataset(seed, tmp_path)
    a = analyze(read_paper_columns([tmp_path]))
    cells = {}
    for r in rows:
        cells.setdefault((r["arm"], r["task"]), []).append(r)
    assert {(c.arm, c.task) for c in a.cells} == set(cells)
    assert [(c.arm, c.task) for c in a.cells] == sorted(cells)
    ok_costs = {}
    for (arm, task), rs in cells.items():
        c = a.cell(arm, task)
        ok = [r for r in rs if r["success"]]
        counted = [r for r in rs if r["iterations"] > 0 or r["success"]]
        assert (c.n_success, c.n_total, c.n_infra_error) == (len(ok), len(counted), len(rs) - len(counted))
        assert c.n_blocked == sum(r["blocked"] and not r["success"] and r["iterations"] > 0 for r in rs)
        ok_costs[(arm, task)] = [r["total_cost_usd"] for r in ok]
        if not ok:
            assert c.cost_median is None and c.expected_cost is None and c.pareto_dominated is None
            continue
        rate = len(ok) / len(counted)
        assert c.success_rate == pytest.approx(rate)
        assert c.cost_median == pytest.approx(statistics.median(r["total_cost_usd"] for r in ok))
        assert c.wall_median == pytest.approx(statistics.median(r["wall_sec"] for r in ok))
        assert c.iterations_median == pytest.approx(statistics.median(r["iterations"] for r in ok))
        assert c.expected_cost == pytest.approx(c.cost_median / rate)
        first = [next(iter(r["usage_by_role"].values())) for r in ok]
        assert c.orchestrator_tokens_median == pytest.approx(
            statistics.median(u["input_tokens"] + u["cache_read_input_tokens"] for u in first))
        lo, hi = c.cost_ci95
        assert min(ok_costs[(arm, task)]) <= lo <= c.cost_median <= hi <= max(ok_costs[(arm, task)])
        # Pareto, by brute force over the other arms' medians on this task
        rivals = [d for d in a.cells if d.task == task and d.arm != arm and d.cost_median is not None]
        dom = sorted(d.arm for d in rivals if d.cost_median <= c.cost_median and d.wall_median <= c.wall_median
                     and (d.cost_median < c.cost_median or d.wall_median < c.wall_median))
        assert c.dominated_by == dom and c.pareto_dominated == bool(dom)
    for p in a.pairwise:
        assert p.a < p.b
        x, y = ok_costs[(p.a, p.task)], ok_costs[(p.b, p.task)]
        if not x or not y:
            assert p.u is None and p.p_exact is None
            continue
        u = sum(1.0 if s > t else 0.5 if s == t else 0.0 for s, t in product(x, y))
        assert p.u == u
        assert p.p_exact == pytest.approx(exact_p(x, y))
        n1, n2 = len(x), len(y)
        z = (u - n1 * n2 / 2) / math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
        assert p.p_normal_approx == pytest.approx(math.erfc(abs(z) / math.sqrt(2)))
        gt = sum(s > t for s, t in product(x, y))
        lt = sum(s < t for s, t in product(x, y))
        assert p.cliffs_delta == pytest.approx((gt - lt) / (n1 * n2))
    n_pairs = sum(math.comb(len({arm for arm, t in cells if t == task}), 2) for task in {t for _, t in cells})
    assert len(a.pairwise) == n_pairs


@pytest.mark.parametrize("seed", range(3))
def test_records_and_columns_give_the_same_analysis(tmp_path, seed):
    make_dataset(100 + seed, tmp_path)
    from_columns = analyze(read_paper_columns([tmp_path])).to_dict()
    from_records = analyze(read_paper_files([tmp_path])).to_dict()
    assert from_columns == from_records
