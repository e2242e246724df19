"""The paper's JSONL format: reading the 41 published lines, the status rules, bad lines, writing back."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from orchbench.errors import UserError
from orchbench.paperformat import diagnose_line, read_paper_files, write_paper_jsonl
from orchbench.records import Trial

GOOD = {
    "arm": "X", "task": "T9", "trial": 0, "success": False, "blocked": False, "wall_sec": 12.5,
    "iterations": 3,
    "usage_by_role": {"orch-model": {"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 2,
                                     "cache_read_input_tokens": 7},
                      "exec-model": {"input_tokens": 1, "output_tokens": 1}},
    "cost_usd_by_role": {"orch-model": 0.5, "exec-model": 0.25}, "total_cost_usd": 0.75,
    "verify_final": {"exit_code": 1, "summary": "exit_code=1"}, "error": None,
}


def _write(tmp_path: Path, name: str, objs: list[object]) -> Path:
    p = tmp_path / name
    p.write_text("".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objs))
    return p


def test_paper_data_reads_to_41_lines_with_one_infra_error(paper_dir: Path) -> None:
    items = read_paper_files([paper_dir])
    assert len(items) == 41
    assert all(calls == [] for _, calls in items)
    infra = [t for t, _ in items if t.status == "infra_error"]
    assert len(infra) == 1
    (t,) = infra
    assert (t.arm, t.task, t.attempt, t.iterations) == ("A", "T1", 0, 0)
    assert t.source.startswith("import:") and t.source.endswith("A.jsonl")
    assert "credit balance is too low" in (t.error or "")
    assert sum(t.counted for t, _ in items) == 40
    assert len({t.id for t, _ in items}) == 41


def test_roles_costs_and_verdicts_follow_the_file(paper_dir: Path) -> None:
    trials = {(t.arm, t.task, t.attempt, t.status): t for t, _ in read_paper_files([paper_dir])}
    a = trials[("A", "T3", 0, "success")]
    assert a.models == {"solo": "claude-opus-4-7"}  # one model: arm A is a solo agent
    assert a.usage["solo"].model_dump() == {"input": 1748, "output": 769, "cache_write": 3679,
                                                    "cache_read": 11572}
    assert a.cost == {"solo": 0.170234} and a.total_cost == 0.170234
    assert a.verdict is not None and a.verdict.passed and "pytest passed=1359" in a.verdict_summary
    c = trials[("C", "T3", 0, "success")]
    assert c.models == {"orchestrator": "claude-opus-4-7", "executor": "claude-haiku-4-5-20251001"}
    assert c.cost == {"orchestrator": 0.287195, "executor": 0.058904} and c.total_cost == 0.346099
    b = trials[("B", "T1", 0, "failure")]
    assert b.models["executor"] == "qwen-local" and b.usage["executor"].total == 0
    assert b.verdict is not None and not b.verdict.passed
    d = trials[("D", "T3", 0, "success")]
    assert d.models == {"solo": "claude-haiku-4-5-20251001"}


def test_fast_records_equal_fully_validated_ones(paper_dir: Path) -> None:
    for t, _ in read_paper_files([paper_dir]):
        assert Trial.model_validate(t.model_dump()) == t


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"success": True}, "success"),
        ({"success": True, "iterations": 0}, "success"),
        ({"iterations": 0}, "infra_error"),
        ({"iterations": 0, "blocked": True}, "infra_error"),
        ({"blocked": True}, "blocked"),
        ({}, "failure"),
    ],
)
def test_status_rules(tmp_path: Path, change: dict, status: str) -> None:
    (t, _), = read_paper_files([_write(tmp_path, "r.jsonl", [{**GOOD, **change}])])
    assert t.status == status


def test_optional_keys_default_and_total_is_sum_of_roles(tmp_path: Path) -> None:
    obj = {k: GOOD[k] for k in ("arm", "task", "success", "wall_sec", "iterations", "usage_by_role",
                                "cost_usd_by_role")}
    (t, _), = read_paper_files([_write(tmp_path, "r.jsonl", [obj, ""])])
    assert t.attempt == 0 and t.error is None and t.verdict is None
    assert t.total_cost == pytest.approx(0.75)
    assert t.usage["executor"].cache_read == 0


def test_ids_are_deterministic_and_distinguish_content(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    p1 = _write(tmp_path / "a", "X.jsonl", [GOOD])
    p2 = _write(tmp_path / "b", "X.jsonl", [{**GOOD, "wall_sec": 99.0}])
    id1 = read_paper_files([p1])[0][0].id
    assert read_paper_files([p1])[0][0].id == id1 and id1.startswith("X-1-")
    assert read_paper_files([p2])[0][0].id != id1


def test_experiment_is_set_on_every_trial(paper_dir: Path) -> None:
    assert {t.experiment for t, _ in read_paper_files([paper_dir], experiment="e1")} == {"e1"}


@pytest.mark.parametrize(
    ("line", "expect"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ({k: v for k, v in GOOD.items() if k != "iterations"}, 'missing key "iterations"'),
        ({**GOOD, "iterations": "3"}, '"iterations" must be an integer >= 0'),
        ({**GOOD, "wall_sec": -1}, '"wall_sec" must be a number >= 0'),
        ({**GOOD, "success": "yes"}, '"success" must be true or false'),
        ({**GOOD, "arm": ""}, '"arm" must be a non-empty string'),
        ({**GOOD, "total_cost_usd": -0.1}, '"total_cost_usd" must be a number >= 0'),
        ({**GOOD, "usage_by_role": {**GOOD["usage_by_role"], "third": {"input_tokens": 0, "output_tokens": 0}}},
         "at most 2"),
        ({**GOOD, "usage_by_role": {"m": {"input_tokens": -5, "output_tokens": 0}}},
         '"usage_by_role"."m"."input_tokens" must be an integer >= 0'),
        ({**GOOD, "usage_by_role": {"m": {"output_tokens": 0}}}, 'is missing "input_tokens"'),
        ({**GOOD, "cost_usd_by_role": {"orch-model": "cheap"}}, '"cost_usd_by_role"."orch-model" must be a number'),
        ({**GOOD, "cost_usd_by_role": {"ghost": 1.0}}, 'names model "ghost"'),
        ({**GOOD, "verify_final": {"exit_code": "0"}}, '"verify_final"."exit_code" must be an integer'),
    ],
)
def test_bad_line_names_file_line_and_problem(tmp_path: Path, line: object, expect: str) -> None:
    p = _write(tmp_path, "bad.jsonl", [GOOD, "", line])
    with pytest.raises(UserError) as err:
        read_paper_files([p])
    msg = str(err.value)
    assert msg.startswith(f"{p}:3: ")
    assert expect in msg
    assert "\n" not in msg


def test_missing_paths_and_empty_dirs_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file"):
        read_paper_files([tmp_path / "nope.jsonl"])
    with pytest.raises(UserError, match="no \\*.jsonl"):
        read_paper_files([tmp_path])


def test_diagnose_line_accepts_bytes_and_str() -> None:
    assert "not valid JSON" in diagnose_line(b"{")
    assert "not valid JSON" in diagnose_line("{")


def test_write_round_trips_the_paper_files(paper_dir: Path) -> None:
    files = sorted(paper_dir.glob("*.jsonl"))
    original = [json.loads(line) for f in files for line in f.read_text().splitlines() if line.strip()]
    buf = io.StringIO()
    n = write_paper_jsonl([t for t, _ in read_paper_files(files)], buf)
    assert n == 41
    assert [json.loads(line) for line in buf.getvalue().splitlines()] == original


def test_write_skips_unfinished_and_marks_infra_errors(tmp_path: Path) -> None:
    running = Trial(id="r", arm="A", task="T", status="running", iterations=4)
    infra = Trial(id="i", arm="A", task="T", status="infra_error", iterations=2, error="boom")
    out = tmp_path / "o.jsonl"
    assert write_paper_jsonl([running, infra], out) == 1
    (t, _), = read_paper_files([out])
    assert t.status == "infra_error" and t.error == "boom"


def test_nan_and_infinity_are_refused(tmp_path: Path) -> None:
    p = _write(tmp_path, "r.jsonl", [json.dumps(GOOD).replace('"wall_sec": 12.5', '"wall_sec": NaN')])
    with pytest.raises(UserError, match=r"r.jsonl:1: not valid JSON \(NaN is not a number JSON allows"):
        read_paper_files([p])


def test_a_file_named_twice_is_read_once(paper_dir: Path) -> None:
    assert len(read_paper_files([paper_dir, paper_dir / "A.jsonl", paper_dir / "A.jsonl"])) == 41


def test_crlf_and_bom_are_tolerated(tmp_path: Path) -> None:
    p = tmp_path / "w.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\r\n" + json.dumps(GOOD).encode() + b"\r\n")
    assert [t.status for t, _ in read_paper_files([p])] == ["failure", "failure"]
