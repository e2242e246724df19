"""The closed-form loop model: against the billing simulator, by hand, and fitted to the paper's data."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from orchbench.analysis.summary import analyze
from orchbench.errors import UserError
from orchbench.paperformat import read_paper_files
from orchbench.pricing import load_rate_card
from orchbench.records import Usage
from orchbench.simulate.billing import PromptCache, make_blocks
from orchbench.simulate.fit import breakevens, fit_cells, read_ratios
from orchbench.simulate.model import Loop, Prices, breakeven_handback, rereads
from orchbench.simulate.plot import handback_figure, write_handback_plot

# The model's cache_read prediction and the paper's B/A and C/A cache_read ratios: the model sees only
# turns, input and cache_write; uniform growth under-predicts reads of front-loaded contexts.
RATIO_TOLERANCE = 0.15  # relative error allowed on an arm/solo cache_read ratio
READ_TOLERANCE = 0.30  # relative error allowed on one cell's predicted cache_read


def bill_loop(base: int, growth: int, n: int, handbacks: dict[int, int], *, warm: list[int] = (),
              min_cacheable: int = 1024, caching: bool = True) -> Usage:
    """Bill a loop request by request: warm-up prompts, then base + growth per turn + hand-backs."""
    cache = PromptCache(min_cacheable=min_cacheable)
    total = Usage()
    for i, p in enumerate(warm):
        total += cache.bill(make_blocks([p], (0,) if caching else (), keys=[f"w{i}"]), now=i)
    segs = [base]
    for i in range(n):
        if i:
            segs.append(growth + handbacks.get(i, 0))
        bps = (len(segs) - 1,) if caching else ()
        total += cache.bill(make_blocks(segs, bps, keys=[f"s{j}" for j in range(len(segs))]), now=100 + i)
    return total


def test_closed_form_equals_the_billing_simulator() -> None:
    # hand-backs before requests 4, 8, 12, 16 of 20: mean re-reads (N - 2) / 2 = 9, as the model assumes
    n, base, g, h = 20, 3000, 500, 800
    hb = {4: h, 8: h, 12: h, 16: h}
    billed = bill_loop(base, g, n, hb)
    loop = Loop(base=base, turns=n, growth=g, delegations=4, handback=h)
    u = loop.usage()
    assert (u.input, u.cache_write, u.cache_read) == (billed.input, billed.cache_write, billed.cache_read)
    # by hand: write = 3000 + 19 * 500 + 3200; read = 19 * 3000 + 171 * 500 + 800 * (15 + 11 + 7 + 3)
    assert u.cache_write == 15_700 and u.cache_read == 57_000 + 85_500 + 28_800
    off = bill_loop(base, g, n, hb, caching=False)
    assert loop.usage(caching=False).input == off.input


def test_warm_up_requests_below_the_minimum_are_plain_input() -> None:
    billed = bill_loop(2100, 300, 10, {}, warm=[1500, 1900], min_cacheable=2048)
    loop = Loop(base=2100, turns=12, growth=300, warmup_turns=2, warmup_tokens=3400)
    u = loop.usage()
    assert (u.input, u.cache_write, u.cache_read) == (billed.input, billed.cache_write, billed.cache_read)


def test_rereads_and_breakeven_by_hand() -> None:
    assert rereads(10, 3) == 7 and rereads(10, 10) == 0
    with pytest.raises(UserError):
        rereads(10, 11)
    p = Prices(input=1e-6, output=5e-6, cache_write=1.25e-6, cache_read=0.1e-6, cache_write_1h=2e-6)
    loop = Loop(base=2000, turns=12, growth=100, delegations=2, handback=1000)
    # each hand-back token costs 2 * (1.25e-6 + 5 * 0.1e-6) = 3.5e-6 dollars
    assert loop.handback_token_cost(p) == pytest.approx(3.5e-6)
    at_zero = loop.capped(0).usage().cost(p)
    k = breakeven_handback(loop, p, at_zero + 0.0035)
    assert k == pytest.approx(1000)
    assert breakeven_handback(loop, p, at_zero - 0.01) is None
    with pytest.raises(UserError, match="turns"):
        Loop(base=1, turns=2, growth=0, warmup_turns=3)


@pytest.fixture(scope="module")
def paper(paper_dir):
    items = read_paper_files([paper_dir])
    card = load_rate_card("paper-2026-06")
    return items, fit_cells([t for t, _ in items], card)


def test_fit_reproduces_its_inputs_and_predicts_cache_read(paper) -> None:
    _, cells = paper
    assert {(c.arm, c.task) for c in cells} == {(a, t) for a in "ABCD" for t in ("T1", "T2", "T3")}
    for c in cells:
        obs, pred = c.observed.usage, c.predicted
        assert pred.cache_write == pytest.approx(obs.cache_write), (c.arm, c.task)
        assert pred.input == pytest.approx(obs.input), (c.arm, c.task)
        assert pred.output == pytest.approx(obs.output), (c.arm, c.task)
        assert abs(c.read_error) < READ_TOLERANCE, (c.arm, c.task, c.read_error)


def test_model_explains_the_orchestrator_cache_read_ratios(paper) -> None:
    items, cells = paper
    recorded = analyze(items, baseline="A", resamples=50)
    ratios = {(r["arm"], r["task"]): r for r in read_ratios(cells, "A")}
    for arm in "BC":
        for task in ("T1", "T2", "T3"):
            r = ratios[(arm, task)]
            # the observed ratio is the analysis' own number from the data
            assert r["observed"] == pytest.approx(recorded.cell(arm, task).cache_read_ratio_to_baseline)
            assert abs(r["predicted"] / r["observed"] - 1) < RATIO_TOLERANCE, r
    # the paper's published B/A cache_read ratios (its section 4)
    assert [round(ratios[("B", t)]["observed"], 2) for t in ("T1", "T2", "T3")] == [1.38, 1.39, 5.26]


def test_breakeven_on_the_paper_data_is_consistent_with_the_model(paper) -> None:
    _, cells = paper
    rows = breakevens(cells)
    assert {(b.arm, b.task) for b in rows} == {(a, t) for a in "BC" for t in ("T1", "T2", "T3")}
    by = {(c.arm, c.task): c for c in cells}
    for b in rows:
        c = by[(b.arm, b.task)]
        assert b.baseline == "A" and c.loop.delegations > 0 and b.handback_tokens > 0
        assert b.cost == pytest.approx(c.cost())
        if b.breakeven_tokens is None:
            assert c.cost(cap=0) > b.baseline_cost
        else:
            # the break-even is a hand-back size (it may exceed the recorded one, where a cap does nothing)
            sized = replace(c.loop, handback=b.breakeven_tokens).usage().cost(c.prices) + c.observed.other_cost
            assert sized == pytest.approx(b.baseline_cost)
        if b.breakeven_growth is not None:
            assert b.breakeven_growth >= 0
    # hand-backs of B are what the paper's harness allowed: 4000 characters
    assert by[("B", "T1")].handback_tokens == 1000


def test_one_hour_ttl_and_no_cache_cost_more_for_the_same_tokens(paper) -> None:
    _, cells = paper
    for c in cells:
        assert c.cost(ttl="1h") > c.cost()
        assert c.cost(caching=False) > c.cost()


def test_plot_has_one_panel_per_task_and_writes_png_and_svg(paper, tmp_path) -> None:
    _, cells = paper
    fig = handback_figure(cells, breakevens(cells))
    assert [ax.get_title() for ax in fig.axes] == ["T1", "T2", "T3"]
    assert all(len(ax.get_lines()) >= 4 for ax in fig.axes)  # one line per arm
    paths = write_handback_plot(cells, breakevens(cells), tmp_path)
    assert [p.suffix for p in paths] == [".png", ".svg"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and "<svg" in paths[1].read_text()
    assert not math.isnan(cells[0].cost())
