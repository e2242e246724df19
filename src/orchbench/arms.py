"""Arms are data: which model orchestrates, which executes, how prompts are cached, what an
executor hands back, and the turn caps. Presets A-D are the paper's arms; users write TOML."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError

from orchbench.agent import prompts
from orchbench.agent.returns import ReturnPolicy
from orchbench.errors import UserError
from orchbench.tomlfile import explain, read_toml

Provider = Literal["anthropic", "openai", "ollama", "scripted"]
OPUS = "claude-opus-4-7"
HAIKU = "claude-haiku-4-5-20251001"
QWEN = "qwen3.5:9b"


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
    timeout_s: float = 600.0


class Prompts(_Strict):
    solo: str = prompts.SOLO
    orchestrator: str = prompts.ORCHESTRATOR
    executor: str = prompts.EXECUTOR


class Arm(_Strict):
    name: str
    description: str = ""
    orchestrator: ModelConfig
    executor: ModelConfig | None = None
    caching: str = "paper"  # none | paper
    return_policy: ReturnPolicy = Field(default_factory=ReturnPolicy)
    # Outer-turn caps by task name; "default" for any other task.
    caps: dict[str, PositiveInt] = Field(default_factory=lambda: {"default": 40})
    executor_cap: PositiveInt = 20
    prompts: Prompts = Field(default_factory=Prompts)

    @property
    def orchestrated(self) -> bool:
        return self.executor is not None

    @property
    def system_prompt(self) -> str:
        return self.prompts.orchestrator if self.orchestrated else self.prompts.solo

    def models(self) -> list[tuple[str, ModelConfig]]:
        out = [("orchestrator", self.orchestrator)]
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

    def executor_cap_for(self, task: Any) -> int:
        hints = getattr(task, "caps", None)
        if hints is not None and hints.executor_turns and "executor_cap" not in self.model_fields_set:
            return hints.executor_turns
        return self.executor_cap


def _caps(t1: int, t2: int, t3: int) -> dict[str, int]:
    return {"typer-T1": t1, "typer-T2": t2, "typer-T3": t3, "default": max(t1, t2, t3)}


def _preset(name: str) -> Arm:
    opus = ModelConfig(provider="anthropic", model=OPUS)
    haiku = ModelConfig(provider="anthropic", model=HAIKU)
    qwen = ModelConfig(provider="ollama", model=QWEN)
    if name == "A":
        return Arm(name="A", description="Opus 4.7 solo", orchestrator=opus, caps=_caps(40, 40, 40))
    if name == "B":
        return Arm(name="B", description="Opus 4.7 orchestrates local Qwen 3.5-9B (Ollama, $0)",
                   orchestrator=opus, executor=qwen, caps=_caps(80, 60, 60),
                   return_policy=ReturnPolicy(kind="transcript_tail", max_chars=4000))
    if name == "C":
        return Arm(name="C", description="Opus 4.7 orchestrates Haiku 4.5", orchestrator=opus,
                   executor=haiku, caps=_caps(40, 40, 40),
                   return_policy=ReturnPolicy(kind="final_text", max_chars=1500))
    if name == "D":
        return Arm(name="D", description="Haiku 4.5 solo", orchestrator=haiku, caps=_caps(100, 120, 80))
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
