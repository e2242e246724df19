"""The `paper` preset's arms A-D as the paper's harness ran them, checked from what loopback Anthropic
and Ollama servers receive: max_tokens, the tools each role is offered, what a `view` of
`typer/main.py` returns, each arm's hand-back, and the prompts' directives.

The repository is a small stand-in with the same layout (a `typer/main.py` of ~83,000 characters
and a failing test), so every arm runs through the real tools, workspace and judge in seconds.
The real typer-T1 runs in the slow test at the end.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from orchbench.agent.recorder import DELEGATE
from orchbench.arms import load_arm
from orchbench.models.base import RetryPolicy
from orchbench.runner.trial import run_trial
from orchbench.sandbox import sandbox_available
from orchbench.tasks.spec import load_task
from tests.fakes._http import Reply, View
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.ollama_server import FakeOllama

UNSAFE = not sandbox_available()
FIX = {"command": "str_replace", "path": "typer/main.py", "old_str": "return a - b", "new_str": "return a + b"}
EXECUTOR_FINAL = "DONE: add() in typer/main.py now adds. " + "Details follow. " * 300  # ~4.8k chars, to be cut


@pytest.fixture(scope="module")
def task(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("mini-typer")
    repo = root / "repo"
    (repo / "typer").mkdir(parents=True)
    (repo / "tests").mkdir()
    filler = "".join(f"def helper_{i:04d}(value: int) -> int:\n    return value * {i} + {i % 7}\n\n\n"
                     for i in range(1500))
    (repo / "typer" / "main.py").write_text(filler + "def add(a: int, b: int) -> int:\n    return a - b\n")
    (repo / "typer" / "__init__.py").write_text("from typer.main import add as add\n")
    (repo / "tests" / "__init__.py").write_text("")
    (repo / "tests" / "test_main.py").write_text(
        "import unittest\n\nfrom typer import add\n\n\nclass T(unittest.TestCase):\n"
        "    def test_add(self) -> None:\n        self.assertEqual(add(2, 3), 5)\n")
    (root / "mini.toml").write_text(
        'name = "mini-typer"\nprompt = "add() in typer/main.py is wrong; make the tests pass."\n'
        '[source]\npath = "repo"\n[judge]\ntimeout_s = 60\n[[judge.commands]]\nname = "unittest"\n'
        'run = ["python", "-m", "unittest", "discover", "-s", "tests", "-t", "."]\n')
    return load_task(str(root / "mini.toml"))


def role_of(system: str) -> str:
    return ("executor" if "executor in a Python repository" in system
            else "orchestrator" if "two-model team" in system else "solo")


def system_of(body: dict[str, Any]) -> str:
    if "system" in body:  # Anthropic: a list of blocks once caching applies
        sys_ = body["system"]
        return sys_ if isinstance(sys_, str) else "".join(b["text"] for b in sys_)
    return body["messages"][0]["content"]  # Ollama: the first message


def script(view: View) -> Reply:
    """Each role of the paper's loop in a few turns: view, check, edit (or delegate), DONE."""
    role, n = role_of(system_of(view.body)), view.n_assistant
    steps: dict[str, list[Any]] = {
        "solo": [("str_replace_editor", {"command": "view", "path": "typer/main.py"}),
                 ("bash", {"cmd": "python -m unittest discover -s tests -t . 2>&1 | tail -1"}),
                 ("str_replace_editor", FIX), "DONE"],
        "orchestrator": [("str_replace_editor", {"command": "view", "path": "typer/main.py"}),
                         (DELEGATE, {"instruction": "In typer/main.py, function add: replace `return a - b` "
                                                    "with `return a + b`. Change nothing else."}),
                         "DONE"],
        "executor": [("str_replace_editor", FIX), EXECUTOR_FINAL],
    }
    step = steps[role][min(n, len(steps[role]) - 1)]
    if isinstance(step, str):
        return Reply([{"type": "text", "text": step}])
    return Reply([{"type": "text", "text": f"Step {n}."},
                  {"type": "tool_use", "id": f"toolu_{role}_{n}", "name": step[0], "input": step[1]}])


