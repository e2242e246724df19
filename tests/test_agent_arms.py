"""Arms as data: the paper's presets, TOML arms, errors; the oracle and replay models."""

from __future__ import annotations

import pytest

from orchbench.arms import HAIKU, OPUS, QWEN, load_arm
from orchbench.errors import UserError
from orchbench.models.factory import make_model
from orchbench.models.scripted import ORACLE_FINAL, OracleModel, ReplayModel
from orchbench.records import Call, Usage


def test_presets_are_the_papers_arms():
    a, b, c, d = (load_arm(n) for n in "ABCD")
    assert (a.orchestrator.model, a.executor) == (OPUS, None)
    assert (b.orchestrator.model, b.executor.provider, b.executor.model) == (OPUS, "ollama", QWEN)
    assert (c.orchestrator.model, c.executor.provider, c.executor.model) == (OPUS, "anthropic", HAIKU)
    assert (d.orchestrator.model, d.executor) == (HAIKU, None)
    assert [[arm.cap_for(f"typer-T{i}") for i in (1, 2, 3)] for arm in (a, b, c, d)] == [
        [40, 40, 40], [80, 60, 60], [40, 40, 40], [100, 120, 80]]
    assert (b.executor_cap, b.executor_deadline_s, c.executor_cap, c.executor_deadline_s) == (None, 600, 20, None)
    assert (b.return_policy.kind, b.return_policy.max_chars) == ("cli_wrapper", 4000)
    assert (b.tool_profile, b.executor_tool_profile, c.executor_tool_profile) == ("paper", "paper-files", None)
    assert {arm.tool_profile for arm in (a, c, d)} == {"paper"} and {arm.prompts.set for arm in (a, b, c, d)} == {"paper"}
    assert {cfg.max_tokens for arm in (a, b, c, d) for _, cfg in arm.models()} == {4096}
    assert b.executor.num_ctx == 32768
    assert (c.return_policy.kind, c.return_policy.max_chars) == ("final_text", 1500)
    assert {arm.caching for arm in (a, b, c, d)} == {"paper"}
    assert "delegate" in b.system_prompt and "BLOCKED" in a.system_prompt


def test_toml_arm_from_a_base_preset(tmp_path):
    f = tmp_path / "bounded.toml"
    f.write_text('base = "C"\n[return_policy]\nkind = "structured"\nmax_tokens = 300\n[caps]\ndefault = 30\n')
    arm = load_arm(str(f))
    assert arm.name == "bounded" and arm.executor.model == HAIKU and arm.orchestrator.model == OPUS
    assert arm.return_policy.kind == "structured" and arm.return_policy.max_tokens == 300
    assert arm.cap_for("typer-T3") == 30 and arm.caching == "paper"


def test_toml_arm_from_scratch(tmp_path):
    f = tmp_path / "local.toml"
    f.write_text('name = "pair"\ncaching = "none"\n[orchestrator]\nprovider = "openai"\nmodel = "gpt-5"\n'
                 '[executor]\nprovider = "openai"\nmodel = "q"\nbase_url = "http://127.0.0.1:8000/v1"\n')
    arm = load_arm(str(f))
    assert arm.name == "pair" and arm.executor.base_url.endswith("/v1") and arm.cap_for("x") == 40


@pytest.mark.parametrize("body,expect", [
    ('[orchestrator]\nprovider = "anthropic"\nmodle = "x"\n', "key 'orchestrator.modle': unknown key"),
    ('[orchestrator]\nprovider = "bedrock"\nmodel = "x"\n', "key 'orchestrator.provider'"),
    ('caching = "always"\n[orchestrator]\nprovider = "anthropic"\nmodel = "x"\n', "key 'caching'"),
    ('base = "Z"\n', "key 'base'"),
    ('[orchestrator\n', "not valid TOML"),
    ('name = "x"\n', "key 'orchestrator': required key is missing"),
])
def test_bad_arm_files_say_where(tmp_path, body, expect):
    f = tmp_path / "bad.toml"
    f.write_text(body)
    with pytest.raises(UserError) as err:
        load_arm(str(f))
    assert str(f) in str(err.value) and expect in str(err.value)


def test_unknown_arm_name():
    with pytest.raises(UserError, match="A, B, C, D, oracle"):
        load_arm("E")


def test_base_url_points_cloud_models_but_not_ollama():
    b = load_arm("B").with_base_url("http://127.0.0.1:9")
    assert b.orchestrator.base_url == "http://127.0.0.1:9" and b.executor.base_url is None


class _Hints:
    def __init__(self, **kw):
        self.outer_turns = kw.get("outer_turns")
        self.outer_turns_by_arm = kw.get("by_arm", {})
        self.executor_turns = kw.get("executor_turns")


class _Task:
    def __init__(self, name, caps, reference=()):
        self.name, self.caps, self.reference = name, caps, list(reference)


def test_caps_fall_back_to_task_hints():
    c = load_arm("C")
    assert c.cap_for(_Task("mine", _Hints(by_arm={"C": 12}))) == 12
    assert c.cap_for(_Task("mine", _Hints(outer_turns=7))) == 7
    assert c.cap_for(_Task("typer-T1", _Hints(outer_turns=7))) == 40  # the arm's own cap wins
    assert c.executor_cap_for(_Task("mine", _Hints(executor_turns=5))) == 5


def test_oracle_steps_through_the_reference_then_finishes():
    ref = [{"tool": "bash", "input": {"command": "true"}},
           {"tool": "str_replace_editor", "input": {"command": "view", "path": "a.py"}}]
    arm = load_arm("oracle")
    m = make_model(arm.orchestrator, task=_Task("t", _Hints(), ref), env={})
    msgs: list[dict] = [{"role": "user", "content": "go"}]
    names = []
    for _ in range(3):
        r = m.complete(system="", messages=msgs, tools=[])
        names.append(r.tool_uses[0]["name"] if r.tool_uses else r.text)
        msgs += [{"role": "assistant", "content": r.content}, {"role": "user", "content": "ok"}]
        assert r.usage == Usage()
    assert names == ["bash", "str_replace_editor", ORACLE_FINAL]


def test_oracle_needs_a_reference():
    with pytest.raises(UserError, match="no \\[\\[reference\\]\\]"):
        make_model(load_arm("oracle").orchestrator, task=_Task("t", _Hints()), env={})
    with pytest.raises(UserError, match="reference step 0"):
        OracleModel([{"tool": "bash"}])


def test_anthropic_arm_without_key_names_the_variable():
    with pytest.raises(UserError, match="ANTHROPIC_API_KEY"):
        make_model(load_arm("A").orchestrator, env={})


def test_replay_answers_recorded_content_in_order():
    calls = [Call(trial_id="t", role="orchestrator", turn=i, model="m", usage=Usage(input=i),
                  content=[{"type": "text", "text": f"c{i}"}]) for i in range(2)]
    m = ReplayModel(calls)
    assert [m.complete(system="", messages=[], tools=[]).text for _ in range(3)] == [
        "c0", "c1", "BLOCKED: replay exhausted"]
