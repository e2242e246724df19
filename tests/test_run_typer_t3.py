"""Done-when: pointed at an Anthropic-compatible server that scripts a solution to typer-T3, arms A
and C succeed, and the stored per-call usage and cost equal what that server billed.

Real everything except the model: the typer 0.26.8 workspace, sandboxed tools, the full judge (mypy,
ruff, pytest on ~1360 tests), the SQLite store, the paper's rate card. Several minutes: `slow`.
"""

from __future__ import annotations

import pytest

from orchbench.arms import HAIKU, OPUS, load_arm
from orchbench.models.base import RetryPolicy
from orchbench.records import Usage
from orchbench.runner.trial import run_trial
from orchbench.tasks.spec import load_task
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.policies import SolutionPolicy

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]  # a full typer judge run per trial


@pytest.fixture(scope="module")
def card():
    from orchbench.pricing import load_rate_card

    return load_rate_card("paper-2026-06")


@pytest.mark.parametrize("arm_name", ["A", "C"])
def test_arm_succeeds_on_typer_t3_and_stores_what_the_server_billed(arm_name, tmp_path, card):
    from orchbench.store import Store

    task = load_task("typer-T3")
    assert task.reference, "typer-T3 has no reference solution to script"
    with FakeAnthropic(policy=SolutionPolicy(task.reference), api_key="sk-test") as srv, \
            Store(tmp_path / "t3.db") as store:
        arm = load_arm(arm_name).with_base_url(srv.base_url)
        t = run_trial(task, arm, store=store, rate_card=card, env={"ANTHROPIC_API_KEY": "sk-test"},
                      retry=RetryPolicy(max_retries=2, base_s=0.01, max_s=0.05))
        stored = store.trial(t.id)
        calls = sorted(store.calls(t.id), key=lambda c: c.started_at)
    assert t.status == "success", (t.error, t.failure_reason, t.verdict_summary)
    assert stored is not None and stored.status == "success" and stored.verdict.passed
    # per call: usage is exactly what the server billed, cost is the paper's price of it
    assert [c.usage for c in calls] == srv.billed
    assert [c.model for c in calls] == [b["model"] for b in srv.bodies]
    for c in calls:
        assert c.cost_usd == pytest.approx(card.cost(c.model, c.usage), abs=1e-12)
    assert stored.total_cost == pytest.approx(sum(card.cost(c.model, c.usage) for c in calls), abs=1e-9)
    assert sum(stored.usage.values(), Usage()) == sum(srv.billed, Usage())
    if arm_name == "A":
        assert stored.models == {"solo": OPUS} and len(calls) == len(task.reference) + 1
    else:
        assert stored.models == {"orchestrator": OPUS, "executor": HAIKU}
        assert [c.role for c in calls].count("orchestrator") == 2
        assert calls[0].handback_chars is not None and calls[0].handback_chars > 0
