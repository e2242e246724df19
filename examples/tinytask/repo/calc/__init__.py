"""A tiny package with one bug, for agent-loop trials that must run in seconds."""


def add(a: int, b: int) -> int:
    return a - b


def greet(name: str) -> str:
    return f"hello {name}"
