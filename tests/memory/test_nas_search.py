"""The pieces of the exact order search, each against brute force on random graphs.

The memory model agrees with liveness; a window re-ordered alone leaves the rest of the order
unchanged; relaxed windows, the must-live bound and the time-slice bound never exceed the true
optimum; coarsening keeps an optimal order; the best-first and the decision searches (finished
or stopped), CP-SAT and the window search return valid orders and proved bounds.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgemem.memory.convention import Convention
from edgemem.memory.liveness import lifetimes_from_order, live_profile, peak_of_order
from edgemem.memory.problem import problem_from_graph
from edgemem.memory.schedule.optimal import cpsat, windows
from edgemem.memory.schedule.optimal.coarsen import coarsen
from edgemem.memory.schedule.optimal.decision import decide, minimize
from edgemem.memory.schedule.optimal.downset_bound import downset_bound
from edgemem.memory.schedule.optimal.cut_bound import static_bound
from edgemem.memory.schedule.optimal.model import ancestor_masks, descendant_masks, is_topological, model_peak, model_profile
from edgemem.memory.schedule.optimal.search import UnitSearch
from edgemem.memory.schedule.optimal.split import cut_positions, segments
from edgemem.memory.schedule.optimal.view import OrderView, whole_model
from edgemem.memory.schedule.optimal.work import Work
from tests.fixtures.builders import random_graph
from tests.fixtures.reference import all_topological_orders

CONVENTIONS = [Convention(inplace=False, alias_views=False, alignment_bytes=1), Convention(),
               Convention(inplace_rules=("concat", "depthwise"))]
OPS = ("Op", "Op", "Relu", "Add", "Reshape", "Concat", "Sum")
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def random_problem(seed: int, n: int, convention: Convention):
    rng = random.Random(seed)
    graph = random_graph(rng, n, max_size=rng.choice((4, 64)), ops=OPS)
    return problem_from_graph(graph, convention), rng


def random_order(model, rng, nodes=None):
    nodes = list(range(model.n)) if nodes is None else list(nodes)
    done, order = 0, []
    while len(order) < len(nodes):
        ready = [v for v in nodes if not done >> v & 1 and not model.preds[v] & ~done]
        v = rng.choice(ready)
        order.append(v)
        done |= 1 << v
    return order


def brute_force(model) -> int:
    preds = [{p for p in range(model.n) if model.preds[v] >> p & 1} for v in range(model.n)]
    return min(model_peak(model, order) for order in all_topological_orders(model.n, preds))


@SETTINGS
@given(st.integers(0, 10**9), st.integers(1, 30), st.sampled_from(CONVENTIONS))
def test_model_profile_matches_liveness(seed, n, convention):
    problem, rng = random_problem(seed, n, convention)
    model = whole_model(problem)
    order = random_order(model, rng)
    assert is_topological(model, order)
    assert model_profile(model, order) == [int(x) for x in live_profile(lifetimes_from_order(problem, order))]


@SETTINGS
@given(st.integers(0, 10**9), st.integers(2, 30), st.sampled_from(CONVENTIONS))
def test_reordering_a_segment_is_local_and_exact(seed, n, convention):
    problem, rng = random_problem(seed, n, convention)
    model = whole_model(problem)
    order = random_order(model, rng)
    lo = rng.randrange(0, n)
    hi = rng.randrange(lo + 1, n + 1)
    view = OrderView(problem, order)
    sub, nodes = view.window_model(lo, hi)
    inner = random_order(sub, rng)
    new = order[:lo] + [nodes[i] for i in inner] + order[hi:]
    assert is_topological(model, new)
    before, after = model_profile(model, order), model_profile(model, new)
    assert after[:lo] == before[:lo] and after[hi:] == before[hi:]
    assert model_profile(sub, inner) == after[lo:hi]
    view.replace(lo, hi, sub, nodes, inner)
    assert view.order == new and [int(x) for x in view.profile] == after
    assert all(view.order[view.position[v]] == v for v in range(n))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**9), st.integers(1, 8), st.sampled_from(CONVENTIONS))
def test_bounds_never_exceed_the_optimum(seed, n, convention):
    problem, rng = random_problem(seed, n, convention)
    model = whole_model(problem)
    optimum = brute_force(model)
    order = random_order(model, rng)
    seg_lo, seg_hi = rng.choice(segments(problem.preds, order))
    lo = rng.randrange(seg_lo, seg_hi)
    hi = rng.randrange(lo + 1, seg_hi + 1)
    relaxed = OrderView(problem, order).relaxed_model(lo, hi, seg_lo, seg_hi)
    assert brute_force(relaxed) <= optimum
    touches = [[b for b in range(len(model.sizes)) if model.users[b] >> v & 1] for v in range(n)]
    assert static_bound(model, touches, order) <= optimum


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**9), st.integers(1, 9), st.sampled_from(CONVENTIONS))
def test_coarsened_search_equals_brute_force(seed, n, convention):
    problem, rng = random_problem(seed, n, convention)
    model = whole_model(problem)
    units = coarsen(model, random_order(model, rng))
    assert sorted(v for u in units for v in u.nodes) == list(range(n))
    search = UnitSearch(model, units)
    outcome = search.run(model_peak(model, range(n)) + 1, Work.of(10**7, 60))
    assert outcome.finished
    optimum = brute_force(model)
    assert outcome.peak == optimum == model_peak(model, outcome.order)
    assert search.static_bound <= optimum
    found = search.beam(4, Work.of(10**7, 60))
    assert found is not None and is_topological(model, found[0]) and model_peak(model, found[0]) == found[1] >= optimum


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**9), st.integers(6, 40), st.sampled_from(("best-first", "decision")))
def test_a_stopped_search_still_proves_its_bound(seed, n, kind):
    problem, rng = random_problem(seed, n, Convention())
    model = whole_model(problem)
    search = UnitSearch(model, coarsen(model, range(n)))
    upper = model_peak(model, range(n))
    work = Work.of(rng.randint(0, 400), 60)
    outcome = search.run(upper, work) if kind == "best-first" else minimize(search, upper, work)
    assert outcome.lower_bound <= outcome.peak <= upper
    if outcome.order is not None:
        assert is_topological(model, outcome.order) and model_peak(model, outcome.order) == outcome.peak < upper
    if n <= 9:
        assert outcome.lower_bound <= brute_force(model)


@SETTINGS
@given(st.integers(0, 10**9), st.integers(1, 40))
def test_cut_nodes_are_exactly_the_nodes_comparable_with_every_node(seed, n):
    problem, rng = random_problem(seed, n, Convention())
    model = whole_model(problem)
    order = random_order(model, rng)
    anc, desc = ancestor_masks(model, order), descendant_masks(model, order)
    everyone = (1 << n) - 1
    assert cut_positions(problem.preds, order) == [i for i, v in enumerate(order) if anc[v] | desc[v] | 1 << v == everyone]


@pytest.mark.skipif(not cpsat.available(), reason="OR-Tools (the solver extra) is not installed")
@pytest.mark.parametrize("seed", range(8))
def test_cpsat_equals_brute_force(seed):
    problem, rng = random_problem(seed, 7, CONVENTIONS[seed % 3])
    model = whole_model(problem)
    solved = cpsat.solve(model, list(range(model.n)), model_peak(model, range(model.n)),
                         Work.of(20 * cpsat.UNITS_PER_DETERMINISTIC_SECOND, 60))
    assert solved is not None and solved.proved
    assert solved.peak == brute_force(model) == model_peak(model, solved.order)
    assert is_topological(model, solved.order)


@pytest.mark.parametrize("seed", range(6))
def test_window_search_keeps_orders_valid_and_bounds_proved(seed, monkeypatch):
    monkeypatch.setattr(windows, "WINDOWS", (3, 5))
    problem, rng = random_problem(seed, 9, Convention())
    model = whole_model(problem)
    order = random_order(model, rng)
    view = OrderView(problem, order)
    found = windows.improve(view, 0, model.n, 0, Work.of(10**5, 60))
    assert is_topological(model, view.order)
    assert model_peak(model, view.order) == found.peak <= model_peak(model, order)
    assert found.lower_bound <= brute_force(model) <= found.peak
    assert peak_of_order(problem, view.order) == found.peak


@pytest.mark.skipif(not cpsat.available(), reason="OR-Tools (the solver extra) is not installed")
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**9), st.integers(2, 8), st.sampled_from(CONVENTIONS))
def test_time_slice_bound_never_exceeds_the_optimum(seed, n, convention):
    problem, rng = random_problem(seed, n, convention)
    model = whole_model(problem)
    units = coarsen(model, random_order(model, rng))
    assert downset_bound(model, units, 10**12, Work.of(10**6, 60)) <= brute_force(model)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**9), st.integers(1, 9), st.sampled_from(CONVENTIONS))
def test_decision_search_equals_brute_force(seed, n, convention):
    problem, rng = random_problem(seed, n, convention)
    model = whole_model(problem)
    search = UnitSearch(model, coarsen(model, random_order(model, rng)))
    optimum = brute_force(model)
    outcome = minimize(search, model_peak(model, range(n)) + 1, Work.of(10**7, 60))
    assert outcome.finished and outcome.peak == optimum == outcome.lower_bound == model_peak(model, outcome.order)
    assert is_topological(model, outcome.order)
    order, peak, finished, _ = decide(search, optimum - 1, Work.of(10**7, 60))
    assert finished and order is None  # nothing under the optimum


def test_a_search_whose_forced_moves_run_everything_still_answers_below_upper_only():
    """Hypothesis found it: when forced moves alone complete the order and its peak is the cap,
    the search reported that order as one below the cap."""
    problem, rng = random_problem(25805863, 6, Convention())
    model = whole_model(problem)
    search = UnitSearch(model, coarsen(model, range(6)))
    upper = model_peak(model, range(6))
    outcome = search.run(upper, Work.of(rng.randint(0, 400), 60))
    assert outcome.order is None and outcome.peak == upper and outcome.lower_bound <= upper and outcome.finished
    below = search.run(upper + 1, Work.of(400, 60))
    assert below.order is not None and model_peak(model, below.order) == below.peak <= upper
