"""The agent's tools: editor semantics and confinement, sandboxed bash."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchbench.agent.tools import BashTool, EditorTool, ToolOutput, cut_middle
from orchbench.sandbox import sandbox_available

needs_bwrap = pytest.mark.skipif(not sandbox_available(), reason="bubblewrap (bwrap) is not installed/usable")


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text("one\ntwo\nthree\ntwo\n")
    return root


def run(tool: EditorTool, **args: object) -> ToolOutput:
    return tool.run(dict(args))


def test_schemas_are_anthropic_tool_definitions(ws: Path) -> None:
    for tool in (EditorTool(ws), BashTool(ws, unsafe_no_sandbox=True)):
        s = tool.schema()
        assert s["name"] == tool.name and s["input_schema"]["type"] == "object"
        assert set(s["input_schema"]["required"]) <= set(s["input_schema"]["properties"])
    props = EditorTool(ws).schema()["input_schema"]["properties"]
    assert {"command", "path", "file_text", "old_str", "new_str", "insert_line", "view_range"} <= set(props)


def test_view_numbers_lines_and_honours_range(ws: Path) -> None:
    ed = EditorTool(ws)
    out = run(ed, command="view", path="pkg/a.py")
    assert not out.is_error and out.text.splitlines()[1] == "     2\ttwo"
    part = run(ed, command="view", path="pkg/a.py", view_range=[2, 3])
    assert part.text.splitlines() == ["     2\ttwo", "     3\tthree"]
    to_end = run(ed, command="view", path="pkg/a.py", view_range=[4, -1])
    assert to_end.text.splitlines()[0] == "     4\ttwo"
    assert run(ed, command="view", path="pkg/a.py", view_range=[9, 10]).is_error
    listing = run(ed, command="view", path=".")
    assert "pkg/a.py" in listing.text


def test_create_str_replace_insert(ws: Path) -> None:
    ed = EditorTool(ws)
    assert not run(ed, command="create", path="pkg/new/b.py", file_text="x = 1\n").is_error
    assert (ws / "pkg/new/b.py").read_text() == "x = 1\n"
    out = run(ed, command="str_replace", path="pkg/a.py", old_str="three", new_str="3")
    assert not out.is_error and (ws / "pkg/a.py").read_text() == "one\ntwo\n3\ntwo\n"
    dup = run(ed, command="str_replace", path="pkg/a.py", old_str="two", new_str="2")
    assert dup.is_error and "2 times" in dup.text and "[2, 4]" in dup.text
    missing = run(ed, command="str_replace", path="pkg/a.py", old_str="nope", new_str="")
    assert missing.is_error and "not found" in missing.text
    assert (ws / "pkg/a.py").read_text() == "one\ntwo\n3\ntwo\n"  # failed edits change nothing
    assert not run(ed, command="insert", path="pkg/a.py", insert_line=0, new_str="zero").is_error
    assert not run(ed, command="insert", path="pkg/a.py", insert_line=2, new_str="one-and-a-half").is_error
    assert (ws / "pkg/a.py").read_text().splitlines()[:4] == ["zero", "one", "one-and-a-half", "two"]
    assert run(ed, command="insert", path="pkg/a.py", insert_line=99, new_str="x").is_error
    assert run(ed, command="delete", path="pkg/a.py").is_error


def test_edits_make_a_new_inode_so_hardlinked_bases_stay_intact(ws: Path, tmp_path: Path) -> None:
    base = tmp_path / "base.py"
    base.write_text("original\n")
    os.link(base, ws / "linked.py")
    out = run(EditorTool(ws), command="str_replace", path="linked.py", old_str="original", new_str="edited")
    assert not out.is_error
    assert (ws / "linked.py").read_text() == "edited\n" and base.read_text() == "original\n"


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/passwd", "pkg/../../outside.txt"])
def test_paths_outside_the_workspace_are_refused(ws: Path, path: str) -> None:
    ed = EditorTool(ws)
    for args in ({"command": "view"}, {"command": "create", "file_text": "x"}):
        out = ed.run({**args, "path": path})
        assert out.is_error and "outside the repository" in out.text
    assert not (ws.parent / "outside.txt").exists()


def test_symlink_escapes_are_refused(ws: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("secret value\n")
    (ws / "link.txt").symlink_to(secret)
    (ws / "linkdir").symlink_to(tmp_path)
    ed = EditorTool(ws)
    for args in (
        {"command": "view", "path": "link.txt"},
        {"command": "str_replace", "path": "link.txt", "old_str": "secret", "new_str": "pwned"},
        {"command": "create", "path": "linkdir/new.txt", "file_text": "x"},
        {"command": "insert", "path": "link.txt", "insert_line": 0, "new_str": "x"},
    ):
        out = ed.run(args)
        assert out.is_error and "outside the repository" in out.text, args
    assert secret.read_text() == "secret value\n" and not (tmp_path / "new.txt").exists()
    # A link that stays inside the workspace is fine.
    (ws / "inner.py").symlink_to(ws / "pkg" / "a.py")
    assert not run(ed, command="view", path="inner.py").is_error


def test_cut_middle_marks_what_was_cut() -> None:
    text = "A" * 5000 + "B" * 5000
    out = cut_middle(text, 8000)
    assert out.startswith("A" * 4000) and out.endswith("B" * 4000)
    assert "[... 2000 chars cut ...]" in out
    assert cut_middle("short", 8000) == "short"


@needs_bwrap
def test_bash_runs_in_the_workspace_and_cuts_long_output(ws: Path) -> None:
    bash = BashTool(ws)
    out = bash.run({"command": "pwd; ls pkg"})
    assert out.text.splitlines() == [str(ws), "a.py"]
    long = bash.run({"command": "python3 -c \"print('h' * 6000 + 't' * 6000)\""})
    assert "[... 4001 chars cut ...]" in long.text  # 12001 chars with the newline
    assert long.text.startswith("h" * 4000) and long.text.rstrip().endswith("t" * 3999)
    failed = bash.run({"command": "echo oops >&2; exit 3"})
    assert "oops" in failed.text and "[exit code 3]" in failed.text and not failed.is_error
    assert bash.run({"command": ""}).is_error


@needs_bwrap
def test_bash_timeout_is_an_error_result(ws: Path) -> None:
    out = BashTool(ws, timeout_s=1).run({"command": "echo before; sleep 30"})
    assert out.is_error and "timed out" in out.text and "before" in out.text


def test_bash_refuses_to_start_without_a_sandbox_unless_told(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from orchbench.agent import bash
    from orchbench.errors import UserError

    monkeypatch.setattr(bash, "sandbox_available", lambda: False)
    with pytest.raises(UserError, match="--unsafe-no-sandbox"):
        BashTool(ws)
    out = BashTool(ws, unsafe_no_sandbox=True).run({"command": "echo unconfined; pwd"})
    assert out.text.splitlines() == ["unconfined", str(ws)]


@needs_bwrap
def test_bash_can_write_the_workspace_only(ws: Path, tmp_path: Path) -> None:
    out = BashTool(ws).run({"command": f"echo hi > made.txt; echo x > {tmp_path}/escaped.txt; echo done"})
    assert (ws / "made.txt").read_text() == "hi\n"
    assert not (tmp_path / "escaped.txt").exists() and "done" in out.text
