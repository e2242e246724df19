"""orchbench: what an LLM coding-agent configuration really costs, under a deterministic judge."""

__version__ = "0.1.0"
