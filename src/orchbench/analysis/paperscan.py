"""Paper-format JSONL straight into `TrialColumns`, without one pydantic record per line.

Follows the rules written down in `orchbench.paperformat` (the record reader, which tests compare
this against, line for line): the first model of usage_by_role is the orchestrator (or the solo
model), the second the executor; a line with 0 iterations and no success is an infra error; a bad
line is a UserError naming FILE:LINE and what is wrong, diagnosed by `paperformat.diagnose_line`.
Building one pydantic Trial per line costs several times the JSON parsing itself, which the
100,000-trial benchmark cannot afford; these columns are all the analysis needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from orchbench.analysis.columns import TrialColumns, build_columns, status_code
from orchbench.errors import UserError
from orchbench.paperformat import _decode, diagnose_line, expand_paths  # _decode rejects NaN/Infinity

_NUM = (int, float)
_SUCCESS, _FAILURE = status_code("success"), status_code("failure")
_BLOCKED, _INFRA = status_code("blocked"), status_code("infra_error")
_ZERO = (0, 0, 0, 0)


def read_paper_columns(paths: Sequence[str | Path]) -> TrialColumns:
    """Every line of the files (directories -> their *.jsonl) as columns; UserError at the first bad line."""
    rows: list[tuple[str, str, int, float, float, float]] = []
    usage: dict[str, list[int]] = {"orchestrator": [], "executor": []}
    role_cost: dict[str, list[float]] = {"orchestrator": [], "executor": []}
    models: dict[str, list[str | None]] = {"orchestrator": [], "executor": []}
    ou, eu = usage["orchestrator"].extend, usage["executor"].extend  # flat: 4 ints per trial
    oc, ec = role_cost["orchestrator"].append, role_cost["executor"].append
    om, em = models["orchestrator"].append, models["executor"].append
    add = rows.append
    loads = _decode
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
                try:
                    d = loads(raw.decode())
                    success = d["success"]
                    iterations = d["iterations"]
                    wall = d["wall_sec"]
                    arm, task = d["arm"], d["task"]
                    ubr = d.get("usage_by_role") or {}
                    cbr = d.get("cost_usd_by_role") or {}
                    blocked = d.get("blocked", False)
                    attempt = d.get("trial", 0)
                    error = d.get("error")
                    vf = d.get("verify_final") or {}
                    if (success.__class__ is not bool or iterations.__class__ is not int or iterations < 0
                            or wall.__class__ not in _NUM or wall < 0 or len(ubr) > 2
                            or arm.__class__ is not str or task.__class__ is not str or not arm or not task
                            or blocked.__class__ is not bool or attempt.__class__ is not int or attempt < 0
                            or cbr.__class__ is not dict or (error is not None and error.__class__ is not str)
                            or vf.__class__ is not dict or (vf.get("summary") or "").__class__ is not str
                            or (vf.get("exit_code") is not None and vf["exit_code"].__class__ is not int)):
                        raise ValueError
                    for model in cbr:
                        if model not in ubr:
                            raise ValueError
                    if success:
                        st = _SUCCESS
                    elif iterations == 0:
                        st = _INFRA
                    elif blocked:
                        st = _BLOCKED
                    else:
                        st = _FAILURE
                    names = list(ubr)
                    total = d.get("total_cost_usd")
                    if names:
                        m0 = names[0]
                        u0 = _tokens(ubr[m0])
                        c0 = cbr.get(m0, 0.0)
                        if c0.__class__ not in _NUM or c0 < 0:
                            raise ValueError
                    else:
                        m0, u0, c0 = None, _ZERO, 0.0
                    if len(names) == 2:
                        m1 = names[1]
                        u1 = _tokens(ubr[m1])
                        c1 = cbr.get(m1, 0.0)
                        if c1.__class__ not in _NUM or c1 < 0:
                            raise ValueError
                    else:
                        m1, u1, c1 = None, _ZERO, 0.0
                    if total is None:
                        total = c0 + c1
                    elif total.__class__ not in _NUM or total < 0:
                        raise ValueError
                    row = (arm, task, st, float(wall), float(iterations), float(total))
                    c0, c1 = float(c0), float(c1)
                except Exception:  # noqa: BLE001 (any failure of a line means: diagnose it)
                    raise UserError(f"{path}:{lineno}: {diagnose_line(raw)}") from None
                add(row)
                ou(u0)
                eu(u1)
                oc(c0)
                ec(c1)
                om(m0)
                em(m1)
    return build_columns(rows, usage, role_cost, models)


def _tokens(u: dict) -> tuple[int, int, int, int]:
    """input, output, cache_write, cache_read of one model; ValueError unless all are ints >= 0."""
    a, b = u["input_tokens"], u["output_tokens"]
    c, e = u.get("cache_creation_input_tokens", 0), u.get("cache_read_input_tokens", 0)
    if a.__class__ is not int or b.__class__ is not int or c.__class__ is not int or e.__class__ is not int:
        raise ValueError
    if (a | b | c | e) < 0:  # the OR of ints is negative iff one of them is
        raise ValueError
    return a, b, c, e
