"""The paper's per-trial JSONL format: read it into records, write records back to it.

One JSON object per line (see data/NOTICE.md): arm, task, trial, success, blocked, wall_sec,
iterations, usage_by_role (model -> input_tokens / output_tokens / cache_creation_input_tokens /
cache_read_input_tokens), cost_usd_by_role, total_cost_usd, verify_final, error.

Rules (checked once, by `check_line`, for both readers: records here and numpy columns in
`orchbench.analysis.paperscan`):
- required keys: arm, task (non-empty strings), success (bool), wall_sec (number >= 0),
  iterations (int >= 0); everything else is optional.
- one model in usage_by_role is a solo agent (role "solo"); with two, the first is the orchestrator,
  the second the executor; more than two is an error. input_tokens and output_tokens are required per model, the cache
  counts default to 0.
- status: success -> "success"; else 0 iterations -> "infra_error" (an API failure, kept with its
  error text but never counted); else blocked -> "blocked"; else "failure".
- costs are the recorded ones (per role when cost_usd_by_role has the model, total_cost_usd for the
  total, or the sum of the role costs when it is missing). Re-pricing is the rate card's job.
- ids are deterministic: `<file stem>-<line>-<8 hex of the line's hash>`, so re-importing a file
  gives the same ids (the store upserts) while another file with the same name does not collide.

The hot loop only checks what a correct line needs; a line that trips it is re-examined by
`diagnose_line` to say exactly what is wrong, as "FILE:LINE: what is wrong (how to fix)".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple

from orchbench.bulk import construct_trusted, gc_paused
from orchbench.errors import UserError
from orchbench.records import ROLES, CommandResult, Trial, Usage, Verdict

TOKEN_KEYS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
REQUIRED_KEYS = ("arm", "task", "success", "wall_sec", "iterations")
_NUM = (int, float)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


# Python's json accepts NaN and Infinity, which would slip past every ">= 0" check.
decode = json.JSONDecoder(parse_constant=_no_constant).decode


def expand_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Files as given; directories expanded to their *.jsonl, sorted; a file named twice is read once."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.glob("*.jsonl"))
            if not found:
                raise UserError(f"{p}: directory has no *.jsonl files; pass paper-format JSONL results")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise UserError(f"{p}: no such file or directory; pass paper-format JSONL files or a directory")
    if not out:
        raise UserError("no files given; pass paper-format JSONL files or a directory of them")
    seen: set[Path] = set()
    unique = []
    for p in out:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


class PaperLine(NamedTuple):
    """One checked line, in plain values: what both readers (records here, numpy columns in
    `orchbench.analysis.paperscan`) build from, so the format's rules live in one place."""

    arm: str
    task: str
    attempt: int
    status: str
    wall: float
    iterations: int
    models: tuple[str | None, str | None]  # orchestrator (or solo), executor
    usage: tuple[tuple[int, int, int, int] | None, tuple[int, int, int, int] | None]
    cost: tuple[float | None, float | None]  # recorded per role; None when the file gives none
    total: float
    summary: str
    exit_code: int | None
    has_verdict: bool
    error: str | None


def _tokens(u: dict[str, Any]) -> tuple[int, int, int, int]:
    """input, output, cache_write, cache_read of one model; ValueError unless all are ints >= 0."""
    vals = (u["input_tokens"], u["output_tokens"], u.get("cache_creation_input_tokens", 0),
            u.get("cache_read_input_tokens", 0))
    for v in vals:
        if v.__class__ is not int or v < 0:
            raise ValueError
    return vals


def _cost(c: Any) -> float | None:
    if c is None:
        return None
    if c.__class__ not in _NUM or c < 0:
        raise ValueError
    return float(c)


