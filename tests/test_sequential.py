"""Group-sequential stopping: boundaries spend alpha as designed, and the error rate holds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from orchbench.analysis.sequential import Design, boundaries, obf_spend, run_sequential


def test_first_boundary_spends_exactly_its_alpha() -> None:
    c = boundaries([10, 20, 30])
    assert 2 * stats.norm.sf(c[0]) == pytest.approx(obf_spend(1 / 3, 0.05), rel=1e-6)
    assert c[0] > c[1] > c[2]
    assert stats.norm.isf(0.025) < c[2] < 2.3  # the last look costs little against a fixed design


def test_sequential_stop_keeps_its_error_rate_and_naive_peeking_does_not() -> None:
    design = Design.planned(30, 4)
    rng = np.random.default_rng(42)
    sims = 3000
    stopped = naive = 0
    for _ in range(sims):
        d = rng.normal(0.0, 0.6, size=30)  # no difference between the arms
        look = run_sequential(design, d)
        stopped += look is not None and look.decision == "decided"
        naive += any(stats.ttest_1samp(d[:n], 0.0).pvalue < 0.05 for n in design.looks)
    rate = stopped / sims
    se = (0.05 * 0.95 / sims) ** 0.5
    assert rate <= 0.05 + 3 * se
    assert naive / sims > 0.05 + 5 * se  # peeking at every look with the fixed test inflates it


def test_a_real_difference_stops_early_and_the_rci_excludes_one() -> None:
    design = Design.planned(40, 5)
    rng = np.random.default_rng(1)
    early = 0
    for _ in range(200):
        look = run_sequential(design, rng.normal(np.log(0.6), 0.4, size=40))
        assert look is not None
        if look.decision == "decided":
            assert look.rci is not None and look.rci[1] < 1.0
            early += look.n_tasks < 40
    assert early > 150


def test_futility_stops_when_a_large_ratio_is_ruled_out() -> None:
    design = Design.planned(40, 5, futility_ratio=1.5)
    look = run_sequential(design, np.random.default_rng(0).normal(0.0, 0.05, size=40))
    assert look is not None and look.decision == "futile" and look.n_tasks < 40
