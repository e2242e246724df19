"""`analyze()` on records: other arm / task names, failures, infra errors, empty cells, re-pricing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from orchbench.analysis import analyze
from orchbench.analysis.pareto import dominated
from orchbench.records import Call, Trial, Usage


def trial(arm: str, task: str, status: str, cost: float, wall: float = 100.0, iterations: int = 10,
          orch: Usage | None = None, execu: Usage | None = None, i: list[int] = [0]) -> Trial:  # noqa: B006
    i[0] += 1
    usage = {"orchestrator": orch or Usage(input=100, cache_read=1000)}
    models = {"orchestrator": "big-model"}
    costs = {"orchestrator": cost}
    if execu is not None:
        usage["executor"] = execu
        models["executor"] = "small-model"
        costs["executor"] = 0.0
    return Trial(id=f"t{i[0]}", arm=arm, task=task, status=status, wall_s=wall, iterations=iterations,
                 models=models, usage=usage, cost=costs, total_cost=cost)


def test_other_names_failures_blocked_and_infra_errors():
    trials = [
        trial("solo-gpt", "repo/fix-1", "success", 1.0, wall=10, iterations=3),
        trial("solo-gpt", "repo/fix-1", "success", 3.0, wall=30, iterations=5),
        trial("solo-gpt", "repo/fix-1", "failure", 50.0, wall=999, iterations=99),
        trial("solo-gpt", "repo/fix-1", "blocked", 60.0, wall=999, iterations=99),
        trial("solo-gpt", "repo/fix-1", "infra_error", 0.0, wall=1, iterations=0),
        trial("orch+local", "repo/fix-1", "success", 2.0, wall=5, iterations=4),
    ]
    a = analyze(trials)
    c = a.cell("solo-gpt", "repo/fix-1")
    assert (c.n_success, c.n_total, c.n_failure, c.n_blocked, c.n_infra_error) == (2, 4, 1, 1, 1)
    assert c.success_rate == 0.5
    assert c.cost_median == 2.0 and c.wall_median == 20.0 and c.iterations_median == 4.0
    assert c.expected_cost == 4.0
    assert c.cost_mean_all == pytest.approx((1 + 3 + 50 + 60) / 4)
    assert a.arms == ["orch+local", "solo-gpt"] and a.baseline == "orch+local"

    assert a.n_trials == 5 and a.n_infra_error == 1
    [p] = a.pairwise
    assert (p.a, p.b, p.n_a, p.n_b) == ("orch+local", "solo-gpt", 1, 2)


def test_a_cell_with_no_success_has_null_medians_and_no_crash():
    trials = [trial("X", "t", "failure", 1.0), trial("X", "t", "failure", 2.0), trial("Y", "t", "success", 1.0)]
    a = analyze(trials)
    c = a.cell("X", "t")
    assert c.n_success == 0 and c.n_total == 2 and c.success_rate == 0.0
    assert c.cost_median is None and c.wall_median is None and c.cost_ci95 is None
    assert c.expected_cost is None and c.orchestrator_tokens_median is None
    assert c.pareto_dominated is None
    [p] = a.pairwise
    assert p.u is None and p.p_exact is None and p.cliffs_delta is None and p.magnitude is None
    doc = json.loads(a.to_json())
    assert doc["cells"][0]["cost_median"] is None


def test_a_cell_with_only_infra_errors():
    a = analyze([trial("X", "t", "infra_error", 0.0, iterations=0)])
    c = a.cell("X", "t")
    assert c.n_total == 0 and c.success_rate is None and c.n_infra_error == 1
    assert a.n_trials == 0


def test_a_single_trial():
    a = analyze([trial("only", "one", "success", 0.25, wall=42, iterations=7)])
    c = a.cell("only", "one")
    assert (c.n_success, c.n_total, c.cost_median, c.wall_median) == (1, 1, 0.25, 42)
    assert c.cost_ci95 == [0.25, 0.25]
    assert c.tokens_ratio_to_baseline == 1.0
    assert a.pairwise == []
    assert a.pareto_front == {"one": ["only"]}


def test_empty_input():
    a = analyze([])
    assert a.cells == [] and a.pairwise == [] and a.baseline is None
    assert json.loads(a.to_json())["cells"] == []


def test_baseline_and_token_ratios():
    trials = [
        trial("A", "t", "success", 1.0, orch=Usage(input=10, cache_read=90)),
        trial("B", "t", "success", 1.0, orch=Usage(input=50, cache_read=350, output=999)),
    ]
    a = analyze(trials, baseline="B")
    assert a.cell("A", "t").orchestrator_tokens_median == 100
    assert a.cell("A", "t").tokens_ratio_to_baseline == pytest.approx(0.25)
    assert a.cell("A", "t").cache_read_ratio_to_baseline == pytest.approx(90 / 350)
    assert analyze(trials).cell("B", "t").tokens_ratio_to_baseline == pytest.approx(4.0)


def test_unknown_baseline_is_a_user_error():
    from orchbench.errors import UserError

    with pytest.raises(UserError, match="no such arm"):
        analyze([trial("A", "t", "success", 1.0)], baseline="Z")


def test_pareto_on_hand_points():
    pts = {"cheap-slow": (1.0, 10.0), "dear-fast": (5.0, 1.0), "worse": (5.0, 10.0), "tie": (1.0, 10.0)}
    d = dominated(pts)
    assert d["worse"] == ["cheap-slow", "dear-fast", "tie"]
    assert d["cheap-slow"] == [] and d["tie"] == [] and d["dear-fast"] == []


class FlatCard:
    """A rate card: $ per token, by model (the shape of orchbench.pricing.RateCard)."""

    name = "flat-test"

    def __init__(self, per_token: dict[str, float]) -> None:
        self.per_token = per_token
        self.seen: list[tuple[str, Usage]] = []

    def knows(self, model: str) -> bool:
        return model in self.per_token

    def cost(self, model: str, usage: Usage) -> float:
        self.seen.append((model, usage))
        return self.per_token[model] * usage.total


def test_reprice_from_per_role_usage():
    card = FlatCard({"big-model": 0.001, "small-model": 0.5})
    t = trial("A", "t", "success", 99.0, orch=Usage(input=10, output=20, cache_read=70),
              execu=Usage(input=1, output=1))
    a = analyze([t], rate_card=card)
    assert a.rate_card == "flat-test"
    assert a.cell("A", "t").cost_median == pytest.approx(0.1 + 1.0)
    assert analyze([t]).cell("A", "t").cost_median == 99.0  # without a card the recorded cost stands


def test_reprice_per_call_when_calls_exist():
    card = FlatCard({"big-model": 0.001, "small-model": 0.5})
    t = trial("A", "t", "success", 99.0)
    calls = [Call(trial_id=t.id, role="orchestrator", turn=k, model="big-model", usage=Usage(input=100))
             for k in range(3)]
    a = analyze([(t, calls)], rate_card=card)
    assert a.cell("A", "t").cost_median == pytest.approx(0.3)
    assert [m for m, _ in card.seen] == ["big-model"] * 3  # priced call by call


def test_reprice_columns_matches_records(paper_dir):
    from orchbench.analysis.paperscan import read_paper_columns

    card = FlatCard({"claude-opus-4-7": 1e-6, "claude-haiku-4-5-20251001": 2e-7, "qwen-local": 0.0})
    a = analyze(read_paper_columns([paper_dir]), rate_card=card)
    c = a.cell("A", "T3")
    # A/T3 successes: totals 17768, 17768 and 76686 tokens; median 17768
    assert c.cost_median == pytest.approx(17768e-6)
    assert all(x.cost_median is not None for x in a.cells)


def test_json_is_finite_and_roundtrips():
    a = analyze([trial("A", "t", "success", 1.0), trial("B", "t", "success", 2.0)])
    doc = json.loads(a.to_json())
    assert doc["pairwise"][0]["a"] == "A"
    assert np.isfinite(doc["cells"][0]["cost_median"])
    assert "columns" not in doc


def test_trials_still_running_are_left_out():
    a = analyze([trial("A", "t", "success", 1.0), trial("A", "t", "running", 0.0),
                 trial("B", "t", "interrupted", 0.0)])
    assert [(c.arm, c.n_total) for c in a.cells] == [("A", 1)]


def test_blocked_is_a_flag_beside_the_verdicts_status():
    from rich.console import Console

    from orchbench.analysis.tables import cells_csv, cells_table
    from orchbench.paperformat import trial_to_paper
    from orchbench.records import BLOCKED_NOTE

    flagged = [trial("A", "T1", status, 1.0 + k) for k, status in enumerate(["success", "failure", "failure"])]
    flagged[0].notes.append(BLOCKED_NOTE + "BLOCKED: not sure")
    flagged[1].notes.append(BLOCKED_NOTE + "BLOCKED: gave up")
    a = analyze(flagged)
    c = a.cell("A", "T1")
    # Judged like the others: one success, two failures; two of the three answered BLOCKED.
    assert (c.n_success, c.n_failure, c.n_total, c.n_blocked) == (1, 2, 3, 2)
    assert c.success_rate == pytest.approx(1 / 3)
    assert "n_blocked" in cells_csv(a).splitlines()[0] and ",2," in cells_csv(a).splitlines()[1]
    console = Console(record=True, width=200)
    console.print(cells_table(a))
    assert "blocked" in console.export_text()
    assert [trial_to_paper(t)["blocked"] for t in flagged] == [True, True, False]
    assert [trial_to_paper(t)["success"] for t in flagged] == [True, False, False]
