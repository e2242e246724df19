"""The recording proxy between the real SDK clients and the loopback provider servers."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from orchbench.pricing import load_rate_card
from orchbench.proxy import RecordingProxy, StoreSink, WireRecorder
from orchbench.proxy.server import upstream_url
from orchbench.records import Trial, Usage
from orchbench.store import Store
from tests.fakes._http import Reply, text, tool_use
from tests.fakes.streaming import StreamingAnthropic, StreamingOpenAI

OPUS, HAIKU = "claude-opus-4-7", "claude-haiku-4-5-20251001"
ROLES = {OPUS: "orchestrator", HAIKU: "executor"}


def _client(proxy: RecordingProxy) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=proxy.url, api_key="placeholder", max_retries=0)


def _ask(client: anthropic.Anthropic, model: str, messages: list[dict], *, stream: bool = True) -> anthropic.types.Message:
    params = {"model": model, "max_tokens": 100, "messages": messages,
              "tools": [{"name": "Agent", "description": "delegate", "input_schema": {"type": "object"}}]}
    if not stream:
        return client.messages.create(**params)  # type: ignore[call-overload, no-any-return]
    with client.messages.stream(**params) as s:  # type: ignore[arg-type]
        return s.get_final_message()


def test_streamed_anthropic_calls_are_recorded_with_the_usage_the_server_billed(tmp_path: Path) -> None:
    script = [tool_use("Agent", {"description": "fix", "prompt": "fix add"}, id="toolu_A"),
              text("I fixed it."), text("All done.")]
    with StreamingAnthropic(script, min_cacheable=1) as server:
        rec = WireRecorder("t1", ROLES, pricer=load_rate_card(None))
        with RecordingProxy({"anthropic": server.root_url}, rec) as proxy:
            c = _client(proxy)
            first = _ask(c, OPUS, [{"role": "user", "content": "fix the bug"}])
            _ask(c, HAIKU, [{"role": "user", "content": "fix add"}], stream=False)
            _ask(c, OPUS, [{"role": "user", "content": "fix the bug"},
                           {"role": "assistant", "content": [b.model_dump() for b in first.content]},
                           {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_A",
                                                         "content": "I fixed it."}]}])
    assert first.content[0].type == "tool_use" and first.content[0].input == {"description": "fix", "prompt": "fix add"}
    calls = rec.calls
    assert [c.usage for c in calls] == server.billed
    assert [(c.role, c.turn, c.model) for c in calls] == [("orchestrator", 0, OPUS), ("executor", 0, HAIKU),
                                                          ("orchestrator", 1, OPUS)]
    assert calls[0].tool_names == ["Agent"] and calls[0].stop_reason == "tool_use"
    assert calls[1].parent_turn == 0 and calls[2].stop_reason == "end_turn"
    assert calls[0].handback_chars == len("I fixed it.")
    assert calls[0].tool_results == [{"tool_use_id": "toolu_A", "content": "I fixed it.", "is_error": False}]
    assert all(c.cost_usd > 0 and c.latency_s > 0 for c in calls)


def test_calls_are_stored_as_they_complete_and_hand_backs_amend_the_stored_call(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    with Store(db) as store:
        store.start_trial(Trial(id="t1", arm="x", task="y", status="running"))
    script = [tool_use("Agent", {"prompt": "go"}, id="toolu_B"), text("handed back"), text("end")]
    with StreamingAnthropic(script, min_cacheable=1) as server:
        rec = WireRecorder("t1", ROLES, sink=StoreSink(db))
        with RecordingProxy({"anthropic": server.root_url}, rec) as proxy:
            c = _client(proxy)
            first = _ask(c, OPUS, [{"role": "user", "content": "task"}])
            with Store(db, readonly=True) as s:
                assert [x.tool_names for x in s.calls("t1")] == [["Agent"]]  # stored before the next call
            _ask(c, HAIKU, [{"role": "user", "content": "go"}])
            _ask(c, OPUS, [{"role": "user", "content": "task"},
                           {"role": "assistant", "content": [b.model_dump() for b in first.content]},
                           {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_B",
                                                         "content": [{"type": "text", "text": "handed back"}]}]}])
    with Store(db, readonly=True) as s:
        stored = s.calls("t1")
    assert [x.usage for x in stored] == server.billed
    assert stored[0].handback_chars == len("handed back") and stored[1].parent_turn == 0


def test_a_model_the_arm_does_not_name_is_recorded_as_unknown_not_guessed() -> None:
    with StreamingAnthropic([text("hi")], min_cacheable=1) as server:
        rec = WireRecorder("t1", ROLES, pricer=load_rate_card(None))
        with RecordingProxy({"anthropic": server.root_url}, rec) as proxy:
            _ask(_client(proxy), "claude-mystery-1", [{"role": "user", "content": "x"}])
    assert rec.calls[0].role == "unknown" and rec.calls[0].usage == server.billed[0]


def test_openai_streams_get_their_usage_chunk_and_are_recorded_to_the_token() -> None:
    script = [Reply([{"type": "text", "text": "let me look"},
                     {"type": "tool_use", "id": "call_1", "name": "bash", "input": {"command": "ls"}}]),
              text("done")]
    with StreamingOpenAI(script, min_cacheable=1) as server:
        rec = WireRecorder("t1", {"gpt-5": "orchestrator"})
        with RecordingProxy({"openai": server.base_url}, rec) as proxy:
            client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="placeholder", max_retries=0)
            msgs: list = [{"role": "user", "content": "list files"}]
            chunks = list(client.chat.completions.create(model="gpt-5", messages=msgs, stream=True))
            msgs += [{"role": "assistant", "content": "let me look", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "bash", "arguments": '{"command": "ls"}'}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "a.py"}]
            client.chat.completions.create(model="gpt-5", messages=msgs)
    assert any(ch.usage for ch in chunks)  # the client saw the usage chunk the proxy asked for
    assert [c.usage for c in rec.calls] == server.billed and server.billed[1].cache_read > 0
    first = rec.calls[0]
    assert first.content == [{"type": "text", "text": "let me look"},
                             {"type": "tool_use", "id": "call_1", "name": "bash", "input": {"command": "ls"}}]
    assert first.stop_reason == "tool_calls" and first.tool_results[0]["content"] == "a.py"


def test_the_first_event_reaches_the_client_before_the_reply_is_complete() -> None:
    # The server sends message_start and then waits until the client has it: a buffering proxy deadlocks.
    with StreamingAnthropic([text("streamed through")], min_cacheable=1) as server:
        server.hold = threading.Event()
        with RecordingProxy({"anthropic": server.root_url}, WireRecorder("t", ROLES)) as proxy, \
                _client(proxy).messages.stream(model=OPUS, max_tokens=10,
                                               messages=[{"role": "user", "content": "x"}]) as s:
            first = next(iter(s))
            assert first.type == "message_start"
            server.hold.set()
            assert s.get_final_message().content[0].text == "streamed through"  # type: ignore[union-attr]


def test_the_proxy_adds_the_key_the_agent_never_had() -> None:
    with StreamingAnthropic([text("ok")], api_key="sk-real", min_cacheable=1) as server, \
            RecordingProxy({"anthropic": server.root_url}, WireRecorder("t", ROLES),
                           keys={"anthropic": "sk-real"}) as proxy:
        _ask(_client(proxy), OPUS, [{"role": "user", "content": "x"}])
    assert server.requests[0].headers["x-api-key"] == "sk-real"
    assert "placeholder" not in str(server.requests[0].headers)


def test_errors_pass_through_and_are_recorded_as_errors() -> None:
    from tests.fakes._http import Fault

    with StreamingAnthropic([Fault("529")]) as server:
        rec = WireRecorder("t", ROLES)
        with RecordingProxy({"anthropic": server.root_url}, rec) as proxy, pytest.raises(anthropic.APIStatusError) as e:
            _ask(_client(proxy), OPUS, [{"role": "user", "content": "x"}])
    assert e.value.status_code == 529
    assert rec.calls[0].usage == Usage() and "529" in (rec.calls[0].error or "")


def test_the_unix_socket_listener_serves_the_same_api(tmp_path: Path) -> None:
    sock = tmp_path / "p.sock"
    with StreamingAnthropic([text("via unix")], min_cacheable=1) as server:
        rec = WireRecorder("t", ROLES)
        with RecordingProxy({"anthropic": server.root_url}, rec, unix_path=sock, tcp=False):
            http = httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)))
            body = {"model": OPUS, "max_tokens": 10, "stream": True, "messages": [{"role": "user", "content": "x"}]}
            with http.stream("POST", "http://proxy/v1/messages", json=body) as r:
                events = [line for line in r.iter_lines() if line.startswith("event:")]
    assert events[0] == "event: message_start" and events[-1] == "event: message_stop"
    assert rec.calls[0].content == [{"type": "text", "text": "via unix"}]
    assert rec.calls[0].usage == server.billed[0]


@pytest.mark.parametrize(("base", "path", "want"), [
    ("http://h:1", "/v1/messages?beta=true", "http://h:1/v1/messages?beta=true"),
    ("http://h:1/v1", "/v1/chat/completions", "http://h:1/v1/chat/completions"),
    ("http://h:1/api/", "/v1/messages", "http://h:1/api/v1/messages"),
])
def test_upstream_urls_never_double_v1(base: str, path: str, want: str) -> None:
    assert upstream_url(base, path) == want


def test_an_unreachable_upstream_is_a_502_and_a_stored_failed_call() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    rec = WireRecorder("t", ROLES)
    with RecordingProxy({"anthropic": dead}, rec) as proxy, pytest.raises(anthropic.APIStatusError) as e:
        _ask(_client(proxy), OPUS, [{"role": "user", "content": "x"}])
    assert e.value.status_code == 502 and "upstream" in str(e.value)
    assert rec.calls[0].error and rec.calls[0].error.startswith("HTTP 502") and rec.calls[0].role == "orchestrator"