def run_arm(name: str, task: Any, tmp_path: Path) -> tuple[Any, FakeAnthropic, FakeOllama]:
    from orchbench.store import Store

    with FakeAnthropic(policy=script) as claude, FakeOllama(policy=script) as ollama:
        arm = load_arm(name).with_base_url(claude.base_url)
        env = {"ANTHROPIC_API_KEY": "sk-test", "OLLAMA_HOST": ollama.host}
        with Store(tmp_path / "runs.db") as store:
            t = run_trial(task, arm, store=store, env=env, unsafe_no_sandbox=UNSAFE, rate_card="paper-2026-06",
                          retry=RetryPolicy(max_retries=0, sleep=lambda s: None))
    return t, claude, ollama


def tool_results(body: dict[str, Any]) -> list[str]:
    """The tool results the newest message of a request carries (both wire formats)."""
    last = body["messages"][-1]
    if last["role"] == "tool" or "system" not in body:
        return [m["content"] for m in body["messages"] if m["role"] == "tool"][-1:]
    return [b["content"] for b in last["content"] if isinstance(b, dict) and b.get("type") == "tool_result"]


def names(tools: list[dict[str, Any]]) -> list[str]:
    return [t.get("name") or t["function"]["name"] for t in tools]


def bash_param(tools: list[dict[str, Any]]) -> list[str]:
    (bash,) = [t for t in tools if t["name"] == "bash"]
    return bash["input_schema"]["required"]


@pytest.mark.parametrize("arm", ["A", "B", "C", "D"])
def test_every_call_sends_max_tokens_4096_and_each_role_gets_its_tools(arm: str, task: Any, tmp_path: Path) -> None:
    t, claude, ollama = run_arm(arm, task, tmp_path)
    assert t.status == "success", (t.error, t.failure_reason)
    assert claude.bodies and {b["max_tokens"] for b in claude.bodies} == {4096}
    by_role: dict[str, list[list[str]]] = {}
    for b in claude.bodies:
        by_role.setdefault(role_of(system_of(b)), []).append(names(b["tools"]))
        assert bash_param(b["tools"]) == ["cmd"]  # the paper's bash
    chats = [b for b in ollama.bodies if "messages" in b]
    for b in chats:
        by_role.setdefault("executor(ollama)", []).append(names(b["tools"]))
        assert b["options"] == {"num_ctx": 32768, "num_predict": 4096}
    expected = {
        "A": {"solo": ["str_replace_editor", "bash"]},
        "D": {"solo": ["str_replace_editor", "bash"]},
        "C": {"orchestrator": ["str_replace_editor", "bash", DELEGATE], "executor": ["str_replace_editor", "bash"]},
        "B": {"orchestrator": ["str_replace_editor", "bash", DELEGATE], "executor(ollama)": ["str_replace_editor", "glob"]},
    }[arm]
    assert {role: {tuple(n) for n in lists} for role, lists in by_role.items()} == {
        role: {tuple(n)} for role, n in expected.items()}


@pytest.mark.parametrize("arm", ["A", "C"])
def test_a_view_of_typer_main_returns_at_most_8000_chars_plus_the_marker(arm: str, task: Any, tmp_path: Path) -> None:
    _, claude, _ = run_arm(arm, task, tmp_path)
    full = (Path(task.base_dir()) / "repo" / "typer" / "main.py").read_text()
    assert len(full) > 80_000
    (view,) = tool_results(claude.bodies[1])  # the answer to the first call: view typer/main.py
    head, marker, tail = re.split(r"\n(\[\.\.\. [\d,]+ characters cut \.\.\.\])\n", view)
    assert len(head) + len(tail) <= 8000 and len(view) <= 8000 + len(marker) + 2
    assert head.startswith("     1\tdef helper_0000(") and tail.endswith("    return a - b\n  6003\t")


