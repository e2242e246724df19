"""The breakage engine: anchors found with ast, deterministic output, refusals of unexpected bases."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from orchbench.tasks.inject import InjectionError, apply_injections, inject_text
from orchbench.tasks.spec import Injection
from tests.test_tasks_support import CORE, make_repo


def rule(**kw: object) -> Injection:
    base: dict[str, object] = {"id": "R1", "file": "minipkg/core.py", "code": "BROKEN = 1"}
    return Injection.model_validate({**base, **kw})


def lines_of(text: str) -> list[str]:
    return text.splitlines()


def test_after_imports_skips_multiline_and_nested_imports() -> None:
    new, applied = inject_text(CORE, rule(), where="core.py")
    lines = lines_of(new)
    # The multi-line `from typing import (...)` closes on line 8; the `import json` under `if` is not top-level.
    assert lines[7] == ")"
    # The paper's layout: one blank line before the block, none after (it decides where ruff's I001 fires).
    assert lines[8:11] == ["", "BROKEN = 1", ""]
    assert applied.line == 10 and applied.lines == 1
    assert new.count("BROKEN = 1") == 1 and new.replace("\nBROKEN = 1\n", "") == CORE


def test_anchors_after_def_after_class_start_and_end() -> None:
    after_def, _ = inject_text(CORE, rule(anchor="after_def", target="add"), where="core.py")
    assert after_def.index("BROKEN = 1") > after_def.index("return a + b") > 0
    assert after_def.index("BROKEN = 1") < after_def.index("class Box")
    after_class, _ = inject_text(CORE, rule(anchor="after_class", target="Box"), where="core.py")
    assert lines_of(after_class)[-1] == "BROKEN = 1"
    start, applied = inject_text(CORE, rule(anchor="start"), where="core.py")
    # After the docstring and `from __future__` (nothing may come before those).
    assert start.index("BROKEN") > start.index("from __future__") and start.index("BROKEN") < start.index("import os")
    end, _ = inject_text("x = 1", rule(anchor="end"), where="f.py")
    assert end == "x = 1\n\nBROKEN = 1\n"
    assert applied.describe().startswith("R1: core.py:")


def test_missing_anchor_and_unparsable_file_are_refused() -> None:
    with pytest.raises(InjectionError, match="has no a top-level import"):
        inject_text('"""doc"""\nX = 1\n', rule(), where="nothing.py")
    with pytest.raises(InjectionError, match="no a top-level def nope"):
        inject_text(CORE, rule(anchor="after_def", target="nope"), where="core.py")
    with pytest.raises(InjectionError, match="does not parse"):
        inject_text("def (:\n", rule(anchor="end"), where="bad.py")


def test_apply_is_deterministic_and_reports(tmp_path: Path) -> None:
    rules = [rule(id="A"), rule(id="B", code="def f() -> int:\n    return 'x'", anchor="after_def", target="add"),
             rule(id="C", file="minipkg/nothing.py", anchor="start", code="import json")]
    out = []
    for name in ("one", "two"):
        repo = make_repo(tmp_path / name)
        applied = apply_injections(repo, rules, require_clean=False)
        assert [a.id for a in applied] == ["A", "B", "C"]
        out.append({p: (repo / p).read_bytes() for p in ("minipkg/core.py", "minipkg/nothing.py")})
    assert out[0] == out[1]
    assert out[0]["minipkg/nothing.py"].startswith(b'"""No imports here."""\n\nimport json\n')


def test_refuses_unexpected_base_without_writing_anything(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    before = (repo / "minipkg/core.py").read_bytes()
    good_sha = hashlib.sha256(before).hexdigest()
    cases = [
        ([rule(file="minipkg/gone.py")], "does not exist in the base"),
        ([rule(expect_sha256="0" * 64)], "differs from the expected base"),
        ([rule(), rule(id="R2", file="minipkg/nothing.py")], "has no a top-level import"),  # 2nd fails: 1st not written
        ([rule(), rule(id="R2")], "already contains this block"),
    ]
    for rules, message in cases:
        with pytest.raises(InjectionError, match=message):
            apply_injections(repo, rules, require_clean=False)
        assert (repo / "minipkg/core.py").read_bytes() == before
    assert apply_injections(repo, [rule(expect_sha256=good_sha)], require_clean=False)[0].id == "R1"


def test_refuses_a_dirty_git_base(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "g", git=True)
    (repo / "minipkg/core.py").write_text(CORE + "\n# local edit\n")
    with pytest.raises(InjectionError, match="uncommitted changes"):
        apply_injections(repo, [rule()])
    subprocess.run(["git", "checkout", "-q", "--", "minipkg/core.py"], cwd=repo, check=True)
    (repo / "minipkg" / "__pycache__").rename(tmp_path / "pycache")  # untracked litter counts as dirty too
    assert apply_injections(repo, [rule()])[0].file == "minipkg/core.py"
