"""The judge's own pytest command, read for the runs synthesis makes on its behalf.

Screening and the coverage map run pytest themselves (`python -m pytest`, with their own selection and
output options), but what the judge says about *which* tests count — its paths, `--deselect`, `-k`,
`-m`, `-p`, a `--hypothesis-seed` — must hold there too, or a test the judge leaves out would screen a
mutant as caught. So the judge's pytest arguments are split into options to keep, options that are
the runner's business (workers, stopping, verbosity, coverage), and paths.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field

# Options followed by a value when not written `--opt=value`.
_TAKES_VALUE = {"-k", "-m", "-p", "-c", "-o", "-W", "-n", "-r", "--deselect", "--ignore", "--ignore-glob",
                "--rootdir", "--confcutdir", "--basetemp", "--numprocesses", "--dist", "--maxfail", "--tb",
                "--durations", "--cov", "--cov-report", "--cov-context", "--cov-config", "--cov-fail-under",
                "--hypothesis-seed", "--hypothesis-profile", "--timeout", "--import-mode", "--junitxml",
                "--override-ini", "--log-level", "--color"}
# The runner's business: how many workers, when to stop, how much to print, coverage.
_DROP = {"-n", "--numprocesses", "--dist", "-x", "--exitfirst", "--maxfail", "-q", "--quiet", "-v", "--verbose",
         "-r", "--tb", "--durations", "--no-cov", "--cov", "--cov-report", "--cov-context", "--cov-config",
         "--cov-fail-under", "--cov-append", "--cov-branch", "--junitxml", "--color", "-s", "--capture"}


@dataclass
class PytestArgs:
    options: list[str] = field(default_factory=list)  # kept for every run synthesis makes
    paths: list[str] = field(default_factory=list)  # what the judge collects (the coverage run uses them)


def _pytest_argv(run: list[str]) -> list[str] | None:
    """The arguments after `pytest` in a judge command, also inside `bash -c 'pytest ...; exit $?'`."""
    argv = list(run)
    if len(argv) >= 3 and os.path.basename(argv[0]) in ("bash", "sh") and argv[1] == "-c":
        argv = shlex.split(argv[2].split(";")[0].split("&&")[0])
    for i, tok in enumerate(argv):
        if os.path.basename(tok) in ("pytest", "py.test"):
            return argv[i + 1:]
        if tok == "-m" and i + 1 < len(argv) and argv[i + 1] == "pytest":
            return argv[i + 2:]
    return None


def judge_pytest_args(commands: list[list[str]]) -> PytestArgs:
    """From the first judge command that runs pytest (none: nothing to keep)."""
    for run in commands:
        rest = _pytest_argv(run)
        if rest is None:
            continue
        out = PytestArgs()
        i = 0
        while i < len(rest):
            tok = rest[i]
            name = tok.split("=", 1)[0]
            short_glued = len(tok) > 2 and tok[:2] in _TAKES_VALUE and not tok.startswith("--")  # -kfoo, -n4
            takes = name in _TAKES_VALUE and "=" not in tok and not short_glued
            group = rest[i:i + 2] if takes else [tok]
            i += len(group)
            if not tok.startswith("-"):
                out.paths.append(tok)
            elif name not in _DROP and (tok[:2] not in _DROP or tok.startswith("--")):
                out.options += group
        return out
    return PytestArgs()
