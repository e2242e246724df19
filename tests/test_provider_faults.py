"""Provider faults through the real SDKs: a billed reply that cannot be used is stored, marked, and
ends the trial as infra_error (never a traceback); a reply without usage is stored as unknown usage;
a trickling or stalled server ends within the request deadline."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from orchbench.agent.loop import Agent
from orchbench.agent.recorder import USAGE_UNKNOWN, Recorder
from orchbench.arms import load_arm
from orchbench.models.anthropic_api import AnthropicModel
from orchbench.models.base import BadReply, InfraError, RetryPolicy
from orchbench.models.openai_api import OpenAIModel
from orchbench.records import Call
from orchbench.runner.trial import run_trial
from orchbench.store import Store
from orchbench.tasks.spec import load_task
from tests.fakes.faulty_server import (
    USAGE,
    FaultyServer,
    Raw,
    Stall,
    Trickle,
    anthropic_message,
    openai_completion,
)
from tests.fakes.tools import EchoTool

TINY = Path(__file__).parent / "fakes" / "tinytask" / "tiny.toml"
ECHO = {"type": "tool_use", "id": "toolu_1", "name": "echo", "input": {"text": "x"}}
DONE = [{"type": "text", "text": "done"}]


class Calls:
    def __init__(self) -> None:
        self.calls: list[Call] = []

    def add_call(self, call: Call) -> int:
        self.calls.append(call)
        return len(self.calls)

    def update_call(self, call_id: int, call: Call) -> None:
        self.calls[call_id - 1] = call


def retry(deadline_s: float = 60) -> RetryPolicy:
    return RetryPolicy(max_retries=2, base_s=0.001, max_s=0.002, sleep=lambda s: None, deadline_s=deadline_s)


def agent(model: Any, sink: Calls) -> Agent:
    return Agent(model, [EchoTool()], system="sys", cap=5, role="orchestrator",
                 recorder=Recorder("t", store=sink, pricer=None))


def anthropic(srv: FaultyServer, deadline_s: float = 60) -> AnthropicModel:
    return AnthropicModel("claude-opus-4-7", api_key="k", base_url=srv.base_url, retry=retry(deadline_s))


def openai_model(srv: FaultyServer, deadline_s: float = 60) -> OpenAIModel:
    return OpenAIModel("gpt-5", api_key="k", base_url=srv.base_url + "/v1", retry=retry(deadline_s))


ANTHROPIC_FAULTS = {
    "malformed-json": b'{"id": "msg_1", "type": "message", "content": [',
    "not-an-object": b'"hello"',
    "negative-usage": anthropic_message(DONE, usage={**USAGE, "input_tokens": -5}),
    "text-usage": anthropic_message(DONE, usage={**USAGE, "output_tokens": "many"}),
    "tool-use-without-id": anthropic_message([{"type": "tool_use", "name": "echo", "input": {}}]),
}
OPENAI_FAULTS = {
    "malformed-json": b'{"id": "chatcmpl-1", "choices": [',
    "negative-usage": openai_completion({"content": "done"}, usage={"prompt_tokens": -1, "completion_tokens": 2}),
    "tool-call-without-id": openai_completion({"content": None, "tool_calls": [
        {"type": "function", "function": {"name": "echo", "arguments": "{}"}}]}),
}


@pytest.mark.parametrize("body", ANTHROPIC_FAULTS.values(), ids=ANTHROPIC_FAULTS.keys())
def test_unusable_anthropic_reply_is_stored_marked_and_ends_as_infra(body: bytes) -> None:
    sink = Calls()
    with FaultyServer([Raw(body)]) as srv:
        with pytest.raises(BadReply):
            agent(anthropic(srv), sink).run("go")
        assert len(srv.requests) == 1  # a billed reply is not asked for again
    [call] = sink.calls
    assert call.error and "unusable reply" in call.error
    if call.usage.total == 0:
        assert USAGE_UNKNOWN in call.error  # billed, amount unknown: never a silent $0


@pytest.mark.parametrize("body", OPENAI_FAULTS.values(), ids=OPENAI_FAULTS.keys())
def test_unusable_openai_reply_is_stored_marked_and_ends_as_infra(body: bytes) -> None:
    sink = Calls()
    with FaultyServer([Raw(body)]) as srv, pytest.raises(BadReply):
        agent(openai_model(srv), sink).run("go")
    [call] = sink.calls
    assert call.error and "unusable reply" in call.error


def test_invalid_usage_keeps_the_content_and_a_bad_tool_call_keeps_the_usage() -> None:
    sink = Calls()
    body = anthropic_message([{"type": "tool_use", "name": "echo", "input": {}}])
    with FaultyServer([Raw(body)]) as srv, pytest.raises(BadReply):
        agent(anthropic(srv), sink).run("go")
    assert sink.calls[0].usage.input == USAGE["input_tokens"]  # priced and counted, though unusable
    assert USAGE_UNKNOWN not in (sink.calls[0].error or "")


@pytest.mark.parametrize("make,body", [
    (anthropic, anthropic_message([ECHO], drop=["usage"])),
    (openai_model, openai_completion({"content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "echo", "arguments": "{}"}}]}, drop=["usage"])),
], ids=["anthropic", "openai"])
def test_reply_without_usage_is_stored_as_unknown_not_zero(make: Any, body: bytes) -> None:
    sink = Calls()
    final = anthropic_message(DONE) if make is anthropic else openai_completion({"content": "done"})
    with FaultyServer([Raw(body), Raw(final)]) as srv:
        result = agent(make(srv), sink).run("go")
    assert result.outcome == "done" and len(sink.calls) == 2
    assert USAGE_UNKNOWN in (sink.calls[0].error or "") and sink.calls[0].tool_results  # the loop went on
    assert sink.calls[1].error is None


@pytest.mark.timeout(120)
@pytest.mark.parametrize("step", [Trickle(anthropic_message(DONE), every_s=0.5), Stall()], ids=["trickle", "stall"])
def test_trickling_and_stalled_servers_end_within_the_request_deadline(step: Any) -> None:
    with FaultyServer([step]) as srv:
        t0 = time.monotonic()
        with pytest.raises(InfraError, match="request deadline of 2 s"):
            agent(anthropic(srv, deadline_s=2), Calls()).run("go")
        assert time.monotonic() - t0 < 30


@pytest.mark.timeout(300)
@pytest.mark.parametrize("step", [Trickle(anthropic_message(DONE), every_s=0.5), Stall(),
                                  Raw(ANTHROPIC_FAULTS["malformed-json"])], ids=["trickle", "stall", "malformed"])
def test_trial_ends_as_infra_error_with_the_call_accounted(tmp_path: Path, step: Any) -> None:
    arm = load_arm("A")
    with FaultyServer([step]) as srv, Store(tmp_path / "runs.db") as store:
        t = run_trial(load_task(str(TINY)), arm.with_base_url(srv.base_url), store=store, rate_card="paper-2026-06",
                      env={"ANTHROPIC_API_KEY": "k"}, retry=retry(deadline_s=2))
        assert t.status == "infra_error" and store.trial(t.id).status == "infra_error"
        assert len(store.calls(t.id)) == srv.answered  # every whole reply (billed) is stored


@pytest.mark.timeout(600)
def test_cli_runs_every_trial_after_an_unusable_reply(tmp_path: Path) -> None:
    from orchbench.cli import app

    db = tmp_path / "runs.db"
    with FaultyServer([Raw(ANTHROPIC_FAULTS["negative-usage"])]) as srv:
        r = CliRunner().invoke(app, ["run", "--arm", "A", "--task", str(TINY), "--trials", "3", "--db", str(db),
                                     "--base-url", srv.base_url, "--rate-card", "paper-2026-06"],
                               env={"ANTHROPIC_API_KEY": "k"})
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    with Store(db, readonly=True) as store:
        trials = store.trials()
        assert [t.status for t in trials] == ["infra_error"] * 3
        assert all(len(store.calls(t.id)) == 1 for t in trials)
