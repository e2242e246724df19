"""What would the stored trials have cost if…: another rate card, no caching, capped hand-backs, a
1-hour cache. Per arm and task: predicted cost, saving, and which conclusion of the analysis flips.

Each trial is priced as recorded under the chosen rate card (the reference), then under each
scenario. How a scenario is computed depends on what was recorded:
- no caching: exact from usage (every prompt token billed as input), calls or not;
- 1-hour TTL, hand-back cap, with calls: the calls are replayed (`replay`), and the change
  between the replay as recorded and the replay under the scenario is applied to the recorded cost;
- 1-hour TTL without calls (paper format): the same tokens with writes at the 1-hour price
  (no cache expiry is assumed to have happened);
- hand-back cap without calls: the closed-form loop fitted to the trial (`fit`).
The trajectory is always assumed unchanged: same turns, same outputs, same timing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from orchbench.errors import BadArgument, ConflictingSources, UserError
from orchbench.pricing import RateCard, repricing_model
from orchbench.records import LEAD_ROLES, Call, Trial, Usage, lead_role
from orchbench.simulate.billing import Ttl, min_cacheable_for
from orchbench.simulate.fit import ASSUMPTIONS, FittedCell, fit_cells, fit_loop
from orchbench.simulate.model import LoopUsage, Prices
from orchbench.simulate.replay import prompt_of, replay, replayable

Item = tuple[Trial, list[Call]]
_RESAMPLES = 200  # the bootstrap CI is not used here: keep it cheap


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    assumption: str
    card: RateCard | None = None  # rate card of a re-pricing scenario
    caching: bool = True
    ttl: Ttl = "5m"
    cap: int | None = None


@dataclass
class ScenarioResult:
    key: str
    label: str
    assumption: str
    total_before: float
    total_after: float
    cells: list[dict[str, Any]]
    flips: list[str]
    changes: dict[str, Any]
    methods: dict[str, int]

    @property
    def saving(self) -> float:
        return self.total_before - self.total_after


@dataclass
class WhatIf:
    rate_card: str
    n_trials: int
    with_calls: int
    scenarios: list[ScenarioResult]
    assumptions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for s, r in zip(d["scenarios"], self.scenarios):
            s["saving"] = r.saving
        return d


def load_items(*, db: Path | None = None, results: Sequence[Path] = ()) -> list[Item]:
    """Trials (with their calls) from a store or paper-format files; the paper's data by default."""
    if db is not None and results:
        raise ConflictingSources("give either a store or results files, not both")
    if db is None:
        from orchbench.paperformat import read_paper_files

        if not results:
            from importlib import resources

            results = [Path(str(resources.files("orchbench") / "data" / "paper"))]
        return [(t, list(c)) for t, c in read_paper_files(list(results))]
    from orchbench.store import finished_trials

    return finished_trials(db, calls=True, transcript=True)


def scenarios(*, reprice: RateCard | None = None, no_cache: bool = False, handback_cap: int | None = None,
              ttl: str | None = None) -> list[Scenario]:
    out: list[Scenario] = []
    if reprice is not None:
        out.append(Scenario("reprice", f"recorded costs re-priced with {reprice.name}",
                            "same tokens, other prices", card=reprice))
    if no_cache:
        out.append(Scenario("no-cache", "prompt caching off",
                            "every prompt token billed as plain input; same trajectory", caching=False))
    if handback_cap is not None:
        if handback_cap < 0:
            raise BadArgument("handback_cap", f"must be >= 0 tokens, got {handback_cap}")
        out.append(Scenario(f"cap-{handback_cap}", f"hand-backs capped at {handback_cap} tokens",
                            "same trajectory assumed: same turns, outputs and timing; only the "
                            "hand-back text is shorter", cap=handback_cap))
    if ttl is not None:
        if ttl not in ("5m", "1h"):
            raise BadArgument("ttl", f"must be 5m or 1h, got {ttl!r}")
        if ttl == "1h":
            out.append(Scenario("ttl-1h", "1-hour cache TTL",
                                "cache writes at 2x input instead of 1.25x; entries live an hour", ttl="1h"))
    return out


