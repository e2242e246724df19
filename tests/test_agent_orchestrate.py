"""Orchestrated loops: delegation, the executor's own loop and cap, and every return policy as the
orchestrator's next request carries it."""

from __future__ import annotations

import json

import pytest

from orchbench.agent.orchestrate import orchestrator_agent
from orchbench.agent.recorder import DELEGATE, Recorder
from orchbench.agent.returns import ExecutorReport, FileChange, ReturnPolicy, head_tail, render
from orchbench.models.anthropic_api import AnthropicModel
from orchbench.models.base import RetryPolicy
from tests.fakes._http import Reply
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.policies import SolutionPolicy
from tests.fakes.tools import EchoTool, WriteTool

LONG = "".join(f"line {i:04d} of the executor's report\n" for i in range(200))  # ~7.4k chars
REFERENCE = [
    {"tool": "write_file", "input": {"path": "pkg/new.py", "text": "def f():\n    return 1\n"}},
    {"tool": "echo", "input": {"text": "checks: 3 passed " * 20}},
]


def run(tmp_path, policy: ReturnPolicy, *, executor_cap=20, judge=None, script=None):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "old.py").write_text("x = 1\n")
    sp = script or SolutionPolicy(REFERENCE, final_text=LONG)
    retry = RetryPolicy(max_retries=0, sleep=lambda s: None)
    with FakeAnthropic(policy=sp, min_cacheable=50) as srv:
        opus = AnthropicModel("claude-opus-4-7", api_key="k", base_url=srv.base_url, retry=retry)
        haiku = AnthropicModel("claude-haiku-4-5-20251001", api_key="k", base_url=srv.base_url, retry=retry)
        rec = Recorder("tr", pricer=None)
        agent = orchestrator_agent(opus, haiku, [WriteTool(tmp_path), EchoTool()], root=tmp_path, policy=policy,
                                   cap=10, executor_cap=executor_cap, recorder=rec, judge=judge)
        result = agent.run("Add pkg/new.py")
    return result, rec, srv


def handback_of(srv) -> str:
    """The delegate tool's result as the orchestrator's second request carried it."""
    orch = [b for b in srv.bodies if any(t["name"] == DELEGATE for t in b.get("tools", []))]
    (block,) = [b for b in orch[1]["messages"][-1]["content"] if b["type"] == "tool_result"]
    assert block["tool_use_id"] == "toolu_o000"
    return block["content"]


def test_final_text_policy_is_the_paper_haiku_arm(tmp_path):
    result, rec, srv = run(tmp_path, ReturnPolicy(kind="final_text", max_chars=1500))
    assert result.outcome == "done" and (tmp_path / "pkg" / "new.py").exists()
    hb = handback_of(srv)
    assert hb == "executor (3 iters): " + LONG[:1500]
    # the orchestrator's tools: the same tools plus delegate_to_executor, whose schema is fixed
    orch_tools = srv.bodies[0]["tools"]
    assert [t["name"] for t in orch_tools] == ["write_file", "echo", DELEGATE]
    assert orch_tools[-1]["input_schema"]["required"] == ["instruction"]
    assert orch_tools[-1]["cache_control"] == {"type": "ephemeral"}
    # the executor got the instruction as its first user message, and no delegate tool
    ex_body = next(b for b in srv.bodies if b["model"].startswith("claude-haiku"))
    assert [t["name"] for t in ex_body["tools"]] == ["write_file", "echo"]
    assert ex_body["messages"][0]["content"][0]["text"].startswith("Apply the change")
    # records: executor calls nest under orchestrator turn 0; handback recorded on that call
    orch = [c for c in rec.calls if c.role == "orchestrator"]
    ex = [c for c in rec.calls if c.role == "executor"]
    assert [c.turn for c in orch] == [0, 1] and [c.turn for c in ex] == [0, 1, 2]
    assert {c.parent_turn for c in ex} == {0} and orch[0].parent_turn is None
    assert orch[0].handback_chars == len(hb) and orch[1].handback_chars is None
    assert orch[0].tool_names == [DELEGATE]
    # every call's usage is what the server billed, in request order
    by_time = sorted(rec.calls, key=lambda c: c.started_at)
    assert [c.usage for c in by_time] == srv.billed
    assert [c.model for c in by_time] == [b["model"] for b in srv.bodies]
    # the hand-back sits in the orchestrator's cached prefix on its later turn
    assert orch[1].usage.cache_read > 0


