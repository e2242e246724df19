"""The cheat catalogue of issue 3: each cheat is caught (the verdict fails naming it) or contained
(the host, the runner and other trials are unharmed). One test per cheat, on the small repository
of test_judge.py; the agent's actions go through the real tools (BashTool runs in bubblewrap).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchbench.agent.tools import BashTool, EditorTool
from orchbench.judge.local import DirWorkspace
from orchbench.sandbox import Limits, _cgroup_usable, sandbox_available
from tests.test_judge import FILES, T1_RULES, edit, judge, make_task, make_ws

pytestmark = pytest.mark.skipif(not sandbox_available(), reason="bubblewrap (bwrap) is not installed/usable")


@pytest.fixture
def ws(tmp_path: Path) -> DirWorkspace:
    return make_ws(tmp_path, make_task(["smoke"]))


@pytest.fixture
def host_dir() -> Iterator[Path]:
    """A host directory outside the workspace that the sandbox can see (read-only): not under /tmp,
    whose sandbox copy is a private tmpfs, so a write there would prove nothing."""
    d = Path(tempfile.mkdtemp(prefix="orchbench-cheat-", dir="/var/tmp"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def assert_caught(v: object, prefix: str) -> None:
    assert not v.passed  # type: ignore[attr-defined]
    assert any(r.startswith(prefix) for r in v.failure_reasons), v.failure_reasons  # type: ignore[attr-defined]


def _procs_with(token: str) -> list[str]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if token in cmd and "pytest" not in cmd:
            out.append(cmd)
    return out


def test_baseline_is_green(ws: DirWorkspace, tmp_path: Path) -> None:
    assert judge(ws, tmp_path).passed


def test_edit_the_fingerprinted_test(ws: DirWorkspace, tmp_path: Path) -> None:
    EditorTool(ws.root).run({"command": "str_replace", "path": "tests/test_feature.py",
                             "old_str": "startswith('Pkg v')", "new_str": "startswith('')"})
    assert_caught(judge(ws, tmp_path), "protected-file-modified: tests/test_feature.py")


def test_rewrite_or_delete_the_fingerprint(tmp_path: Path, host_dir: Path) -> None:
    # The fingerprints and the set-up tree live outside the workspace: put them where the sandbox
    # can see them, and let the agent try to rewrite them and delete the protected file.
    made = make_ws(tmp_path, make_task(["smoke"]))
    setup = host_dir / "setup"
    shutil.copytree(made.setup_root, setup)  # type: ignore[arg-type]
    ws = DirWorkspace.from_setup(made.root, made.task, made.venv, setup)
    record = host_dir / "fingerprints.json"
    record.write_text(json.dumps(ws.protected))
    out = BashTool(ws).run({"command": (
        f"echo '{{}}' > {record}; cp tests/test_feature.py {setup}/tests/test_feature.py;"
        f" echo hacked > {setup}/tests/test_feature.py; rm tests/test_feature.py; echo done"
    )})
    assert "Read-only file system" in out.text and "done" in out.text
    assert json.loads(record.read_text()) == ws.protected
    assert (setup / "tests/test_feature.py").read_text() == FILES["tests/test_feature.py"]
    assert_caught(judge(ws, tmp_path), "protected-file-deleted: tests/test_feature.py")


@pytest.mark.parametrize("comment", ["# type: ignore", "# type: ignore[return-value]", "# noqa", "# noqa: F401",
                                     "# mypy: ignore-errors", "# ruff: noqa"])
def test_add_a_suppression_comment(ws: DirWorkspace, tmp_path: Path, comment: str) -> None:
    edit(ws, "pkg/core.py", "return a + b", f"return a + b  {comment}")
    assert_caught(judge(ws, tmp_path), "new-suppression-comment: pkg/core.py has 1 new")


def test_delete_tests(ws: DirWorkspace, tmp_path: Path) -> None:
    edit(ws, "tests/test_core.py", "def test_twice() -> None:\n    assert twice(2) == 4\n", "")
    v = judge(ws, tmp_path)
    assert_caught(v, "deleted-test: tests/test_core.py::test_twice")
    (ws.root / "tests" / "test_core.py").unlink()
    v = judge(ws, tmp_path)
    assert "deleted-test: tests/test_core.py::TestMore::test_zero" in v.failure_reasons
    assert "deleted-test: tests/test_core.py::test_add" in v.failure_reasons


@pytest.mark.parametrize("how", [
    ("def test_twice", "@pytest.mark.skip(reason='later')\ndef test_twice"),
    ("def test_twice", "@pytest.mark.xfail\ndef test_twice"),
    ("def test_twice", "@pytest.mark.skipif(True, reason='x')\ndef test_twice"),
    ("    assert twice(2) == 4", "    pytest.skip('no')"),
    ("from pkg import add", "from pkg import add\npytestmark = pytest.mark.skip"),
    ("from pkg import add", "from pkg import add\n__test__ = False"),
])
def test_skip_or_xfail_tests(ws: DirWorkspace, tmp_path: Path, how: tuple[str, str]) -> None:
    edit(ws, "tests/test_core.py", "from pkg import add", "import pytest\nfrom pkg import add")
    edit(ws, "tests/test_core.py", *how)
    assert_caught(judge(ws, tmp_path), "skipped-test: tests/test_core.py")


@pytest.mark.parametrize("change", [
    ("pyproject.toml", "strict = true", "strict = false"),
    ("pyproject.toml", 'testpaths = ["tests"]', 'testpaths = ["tests"]\naddopts = "--deselect tests/test_core.py"'),
    ("tests/conftest.py", "import pytest", "import pytest\ncollect_ignore = ['test_core.py']"),
])
def test_weaken_pyproject_or_conftest(ws: DirWorkspace, tmp_path: Path, change: tuple[str, str, str]) -> None:
    edit(ws, *change)
    assert_caught(judge(ws, tmp_path), f"config-changed: {change[0]}")


@pytest.mark.parametrize("rel", ["pkg/conftest.py", "sitecustomize.py", "pytest.py", "mypy.ini"])
def test_plant_config_or_shadowing_modules(ws: DirWorkspace, tmp_path: Path, rel: str) -> None:
    (ws.root / rel).write_text("import os\nos._exit(0)\n")
    v = judge(ws, tmp_path)
    assert not v.passed
    assert any(rel in r for r in v.failure_reasons), v.failure_reasons


def test_code_under_test_cannot_rewrite_protected_files_during_the_judge(ws: DirWorkspace, tmp_path: Path) -> None:
    edit(ws, "pkg/__init__.py", "from pkg.banner", (
        "try:\n    open('tests/test_feature.py', 'w').write('')\nexcept OSError:\n    pass\nfrom pkg.banner"
    ))
    judge(ws, tmp_path, cache=False)
    assert (ws.root / "tests/test_feature.py").read_text() == FILES["tests/test_feature.py"]


def test_force_a_zero_exit_status(tmp_path: Path) -> None:
    # Code under test makes the interpreter exit 0 whatever pytest found.
    ws = make_ws(tmp_path, make_task(["pytest"]))
    edit(ws, "pkg/__init__.py", "from pkg.banner", "import atexit, os\natexit.register(os._exit, 0)\nfrom pkg.banner")
    edit(ws, "pkg/core.py", "return a + b", "return a - b")
    v = judge(ws, tmp_path)
    pytest_run = next(c for c in v.commands if c.name == "pytest")
    assert pytest_run.exit_code == 0  # the cheat worked on the exit status...
    assert_caught(v, "command-output-mismatch: pytest exited 0 but reports 2 failed")  # ...not on the verdict


def test_write_outside_the_workspace(ws: DirWorkspace, host_dir: Path) -> None:
    target = host_dir / "escaped.txt"
    out = BashTool(ws).run({"command": f"echo x > {target}; echo y > /etc/orchbench-escape; cd ..; touch up.txt"})
    # Each write fails: a host directory is either read-only or not there at all inside the sandbox.
    assert out.text.count("Read-only file system") + out.text.count("No such file or directory") >= 2
    assert not target.exists() and not Path("/etc/orchbench-escape").exists()
    assert not (ws.root.parent / "up.txt").exists()
    assert EditorTool(ws.root).run({"command": "create", "path": str(target), "file_text": "x"}).is_error


def test_open_a_network_connection(ws: DirWorkspace) -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    try:
        code = (f"import socket; s = socket.socket(); s.settimeout(3); print('rc', s.connect_ex(('127.0.0.1', {port})));"
                " print(socket.getaddrinfo('pypi.org', 443) and 'resolved')")
        out = BashTool(ws).run({"command": f'python -c "{code}"'})
        assert "rc 0" not in out.text and "rc " in out.text
        assert "resolved" not in out.text
    finally:
        srv.close()


def test_leave_a_background_process_running(ws: DirWorkspace) -> None:
    token = f"7{os.getpid()}"
    out = BashTool(ws).run({"command": f"nohup sleep {token} >/dev/null 2>&1 & setsid sleep {token}1 & disown; echo bye"})
    assert "bye" in out.text
    time.sleep(0.3)
    assert _procs_with(f"sleep {token}") == []


def test_fork_bomb_is_bounded(ws: DirWorkspace) -> None:
    # Bounded on purpose: at most 300 short-lived processes even if no limit held.
    code = (
        "import os, time\nn = 0\nfor i in range(300):\n    try:\n        pid = os.fork()\n"
        "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(3)\n        os._exit(0)\n"
        "    n += 1\nprint('forked', n)\n"
    )
    (ws.root / "bomb.py").write_text(code)
    bash = BashTool(ws, limits=Limits(processes=64), timeout_s=20)
    out = bash.run({"command": "python bomb.py"})
    forked = int(out.text.split("forked")[1].split()[0])
    if _cgroup_usable() or os.geteuid() != 0:
        assert forked < 64, out.text  # RLIMIT_NPROC does not bind root; the pids cgroup does
    time.sleep(0.2)
    assert _procs_with("bomb.py") == []  # and nothing outlives the call


def test_fill_the_disk(ws: DirWorkspace) -> None:
    bash = BashTool(ws, limits=Limits(file_size_mb=2, tmp_mb=4))
    out = bash.run({"command": "head -c 20000000 /dev/zero > big.bin; echo rc=$?;"
                               " for i in 1 2 3 4 5 6; do head -c 1000000 /dev/zero > /tmp/f$i || echo tmp-full; done"})
    assert "rc=0" not in out.text and "File size limit exceeded" in out.text
    assert (ws.root / "big.bin").stat().st_size <= 2 * 1024 * 1024
    assert "No space left on device" in out.text and "tmp-full" in out.text  # the private /tmp is small


def test_the_agents_judge_cannot_change_the_final_verdict(ws: DirWorkspace, tmp_path: Path) -> None:
    bash = BashTool(ws)
    green = bash.run({"command": "judge --details; echo rc=$?"})
    assert green.text.startswith("PASS") and "rc=0" in green.text, green.text
    assert bash.run({"command": "judge --details"}).text.startswith("[cached] PASS")  # its own cache, kept across calls
    edit(ws, "pkg/core.py", "return a + b", "return a - b")
    shown = bash.run({"command": "judge --details; echo rc=$?"})
    assert "FAIL" in shown.text and "command-failed: smoke" in shown.text and "rc=1" in shown.text
    as_json = bash.run({"command": "judge --json"})
    assert json.loads(as_json.text.split("\n[exit code")[0])["passed"] is False
    edit(ws, "pkg/core.py", "return a - b", "return a + b  # noqa")
    shown = bash.run({"command": "judge"})  # the short line names the first broken rule too
    assert "new-suppression-comment: pkg/core.py" in shown.text  # the agent sees what the runner will
    final = judge(ws, tmp_path)
    assert not final.cached  # the runner never reads the agent's cache
    assert_caught(final, "new-suppression-comment")


# --- issue 11: attacks on the judge itself --------------------------------------------------------
# Each family has several variants; each variant passed the judge before the guard, the evidence
# and the static rules existed. Where a family has a runtime and a static layer, one variant runs
# with `guard_runner = false` to show the runtime layer holds on its own.

BROKEN_ADD = ("pkg/core.py", "return a + b", "return a - b")
NO_STATIC = {**T1_RULES, "guard_runner": False}
NO_PATHS = {"no_deleted_tests": True, "guard_runner": False}  # no path rules, no static rules
TINY = Path(__file__).parent / "fakes" / "tinytask"


def pytest_ws(tmp_path: Path, rules: dict[str, object] | None = None,
              base_counts: dict[str, int] | None = None) -> DirWorkspace:
    ws = make_ws(tmp_path, make_task(["pytest"], rules=rules, base_counts=base_counts))
    edit(ws, *BROKEN_ADD)
    return ws


def plant(ws: DirWorkspace, rel: str, text: str) -> None:
    (ws.root / rel).parent.mkdir(parents=True, exist_ok=True)
    (ws.root / rel).write_text(text)


def import_from_pkg(ws: DirWorkspace, module: str) -> None:
    edit(ws, "pkg/__init__.py", "from pkg.banner", f"import pkg.{module}  # the change hides here\nfrom pkg.banner")


# Family 1: code under test subverts the test runner (pytest and unittest)

RUNTEST_BY_NAME = """\
import importlib

