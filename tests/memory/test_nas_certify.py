"""Certified gaps: every bound the search claims is at most the true optimum, on any budget.

The questions below the best peak (``certify``) never prove more than brute force allows and
settle at the optimum when the budget suffices; the whole strategy's bound, gap and "proved
optimal" agree with brute force on small random graphs under random budgets; the first question
is asked at the cap whose "no" certifies the target gap; RandWire stages of 48 and 64 blocks are
proved optimal on the default work budget, with the same answer on any time limit.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgemem.graph import load_graph
from edgemem.memory.bounds import order_lower_bound
from edgemem.memory.convention import Convention
from edgemem.memory.problem import problem_from_graph
from edgemem.memory.schedule.optimal import schedule
from edgemem.memory.schedule.optimal.certify import GAP_TARGET, _next_cap, certify
from edgemem.memory.schedule.optimal.coarsen import coarsen
from edgemem.memory.schedule.optimal.improve import _backward
from edgemem.memory.schedule.optimal.model import is_topological, model_peak
from edgemem.memory.schedule.optimal.search import UnitSearch
from edgemem.memory.schedule.optimal.view import whole_model
from edgemem.memory.schedule.optimal.work import Work
from edgemem.memory.schedule.result import ScheduleContext
from tests.fixtures.nas_graphs import randwire
from tests.memory.test_nas_search import CONVENTIONS, brute_force, random_problem

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.integers(0, 10**9), st.integers(2, 9), st.sampled_from(CONVENTIONS), st.sampled_from((0, 50, 400, 10**7)))
def test_questions_below_the_best_peak_never_prove_too_much(seed, n, convention, units):
    problem, _ = random_problem(seed, n, convention)
    model = whole_model(problem)
    forward = UnitSearch(model, coarsen(model, range(n)))
    backward = _backward(model)
    searches = [(backward, True), (forward, False)] if backward is not None else [(forward, False)]
    upper = model_peak(model, range(n))
    found = certify(searches, forward.static_bound, upper, Work.of(units, 60))
    optimum = brute_force(model)
    assert found.lower_bound <= optimum <= found.peak <= upper
    if found.order is not None:
        assert is_topological(model, found.order) and model_peak(model, found.order) == found.peak
    if units == 10**7:  # every question settles: the bound meets the optimum
        assert found.lower_bound == found.peak == optimum


@SETTINGS
@given(st.integers(0, 10**9), st.integers(1, 9), st.sampled_from(CONVENTIONS), st.integers(0, 3000))
def test_the_claimed_bound_and_gap_hold_on_any_budget(seed, n, convention, units):
    problem, _ = random_problem(seed, n, convention)
    result = schedule(problem, ScheduleContext(lower_bound_bytes=order_lower_bound(problem), work_limit=units,
                                               time_limit_s=600))
    optimum = brute_force(whole_model(problem))
    assert result.lower_bound_bytes <= optimum <= result.peak_bytes
    if result.proved_optimal:
        assert result.peak_bytes == optimum and result.gap == 0
    elif result.peak_bytes:
        assert result.gap == pytest.approx((result.peak_bytes - result.lower_bound_bytes) / result.peak_bytes)


@given(st.integers(0, 50), st.integers(1, 4096), st.integers(1, 200), st.integers(0, 400))
def test_the_first_question_is_the_cap_that_certifies_the_target_gap(base, grid, steps, low_steps):
    peak = base + steps * grid
    lower = base + min(low_steps, steps - 1) * grid
    cap = _next_cap(lower, peak - 1, peak, base, grid, first=True)
    assert lower <= cap < peak and (cap - base) % grid == 0
    if peak - lower > GAP_TARGET * peak:  # the target is not met yet: its cap comes first
        assert peak - (cap + grid) <= GAP_TARGET * peak  # a "no" certifies the target gap ...
        assert peak - cap > GAP_TARGET * peak  # ... and a "no" one grid point lower would not (the cheapest)


@pytest.mark.parametrize("blocks,seed", [(48, 1), (48, 2), (48, 3), (64, 1), (64, 2), (64, 3)])
def test_randwire_stages_of_48_and_64_blocks_are_proved_on_the_default_budget(tmp_path, blocks, seed):
    import onnx

    path = tmp_path / "randwire.onnx"
    onnx.save(randwire(blocks, seed=seed), path)
    problem = problem_from_graph(load_graph(path), Convention())
    results = [schedule(problem, ScheduleContext(lower_bound_bytes=order_lower_bound(problem), time_limit_s=limit))
               for limit in (600, 3600)]
    assert results[0].proved_optimal and not results[0].timed_out
    assert results[0].order == results[1].order and results[0].peak_bytes == results[1].peak_bytes
