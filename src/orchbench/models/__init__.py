"""Model providers behind one interface (`ModelAPI.complete`); see docs/agents.md."""

from orchbench.models.base import ContextOverflow, InfraError, ModelAPI, ModelResponse, RetryPolicy

__all__ = ["ContextOverflow", "InfraError", "ModelAPI", "ModelResponse", "RetryPolicy"]