def check_line(d: dict[str, Any]) -> PaperLine:
    """One decoded line -> PaperLine; ValueError/KeyError/TypeError/AttributeError on anything wrong
    (`diagnose_line` then says what, precisely)."""
    arm, task, success, wall, iterations = d["arm"], d["task"], d["success"], d["wall_sec"], d["iterations"]
    if (arm.__class__ is not str or not arm or task.__class__ is not str or not task
            or success.__class__ is not bool or iterations.__class__ is not int or iterations < 0
            or wall.__class__ not in _NUM or wall < 0):
        raise ValueError
    blocked = d.get("blocked", False)
    attempt = d.get("trial", 0)
    if blocked.__class__ is not bool or attempt.__class__ is not int or attempt < 0:
        raise ValueError
    if success:
        status = "success"
    elif iterations == 0:
        status = "infra_error"
    elif blocked:
        status = "blocked"
    else:
        status = "failure"
    ubr = d.get("usage_by_role") or {}
    cbr = d.get("cost_usd_by_role") or {}
    if len(ubr) > 2 or cbr.__class__ is not dict:
        raise ValueError
    for model in cbr:
        if model not in ubr:
            raise ValueError
    names = list(ubr)
    m0 = names[0] if names else None
    m1 = names[1] if len(names) == 2 else None
    u0 = _tokens(ubr[m0]) if m0 is not None else None
    u1 = _tokens(ubr[m1]) if m1 is not None else None
    c0, c1 = _cost(cbr.get(m0)), _cost(cbr.get(m1))
    total = d.get("total_cost_usd")
    if total is None:
        total = (c0 or 0.0) + (c1 or 0.0)
    elif total.__class__ not in _NUM or total < 0:
        raise ValueError
    vf = d.get("verify_final") or {}
    error = d.get("error")
    if vf.__class__ is not dict or (error is not None and error.__class__ is not str):
        raise ValueError
    summary = vf.get("summary") or ""
    code = vf.get("exit_code")
    if summary.__class__ is not str or (code is not None and code.__class__ is not int):
        raise ValueError
    return PaperLine(arm, task, attempt, status, float(wall), iterations, (m0, m1), (u0, u1), (c0, c1),
                     float(total), summary, code, bool(vf), error)


def iter_lines(paths: Sequence[str | Path]) -> Iterator[tuple[Path, int, bytes]]:
    """(file, line number, raw line) of every non-blank line of the files (dirs -> their *.jsonl)."""
    for path in expand_paths(paths):
        try:
            f = path.open("rb")
        except OSError as exc:
            raise UserError(f"{path}: cannot read ({exc.strerror}); check the path and permissions") from None
        with f:
            for lineno, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                if lineno == 1:
                    raw = raw.removeprefix(b"\xef\xbb\xbf")  # a BOM some editors put before the first line
                yield path, lineno, raw


def parse_lines(paths: Sequence[str | Path]) -> Iterator[tuple[Path, int, bytes, PaperLine]]:
    """Every line checked; UserError "FILE:LINE: what is wrong" at the first bad one."""
    loads = decode
    for path, lineno, raw in iter_lines(paths):
        try:
            line = check_line(loads(raw.decode()))
        except Exception:  # noqa: BLE001 (whatever a bad line trips: diagnose it)
            raise UserError(f"{path}:{lineno}: {diagnose_line(raw)}") from None
        yield path, lineno, raw, line


def _usage(t: tuple[int, int, int, int]) -> Usage:
    return construct_trusted(Usage, {"input": t[0], "output": t[1], "cache_write": t[2], "cache_read": t[3]})


