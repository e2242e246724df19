"""orchbench: what an LLM coding-agent configuration really costs, under a deterministic judge.

The public Python API, flat, the same functions the `orchbench` command calls:

    from orchbench import load_task, load_arm, run_trial, Store, load_trials, analyze, run_simulation

- tasks and arms: `load_task`, `builtin_tasks`, `load_arm`, `load_experiment`
- running: `run_trial` (one trial, any arm; the `oracle` arm needs no model), `run_batch`
- the store: `Store`, `read_paper_files`, `paper_data_dir`
- analysis: `load_trials`, `analyze` (cells, pairwise tests, Pareto)
- simulation: `load_items`, `run_simulation` (break-even hand-back, what-ifs)
- prices: `load_rate_card`
- records: `Trial`, `Call`, `Usage`, `Verdict`, `Experiment`, `Task`, `Arm`, `RateCard`
- errors: `OrchbenchError` and everything under it (`UserError`, `StoreError`, ...)

Names load on first use: `import orchbench` itself imports nothing heavy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "load_task": "orchbench.tasks.spec", "builtin_tasks": "orchbench.tasks.spec", "Task": "orchbench.tasks.spec",
    "load_arm": "orchbench.arms", "Arm": "orchbench.arms",
    "load_experiment": "orchbench.runner.experiment",
    "run_trial": "orchbench.runner.trial",
    "run_batch": "orchbench.runner.batch",
    "Store": "orchbench.store",
    "read_paper_files": "orchbench.paperformat",
    "paper_data_dir": "orchbench.analysis.sources", "load_trials": "orchbench.analysis.sources",
    "analyze": "orchbench.analysis.summary", "Analysis": "orchbench.analysis.summary",
    "load_items": "orchbench.simulate.whatif",
    "run_simulation": "orchbench.simulate.run", "Simulation": "orchbench.simulate.run",
    "load_rate_card": "orchbench.pricing", "RateCard": "orchbench.pricing",
    **{name: "orchbench.records" for name in ("Trial", "Call", "Usage", "Verdict", "Experiment")},
    **{name: "orchbench.errors" for name in (
        "OrchbenchError", "UserError", "BadArgument", "ConflictingSources", "ExperimentNotFound",
        "NoReferenceSolution", "RateCardError", "UnknownModel", "NotRepriceable",
        "StoreError", "StoreNotFound", "NotAStore", "StoreTooNew", "StoreReadOnly")},
}

__all__ = [
    "Analysis", "Arm", "BadArgument", "Call", "ConflictingSources", "Experiment", "ExperimentNotFound",
    "NoReferenceSolution", "NotAStore", "NotRepriceable", "OrchbenchError", "RateCard", "RateCardError",
    "Simulation", "Store", "StoreError", "StoreNotFound", "StoreReadOnly", "StoreTooNew", "Task", "Trial",
    "UnknownModel", "Usage", "UserError", "Verdict", "analyze", "builtin_tasks", "load_arm",
    "load_experiment", "load_items", "load_rate_card", "load_task", "load_trials", "paper_data_dir",
    "read_paper_files", "run_batch", "run_simulation", "run_trial",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'orchbench' has no attribute {name!r}")
    # `run_simulation` is `simulate.run.simulate`: the name `orchbench.simulate` is the subpackage.
    value = getattr(importlib.import_module(module), "simulate" if name == "run_simulation" else name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load lazily above
    from orchbench.analysis.sources import load_trials, paper_data_dir
    from orchbench.analysis.summary import Analysis, analyze
    from orchbench.arms import Arm, load_arm
    from orchbench.errors import (
        BadArgument,
        ConflictingSources,
        ExperimentNotFound,
        NoReferenceSolution,
        NotAStore,
        NotRepriceable,
        OrchbenchError,
        RateCardError,
        StoreError,
        StoreNotFound,
        StoreReadOnly,
        StoreTooNew,
        UnknownModel,
        UserError,
    )
    from orchbench.paperformat import read_paper_files
    from orchbench.pricing import RateCard, load_rate_card
    from orchbench.records import Call, Experiment, Trial, Usage, Verdict
    from orchbench.runner.batch import run_batch
    from orchbench.runner.experiment import load_experiment
    from orchbench.runner.trial import run_trial
    from orchbench.simulate.run import Simulation
    from orchbench.simulate.run import simulate as run_simulation
    from orchbench.simulate.whatif import load_items
    from orchbench.store import Store
    from orchbench.tasks.spec import Task, builtin_tasks, load_task
