"""One trial: arm + task -> fresh workspace -> agent loop -> judge from outside -> stored Trial.

Everything that can be checked without spending money is checked before the workspace is made:
the sandbox, the API keys, the rate card. Provider failures end as `infra_error` with the
provider's text, never as the agent's failure; the calls made so far stay stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from orchbench.agent.assemble import assemble
from orchbench.agent.loop import LoopResult
from orchbench.agent.recorder import Recorder
from orchbench.arms import Arm, ModelConfig
from orchbench.errors import NoReferenceSolution
from orchbench.models.base import InfraError, ModelAPI, RetryPolicy
from orchbench.models.factory import check_keys, make_model
from orchbench.records import BLOCKED_NOTE, LEAD_ROLES, Call, Trial, Usage, Verdict, new_trial_id, utcnow
from orchbench.runner.limits import DEFAULT_DEADLINE_S, TrialDeadline, trial_deadline

if TYPE_CHECKING:
    from orchbench.pricing import RateCard
    from orchbench.tasks.spec import Task

ModelFactory = Callable[[ModelConfig, str], ModelAPI]  # (config, role) -> model


class TrialSink(Protocol):
    """Where a trial is recorded as it runs: a `Store`, or anything with these three writes."""

    def start_trial(self, trial: Trial) -> None: ...
    def add_call(self, call: Call) -> int: ...
    def finish_trial(self, trial: Trial) -> Trial: ...


_PROBE = Usage(input=1)  # to make a rate card name a model it does not know (it raises)
UNSAFE_NOTE = "ran with --unsafe-no-sandbox: agent commands were not confined"


def check_ready(task: Task, arm: Arm, *, unsafe_no_sandbox: bool = False, rate_card: RateCard | str | Path | None = None,
                env: Mapping[str, str] | None = None, check_key: bool = True) -> RateCard:
    """Raise UserError for anything that would make the trial fail before it starts; return the card."""
    configs = [cfg for _, cfg in arm.models()]
    if getattr(arm, "agent", None):  # an external arm's agent must be installed (`orchbench agents install`)
        from orchbench.agent.install import require

        require(arm.agent)  # type: ignore[attr-defined]
    if check_key:
        check_keys(configs, env)
    if not unsafe_no_sandbox:
        from orchbench.sandbox import require_sandbox

        require_sandbox("agent commands")
    if any(c.provider == "scripted" for c in configs) and not getattr(task, "reference", None):
        raise NoReferenceSolution(task.name)
    from orchbench.pricing import as_rate_card

    card = as_rate_card(rate_card)
    for cfg in configs:
        if cfg.provider != "scripted" and not card.knows(cfg.model):
            card.cost(cfg.model, _PROBE)  # raises UnknownModel: names the model and how to price it
    return card


def default_factory(arm: Arm, task: Task, *, env: Mapping[str, str] | None = None,
                    retry: RetryPolicy | None = None) -> ModelFactory:
    def factory(cfg: ModelConfig, role: str) -> ModelAPI:
        return make_model(cfg, caching=arm.caching, task=task, env=env, retry=retry)

    return factory


def run_trial(task: Task, arm: Arm, *, store: TrialSink | None = None, experiment: str = "adhoc", attempt: int = 0,
              unsafe_no_sandbox: bool = False, model_factory: ModelFactory | None = None,
              trial_id: str | None = None, rate_card: RateCard | str | Path | None = None,
              env: Mapping[str, str] | None = None, retry: RetryPolicy | None = None,
              deadline_s: float | None = DEFAULT_DEADLINE_S, judge_cache: bool = False) -> Trial:
    """Run one trial of `arm` on `task`: fresh workspace, agent loop, judge; returns the final Trial.

    With a `store`, the trial and each call are stored as they happen. Infrastructure failures end as
    status "infra_error" (never the agent's failure). `model_factory` swaps in other model clients.
    The trial ends within `deadline_s` of wall-clock time (None: no deadline). The final judge runs
    afresh (`judge_cache=False`): a verdict-cache hit would make the trial's wall time shorter than
    the run it records; `tasks check` may reuse verdicts. An external arm runs its own agent program
    behind the recording proxy (agent/external.py).
    """
    if getattr(arm, "kind", None) == "external":
        from orchbench.agent.external import run_external

        return run_external(task, arm, store=store, experiment=experiment, attempt=attempt, trial_id=trial_id,
                            unsafe_no_sandbox=unsafe_no_sandbox, rate_card=rate_card, env=env)
    card = check_ready(task, arm, unsafe_no_sandbox=unsafe_no_sandbox, rate_card=rate_card, env=env,
                       check_key=model_factory is None)
    factory = model_factory or default_factory(arm, task, env=env, retry=retry)
    models = {role: factory(cfg, role) for role, cfg in arm.models()}
    trial = Trial(id=trial_id or new_trial_id(experiment, arm.name, task.name, attempt), experiment=experiment, arm=arm.name,
                  task=task.name, attempt=attempt, status="running", started_at=utcnow(),
                  models={role: cfg.model for role, cfg in arm.models()},  # type: ignore[misc]
                  notes=[UNSAFE_NOTE] if unsafe_no_sandbox else [])
    if store is not None:
        store.start_trial(trial)
    recorder = Recorder(trial.id, store=store, pricer=card)
    t0 = time.perf_counter()
    update: dict[str, Any] = {}
    try:
        with trial_deadline(deadline_s):
            update = _attempt(task, arm, models, recorder, unsafe_no_sandbox, judge_cache)
    except InfraError as exc:
        update = {"status": "infra_error", "error": str(exc)}
    except TrialDeadline as exc:  # a named failure: an agent that hangs the trial has failed it
        update = {"status": "failure", "failure_reason": str(exc)}
    except BaseException as exc:  # a bug or an interrupt: record what happened, then let it surface
        kind = "interrupted" if isinstance(exc, KeyboardInterrupt) else "infra_error"
        update = {"status": kind, "error": f"{type(exc).__name__}: {exc}"}
        _finish(trial, update, recorder, store, t0)
        raise
    return _finish(trial, update, recorder, store, t0)


def _attempt(task: Task, arm: Arm, models: dict[str, ModelAPI], recorder: Recorder,
             unsafe_no_sandbox: bool, judge_cache: bool) -> dict[str, Any]:
    from orchbench.judge.run import run_judge
    from orchbench.tasks.workspace import workspace

    with workspace(task) as ws:
        agent = assemble(arm, task, ws, models, recorder, unsafe_no_sandbox=unsafe_no_sandbox,
                         judge=lambda: run_judge(ws, unsafe_no_sandbox=unsafe_no_sandbox).summary)
        result = agent.run(task.prompt)
        # A BLOCKED answer is judged too (as the paper's harness did): the flag is kept, the status
        # comes from the verdict. The verdict records the judge's own time (duration_s).
        verdict = run_judge(ws, cache=judge_cache, unsafe_no_sandbox=unsafe_no_sandbox)
    return _judged(result, verdict, arm.cap_for(task))


def _judged(result: LoopResult, verdict: Verdict, cap: int) -> dict[str, Any]:
    reasons = list(verdict.failure_reasons)
    flags = [BLOCKED_NOTE + result.final_text.strip()[:300]] if result.outcome == "blocked" else []
    if result.outcome == "blocked":
        reasons.insert(0, f"the agent answered {result.final_text.strip()[:200]}")
    elif result.outcome == "cap":
        reasons.insert(0, f"turn cap {cap} reached")
    elif result.outcome == "overflow":
        reasons.insert(0, "context window exceeded")
    return {
        "status": "success" if verdict.passed else "failure",
        "verdict": verdict,
        "verdict_summary": verdict.summary,
        "failure_reason": None if verdict.passed else ("; ".join(reasons) or "judge failed"),
        "add_notes": flags,
    }


def _finish(trial: Trial, update: dict[str, Any], recorder: Recorder, store: TrialSink | None, t0: float) -> Trial:
    iterations = sum(1 for c in recorder.calls if c.role in LEAD_ROLES)
    notes = [*trial.notes, *update.pop("add_notes", []), *recorder.notes]
    done = trial.model_copy(update={**update, "wall_s": time.perf_counter() - t0, "ended_at": utcnow(),
                                    "iterations": iterations, "notes": notes}
                            ).with_calls(recorder.calls)
    if store is not None:
        done = store.finish_trial(done)
    return done
