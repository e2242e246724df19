"""Synthetic trials with full transcripts: the viewer's benchmark store and its test fixture.

Deterministic (seeded). An orchestrated arm delegates every few turns: the executor's calls carry
`parent_turn`, the orchestrator call that receives the hand-back carries `handback_chars`, and its
cache reads grow by that hand-back on every later turn, as the paper observed. Costs come from a
fixed per-token price so trial totals (re-derived from calls by the store) are easy to check.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from orchbench.records import Call, Role, Status, Trial, Usage

DELEGATE = "delegate_to_executor"
# $ per token: input, output, cache_write, cache_read (Opus-like for the orchestrator, Haiku-like below)
PRICES = {"orchestrator": (5e-6, 25e-6, 6.25e-6, 0.5e-6), "executor": (1e-6, 5e-6, 1.25e-6, 0.1e-6)}
PRICES["solo"] = PRICES["orchestrator"]
T0 = datetime(2026, 6, 1, tzinfo=UTC)


def _cost(role: str, u: Usage) -> float:
    p = PRICES[role]
    return round(u.input * p[0] + u.output * p[1] + u.cache_write * p[2] + u.cache_read * p[3], 9)


def trial_calls(trial_id: str, turns: int, *, rng: random.Random, orchestrated: bool = True,
                every: int = 4, executor_calls: int = 2, big_output_every: int = 7) -> list[Call]:
    """`turns` orchestrator calls; every `every`-th one delegates to `executor_calls` executor calls."""
    calls: list[Call] = []
    context = 3000  # tokens of the cached prefix (tools + system + prompt)
    pending = 0  # tokens handed back by the previous turn: new input for this one
    exec_turn = 0
    at = T0
    lead: Role = "orchestrator" if orchestrated else "solo"
    for k in range(turns):
        delegate = orchestrated and k % every == every - 1
        tool = DELEGATE if delegate else ("bash" if k % 2 else "str_replace_editor")
        tid = f"toolu_{k:03d}"
        tool_input = ({"task": f"fix the type errors in module_{k}.py and run mypy on it"} if delegate
                      else {"command": f"pytest -q tests/test_{k}.py"} if tool == "bash"
                      else {"command": "view", "path": f"typer/module_{k}.py"})
        content: list[dict[str, Any]] = [{"type": "text", "text": f"Turn {k}: looking at module_{k}.py next."},
                   {"type": "tool_use", "id": tid, "name": tool, "input": tool_input}]
        if delegate:
            for _ in range(executor_calls):
                eu = Usage(input=rng.randint(800, 3000), output=rng.randint(100, 600),
                           cache_write=rng.randint(0, 1500), cache_read=rng.randint(0, 8000))
                calls.append(Call(
                    trial_id=trial_id, role="executor", turn=exec_turn, model="claude-haiku-4-5",
                    usage=eu, cost_usd=_cost("executor", eu), latency_s=round(rng.uniform(1, 6), 2),
                    stop_reason="tool_use", tool_names=["bash"], parent_turn=k, started_at=at,
                    content=[{"type": "text", "text": f"Executor step {exec_turn} for turn {k}."},
                             {"type": "tool_use", "id": f"toolu_x{exec_turn}", "name": "bash",
                              "input": {"command": f"mypy typer/module_{k}.py"}}],
                    tool_results=[{"tool_use_id": f"toolu_x{exec_turn}", "content": "Success: no issues found",
                                   "is_error": False}],
                ))
                exec_turn += 1
                at += timedelta(seconds=3)
            result = f"Executor summary for turn {k}: fixed 3 errors in module_{k}.py. " * rng.randint(8, 40)
        elif k % big_output_every == big_output_every - 1:
            result = "\n".join(f"tests/test_{k}.py::test_case_{i} PASSED" for i in range(rng.randint(40, 120)))
        else:
            result = f"     1\timport typer\n     2\t\n     3\tdef f_{k}() -> int: ..."
        new = rng.randint(60, 400) + pending
        u = Usage(input=rng.randint(2, 40), output=rng.randint(80, 700), cache_write=new, cache_read=context)
        calls.append(Call(
            trial_id=trial_id, role=lead, turn=k, model="claude-opus-4-7", usage=u,
            cost_usd=_cost(lead, u), latency_s=round(rng.uniform(2, 12), 2), stop_reason="tool_use",
            tool_names=[tool], handback_chars=len(result) if delegate else None, started_at=at,
            content=content, tool_results=[{"tool_use_id": tid, "content": result, "is_error": False}],
        ))
        at += timedelta(seconds=8)
        context += new
        pending = len(result) // 4
    return calls


def trials(n: int, *, calls_per_trial: int = 50, experiment: str = "synthetic", seed: int = 7,
           arms: tuple[str, ...] = ("A", "B", "C", "D"), tasks: tuple[str, ...] = ("T1", "T2", "T3", "T4"),
           long_every: int = 0, long_turns: int = 100) -> Iterator[tuple[Trial, list[Call]]]:
    """`n` finished trials of about `calls_per_trial` calls each, spread over arms x tasks.

    With `long_every`, every long_every-th trial has `long_turns` orchestrator turns.
    """
    rng = random.Random(seed)
    for i in range(n):
        arm, task = arms[i % len(arms)], tasks[(i // len(arms)) % len(tasks)]
        orchestrated = arm in ("B", "C")
        long = long_every and i % long_every == 0
        if long:
            turns = long_turns
        else:
            # about calls_per_trial calls in all: with delegation every 4th turn x 2 executor calls,
            # each orchestrator turn brings 1.5 calls
            turns = round(calls_per_trial / 1.5) if orchestrated else calls_per_trial
        tid = f"{experiment}-{arm}-{task}-{i:06d}"
        calls = trial_calls(tid, turns, rng=rng, orchestrated=orchestrated)
        roll = rng.random()
        status: Status = "success" if roll < 0.8 else "failure" if roll < 0.93 else "blocked" if roll < 0.97 else "infra_error"
        trial = Trial(
            id=tid, experiment=experiment, arm=arm, task=task, attempt=i // (len(arms) * len(tasks)),
            status=status, wall_s=round(rng.uniform(30, 600), 2), iterations=turns,
            failure_reason=None if status in ("success", "infra_error") else "judge: mypy errors=3",
            error="ConnectionError: provider unreachable" if status == "infra_error" else None,
            verdict_summary="exit_code=0" if status == "success" else "exit_code=1",
            started_at=T0, ended_at=T0 + timedelta(seconds=60), source="synthetic",
        )
        yield trial, calls