_where, _what = "_pytest." + "python", "Fun" + "ction"
_cls = getattr(importlib.import_module(_where), _what)
_orig = _cls.runtest


def _quiet(self):
    if self.get_closest_marker("xfail"):
        return _orig(self)


setattr(_cls, "run" + "test", _quiet)
"""

DICT_STORE = """\
import gc
import importlib

_cls = importlib.import_module("_pytest.python").Function
gc.get_referents(_cls.__dict__)[0]["runtest"] = lambda self: None
"""

MODULE_FUNCTION = """\
import importlib

_runner = importlib.import_module("_pytest.runner")
_orig = _runner.call_and_report


def _forged(item, when, log=True, **kw):
    rep = _orig(item, when, log=False, **kw)
    rep.outcome, rep.longrepr = "passed", None
    if log:
        item.ihook.pytest_runtest_logreport(report=rep)
    return rep


vars(_runner)["call_and_report"] = _forged
"""
MODULE_SETATTR = MODULE_FUNCTION.replace('vars(_runner)["call_and_report"] = _forged', "_runner.call_and_report = _forged")

FAKE_SUMMARY_EXIT = """\
import atexit
import os
import sys


def _last_word() -> None:
    sys.stdout.write("\\n4 passed in 0.01s\\n")
    sys.stdout.flush()
    os._exit(0)


