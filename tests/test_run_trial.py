"""run_trial end to end on a tiny repo: real workspace, real tools and sandbox, real judge, the real
SDKs talking to loopback servers, the real store and the paper's rate card."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchbench.arms import HAIKU, OPUS, load_arm
from orchbench.errors import UserError
from orchbench.models.base import RetryPolicy
from orchbench.records import Usage
from orchbench.runner.trial import UNSAFE_NOTE, run_trial
from orchbench.tasks.spec import load_task
from tests.fakes._http import Fault, text, tool_use
from tests.fakes.anthropic_server import CREDIT_MESSAGE, FakeAnthropic
from tests.fakes.policies import SolutionPolicy

TINY = Path(__file__).parent / "fakes" / "tinytask" / "tiny.toml"
KEY = {"ANTHROPIC_API_KEY": "sk-test"}
# The paper's prices, $ per million tokens: input, output, cache write (1.25x), cache read (0.1x).
PAPER = {OPUS: (15.0, 75.0, 18.75, 1.5), HAIKU: (1.0, 5.0, 1.25, 0.1)}


def paper_cost(model: str, u: Usage) -> float:
    i, o, w, r = PAPER[model]
    return (u.input * i + u.output * o + u.cache_write * w + u.cache_read * r) / 1e6


@pytest.fixture
def task():
    return load_task(str(TINY))


@pytest.fixture
def store(tmp_path):
    from orchbench.store import Store

    with Store(tmp_path / "runs.db") as s:
        yield s


@pytest.fixture(scope="module")
def card():
    from orchbench.pricing import load_rate_card

    return load_rate_card("paper-2026-06")


def fast() -> RetryPolicy:
    return RetryPolicy(max_retries=2, base_s=0.001, max_s=0.002, sleep=lambda s: None)


def trial(task, arm_name, srv, store, card, **kw):
    arm = load_arm(arm_name).with_base_url(srv.base_url)
    return run_trial(task, arm, store=store, rate_card=card, env=KEY, retry=fast(), **kw)


def test_oracle_needs_no_key_and_succeeds(task, store, card):
    t = run_trial(task, load_arm("oracle"), store=store, rate_card=card, env={})
    assert t.status == "success" and t.iterations == 4 and t.total_cost == 0
    assert store.trial(t.id).status == "success" and len(store.calls(t.id)) == 4


def test_arm_a_solo_success_and_costs_to_the_token_and_cent(task, store, card):
    with FakeAnthropic(policy=SolutionPolicy(task.reference), min_cacheable=200) as srv:
        t = trial(task, "A", srv, store, card)
    assert t.status == "success", (t.error, t.failure_reason)
    calls = sorted(store.calls(t.id), key=lambda c: c.started_at)
    assert [c.usage for c in calls] == srv.billed and len(calls) == 4
    assert {c.model for c in calls} == {OPUS} and {c.role for c in calls} == {"solo"}
    for c in calls:
        assert c.cost_usd == pytest.approx(paper_cost(OPUS, c.usage), abs=1e-9)
    stored = store.trial(t.id)
    assert stored.total_cost == pytest.approx(sum(paper_cost(OPUS, u) for u in srv.billed), abs=1e-9)
    assert stored.usage["solo"] == sum(srv.billed, Usage()) and stored.models == {"solo": OPUS}
    assert stored.iterations == 4 and stored.verdict.passed
    # The second turn re-read the cached prefix: the paper policy worked end to end.
    assert calls[1].usage.cache_read > 0
    # What went over the wire: the repo's own tools, the task prompt, the paper breakpoints.
    first = srv.bodies[0]
    assert [t["name"] for t in first["tools"]] == ["str_replace_editor", "bash"]
    assert first["messages"][0]["content"][0]["text"] == task.prompt


def test_arm_c_orchestrated_records_executor_calls_and_handback(task, store, card):
    with FakeAnthropic(policy=SolutionPolicy(task.reference, final_text="Fixed add. " * 300),
                       min_cacheable=200) as srv:
        t = trial(task, "C", srv, store, card)
    assert t.status == "success", (t.error, t.failure_reason)
    calls = sorted(store.calls(t.id), key=lambda c: c.started_at)
    assert [c.usage for c in calls] == srv.billed
    assert [c.model for c in calls] == [b["model"] for b in srv.bodies]
    orch = [c for c in calls if c.role == "orchestrator"]
    ex = [c for c in calls if c.role == "executor"]
    assert len(orch) == 2 and len(ex) == 4 and {c.parent_turn for c in ex} == {0}
    assert orch[0].handback_chars == len("executor (4 iters): ") + 1500
    for c in calls:
        assert c.cost_usd == pytest.approx(paper_cost(c.model, c.usage), abs=1e-9)
    stored = store.trial(t.id)
    assert set(stored.cost) == {"orchestrator", "executor"}
    assert stored.cost["executor"] == pytest.approx(sum(paper_cost(HAIKU, c.usage) for c in ex), abs=1e-9)
    assert stored.models == {"orchestrator": OPUS, "executor": HAIKU}


def test_credit_error_is_infra_error_with_text_and_keeps_calls(task, store, card):
    first = tool_use("str_replace_editor", task.reference[0].input, id="toolu_1")
    # a transient 429 (retried), one good turn, then the credit runs out
    with FakeAnthropic([Fault("429", retry_after=0), first, Fault("credit")]) as srv:
        t = trial(task, "A", srv, store, card)
    assert t.status == "infra_error" and CREDIT_MESSAGE in t.error
    stored = store.trial(t.id)
    assert stored.status == "infra_error" and CREDIT_MESSAGE in stored.error and not stored.counted
    assert [c.usage for c in store.calls(t.id)] == srv.billed and stored.total_cost > 0
    assert len(srv.requests) == 3


@pytest.mark.parametrize("kind,expect", [("529", "overloaded_error"), ("drop", "connection error"),
                                         ("500", "api_error")])
def test_retries_exhausted_is_infra_error(task, store, card, kind, expect):
    with FakeAnthropic([Fault(kind)] * 3) as srv:
        t = trial(task, "A", srv, store, card)
    assert t.status == "infra_error" and expect in t.error and len(srv.requests) == 3
    assert store.trial(t.id).status == "infra_error" and store.calls(t.id) == []


def test_a_blocked_answer_is_judged_and_flagged(task, store, card):
    with FakeAnthropic([text("BLOCKED: the tests need network access")]) as srv:
        t = trial(task, "A", srv, store, card)
    # Judged anyway (as in the paper): nothing was fixed, so the verdict fails; the flag stays.
    assert t.status == "failure" and t.blocked and t.counted and t.verdict is not None
    assert not t.verdict.passed and t.failure_reason.startswith("the agent answered BLOCKED: the tests need")
    stored = store.trial(t.id)
    assert stored.blocked and stored.status == "failure"
    assert any(n.startswith("blocked: BLOCKED: the tests need network access") for n in stored.notes)
    # An agent that fixed the code and still answered BLOCKED succeeds: success comes from the verdict.
    policy = SolutionPolicy(task.reference, final_text="BLOCKED: unsure the fix is complete")
    with FakeAnthropic(policy=policy) as srv:
        t2 = trial(task, "A", srv, store, card)
    assert t2.status == "success" and t2.blocked and t2.failure_reason is None


def test_the_final_judge_runs_afresh_and_records_its_time(task, store, card):
    """Two trials ending in the same tree: the second's verdict is not a cache hit (a hit would
    shorten its recorded wall time); the verdict records the judge's own time."""
    verdicts = []
    for _ in range(2):
        with FakeAnthropic(policy=SolutionPolicy(task.reference)) as srv:
            t = trial(task, "A", srv, store, card)
        assert t.status == "success" and t.verdict is not None
        verdicts.append(store.trial(t.id).verdict)
    assert [v.cached for v in verdicts] == [False, False]
    assert all(0 < v.duration_s < t.wall_s for v in verdicts)


