"""Replay: a trial recorded by billing a growing conversation is reproduced to the token.

The synthetic trial is billed exactly the way the loopback Anthropic server bills (its
`request_blocks`, the agents' `paper` caching policy, `PromptCache`): an orchestrator with
delegations, executor sub-loops, parallel tool calls that overflow the 20-block lookback and an idle
gap that outlives the 5-minute TTL. Replay sees only the recorded Calls.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from orchbench.errors import UserError
from orchbench.models.caching import apply_caching
from orchbench.records import Call, Usage
from orchbench.simulate.billing import PromptCache, min_cacheable_for
from orchbench.simulate.replay import replay
from tests.fakes.anthropic_server import output_tokens, request_blocks

OPUS, HAIKU = "claude-opus-4-7", "claude-haiku-4-5-20251001"


def _tool(name: str, size: int) -> dict:
    return {"name": name, "description": "d" * size, "input_schema": {"type": "object", "properties": {}}}


class Recorder:
    """Bills requests like the loopback server and records the Calls the agent loop would."""

    def __init__(self, ttl: str = "5m") -> None:
        self.caches: dict[str, PromptCache] = {}
        self.calls: list[Call] = []
        self.turns = {"orchestrator": 0, "executor": 0}
        self.ttl = ttl

    def request(self, role, model, system, tools, messages, content, results, now, *, parent=None, handback=None):
        sys_p, msgs, tls = apply_caching("paper", system, messages, tools)
        if self.ttl == "1h":
            for b in [*(sys_p or []), *tls, *[x for m in msgs if isinstance(m["content"], list) for x in m["content"]]]:
                if "cache_control" in b:
                    b["cache_control"]["ttl"] = "1h"
        cache = self.caches.setdefault(model, PromptCache.for_model(model))
        u = cache.bill(request_blocks({"system": sys_p, "messages": msgs, "tools": tls}), now=now)
        call = Call(
            trial_id="t", role=role, turn=self.turns[role], model=model,
            usage=Usage(input=u.input, cache_write=u.cache_write, cache_read=u.cache_read,
                        output=output_tokens(content)),
            started_at=datetime.fromtimestamp(now, UTC),
            tool_names=[b["name"] for b in content if b["type"] == "tool_use"],
            content=content, tool_results=results, parent_turn=parent, handback_chars=handback,
        )
        self.turns[role] += 1
        self.calls.append(call)


def record_trial(*, handback_chars: int = 4000, ttl: str = "5m", seed: int = 7,
                 delegate_turns: tuple[int, ...] = (2, 5, 13), trial_id: str = "t") -> list[Call]:
    rng = random.Random(seed)
    rec = Recorder(ttl)
    o_tools = [_tool("str_replace_editor", 900), _tool("bash", 600), _tool("delegate_to_executor", 700)]
    e_tools = [_tool("str_replace_editor", 900), _tool("bash", 600)]
    o_sys, e_sys = "You orchestrate. " * 600, "You execute. " * 1300
    messages: list[dict] = [{"role": "user", "content": "Repair the repository. " * 20}]
    now = 1_000_000.0
    for turn in range(18):
        n_uses = 12 if turn == 9 else rng.choice([1, 1, 2])  # turn 9: 24 blocks, past the lookback
        delegate = turn in delegate_turns
        uses = [{"type": "tool_use", "id": f"o{turn}_{k}",
                 "name": "delegate_to_executor" if delegate and k == 0 else "bash",
                 "input": {"command": "x" * rng.randint(10, 400)}} for k in range(n_uses)]
        content = [{"type": "text", "text": "thinking " * rng.randint(5, 60)}, *uses]
        results = []
        hb = None
        for k, use in enumerate(uses):
            if use["name"] == "delegate_to_executor":
                # an executor sub-loop of 3 calls, then its hand-back (a multiple of 4 ASCII chars)
                e_msgs: list[dict] = [{"role": "user", "content": f"Do edit {turn}. " * 10}]
                for et in range(3):
                    done = et == 2
                    e_content = [{"type": "text", "text": "ok " * rng.randint(5, 40)}] + (
                        [] if done else [{"type": "tool_use", "id": f"e{turn}_{et}", "name": "bash", "input": {}}])
                    e_results = [] if done else [{"tool_use_id": f"e{turn}_{et}", "content": "out" * rng.randint(50, 900)}]
                    rec.request("executor", HAIKU, e_sys, e_tools, e_msgs, e_content, e_results, now, parent=turn)
                    now += rng.uniform(2, 20)
                    e_msgs += [{"role": "assistant", "content": e_content}]
                    if e_results:
                        e_msgs += [{"role": "user", "content": [{"type": "tool_result", **r} for r in e_results]}]
                text = "H" * handback_chars
                results.append({"tool_use_id": use["id"], "content": text})
                hb = len(text)
            else:
                results.append({"tool_use_id": use["id"], "content": "line\n" * rng.randint(1, 300)})
        # the orchestrator call of this turn happened before its tools ran: bill it at its own time
        rec.request("orchestrator", OPUS, o_sys, o_tools, messages, content, results, now - 0.5, handback=hb)
        messages += [{"role": "assistant", "content": content},
                     {"role": "user", "content": [{"type": "tool_result", **r} for r in results]}]
        now += 400.0 if turn == 15 else rng.uniform(3, 40)  # one idle gap outlives the 5-minute TTL
    final = [{"type": "text", "text": "done"}]
    rec.request("orchestrator", OPUS, o_sys, o_tools, messages, final, [], now)
    return [c.model_copy(update={"trial_id": trial_id}) for c in rec.calls]


def _fix_order(calls: list[Call]) -> list[Call]:
    return sorted(calls, key=lambda c: c.started_at)


def test_recorded_trial_is_reproduced_to_the_token() -> None:
    calls = _fix_order(record_trial())
    rp = replay(calls)
    assert rp.mismatches() == []
    # the trial exercised what it claims to: reads, a lookback miss, a TTL expiry, executor static hits
    orch = [c for c in calls if c.role == "orchestrator"]
    assert sum(c.usage.cache_read for c in calls) > 0
    prompts = [c.usage.input + c.usage.cache_write + c.usage.cache_read for c in orch]
    partial = [i for i, c in enumerate(orch[1:], 1) if 0 < c.usage.cache_read < prompts[i - 1]]
    assert partial  # the 24-block turn missed the lookback and fell back to the tools + system prefix
    expired = [c for c in orch[1:] if c.usage.cache_read == 0 and c.usage.cache_write > 0]
    assert expired  # the 400 s gap outlived everything
    assert rp.static_tokens["executor"] > min_cacheable_for(HAIKU)


def test_one_hour_ttl_replay_matches_a_trial_recorded_with_one_hour_breakpoints() -> None:
    five = _fix_order(record_trial())
    hour = _fix_order(record_trial(ttl="1h"))
    rp = replay(five, ttl="1h")
    assert [u for u in rp.predicted] == [c.usage for c in hour]
    assert sum(rp.write_1h_by_role().values()) == sum(c.usage.cache_write for c in hour)


def test_handback_cap_matches_the_trial_re_recorded_with_short_hand_backs() -> None:
    full = _fix_order(record_trial(handback_chars=4000))
    short = _fix_order(record_trial(handback_chars=1200))
    rp = replay(full, handback_cap=300)  # 1200 chars = 300 tokens at 4 chars per token
    assert [u for u in rp.predicted] == [c.usage for c in short]
    before = replay(full).usage_by_role()["orchestrator"]
    after = rp.usage_by_role()["orchestrator"]
    assert after.cache_read < before.cache_read


def test_caching_off_bills_every_prompt_token_as_input() -> None:
    calls = _fix_order(record_trial())
    rp = replay(calls, caching="none")
    for c, p in zip(rp.steps, rp.predicted):
        assert (p.input, p.cache_write, p.cache_read) == (c.prompt, 0, 0)


def test_negative_cap_and_unknown_model_are_user_errors() -> None:
    calls = _fix_order(record_trial())
    with pytest.raises(UserError, match="cap"):
        replay(calls, handback_cap=-1)
    odd = [c.model_copy(update={"model": "mystery-model"}) for c in calls]
    with pytest.raises(UserError, match="mystery-model"):
        replay(odd)
    assert replay(odd, min_cacheable=2048).steps


def test_trial_recorded_through_the_sdk_against_the_loopback_server_is_reproduced(tmp_path) -> None:
    """The real agent loop, the real anthropic SDK, the loopback server billing with PromptCache."""
    from orchbench.agent.orchestrate import orchestrator_agent
    from orchbench.agent.recorder import Recorder as CallRecorder
    from orchbench.agent.returns import ReturnPolicy
    from orchbench.models.anthropic_api import AnthropicModel
    from orchbench.models.base import RetryPolicy
    from tests.fakes.anthropic_server import FakeAnthropic
    from tests.fakes.policies import SolutionPolicy
    from tests.fakes.tools import EchoTool, WriteTool

    (tmp_path / "pkg").mkdir()
    reference = [{"tool": "echo", "input": {"text": f"step {i} " * (30 * i + 5)}} for i in range(6)]
    checks = [{"tool": "echo", "input": {"text": f"check {i} " * (40 * i + 10)}} for i in range(5)]
    script = SolutionPolicy(reference, final_text="report line\n" * 300, orchestrator_checks=checks)
    retry = RetryPolicy(max_retries=0, sleep=lambda s: None)
    with FakeAnthropic(policy=script, min_cacheable=300) as srv:
        opus = AnthropicModel(OPUS, api_key="k", base_url=srv.base_url, retry=retry)
        haiku = AnthropicModel(HAIKU, api_key="k", base_url=srv.base_url, retry=retry)
        rec = CallRecorder("tr")
        agent = orchestrator_agent(opus, haiku, [WriteTool(tmp_path), EchoTool()], root=tmp_path,
                                   policy=ReturnPolicy(kind="transcript_tail", max_chars=4000), cap=12,
                                   executor_cap=10, recorder=rec)
        agent.run("Do the task.")
    calls = rec.calls
    assert len(calls) >= 10 and sum(c.usage.cache_read for c in calls) > 0
    assert any(c.handback_chars for c in calls)
    rp = replay(calls, min_cacheable=300)
    assert rp.mismatches() == []