class _Pricer:
    def __init__(self, card: RateCard) -> None:
        self.card = card
        self._prices: dict[str, Prices] = {}

    def prices(self, model: str) -> Prices:
        p = self._prices.get(model)
        if p is None:
            p = self._prices[model] = Prices.from_rate_card(self.card, model)
        return p

    def cost(self, model: str, u: Usage, *, write_1h: int = 0) -> float:
        c = self.card.cost(model, u)
        if write_1h:
            p = self.prices(model)
            c += write_1h * (p.cache_write_1h - p.cache_write)
        return c


def _no_cache(u: Usage) -> Usage:
    return Usage(input=prompt_of(u), output=u.output)


class _Simulator:
    def __init__(self, items: list[Item], card: RateCard) -> None:
        self.items = items
        self.pricer = _Pricer(card)
        self._cells: dict[tuple[str, str], FittedCell] | None = None

    def cells(self) -> dict[tuple[str, str], FittedCell]:
        if self._cells is None:
            fitted = fit_cells([t for t, _ in self.items], self.pricer.card)
            self._cells = {(c.arm, c.task): c for c in fitted}
        return self._cells

    def reference(self, trial: Trial, calls: list[Call]) -> dict[str, float]:
        out: dict[str, float] = {}
        if calls:
            for c in calls:
                out[c.role] = out.get(c.role, 0.0) + self.pricer.cost(repricing_model(self.pricer.card, c), c.usage)
            return out
        for role, u in trial.usage.items():
            out[role] = self.pricer.cost(trial.models[role], u) if role in trial.models else 0.0
        return out

    def scenario(self, s: Scenario, trial: Trial, calls: list[Call], ref: dict[str, float]) -> tuple[dict[str, float], str]:
        if s.card is not None:
            return _Simulator(self.items, s.card).reference(trial, calls), "exact"
        if not s.caching:
            if calls:
                out: dict[str, float] = {}
                for c in calls:
                    out[c.role] = out.get(c.role, 0.0) + self.pricer.cost(repricing_model(self.pricer.card, c), _no_cache(c.usage))
                return out, "exact"
            return {r: self.pricer.cost(trial.models[r], _no_cache(u)) for r, u in trial.usage.items()
                    if r in trial.models}, "exact"
        known = replayable(calls)
        if known and any(c.role in LEAD_ROLES for c in known):
            plain, changed = replay(known), replay(known, ttl=s.ttl, handback_cap=s.cap)
            out = dict(ref)
            for st, a, b, bill in zip(plain.steps, plain.predicted, changed.predicted, changed.bills):
                c = st.call
                # b.cache_write includes the 1-hour writes; the pricer adds their premium
                model = repricing_model(self.pricer.card, c)
                delta = self.pricer.cost(model, b, write_1h=bill.cache_write_1h) - self.pricer.cost(model, a)
                out[c.role] = out.get(c.role, 0.0) + delta
            return out, "replay"
        if s.ttl == "1h":
            return {r: self.pricer.cost(trial.models[r], u, write_1h=u.cache_write)
                    for r, u in trial.usage.items() if r in trial.models}, "exact (no expiry assumed)"
        return self._capped_closed_form(s.cap, trial, ref)

    def _capped_closed_form(self, cap: int | None, trial: Trial, ref: dict[str, float]) -> tuple[dict[str, float], str]:
        cell = self.cells().get((trial.arm, trial.task))
        lead = lead_role(trial.usage)
        u = trial.usage.get(lead)
        if cell is None or cell.baseline is None or u is None or trial.iterations < 2 or cap is None:
            return dict(ref), "unchanged (no hand-back to cap)"
        base = self.cells()[(cell.baseline, cell.task)]
        loop = fit_loop(float(trial.iterations), LoopUsage(u.input, u.output, u.cache_write, u.cache_read),
                        min_cacheable=_min_or_zero(cell.model), tail=cell.loop.tail)
        n = loop.cached_turns
        excess = loop.growth - base.loop.growth
        if excess <= 0 or n < 2 or cell.handback_tokens <= 0:
            return dict(ref), "closed-form (no hand-back visible)"
        loop = replace(loop, growth=base.loop.growth, delegations=excess * (n - 1) / cell.handback_tokens,
                       handback=cell.handback_tokens)
        delta = loop.capped(cap).usage().cost(cell.prices) - loop.usage().cost(cell.prices)
        out = dict(ref)
        out[lead] = out.get(lead, 0.0) + delta
        return out, "closed-form"