def test_turn_cap_without_a_fix_is_a_failure(task, store, card):
    arm = load_arm("A").with_base_url("http://x")
    view = {"tool": "str_replace_editor", "input": {"command": "view", "path": "calc/__init__.py"}}
    with FakeAnthropic(policy=SolutionPolicy([view] * 50)) as srv:
        arm = arm.model_copy(update={"caps": {"default": 3}}).with_base_url(srv.base_url)
        t = run_trial(task, arm, store=store, rate_card=card, env=KEY, retry=fast())
    assert t.status == "failure" and t.failure_reason.startswith("turn cap 3 reached")
    assert t.iterations == 3 and len(srv.requests) == 3


def test_missing_key_fails_before_any_workspace(task, card, monkeypatch):
    import orchbench.tasks.workspace as wsmod

    monkeypatch.setattr(wsmod, "new_workspace", lambda *a, **k: pytest.fail("workspace was made"))
    with pytest.raises(UserError, match="ANTHROPIC_API_KEY"):
        run_trial(task, load_arm("C"), rate_card=card, env={})


def test_no_sandbox_refuses_unless_unsafe(task, store, card, monkeypatch):
    import orchbench.sandbox as sb
    from orchbench.cli.hints import cli_message
    from orchbench.errors import NoSandbox

    monkeypatch.setattr(sb, "sandbox_available", lambda: False)
    with pytest.raises(NoSandbox, match="agent commands cannot be confined") as refused:
        run_trial(task, load_arm("oracle"), rate_card=card, env={})
    assert "--unsafe-no-sandbox" not in str(refused.value)  # a flag is the CLI's advice, not the library's
    assert "pass --unsafe-no-sandbox" in cli_message(refused.value)
    t = run_trial(task, load_arm("oracle"), store=store, rate_card=card, env={}, unsafe_no_sandbox=True)
    assert t.status == "success" and store.trial(t.id).notes == [UNSAFE_NOTE]