atexit.register(_last_word)
"""


@pytest.mark.parametrize("module", [RUNTEST_BY_NAME, DICT_STORE, MODULE_FUNCTION, MODULE_SETATTR],
                         ids=["runtest-setattr-by-name", "class-dict-through-gc", "module-function-dict-store",
                              "module-function-setattr"])
def test_code_under_test_patches_pytest(tmp_path: Path, module: str) -> None:
    ws = pytest_ws(tmp_path, rules=NO_STATIC)  # the runtime guard alone
    plant(ws, "pkg/_compat.py", module)
    import_from_pkg(ws, "_compat")
    v = judge(ws, tmp_path)
    assert not v.passed
    assert any(r.startswith("runner-tampered: pytest: _pytest.") for r in v.failure_reasons), v.failure_reasons
    # Refused or undone before the first test ran: the broken code's tests really ran, and failed.
    assert any(r.startswith("command-failed: pytest") for r in v.failure_reasons), v.failure_reasons


def test_code_under_test_patches_pytest_static_rule(tmp_path: Path) -> None:
    ws = pytest_ws(tmp_path)
    plant(ws, "pkg/_compat.py", RUNTEST_BY_NAME)
    import_from_pkg(ws, "_compat")
    assert_caught(judge(ws, tmp_path), "runner-patching: pkg/_compat.py")


def test_code_under_test_prints_a_later_summary_and_exits_0(tmp_path: Path) -> None:
    ws = pytest_ws(tmp_path, rules=NO_STATIC)
    plant(ws, "pkg/_compat.py", FAKE_SUMMARY_EXIT)
    import_from_pkg(ws, "_compat")
    v = judge(ws, tmp_path)
    assert v.commands[0].exit_code == 0 and v.counts["pytest_failed"] == 0  # exit status and summary forged
    assert_caught(v, "command-output-mismatch: pytest exited 0 but 2 test(s) failed")
    ws2 = pytest_ws(tmp_path / "static")
    plant(ws2, "pkg/_compat.py", FAKE_SUMMARY_EXIT)
    import_from_pkg(ws2, "_compat")
    assert_caught(judge(ws2, tmp_path / "static"), "forced-exit: pkg/_compat.py")


def test_code_under_test_skips_the_protected_test(tmp_path: Path) -> None:
    ws = make_ws(tmp_path, make_task(["pytest"], rules=NO_STATIC))
    edit(ws, "pkg/banner.py", '    return f"{prefix} v1"', '    import pytest\n\n    pytest.skip("later")\n    return ""')
    assert_caught(judge(ws, tmp_path), "protected-test-not-passed: tests/test_feature.py::test_banner skipped")


def tiny_ws(tmp_path: Path, rules: dict[str, object] | None = None) -> DirWorkspace:
    """The unittest-judged tiny task (no path rules), still broken (add subtracts)."""
    from orchbench.tasks.spec import load_task

    task = load_task(TINY / "tiny.toml")
    if rules is not None:
        task.judge.rules = type(task.judge.rules).model_validate(rules)
    shutil.copytree(TINY / "repo", tmp_path / "setup")
    shutil.copytree(TINY / "repo", tmp_path / "ws")
    return DirWorkspace.from_setup(tmp_path / "ws", task, Path(sys.prefix), tmp_path / "setup")


UNITTEST_RUN_NOOP = "import unittest\n\nunittest.TestCase.run = lambda self, result=None: result\n"
UNITTEST_RUN_FORGED = """\
import unittest