def test_arm_c_hands_back_the_executors_last_text_cut_to_1500(task: Any, tmp_path: Path) -> None:
    _, claude, _ = run_arm("C", task, tmp_path)
    orch = [b for b in claude.bodies if role_of(system_of(b)) == "orchestrator"]
    (handback,) = tool_results(orch[2])
    assert handback == "executor (2 iters): " + EXECUTOR_FINAL[:1500]
    assert len(handback) == len("executor (2 iters): ") + 1500


def test_arm_b_hands_back_the_wrappers_output_cut_2000_2000_and_records_the_real_outcome(
        task: Any, tmp_path: Path) -> None:
    t, claude, ollama = run_arm("B", task, tmp_path)
    orch = [b for b in claude.bodies if role_of(system_of(b)) == "orchestrator"]
    (handback,) = tool_results(orch[2])
    head, rest = handback.split("\n[... ", 1)
    cut, tail = rest.split(" chars cut ...]\n", 1)
    assert len(head) == 2000 and tail.endswith("\n[exit=0]") and len(tail) == 2000 + len("\n[exit=0]")
    assert head.startswith(f"== executor qwen3.5:9b @ http://127.0.0.1:{ollama.requests[0].headers['host'].split(':')[1]} "
                           f"==\n{EXECUTOR_FINAL[:100]}")
    listing = tail.removesuffix("\n[exit=0]")
    assert re.search(r"^d[rwx-]{9} .* typer$", listing, re.MULTILINE)
    assert re.search(r"^d[rwx-]{9} .* tests$", listing, re.MULTILINE)
    printed = int(cut.replace(",", "")) + 4000
    assert printed > len(EXECUTOR_FINAL)  # banner + output + listing, as one stdout
    # the executor's own context, digest and server version are on the trial
    note = next(n for n in t.notes if n.startswith("executor: ollama"))
    assert "num_ctx 32768" in note and "digest " in note and "0.14.2" in note


def test_prompts_carry_the_papers_directives(task: Any, tmp_path: Path) -> None:
    _, claude, ollama = run_arm("B", task, tmp_path)
    orch = system_of(next(b for b in claude.bodies if role_of(system_of(b)) == "orchestrator"))
    execu = system_of(next(b for b in ollama.bodies if "messages" in b))
    solo = load_arm("A").system_prompt
    delegate = next(t for t in claude.bodies[0]["tools"] if t["name"] == DELEGATE)["description"]
    for text in (solo, orch):
        assert "single line DONE" in text and "BLOCKED: <reason>" in text
        assert "concise" in text and "tool calls, not" in text
    assert "Avoid create, str_replace and insert" in orch and "cheaper than you but weaker" in orch
    assert "small chunks" in orch and "the file, the function and the exact edit" in orch
    assert "do not expand its scope" in execu and "DONE: <one-line summary" in execu and "Be brief" in execu
    assert "edits files and runs commands" in delegate and "name the files, the functions and the exact change" in delegate


def test_the_orchbench_prompt_set_and_tool_profile_stay_available(tmp_path: Path) -> None:
    f = tmp_path / "ours.toml"
    f.write_text('base = "C"\ntool_profile = "orchbench"\n[prompts]\nset = "orchbench"\n')
    arm = load_arm(str(f))
    assert "Do not edit files directly" in arm.system_prompt and arm.tool_profile == "orchbench"
    bad = tmp_path / "bad.toml"
    bad.write_text('base = "A"\ntool_profile = "fancy"\n')
    from orchbench.errors import UserError

    with pytest.raises(UserError, match="key 'tool_profile'"):
        load_arm(str(bad))


def test_dry_run_sizes_are_within_a_quarter_of_the_papers(task: Any) -> None:
    from orchbench.agent.assemble import PAPER_SIZES, preview
    from orchbench.tasks.workspace import workspace

    with workspace(task) as ws:
        solo = preview(load_arm("A"), task, ws, unsafe_no_sandbox=True)
        orch = preview(load_arm("C"), task, ws, unsafe_no_sandbox=True)
    ours = {"solo system prompt": len(solo.system), "orchestrator system prompt": len(orch.system),
            "tools JSON": len(json.dumps(solo.tools))}
    for what, paper in PAPER_SIZES.items():
        assert 0.75 * paper <= ours[what] <= 1.25 * paper, (what, ours[what], paper)