def test_unknown_model_price_fails_before_the_trial(task, card):
    arm = load_arm("A")
    arm = arm.model_copy(update={"orchestrator": arm.orchestrator.model_copy(update={"model": "claude-nova-9"})})
    with pytest.raises(UserError, match="claude-nova-9"):
        run_trial(task, arm, rate_card=card, env=KEY)


def test_arm_b_opus_with_a_local_executor_over_ollama(task, store, card):
    """Arm B's shape: Anthropic orchestrator, executor on Ollama's native API found through OLLAMA_HOST
    with file tools only, the wrapper's hand-back, executor tokens free, orchestrator pays to re-read it."""
    from tests.fakes.ollama_server import FakeOllama

    policy = SolutionPolicy(task.reference, final_text="Fixed add.")
    with FakeAnthropic(policy=policy, min_cacheable=200) as opus, FakeOllama(policy=policy) as qwen:
        arm = load_arm("B").with_base_url(opus.base_url)
        env = {**KEY, "OLLAMA_HOST": f"127.0.0.1:{qwen.port}"}
        t = run_trial(task, arm, store=store, rate_card=card, env=env, retry=fast())
    assert t.status == "success", (t.error, t.failure_reason)
    calls = sorted(store.calls(t.id), key=lambda c: c.started_at)
    ex = [c for c in calls if c.role == "executor"]
    orch = [c for c in calls if c.role == "orchestrator"]
    assert [c.usage for c in ex] == qwen.billed and [c.usage for c in orch] == opus.billed
    assert {c.model for c in ex} == {"qwen3.5:9b"} and all(c.cost_usd == 0 for c in ex)
    hb = orch[0].tool_results[0]["content"]
    assert hb.startswith("== executor qwen3.5:9b @ http://127.0.0.1:") and "Fixed add." in hb
    assert re.search(r"^d[rwx-]{9} .* calc$", hb, re.MULTILINE)  # the root listing, `ls -la` style
    assert hb.endswith("\n[exit=0]") and len(hb) <= 4000 + 60
    assert orch[0].handback_chars == len(hb)
    # the hand-back is part of what the orchestrator's last call had to read
    assert opus.bodies[-1]["messages"][-1]["content"][0]["content"] == hb
    assert store.trial(t.id).cost["executor"] == 0
    assert any(n.startswith("executor: ollama ") and "num_ctx 32768" in n for n in store.trial(t.id).notes)


class _Dies:
    """A model that answers one turn, then raises `exc` (an interrupt, or a harness bug)."""

    model = OPUS

    def __init__(self, exc: BaseException) -> None:
        self.exc, self.n = exc, 0

    def complete(self, *, system, messages, tools):
        from orchbench.models.base import ModelResponse

        self.n += 1
        if self.n > 1:
            raise self.exc
        return ModelResponse(content=[{"type": "tool_use", "id": "t1", "name": "str_replace_editor",
                                       "input": {"command": "view", "path": "calc/__init__.py"}}],
                             usage=Usage(input=100, output=10), model=OPUS, stop_reason="tool_use")


@pytest.mark.parametrize("exc,status", [(KeyboardInterrupt(), "interrupted"), (RuntimeError("bug"), "infra_error")])
def test_an_interrupt_or_a_bug_is_recorded_then_raised(task, store, card, exc, status):
    with pytest.raises(type(exc)):
        run_trial(task, load_arm("A"), store=store, rate_card=card, trial_id="dies",
                  model_factory=lambda cfg, role: _Dies(exc))
    stored = store.trial("dies")
    assert stored.status == status and type(exc).__name__ in stored.error
    (call,) = store.calls("dies")
    assert call.usage == Usage(input=100, output=10)
    assert stored.total_cost == pytest.approx(paper_cost(OPUS, call.usage), abs=1e-12)


def test_toml_arm_with_structured_handback_and_judge_summary(task, store, card, tmp_path):
    import json

    f = tmp_path / "bounded.toml"
    f.write_text('base = "C"\n[return_policy]\nkind = "structured"\nmax_tokens = 200\njudge = true\n')
    with FakeAnthropic(policy=SolutionPolicy(task.reference, final_text="Fixed. " * 400)) as srv:
        arm = load_arm(str(f)).with_base_url(srv.base_url)
        t = run_trial(task, arm, store=store, rate_card=card, env=KEY, retry=fast())
    assert t.status == "success" and t.arm == "bounded"
    orch = [c for c in store.calls(t.id) if c.role == "orchestrator"]
    hb = orch[0].tool_results[0]["content"]
    doc = json.loads(hb)
    assert len(hb) <= 800 and orch[0].handback_chars == len(hb)
    assert doc["status"] == "done" and doc["judge"].startswith("PASS")
    assert doc["files_changed"] == [{"path": "calc/__init__.py", "status": "modified", "added": 1, "removed": 1}]
