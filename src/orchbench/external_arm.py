"""External arms: an agent someone else wrote (Claude Code, mini-swe-agent, ...) run as an arm.

An external arm is an `Arm` (so batches, caps and rate-card checks treat it like any other) plus
what it takes to run the agent: the installed agent, the command and environment (with `{prompt}`,
`{workspace}`, `{orchestrator}`, `{executor}`, `{base_url}`, `{api_key}`, `{max_turns}`, `{outdir}`
(a directory the agent may write its log into) substituted), which API it speaks, which model plays which role, and how to read its final answer.
Its `orchestrator` / `executor` models are where the recording proxy forwards (base_url, key).

Presets live as TOML files in orchbench/data/arms/; a TOML file with `kind = "external"` (and
optionally `base = "claude-code"` to change only some keys of a preset) is an external arm.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PositiveInt, ValidationError

from orchbench.arms import Arm, _merge
from orchbench.errors import UserError
from orchbench.tomlfile import explain, read_toml

Answer = Literal["stdout", "claude-json", "mini-trajectory"]
PLACEHOLDER_KEY = "orchbench-proxy-adds-the-key"  # what the agent sees instead of a provider key


class ExternalArm(Arm):
    kind: Literal["external"] = "external"
    # An agent of `orchbench agents list` (its bin directory goes first on PATH, its version on the
    # trial); None: the command is found on PATH as it is (no version recorded).
    agent: str | None = None
    command: list[str]
    # More paths the agent must see (read-only) in the sandbox, e.g. its own scripts or settings.
    binds: list[Path] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    api: Literal["anthropic", "openai"] = "anthropic"
    # model -> role, beyond the orchestrator and executor models (e.g. a helper model of the agent).
    roles: dict[str, Literal["orchestrator", "executor"]] = Field(default_factory=dict)
    delegating_tools: list[str] = Field(default_factory=lambda: ["Agent", "Task"])
    answer: Answer = "stdout"
    timeout_s: PositiveInt = 3600
    memory_mb: PositiveInt = 32768  # address space: Node and Bun reserve far more than they use
    caching: str = "none"  # the agent decides its own caching; recorded as it happened

    def role_map(self) -> dict[str, str]:
        out: dict[str, str] = dict(self.roles)
        out[self.orchestrator.model] = "orchestrator"
        if self.executor is not None:
            out[self.executor.model] = "executor"
        return out

    def substitutions(self, *, prompt: str, workspace: Path, base_url: str, outdir: Path,
                      task: Any) -> dict[str, str]:
        return {"prompt": prompt, "workspace": str(workspace), "base_url": base_url, "outdir": str(outdir),
                "orchestrator": self.orchestrator.model,
                "executor": self.executor.model if self.executor else self.orchestrator.model,
                "api_key": PLACEHOLDER_KEY, "max_turns": str(self.cap_for(task))}


def substitute(template: str, values: dict[str, str]) -> str:
    """`{name}` replaced by its value; other braces (JSON, shell) are left alone."""
    out = template
    for k, v in values.items():
        out = out.replace("{" + k + "}", v)
    return out


def preset_names() -> list[str]:
    folder = resources.files("orchbench") / "data" / "arms"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def preset_path(name: str) -> Path:
    return Path(str(resources.files("orchbench") / "data" / "arms" / f"{name}.toml"))


def load_external(data: dict[str, Any], source: str) -> ExternalArm:
    """An external arm from TOML data (a `base` preset merged under it first)."""
    base = data.pop("base", None)
    if base is not None:
        if base not in preset_names():
            raise UserError(f"{source}: key 'base': {base!r} is not an external preset; use one of "
                            f"{', '.join(preset_names())}")
        under = read_toml(preset_path(base), "arm file")
        data = {**_merge(under, data), "name": data.get("name", Path(source).stem)}
    data.setdefault("name", Path(source).stem)
    try:
        return ExternalArm.model_validate(data)
    except ValidationError as exc:
        raise UserError(explain(source, exc)) from None


def load_preset(name: str) -> ExternalArm:
    return load_external(read_toml(preset_path(name), "arm file"), str(preset_path(name)))