def _trial(p: PaperLine, tid: str, source: str, experiment: str) -> Trial:
    models: dict[str, str] = {}
    usage: dict[str, Usage] = {}
    cost: dict[str, float] = {}
    roles = ("solo",) if p.models[1] is None else ("orchestrator", "executor")  # one model: a solo agent
    for role, model, u, c in zip(roles, p.models, p.usage, p.cost):
        if model is None or u is None:
            continue
        models[role] = model
        usage[role] = _usage(u)
        if c is not None:
            cost[role] = c
    verdict = None
    if p.has_verdict:
        code = p.exit_code
        commands = [] if code is None else [construct_trusted(CommandResult, {
            "name": "verify_final", "argv": [], "exit_code": code, "required": True, "duration_s": 0.0,
            "timed_out": False, "output_tail": "", "counts": {}})]
        verdict = construct_trusted(Verdict, {
            "passed": code == 0 if code is not None else p.status == "success", "commands": commands,
            "counts": {}, "failure_reasons": [], "summary": p.summary, "cached": False, "tool_versions": {},
            "duration_s": 0.0})
    # Every field was checked by check_line; pydantic's full validation of 100,000 lines would cost
    # more than parsing them.
    return construct_trusted(Trial, {
        "id": tid, "experiment": experiment, "arm": p.arm, "task": p.task, "attempt": p.attempt,
        "status": p.status, "wall_s": p.wall, "iterations": p.iterations, "models": models,
        "usage": usage, "cost": cost, "total_cost": p.total, "verdict_summary": p.summary,
        "verdict": verdict, "error": p.error, "failure_reason": None, "started_at": None,
        "ended_at": None, "notes": [], "source": source,
    })


def read_paper_files(paths: Sequence[str | Path], *, experiment: str = "imported") -> list[tuple[Trial, list]]:
    """Every line of the given files (dirs -> their *.jsonl) as (Trial, []): the format has no calls.

    Raises UserError "FILE:LINE: what is wrong" at the first bad line; nothing is returned then.
    """
    with gc_paused():
        return _read(paths, experiment)


def _read(paths: Sequence[str | Path], experiment: str) -> list[tuple[Trial, list]]:
    out: list[tuple[Trial, list]] = []
    add = out.append
    for path, lineno, raw, line in parse_lines(paths):
        tid = f"{path.stem}-{lineno}-{hashlib.blake2b(raw.rstrip(), digest_size=4).hexdigest()}"
        add((_trial(line, tid, f"import:{path}", experiment), []))
    return out


