"""Arms are data: which model orchestrates, which executes, how prompts are cached, what an
executor hands back, and the turn caps. Presets A-D are the paper's arms; users write TOML."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, ValidationError

from orchbench.agent import prompts
from orchbench.agent.prompts import PromptSet
from orchbench.agent.returns import ReturnPolicy
from orchbench.agent.tools import Profile
from orchbench.errors import UserError
from orchbench.tomlfile import explain, read_toml

Provider = Literal["anthropic", "openai", "ollama", "scripted"]
OPUS = "claude-opus-4-7"
HAIKU = "claude-haiku-4-5-20251001"
QWEN = "qwen3.5:9b"
PAPER_MAX_TOKENS = 4096  # the paper's harness sent this on every call
PAPER_NUM_CTX = 32768  # arm B's executor context on Ollama (the paper left the server's default)
PAPER_DEADLINE_S = 600.0  # arm B: wall-clock limit of one delegation, no turn cap


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelConfig(_Strict):
    provider: Provider
    model: str
    base_url: str | None = None
    # Which environment variable holds the key (default: ANTHROPIC_API_KEY / OPENAI_API_KEY).
    api_key_env: str | None = None
    max_tokens: PositiveInt = 8192
    caching: str | None = None  # overrides the arm's policy for this model (anthropic only)
    timeout_s: float = Field(default=600.0, gt=0, allow_inf_nan=False)
    # Ollama only: the context length, sent as options.num_ctx on every request (None: the server's).
    num_ctx: PositiveInt | None = None


class Prompts(_Strict):
    """The prompt set an arm uses, and any of its texts replaced."""

    set: Literal["paper", "orchbench"] = "orchbench"
    solo: str | None = None
    orchestrator: str | None = None
    executor: str | None = None
    delegate: str | None = None

    def resolved(self) -> PromptSet:
        base = prompts.SETS[self.set]
        return PromptSet(solo=self.solo or base.solo, orchestrator=self.orchestrator or base.orchestrator,
                         executor=self.executor or base.executor, delegate=self.delegate or base.delegate)


class Arm(_Strict):
    """An agent configuration: its models (one solo, or orchestrator + executor), caching, caps, prompts."""

    name: str
    description: str = ""
    orchestrator: ModelConfig
    executor: ModelConfig | None = None
    caching: str = "paper"  # none | paper
    return_policy: ReturnPolicy = Field(default_factory=ReturnPolicy)
    # Outer-turn caps by task name; "default" for any other task.
    caps: dict[str, PositiveInt] = Field(default_factory=lambda: {"default": 40})
    executor_cap: PositiveInt | None = 20  # None: no turn cap (then set executor_deadline_s)
    executor_deadline_s: PositiveFloat | None = None  # wall-clock limit of one delegation
    tool_profile: Profile = "orchbench"  # see agent/tools.py
    executor_tool_profile: Profile | None = None  # None: the same as tool_profile
    prompts: Prompts = Field(default_factory=Prompts)

    @property
    def orchestrated(self) -> bool:
        return self.executor is not None

    @property
    def system_prompt(self) -> str:
        texts = self.prompts.resolved()
        return texts.orchestrator if self.orchestrated else texts.solo

    def models(self) -> list[tuple[str, ModelConfig]]:
        """(role, model) pairs: ("solo", ...) for a solo arm, else orchestrator then executor."""
        out = [("orchestrator" if self.orchestrated else "solo", self.orchestrator)]
        if self.executor is not None:
            out.append(("executor", self.executor))
        return out

    def with_base_url(self, url: str) -> Arm:
        """This arm with every Anthropic / OpenAI model pointed at `url` (Ollama keeps OLLAMA_HOST)."""
        def point(cfg: ModelConfig | None) -> ModelConfig | None:
            if cfg is None or cfg.provider not in ("anthropic", "openai"):
                return cfg
            return cfg.model_copy(update={"base_url": url})

        return self.model_copy(update={"orchestrator": point(self.orchestrator), "executor": point(self.executor)})

    def cap_for(self, task: Any) -> int:
        """This arm's cap, else the task's hint for this arm, else the task's cap, else the default."""
        name = getattr(task, "name", str(task))
        if name in self.caps:
            return self.caps[name]
        hints = getattr(task, "caps", None)
        if hints is not None:
            if self.name in hints.outer_turns_by_arm:
                return hints.outer_turns_by_arm[self.name]
            if hints.outer_turns:
                return hints.outer_turns
        return self.caps.get("default", 40)

    def executor_cap_for(self, task: Any) -> int | None:
        hints = getattr(task, "caps", None)
        if hints is not None and hints.executor_turns and "executor_cap" not in self.model_fields_set:
            return hints.executor_turns
        return self.executor_cap