def _min_or_zero(model: str) -> int:
    try:
        return min_cacheable_for(model)
    except UserError:
        return 0


def run_whatif(items: list[Item], card: RateCard, scens: list[Scenario]) -> WhatIf:
    """Price every trial under `card` as recorded and under each scenario; compare the analyses."""
    from orchbench.analysis.columns import from_trials
    from orchbench.analysis.compare import compare, describe
    from orchbench.analysis.summary import analyze

    if not items:
        raise UserError("no trials to simulate: the store or files hold none")
    sim = _Simulator(items, card)
    cols = from_trials(items)
    refs = [sim.reference(t, c) for t, c in items]
    ref_cols = cols.with_costs(_role_arrays(refs))
    priced = analyze(ref_cols, resamples=_RESAMPLES)
    results: list[ScenarioResult] = []
    counted = cols.counted
    for s in scens:
        outs: list[dict[str, float]] = []
        methods: dict[str, int] = {}
        for (t, c), ref in zip(items, refs):
            costs, how = sim.scenario(s, t, c, ref)
            outs.append(costs)
            if t.counted:
                methods[how] = methods.get(how, 0) + 1
        after_cols = cols.with_costs(_role_arrays(outs))
        after = analyze(after_cols, resamples=_RESAMPLES)
        # re-pricing is measured from the recorded costs; every other scenario from the same card
        base_cols = cols if s.card is not None else ref_cols
        before = analyze(cols, resamples=_RESAMPLES) if s.card is not None else priced
        ch = compare(before, after)
        cells = []
        for x in ch.cells:
            b, a = x["cost_median_before"], x["cost_median_after"]
            cells.append({"arm": x["arm"], "task": x["task"], "cost_before": b, "cost_after": a,
                          "saving": (b - a) if a is not None and b is not None else None,
                          "saving_pct": (1 - a / b) * 100 if a is not None and b else None})
        results.append(ScenarioResult(
            key=s.key, label=s.label, assumption=s.assumption,
            total_before=float(base_cols.cost[counted].sum()), total_after=float(after_cols.cost[counted].sum()),
            cells=cells, flips=describe(ch), changes=ch.to_dict(), methods=methods))
    n_calls = sum(1 for t, c in items if c and t.counted)
    notes = []
    if n_calls < int(counted.sum()):
        notes.append("trials without calls (paper format) carry only per-role totals: they are not "
                     "replayed; caps use the closed-form loop model fitted to them")
    return WhatIf(rate_card=getattr(card, "name", str(card)), n_trials=int(counted.sum()), with_calls=n_calls,
                  scenarios=results, assumptions=list(ASSUMPTIONS), notes=notes)


def _role_arrays(costs: list[dict[str, float]]) -> dict[str, np.ndarray]:
    # Analysis columns hold the lead (solo agent or orchestrator) under "orchestrator".
    return {"orchestrator": np.array([c.get("solo", 0.0) + c.get("orchestrator", 0.0) for c in costs]),
            "executor": np.array([c.get("executor", 0.0) for c in costs], dtype=np.float64)}
