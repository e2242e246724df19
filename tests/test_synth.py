"""`tasks synth` on a small repository of our own: sound tasks, the same bytes for the same seed,
resumable from its per-candidate cache, and every task passes `tasks check`."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchbench.sandbox import sandbox_available
from orchbench.tasks.cache import cache_root
from orchbench.tasks.suite import load_suite
from tests.helpers import run_cli

UNSAFE = ["--unsafe-no-sandbox"] if not sandbox_available() else []

CALC = '''"""A tiny calculator."""


def clamp(x: int, lo: int, hi: int) -> int:
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def both(a: bool, b: bool) -> bool:
    return a and b


def span(xs: list[int]) -> int:
    return max(xs) - min(xs)


def untested(x: int) -> int:
    return x * 2
'''

TESTS = '''from calc import both, clamp, span


def test_clamp():
    assert clamp(5, 0, 3) == 3
    assert clamp(-1, 0, 3) == 0
    assert clamp(2, 0, 3) == 2


def test_both():
    assert both(True, False) is False
    assert both(True, True) is True


def test_span():
    assert span([1, 5, 3]) == 4
'''


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ORCHBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ORCHBENCH_WORKSPACES", raising=False)
    return tmp_path / "cache"


def _repo(root: Path) -> Path:
    (root / "calc").mkdir(parents=True)
    (root / "calc" / "__init__.py").write_text(CALC)
    (root / "tests").mkdir()
    (root / "tests" / "test_calc.py").write_text(TESTS)
    return root


def _synth(repo: Path, out: Path, capsys: pytest.CaptureFixture[str], n: int = 5) -> tuple[int, str]:
    code, stdout, _ = run_cli(["tasks", "synth", str(repo), "--judge", "pytest -q -p no:cacheprovider",
                               "--env", "pytest", "-n", str(n), "--repair", "1", "--errors", "2", "--seed", "3",
                               "-j", "2", "--out", str(out), *UNSAFE], capsys)
    return code, stdout


def test_synth_makes_sound_deterministic_resumable_tasks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path / "repo")
    code, out = _synth(repo, tmp_path / "one", capsys, n=3)  # a first, smaller run: later runs resume from it
    assert code == 0, out
    screen_dir = next((cache_root() / "synth").iterdir()) / "screen"
    first_screened = {p.name for p in screen_dir.iterdir()}
    code, out = _synth(repo, tmp_path / "one", capsys)
    assert code == 0 and "5 sound task(s)" in out
    assert first_screened <= {p.name for p in screen_dir.iterdir()}
    suite = load_suite(tmp_path / "one")
    kinds = [t.provenance["kind"] for t in suite.tasks]
    assert kinds == ["bugfix"] * 4 + ["repair"]
    for t in suite.tasks[:4]:
        p = t.provenance
        assert p["failing_tests"] and p["file"] == "calc/__init__.py" and p["function"] != "untested"
        assert t.setup.replace and t.reference[0].input["new_str"] == t.setup.replace[0].old
        assert t.judge.rules.allowed_paths == ["calc/"]
    assert len({t.setup.model_dump_json() for t in suite.tasks}) == 5  # no duplicates
    code, _ = _synth(repo, tmp_path / "two", capsys)
    assert code == 0
    one = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert one == sorted(p.name for p in (tmp_path / "two").iterdir())
    for name in one:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    code, out, err = run_cli(["tasks", "check", str(tmp_path / "one"), *UNSAFE], capsys)
    assert code == 0, err
    assert "all 5 task(s) sound" in out


def test_synth_needs_a_judge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["tasks", "synth", str(_repo(tmp_path / "r")), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "--judge" in err
