"""The columnar paper-format reader: same trials as the record reader, and precise errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from orchbench.analysis.columns import STATUSES, from_trials
from orchbench.analysis.paperscan import read_paper_columns
from orchbench.errors import UserError
from orchbench.paperformat import read_paper_files

GOOD = {
    "arm": "X", "task": "t", "trial": 0, "success": True, "blocked": False, "wall_sec": 12.5, "iterations": 3,
    "usage_by_role": {
        "m-orch": {"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 2,
                   "cache_read_input_tokens": 100},
        "m-exec": {"input_tokens": 7, "output_tokens": 1, "cache_creation_input_tokens": 0,
                   "cache_read_input_tokens": 0},
    },
    "cost_usd_by_role": {"m-orch": 0.5, "m-exec": 0.25}, "total_cost_usd": 0.75,
    "verify_final": {}, "error": None,
}


def write(tmp_path: Path, *rows: dict | str, name: str = "r.jsonl") -> Path:
    p = tmp_path / name
    p.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return p


def statuses(cols) -> list[str]:
    return [STATUSES[s] for s in cols.status]


def test_roles_usage_and_costs(tmp_path):
    cols = read_paper_columns([write(tmp_path, GOOD)])
    assert cols.arms == ["X"] and cols.tasks == ["t"] and statuses(cols) == ["success"]
    assert cols.models["orchestrator"][0] == "m-orch" and cols.models["executor"][0] == "m-exec"
    assert cols.usage["orchestrator"][0].tolist() == [10, 5, 2, 100]
    assert cols.usage["executor"][0].tolist() == [7, 1, 0, 0]
    assert cols.role_cost["orchestrator"][0] == 0.5 and cols.cost[0] == 0.75
    assert cols.orchestrator_prompt_side()[0] == 110


def test_status_rules(tmp_path):
    rows = [
        {**GOOD, "success": False, "iterations": 0, "usage_by_role": {}, "cost_usd_by_role": {},
         "total_cost_usd": 0.0, "error": "credit balance too low"},
        {**GOOD, "success": False, "iterations": 40},
        {**GOOD, "success": False, "blocked": True, "iterations": 5},
        {**GOOD, "success": True, "iterations": 1},
    ]
    cols = read_paper_columns([write(tmp_path, *rows)])
    assert statuses(cols) == ["infra_error", "failure", "blocked", "success"]
    assert cols.counted.tolist() == [False, True, True, True]


def test_directories_expand_to_jsonl_and_blank_lines_are_skipped(tmp_path):
    write(tmp_path, GOOD, "", {**GOOD, "arm": "Y"}, name="a.jsonl")
    write(tmp_path, "not json at all", name="notes.txt")
    cols = read_paper_columns([tmp_path])
    assert sorted(cols.arms) == ["X", "Y"] and len(cols) == 2


def test_agrees_with_the_record_reader(paper_dir):
    fast = read_paper_columns([paper_dir])
    slow = from_trials(read_paper_files([paper_dir]))
    order_fast = np.lexsort((fast.cost, fast.wall, [fast.tasks[i] for i in fast.task_code],
                             [fast.arms[i] for i in fast.arm_code]))
    order_slow = np.lexsort((slow.cost, slow.wall, [slow.tasks[i] for i in slow.task_code],
                             [slow.arms[i] for i in slow.arm_code]))
    assert len(fast) == len(slow) == 41
    for name in ("status", "wall", "iterations", "cost"):
        assert getattr(fast, name)[order_fast].tolist() == pytest.approx(getattr(slow, name)[order_slow].tolist())
    for role in ("orchestrator", "executor"):
        assert fast.usage[role][order_fast].tolist() == slow.usage[role][order_slow].tolist()
        assert fast.models[role][order_fast].tolist() == slow.models[role][order_slow].tolist()


@pytest.mark.parametrize(
    "line,expect",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "task"}), 'missing key "task"'),
        (json.dumps({**GOOD, "success": "yes"}), '"success" must be true or false'),
        (json.dumps({**GOOD, "iterations": -1}), '"iterations" must be an integer >= 0'),
        (json.dumps({**GOOD, "iterations": 2.5}), '"iterations" must be an integer >= 0'),
        (json.dumps({**GOOD, "wall_sec": "fast"}), '"wall_sec" must be a number >= 0'),
        (json.dumps({**GOOD, "total_cost_usd": -1}), '"total_cost_usd" must be a number >= 0'),
        (json.dumps({**GOOD, "arm": ""}), '"arm" must be a non-empty string'),
        (json.dumps({**GOOD, "usage_by_role": {"m": {"input_tokens": -5, "output_tokens": 1}}}),
         '"usage_by_role"."m"."input_tokens" must be an integer >= 0'),
        (json.dumps({**GOOD, "usage_by_role": {"m": {"output_tokens": 1}}}),
         '"usage_by_role"."m" is missing "input_tokens"'),
        (json.dumps({**GOOD, "usage_by_role": {"a": {}, "b": {}, "c": {}}}), "lists 3 models"),
        (json.dumps({**GOOD, "cost_usd_by_role": {"m-orch": "free"}}), '"cost_usd_by_role"."m-orch"'),
        (json.dumps({**GOOD, "cost_usd_by_role": {"other": 1.0}}), 'names model "other"'),
        (json.dumps({**GOOD, "blocked": "no"}), '"blocked" must be true or false'),
        (json.dumps({**GOOD, "trial": -2}), '"trial" must be an integer >= 0'),
        (json.dumps({**GOOD, "error": 5}), '"error" must be a string or null'),
        (json.dumps({**GOOD, "verify_final": {"exit_code": "0"}}), '"verify_final"."exit_code"'),
    ],
)
def test_malformed_line_names_file_line_and_what(tmp_path, line, expect):
    p = write(tmp_path, GOOD, line)
    with pytest.raises(UserError) as exc:
        read_paper_columns([p])
    msg = str(exc.value)
    assert msg.startswith(f"{p}:2: ")
    assert expect in msg
    assert "\n" not in msg
    with pytest.raises(UserError) as same:  # the record reader rejects the same line the same way
        read_paper_files([p])
    assert str(same.value) == msg


@pytest.mark.parametrize(
    "row",
    [
        {**GOOD, "success": False, "iterations": 0},  # 0 iterations: infra error even with usage
        {**GOOD, "success": False, "blocked": True, "iterations": 0},
        {**GOOD, "cost_usd_by_role": {}, "total_cost_usd": None},
        {**GOOD, "usage_by_role": {"solo": {"input_tokens": 1, "output_tokens": 2}}, "cost_usd_by_role": {}},
        {k: v for k, v in GOOD.items() if k not in ("blocked", "trial", "verify_final", "error", "total_cost_usd")},
    ],
)
def test_edge_lines_read_the_same_as_the_record_reader(tmp_path, row):
    p = write(tmp_path, row)
    fast, slow = read_paper_columns([p]), from_trials(read_paper_files([p]))
    for name in ("status", "wall", "iterations", "cost"):
        assert getattr(fast, name).tolist() == getattr(slow, name).tolist()
    for role in ("orchestrator", "executor"):
        assert fast.usage[role].tolist() == slow.usage[role].tolist()
        assert fast.role_cost[role].tolist() == slow.role_cost[role].tolist()
        assert fast.models[role].tolist() == slow.models[role].tolist()


def test_missing_path_and_empty_directory(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        read_paper_columns([tmp_path / "nope.jsonl"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no \\*.jsonl"):
        read_paper_columns([tmp_path / "empty"])


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_rejected_like_the_record_reader(tmp_path, value):
    p = tmp_path / "r.jsonl"
    p.write_text(json.dumps(GOOD).replace('"wall_sec": 12.5', f'"wall_sec": {value}') + "\n")
    with pytest.raises(UserError) as fast:
        read_paper_columns([p])
    with pytest.raises(UserError) as slow:
        read_paper_files([p])
    assert str(fast.value) == str(slow.value) and ":1: " in str(fast.value)


def test_a_bom_before_the_first_line(tmp_path):
    p = tmp_path / "bom.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\r\n" + json.dumps(GOOD).encode() + b"\r\n")
    assert len(read_paper_columns([p])) == 2 == len(read_paper_files([p]))
