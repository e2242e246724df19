"""The real Claude Code and mini-swe-agent, run as arms in the sandbox through the recording proxy,
against loopback servers that speak the provider's wire format (streaming included), on the tiny task.

The agents come from `orchbench agents install` (the set-up installs them); where npm or uv is
missing these tests skip, saying so.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from orchbench.agent.external import agent_report
from orchbench.agent.install import Installed, install, installed, recipe
from orchbench.arms import load_arm
from orchbench.records import Usage
from orchbench.runner.trial import run_trial
from orchbench.sandbox import sandbox_available
from orchbench.store import Store
from orchbench.tasks.spec import load_task
from tests.fakes.claude_code import ClaudeCodePolicy, MiniPolicy, aider_policy, claude_code_steps
from tests.fakes.streaming import StreamingAnthropic, StreamingOpenAI

TINY = Path(__file__).parent / "fakes" / "tinytask" / "tiny.toml"
FIX = "sed -i 's/return a - b/return a + b/' calc/__init__.py"
TEST = "python -m unittest discover -s tests -t ."
OPUS, HAIKU = "claude-opus-4-7", "claude-haiku-4-5-20251001"

pytestmark = pytest.mark.skipif(not sandbox_available(), reason="bubblewrap cannot start a sandbox here")


def _agent(name: str) -> Installed:
    got = installed(name)
    if got is not None:
        return got
    tool = "npm" if recipe(name).npm else "uv"
    if shutil.which(tool) is None:
        pytest.skip(f"{name} installs with {tool}, which is not on PATH here")
    return install(name, log=lambda _line: None)


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-host-only")


def _run(arm_name: str, server_url: str, db: Path) -> tuple[object, list]:
    arm = load_arm(arm_name).with_base_url(server_url)
    with Store(db) as store:
        trial = run_trial(load_task(TINY), arm, store=store)
        return trial, store.calls(trial.id)


def _per_model(calls: list) -> dict[str, Usage]:
    out: dict[str, Usage] = defaultdict(Usage)
    for c in calls:
        out[c.model] = out[c.model] + c.usage
    return dict(out)


def test_claude_code_with_haiku_sub_agents_is_recorded_call_by_call(tmp_path: Path) -> None:
    agent = _agent("claude-code")
    policy = ClaudeCodePolicy([FIX, TEST])
    with StreamingAnthropic(policy=policy, min_cacheable=1024, api_key="sk-ant-host-only") as server:
        trial, calls = _run("claude-code-haiku", server.root_url, tmp_path / "r.db")
    assert trial.status == "success", (trial.error, trial.failure_reason)  # type: ignore[attr-defined]
    assert all(v.body.get("stream") for v in policy.seen)  # Claude Code streams every call
    # Every call the server billed is stored, to the token, in order.
    assert [c.usage for c in calls] == server.billed
    assert f"agent claude-code {agent.version}" in trial.notes  # type: ignore[attr-defined]
    # The sub-agent ran on Haiku and its calls are the executor's, nested under the delegating turn.
    roles = {(c.model, c.role) for c in calls}
    assert roles == {(OPUS, "orchestrator"), (HAIKU, "executor")}
    delegating = next(c for c in calls if "Agent" in c.tool_names)
    assert all(c.parent_turn == delegating.turn for c in calls if c.role == "executor")
    assert delegating.handback_chars and "Fixed it: the tests pass." in delegating.tool_results[0]["content"]
    # Claude Code's own per-model account equals ours.
    report = agent_report(trial)  # type: ignore[arg-type]
    assert report is not None
    theirs = {m: Usage(input=u["inputTokens"], output=u["outputTokens"], cache_write=u["cacheCreationInputTokens"],
                       cache_read=u["cacheReadInputTokens"]) for m, u in report["modelUsage"].items()}
    assert theirs == _per_model(calls)
    assert report["total_cost_usd"] == pytest.approx(trial.total_cost, rel=1e-6)  # type: ignore[attr-defined]


def test_claude_code_alone_keeps_every_call_on_the_orchestrator(tmp_path: Path) -> None:
    _agent("claude-code")
    policy = ClaudeCodePolicy(steps=claude_code_steps(load_task(TINY).reference))  # Read, Edit, Bash
    with StreamingAnthropic(policy=policy, min_cacheable=1024) as server:
        trial, calls = _run("claude-code", server.root_url, tmp_path / "r.db")
    assert trial.status == "success", (trial.error, trial.failure_reason)  # type: ignore[attr-defined]
    assert [c.usage for c in calls] == server.billed
    assert {(c.model, c.role) for c in calls} == {(OPUS, "orchestrator")}
    assert [n for c in calls for n in c.tool_names] == ["Agent", "Read", "Read", "Edit", "Bash"]


def test_mini_swe_agent_through_the_anthropic_api(tmp_path: Path) -> None:
    _agent("mini-swe-agent")
    with StreamingAnthropic(policy=MiniPolicy([FIX, TEST]), min_cacheable=1024) as server:
        trial, calls = _run("mini-swe-agent", server.root_url, tmp_path / "r.db")
    assert trial.status == "success", (trial.error, trial.failure_reason)  # type: ignore[attr-defined]
    assert [c.usage for c in calls] == server.billed and len(calls) == 3
    assert {c.role for c in calls} == {"orchestrator"} and calls[0].tool_names == ["bash"]
    report = agent_report(trial)  # type: ignore[arg-type]
    assert report is not None and report["exit_status"] == "Submitted" and report["api_calls"] == 3


def test_mini_swe_agent_through_an_openai_compatible_server(tmp_path: Path) -> None:
    _agent("mini-swe-agent")
    arm_file = tmp_path / "mini-openai.toml"
    arm_file.write_text(
        'kind = "external"\nbase = "mini-swe-agent"\napi = "openai"\n'
        'orchestrator = { provider = "openai", model = "gpt-5-mini" }\n'
        'command = ["mini", "--yolo", "--exit-immediately", "--task", "{prompt}", "--model", "openai/{orchestrator}",\n'
        '  "--output", "{outdir}/trajectory.json", "--cost-limit", "0", "-c", "mini.yaml",\n'
        '  "-c", "model.model_kwargs.api_base={base_url}/v1", "-c", "model.model_kwargs.api_key={api_key}"]\n')
    with StreamingOpenAI(policy=MiniPolicy([FIX]), min_cacheable=1) as server:
        trial, calls = _run(str(arm_file), server.base_url, tmp_path / "r.db")
    assert trial.status == "success", (trial.error, trial.failure_reason)  # type: ignore[attr-defined]
    assert [c.usage for c in calls] == server.billed and server.billed[1].cache_read > 0
    assert all(c.model == "gpt-5-mini" and c.role == "orchestrator" for c in calls)


def test_aider_architect_runs_offline_against_the_proxy(tmp_path: Path) -> None:
    _agent("aider")
    with StreamingAnthropic(policy=aider_policy, min_cacheable=1024) as server:
        trial, calls = _run("aider-architect", server.root_url, tmp_path / "r.db")
    assert trial.status == "success", (trial.error, trial.failure_reason)  # type: ignore[attr-defined]
    assert [c.usage for c in calls] == server.billed
    assert [(c.role, c.model) for c in calls] == [("orchestrator", OPUS), ("executor", HAIKU)]
    assert calls[1].parent_turn == 0  # the editor serves the architect's turn
