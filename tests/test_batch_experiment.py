"""The experiment file: validation, one-line errors, the paper preset, turn-cap overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchbench.errors import UserError
from orchbench.runner.experiment import ExperimentFile, load_experiment_file, preset


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "exp.toml"
    p.write_text(text)
    return p


def one_line_error(path: Path) -> str:
    with pytest.raises(UserError) as exc:
        load_experiment_file(path)
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg
    return msg


def test_valid_file_round_trip(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        """
name = "study"
arms = ["A", { name = "E", orchestrator = { model = "m" } }]
tasks = ["typer-T1", "./t.toml"]
target_successes = 2
max_attempts = 4
workers = 3
max_usd = 12.5
infra_retries = 1
[turn_caps.A]
"typer-T1" = 60
"*" = 30
""",
    )
    spec = load_experiment_file(p)
    assert spec.experiment_id == "study"
    assert spec.arms[1] == {"name": "E", "orchestrator": {"model": "m"}}
    assert spec.turn_cap("A", "typer-T1") == 60
    assert spec.turn_cap("A", "typer-T2") == 30
    assert spec.turn_cap("B", "typer-T1") is None


@pytest.mark.parametrize(
    ("text", "key", "expect"),
    [
        ('arms = ["A"]\ntasks = ["x"]\nmax_usd = -1\n', "max_usd", "greater than or equal to 0"),
        ('arms = ["A"]\ntasks = ["x"]\nworkerz = 2\n', "workerz", "unknown key"),
        ('tasks = ["x"]\n', "arms", "required key is missing"),
        ('arms = []\ntasks = ["x"]\n', "arms", "at least 1 item"),
        ('arms = ["A"]\ntasks = ["x"]\ntarget_successes = 4\nmax_attempts = 2\n', "(top level)", "max_attempts"),
        ('arms = ["A"]\ntasks = ["x"]\nworkers = "many"\n', "workers", "valid integer"),
        ('arms = ["A"]\ntasks = ["x"]\nid = "a b"\n', "(top level)", "experiment id"),
        ('arms = ["A"]\ntasks = ["x"]\n[turn_caps.A]\nx = 0\n', "(top level)", "turn_caps.A.x"),
    ],
)
def test_bad_files_name_file_key_and_expectation(tmp_path: Path, text: str, key: str, expect: str) -> None:
    msg = one_line_error(write(tmp_path, text))
    assert f"key '{key}'" in msg and expect in msg


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    assert "not valid TOML" in one_line_error(write(tmp_path, "arms = [\n"))
    assert "not found" in one_line_error(tmp_path / "nope.toml")


def test_paper_preset() -> None:
    spec = preset("paper")
    assert spec.experiment_id == "paper-rerun"
    assert spec.arms == ["A", "B", "C", "D"]
    assert spec.tasks == ["typer-T1", "typer-T2", "typer-T3"]
    assert (spec.target_successes, spec.max_attempts) == (3, 6)
    with pytest.raises(UserError, match="unknown experiment preset"):
        preset("nope")


def test_experiment_id_defaults_to_the_file_name(tmp_path: Path) -> None:
    p = tmp_path / "my-study.toml"
    p.write_text('arms = ["A"]\ntasks = ["x"]\n')
    assert load_experiment_file(p).experiment_id == "my-study"


def test_defaults() -> None:
    spec = ExperimentFile(arms=["A"], tasks=["t"])
    assert (spec.target_successes, spec.max_attempts, spec.workers, spec.max_usd) == (3, 6, 1, None)
    assert spec.experiment_id == "experiment"
