"""External arms with a small fake agent: the sandbox's one way out is the proxy, keys stay outside,
infrastructure failures are not the agent's, arm files parse, and batches run them in parallel and
resume like any other arm."""

from __future__ import annotations

import json
import socket
import sys
import threading
from pathlib import Path

import pytest

from orchbench.arms import load_arm
from orchbench.errors import UserError
from orchbench.external_arm import ExternalArm
from orchbench.records import COUNTED_STATUSES
from orchbench.runner.batch import run_batch
from orchbench.runner.experiment import load_experiment
from orchbench.runner.trial import run_trial
from orchbench.sandbox import sandbox_available
from orchbench.store import Store
from orchbench.tasks.spec import load_task
from tests.fakes._http import Fault, Reply, View
from tests.fakes.streaming import StreamingAnthropic
from tests.helpers import run_cli

FAKES = Path(__file__).parent / "fakes"
TINY = FAKES / "tinytask" / "tiny.toml"
HOST_KEY = "sk-ant-host-secret"
needs_sandbox = pytest.mark.skipif(not sandbox_available(), reason="bubblewrap cannot start a sandbox here")


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", HOST_KEY)


def fake_arm(tmp_path: Path, name: str = "fake", extra_args: str = "") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'kind = "external"\nname = "{name}"\n'
        f'command = ["{sys.executable}", "{FAKES / "fake_agent.py"}", "{{orchestrator}}"{extra_args}]\n'
        f'binds = ["{FAKES}"]\n'
        'orchestrator = { provider = "anthropic", model = "claude-opus-4-7" }\n'
        '[env]\nANTHROPIC_BASE_URL = "{base_url}"\nANTHROPIC_API_KEY = "{api_key}"\n')
    return path


@needs_sandbox
def test_inside_the_sandbox_the_agent_reaches_the_proxy_and_nothing_else(tmp_path: Path) -> None:
    outside = socket.socket()
    outside.bind(("127.0.0.1", 0))
    outside.listen()
    port = outside.getsockname()[1]
    try:
        with StreamingAnthropic(["Fixed."], api_key=HOST_KEY) as server:
            arm = load_arm(fake_arm(tmp_path, extra_args=f', "{port}"')).with_base_url(server.root_url)
            trial = run_trial(load_task(TINY), arm)
    finally:
        outside.close()
    assert trial.status == "success", (trial.error, trial.failure_reason)
    seen = json.loads(server.bodies[0]["messages"][0]["content"])
    assert seen["proxy"] is True
    assert seen["other_loopback_port"] is False and seen["outside"] is False
    assert HOST_KEY not in json.dumps(seen["env"]) and set(seen["env"]) == {"ANTHROPIC_API_KEY"}
    assert server.requests[0].headers["x-api-key"] == HOST_KEY  # added by the proxy, outside
    assert trial.usage == {"orchestrator": server.billed[0]}


@needs_sandbox
def test_a_provider_that_refuses_the_key_is_an_infra_error(tmp_path: Path) -> None:
    with StreamingAnthropic([Fault("auth")]) as server:
        trial = run_trial(load_task(TINY), load_arm(fake_arm(tmp_path)).with_base_url(server.root_url))
    assert trial.status == "infra_error" and "401" in (trial.error or "")


@needs_sandbox
def test_an_agent_that_cannot_start_is_an_infra_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('kind = "external"\ncommand = ["no-such-agent-binary"]\n'
                    'orchestrator = { provider = "anthropic", model = "claude-opus-4-7" }\n')
    with StreamingAnthropic([]) as server:
        trial = run_trial(load_task(TINY), load_arm(path).with_base_url(server.root_url))
    assert trial.status == "infra_error" and "before calling a model" in (trial.error or "")
    assert trial.counted is False


