"""Shared fixtures: where the paper's data lives (the copy shipped in the package)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

# tests/fakes holds loopback servers and small repositories whose own tests are data, not ours.
collect_ignore = ["fakes"]

PAPER_DIR = Path(str(resources.files("orchbench") / "data" / "paper"))


@pytest.fixture(scope="session")
def paper_dir() -> Path:
    """The paper's 41 JSONL lines (40 trials + 1 infra error), as shipped inside the package."""
    return PAPER_DIR