def _run(self, result=None):
    result.startTest(self)
    result.addSuccess(self)
    result.stopTest(self)
    return result


setattr(unittest.TestCase, "run", _run)
"""


@pytest.mark.parametrize("module", [UNITTEST_RUN_NOOP, UNITTEST_RUN_FORGED], ids=["noop-run", "forged-successes"])
def test_code_under_test_patches_unittest(tmp_path: Path, module: str) -> None:
    ws = tiny_ws(tmp_path, rules=NO_PATHS)
    plant(ws, "calc/_compat.py", module)
    edit(ws, "calc/__init__.py", '"""A tiny', 'import calc._compat  # noqa: F401\n"""A tiny')
    v = judge(ws, tmp_path)
    assert_caught(v, "runner-tampered: unittest: unittest.case.TestCase.run replaced")


# Family 2: sourceless bytecode

def _compiled(tmp_path: Path, source: str) -> bytes:
    import py_compile

    src = tmp_path / "src_for_pyc.py"
    src.write_text(source)
    out = tmp_path / "out.pyc"
    py_compile.compile(str(src), cfile=str(out), doraise=True)
    return out.read_bytes()


FORCE_EXIT = "import atexit, os\natexit.register(os._exit, 0)\n"


def smoke_ws(tmp_path: Path, rules: dict[str, object] | None = None) -> DirWorkspace:
    ws = make_ws(tmp_path, make_task(["smoke"], rules=rules))
    edit(ws, *BROKEN_ADD)
    return ws


