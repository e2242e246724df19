"""Stand-in for orchbench.judge.spec until the judge area's module exists (same contract)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class JudgeCommand(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    run: list[str]
    required: bool = True
    parser: str | None = None


class JudgeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    commands: list[JudgeCommand]
    env: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = 900
    rules: dict[str, Any] = Field(default_factory=dict)
