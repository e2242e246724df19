"""A small repository of our own and a task on it: what the fast task tests run against."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

CORE = '''"""Core arithmetic."""

from __future__ import annotations

import os
from typing import (
    Any,
)

if os.environ.get("NEVER_SET_ANYWHERE"):
    import json  # noqa: F401  (nested: not a top-level import)


def add(a: int, b: int) -> int:
    return a + b


class Box:
    value: Any = None
'''

TEST = '''import unittest

from minipkg import add


class AddTest(unittest.TestCase):
    def test_add(self) -> None:
        self.assertEqual(add(1, 2), 3)
'''


def make_repo(root: Path, *, git: bool = False) -> Path:
    (root / "minipkg").mkdir(parents=True)
    (root / "minipkg" / "__init__.py").write_text("from minipkg.core import add as add\n")
    (root / "minipkg" / "core.py").write_text(CORE)
    (root / "minipkg" / "nothing.py").write_text('"""No imports here."""\n\nX = 1\n')
    (root / "tests").mkdir()
    (root / "tests" / "__init__.py").write_text("")
    (root / "tests" / "test_core.py").write_text(TEST)
    (root / "minipkg" / "__pycache__").mkdir()
    (root / "minipkg" / "__pycache__" / "core.cpython-311.pyc").write_bytes(b"litter")
    if git:
        run = lambda *a: subprocess.run(["git", *a], cwd=root, check=True, capture_output=True)
        run("init", "-q", "-b", "main")
        run("add", "minipkg/__init__.py", "minipkg/core.py", "minipkg/nothing.py", "tests")
        run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    return root


def task_toml(repo: Path, *, reference_old: str = 'assert False, "injected"\n', extra: str = "") -> str:
    old = json.dumps(reference_old)  # a JSON string is a valid TOML basic string
    return textwrap.dedent(f'''
        name = "mini"
        description = "a tiny task"
        prompt = "Make the tests pass."
        {extra}

        [source]
        path = "{repo}"

        [judge]
        timeout_s = 120
        [[judge.commands]]
        name = "unittest"
        run = ["python", "-m", "unittest", "discover", "-s", "tests", "-t", "."]

        [[setup.inject]]
        id = "BREAK-1"
        file = "minipkg/core.py"
        code = 'assert False, "injected"'
        category = "test"

        [[setup.files]]
        path = "tests/test_extra.py"
        content = "import unittest\\n\\nclass ExtraTest(unittest.TestCase):\\n    def test_ok(self) -> None:\\n        pass\\n"

        [[reference]]
        tool = "str_replace_editor"
        input = {{ command = "str_replace", path = "minipkg/core.py", old_str = {old}, new_str = "" }}
    ''')


def write_task(tmp: Path, repo: Path, **kw: str) -> Path:
    path = tmp / "mini.toml"
    path.write_text(task_toml(repo, **kw))
    return path