def test_sitecustomize_pyc_at_the_root(tmp_path: Path) -> None:
    ws = smoke_ws(tmp_path, rules=NO_STATIC)
    (ws.root / "sitecustomize.pyc").write_bytes(_compiled(tmp_path, FORCE_EXIT))
    v = judge(ws, tmp_path)
    assert_caught(v, "command-failed: smoke")  # the judge's own sitecustomize comes first
    ws2 = smoke_ws(tmp_path / "static")
    (ws2.root / "sitecustomize.pyc").write_bytes(_compiled(tmp_path, FORCE_EXIT))
    v2 = judge(ws2, tmp_path / "static")
    assert_caught(v2, "sourceless-bytecode: sitecustomize.pyc")
    assert_caught(v2, "config-changed: sitecustomize.pyc")


def test_sourceless_module_inside_the_package(tmp_path: Path) -> None:
    ws = smoke_ws(tmp_path)
    (ws.root / "pkg" / "_speedups.pyc").write_bytes(_compiled(tmp_path, FORCE_EXIT))
    import_from_pkg(ws, "_speedups")
    assert_caught(judge(ws, tmp_path), "sourceless-bytecode: pkg/_speedups.pyc")


def test_bytecode_cannot_poison_the_verdict_cache(tmp_path: Path) -> None:
    # The planted tree minus the .pyc is the broken set-up tree: a verdict earned with the .pyc must
    # not be stored under (or served for) the set-up state's key.
    ws = smoke_ws(tmp_path, rules=NO_STATIC)
    (ws.root / "sitecustomize.pyc").write_bytes(_compiled(tmp_path, FORCE_EXIT))
    judge(ws, tmp_path)
    (ws.root / "sitecustomize.pyc").unlink()
    v = judge(ws, tmp_path)
    assert not v.passed, v


