"""From a model configuration (arms.ModelConfig) and the environment to a ModelAPI.

Keys are checked before anything else happens, so a missing key fails before a workspace is made
and names the variable to set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchbench.errors import NoReferenceSolution, UserError
from orchbench.models.base import ModelAPI, RetryPolicy

if TYPE_CHECKING:  # arms sits above models; only its shape is needed here
    from orchbench.arms import ModelConfig

DEFAULT_KEY_ENV = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}
OLLAMA_DEFAULT = "http://localhost:11434"


def key_env(cfg: ModelConfig) -> str | None:
    """The variable that must hold this model's key, or None when no key is needed."""
    if cfg.api_key_env:
        return cfg.api_key_env
    if cfg.provider == "anthropic":
        return DEFAULT_KEY_ENV["anthropic"]
    if cfg.provider == "openai" and not cfg.base_url:
        return DEFAULT_KEY_ENV["openai"]  # a local OpenAI-compatible server needs none
    return None


def check_keys(configs: list[ModelConfig], env: Mapping[str, str] | None = None) -> None:
    env = os.environ if env is None else env
    for cfg in configs:
        var = key_env(cfg)
        if var and not env.get(var):
            raise UserError(
                f"{cfg.provider} model {cfg.model!r} needs an API key: set the environment variable {var}"
                + (" (or use the oracle arm, which needs no key)" if cfg.provider == "anthropic" else "")
            )


def ollama_host(env: Mapping[str, str]) -> str:
    """Where Ollama listens, from OLLAMA_HOST as Ollama itself reads it."""
    host = (env.get("OLLAMA_HOST") or OLLAMA_DEFAULT).rstrip("/")
    if "://" not in host:
        host = "http://" + host
    if host.startswith("http://0.0.0.0"):  # a server bind address, not where to connect
        host = host.replace("0.0.0.0", "127.0.0.1", 1)
    return host


def ollama_base_url(env: Mapping[str, str]) -> str:
    """Ollama's OpenAI-compatible endpoint (for `provider = "openai"` arms pointed at it)."""
    return ollama_host(env) + "/v1"


def make_model(cfg: ModelConfig, *, caching: str = "paper", task: Any = None,
               env: Mapping[str, str] | None = None, retry: RetryPolicy | None = None) -> ModelAPI:
    env = os.environ if env is None else env
    check_keys([cfg], env)
    var = key_env(cfg)
    if cfg.provider == "anthropic":
        from orchbench.models.anthropic_api import AnthropicModel

        return AnthropicModel(cfg.model, api_key=env[var] if var else "", base_url=cfg.base_url,
                              caching=cfg.caching or caching, max_tokens=cfg.max_tokens,
                              timeout_s=cfg.timeout_s, retry=retry)
    if cfg.provider == "ollama":  # the native API: the only one that takes a context length per request
        from orchbench.models.ollama_api import OllamaModel

        return OllamaModel(cfg.model, host=cfg.base_url or ollama_host(env), max_tokens=cfg.max_tokens,
                           num_ctx=cfg.num_ctx, timeout_s=cfg.timeout_s, retry=retry)
    if cfg.provider == "openai":
        from orchbench.models.openai_api import OpenAIModel

        key = (env.get(var) if var else None) or "not-needed"
        return OpenAIModel(cfg.model, api_key=key, base_url=cfg.base_url, max_tokens=cfg.max_tokens,
                           timeout_s=cfg.timeout_s, retry=retry, provider=cfg.provider)
    if cfg.provider == "scripted":
        from orchbench.models.scripted import OracleModel

        if cfg.model != "oracle":
            raise UserError(f"scripted model {cfg.model!r} is unknown; the only scripted model is 'oracle'")
        if task is None or not getattr(task, "reference", None):
            raise NoReferenceSolution(getattr(task, "name", "?"))
        return OracleModel(task.reference)
    raise UserError(f"unknown provider {cfg.provider!r}; use anthropic, openai, ollama or scripted")
