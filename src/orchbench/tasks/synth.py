"""`tasks synth`: many sound tasks from any repository, by mutating working code (SWE-smith style).

1. The base must pass the judge (the same cached check as `tasks check`).
2. One coverage run of the base maps each line to the tests that execute it.
3. Single-site mutants of the package's functions (tasks/mutate.py), in a seeded order that visits
   every function once before any twice, are screened with only their covering tests
   (tasks/screen.py); a mutant is kept only if some existing test fails.
4. Each kept mutant becomes a task (tasks/taskfile.py) and is proven like `tasks check` proves any
   task: base green, set-up red, the reference (the reverse edit) green through the oracle arm.
   Repair tasks (injected type / lint / collection errors, several per task) are proven the same way.
5. The first n proven tasks in that order are written; same seed, same suite, byte for byte.

Every screening and proof result is cached per candidate, so an interrupted run resumes.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchbench.errors import UserError
from orchbench.tasks.cache import cache_root, spec_key
from orchbench.tasks.mutate import Mutant, mutants
from orchbench.tasks.pytestargs import judge_pytest_args
from orchbench.tasks.screen import Screened, ScreenEnv, coverage_map, screen, tests_for
from orchbench.tasks.source import fetch_base, source_key
from orchbench.tasks.spec import Env, Task
from orchbench.tasks.taskfile import Template, bugfix_task, repair_task, write_suite
from orchbench.tasks.venv import ensure_venv, venv_key

SYNTH_VERSION = 4  # 2: proofs before fast red was bound into the sandbox are void; 3: serial coverage; 4: judge's args


@dataclass
class SynthOptions:
    template: Template
    n: int = 30
    seed: int = 0
    repair: int = 0  # how many of the n are repair tasks
    errors_per_task: int = 3
    workers: int = 2
    unsafe_no_sandbox: bool = False
    log: Callable[[str], None] = field(default=lambda s: print(s, file=sys.stderr, flush=True))


@dataclass
class SynthResult:
    tasks: list[Task]
    screened: int
    killed: int
    proven: int
    rejected: list[str]
    out: Path


def _package_files(base: Path, paths: list[str]) -> list[str]:
    out = []
    for p in paths:
        root = base / p
        files = [root] if root.is_file() else sorted(root.rglob("*.py"))
        out += [f.relative_to(base).as_posix() for f in files if "test" not in f.relative_to(base).parts[0]]
    return sorted(set(out))


def detect_paths(base: Path) -> list[str]:
    """The package directories: top-level (or src/) dirs with an __init__.py, tests and docs aside."""
    found = []
    for parent in (base, base / "src"):
        for d in sorted(parent.iterdir()) if parent.is_dir() else []:
            if d.is_dir() and (d / "__init__.py").exists() and not d.name.startswith(("test", "doc", "example")):
                found.append(d.relative_to(base).as_posix())
    if not found:
        raise UserError(f"no package directory found in {base}: pass --paths DIR")
    return found


def _round_robin(ms: list[Mutant], seed: int) -> list[Mutant]:
    """Seeded order visiting every function once before any function twice (diverse tasks first)."""
    rng = random.Random(seed)
    by_fn: dict[tuple[str, str], list[Mutant]] = {}
    for m in ms:
        by_fn.setdefault((m.file, m.function), []).append(m)
    groups = [by_fn[k] for k in sorted(by_fn)]
    for g in groups:
        rng.shuffle(g)
    rng.shuffle(groups)
    out: list[Mutant] = []
    depth = 0
    while len(out) < len(ms):
        out += [g[depth] for g in groups if depth < len(g)]
        depth += 1
    return out


def _screen_env(t: Template, base: Path, unsafe: bool) -> ScreenEnv:
    pkgs = list(t.env.packages)
    if not any(p.lower().startswith("pytest-cov") for p in pkgs):
        pkgs.append("pytest-cov")
    venv = ensure_venv(Env(python=t.env.python, packages=pkgs, extra_index_url=t.env.extra_index_url))
    xdist = any(p.lower().startswith("pytest-xdist") for p in pkgs)
    own = judge_pytest_args([c.run for c in t.judge.commands])
    return ScreenEnv(base=str(base), venv=str(venv), judge_env=dict(t.judge.env), pytest=["python", "-m", "pytest"],
                     unsafe_no_sandbox=unsafe, xdist=xdist, options=own.options, paths=own.paths)


def _proof_worker(task_json: str, unsafe: bool, cache_file: str) -> dict[str, Any]:
    from orchbench.tasks.check import check_task

    cached = Path(cache_file)
    if cached.exists():
        return dict(json.loads(cached.read_text()))
    task = Task.model_validate_json(task_json)
    result = check_task(task, unsafe_no_sandbox=unsafe)
    out = {"ok": not result.broken, "reason": result.broken_reason or "",
           "seconds": round(sum(s.seconds for s in result.steps), 1)}
    if not result.broken or "infra error" not in (result.broken_reason or ""):
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(out))
    return out


def synthesize(opts: SynthOptions, out: Path) -> SynthResult:
    t, log = opts.template, opts.log
    base = fetch_base(t.source, t.base_dir)
    if not t.paths:
        t.paths = detect_paths(base)
    key = spec_key({"v": SYNTH_VERSION, "source": source_key(t.source, t.base_dir), "venv": venv_key(t.env),
                    "judge": t.judge.model_dump(mode="json"), "paths": t.paths})
    work = cache_root() / "synth" / key
    probe = t.probe_task(base)
    from orchbench.tasks.check import verify_base

    log(f"base: {t.source.describe()} — judging it once (cached afterwards)")
    green = verify_base(probe, unsafe_no_sandbox=opts.unsafe_no_sandbox)
    if not green.ok:
        raise UserError(f"the base of {t.source.describe()} does not pass the judge: {green.detail}; "
                        "fix the judge commands or the [env] packages first")
    log(f"base green ({green.seconds:.0f}s{', cached' if green.cached else ''}): {green.verdict and green.verdict.summary}")
    env = _screen_env(t, base, opts.unsafe_no_sandbox)
    log("coverage map of the base suite (once per source and judge)")
    cov = coverage_map(env, t.paths, work / "coverage.json")
    files = _package_files(base, t.paths)
    cands = [m for f in files for m in mutants(f, (base / f).read_bytes()) if tests_for(cov, m)]
    order = _round_robin(cands, opts.seed)
    log(f"{len(cands)} covered mutants in {len(files)} files; screening in seeded order (seed {opts.seed})")
    n_bug = opts.n - opts.repair
    kept: list[Task] = []
    rejected: list[str] = []
    screened = killed = 0
    with ProcessPoolExecutor(max_workers=opts.workers) as pool:
        i = 0
        while len(kept) < n_bug and i < len(order):
            batch = order[i:i + opts.workers * 3]
            i += len(batch)
            results: list[Screened] = list(pool.map(
                screen, [env] * len(batch), batch, [tests_for(cov, m) for m in batch],
                [str(work / "screen" / f"{m.id}.json") for m in batch]))
            screened += len(batch)
            hits = [(m, r) for m, r in zip(batch, results) if r.status == "killed"]
            killed += len(hits)
            tasks = [bugfix_task(t, base, m, r.failing_tests, len(tests_for(cov, m))) for m, r in hits]
            proofs = list(pool.map(_proof_worker, [x.model_dump_json() for x in tasks],
                                   [opts.unsafe_no_sandbox] * len(tasks),
                                   [str(work / "proof" / f"{spec_key(x.setup.model_dump())}.json") for x in tasks]))
            for task, proof in zip(tasks, proofs):
                if proof["ok"] and len(kept) < n_bug and _new(kept, task):
                    kept.append(task)
                elif not proof["ok"]:
                    rejected.append(f"{task.provenance['file']}:{task.provenance['line']} "
                                    f"{task.provenance['operator']}: {proof['reason']}")
            log(f"screened {screened}, killed {killed}, proven {len(kept)}/{n_bug}")
        rng = random.Random(opts.seed + 1)
        repaired = attempts = 0
        while repaired < opts.repair and attempts < opts.repair * 3:
            task = repair_task(t, base, rng, opts.errors_per_task, repaired + 1)
            attempts += 1
            if not _new(kept, task):
                continue
            proof = _proof_worker(task.model_dump_json(), opts.unsafe_no_sandbox,
                                  str(work / "proof" / f"{spec_key(task.setup.model_dump())}.json"))
            if proof["ok"]:
                kept.append(task)
                repaired += 1
            else:
                rejected.append(f"repair task: {proof['reason']}")
            log(f"repair tasks proven {repaired}/{opts.repair}")
    if len(kept) < opts.n:
        log(f"only {len(kept)} sound tasks could be made (asked for {opts.n})")
    written = write_suite(out, t, kept, seed=opts.seed)
    return SynthResult(tasks=written, screened=screened, killed=killed, proven=len(kept), rejected=rejected, out=out)


def _new(kept: list[Task], task: Task) -> bool:
    """Dedupe: two tasks are the same task when they leave the same set-up tree."""
    sig = spec_key(task.setup.model_dump())
    return all(spec_key(k.setup.model_dump()) != sig for k in kept)