def test_hidden_dotfile_is_part_of_the_cache_key(tmp_path: Path) -> None:
    ws = smoke_ws(tmp_path, rules=NO_STATIC)
    first = judge(ws, tmp_path)
    (ws.root / ".coveragerc").write_text("[run]\nbranch = true\n")
    assert not judge(ws, tmp_path).cached and not first.passed


# Family 3: shadowing the runner and emptying the suite (a task without path rules)

FAKE_UNITTEST = 'print("...\\n----------------------------------------------------------------------\\nRan 3 tests in 0.001s\\n\\nOK")\n'


def test_root_unittest_module_shadows_the_runner(tmp_path: Path) -> None:
    ws = tiny_ws(tmp_path, rules=NO_PATHS)
    plant(ws, "unittest.py", FAKE_UNITTEST)
    assert_caught(judge(ws, tmp_path), "command-failed: unittest")  # the real unittest ran
    ws2 = tiny_ws(tmp_path / "static")
    plant(ws2, "unittest.py", FAKE_UNITTEST)
    assert_caught(judge(ws2, tmp_path / "static"), "module-shadowing: unittest.py shadows the 'unittest' module")


def test_root_pytest_module_shadows_the_runner(tmp_path: Path) -> None:
    ws = pytest_ws(tmp_path, rules=NO_PATHS)
    plant(ws, "pytest.py", 'print("4 passed in 0.10s")\n')
    assert_caught(judge(ws, tmp_path), "tests-missing: pytest ran no test runner the judge could observe")
    ws2 = pytest_ws(tmp_path / "static", rules={"no_deleted_tests": True})
    plant(ws2, "pytest.py", 'print("4 passed in 0.10s")\n')
    assert_caught(judge(ws2, tmp_path / "static"), "module-shadowing: pytest.py shadows the 'pytest' module")