def diagnose_line(raw: bytes | str) -> str:
    """What is wrong with a line the fast reader rejected (slow, precise, one line)."""
    try:
        d = decode(raw.decode() if isinstance(raw, bytes) else raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return f"not valid JSON ({exc}); each line must be one JSON object"
    if not isinstance(d, dict):
        return f"expected a JSON object, got {type(d).__name__}; each line is one trial object"
    for key in REQUIRED_KEYS:
        if key not in d:
            return f'missing key "{key}" (the paper format needs {", ".join(REQUIRED_KEYS)})'
    checks = [
        ("arm", isinstance(d["arm"], str) and bool(d["arm"]), "a non-empty string"),
        ("task", isinstance(d["task"], str) and bool(d["task"]), "a non-empty string"),
        ("success", isinstance(d["success"], bool), "true or false"),
        ("iterations", type(d["iterations"]) is int and d["iterations"] >= 0, "an integer >= 0"),
        ("wall_sec", _nonneg(d["wall_sec"]), "a number >= 0"),
        ("blocked", isinstance(d.get("blocked", False), bool), "true or false"),
        ("trial", type(d.get("trial", 0)) is int and d.get("trial", 0) >= 0, "an integer >= 0"),
        ("total_cost_usd", d.get("total_cost_usd") is None or _nonneg(d["total_cost_usd"]), "a number >= 0"),
        ("error", d.get("error") is None or isinstance(d["error"], str), "a string or null"),
        ("verify_final", isinstance(d.get("verify_final") or {}, dict), "an object"),
    ]
    for key, ok, want in checks:
        if not ok:
            return f'"{key}" must be {want}, got {d[key]!r}'
    vf = d.get("verify_final") or {}
    if vf.get("exit_code") is not None and type(vf["exit_code"]) is not int:
        return f'"verify_final"."exit_code" must be an integer, got {vf["exit_code"]!r}'
    if not isinstance(vf.get("summary") or "", str):
        return f'"verify_final"."summary" must be a string, got {vf["summary"]!r}'
    ubr, cbr = d.get("usage_by_role") or {}, d.get("cost_usd_by_role") or {}
    if not isinstance(ubr, dict):
        return f'"usage_by_role" must be an object of model -> token counts, got {ubr!r}'
    if not isinstance(cbr, dict):
        return f'"cost_usd_by_role" must be an object of model -> dollars, got {cbr!r}'
    if len(ubr) > 2:
        return (f'"usage_by_role" lists {len(ubr)} models; the paper format has at most 2 '
                "(orchestrator first, executor second)")
    for model, u in ubr.items():
        if not isinstance(u, dict):
            return f'"usage_by_role"."{model}" must be an object of token counts, got {u!r}'
        for key in TOKEN_KEYS:
            if key in TOKEN_KEYS[:2] and key not in u:
                return f'"usage_by_role"."{model}" is missing "{key}"'
            v = u.get(key, 0)
            if type(v) is not int or v < 0:
                return f'"usage_by_role"."{model}"."{key}" must be an integer >= 0, got {v!r}'
    for model, c in cbr.items():
        if model not in ubr:
            return f'"cost_usd_by_role" names model "{model}" that is not in "usage_by_role"'
        if not _nonneg(c):
            return f'"cost_usd_by_role"."{model}" must be a number >= 0, got {c!r}'
    return "unreadable trial line; compare it with the paper format in data/NOTICE.md"


def _nonneg(v: object) -> bool:
    return type(v) in (int, float) and v >= 0  # type: ignore[operator]


def trial_to_paper(t: Trial) -> dict[str, Any] | None:
    """A trial as one paper-format object; None for trials that have not ended (running/interrupted).

    An infra error is written with 0 iterations, the only way the format can say "not a trial".
    If both roles used the same model, their usage and cost are summed under that model.
    """
    if t.status in ("running", "interrupted"):
        return None
    ubr: dict[str, dict[str, int]] = {}
    cbr: dict[str, float] = {}
    for role in ROLES:
        model = t.models.get(role)
        u = t.usage.get(role)
        if model is None:
            continue
        u = u or Usage()
        prev = ubr.get(model)
        vals = [u.input, u.output, u.cache_write, u.cache_read]
        if prev is not None:
            vals = [a + b for a, b in zip(vals, prev.values())]
        ubr[model] = dict(zip(TOKEN_KEYS, vals))
        cbr[model] = round(cbr.get(model, 0.0) + t.cost.get(role, 0.0), 9)
    vf: dict[str, Any] = {}
    if t.verdict is not None:
        code = next((c.exit_code for c in t.verdict.commands if c.name == "verify_final"), None)
        vf = {"exit_code": code if code is not None else (0 if t.verdict.passed else 1),
              "summary": t.verdict.summary or t.verdict_summary}
    elif t.verdict_summary:
        vf = {"summary": t.verdict_summary}
    return {
        "arm": t.arm, "task": t.task, "trial": t.attempt, "success": t.status == "success",
        "blocked": t.blocked, "wall_sec": t.wall_s,
        "iterations": 0 if t.status == "infra_error" else t.iterations,
        "usage_by_role": ubr, "cost_usd_by_role": cbr, "total_cost_usd": t.total_cost,
        "verify_final": vf, "error": t.error,
    }


def write_paper_jsonl(trials: Iterable[Trial], out: str | Path | IO[str]) -> int:
    """Write trials as paper-format JSONL (to a path or an open text stream); returns lines written.

    Trials still running or interrupted are skipped: the format has no status for them.
    """
    if isinstance(out, (str, Path)):
        with open(out, "w", encoding="utf-8") as f:
            return write_paper_jsonl(trials, f)
    n = 0
    for t in trials:
        obj = trial_to_paper(t)
        if obj is not None:
            out.write(json.dumps(obj) + "\n")
            n += 1
    return n
