"""Generated tasks as task files: bug-fix tasks from mutants, repair tasks from injected errors, and
the suite directory they are written to (tomli-w; the same tasks give the same bytes)."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from orchbench.judge.spec import JudgeSpec
from orchbench.tasks.inject import inject_text
from orchbench.tasks.mutate import Mutant, unique_edit
from orchbench.tasks.spec import Env, Injection, Replace, Setup, Source, Task, ToolCall, parse_task
from orchbench.tasks.suite import SUITE_FILE


@dataclass
class Template:
    """What every generated task shares: where the code comes from, its judge, what may be edited."""

    source: Source
    env: Env
    judge: JudgeSpec
    paths: list[str]  # the package code that is mutated (and that bug-fix tasks may change)
    prefix: str
    base_dir: Path = field(default_factory=Path.cwd)

    def probe_task(self, base: Path) -> Task:
        return Task(name=f"{self.prefix}-base", source=self.source, env=self.env, judge=self.judge, prompt="-")

    def commands(self) -> str:
        return "; ".join(" ".join(c.run) for c in self.judge.commands if c.required)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _rules(t: Template, allowed: list[str]) -> JudgeSpec:
    dirs = {p if p.endswith(("/", ".py")) else p + "/" for p in allowed}
    rules = t.judge.rules.model_copy(update={"allowed_paths": sorted(dirs), "no_deleted_tests": True})
    return t.judge.model_copy(update={"rules": rules})


def _fix(path: str, before: bytes, after: bytes) -> ToolCall:
    old, new = unique_edit(before, after)
    return ToolCall(tool="str_replace_editor", input={"command": "str_replace", "path": path, "old_str": new,
                                                      "new_str": old})


def bugfix_task(t: Template, base: Path, m: Mutant, failing: list[str], covering: int) -> Task:
    original = (base / m.file).read_bytes()
    mutated = m.apply(original)
    old, new = unique_edit(original, mutated)
    shown = "".join(f"  - {x}\n" for x in failing[:5]) + (f"  - ... and {len(failing) - 5} more\n" if len(failing) > 5 else "")
    where = ", ".join(f"{p}/" if (base / p).is_dir() else p for p in t.paths)
    prompt = (f"You are working in a checkout of {t.source.describe()}, at the repository root.\n"
              f"A bug has crept into the library code: these existing tests now fail:\n{shown}"
              f"Find the bug and fix it so that the judge passes: {t.commands()}.\n\n"
              f"Rules: change only files under {where}; do not modify, delete or skip tests; do not add "
              "`# type: ignore` or `# noqa` comments, and do not weaken any configuration. Run `judge` to see "
              "what the final judge would say. When everything passes, reply with a short summary of the fix.\n")
    return Task(
        name=f"{t.prefix}-bug-{m.id}", description=f"Bug fix: {m.operator} in {m.function} ({m.file}:{m.line})",
        source=t.source, env=t.env, judge=_rules(t, t.paths),
        setup=Setup(replace=[Replace(file=m.file, old=old, new=new, expect_sha256=_sha(original))]),
        prompt=prompt, reference=[_fix(m.file, original, mutated)],
        provenance={"kind": "bugfix", "operator": m.operator, "file": m.file, "function": m.function,
                    "line": m.line, "failing_tests": failing,
                    "difficulty": {"failing_tests": len(failing), "covering_tests": covering, "files": 1}},
    )


_CODES = {
    "mypy": 'def _synth_type_{k}() -> int:\n    return "not an int"  # injected type error {k}',
    "ruff": "import colorsys  # injected lint error {k}: unused import",
    "pytest": 'assert False, "injected collection error {k}: remove this line"',
}


def _candidates(base: Path, t: Template) -> dict[str, list[str]]:
    pkg = sorted(p.relative_to(base).as_posix() for path in t.paths for p in
                 ([base / path] if (base / path).is_file() else (base / path).rglob("*.py")))
    tests = sorted(p.relative_to(base).as_posix() for p in base.rglob("test_*.py")
                   if not any(part.startswith(".") for part in p.relative_to(base).parts))
    parsers = {c.parser for c in t.judge.commands if c.required}
    return {cat: files for cat, files in (("mypy", pkg), ("ruff", pkg), ("pytest", tests))
            if cat in parsers and files}


def repair_task(t: Template, base: Path, rng: random.Random, errors: int, index: int) -> Task:
    """`errors` injected errors in distinct places (type, lint, collection), removed by the reference."""
    cands = _candidates(base, t)
    rules: list[Injection] = []
    texts: dict[str, str] = {}
    for k in range(1, errors + 1):
        cat = rng.choice(sorted(cands))
        path = rng.choice(cands[cat])
        rule = Injection(id=f"SYN-{index:03d}-{k}", file=path, code=_CODES[cat].format(k=k), category=cat,
                         description=f"injected {cat} error")
        before = texts.get(path, (base / path).read_bytes().decode("utf-8"))
        texts[path], _ = inject_text(before, rule, where=path)
        rules.append(rule.model_copy(update={"expect_sha256": _sha((base / path).read_bytes())}))
    files = sorted(texts)
    refs = [_fix(p, (base / p).read_bytes(), texts[p].encode("utf-8")) for p in files]
    cats = sorted({r.category for r in rules})
    prompt = (f"You are working in a checkout of {t.source.describe()}, at the repository root.\n"
              f"Someone broke it: the judge ({t.commands()}) now fails. Find and repair every problem so "
              "that it passes again.\n\nRules: do not delete, skip or xfail tests; do not add `# type: ignore` "
              "or `# noqa` comments, and do not weaken any configuration. Run `judge` to see what the final "
              "judge would say. When everything passes, reply with a short summary of what you fixed.\n")
    allowed = sorted({*t.paths, *(p.split("/")[0] + "/" if "/" in p else p for p in files)})
    return Task(
        name=f"{t.prefix}-repair-{index:03d}", description=f"Repair: {errors} injected errors ({', '.join(cats)}) "
                                                            f"in {len(files)} files",
        source=t.source, env=t.env, judge=_rules(t, allowed), setup=Setup(inject=rules), prompt=prompt,
        reference=refs,
        provenance={"kind": "repair", "injections": [{"id": r.id, "file": r.file, "category": r.category}
                                                     for r in rules],
                    "difficulty": {"errors": errors, "files": len(files)}},
    )


def task_toml(task: Task) -> str:
    data = task.model_dump(mode="json", exclude_defaults=True, exclude={"origin"})
    data["source"] = task.source.model_dump(mode="json", exclude_none=True)
    text = tomli_w.dumps(data, multiline_strings=True)
    back = parse_task(__import__("tomllib").loads(text), origin="<generated>")
    if back.model_dump(exclude={"origin"}) != task.model_dump(exclude={"origin"}):
        raise RuntimeError(f"task {task.name}: its TOML does not read back as the same task")
    return text


def write_suite(out: Path, t: Template, tasks: list[Task], *, seed: int) -> list[Task]:
    """Numbered task files plus suite.toml listing them; earlier generated files of this prefix go."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob(f"{t.prefix}-*.toml"):
        old.unlink()
    names = []
    written = []
    for i, task in enumerate(tasks, 1):
        kind = task.provenance.get("kind", "task")
        named = task.model_copy(update={"name": f"{t.prefix}-{i:03d}-{kind}"})
        (out / f"{named.name}.toml").write_text(task_toml(named), encoding="utf-8")
        names.append(f"{named.name}.toml")
        written.append(named)
    suite = {"name": f"{t.prefix}-seed{seed}", "description": f"{len(tasks)} generated tasks from "
             f"{t.source.describe()} (orchbench tasks synth, seed {seed})", "tasks": names}
    (out / SUITE_FILE).write_text(tomli_w.dumps(suite), encoding="utf-8")
    return written
