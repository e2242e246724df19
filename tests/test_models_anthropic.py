"""The Anthropic adapter through the real `anthropic` SDK against the loopback Messages server."""

from __future__ import annotations

import pytest

from orchbench.models.anthropic_api import AnthropicModel
from orchbench.models.base import ContextOverflow, InfraError, RetryPolicy
from orchbench.records import Usage
from tests.fakes._http import Fault, Reply, text, tool_use
from tests.fakes.anthropic_server import CREDIT_MESSAGE, FakeAnthropic

TOOLS = [
    {"name": "str_replace_editor", "description": "edit files",
     "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}},
    {"name": "bash", "description": "run a command",
     "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}},
]
SYSTEM = "You are a careful engineer. " * 40


class Sleeps(list):
    def __call__(self, s: float) -> None:
        self.append(s)


def fast_retry(n: int = 3) -> tuple[RetryPolicy, Sleeps]:
    sleeps = Sleeps()
    return RetryPolicy(max_retries=n, base_s=0.001, max_s=0.002, sleep=sleeps), sleeps


def model(srv: FakeAnthropic, caching: str = "paper", **kw) -> AnthropicModel:
    retry, _ = fast_retry()
    kw.setdefault("retry", retry)
    return AnthropicModel("claude-opus-4-7", api_key="sk-test", base_url=srv.base_url, caching=caching, **kw)


def conversation(n_results: int) -> list[dict]:
    msgs: list[dict] = [{"role": "user", "content": "Fix the bug in typer/main.py. " * 10}]
    for i in range(n_results):
        msgs.append({"role": "assistant", "content": [
            {"type": "tool_use", "id": f"toolu_{i}", "name": "bash", "input": {"command": f"ls {i}"}}]})
        msgs.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": f"toolu_{i}", "content": f"out {i} " * 50}]})
    return msgs


def breakpoints(body: dict) -> list[str]:
    where = []
    for i, t in enumerate(body.get("tools") or []):
        if "cache_control" in t:
            where.append(f"tools[{i}]")
    if isinstance(body.get("system"), list):
        where += [f"system[{i}]" for i, b in enumerate(body["system"]) if "cache_control" in b]
    for i, m in enumerate(body["messages"]):
        if isinstance(m["content"], list):
            where += [f"messages[{i}][{j}]" for j, b in enumerate(m["content"]) if "cache_control" in b]
    return where


def test_paper_caching_marks_system_last_tool_and_newest_user_block():
    with FakeAnthropic([text("a"), text("b")], api_key="sk-test") as srv:
        m = model(srv)
        m.complete(system=SYSTEM, messages=conversation(0), tools=TOOLS)
        m.complete(system=SYSTEM, messages=conversation(2), tools=TOOLS)
    first, second = srv.bodies
    assert breakpoints(first) == ["tools[1]", "system[0]", "messages[0][0]"]
    # Only the newest user block carries a breakpoint; older ones are sent clean.
    assert breakpoints(second) == ["tools[1]", "system[0]", "messages[4][0]"]
    assert second["system"][0] == {"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}
    assert first["model"] == "claude-opus-4-7" and first["max_tokens"] == 8192
    # Tool schemas are sent as given (plus the breakpoint on the last one).
    assert [{k: v for k, v in t.items() if k != "cache_control"} for t in second["tools"]] == TOOLS
    hdr = srv.requests[0].headers
    assert hdr.get("x-api-key") == "sk-test" or hdr.get("authorization") == "Bearer sk-test"
    assert "anthropic-version" in hdr


def test_no_caching_sends_no_cache_control():
    with FakeAnthropic([text("a")]) as srv:
        model(srv, caching="none").complete(system=SYSTEM, messages=conversation(1), tools=TOOLS)
    body = srv.bodies[0]
    assert breakpoints(body) == [] and body["system"] == SYSTEM
    assert srv.billed[0].cache_read == 0 and srv.billed[0].cache_write == 0


def test_usage_is_what_the_server_billed_including_cache_reads():
    with FakeAnthropic([tool_use("bash", {"command": "ls"}), text("done")], min_cacheable=100) as srv:
        m = model(srv)
        r1 = m.complete(system=SYSTEM, messages=conversation(1), tools=TOOLS)
        r2 = m.complete(system=SYSTEM, messages=conversation(2), tools=TOOLS)
    assert [r1.usage, r2.usage] == srv.billed
    assert r1.usage.cache_write > 0 and r1.usage.cache_read == 0
    # The second request re-reads everything the first one wrote.
    assert r2.usage.cache_read == r1.usage.cache_write + r1.usage.input
    assert r1.content == [{"type": "tool_use", "id": "toolu_01", "name": "bash", "input": {"command": "ls"}}]
    assert r1.stop_reason == "tool_use" and r2.stop_reason == "end_turn" and r2.text == "done"
    assert r1.model == "claude-opus-4-7" and r1.latency_s > 0


@pytest.mark.parametrize("fault", [Fault("429", retry_after=0), Fault("500"), Fault("529"), Fault("drop")])
def test_transient_faults_are_retried(fault):
    retry, sleeps = fast_retry()
    with FakeAnthropic([fault, fault, text("ok")]) as srv:
        r = model(srv, retry=retry).complete(system="s", messages=conversation(0), tools=[])
    assert r.text == "ok" and len(srv.requests) == 3 and len(sleeps) == 2
    assert r.usage == srv.billed[0]


def test_retry_after_header_is_honoured():
    retry, sleeps = fast_retry()
    with FakeAnthropic([Fault("429", retry_after=7), text("ok")]) as srv:
        model(srv, retry=retry).complete(system="s", messages=conversation(0), tools=[])
    assert sleeps == [7.0]


@pytest.mark.parametrize("kind,expect", [("529", "overloaded_error: Overloaded"), ("500", "api_error"),
                                         ("drop", "connection error"), ("429", "rate_limit_error")])
def test_retries_exhausted_raise_infra_error_with_the_text(kind, expect):
    retry, sleeps = fast_retry(2)
    with FakeAnthropic([Fault(kind)] * 3) as srv, pytest.raises(InfraError) as err:
        model(srv, retry=retry).complete(system="s", messages=conversation(0), tools=[])
    assert len(srv.requests) == 3 and len(sleeps) == 2
    assert expect in str(err.value) and "gave up after 3 attempts" in str(err.value)


@pytest.mark.parametrize("kind,expect", [("credit", CREDIT_MESSAGE), ("auth", "authentication_error")])
def test_credit_and_auth_fail_at_once(kind, expect):
    retry, sleeps = fast_retry()
    with FakeAnthropic([Fault(kind), text("never")]) as srv, pytest.raises(InfraError) as err:
        model(srv, retry=retry).complete(system="s", messages=conversation(0), tools=[])
    assert len(srv.requests) == 1 and sleeps == []
    assert expect in str(err.value)


def test_wrong_key_is_an_auth_infra_error():
    with FakeAnthropic([text("never")], api_key="right") as srv, \
            pytest.raises(InfraError, match="HTTP 401 authentication_error"):
        model(srv).complete(system="s", messages=conversation(0), tools=[])


def test_prompt_too_long_is_the_agents_context_overflow():
    with FakeAnthropic([Fault("context")]) as srv, pytest.raises(ContextOverflow, match="prompt is too long"):
        model(srv).complete(system="s", messages=conversation(0), tools=[])


def test_slow_reply_times_out_and_is_retried():
    retry, sleeps = fast_retry()
    with FakeAnthropic([Reply([{"type": "text", "text": "late"}], delay_s=1.5), text("ok")]) as srv:
        r = model(srv, retry=retry, timeout_s=0.3).complete(system="s", messages=conversation(0), tools=[])
    assert r.text == "ok" and len(srv.requests) == 2 and len(sleeps) == 1


def test_a_slow_reply_within_the_timeout_is_waited_for():
    with FakeAnthropic([Reply([{"type": "text", "text": "slow"}], delay_s=0.3)]) as srv:
        r = model(srv, timeout_s=5).complete(system="s", messages=conversation(0), tools=[])
    assert r.text == "slow" and len(srv.requests) == 1 and r.latency_s >= 0.3


def test_usage_sum_normalises_to_records_usage():
    with FakeAnthropic([text("x" * 400)], min_cacheable=10**9) as srv:
        r = model(srv).complete(system="abcd" * 10, messages=[{"role": "user", "content": "q" * 8}], tools=[])
    # 40 chars of system = 10 tokens, 8 chars of user = 2, nothing cacheable; 400 chars out = 100.
    assert r.usage == Usage(input=12, output=100)


def test_caching_never_touches_the_loops_history():
    import copy

    msgs = conversation(3)
    tools = [dict(t) for t in TOOLS]
    before = (copy.deepcopy(msgs), copy.deepcopy(tools))
    with FakeAnthropic([text("a")]) as srv:
        model(srv).complete(system=SYSTEM, messages=msgs, tools=tools)
    assert (msgs, tools) == before
    assert breakpoints(srv.bodies[0]) == ["tools[1]", "system[0]", "messages[6][0]"]
