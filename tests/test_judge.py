"""The judge on a small repository of its own: parsers, verdicts, rules, structural checks, cache.

`make_ws` builds a tiny package (mypy strict, ruff, pytest) in tmp, its set-up tree beside it, and a
DirWorkspace with the current interpreter's prefix as the "venv" (it has mypy, ruff and pytest).
test_cheats.py reuses these helpers.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from orchbench.judge import checks, parsers, rules
from orchbench.judge.checks import CheckContext, imported_names, run_checks
from orchbench.judge.local import DirWorkspace
from orchbench.judge.run import run_judge
from orchbench.judge.spec import JudgeRules
from orchbench.sandbox import SandboxResult, sandbox_available
from orchbench.tasks.spec import Task

needs_bwrap = pytest.mark.skipif(not sandbox_available(), reason="bubblewrap (bwrap) is not installed/usable")

PYPROJECT = """\
[tool.mypy]
strict = true

[tool.ruff]
line-length = 100

[tool.pytest.ini_options]
testpaths = ["tests"]
"""
FILES = {
    "pyproject.toml": PYPROJECT,
    "pkg/__init__.py": "from pkg.banner import banner as banner\nfrom pkg.core import add as add\n",
    "pkg/core.py": "def add(a: int, b: int) -> int:\n    return a + b\n",
    "pkg/banner.py": 'def banner(prefix: str = "Pkg") -> str:\n    return f"{prefix} v1"\n',
    "pkg/util.py": "from pkg.core import add\n\n\ndef twice(a: int) -> int:\n    return add(a, a)\n",
    "tests/__init__.py": "",
    "tests/conftest.py": "import pytest\n\n\n@pytest.fixture\ndef two() -> int:\n    return 2\n",
    "tests/test_core.py": (
        "from pkg import add\nfrom pkg.util import twice\n\n\n"
        "def test_add(two: int) -> None:\n    assert add(1, 1) == two\n\n\n"
        "def test_twice() -> None:\n    assert twice(2) == 4\n\n\n"
        "class TestMore:\n    def test_zero(self) -> None:\n        assert add(0, 0) == 0\n"
    ),
    "tests/test_feature.py": (
        "import pkg\n\n\ndef test_banner() -> None:\n    assert pkg.banner().startswith('Pkg v')\n"
    ),
}

COMMANDS: dict[str, dict[str, Any]] = {
    "mypy": {"name": "mypy", "run": ["python", "-m", "mypy", "pkg"], "parser": "mypy"},
    "ruff": {"name": "ruff", "run": ["python", "-m", "ruff", "check", "pkg", "tests"], "parser": "ruff"},
    "format": {"name": "format", "run": ["python", "-m", "ruff", "format", "--check", "pkg"],
               "parser": "ruff-format", "required": False},
    "pytest": {"name": "pytest", "run": ["python", "-m", "pytest", "-p", "no:cacheprovider"], "parser": "pytest"},
    # Cheap stand-in where the test is about rules or the cache, not the tools (pytest starts in ~1.5 s).
    "smoke": {"name": "smoke", "run": ["python", "-c", "import pkg; assert pkg.add(1, 2) == 3"]},
}
T1_RULES = {"forbid_new": ["type: ignore", "noqa"], "allowed_paths": ["pkg/", "tests/"],
            "no_deleted_tests": True, "no_skipped_tests": True}


def make_task(commands: list[str] = ("pytest",), rules: dict[str, Any] | None = None,  # type: ignore[assignment]
              checks: list[dict[str, Any]] | None = None, base_counts: dict[str, int] | None = None) -> Task:
    return Task.model_validate({
        "base_counts": base_counts or {},
        "name": "tiny", "source": {"path": "."}, "prompt": "fix it",
        "protected": ["tests/test_feature.py"],
        "judge": {"commands": [COMMANDS[c] for c in commands], "timeout_s": 60, "rules": rules or T1_RULES},
        "checks": checks or [],
    })


def make_ws(tmp: Path, task: Task | None = None, files: dict[str, str] | None = None) -> DirWorkspace:
    base, root = tmp / "setup", tmp / "ws"
    for rel, text in (files or FILES).items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_text(text)
    shutil.copytree(base, root)
    return DirWorkspace.from_setup(root, task or make_task(), Path(sys.prefix), base)


def judge(ws: DirWorkspace, tmp: Path, **kw: Any) -> Any:
    return run_judge(ws, cache_dir=tmp / "cache", **kw)


def edit(ws: DirWorkspace, rel: str, old: str, new: str) -> None:
    p = ws.root / rel
    text = p.read_text()
    assert old in text, (rel, old)
    p.write_text(text.replace(old, new, 1))


# --- parsers, on the tools' real output ---------------------------------------------------------

BROKEN = {
    **FILES,
    "pkg/core.py": "import os\n\n\ndef add(a: int, b: int) -> int:\n    return str(a + b)\n\n\nX: int = 'x'\n",
    "tests/test_core.py": (
        "import pytest\n\n\ndef test_ok() -> None:\n    pass\n\n\ndef test_fail() -> None:\n    assert 1 == 2\n\n\n"
        "@pytest.mark.skip(reason='s')\ndef test_skip() -> None:\n    pass\n\n\n"
        "@pytest.mark.xfail(reason='x')\ndef test_xfail() -> None:\n    assert 0\n"
    ),
    "tests/test_broken.py": "assert False, 'injected'\n",
    "clean.py": "x: int = 1\n",
}


def _tool(argv: list[str], cwd: Path) -> str:
    r = subprocess.run([sys.executable, "-m", *argv], check=False, cwd=cwd, capture_output=True, text=True)
    return r.stdout + r.stderr


def test_parsers_read_real_tool_output(tmp_path: Path) -> None:
    ws = make_ws(tmp_path, files=BROKEN)
    mypy = parsers.parse_mypy(_tool(["mypy", "pkg", "--cache-dir", str(tmp_path / "mc")], ws.root))
    assert mypy == {"errors": 2, "files_with_errors": 1}
    assert parsers.parse_ruff(_tool(["ruff", "check", "--no-cache", "pkg"], ws.root)) == {"errors": 1}
    assert parsers.parse_ruff(_tool(["ruff", "check", "--no-cache", "tests/conftest.py"], ws.root)) == {"errors": 0}
    out = _tool(["pytest", "-p", "no:cacheprovider", "--continue-on-collection-errors"], ws.root)
    counts = parsers.parse_pytest(out)
    assert counts["failed"] == 1 and counts["skipped"] == 1 and counts["xfailed"] == 1
    assert counts["errors"] == 1 and counts["collection_errors"] == 1
    assert counts["passed"] == 2  # test_ok + test_feature
    stopped = parsers.parse_pytest(_tool(["pytest", "-p", "no:cacheprovider"], ws.root))
    assert stopped["collection_errors"] == 1 and stopped["errors"] == 1
    ok = parsers.parse_mypy(_tool(["mypy", "clean.py", "--cache-dir", str(tmp_path / "mc")], ws.root))
    assert ok == {"errors": 0, "files": 1}


def test_parsers_on_summary_variants() -> None:
    xdist = "bringing up nodes...\n1317 passed, 28 skipped, 2 xfailed, 10 errors in 140.21s (0:02:20)\n"
    assert parsers.parse_pytest(xdist) == {"passed": 1317, "skipped": 28, "xfailed": 2, "errors": 10,
                                           "failed": 0, "collection_errors": 0}
    assert parsers.parse_pytest("=== 1 failed, 1 xpassed, 3 warnings in 0.1s ===")["xpassed"] == 1
    assert parsers.parse_pytest("no tests ran in 0.01s")["passed"] == 0
    assert parsers.parse_pytest("garbage") == {}
    assert parsers.parse_mypy("Found 1 error in 1 file (checked 3 source files)")["errors"] == 1
    assert parsers.parse_ruff("Found 1 error.\n[*] 1 fixable") == {"errors": 1}
    assert parsers.parse_ruff_format("2 files would be reformatted, 3 files already formatted") == {"would_reformat": 2}


# --- verdicts -----------------------------------------------------------------------------------

@needs_bwrap
def test_green_repo_passes_and_exit_codes_decide(tmp_path: Path) -> None:
    ws = make_ws(tmp_path, make_task(["mypy", "ruff", "format", "pytest"]))
    edit(ws, "pkg/util.py", "return add(a, a)", "return add(a,a)")  # formatting only: informational
    v = judge(ws, tmp_path, cache=False)
    assert v.passed, v.failure_reasons
    assert v.counts["mypy_errors"] == 0 and v.counts["ruff_errors"] == 0 and v.counts["pytest_passed"] == 4
    assert v.counts["format_would_reformat"] == 1
    fmt = next(c for c in v.commands if c.name == "format")
    assert fmt.exit_code == 1 and not fmt.required
    edit(ws, "pkg/core.py", "return a + b", "return a - b")
    bad = judge(ws, tmp_path, cache=False)
    assert not bad.passed and bad.failure_reasons == ["command-failed: pytest exited 1"]
    assert bad.counts["pytest_failed"] == 2 and bad.counts["mypy_errors"] == 0


@needs_bwrap
def test_the_workspace_package_is_the_one_imported(tmp_path: Path) -> None:
    task = make_task(["smoke"])
    probe = {"name": "where", "run": ["bash", "-c", "cd / && python -c 'import pkg; print(pkg.__file__)'"]}
    task.judge.commands.append(type(task.judge.commands[0]).model_validate(probe))
    ws = make_ws(tmp_path, task)
    v = judge(ws, tmp_path, cache=False)
    where = next(c for c in v.commands if c.name == "where")
    assert where.exit_code == 0 and where.output_tail.strip() == str(ws.root / "pkg" / "__init__.py")


@needs_bwrap
def test_verdict_cache_hit_and_invalidation(tmp_path: Path) -> None:
    ws = make_ws(tmp_path, make_task(["smoke"]))
    first = judge(ws, tmp_path)
    assert first.passed and not first.cached
    again = judge(ws, tmp_path)
    assert again.cached and again.passed and again.counts == first.counts
    (ws.root / "pkg" / "__pycache__").mkdir(exist_ok=True)  # noise does not invalidate
    assert judge(ws, tmp_path).cached
    edit(ws, "pkg/core.py", "return a + b", "return b + a")
    changed = judge(ws, tmp_path)
    assert not changed.cached and changed.passed
    edit(ws, "pkg/core.py", "return b + a", "return b - a")
    changed = judge(ws, tmp_path)
    assert not changed.cached and not changed.passed
    edit(ws, "pkg/core.py", "return b - a", "return b + a")
    changed = judge(ws, tmp_path)  # back to a state judged before
    assert changed.cached and changed.passed
    (ws.root / "pkg" / "core.py").chmod(0o755)  # the mode bit is part of the tree
    changed = judge(ws, tmp_path)
    assert not changed.cached and changed.passed
    assert not judge(ws, tmp_path, cache=False).cached
    ws.task.judge.env["X"] = "1"  # a different spec is a different key
    assert not judge(ws, tmp_path).cached


# --- rules --------------------------------------------------------------------------------------

def test_marker_counting_uses_comments_only() -> None:
    src = b"x = '# type: ignore'  # type: ignore[assignment]\ny = 1  # noqa: F401\n# ruff: noqa\n"
    assert rules.count_markers(src, "type: ignore") == 1
    assert rules.count_markers(src, "noqa") == 2
    assert rules.count_markers(b"# mypy: ignore-errors\n", "type: ignore") == 1
    assert rules.count_markers(b"def f(:\n  x  # noqa\n", "noqa") == 1  # broken files still counted


def test_test_names_and_skip_markers() -> None:
    src = FILES["tests/test_core.py"].encode()
    assert rules.test_names(src) == {"test_add", "test_twice", "TestMore::test_zero"}
    assert rules.skip_markers(src) == 0
    skipped = b"import pytest\npytestmark = pytest.mark.skip\n@pytest.mark.xfail\ndef test_a(): pytest.skip('x')\n"
    assert rules.skip_markers(skipped) == 4
    assert rules.skip_markers(b"from pytest import skip as s\n") == 1
    assert rules.skip_markers(b"__test__ = False\n") == 1


def test_rules_name_each_broken_rule(tmp_path: Path) -> None:
    ws = make_ws(tmp_path)
    r = JudgeRules.model_validate(T1_RULES)
    from orchbench.judge.tree import tree_digests

    assert rules.check_rules(ws, r, tree_digests(ws.root)) == []
    edit(ws, "pkg/core.py", "return a + b", "return a + b  # type: ignore")
    (ws.root / "README.md").write_text("new file outside pkg/ and tests/\n")
    edit(ws, "tests/test_core.py", "def test_twice", "def _was_test_twice")
    edit(ws, "tests/test_core.py", "class TestMore:", "import pytest\n\n\n@pytest.mark.skip\nclass TestMore:")
    edit(ws, "pyproject.toml", "strict = true", "strict = false")
    reasons = rules.check_rules(ws, r, tree_digests(ws.root))
    assert reasons == [
        "edit-outside-allowed-paths: README.md",
        "edit-outside-allowed-paths: pyproject.toml",
        "config-changed: pyproject.toml",
        "new-suppression-comment: pkg/core.py has 1 new '# type: ignore'",
        "deleted-test: tests/test_core.py::test_twice",
        "skipped-test: tests/test_core.py has 1 new skip/xfail marker(s)",
    ]


# --- structural checks --------------------------------------------------------------------------

MOVED_OK = {
    "pkg/util.py": "def other() -> int:\n    return 1\n",
    "pkg/_moved.py": "def twice(a: int) -> int:\n    return a + a\n",
    "pkg/user.py": "from ._moved import (\n    other_name,\n    twice as t,\n)\n",
    "tests/test_core.py": FILES["tests/test_core.py"].replace("pkg.util import", "pkg._moved import"),
}


def _ctx(root: Path) -> CheckContext:
    def run(argv: list[str]) -> SandboxResult:
        raise AssertionError("not used")

    return CheckContext(root=root, run=run)


def _moved(root: Path) -> list[str]:
    return checks.function_moved(_ctx(root), function="twice", old_module="pkg/util.py", new_module="pkg/_moved.py")


@pytest.mark.parametrize(
    "importer",
    [
        "from pkg.util import (\n    other,\n    twice,\n)\n",
        "from pkg.util import twice as renamed\n",
        "from .util import twice\n",
        "from . import util\nx = util.twice(1)\n",
        "from pkg import util as u\nx = u.twice\n",
        "import pkg.util\nx = pkg.util.twice(2)\n",
        "import pkg.util as pu\nx = getattr(pu, 'twice')\n",
    ],
)
def test_function_moved_catches_every_import_form(tmp_path: Path, importer: str) -> None:
    for rel, text in {**FILES, **MOVED_OK}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert _moved(tmp_path) == []
    (tmp_path / "pkg" / "sneaky.py").write_text(importer)
    assert _moved(tmp_path) == ["check function_moved: pkg/sneaky.py still imports twice from pkg.util"]


def test_function_moved_other_failures(tmp_path: Path) -> None:
    for rel, text in FILES.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    fails = _moved(tmp_path)
    assert "check function_moved: pkg/_moved.py does not exist" in fails
    assert "check function_moved: pkg/util.py still defines twice" in fails
    assert "check function_moved: no module imports twice from pkg._moved" in fails


def test_imported_names_resolves_relative_imports() -> None:
    src = "from .. import core\nfrom ..core import add\ncore.add(1, 2)\n"
    assert imported_names(src, "pkg/sub/mod.py") >= {("pkg", "core"), ("pkg.core", "add")}
    assert ("pkg.core", "add") in imported_names("from .core import add\n", "pkg/__init__.py")


@needs_bwrap
def test_structural_checks_through_the_judge(tmp_path: Path) -> None:
    task = make_task(["smoke"], checks=[
        {"name": "function_exported", "params": {"function": "banner", "package": "pkg"}},
        {"name": "tests_pass", "params": {"path": "tests/test_feature.py"}},
    ])
    ws = make_ws(tmp_path, task)
    assert judge(ws, tmp_path, cache=False).passed
    (ws.root / "pkg" / "banner.py").write_text("def banner() -> str:\n    raise RuntimeError('no')\n")
    v = judge(ws, tmp_path, cache=False)
    assert "check function_exported: pkg.banner() failed: RuntimeError: no" in v.failure_reasons
    (ws.root / "pkg" / "banner.py").write_text(FILES["pkg/banner.py"])
    edit(ws, "pkg/__init__.py", "from pkg.banner import banner as banner\n", "")
    v = judge(ws, tmp_path, cache=False)
    assert not v.passed
    assert any(r.startswith("check function_exported: pkg.banner() failed") for r in v.failure_reasons)
    assert any(r.startswith("check tests_pass: tests/test_feature.py") for r in v.failure_reasons)
    # commands_only: the checks and rules are skipped (verifying a base, where a check may be red)
    assert judge(ws, tmp_path, cache=False, commands_only=True).passed


def test_unknown_check_is_a_user_error(tmp_path: Path) -> None:
    from orchbench.errors import UserError

    with pytest.raises(UserError, match="unknown structural check 'nope'"):
        run_checks(_ctx(tmp_path), [{"name": "nope", "params": {}}])
    with pytest.raises(UserError, match="bad params"):
        run_checks(_ctx(tmp_path), [{"name": "tests_pass", "params": {"wrong": 1}}])


def test_output_mismatch_only_ever_rejects() -> None:
    from orchbench.judge.run import output_mismatch
    from orchbench.judge.spec import JudgeCommand
    from orchbench.records import CommandResult

    cmd = JudgeCommand(name="pytest", run=["pytest"], parser="pytest")
    ok = CommandResult(name="pytest", exit_code=0, counts={"passed": 3, "failed": 0})
    assert output_mismatch(ok, cmd) is None
    silent = CommandResult(name="pytest", exit_code=0, counts={})
    assert "printed no pytest summary" in (output_mismatch(silent, cmd) or "")
    failed = CommandResult(name="pytest", exit_code=1, counts={"failed": 2})
    assert output_mismatch(failed, cmd) is None  # already a command failure
    info = JudgeCommand(name="fmt", run=["x"], parser="ruff-format", required=False)
    assert output_mismatch(CommandResult(name="fmt", exit_code=0, required=False), info) is None


def test_same_second_edits_are_made_visible_to_mtime_caches(tmp_path: Path) -> None:
    import os

    from orchbench.judge.mtimes import freshen
    from orchbench.judge.tree import tree_digests

    tree, record, stamp = tmp_path / "tree", tmp_path / "rec.json", 1_700_000_000
    tree.mkdir()
    f = tree / "m.py"
    f.write_text("x = 1\n")
    os.utime(f, (stamp, stamp))
    assert freshen(tree, tree_digests(tree), record) == 0
    f.write_text("x = 2\n")  # same size, and back to the same second, as a fast edit would be
    os.utime(f, (stamp, stamp))
    assert freshen(tree, tree_digests(tree), record) == 1
    assert int(f.stat().st_mtime) == stamp + 1
    assert freshen(tree, tree_digests(tree), record) == 0  # unchanged content: left alone