def test_transcript_tail_policy_is_the_paper_qwen_arm(tmp_path):
    _, rec, srv = run(tmp_path, ReturnPolicy(kind="transcript_tail", max_chars=4000))
    hb = handback_of(srv)
    head, tail = hb.split("\n[... ", 1)
    assert len(head) == 2000 and hb.endswith("[exit status: 0]")
    assert head.startswith("> write_file ") and "chars cut ...]" in tail
    assert tail.removesuffix("\n[exit status: 0]").endswith(LONG[-2000:])
    assert rec.calls[-1].role == "orchestrator"


def test_diff_stat_policy(tmp_path):
    _, _, srv = run(tmp_path, ReturnPolicy(kind="diff_stat", max_chars=2000))
    hb = handback_of(srv)
    assert hb == ("[executor done after 3 turns, exit status 0]\n"
                  " pkg/new.py | 2 ++\n 1 files changed, 2 insertions(+), 0 deletions(-)")


def test_structured_policy_is_bounded_and_carries_the_judge_summary(tmp_path):
    pol = ReturnPolicy(kind="structured", max_tokens=120, judge=True)
    _, _, srv = run(tmp_path, pol, judge=lambda: "mypy ok; ruff ok; pytest 3 passed")
    hb = handback_of(srv)
    doc = json.loads(hb)
    assert len(hb) <= 120 * 4
    assert doc["status"] == "done" and doc["turns"] == 3 and doc["judge"] == "mypy ok; ruff ok; pytest 3 passed"
    assert doc["files_changed"] == [{"path": "pkg/new.py", "status": "added", "added": 2, "removed": 0}]
    assert LONG.startswith(doc["summary"].rstrip("…"))


def test_executor_cap_is_its_own(tmp_path):
    script = SolutionPolicy(REFERENCE * 5, final_text="never reached")
    result, rec, srv = run(tmp_path, ReturnPolicy(kind="final_text"), executor_cap=3, script=script)
    ex = [c for c in rec.calls if c.role == "executor"]
    assert len(ex) == 3
    assert handback_of(srv) == "executor (3 iters): "  # its last text: it only ever called tools
    assert result.outcome == "done"
    assert rec.notes == ["delegation at orchestrator turn 0: executor cap after 3 turns, "
                         + rec.notes[0].rsplit(", ", 1)[1]]


def test_structured_trims_file_list_before_losing_status():
    changes = [FileChange(f"pkg/module_{i}.py", 1, 1) for i in range(100)]
    rep = ExecutorReport(final_text="x" * 5000, turns=4, outcome="cap", changes=changes, judge_summary="red")
    out = render(rep, ReturnPolicy(kind="structured", max_tokens=100))
    doc = json.loads(out)
    assert len(out) <= 400 and doc["status"] == "cap" and doc["turns"] == 4
    assert doc["files_changed"][-1].startswith("... ") and doc["files_changed"][-1].endswith(" more")


@pytest.mark.parametrize("n", [10, 11, 4000])
def test_head_tail(n):
    s = "".join(chr(97 + i % 26) for i in range(5000))
    out = head_tail(s, n)
    assert out.startswith(s[: n // 2]) and out.endswith(s[-(n // 2):]) and f"{5000 - 2 * (n // 2)} chars cut" in out
    assert head_tail("short", 10) == "short"


def test_delegate_rejects_an_empty_instruction(tmp_path):
    from orchbench.agent.orchestrate import DelegateTool

    tool = DelegateTool(None, [], root=tmp_path, policy=ReturnPolicy(), cap=1, recorder=Recorder("x"))  # type: ignore[arg-type]
    out = tool.run({"instruction": "  "})
    assert out.is_error and "instruction" in out.text


def test_executor_provider_failure_ends_the_trial_as_infra_error(tmp_path):
    from orchbench.models.base import InfraError
    from tests.fakes._http import Fault

    script = SolutionPolicy(REFERENCE)

    def policy(view):
        return Fault("credit") if view.model.startswith("claude-haiku") else script(view)

    with pytest.raises(InfraError, match="credit balance"):
        run(tmp_path, ReturnPolicy(), script=policy)


def test_a_capped_executor_hands_back_its_last_text(tmp_path):
    def talkative(view):
        reply = SolutionPolicy(REFERENCE * 5)(view)
        return Reply([{"type": "text", "text": f"working on step {view.n_assistant}"}, *reply.content])

    _, _, srv = run(tmp_path, ReturnPolicy(kind="final_text"), executor_cap=3, script=talkative)
    assert handback_of(srv) == "executor (3 iters): working on step 2"
