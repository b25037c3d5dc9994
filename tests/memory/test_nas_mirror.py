"""The mirrored model (the order run backwards) and the two-way exact search, against brute force.

Every order reversed peaks the same on the mirror, step by step mirrored, on whole graphs, windows
and relaxed windows; the two-way search (``minimize_both``) returns the brute-force optimum, and
when its budget stops it, a valid order and a bound no higher than the optimum.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgemem.memory.schedule.optimal.coarsen import coarsen
from edgemem.memory.schedule.optimal.decision import minimize_both
from edgemem.memory.schedule.optimal.improve import _backward
from edgemem.memory.schedule.optimal.model import is_topological, model_peak, model_profile
from edgemem.memory.schedule.optimal.reverse import reversed_model
from edgemem.memory.schedule.optimal.search import UnitSearch
from edgemem.memory.schedule.optimal.split import segments
from edgemem.memory.schedule.optimal.view import OrderView, whole_model
from edgemem.memory.schedule.optimal.work import Work
from tests.memory.test_nas_search import CONVENTIONS, brute_force, random_order, random_problem

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_mirrors(model, mirrored, order):
    assert is_topological(mirrored, order[::-1])
    assert model_profile(mirrored, order[::-1]) == model_profile(model, order)[::-1]


@SETTINGS
@given(st.integers(0, 10**9), st.integers(1, 30), st.sampled_from(CONVENTIONS))
def test_every_reversed_order_peaks_the_same_on_the_mirror(seed, n, convention):
    problem, rng = random_problem(seed, n, convention)
    model = whole_model(problem)
    mirrored = reversed_model(model, range(n))
    unread = any(size and not users for size, users in zip(model.sizes, model.users))
    assert (mirrored is None) == unread  # only a graph input no node reads has no mirror
    order = random_order(model, rng)
    if mirrored is not None:
        assert_mirrors(model, mirrored, order)
    view = OrderView(problem, order)
    seg_lo, seg_hi = rng.choice(segments(problem.preds, order))
    lo = rng.randrange(seg_lo, seg_hi)
    hi = rng.randrange(lo + 1, seg_hi + 1)
    window, _ = view.window_model(lo, hi)
    mirrored = reversed_model(window, range(window.n))
    if mirrored is not None:
        assert_mirrors(window, mirrored, random_order(window, rng))
    relaxed = view.relaxed_model(lo, hi, seg_lo, seg_hi)
    mirrored = reversed_model(relaxed, range(relaxed.n))
    assert mirrored is not None  # every user of a relaxed buffer may allocate it
    assert_mirrors(relaxed, mirrored, random_order(relaxed, rng))


@SETTINGS
@given(st.integers(0, 10**9), st.integers(1, 9), st.sampled_from(CONVENTIONS))
def test_two_way_search_equals_brute_force(seed, n, convention):
    problem, rng = random_problem(seed, n, convention)
    model = whole_model(problem)
    forward = UnitSearch(model, coarsen(model, random_order(model, rng)))
    outcome = minimize_both(forward, _backward(model), model_peak(model, range(n)) + 1, Work.of(10**7, 60))
    optimum = brute_force(model)
    assert outcome.finished and outcome.peak == optimum == outcome.lower_bound == model_peak(model, outcome.order)
    assert is_topological(model, outcome.order)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**9), st.integers(6, 40))
def test_a_stopped_two_way_search_still_proves_its_bound(seed, n):
    problem, rng = random_problem(seed, n, CONVENTIONS[1])
    model = whole_model(problem)
    forward = UnitSearch(model, coarsen(model, range(n)))
    upper = model_peak(model, range(n))
    outcome = minimize_both(forward, _backward(model), upper, Work.of(rng.randint(0, 400), 60))
    assert outcome.lower_bound <= outcome.peak <= upper
    if outcome.order is not None:
        assert is_topological(model, outcome.order) and model_peak(model, outcome.order) == outcome.peak < upper
    if n <= 9:
        assert outcome.lower_bound <= brute_force(model)
