"""The solo loop over the real Anthropic SDK and the loopback server: requests, records, outcomes."""

from __future__ import annotations

import pytest

from orchbench.agent.loop import Agent, is_blocked
from orchbench.agent.recorder import Recorder
from orchbench.models.anthropic_api import AnthropicModel
from orchbench.models.base import InfraError, RetryPolicy
from orchbench.records import Usage
from tests.fakes._http import Fault, Reply, text, tool_use
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.tools import EchoTool, WriteTool


class ListStore:
    """Records each call as it arrives, with how many requests the server had seen by then."""

    def __init__(self, srv: FakeAnthropic) -> None:
        self.srv, self.calls, self.seen_at = srv, [], []

    def add_call(self, call) -> int:
        self.calls.append(call)
        self.seen_at.append(len(self.srv.requests))
        return len(self.calls)


class Rates:
    """$ per million tokens, like a rate card (the real one is tested in test_run_trial)."""

    def cost(self, model: str, u: Usage) -> float:
        return (u.input * 5 + u.output * 25 + u.cache_write * 6.25 + u.cache_read * 0.5) / 1e6


def make(srv, tmp_path, *, cap=10, store=None):
    model = AnthropicModel("claude-opus-4-7", api_key="k", base_url=srv.base_url,
                           retry=RetryPolicy(max_retries=1, base_s=0.001, max_s=0.001, sleep=lambda s: None))
    rec = Recorder("t1", store=store, pricer=Rates())
    agent = Agent(model, [WriteTool(tmp_path), EchoTool()], system="sys " * 300, cap=cap, role="orchestrator",
                  recorder=rec)
    return agent, rec


def test_query_tools_observe_until_final_text(tmp_path):
    script = [
        tool_use("write_file", {"path": "a.txt", "text": "hello"}, id="t0"),
        Reply([{"type": "tool_use", "id": "t1a", "name": "echo", "input": {"text": "x"}},
               {"type": "tool_use", "id": "t1b", "name": "echo", "input": {"text": "y"}}]),
        text("All done."),
    ]
    with FakeAnthropic(script, min_cacheable=100) as srv:
        store = ListStore(srv)
        agent, rec = make(srv, tmp_path, store=store)
        result = agent.run("Write a.txt")
    assert (tmp_path / "a.txt").read_text() == "hello"
    assert (result.outcome, result.turns, result.final_text) == ("done", 3, "All done.")
    # The model saw each tool's answer, matched by id, in the next request.
    assert srv.bodies[1]["messages"][-1]["content"][0]["tool_use_id"] == "t0"
    assert srv.bodies[1]["messages"][-1]["content"][0]["content"] == "wrote a.txt"
    assert [b["content"] for b in srv.bodies[2]["messages"][-1]["content"]] == ["x", "y"]
    # Each call was stored as it completed, before the next request went out.
    assert store.seen_at == [1, 2, 3]
    calls = rec.calls
    assert [c.turn for c in calls] == [0, 1, 2] and {c.role for c in calls} == {"orchestrator"}
    assert [c.tool_names for c in calls] == [["write_file"], ["echo", "echo"], []]
    assert [c.usage for c in calls] == srv.billed
    assert calls[1].usage.cache_read > 0
    assert [c.cost_usd for c in calls] == [Rates().cost("", u) for u in srv.billed]
    assert calls[0].tool_results == [{"tool_use_id": "t0", "content": "wrote a.txt"}]
    assert calls[2].stop_reason == "end_turn" and calls[0].stop_reason == "tool_use"
    assert all(c.handback_chars is None and c.parent_turn is None for c in calls)


def test_blocked_answer_is_detected(tmp_path):
    with FakeAnthropic([text("BLOCKED: cannot reach the network")]) as srv:
        agent, _ = make(srv, tmp_path)
        result = agent.run("go")
    assert result.outcome == "blocked" and result.final_text.startswith("BLOCKED")
    assert is_blocked("  blocked - x") and not is_blocked("Not BLOCKED")


def test_turn_cap_stops_the_loop(tmp_path):
    with FakeAnthropic(policy=lambda v: tool_use("echo", {"text": "again"}, id=f"t{v.n_assistant}")) as srv:
        agent, rec = make(srv, tmp_path, cap=4)
        result = agent.run("loop forever")
    assert result.outcome == "cap" and result.turns == 4 and len(srv.requests) == 4 and len(rec.calls) == 4


def test_unknown_tool_and_crashing_tool_answer_the_model_with_an_error(tmp_path):
    script = [tool_use("rm_rf", {}, id="u1"), tool_use("echo", {"text": "boom"}, id="u2"), text("ok")]
    with FakeAnthropic(script) as srv:
        agent, _ = make(srv, tmp_path)
        assert agent.run("go").outcome == "done"
    r1 = srv.bodies[1]["messages"][-1]["content"][0]
    r2 = srv.bodies[2]["messages"][-1]["content"][0]
    assert r1["is_error"] is True and "unknown tool 'rm_rf'" in r1["content"]
    assert r2["is_error"] is True and "echo exploded" in r2["content"]


def test_provider_failure_mid_trial_raises_infra_error_and_keeps_earlier_calls(tmp_path):
    script = [tool_use("echo", {"text": "1"}, id="a"), Fault("credit")]
    with FakeAnthropic(script) as srv:
        store = ListStore(srv)
        agent, _ = make(srv, tmp_path, store=store)
        with pytest.raises(InfraError, match="credit balance is too low"):
            agent.run("go")
    assert len(store.calls) == 1 and store.calls[0].usage == srv.billed[0]


def test_context_overflow_ends_the_loop_as_the_agents_failure(tmp_path):
    with FakeAnthropic([tool_use("echo", {"text": "1"}, id="a"), Fault("context")]) as srv:
        agent, _ = make(srv, tmp_path)
        result = agent.run("go")
    assert result.outcome == "overflow" and "prompt is too long" in result.final_text


def test_any_stop_but_tool_use_ends_the_loop_max_tokens_included(tmp_path):
    """As in the paper's harness: a reply cut by max_tokens ends the loop, its tool calls unrun."""
    cut = Reply([{"type": "text", "text": "Let me write"},
                 {"type": "tool_use", "id": "t0", "name": "write_file", "input": {"path": "a.txt", "text": "x"}}],
                stop_reason="max_tokens")
    with FakeAnthropic([cut, text("never asked")]) as srv:
        agent, rec = make(srv, tmp_path)
        result = agent.run("go")
    assert (result.outcome, result.turns, result.final_text) == ("done", 1, "Let me write")
    assert len(srv.requests) == 1 and not (tmp_path / "a.txt").exists()
    assert rec.calls[0].stop_reason == "max_tokens" and rec.calls[0].tool_results == []


def test_no_cap_but_a_deadline_hands_back_the_last_text(tmp_path):
    clock = iter([0.0, 1.0, 2.0, 700.0])
    step = Reply([{"type": "text", "text": "working"},
                  {"type": "tool_use", "id": "t", "name": "echo", "input": {"text": "x"}}])
    with FakeAnthropic([step, step, step, step]) as srv:
        agent, _ = make(srv, tmp_path, cap=None)
        agent.deadline_s, agent.clock = 600, lambda: next(clock)
        result = agent.run("go")
    assert (result.outcome, result.turns, result.final_text) == ("timeout", 2, "working")
    assert len(srv.requests) == 2
