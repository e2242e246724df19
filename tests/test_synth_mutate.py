"""Mutants change one place, and the reverse edit restores the original bytes exactly."""

from __future__ import annotations

import ast

from orchbench.tasks.mutate import OPERATORS, mutants, unique_edit

SOURCE = '''"""Docstring with é and a < b that is not code."""


def clamp(x: int, lo: int = 0, hi: int = 10) -> int:
    """Clamp; é in a docstring."""
    label = "naïve < text"  # non-ASCII before an operator on the same line: byte offsets matter
    if x < lo and label:
        return lo
    if x >= hi or x is None:
        return hi
    total = x + 1
    total += pow(x, 2) * 0
    print(label, x)
    return total - 1


class Box:
    def get(self, key: str) -> str | None:
        return {"a": "b"}.get(key, "")
'''


def test_every_operator_is_one_edit_that_reverses_to_the_same_bytes() -> None:
    data = SOURCE.encode()
    ms = mutants("pkg/mod.py", data)
    assert {m.operator for m in ms} >= {"flip-comparison", "flip-boolean", "off-by-one", "flip-arithmetic",
                                        "swap-arguments", "wrong-return", "remove-statement", "remove-branch"}
    assert set(OPERATORS) >= {m.operator for m in ms}
    assert len({m.id for m in ms}) == len(ms)
    for m in ms:
        after = m.apply(data)
        assert after != data
        ast.parse(after)
        # one contiguous change: everything before and after the span is untouched
        assert after[: m.start] == data[: m.start] and after[m.start + len(m.replacement):] == data[m.end:]
        old, new = unique_edit(data, after)
        assert data.decode().count(old) == 1 and after.decode().count(new) == 1
        assert after.decode().replace(new, old, 1).encode() == data
    flips = {m.replacement for m in ms if m.operator == "flip-comparison"}
    assert flips == {b">=", b"<", b"is not"}
    assert all(m.function in ("clamp", "Box.get") for m in ms)
    assert not any(m.line in (1, 5) for m in ms)  # docstrings are not code


def test_a_file_that_does_not_parse_has_no_mutants() -> None:
    assert mutants("x.py", b"def f(:\n") == []
