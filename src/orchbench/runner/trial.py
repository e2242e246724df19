"""One trial: arm + task -> fresh workspace -> agent loop -> judge from outside -> stored Trial.

Everything that can be checked without spending money is checked before the workspace is made:
the sandbox, the API keys, the rate card. Provider failures end as `infra_error` with the
provider's text, never as the agent's failure; the calls made so far stay stored.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from orchbench.agent.loop import Agent, LoopResult
from orchbench.agent.orchestrate import orchestrator_agent
from orchbench.agent.recorder import Recorder
from orchbench.arms import Arm, ModelConfig
from orchbench.errors import UserError
from orchbench.models.base import InfraError, ModelAPI, RetryPolicy
from orchbench.models.factory import check_keys, make_model
from orchbench.records import Trial, Usage, Verdict, utcnow

ModelFactory = Callable[[ModelConfig, str], ModelAPI]  # (config, role) -> model
_PROBE = Usage(input=1)  # to make a rate card name a model it does not know (it raises)
UNSAFE_NOTE = "ran with --unsafe-no-sandbox: agent commands were not confined"


def new_trial_id(arm: str, task: str) -> str:
    return f"{arm}-{task}-{uuid.uuid4().hex[:10]}"


def check_ready(task: Any, arm: Arm, *, unsafe_no_sandbox: bool = False, rate_card: Any = None,
                env: Mapping[str, str] | None = None, check_key: bool = True) -> Any:
    """Raise UserError for anything that would make the trial fail before it starts; return the card."""
    configs = [cfg for _, cfg in arm.models()]
    if getattr(arm, "agent", None):  # an external arm's agent must be installed (`orchbench agents install`)
        from orchbench.agent.install import require

        require(arm.agent)  # type: ignore[attr-defined]
    if check_key:
        check_keys(configs, env)
    if not unsafe_no_sandbox:
        from orchbench.sandbox import sandbox_available

        if not sandbox_available():
            raise UserError("bubblewrap (bwrap) is not usable here, so agent commands cannot be sandboxed; "
                            "install bubblewrap, or pass --unsafe-no-sandbox to run them unconfined")
    if any(c.provider == "scripted" for c in configs) and not getattr(task, "reference", None):
        raise UserError(f"task {task.name!r} has no [[reference]] solution, so the oracle arm cannot run it")
    if not hasattr(rate_card, "cost"):  # None or a spec ("paper-2026-06", a TOML path)
        from orchbench.pricing import load_rate_card

        rate_card = load_rate_card(rate_card)
    for cfg in configs:
        if cfg.provider != "scripted" and not rate_card.knows(cfg.model):
            rate_card.cost(cfg.model, _PROBE)  # raises UnknownModel: names the model and how to price it
            raise UserError(f"rate card {getattr(rate_card, 'name', '?')!r} has no price for {cfg.model!r}; "
                            "add it in a TOML rate card and pass --rate-card FILE")
    return rate_card


def default_factory(arm: Arm, task: Any, *, env: Mapping[str, str] | None = None,
                    retry: RetryPolicy | None = None) -> ModelFactory:
    def factory(cfg: ModelConfig, role: str) -> ModelAPI:
        return make_model(cfg, caching=arm.caching, task=task, env=env, retry=retry)

    return factory


def build_tools(ws: Any, *, unsafe_no_sandbox: bool) -> list[Any]:
    from orchbench.agent.tools import BashTool, EditorTool

    return [EditorTool(ws.root), BashTool(ws, unsafe_no_sandbox=unsafe_no_sandbox)]


def build_agent(arm: Arm, task: Any, ws: Any, tools: list[Any], models: dict[str, ModelAPI],
                recorder: Recorder, judge: Callable[[], str] | None = None) -> Agent:
    cap = arm.cap_for(task)
    if models.get("executor") is None:
        return Agent(models["orchestrator"], tools, system=arm.prompts.solo, cap=cap, role="orchestrator",
                     recorder=recorder)
    return orchestrator_agent(models["orchestrator"], models["executor"], tools, root=Path(ws.root),
                              policy=arm.return_policy, cap=cap, executor_cap=arm.executor_cap_for(task),
                              recorder=recorder, system=arm.prompts.orchestrator,
                              executor_system=arm.prompts.executor, judge=judge)


def run_trial(task: Any, arm: Arm, *, store: Any = None, experiment: str = "adhoc", attempt: int = 0,
              unsafe_no_sandbox: bool = False, model_factory: ModelFactory | None = None,
              trial_id: str | None = None, rate_card: Any = None, env: Mapping[str, str] | None = None,
              retry: RetryPolicy | None = None) -> Trial:
    if getattr(arm, "kind", None) == "external":  # an agent of its own, recorded by a proxy
        from orchbench.agent.external import run_external

        return run_external(task, arm, store=store, experiment=experiment, attempt=attempt, trial_id=trial_id,
                            unsafe_no_sandbox=unsafe_no_sandbox, rate_card=rate_card, env=env)
    card = check_ready(task, arm, unsafe_no_sandbox=unsafe_no_sandbox, rate_card=rate_card, env=env,
                       check_key=model_factory is None)
    factory = model_factory or default_factory(arm, task, env=env, retry=retry)
    models = {role: factory(cfg, role) for role, cfg in arm.models()}
    trial = Trial(id=trial_id or new_trial_id(arm.name, task.name), experiment=experiment, arm=arm.name,
                  task=task.name, attempt=attempt, status="running", started_at=utcnow(),
                  models={role: cfg.model for role, cfg in arm.models()},  # type: ignore[misc]
                  notes=[UNSAFE_NOTE] if unsafe_no_sandbox else [])
    if store is not None:
        store.start_trial(trial)
    recorder = Recorder(trial.id, store=store, pricer=card)
    t0 = time.perf_counter()
    update: dict[str, Any] = {}
    try:
        update = _attempt(task, arm, models, recorder, unsafe_no_sandbox)
    except InfraError as exc:
        update = {"status": "infra_error", "error": str(exc)}
    except BaseException as exc:  # a bug or an interrupt: record what happened, then let it surface
        kind = "interrupted" if isinstance(exc, KeyboardInterrupt) else "infra_error"
        update = {"status": kind, "error": f"{type(exc).__name__}: {exc}"}
        _finish(trial, update, recorder, store, t0)
        raise
    return _finish(trial, update, recorder, store, t0)


def _attempt(task: Any, arm: Arm, models: dict[str, ModelAPI], recorder: Recorder,
             unsafe_no_sandbox: bool) -> dict[str, Any]:
    from orchbench.judge.run import run_judge
    from orchbench.tasks.workspace import workspace

    with workspace(task) as ws:
        tools = build_tools(ws, unsafe_no_sandbox=unsafe_no_sandbox)
        agent = build_agent(arm, task, ws, tools, models, recorder,
                            judge=lambda: run_judge(ws, unsafe_no_sandbox=unsafe_no_sandbox).summary)
        result = agent.run(task.prompt)
        if result.outcome == "blocked":
            return {"status": "blocked", "failure_reason": result.final_text[:500]}
        verdict = run_judge(ws, unsafe_no_sandbox=unsafe_no_sandbox)
    return _judged(result, verdict, arm.cap_for(task))


def _judged(result: LoopResult, verdict: Verdict, cap: int) -> dict[str, Any]:
    reasons = list(verdict.failure_reasons)
    if result.outcome == "cap":
        reasons.insert(0, f"turn cap {cap} reached")
    elif result.outcome == "overflow":
        reasons.insert(0, "context window exceeded")
    return {
        "status": "success" if verdict.passed else "failure",
        "verdict": verdict,
        "verdict_summary": verdict.summary,
        "failure_reason": None if verdict.passed else ("; ".join(reasons) or "judge failed"),
    }


def _finish(trial: Trial, update: dict[str, Any], recorder: Recorder, store: Any, t0: float) -> Trial:
    iterations = sum(1 for c in recorder.calls if c.role == "orchestrator")
    done = trial.model_copy(update={**update, "wall_s": time.perf_counter() - t0, "ended_at": utcnow(),
                                    "iterations": iterations}).with_calls(recorder.calls)
    if store is not None:
        done = store.finish_trial(done)
    return done