def _caps(t1: int, t2: int, t3: int) -> dict[str, int]:
    return {"typer-T1": t1, "typer-T2": t2, "typer-T3": t3, "default": max(t1, t2, t3)}


def _preset(name: str) -> Arm:
    opus = ModelConfig(provider="anthropic", model=OPUS, max_tokens=PAPER_MAX_TOKENS)
    haiku = ModelConfig(provider="anthropic", model=HAIKU, max_tokens=PAPER_MAX_TOKENS)
    qwen = ModelConfig(provider="ollama", model=QWEN, max_tokens=PAPER_MAX_TOKENS, num_ctx=PAPER_NUM_CTX,
                       timeout_s=PAPER_DEADLINE_S)
    paper: dict[str, Any] = {"tool_profile": "paper", "prompts": Prompts(set="paper")}
    if name == "A":
        return Arm(name="A", description="Opus 4.7 solo", orchestrator=opus, caps=_caps(40, 40, 40), **paper)
    if name == "B":
        # The paper's B executor was a CLI agent with file tools only, no turn cap, 600 s per delegation.
        return Arm(name="B", description="Opus 4.7 orchestrates local Qwen 3.5-9B (Ollama, $0)",
                   orchestrator=opus, executor=qwen, caps=_caps(80, 60, 60), executor_cap=None,
                   executor_deadline_s=PAPER_DEADLINE_S, executor_tool_profile="paper-files",
                   return_policy=ReturnPolicy(kind="cli_wrapper", max_chars=4000), **paper)
    if name == "C":
        return Arm(name="C", description="Opus 4.7 orchestrates Haiku 4.5", orchestrator=opus,
                   executor=haiku, caps=_caps(40, 40, 40),
                   return_policy=ReturnPolicy(kind="final_text", max_chars=1500), **paper)
    if name == "D":
        return Arm(name="D", description="Haiku 4.5 solo", orchestrator=haiku, caps=_caps(100, 120, 80), **paper)
    if name == "oracle":
        return Arm(name="oracle", description="the task's reference solution, no model",
                   orchestrator=ModelConfig(provider="scripted", model="oracle"), caching="none",
                   caps={"default": 10_000})
    raise KeyError(name)


PRESETS = ("A", "B", "C", "D", "oracle")


def preset(name: str) -> Arm:
    return _preset(name)


def load_arm(name_or_path: str | Path) -> Arm:
    """A preset ("A" "B" "C" "D" "oracle") or an arm TOML file (optionally `base = "C"` to start
    from a preset and change only some keys)."""
    text = str(name_or_path)
    if text in PRESETS:
        return _preset(text)
    from orchbench import external_arm  # external agents (kind = "external"): their own module

    if text in external_arm.preset_names():
        return external_arm.load_preset(text)
    path = Path(text)
    if not path.is_file():
        raise UserError(f"unknown arm {text!r}: give one of {', '.join([*PRESETS, *external_arm.preset_names()])} "
                        "or the path of an arm TOML file")
    data = read_toml(path, "arm file")
    if data.get("kind") == "external":
        return external_arm.load_external(data, str(path))
    base = data.pop("base", None)
    if base is not None:
        if base not in PRESETS:
            raise UserError(f"{path}: key 'base': {base!r} is not a preset; use one of {', '.join(PRESETS)}")
        data = {**_merge(_preset(base).model_dump(), data), "name": data.get("name", path.stem)}
    data.setdefault("name", path.stem)
    try:
        arm = Arm.model_validate(data)
    except ValidationError as exc:
        raise UserError(explain(str(path), exc)) from None
    from orchbench.models.caching import POLICIES

    if arm.caching not in POLICIES:
        raise UserError(f"{path}: key 'caching': {arm.caching!r} is unknown; use one of {', '.join(POLICIES)}")
    return arm


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k != "caps":
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out