def test_external_arm_files_parse_and_presets_merge(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('kind = "external"\nbase = "claude-code-haiku"\n'
                    'executor = { provider = "anthropic", model = "claude-sonnet-4-5" }\n')
    arm = load_arm(path)
    assert isinstance(arm, ExternalArm) and arm.name == "mine" and arm.agent == "claude-code"
    assert arm.role_map() == {"claude-opus-4-7": "orchestrator", "claude-sonnet-4-5": "executor"}
    assert arm.env["CLAUDE_CODE_SUBAGENT_MODEL"] == "{executor}"
    for name in ("claude-code", "claude-code-haiku", "mini-swe-agent"):
        assert load_arm(name).kind == "external"  # type: ignore[attr-defined]


@pytest.mark.parametrize(("text", "needle"), [
    ('kind = "external"\ncommand = ["x"]\n', "orchestrator"),
    ('kind = "external"\nbase = "nope"\n', "key 'base'"),
    (('kind = "external"\ncommand = ["x"]\nanswer = "telepathy"\n'
     'orchestrator = { provider = "anthropic", model = "m" }\n'), "answer"),
])
def test_bad_external_arm_files_are_one_line_errors(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UserError) as e:
        load_arm(path)
    assert needle in str(e.value) and str(path) in str(e.value)


def test_an_agent_that_is_not_installed_names_the_install_command(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHBENCH_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(UserError, match="orchbench agents install claude-code"):
        run_trial(load_task(TINY), load_arm("claude-code"), unsafe_no_sandbox=True)


class _Together:
    """Answers only when `parties` requests are in flight at once: a serial batch cannot pass."""

    def __init__(self, parties: int) -> None:
        self.barrier: threading.Barrier | None = threading.Barrier(parties, timeout=60)

    def __call__(self, view: View) -> Reply:
        if self.barrier is not None:
            self.barrier.wait()
        return Reply([{"type": "text", "text": "Fixed."}])


@needs_sandbox
def test_a_batch_of_external_trials_runs_in_parallel_and_resumes(tmp_path: Path) -> None:
    policy = _Together(2)
    db = tmp_path / "b.db"
    with StreamingAnthropic(policy=policy) as server:
        arm = fake_arm(tmp_path, extra_args="")
        text = arm.read_text().replace('ANTHROPIC_API_KEY = "{api_key}"',
                                       'ANTHROPIC_API_KEY = "{api_key}"\n[orchestrator]\nprovider = "anthropic"\n'
                                       f'model = "claude-opus-4-7"\nbase_url = "{server.root_url}"')
        arm.write_text(text.replace('orchestrator = { provider = "anthropic", model = "claude-opus-4-7" }\n', ""))

        def experiment(target: int) -> Path:
            exp = tmp_path / "exp.toml"
            exp.write_text(f'name = "ext"\narms = ["{arm}"]\ntasks = ["{TINY}"]\n'
                           f"target_successes = {target}\nmax_attempts = 4\nworkers = 2\n")
            return exp

        first = run_batch(load_experiment(experiment(2)), db)
        policy.barrier = None
        second = run_batch(load_experiment(experiment(3)), db)
    assert first.stopped_by == "done" and second.stopped_by == "done"
    with Store(db, readonly=True) as s:
        trials = [t for t in s.trials(experiment="ext") if t.status in COUNTED_STATUSES]
        calls = {t.id: s.calls(t.id) for t in trials}
    assert sorted((t.attempt, t.status) for t in trials) == [(0, "success"), (1, "success"), (2, "success")]
    assert len(server.billed) == 3 and all(len(c) == 1 for c in calls.values())
    assert sorted(c[0].usage.total for c in calls.values()) == sorted(u.total for u in server.billed)


def test_dry_run_shows_what_the_external_agent_would_run(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["run", "--arm", "claude-code-haiku", "--task", str(TINY), "--dry-run"], capsys)
    assert code == 0
    assert "CLAUDE_CODE_SUBAGENT_MODEL=claude-haiku-4-5-20251001" in out and HOST_KEY not in out
    assert "claude-haiku-4-5-20251001 -> executor" in out and "nothing was started" in out


def test_agents_list_and_install_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHBENCH_CACHE", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run_cli(["agents", "list"], capsys)
    assert code == 0 and "claude-code" in out and "2.1.197" in out and "claude-code-haiku" in out
    code, out, err = run_cli(["agents", "install", "mini-swe-agent", "nope"], capsys)
    assert code == 2 and "unknown agent 'nope'" in err and "Traceback" not in err
    assert not (tmp_path / "agents" / "mini-swe-agent").exists()  # nothing installed before the check