@pytest.mark.slow
def test_typer_t1_dry_run_prints_sizes_next_to_the_papers() -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "orchbench", "run", "--arm", "A", "--task", "typer-T1", "--dry-run"],
                         capture_output=True, text=True, timeout=900, check=True).stdout
    for what, paper in (("solo system prompt", 608), ("tools JSON", 1113)):
        m = re.search(rf"^{what}\s+([\d,]+)\s+paper {paper:,} \(([+-]\d+)%\)$", out, re.MULTILINE)
        assert m and abs(int(m.group(2))) <= 25, (what, out[-800:])
    assert re.search(r"^first user message\s+[\d,]+$", out, re.MULTILINE) and "25 errors" in out


@pytest.mark.slow
def test_typer_t1_arm_a_views_main_py_as_the_paper_did(tmp_path: Path) -> None:
    """Arm A on the real typer-T1: a whole `view typer/main.py` comes back cut to 8,000 characters
    (the paper measured 7,835), every call asks for 4,096 tokens, and the trial is judged."""
    view = Reply([{"type": "tool_use", "id": "toolu_v", "name": "str_replace_editor",
                   "input": {"command": "view", "path": "typer/main.py"}}])
    with FakeAnthropic([view, Reply([{"type": "text", "text": "BLOCKED: only looked"}])]) as claude:
        t = run_trial(load_task("typer-T1"), load_arm("A").with_base_url(claude.base_url),
                      env={"ANTHROPIC_API_KEY": "sk-test"}, unsafe_no_sandbox=UNSAFE, rate_card="paper-2026-06",
                      retry=RetryPolicy(max_retries=0, sleep=lambda s: None))
    assert {b["max_tokens"] for b in claude.bodies} == {4096} and len(claude.bodies) == 2
    (shown,) = tool_results(claude.bodies[1])
    head, marker, tail = re.split(r"\n(\[\.\.\. [\d,]+ characters cut \.\.\.\])\n", shown)
    assert len(head) + len(tail) <= 8000 and 7_700 <= len(shown) <= 8000 + len(marker) + 2
    assert "25 errors" in claude.bodies[0]["messages"][0]["content"][0]["text"]
    assert t.status in ("blocked", "failure")  # BLOCKED's handling is the runner's; the view is ours


def test_an_executor_prompt_longer_than_its_context_is_recorded_never_cut(task: Any, tmp_path: Path) -> None:
    """Arm B with a context too small for the executor's first prompt: Ollama refuses it, the executor's
    loop ends as an overflow, and the trial's notes say so (the paper's wrapper would have hidden it)."""
    small = tmp_path / "b-small.toml"
    small.write_text('base = "B"\n[executor]\nnum_ctx = 256\n')
    from orchbench.store import Store

    with FakeAnthropic(policy=script) as claude, FakeOllama(policy=script) as ollama:
        arm = load_arm(str(small)).with_base_url(claude.base_url)
        with Store(tmp_path / "runs.db") as store:
            t = run_trial(task, arm, store=store, env={"ANTHROPIC_API_KEY": "sk-test", "OLLAMA_HOST": ollama.host},
                          unsafe_no_sandbox=UNSAFE, rate_card="paper-2026-06",
                          retry=RetryPolicy(max_retries=0, sleep=lambda s: None))
    assert all(b["options"]["num_ctx"] == 256 for b in ollama.bodies if "messages" in b)
    note = next(n for n in t.notes if n.startswith("delegation at orchestrator turn 1"))
    assert "executor overflow after 0 turns" in note and "exceeds the available context size (256 tokens)" in note
    orch = [b for b in claude.bodies if role_of(system_of(b)) == "orchestrator"]
    (handback,) = tool_results(orch[2])
    assert handback.startswith("== executor qwen3.5:9b @ ") and handback.endswith("\n[exit=0]")
