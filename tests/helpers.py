"""Helpers several test modules share."""

from __future__ import annotations

import sys

import pytest

from orchbench.cli import main


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`orchbench ARGS...` in this process, as the console script runs it: (exit code, stdout, stderr)."""
    old = sys.argv
    sys.argv = ["orchbench", *args]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = old
    out, err = capsys.readouterr()
    return code, out, err
