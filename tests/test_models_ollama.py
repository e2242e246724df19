"""The Ollama adapter through the official `ollama` client against a loopback server speaking
Ollama's native API: the context length applies, overflows are errors, provenance is recorded."""

from __future__ import annotations

import pytest

from orchbench.arms import ModelConfig
from orchbench.models.base import ContextOverflow, InfraError, RetryPolicy
from orchbench.models.factory import make_model
from orchbench.models.ollama_api import OllamaModel
from orchbench.records import Usage
from tests.fakes._http import Fault, Reply, text, tool_use
from tests.fakes.ollama_server import DIGEST, TRAINED_CTX, VERSION, FakeOllama

TOOLS = [{"name": "glob", "description": "find files",
          "input_schema": {"type": "object", "properties": {"pattern": {"type": "string"}}, "required": ["pattern"]}}]
MESSAGES = [
    {"role": "user", "content": "Find the tests."},
    {"role": "assistant", "content": [
        {"type": "text", "text": "Looking."},
        {"type": "tool_use", "id": "ollama_call_0", "name": "glob", "input": {"pattern": "tests/*.py"}}]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "ollama_call_0", "content": "tests/a.py"}]},
]


def model(srv: FakeOllama, **kw) -> OllamaModel:
    retry = RetryPolicy(max_retries=2, base_s=0.001, max_s=0.002, sleep=lambda s: None)
    return OllamaModel("qwen3.5:9b", host=srv.host, retry=retry, **{"num_ctx": 8192, "max_tokens": 4096, **kw})


def test_a_call_in_ollamas_wire_format_with_the_context_length_set():
    with FakeOllama([tool_use("glob", {"pattern": "**/*.py"})]) as srv:
        r = model(srv).complete(system="be brief", messages=MESSAGES, tools=TOOLS)
    body = srv.bodies[-1]
    assert srv.requests[-1].path == "/api/chat" and body["stream"] is False
    assert body["options"] == {"num_ctx": 8192, "num_predict": 4096}
    assert body["messages"][0] == {"role": "system", "content": "be brief"}
    assert body["messages"][2]["tool_calls"] == [{"function": {"name": "glob", "arguments": {"pattern": "tests/*.py"}}}]
    assert body["messages"][3] == {"role": "tool", "tool_name": "glob", "content": "tests/a.py"}
    assert body["tools"][0]["function"]["name"] == "glob"
    # a tool call comes back as a tool_use block with an id of ours, and ends its turn as tool_use
    (use,) = r.tool_uses
    assert use["name"] == "glob" and use["input"] == {"pattern": "**/*.py"} and use["id"]
    assert r.stop_reason == "tool_use" and r.usage == Usage(input=srv.billed[0].input, output=srv.billed[0].output)


def test_provenance_names_version_digest_and_context():
    with FakeOllama([text("hi"), text("again")]) as srv:
        m = model(srv)
        m.complete(system="", messages=MESSAGES[:1], tools=[])
        m.complete(system="", messages=MESSAGES[:1], tools=[])
        host = srv.host
    assert m.provenance == (f"ollama {VERSION} at {host}: qwen3.5:9b digest {DIGEST}, num_ctx 8192, "
                            f"trained context {TRAINED_CTX}")
    assert [r.path for r in srv.requests].count("/api/show") == 1  # looked up once


@pytest.mark.parametrize("overflow", ["error", "truncate"])
def test_a_prompt_longer_than_the_context_is_an_error_never_a_silent_cut(overflow):
    long = [{"role": "user", "content": "x" * 40_000}]  # ~10k tokens
    with FakeOllama([text("I only saw the end")], overflow=overflow) as srv, pytest.raises(ContextOverflow):
        model(srv, num_ctx=4096).complete(system="", messages=long, tools=[])


def test_server_faults_are_retried_then_infra_error():
    with FakeOllama([Fault("500"), text("ok")]) as srv:
        assert model(srv).complete(system="", messages=MESSAGES[:1], tools=[]).text == "ok"
    with FakeOllama([Fault("500")] * 3) as srv, pytest.raises(InfraError, match="runner process"):
        model(srv).complete(system="", messages=MESSAGES[:1], tools=[])


def test_max_tokens_reply_and_unreachable_server():
    with FakeOllama([Reply([{"type": "text", "text": "cut sh"}], stop_reason="max_tokens")]) as srv:
        assert model(srv).complete(system="", messages=MESSAGES[:1], tools=[]).stop_reason == "max_tokens"
        port = srv.port
    with pytest.raises(InfraError, match="connection error"):
        OllamaModel("qwen3.5:9b", host=f"http://127.0.0.1:{port}",
                    retry=RetryPolicy(max_retries=1, sleep=lambda s: None)).complete(
            system="", messages=MESSAGES[:1], tools=[])


def test_ollama_is_reached_through_ollama_host_on_its_native_api():
    with FakeOllama([text("hi from qwen")]) as srv:
        cfg = ModelConfig(provider="ollama", model="qwen3.5:9b", num_ctx=16384)
        m = make_model(cfg, env={"OLLAMA_HOST": f"127.0.0.1:{srv.port}"})
        r = m.complete(system="", messages=MESSAGES[:1], tools=[])
    assert r.text == "hi from qwen" and srv.bodies[-1]["model"] == "qwen3.5:9b"
    assert srv.requests[-1].path == "/api/chat" and srv.bodies[-1]["options"]["num_ctx"] == 16384
