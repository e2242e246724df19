"""Done-when: `orchbench run --arm claude-code-haiku --task typer-T3 --base-url URL` against a server
that scripts a solution succeeds, and `orchbench show` displays the delegation and its hand-back.

The real Claude Code (Opus main agent, Haiku sub-agent doing the reference solution with Read, Write,
Edit and Bash) in the sandbox behind the recording proxy, then the full typer judge: minutes, `slow`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchbench.store import Store
from orchbench.tasks.spec import load_task
from tests.fakes.claude_code import ClaudeCodePolicy, claude_code_steps
from tests.fakes.streaming import StreamingAnthropic
from tests.helpers import run_cli
from tests.test_external_agents import _agent

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]


def test_claude_code_haiku_solves_typer_t3_and_show_nests_the_sub_agent(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    _agent("claude-code")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-host-only")
    policy = ClaudeCodePolicy(steps=claude_code_steps(load_task("typer-T3").reference),
                              handback="Added typer/_version_banner.py and exported it; its tests pass.")
    db = tmp_path / "t3.db"
    with StreamingAnthropic(policy=policy, api_key="sk-ant-host-only") as server:
        code, out, err = run_cli(["run", "--arm", "claude-code-haiku", "--task", "typer-T3",
                                  "--base-url", server.root_url, "--db", str(db)], capsys)
    assert code == 0, out + err
    assert " success " in out, out
    trial_id = re.search(r"^(\S*claude-code-haiku-typer-T3-\S+)", out, re.MULTILINE).group(1)  # type: ignore[union-attr]
    with Store(db, readonly=True) as store:
        calls = store.calls(trial_id)
    assert [c.usage for c in calls] == server.billed
    assert {c.role for c in calls if "haiku" in c.model} == {"executor"}
    code, out, err = run_cli(["show", trial_id, "--db", str(db)], capsys)
    assert code == 0, err
    rows = [line for line in out.splitlines() if line.startswith(("orch ", " └ exec "))]
    # The sub-agent's calls sit between the delegating call and the main agent's next one.
    assert rows[0].startswith("orch 0") and rows[-1].startswith("orch 1")
    assert len(rows) == len(calls) and all(r.startswith(" └ exec ") for r in rows[1:-1])
    assert "handed back at orchestrator turn 0" in out and "Added typer/_version_banner.py" in out
