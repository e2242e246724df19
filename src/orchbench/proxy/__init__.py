"""A recording reverse proxy for the Anthropic Messages and OpenAI chat-completions APIs."""

from orchbench.proxy.recording import StoreSink, WireRecorder
from orchbench.proxy.server import RecordingProxy

__all__ = ["RecordingProxy", "StoreSink", "WireRecorder"]
