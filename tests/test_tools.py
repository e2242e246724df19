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
    import orchbench.sandbox as sb
    from orchbench.errors import NoSandbox

    monkeypatch.setattr(sb, "sandbox_available", lambda: False)
    with pytest.raises(NoSandbox, match="install the Debian package 'bubblewrap'"):
        BashTool(ws)
    out = BashTool(ws, unsafe_no_sandbox=True).run({"command": "echo unconfined; pwd"})
    assert out.text.splitlines() == ["unconfined", str(ws)]


@needs_bwrap
def test_bash_can_write_the_workspace_only(ws: Path, tmp_path: Path) -> None:
    out = BashTool(ws).run({"command": f"echo hi > made.txt; echo x > {tmp_path}/escaped.txt; echo done"})
    assert (ws / "made.txt").read_text() == "hi\n"
    assert not (tmp_path / "escaped.txt").exists() and "done" in out.text


# -- the paper profile -------------------------------------------------------------------------

def test_paper_editor_views_are_cut_to_8000_head_and_tail(ws: Path) -> None:
    from orchbench.agent.editor import PAPER_KEEP

    lines = [f"line {i:05d} " + "x" * 40 for i in range(1, 2001)]  # ~100k chars numbered
    (ws / "big.py").write_text("\n".join(lines) + "\n")
    out = run(EditorTool(ws, style="paper"), command="view", path="big.py")
    assert not out.is_error and len(out.text) <= 8000
    head, _, tail = out.text.partition("\n[... ")
    assert len(head) == PAPER_KEEP and head.startswith("     1\tline 00001 ")
    numbered = "\n".join(f"{i:6}\t{line}" for i, line in enumerate([*lines, ""], 1))
    assert tail.endswith(numbered[-PAPER_KEEP:]) and numbered.startswith(head)
    cut = len(numbered) - 2 * PAPER_KEEP
    assert f"{cut:,} characters cut ...]" in tail
    small = run(EditorTool(ws, style="paper"), command="view", path="pkg/a.py")
    assert small.text == "     1\tone\n     2\ttwo\n     3\tthree\n     4\ttwo\n     5\t"


def test_paper_editor_directory_view_is_one_level_of_names_with_dotfiles(ws: Path) -> None:
    (ws / ".hidden").write_text("x")
    (ws / "pkg" / "deep").mkdir()
    out = run(EditorTool(ws, style="paper"), command="view", path=".")
    assert out.text.splitlines() == [".hidden", "pkg"]


def test_paper_editor_confirms_edits_in_one_line(ws: Path) -> None:
    ed = EditorTool(ws, style="paper")
    outs = [run(ed, command="create", path="n.py", file_text="a\nb\n"),
            run(ed, command="str_replace", path="n.py", old_str="b", new_str="c\nd"),
            run(ed, command="insert", path="n.py", insert_line=1, new_str="z")]
    assert [o.is_error for o in outs] == [False] * 3 and all("\n" not in o.text for o in outs)
    assert (ws / "n.py").read_text() == "a\nz\nc\nd\n"
    schema = ed.schema()
    assert schema["input_schema"]["required"] == ["command", "path"]
    assert "view_range" not in schema["input_schema"]["properties"]


def test_paper_bash_reply(ws: Path) -> None:
    bash = BashTool(ws, unsafe_no_sandbox=True, style="paper")
    assert bash.schema()["input_schema"]["required"] == ["cmd"]
    ok = bash.run({"cmd": "echo out"})
    assert ok.text == "out\n[exit=0]" and not ok.is_error
    bad = bash.run({"cmd": "echo out; echo err >&2; exit 3"})
    assert bad.text == "out\n--- stderr ---\nerr\n[exit=3]" and bad.is_error
    long = bash.run({"cmd": "python3 -c \"print('h' * 6000 + 't' * 6000)\""})
    assert long.text.startswith("h" * 4000) and long.text.endswith("t" * 3991 + "\n[exit=0]")
    assert "chars cut" in long.text and len(long.text) < 8100
    assert bash.run({"command": "echo wrong parameter"}).is_error


# -- bounded views: a huge file or directory never floods the context or the memory --------------

def test_default_view_pages_by_view_range(ws: Path) -> None:
    from orchbench.agent.editor import VIEW_MAX_CHARS

    (ws / "big.py").write_text("".join(f"value_{i} = {i}\n" for i in range(1, 5001)))
    ed = EditorTool(ws)
    first = run(ed, command="view", path="big.py")
    assert len(first.text) <= VIEW_MAX_CHARS + 200
    shown_last = int(first.text.rsplit("\n", 2)[-2].split("\t")[0])
    assert first.text.endswith(f"[showing lines 1-{shown_last} of 5,001; see more with view_range "
                               f"[{shown_last + 1}, -1]]")
    nxt = run(ed, command="view", path="big.py", view_range=[shown_last + 1, -1])
    assert nxt.text.startswith(f"{shown_last + 1:6}\tvalue_{shown_last + 1} = ") and "see more" in nxt.text
    last = run(ed, command="view", path="big.py", view_range=[4990, 5001])
    assert last.text.splitlines()[-1] == "  5001\t" and "see more" not in last.text


def _peak_rss_mb_of(code: str) -> float:
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("style", ["orchbench", "paper"])
def test_view_of_a_40_mb_file_reads_it_bounded(tmp_path: Path, style: str) -> None:
    """Numbering 40 MB of newlines took gigabytes; a bounded view stays near the interpreter's size."""
    (tmp_path / "newlines.txt").write_text("\n" * 40_000_000)
    (tmp_path / "oneline.txt").write_text("y" * 40_000_000)
    code = (
        "import json\n"
        "from orchbench.agent.editor import EditorTool\n"
        f"ed = EditorTool({str(tmp_path)!r}, style={style!r})\n"
        "sizes = [len(ed.run({'command': 'view', 'path': p}).text) for p in ('newlines.txt', 'oneline.txt')]\n"
        "assert 3900 <= min(sizes) and max(sizes) <= 17000, sizes\n"
        # VmHWM is this image's own peak; ru_maxrss would carry the forking parent's size across exec.
        "hwm = next(ln for ln in open('/proc/self/status') if ln.startswith('VmHWM:'))\n"
        "print(json.dumps(int(hwm.split()[1]) / 1024))\n"
    )
    assert _peak_rss_mb_of(code) < 250  # the file alone is 40 MB; numbering it whole took ~3.9 GB


@pytest.mark.parametrize("style", ["orchbench", "paper"])
def test_directory_view_of_100000_files_is_capped(tmp_path: Path, style: str) -> None:
    from orchbench.agent.fileview import DIR_MAX_ENTRIES

    many = tmp_path / "many"
    many.mkdir()
    for i in range(100_000):
        (many / f"f{i:06d}").touch()
    out = run(EditorTool(tmp_path, style=style), command="view", path="many")
    lines = out.text.splitlines()
    assert lines[-1] == f"[... {100_000 - DIR_MAX_ENTRIES:,} more entries not shown]"
    assert len(out.text) < 30_000 and lines[-2].endswith(f"f{DIR_MAX_ENTRIES - 1:06d}")


def test_glob_lists_matches_relative_and_refuses_escapes(ws: Path) -> None:
    from orchbench.agent.editor import GlobTool

    g = GlobTool(ws)
    assert g.run({"pattern": "**/*.py"}).text == "pkg/a.py"
    assert g.run({"pattern": "*.nothing"}).text == "no matches"
    assert g.run({"pattern": "../*"}).is_error and g.run({"pattern": "/etc/*"}).is_error
