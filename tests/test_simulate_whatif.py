"""What-ifs on a store of trials with calls: each scenario against the same trials re-recorded."""

from __future__ import annotations

import statistics

import pytest

from orchbench.pricing import load_rate_card
from orchbench.records import Call, Trial, Usage
from orchbench.simulate.model import Prices
from orchbench.simulate.run import simulate
from orchbench.simulate.whatif import load_items
from orchbench.store import Store
from tests.test_simulate_replay import record_trial

CARD = load_rate_card("current")
SEEDS = {"A": (11, 12), "B": (13, 14)}


def _trial(arm: str, seed: int, calls: list[Call]) -> tuple[Trial, list[Call]]:
    calls = [c.model_copy(update={"cost_usd": CARD.cost(c.model, c.usage)}) for c in calls]
    n = sum(1 for c in calls if c.role == "orchestrator")
    t = Trial(id=f"{arm}{seed}", experiment="x", arm=arm, task="t", status="success", iterations=n)
    return t.with_calls(calls), calls


def _calls(arm: str, seed: int, **kw) -> list[Call]:
    delegations = () if arm == "A" else (2, 5, 13)
    return sorted(record_trial(seed=seed, delegate_turns=delegations, trial_id=f"{arm}{seed}", **kw),
                  key=lambda c: c.started_at)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("sim") / "orchbench.db"
    with Store(path) as store:
        store.add_trials([_trial(arm, s, _calls(arm, s)) for arm, seeds in SEEDS.items() for s in seeds])
    return path


def _cell(result, arm: str) -> dict:
    return next(c for c in result.cells if c["arm"] == arm and c["task"] == "t")


def test_store_trials_replay_to_the_token_and_each_scenario_matches_a_re_recording(db) -> None:
    sim = simulate(load_items(db=db), source=str(db), rate_card="current", no_cache=True,
                   handback_cap=300, ttl="1h")
    assert sim.replay.trials == 4 and sim.replay.exact_calls == sim.replay.calls > 0
    by = {s.key: s for s in sim.whatif.scenarios}
    assert set(by) == {"reprice", "no-cache", "cap-300", "ttl-1h"}

    # hand-backs capped at 300 tokens == the same trials recorded with 1200-character hand-backs
    def short_cost(arm: str) -> float:
        return statistics.median(
            sum(CARD.cost(c.model, c.usage) for c in
                sorted(record_trial(seed=s, handback_chars=1200, trial_id="x",
                                    delegate_turns=() if arm == "A" else (2, 5, 13)), key=lambda c: c.started_at))
            for s in SEEDS[arm])
    assert _cell(by["cap-300"], "B")["cost_after"] == pytest.approx(short_cost("B"), rel=1e-12)
    assert _cell(by["cap-300"], "A")["saving"] == pytest.approx(0.0, abs=1e-12)
    assert by["cap-300"].methods == {"replay": 4}

    # a 1-hour TTL == the same trials recorded with 1-hour breakpoints, writes at 2x input
    def hour_cost(c: Call) -> float:
        p = Prices.from_rate_card(CARD, c.model)
        return CARD.cost(c.model, c.usage) + c.usage.cache_write * (p.cache_write_1h - p.cache_write)
    for arm in "AB":
        expected = statistics.median(sum(hour_cost(c) for c in _calls(arm, s, ttl="1h")) for s in SEEDS[arm])
        assert _cell(by["ttl-1h"], arm)["cost_after"] == pytest.approx(expected, rel=1e-12)

    # caching off: every prompt token is input
    def off_cost(c: Call) -> float:
        u = c.usage
        return CARD.cost(c.model, Usage(input=u.input + u.cache_write + u.cache_read, output=u.output))
    for arm in "AB":
        expected = statistics.median(sum(off_cost(c) for c in _calls(arm, s)) for s in SEEDS[arm])
        assert _cell(by["no-cache"], arm)["cost_after"] == pytest.approx(expected, rel=1e-12)
        assert _cell(by["no-cache"], arm)["saving"] < 0
    assert all(isinstance(line, str) for s in by.values() for line in s.flips)
    assert sim.to_dict()["whatif"]["scenarios"][0]["key"] == "reprice"
