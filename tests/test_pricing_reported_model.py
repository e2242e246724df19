"""A call is priced by the model the provider reports when the rate card knows it, else by the
configured one, and the call records which: a loopback Anthropic server answers a request for the
alias `claude-haiku-4-5` with the dated id `claude-haiku-4-5-20251001`, as the real API does."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchbench.arms import load_arm
from orchbench.models.base import RetryPolicy
from orchbench.pricing import load_rate_card, price_call
from orchbench.records import Usage
from orchbench.runner.trial import run_trial
from orchbench.store import Store
from orchbench.tasks.spec import load_task
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.policies import SolutionPolicy

TINY = Path(__file__).parent / "fakes" / "tinytask" / "tiny.toml"
ALIAS, DATED = "claude-haiku-4-5", "claude-haiku-4-5-20251001"


def card(tmp_path: Path, models: str) -> Path:
    p = tmp_path / "card.toml"
    p.write_text('base = "none"\n' + models)
    return p


def solo_arm(tmp_path: Path) -> Path:
    p = tmp_path / "haiku.toml"
    p.write_text(f'base = "D"\nname = "haiku-alias"\n[orchestrator]\nprovider = "anthropic"\nmodel = "{ALIAS}"\n')
    return p


def run(tmp_path: Path, rate_card: Path, reported: dict[str, str]):
    task = load_task(TINY)
    with FakeAnthropic(policy=SolutionPolicy(task.reference), min_cacheable=200, reported_models=reported) as srv, \
            Store(tmp_path / "runs.db") as store:
        arm = load_arm(solo_arm(tmp_path)).with_base_url(srv.base_url)
        t = run_trial(task, arm, store=store, rate_card=load_rate_card(rate_card), env={"ANTHROPIC_API_KEY": "k"},
                      retry=RetryPolicy(max_retries=1, base_s=0.001, max_s=0.001, sleep=lambda s: None))
        return t, store.calls(t.id), srv


def dollars(u: Usage, per_m_in: float, per_m_out: float) -> float:
    return (u.input * per_m_in + u.output * per_m_out + u.cache_write * per_m_in * 1.25
            + u.cache_read * per_m_in * 0.1) / 1e6


def test_a_dated_id_the_card_knows_prices_the_call_and_is_recorded(tmp_path: Path) -> None:
    # The card prices the dated id differently from the alias, so the cost shows which one was used.
    rc = card(tmp_path, f'[models."{ALIAS}"]\ninput = 1\noutput = 5\n[models."{DATED}"]\ninput = 2\noutput = 10\n')
    t, calls, srv = run(tmp_path, rc, {ALIAS: DATED})
    assert t.status == "success", (t.error, t.failure_reason)
    assert {b["model"] for b in srv.bodies} == {ALIAS}  # what was configured and asked for
    assert calls and {(c.model, c.priced_model) for c in calls} == {(DATED, DATED)}
    for c in calls:
        assert c.cost_usd == pytest.approx(dollars(c.usage, 2, 10), abs=1e-12)
    # Re-pricing the stored call by its recorded name gives the stored cost back.
    again = load_rate_card(rc)
    assert sum(again.cost(c.priced_model or c.model, c.usage) for c in calls) == pytest.approx(t.total_cost)


def test_a_reported_id_the_card_does_not_know_falls_back_to_the_configured_one(tmp_path: Path) -> None:
    rc = card(tmp_path, f'[models."{ALIAS}"]\ninput = 1\noutput = 5\n')
    t, calls, _ = run(tmp_path, rc, {ALIAS: "haiku-preview-x"})
    assert t.status == "success", (t.error, t.failure_reason)
    assert calls and {(c.model, c.priced_model) for c in calls} == {("haiku-preview-x", ALIAS)}
    for c in calls:
        assert c.cost_usd == pytest.approx(dollars(c.usage, 1, 5), abs=1e-12)
    # Re-pricing later (analysis, simulator) follows the same rule instead of failing on the
    # reported name the card does not know.
    from orchbench.analysis import analyze

    a = analyze([(t, calls)], rate_card=load_rate_card(rc))
    assert a.cells[0].cost_median == pytest.approx(t.total_cost)


def test_price_call_without_a_report_uses_the_configured_name() -> None:
    paper = load_rate_card("paper-2026-06")
    u = Usage(input=1_000_000)
    assert price_call(paper, u, configured=ALIAS, reported=None) == (pytest.approx(1.0), ALIAS)
    assert price_call(paper, u, configured=ALIAS, reported=ALIAS) == (pytest.approx(1.0), ALIAS)
