"""Hard limits around a trial: a wall-clock deadline, and SIGTERM treated like Ctrl-C.

The deadline is a SIGALRM timer: it interrupts whatever the trial is blocked in (a model request, a
sandboxed command, a read the agent made hang) without any cooperation from the agent loop. Its
exception derives from BaseException, like KeyboardInterrupt, so no `except Exception` on the way
(a tool wrapper, a retry loop) can swallow it. Signals reach the main thread only: elsewhere (a Ray
task's thread) the trial runs without this timer, bounded by its tools' and requests' own timeouts.
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from orchbench.errors import UserError

DEFAULT_DEADLINE_S = 4 * 3600.0  # far above the paper's slowest trial; a backstop, not a budget


class TrialDeadline(BaseException):
    """The trial ran past its wall-clock deadline."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"trial deadline: still running after {seconds:g} s of wall-clock time")
        self.seconds = seconds


class Terminated(KeyboardInterrupt):
    """SIGTERM: recorded as an interrupted trial, like Ctrl-C."""


def check_seconds(value: Any, what: str) -> float:
    """A positive, finite number of seconds, else one UserError line naming `what`."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{what}: {value!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise UserError(f"{what}: {value!r} must be a positive, finite number of seconds")
    return seconds


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def trial_deadline(seconds: float | None) -> Iterator[None]:
    """Raise TrialDeadline in this (main) thread once `seconds` have passed; nothing elsewhere."""
    if seconds is None or not _main_thread():
        yield
        return

    def fire(signum: int, frame: Any) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        raise TrialDeadline(seconds)

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While inside, SIGTERM raises Terminated (a KeyboardInterrupt): the running trial is stored as
    interrupted on the way out instead of staying `running`."""
    if not _main_thread():
        yield
        return

    def fire(signum: int, frame: Any) -> None:
        raise Terminated("terminated by SIGTERM")

    old = signal.signal(signal.SIGTERM, fire)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
