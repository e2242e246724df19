"""The records every other module passes around: usage, calls, verdicts, trials, experiments.

These sit at the bottom of the import graph: they import nothing else from orchbench.
A trial's usage and cost are always derived from its calls when it has any (`Trial.from_calls`):
one source of truth, so a trial total can never disagree with the calls it is made of.
"""

from __future__ import annotations

import uuid
from collections.abc import Container
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt

# A solo agent's calls are "solo"; an orchestrated arm's are "orchestrator" and "executor".
# "unknown": a call a recording proxy saw from a model the arm does not name (never guessed).
Role = Literal["solo", "orchestrator", "executor", "unknown"]
ROLES: tuple[Role, ...] = ("solo", "orchestrator", "executor")
LEAD_ROLES: tuple[Role, ...] = ("solo", "orchestrator")  # the role that drives the trial (its turns)


def lead_role(by_role: Container[str]) -> Role:
    """The role that drove a trial, from its roles (or a mapping keyed by them): "solo" if present, else "orchestrator"."""
    return "solo" if "solo" in by_role else "orchestrator"

# success / failure / blocked are the agent's outcomes; infra_error is ours (never counted as a trial);
# running / interrupted are lifecycle states of the store (a crashed batch leaves `running` behind).
Status = Literal["success", "failure", "blocked", "infra_error", "running", "interrupted"]
COUNTED_STATUSES: frozenset[str] = frozenset({"success", "failure", "blocked"})
FINAL_STATUSES: frozenset[str] = COUNTED_STATUSES | {"infra_error"}
# A trial whose agent answered BLOCKED carries this note (then the agent's reason). It is a flag, not
# an outcome: the trial is judged like any other and its status comes from the verdict, as in the
# paper's harness. Stores written before the flag existed have status "blocked" instead.
BLOCKED_NOTE = "blocked: "


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_trial_id(experiment: str, arm: str, task: str, attempt: int) -> str:
    """The one trial-id format (runs and batches alike): readable, and unique across processes."""
    return f"{experiment}-{arm}-{task}-{attempt}-{uuid.uuid4().hex[:8]}"


class Usage(BaseModel):
    """Token counts of one call (or a sum of calls), normalised across providers.

    `input` is the uncached input only: Anthropic's `input_tokens` excludes cache reads and writes,
    and the OpenAI adapter subtracts `cached_tokens` from `prompt_tokens` to match.
    """

    model_config = ConfigDict(frozen=True)

    input: NonNegativeInt = 0
    output: NonNegativeInt = 0
    cache_write: NonNegativeInt = 0
    cache_read: NonNegativeInt = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input=self.input + other.input,
            output=self.output + other.output,
            cache_write=self.cache_write + other.cache_write,
            cache_read=self.cache_read + other.cache_read,
        )

    @property
    def prompt_side(self) -> int:
        """input + cache_read: what the paper calls the model-side token volume."""
        return self.input + self.cache_read

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_write + self.cache_read


class Call(BaseModel):
    """One API call, stored as soon as it completes."""

    trial_id: str
    role: Role
    turn: NonNegativeInt  # 0-based index of this call within its role's loop
    model: str
    usage: Usage = Usage()
    cost_usd: NonNegativeFloat = 0.0
    latency_s: NonNegativeFloat = 0.0
    stop_reason: str | None = None
    tool_names: list[str] = Field(default_factory=list)
    # For the orchestrator call whose tool results carried a delegation: characters handed back.
    handback_chars: NonNegativeInt | None = None
    # For executor calls: the orchestrator turn whose delegation they serve (nests the transcript).
    parent_turn: NonNegativeInt | None = None
    started_at: datetime = Field(default_factory=utcnow)
    # The model name the rate card priced this call by: the one the provider reported (`model`)
    # when the card knows it, else the configured one. None: stored before this was recorded.
    priced_model: str | None = None
    # Transcript, for `orchbench show` and the viewer. `content`: the model's output blocks
    # ({"type": "text", "text"} | {"type": "tool_use", "id", "name", "input"}); `tool_results`: what
    # the harness answered ({"tool_use_id", "content", "is_error"}).
    content: list[dict[str, Any]] = Field(default_factory=list)
    tool_results: list[dict[str, Any]] = Field(default_factory=list)
    error: str | None = None


class CommandResult(BaseModel):
    """One judge (or sandboxed) command's outcome."""

    name: str
    argv: list[str] = Field(default_factory=list)
    exit_code: int
    required: bool = True
    duration_s: NonNegativeFloat = 0.0
    timed_out: bool = False
    output_tail: str = ""
    counts: dict[str, int] = Field(default_factory=dict)


class Verdict(BaseModel):
    """The judge's decision: exit codes and structural checks decide; counts are for display."""

    passed: bool
    commands: list[CommandResult] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict)
    failure_reasons: list[str] = Field(default_factory=list)
    summary: str = ""
    cached: bool = False
    # The installed version of each package of the judge's venv (the task's [env]), so counts that
    # move with a tool's release (mypy, ruff) can be traced to it.
    tool_versions: dict[str, str] = Field(default_factory=dict)
    duration_s: NonNegativeFloat = 0.0  # the judge's own time, when it ran (a cache hit keeps the original's)


class Experiment(BaseModel):
    """A named set of trials (a batch, an import, or ad-hoc runs) and the spec that produced it."""

    id: str
    name: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    spec: dict[str, Any] = Field(default_factory=dict)


class Trial(BaseModel):
    """One attempt of one arm on one task: status, verdict, and totals derived from its calls."""

    id: str
    experiment: str = "adhoc"
    arm: str
    task: str
    attempt: NonNegativeInt = 0
    status: Status
    wall_s: NonNegativeFloat = 0.0
    iterations: NonNegativeInt = 0  # orchestrator (or solo) turns
    models: dict[Role, str] = Field(default_factory=dict)
    usage: dict[Role, Usage] = Field(default_factory=dict)
    cost: dict[Role, NonNegativeFloat] = Field(default_factory=dict)
    total_cost: NonNegativeFloat = 0.0
    verdict_summary: str = ""
    verdict: Verdict | None = None
    error: str | None = None
    failure_reason: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    notes: list[str] = Field(default_factory=list)  # e.g. "ran with --unsafe-no-sandbox"
    source: str = "run"  # "run" | "import:<file>"

    @property
    def counted(self) -> bool:
        return self.status in COUNTED_STATUSES

    @property
    def blocked(self) -> bool:
        """The agent answered BLOCKED (see BLOCKED_NOTE)."""
        return self.status == "blocked" or any(n.startswith(BLOCKED_NOTE) for n in self.notes)

    @property
    def orchestrator_tokens(self) -> int:
        """input + cache_read of the solo agent or the orchestrator: the paper's token volume."""
        u = self.usage.get(lead_role(self.usage))
        return u.prompt_side if u else 0

    def with_calls(self, calls: list[Call]) -> Trial:
        """This trial with usage, cost and models re-derived from its calls (the one source of truth)."""
        if not calls:
            return self
        usage: dict[Role, Usage] = {}
        cost: dict[Role, float] = {}
        models: dict[Role, str] = dict(self.models)
        for c in calls:
            usage[c.role] = usage.get(c.role, Usage()) + c.usage
            cost[c.role] = cost.get(c.role, 0.0) + c.cost_usd
            models.setdefault(c.role, c.model)
        return self.model_copy(
            update={
                "usage": usage,
                "cost": {r: round(v, 9) for r, v in cost.items()},
                "total_cost": round(sum(cost.values()), 9),
                "models": models,
            }
        )
