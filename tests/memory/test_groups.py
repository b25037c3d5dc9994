"""The union-find in-place join (edgemem.memory.groups) gives exactly the buffers of the direct,
quadratic definition, under every convention and opt-in rule, on random graphs."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgemem.memory.convention import Convention
from edgemem.memory.problem import problem_from_graph
from tests.fixtures.builders import random_graph
from tests.fixtures.quadratic_problem import quadratic_problem_from_graph

CONVENTIONS = [Convention(inplace=False, alias_views=False, alignment_bytes=1), Convention(),
               Convention(alias_views=False), Convention(inplace=False),
               Convention(inplace_rules=("concat", "depthwise")), Convention(inplace_rules=("depthwise", "concat"))]
OPS = ("Op", "Relu", "Add", "Sum", "Reshape", "Identity", "Concat", "Mul")


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**9), st.integers(1, 40), st.sampled_from(CONVENTIONS))
def test_union_find_join_equals_the_direct_definition(seed, n, convention):
    rng = random.Random(seed)
    graph = random_graph(rng, n, max_size=rng.choice((4, 64)), ops=OPS)
    assert problem_from_graph(graph, convention) == quadratic_problem_from_graph(graph, convention)


def test_a_long_elementwise_chain_is_one_buffer():
    from tests.fixtures.builders import graph_record

    n = 20_000
    nodes = [(f"n{k}", "Relu", (f"t{k - 1}" if k else "x",), (f"t{k}",)) for k in range(n)]
    sizes = {"x": 8, **{f"t{k}": 8 for k in range(n)}}
    problem = problem_from_graph(graph_record(nodes, sizes, ("x",), (f"t{n - 1}",)), Convention())
    # x is a graph input and t{n-1} an output, so the chain t0 .. t{n-2} is one buffer
    assert len(problem.buffers) == 3 and problem.inplace_tensors == n - 2
