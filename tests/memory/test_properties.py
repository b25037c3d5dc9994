"""Property tests on random DAGs: liveness matches a naive reference, every plan verifies,
greedy <= stored, optimal <= greedy, optimal == brute force on small graphs."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgemem.memory.analyze import AnalyzeOptions, analyze
from edgemem.memory.bounds import order_lower_bound
from edgemem.memory.convention import Convention
from edgemem.memory.liveness import lifetimes_from_order, live_profile, peak_of_order
from edgemem.memory.placement import ALGORITHMS
from edgemem.memory.arena import ArenaPlan
from edgemem.memory.problem import problem_from_graph
from edgemem.memory.schedule import STRATEGIES, ScheduleContext
from edgemem.memory.verify import check_plan
from tests.fixtures.builders import random_graph
from tests.fixtures.reference import all_topological_orders, reference_profile

REFERENCE = Convention(inplace=False, alias_views=False, alignment_bytes=1)
CONVENTIONS = [REFERENCE, Convention(), Convention(inplace=False, alignment_bytes=16), Convention(alias_views=False, alignment_bytes=8)]
FAST = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def graphs(min_nodes=1, max_nodes=24):
    return st.builds(lambda seed, n: random_graph(random.Random(seed), n), st.integers(0, 10**9), st.integers(min_nodes, max_nodes))


def random_topological_order(problem, rng):
    n = len(problem.node_names)
    preds = [set(p) for p in problem.preds]
    done, order = set(), []
    while len(order) < n:
        ready = [v for v in range(n) if v not in done and preds[v] <= done]
        v = rng.choice(ready)
        order.append(v)
        done.add(v)
    return order


@FAST
@given(graphs(), st.integers(0, 10**6))
def test_liveness_matches_naive_reference(graph, seed):
    problem = problem_from_graph(graph, REFERENCE)
    order = random_topological_order(problem, random.Random(seed))
    sizes = {name: t.size_bytes for name, t in graph.tensors.items() if t.kind != "weight"}
    steps = [(graph.nodes[i].inputs, graph.nodes[i].outputs) for i in order]
    expected = reference_profile(steps, sizes, graph.inputs, graph.outputs)
    assert list(live_profile(lifetimes_from_order(problem, order))) == expected


@FAST
@given(graphs(), st.sampled_from(CONVENTIONS))
def test_every_plan_verifies_and_orders_are_monotone(graph, convention):
    report = analyze(graph, AnalyzeOptions(convention=convention, time_limit_s=600))
    peaks = {o.name: o.peak_bytes for o in report.orders}
    assert peaks["greedy"] <= peaks["stored"]
    assert peaks["optimal"] <= peaks["greedy"]
    for o in report.orders:
        assert o.verified
        assert o.peak_bytes >= report.order_lower_bound_bytes or report.nodes == 0
        assert o.arena_bytes >= o.arena_lower_bound_bytes >= o.peak_bytes
        assert o.lower_bound_bytes <= o.peak_bytes
        assert sorted(o.order) == sorted(n.name for n in graph.nodes)


@FAST
@given(graphs(), st.sampled_from(CONVENTIONS), st.integers(0, 10**6))
def test_placement_of_any_topological_order_verifies(graph, convention, seed):
    problem = problem_from_graph(graph, convention)
    order = random_topological_order(problem, random.Random(seed))
    lifetimes = lifetimes_from_order(problem, order)
    for name, plan_fn in ALGORITHMS.items():
        plan = plan_fn(lifetimes, convention.alignment_bytes)
        check = check_plan(lifetimes, plan, convention.alignment_bytes)
        assert check.ok, (name, check.problems)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(1, 8), st.sampled_from(CONVENTIONS))
def test_optimal_equals_brute_force_up_to_8_nodes(graph, convention):
    problem = problem_from_graph(graph, convention)
    n = len(problem.node_names)
    preds = [set(p) for p in problem.preds]
    brute = min(peak_of_order(problem, order) for order in all_topological_orders(n, preds))
    context = ScheduleContext(lower_bound_bytes=order_lower_bound(problem), time_limit_s=600)
    result = STRATEGIES["optimal"](problem, context)
    assert result.proved_optimal
    assert result.peak_bytes == brute
    assert peak_of_order(problem, result.order) == brute


@FAST
@given(graphs(3, 20), st.integers(0, 10**6))
def test_verify_catches_an_overlap(graph, seed):
    problem = problem_from_graph(graph, REFERENCE)
    lifetimes = lifetimes_from_order(problem, list(range(len(problem.node_names))))
    plan = ALGORITHMS["greedy_by_size"](lifetimes, 1)
    pairs = [(a, b) for a in range(len(lifetimes)) for b in range(a + 1, len(lifetimes))
             if lifetimes.overlaps(a, b) and lifetimes.sizes_bytes[a] and lifetimes.sizes_bytes[b]]
    if not pairs:
        return
    a, b = random.Random(seed).choice(pairs)
    offsets = list(plan.offsets)
    offsets[a] = offsets[b]
    broken = ArenaPlan(plan.algorithm, tuple(offsets), plan.sizes_bytes, max(o + s for o, s in zip(offsets, plan.sizes_bytes)))
    assert not check_plan(lifetimes, broken).ok
