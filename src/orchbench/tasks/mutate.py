"""Semantic mutants of a project's functions: one small edit each, made on the file's exact bytes.

Sites are found with `ast` inside function bodies; each mutant rewrites only the bytes of one site
(an operator between its operands, a constant, a return value, two arguments, one statement, one
condition), so the file keeps every other byte and the reverse edit restores the original exactly.
(`ast.unparse` of a whole function would reformat it; libcst would do the same job with a larger
API; mutmut and cosmic-ray bring their own runners and caches, which we already have.)
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

CMP_FLIP = {ast.Lt: ">=", ast.LtE: ">", ast.Gt: "<=", ast.GtE: "<", ast.Eq: "!=", ast.NotEq: "==",
            ast.Is: "is not", ast.IsNot: "is", ast.In: "not in", ast.NotIn: "in"}
CMP_TEXT = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
            ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
ARITH_FLIP = {ast.Add: ("+", "-"), ast.Sub: ("-", "+"), ast.Mult: ("*", "//"), ast.FloorDiv: ("//", "*")}

OPERATORS = ("flip-comparison", "flip-boolean", "off-by-one", "flip-arithmetic", "swap-arguments",
             "wrong-return", "remove-statement", "remove-branch")


@dataclass(frozen=True)
class Mutant:
    file: str  # relative path
    operator: str
    function: str
    line: int  # 1-based line of the edit
    start: int  # byte offsets of the replaced span in the original file
    end: int
    replacement: bytes
    first_line: int  # the lines the edit touches (coverage selects tests by them)
    last_line: int

    @property
    def id(self) -> str:
        h = hashlib.sha256(f"{self.file}:{self.start}:{self.end}:".encode() + self.replacement)
        return h.hexdigest()[:12]

    def apply(self, original: bytes) -> bytes:
        return original[: self.start] + self.replacement + original[self.end:]


class _Offsets:
    def __init__(self, data: bytes) -> None:
        self.starts = [0]
        for i, b in enumerate(data):
            if b == 10:
                self.starts.append(i + 1)

    def at(self, line: int, col: int) -> int:
        return self.starts[line - 1] + col


def _span(node: ast.AST) -> tuple[int, int, int, int] | None:
    end_line, end_col = getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None)
    if end_line is None or end_col is None:
        return None
    return node.lineno, node.col_offset, end_line, end_col  # type: ignore[attr-defined]


def _functions(tree: ast.Module) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function and method with its qualified name (nested defs are their own functions)."""
    stack: list[tuple[str, ast.AST]] = [("", tree)]
    while stack:
        prefix, node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                yield prefix + child.name, child
                stack.append((prefix + child.name + ".", child))
            elif isinstance(child, ast.ClassDef):
                stack.append((prefix + child.name + ".", child))


def _own_nodes(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.AST]:
    """Nodes of the function's body, not of nested defs/classes, f-strings, annotations or docstring."""
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:]
    stack: list[ast.AST] = list(reversed(body))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda | ast.JoinedStr):
            continue
        yield node
        children = [c for c in ast.iter_child_nodes(node) if not isinstance(c, ast.expr_context)]
        if isinstance(node, ast.AnnAssign):
            children = [c for c in children if c is not node.annotation]
        stack.extend(reversed(children))


def _text(data: bytes, off: _Offsets, node: ast.AST) -> tuple[int, int, bytes] | None:
    sp = _span(node)
    if sp is None:
        return None
    a, b = off.at(sp[0], sp[1]), off.at(sp[2], sp[3])
    return a, b, data[a:b]


def _between(data: bytes, off: _Offsets, left: ast.AST, right: ast.AST, token: str, new: str) -> tuple[int, int, bytes] | None:
    """The operator token between two operands, replaced (spacing and parentheses kept)."""
    ls, rs = _span(left), _span(right)
    if ls is None or rs is None:
        return None
    a, b = off.at(ls[2], ls[3]), off.at(rs[0], rs[1])
    gap = data[a:b]
    tok = token.encode()
    if gap.count(tok) != 1 or b"#" in gap:
        return None
    i = gap.index(tok)
    return a + i, a + i + len(tok), new.encode()