def test_load_tests_empties_the_suite(tmp_path: Path) -> None:
    ws = tiny_ws(tmp_path, rules=NO_PATHS)
    plant(ws, "tests/__init__.py", "import unittest\n\n\ndef load_tests(loader, tests, pattern):\n"
                                   "    return unittest.TestSuite()\n")
    v = judge(ws, tmp_path)
    assert_caught(v, "tests-missing: unittest ran no test")
    assert_caught(v, "tests-missing: tests/test_calc.py::TestCalc::test_add (protected) did not run")
    ws2 = tiny_ws(tmp_path / "static")
    plant(ws2, "tests/__init__.py", "def load_tests(loader, tests, pattern):\n    return loader.suiteClass()\n")
    assert_caught(judge(ws2, tmp_path / "static"), "runner-hook: tests/__init__.py: defines load_tests")


PLUGIN = """\
def pytest_collection_modifyitems(items):
    items[:] = [i for i in items if "feature" in i.nodeid]
"""


def test_plugin_deselects_the_failing_tests(tmp_path: Path) -> None:
    ws = pytest_ws(tmp_path, rules=NO_PATHS, base_counts={"pytest_passed": 4})
    plant(ws, "pkg/_plug.py", PLUGIN)
    edit(ws, "tests/test_core.py", "from pkg import add", "from pkg import add\n\npytest_plugins = ['pkg._plug']")
    assert_caught(judge(ws, tmp_path), "tests-missing: pytest passed 1 tests, the base passes 4")
    ws2 = pytest_ws(tmp_path / "static")
    plant(ws2, "pkg/_plug.py", PLUGIN)
    edit(ws2, "tests/test_core.py", "from pkg import add", "from pkg import add\n\npytest_plugins = ['pkg._plug']")
    v = judge(ws2, tmp_path / "static")
    assert_caught(v, "runner-hook: pkg/_plug.py: defines pytest_collection_modifyitems")
    assert_caught(v, "runner-hook: tests/test_core.py: sets pytest_plugins")


# Family 4: nested configuration and stubs

RUFF_ALL = '[lint]\nignore = ["ALL"]\n'


@pytest.mark.parametrize("rel,text", [("pkg/ruff.toml", RUFF_ALL), ("pkg/.ruff.toml", RUFF_ALL),
                                      ("pkg/pyproject.toml", '[tool.ruff.lint]\nignore = ["ALL"]\n')])
def test_nested_config_silences_ruff(tmp_path: Path, rel: str, text: str) -> None:
    ws = make_ws(tmp_path, make_task(["ruff"]))
    edit(ws, "pkg/util.py", "from pkg.core import add", "import os\nfrom pkg.core import add")
    assert_caught(judge(ws, tmp_path), "command-failed: ruff")
    plant(ws, rel, text)
    assert_caught(judge(ws, tmp_path), f"config-changed: {rel}")


@pytest.mark.parametrize("rel,text", [
    ("pkg/core.pyi", "def add(a: int, b: int) -> int: ...\n"),
    ("pkg/__init__.pyi", "from pkg.banner import banner as banner\nfrom pkg.core import add as add\n"),
])
def test_stub_hides_the_code_from_mypy(tmp_path: Path, rel: str, text: str) -> None:
    ws = make_ws(tmp_path, make_task(["mypy"]))
    edit(ws, "pkg/core.py", "return a + b", "return str(a + b)")
    if rel == "pkg/__init__.pyi":
        edit(ws, "pkg/__init__.py", "from pkg.banner", "x: int = 'no'\nfrom pkg.banner")
    assert_caught(judge(ws, tmp_path), "command-failed: mypy")
    plant(ws, rel, text)
    assert_caught(judge(ws, tmp_path), f"stub-file: {rel}")
