"""Hand-computed prompt-caching bills, to the token."""

from __future__ import annotations

import pytest

from orchbench.errors import UserError
from orchbench.records import Usage
from orchbench.simulate.billing import Block, PromptCache, make_blocks, min_cacheable_for


def U(i: int, w: int, r: int) -> Usage:
    return Usage(input=i, cache_write=w, cache_read=r)


def conv(*tokens: int, bps: tuple[int, ...]) -> list[Block]:
    """A request whose block i has key f"k{i}" (so requests sharing a prefix share keys)."""
    return make_blocks(list(tokens), bps, keys=[f"k{i}" for i in range(len(tokens))])


def test_first_request_writes_second_reads_and_tail_is_input() -> None:
    c = PromptCache(min_cacheable=1024)
    # tools 300 (bp: too short alone), system 1500 (bp), user 400 (bp), then 0 after the last bp
    assert c.bill(conv(300, 1500, 400, bps=(0, 1, 2)), now=0) == U(0, 2200, 0)
    # the conversation grew by an assistant turn (200) and a user turn (300, bp moves there),
    # plus 50 tokens after the last breakpoint
    assert c.bill(conv(300, 1500, 400, 200, 300, 50, bps=(0, 1, 4)), now=10) == U(50, 500, 2200)
    # same request again: everything up to the last breakpoint is read
    assert c.bill(conv(300, 1500, 400, 200, 300, 50, bps=(0, 1, 4)), now=20) == U(50, 0, 2700)


def test_changed_block_invalidates_everything_after_it() -> None:
    c = PromptCache(min_cacheable=1024)
    c.bill(conv(300, 1500, 400, bps=(1, 2)), now=0)
    changed = make_blocks([300, 1500, 400], (1, 2), keys=["k0", "other", "k2"])
    assert c.bill(changed, now=1) == U(0, 2200, 0)


def test_ttl_expiry_and_refresh_on_hit() -> None:
    c = PromptCache(min_cacheable=1024)
    req = conv(2000, 100, bps=(0,))
    assert c.bill(req, now=0) == U(100, 2000, 0)
    assert c.bill(req, now=299) == U(100, 0, 2000)  # alive, and refreshed until 599
    assert c.bill(req, now=598) == U(100, 0, 2000)  # alive only thanks to the refresh
    assert c.bill(req, now=898.5) == U(100, 2000, 0)  # 300.5 s idle: expired, written again


def test_one_hour_ttl_outlives_five_minutes_and_is_split_in_the_bill() -> None:
    c = PromptCache(min_cacheable=1024)
    req = make_blocks([2000, 500], (0,), keys=["s", "u"], ttl="1h")
    first = c.bill_detail(req, now=0)
    assert (first.cache_write_1h, first.cache_write_5m, first.input) == (2000, 0, 500)
    assert c.bill(req, now=3000) == U(500, 0, 2000)
    assert c.bill(req, now=3000 + 3601) == U(500, 2000, 0)


def test_mixed_ttls_write_each_segment_at_its_own_ttl() -> None:
    c = PromptCache(min_cacheable=1024)
    blocks = [Block("s", 1500, True, "1h"), Block("m", 700, True, "5m"), Block("t", 30)]
    bill = c.bill_detail(blocks, now=0)
    assert (bill.cache_write_1h, bill.cache_write_5m, bill.cache_read, bill.input) == (1500, 700, 0, 30)
    # after 10 minutes the 5m entry is gone, the 1h one is read
    bill = c.bill_detail(blocks, now=600)
    assert (bill.cache_write_1h, bill.cache_write_5m, bill.cache_read, bill.input) == (0, 700, 1500, 30)


def test_minimum_cacheable_length() -> None:
    c = PromptCache(min_cacheable=1024)
    assert c.bill(conv(1000, 20, bps=(0,)), now=0) == U(1020, 0, 0)
    assert c.bill(conv(1000, 20, bps=(0,)), now=1) == U(1020, 0, 0)  # nothing was cached
    assert c.bill(conv(1000, 24, bps=(1,)), now=2) == U(0, 1024, 0)  # exactly the minimum caches
    haiku = PromptCache.for_model("claude-haiku-4-5-20251001")
    assert haiku.bill(conv(4000, bps=(0,)), now=0) == U(4000, 0, 0)


def test_lookback_is_twenty_blocks_counting_the_breakpoint() -> None:
    c = PromptCache(min_cacheable=1024)
    c.bill(conv(1500, 100, bps=(0, 1)), now=0)  # entries at blocks 0 and 1
    # new bp at block 20: positions 20..1 are checked, block 1 is the 20th -> hit
    grown = [1500, 100] + [10] * 19
    assert c.bill(conv(*grown, bps=(0, 20)), now=1) == U(0, 190, 1600)

    c = PromptCache(min_cacheable=1024)
    c.bill(conv(1500, 100, bps=(0, 1)), now=0)
    # bp at block 21: positions 21..2 only; block 1 is out of reach, the system bp (block 0) hits
    grown = [1500, 100] + [10] * 20
    assert c.bill(conv(*grown, bps=(0, 21)), now=1) == U(0, 300, 1500)


def test_four_breakpoints_allowed_five_rejected() -> None:
    c = PromptCache(min_cacheable=0)
    assert c.bill(conv(1, 2, 3, 4, bps=(0, 1, 2, 3)), now=0) == U(0, 10, 0)
    with pytest.raises(UserError, match="at most 4"):
        c.bill(conv(1, 2, 3, 4, 5, bps=(0, 1, 2, 3, 4)), now=0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Block("x", -1),
        lambda: Block("x", 5, ttl="2h"),  # type: ignore[arg-type]
        lambda: make_blocks([10, 20], (2,)),
        lambda: make_blocks([10, 20], (-3,)),
        lambda: min_cacheable_for("gpt-4o"),
        lambda: PromptCache(min_cacheable=0).bill(
            [Block("a", 10, True, "5m"), Block("b", 10, True, "1h")], now=0
        ),
    ],
    ids=["negative-tokens", "bad-ttl", "breakpoint-past-end", "negative-past-start", "unknown-model", "ttl-order"],
)
def test_bad_input_is_a_user_error_with_a_one_line_message(make) -> None:
    with pytest.raises(UserError) as exc:
        make()
    assert "\n" not in str(exc.value) and len(str(exc.value)) > 20


def test_min_cacheable_by_model() -> None:
    assert min_cacheable_for("claude-haiku-4-5-20251001") == 4096
    assert min_cacheable_for("claude-opus-4-5-20251101") == 4096
    assert min_cacheable_for("claude-opus-4-1-20250805") == 1024
    assert min_cacheable_for("claude-3-5-haiku-20241022") == 2048
    assert min_cacheable_for("anthropic/claude-sonnet-4-5") == 1024