def _sites(data: bytes, off: _Offsets, node: ast.AST) -> Iterator[tuple[str, tuple[int, int, bytes] | None]]:
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in CMP_FLIP:
        op = type(node.ops[0])
        yield "flip-comparison", _between(data, off, node.left, node.comparators[0], CMP_TEXT[op], CMP_FLIP[op])
    elif isinstance(node, ast.BoolOp) and len(node.values) == 2:
        old, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
        yield "flip-boolean", _between(data, off, node.values[0], node.values[1], old, new)
    elif isinstance(node, ast.BinOp) and type(node.op) in ARITH_FLIP:
        old, new = ARITH_FLIP[type(node.op)]
        if not (isinstance(node.left, ast.Constant) and isinstance(node.left.value, str)):
            yield "flip-arithmetic", _between(data, off, node.left, node.right, old, new)
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        t = _text(data, off, node)
        if t is not None and t[2].isdigit():
            yield "off-by-one", (t[0], t[1], str(node.value + 1).encode())
    elif isinstance(node, ast.Call) and len(node.args) >= 2 and not any(isinstance(a, ast.Starred) for a in node.args[:2]):
        x, y = _text(data, off, node.args[0]), _text(data, off, node.args[1])
        if x and y and x[2] != y[2] and b"\n" not in data[x[0]:y[1]]:
            yield "swap-arguments", (x[0], y[1], y[2] + data[x[1]:y[0]] + x[2])
    elif isinstance(node, ast.Return) and node.value is not None and not (
            isinstance(node.value, ast.Constant) and node.value.value is None):
        t = _text(data, off, node.value)
        if t is not None:
            yield "wrong-return", (t[0], t[1], b"None")
    elif isinstance(node, ast.If):
        t = _text(data, off, node.test)
        if t is not None and b"\n" not in t[2]:
            yield "remove-branch", (t[0], t[1], b"False")
    if isinstance(node, ast.Expr | ast.Assign | ast.AugAssign) and node.lineno == node.end_lineno:
        t = _text(data, off, node)
        if t is not None and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            yield "remove-statement", (t[0], t[1], b"pass")


def mutants(relpath: str, data: bytes) -> list[Mutant]:
    """Every single-site mutant of the file's functions, in file order. Each edit keeps the syntax by
    construction; `parses` checks one before it is screened (parsing every mutant of a big file is slow)."""
    try:
        tree = ast.parse(data)
    except (SyntaxError, ValueError):
        return []
    off = _Offsets(data)
    seen: set[tuple[int, int, bytes]] = set()
    out: list[Mutant] = []
    for name, fn in _functions(tree):
        for node in _own_nodes(fn):
            for op, site in _sites(data, off, node):
                if site is None or site in seen or data[site[0]:site[1]] == site[2]:
                    continue
                seen.add(site)
                first = data.count(b"\n", 0, site[0]) + 1
                out.append(Mutant(file=relpath, operator=op, function=name, line=first, start=site[0],
                                  end=site[1], replacement=site[2], first_line=first,
                                  last_line=first + data.count(b"\n", site[0], site[1])))
    out.sort(key=lambda m: (m.start, m.end, m.operator))
    return out


def parses(data: bytes) -> bool:
    try:
        ast.parse(data)
    except (SyntaxError, ValueError):
        return False
    return True


def unique_edit(before: bytes, after: bytes) -> tuple[str, str]:
    """(old, new): whole lines around the difference, grown until `old` occurs once in `before` and
    `new` once in `after`, so a str_replace of either restores the other byte for byte."""
    i = 0
    while i < min(len(before), len(after)) and before[i] == after[i]:
        i += 1
    j = 0
    while j < min(len(before), len(after)) - i and before[-1 - j] == after[-1 - j]:
        j += 1
    a0 = before.rfind(b"\n", 0, i) + 1
    a_end, b_end = len(before) - j, len(after) - j
    tail = before.find(b"\n", a_end)
    a1 = len(before) if tail < 0 else tail + 1
    b1 = a1 - len(before) + len(after)
    del b_end
    while True:
        old, new = before[a0:a1], after[a0:b1]
        if old and new and before.count(old) == 1 and after.count(new) == 1:
            return old.decode("utf-8"), new.decode("utf-8")
        if a0 == 0 and a1 == len(before):
            return before.decode("utf-8"), after.decode("utf-8")
        a0 = before.rfind(b"\n", 0, max(a0 - 1, 0)) + 1 if a0 > 0 else 0
        nxt = before.find(b"\n", a1)
        grow = (len(before) if nxt < 0 else nxt + 1) - a1
        a1, b1 = a1 + grow, b1 + grow
