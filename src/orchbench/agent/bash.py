"""bash: one command per call, in a fresh bubblewrap sandbox where only the workspace is writable.

The task's venv and a read-only `judge` command are on its PATH. The agent's `judge` shows what
the judge would say; it cannot change the final verdict, which the runner computes afterwards from
outside the sandbox. Two styles of reply: `orchbench` (output, then `[exit code N]` when not 0) and
`paper` (the paper's harness: parameter `cmd`; stdout, a stderr separator and stderr, always
`[exit=N]`, the whole cut head + tail; an error result when N != 0).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import weakref
from pathlib import Path
from typing import Any

from orchbench.agent.tool import BASH_OUTPUT_CHARS, Style, ToolOutput, cut_middle
from orchbench.sandbox import Limits, require_sandbox, run_sandboxed

STDERR_SEPARATOR = "--- stderr ---"


class BashTool:
    """bash: one command per call, in a fresh sandbox, cwd = workspace, `judge` on PATH."""

    name = "bash"

    def __init__(
        self,
        ws: Any,
        *,
        unsafe_no_sandbox: bool = False,
        timeout_s: float = 120,
        limits: Limits | None = None,
        output_chars: int = BASH_OUTPUT_CHARS,
        style: Style = "orchbench",
    ) -> None:
        if not unsafe_no_sandbox:
            require_sandbox("agent commands")
        self.ws = None if isinstance(ws, (str, os.PathLike)) else ws  # a Path has `.root` too
        self.root = Path(ws.root if self.ws is not None else ws).resolve()
        self.unsafe = unsafe_no_sandbox
        self.timeout_s = timeout_s
        self.limits = limits or Limits()
        self.output_chars = output_chars
        self.style = style
        self.param = "cmd" if style == "paper" else "command"
        self._bin: Path | None = None
        self._originals: Path | None = None

    def schema(self) -> dict[str, Any]:
        if self.style == "paper":
            description = (f"Run a shell command in the repo root ({self.timeout_s:g} s timeout, long output cut "
                           "in the middle). `judge` runs the task's checks.")
        else:
            description = (
                "Run a bash command in the repository root (a fresh shell each call, no network, "
                f"{self.timeout_s:g} s timeout; long output is cut in the middle). "
                "`judge` runs the task's checks and prints the verdict."
            )
        return {
            "name": self.name,
            "description": description,
            "input_schema": {
                "type": "object",
                "properties": {self.param: {"type": "string", "description": "The bash command to run."}},
                "required": [self.param],
            },
        }

    def _judge_bin(self) -> Path | None:
        """A read-only dir holding the `judge` script and a snapshot of what it needs (made once)."""
        if self.ws is None or not hasattr(self.ws, "task"):
            return None
        if self._bin is None:
            from orchbench.judge.local import write_snapshot

            d = Path(tempfile.mkdtemp(prefix="orchbench-judge-bin-"))
            weakref.finalize(self, shutil.rmtree, str(d), True)
            self._originals = write_snapshot(self.ws, d / "ctx")
            # The agent's own judge cache and tool caches: kept across calls (a repeated `judge` is
            # instant, mypy stays warm), writable by the agent, never read by the runner's judge.
            (d / "cache").mkdir()
            script = d / "bin" / "judge"
            script.parent.mkdir()
            # -I: the workspace (cwd, PYTHONPATH) must not shadow the judge's own modules; the path
            # inserted is this orchbench's own, so the agent's judge runs the runner's code.
            pkg_root = Path(__file__).resolve().parent.parent.parent
            boot = f"import sys; sys.path.insert(0, {str(pkg_root)!r}); from orchbench.judge.agent_cli import main; " \
                "sys.exit(main())"
            script.write_text(
                f'#!/bin/sh\nexec "{sys.executable}" -I -c "{boot}" --context "{d / "ctx"}" "$@"\n'
            )
            script.chmod(0o755)
            self._bin = d
        return self._bin

    def env(self) -> dict[str, str]:
        """The workspace's env (the same code as the judge's), plus `judge` first on PATH."""
        ws: Any = self.ws
        venv = getattr(ws, "venv", None)
        if venv is not None:
            from orchbench.tasks.venv import env_for

            env = env_for(self.root, Path(venv), dict(getattr(ws.task.judge, "env", {}) or {}))
        else:
            env = {"PATH": os.environ.get("PATH", os.defpath), "PYTHONPATH": str(self.root)}
        bindir = self._judge_bin()
        if bindir is not None:
            env["PATH"] = f"{bindir / 'bin'}:{env['PATH']}"
            env["ORCHBENCH_CACHE"] = str(bindir / "cache")
        return env

    def _timeout_for(self, command: str) -> float:
        """`judge` may take as long as the task's judge does (typer's suite alone is ~140 s)."""
        from orchbench.judge.agent_cli import is_judge_call

        ws = self.ws
        if self._bin is not None and ws is not None and is_judge_call(command):
            return max(self.timeout_s, float(ws.task.judge.timeout_s) + 30)
        return self.timeout_s

    def run(self, args: dict[str, Any]) -> ToolOutput:
        command = args.get(self.param)
        if not isinstance(command, str) or not command.strip():
            return ToolOutput(f"Error: missing '{self.param}'", is_error=True)
        env = self.env()
        extra = (getattr(self.ws, "venv", None), self._bin, self._originals)
        readonly = [Path(p) for p in extra if p is not None]
        writable = [self.root] + ([self._bin / "cache"] if self._bin is not None else [])
        timeout_s = self._timeout_for(command)
        r = run_sandboxed(
            command,
            cwd=self.root,
            writable=writable,
            readonly=readonly,
            env=env,
            timeout_s=timeout_s,
            limits=self.limits,
            unsafe_no_sandbox=self.unsafe,
        )
        if self.style == "paper":
            return self._paper_reply(r.stdout, r.stderr, r.exit_code, r.timed_out, timeout_s)
        text = r.stdout
        if r.stderr:
            text += ("\n" if text and not text.endswith("\n") else "") + r.stderr
        text = cut_middle(text, self.output_chars)
        if r.timed_out:
            return ToolOutput(f"{text}\n[command timed out after {timeout_s:g} s and was killed]", True)
        if r.exit_code != 0:
            text += f"\n[exit code {r.exit_code}]"
        return ToolOutput(text or "(no output)")

    def _paper_reply(self, stdout: str, stderr: str, code: int, timed_out: bool, timeout_s: float) -> ToolOutput:
        text = stdout
        if stderr:
            text += ("\n" if text and not text.endswith("\n") else "") + f"{STDERR_SEPARATOR}\n{stderr}"
        if timed_out:
            text += f"\n[timed out after {timeout_s:g} s]"
            code = code or 124
        text = cut_middle(f"{text.rstrip(chr(10))}\n[exit={code}]", self.output_chars)
        return ToolOutput(text, is_error=code != 0)
