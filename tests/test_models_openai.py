"""The OpenAI-compatible adapter through the real `openai` SDK against the loopback server."""

from __future__ import annotations

import json

import pytest

from orchbench.arms import ModelConfig
from orchbench.errors import UserError
from orchbench.models.base import ContextOverflow, InfraError, RetryPolicy
from orchbench.models.factory import check_keys, ollama_base_url
from orchbench.models.openai_api import OpenAIModel
from tests.fakes._http import Fault, Reply, text, tool_use
from tests.fakes.openai_server import FakeOpenAI

TOOLS = [{"name": "bash", "description": "run a command",
          "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}]

MESSAGES = [
    {"role": "user", "content": "Make the tests pass."},
    {"role": "assistant", "content": [
        {"type": "text", "text": "Looking."},
        {"type": "tool_use", "id": "call_1", "name": "bash", "input": {"command": "pytest -q"}}]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "1 failed"}]},
]


class Sleeps(list):
    def __call__(self, s: float) -> None:
        self.append(s)


def model(srv: FakeOpenAI, sleeps: Sleeps | None = None, **kw) -> OpenAIModel:
    retry = RetryPolicy(max_retries=2, base_s=0.001, max_s=0.002, sleep=sleeps if sleeps is not None else Sleeps())
    return OpenAIModel("gpt-test", api_key="sk-o", base_url=srv.base_url, retry=retry, **kw)


def test_messages_and_tools_are_translated_to_chat_completions():
    with FakeOpenAI([text("ok")], api_key="sk-o") as srv:
        model(srv).complete(system="be brief", messages=MESSAGES, tools=TOOLS)
    body = srv.bodies[0]
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "Make the tests pass."},
        {"role": "assistant", "content": "Looking.", "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "bash", "arguments": json.dumps({"command": "pytest -q"})}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "1 failed"},
    ]
    assert body["tools"] == [{"type": "function", "function": {
        "name": "bash", "description": "run a command", "parameters": TOOLS[0]["input_schema"]}}]
    assert srv.requests[0].headers["authorization"] == "Bearer sk-o"


def test_tool_calls_come_back_anthropic_shaped_and_usage_normalised():
    with FakeOpenAI([tool_use("bash", {"command": "ls"}, id="call_9"), text("done")], min_cacheable=50) as srv:
        m = model(srv)
        r1 = m.complete(system="s" * 400, messages=MESSAGES, tools=TOOLS)
        r2 = m.complete(system="s" * 400, messages=MESSAGES + [
            {"role": "assistant", "content": r1.content},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_9", "content": "a"}]}],
            tools=TOOLS)
    assert r1.content == [{"type": "tool_use", "id": "call_9", "name": "bash", "input": {"command": "ls"}}]
    assert r1.stop_reason == "tool_use" and r2.stop_reason == "end_turn" and r2.text == "done"
    assert [r1.usage, r2.usage] == srv.billed
    assert r1.usage.cache_read == 0 and r2.usage.cache_read > 0 and r2.usage.cache_write == 0
    # input is the prompt minus the cached part, as Anthropic counts it
    total_prompt = srv.bodies and sum(1 for _ in srv.bodies)
    assert total_prompt == 2 and r2.usage.input < r1.usage.input


def test_broken_tool_arguments_reach_the_tool_as_an_error_not_a_crash():
    bad = Reply([{"type": "tool_use", "id": "c", "name": "bash", "input": {}}])
    with FakeOpenAI([bad]) as srv:
        # Make the server send a string that is not JSON.
        orig = srv.reply_json

        def broken(body, reply):
            payload, usage = orig(body, reply)
            payload["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = "{not json"
            return payload, usage

        srv.reply_json = broken  # type: ignore[method-assign]
        r = model(srv).complete(system="", messages=MESSAGES[:1], tools=TOOLS)
    assert r.content[0]["input"] == {"_unparsed_arguments": "{not json"}


@pytest.mark.parametrize("fault", [Fault("429", retry_after=0), Fault("500"), Fault("529"), Fault("drop")])
def test_transient_faults_are_retried(fault):
    sleeps = Sleeps()
    with FakeOpenAI([fault, text("ok")]) as srv:
        r = model(srv, sleeps).complete(system="", messages=MESSAGES[:1], tools=[])
    assert r.text == "ok" and len(srv.requests) == 2 and len(sleeps) == 1


def test_exhausted_retries_keep_the_error_text():
    with FakeOpenAI([Fault("500")] * 3) as srv, pytest.raises(InfraError, match="The server had an error"):
        model(srv).complete(system="", messages=MESSAGES[:1], tools=[])
    assert len(srv.requests) == 3


@pytest.mark.parametrize("kind,expect", [("credit", "insufficient_quota"), ("auth", "invalid_api_key")])
def test_quota_and_auth_fail_at_once(kind, expect):
    sleeps = Sleeps()
    with FakeOpenAI([Fault(kind), text("never")]) as srv, pytest.raises(InfraError, match=expect):
        model(srv, sleeps).complete(system="", messages=MESSAGES[:1], tools=[])
    assert len(srv.requests) == 1 and sleeps == []


def test_context_length_is_context_overflow():
    with FakeOpenAI([Fault("context")]) as srv, pytest.raises(ContextOverflow):
        model(srv).complete(system="", messages=MESSAGES[:1], tools=[])


def test_ollama_host_forms():
    assert ollama_base_url({}) == "http://localhost:11434/v1"
    assert ollama_base_url({"OLLAMA_HOST": "0.0.0.0:11434"}) == "http://127.0.0.1:11434/v1"
    assert ollama_base_url({"OLLAMA_HOST": "https://gpu.lan:443/"}) == "https://gpu.lan:443/v1"


def test_local_openai_compatible_server_needs_no_key_but_openai_does():
    check_keys([ModelConfig(provider="openai", model="m", base_url="http://127.0.0.1:1/v1")], env={})
    with pytest.raises(UserError, match="OPENAI_API_KEY"):
        check_keys([ModelConfig(provider="openai", model="gpt-5")], env={})
    with pytest.raises(UserError, match="MY_KEY"):
        check_keys([ModelConfig(provider="openai", model="m", api_key_env="MY_KEY")], env={})


def test_output_cap_parameter_by_server_kind():
    openai_proper = OpenAIModel("gpt-5", api_key="x", max_tokens=100)
    local = OpenAIModel("q", api_key="x", base_url="http://127.0.0.1:1/v1", max_tokens=100, provider="ollama")
    assert openai_proper.request_params(system="", messages=MESSAGES[:1], tools=[])["max_completion_tokens"] == 100
    params = local.request_params(system="", messages=MESSAGES[:1], tools=[])
    assert params["max_tokens"] == 100 and "max_completion_tokens" not in params
