"""Stopping a comparison early without inflating its error rate: a group-sequential design.

The comparison is looked at after planned numbers of finished tasks n_1 < ... < n_K = N (N = the
tasks the budget allows). At each look the statistic is the paired t of the per-task log cost ratios,
turned into a z with the same two-sided tail probability. Under "ratio = 1" these z's behave like a
Brownian motion at information times t_k = n_k / N, so two-sided boundaries c_k are chosen with the
Lan-DeMets alpha-spending function of O'Brien-Fleming type, alpha(t) = 2 - 2 Phi(z_{1-alpha/2} / sqrt t):
the probability of crossing at look k for the first time equals alpha(t_k) - alpha(t_{k-1}), computed
exactly from the joint normal law of the looks (corr(Z_i, Z_j) = sqrt(t_i / t_j)). Early looks need
overwhelming evidence; the last boundary is close to the fixed-sample one, so little power is lost.

Decided = the repeated confidence interval of the ratio at the current look (mean log ratio +- c_k x se,
t-quantile matched) excludes 1. Futility (optional, non-binding so it cannot raise the error rate):
stop when the interval lies inside (1/r, r): a ratio as large as r is already ruled out.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, stats


def obf_spend(t: float, alpha: float) -> float:
    """O'Brien-Fleming-type alpha spent by information time t (Lan & DeMets 1983)."""
    if t <= 0:
        return 0.0
    return float(2.0 - 2.0 * stats.norm.cdf(stats.norm.ppf(1.0 - alpha / 2.0) / math.sqrt(min(t, 1.0))))


def _inside(c: list[float], t: list[float]) -> float:
    """P(|Z_j| < c_j for all j) for the looks' joint normal law."""
    k = len(c)
    if k == 1:
        return float(1.0 - 2.0 * stats.norm.sf(c[0]))
    tt = np.array(t)
    cov = np.sqrt(np.minimum.outer(tt, tt) / np.maximum.outer(tt, tt))
    hi = np.array(c)
    return float(stats.multivariate_normal.cdf(hi, mean=np.zeros(k), cov=cov, lower_limit=-hi,
                                               abseps=1e-7, releps=1e-6, rng=np.random.default_rng(0)))


def _excess(ck: float, prefix: list[float], t: list[float], stay: float, target: float) -> float:
    """First-crossing probability at this look with boundary ck, minus the alpha it may spend."""
    return (stay - _inside([*prefix, ck], t)) - target


def boundaries(looks: list[int], *, alpha: float = 0.05) -> list[float]:
    """Two-sided z boundaries for looks after n_1 < ... < n_K tasks (information t_k = n_k / n_K)."""
    if not looks or any(b <= a for a, b in itertools.pairwise(looks)):
        raise ValueError("looks must be increasing task counts")
    t = [n / looks[-1] for n in looks]
    c: list[float] = []
    stay = 1.0  # P(no crossing so far)
    for k, tk in enumerate(t):
        target = obf_spend(tk, alpha) - (obf_spend(t[k - 1], alpha) if k else 0.0)
        if target <= 1e-12:
            c.append(math.inf)
            continue
        ck = optimize.brentq(_excess, 0.5, 12.0, args=(c.copy(), t[: k + 1], stay, target), xtol=1e-6)
        c.append(float(ck))
        stay = _inside(c, t[: k + 1])
    return c


@dataclass
class Look:
    n_tasks: int
    boundary: float  # z
    z: float | None
    ratio: float | None
    rci: list[float] | None  # repeated CI of the ratio at this look
    decision: str  # "continue" | "decided" | "futile" | "undecided" (last look, not decided)


@dataclass
class Design:
    looks: list[int]
    alpha: float = 0.05
    futility_ratio: float | None = None  # stop for futility once the RCI lies inside (1/r, r)
    c: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.c:
            self.c = boundaries(self.looks, alpha=self.alpha)

    @classmethod
    def planned(cls, max_tasks: int, n_looks: int, *, alpha: float = 0.05, first: int = 4,
                futility_ratio: float | None = None) -> Design:
        """n_looks equally spaced looks from `first` finished tasks up to max_tasks."""
        n_looks = max(1, min(n_looks, max_tasks - first + 1))
        pts = sorted({round(first + (max_tasks - first) * i / max(n_looks - 1, 1)) for i in range(n_looks)})
        return cls(looks=[int(p) for p in pts if p >= 2], alpha=alpha, futility_ratio=futility_ratio)

    def look(self, d: np.ndarray) -> Look | None:
        """The decision after the per-task log ratios `d` (None when n is not a planned look)."""
        n = int(d.shape[0])
        if n not in self.looks:
            return None
        k = self.looks.index(n)
        c = self.c[k]
        last = k == len(self.looks) - 1
        sd = float(d.std(ddof=1)) if n > 1 else 0.0
        if sd == 0.0 or not math.isfinite(c):
            return Look(n, c, None, float(np.exp(d.mean())) if n else None, None,
                        "undecided" if last else "continue")
        se = sd / math.sqrt(n)
        mean = float(d.mean())
        tstat = mean / se
        z = float(stats.norm.isf(stats.t.sf(abs(tstat), n - 1))) * (1 if tstat >= 0 else -1)
        q = float(stats.t.isf(stats.norm.sf(c), n - 1))  # t quantile with the boundary's tail
        rci = [math.exp(mean - q * se), math.exp(mean + q * se)]
        if abs(z) >= c:
            decision = "decided"
        elif self.futility_ratio and 1 / self.futility_ratio < rci[0] and rci[1] < self.futility_ratio:
            decision = "futile"
        else:
            decision = "undecided" if last else "continue"
        return Look(n, c, z, math.exp(mean), rci, decision)


def run_sequential(design: Design, d: np.ndarray) -> Look | None:
    """Replay looks over tasks finished in the order of `d`; the first stopping look (or the last)."""
    last = None
    for n in design.looks:
        if n > d.shape[0]:
            break
        last = design.look(d[:n])
        if last is not None and last.decision != "continue":
            return last
    return last


@dataclass
class Monitor:
    """A running comparison of arms a and b: fed the per-task medians of finished tasks, it looks at
    the planned points only and says when the comparison is decided (or cannot be within the budget)."""

    a: str
    b: str
    design: Design
    looked: set[int] = field(default_factory=set)
    last: Look | None = None

    def update(self, medians: list[tuple[float, float]]) -> Look | None:
        """`medians`: (median cost of a, of b) per finished task, in a fixed task order. A look that
        was skipped (two tasks finished at once) is skipped for good, which only spends less alpha."""
        n = len(medians)
        due = [k for k in self.design.looks if k <= n and k not in self.looked]
        if not due:
            return None
        self.looked.update(due)
        k = max(due)
        d = np.log(np.array([x for x, _ in medians[:k]]) / np.array([y for _, y in medians[:k]]))
        self.last = self.design.look(d)
        return self.last

    @property
    def stopped(self) -> bool:
        return self.last is not None and self.last.decision in ("decided", "futile")

    def describe(self) -> str:
        lk = self.last
        if lk is None:
            return f"{self.a} vs {self.b}: no planned look reached yet (looks at {self.design.looks} tasks)"
        ci = "-" if lk.rci is None else f"{lk.rci[0]:.2f}-{lk.rci[1]:.2f}"
        ratio = "-" if lk.ratio is None else f"{lk.ratio:.2f}"
        return (f"{self.a} vs {self.b} after {lk.n_tasks} tasks: cost ratio {ratio}, repeated 95% CI {ci} "
                f"(boundary |z| >= {lk.boundary:.2f}): {lk.decision}")
