"""A mixed-effects summary across tasks: arm as a fixed effect, task as a random intercept.

Cost: a linear mixed model of log cost over successful trials (statsmodels MixedLM, REML), so each
arm's effect reads as a cost ratio to the reference arm, with the spread between tasks and between
trials of a task as variance components.

Success: a linear probability model with the same structure (MixedLM on 0/1). A logistic GLMM is
the textbook choice, but statsmodels offers one only as a variational-Bayes fit (no frequentist CIs),
and benchmark cells are often all-success or all-failure (perfect separation), where a logit fit
diverges; the linear model stays finite and reads directly as a difference in success rate. Its
CIs are approximate (binary outcomes are not normal); the paired and per-cell tests are the exact ones.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from orchbench.analysis.columns import TrialColumns


@dataclass
class Effect:
    arm: str
    estimate: float  # cost: ratio to the reference arm; success: difference in rate
    ci95: list[float] | None
    p: float | None


@dataclass
class MixedFit:
    outcome: str  # "log cost (successes)" | "success (linear probability)"
    reference: str
    n_obs: int
    n_tasks: int
    effects: list[Effect] = field(default_factory=list)
    intercept: float | None = None  # reference arm: geometric-mean cost or success rate
    task_sd: float | None = None  # random-intercept SD (log scale for cost)
    residual_sd: float | None = None
    converged: bool = False
    note: str = ""


@dataclass
class MixedSummary:
    cost: MixedFit | None
    success: MixedFit | None


def _fit(y: np.ndarray, arm: np.ndarray, task: np.ndarray, arms: list[str], outcome: str,
         log_scale: bool) -> MixedFit | None:
    import pandas as pd
    import statsmodels.formula.api as smf

    present = sorted({arms[i] for i in arm})
    n_tasks = len(set(task.tolist()))
    if len(present) < 2 or n_tasks < 2:
        return None
    df = pd.DataFrame({"y": y, "arm": [arms[i] for i in arm], "task": task})
    fit = MixedFit(outcome=outcome, reference=present[0], n_obs=len(df), n_tasks=n_tasks)
    if float(np.var(y)) == 0.0:
        fit.note = "no variation in the outcome: nothing to estimate"
        return fit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence and boundary warnings are reported as fields
        try:
            res = smf.mixedlm("y ~ C(arm)", df, groups=df["task"]).fit(reml=True)
        except (ValueError, np.linalg.LinAlgError) as exc:
            fit.note = f"model not estimable: {exc}"
            return fit
    ci = res.conf_int()
    tf = np.exp if log_scale else (lambda v: v)
    for arm_name in present[1:]:
        term = f"C(arm)[T.{arm_name}]"
        if term not in res.params:
            continue
        fit.effects.append(Effect(arm=arm_name, estimate=float(tf(res.params[term])),
                                  ci95=[float(tf(ci.loc[term, 0])), float(tf(ci.loc[term, 1]))],
                                  p=float(res.pvalues[term])))
    fit.intercept = float(tf(res.params["Intercept"]))
    fit.task_sd = float(np.sqrt(max(float(res.cov_re.iloc[0, 0]), 0.0)))
    fit.residual_sd = float(np.sqrt(res.scale))
    fit.converged = bool(res.converged)
    return fit


def mixed_summary(cols: TrialColumns) -> MixedSummary:
    """Both fits over every arm and task in `cols` (None where fewer than 2 arms or tasks)."""
    task_names = np.array(cols.tasks, dtype=object)
    ok = cols.success & (cols.cost > 0)
    counted = cols.counted
    cost = _fit(np.log(cols.cost[ok]), cols.arm_code[ok], task_names[cols.task_code[ok]], cols.arms,
                "log cost (successes)", log_scale=True)
    success = _fit(cols.success[counted].astype(np.float64), cols.arm_code[counted],
                   task_names[cols.task_code[counted]], cols.arms, "success (linear probability)",
                   log_scale=False)
    return MixedSummary(cost=cost, success=success)
