"""The union-find in-place join (edgemem.memory.groups) gives exactly the buffers of the rules
stated naively (tests/fixtures/quadratic_problem.py), under every convention and opt-in rule, on
random graphs, and stays linear on a long elementwise chain."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgemem.memory.convention import Convention
from edgemem.memory.problem import problem_from_graph
from tests.fixtures.builders import random_graph
from tests.fixtures.quadratic_problem import naive_buffers

CONVENTIONS = [Convention(inplace=False, alias_views=False, alignment_bytes=1), Convention(),
               Convention(alias_views=False), Convention(inplace=False),
               Convention(inplace_rules=("concat", "depthwise")), Convention(inplace_rules=("depthwise", "concat"))]
OPS = ("Op", "Relu", "Add", "Sum", "Reshape", "Identity", "Concat", "Mul")


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**9), st.integers(1, 40), st.sampled_from(CONVENTIONS))
def test_union_find_join_equals_the_direct_definition(seed, n, convention):
    rng = random.Random(seed)
    graph = random_graph(rng, n, max_size=rng.choice((4, 64)), ops=OPS)
    problem = problem_from_graph(graph, convention)
    buffers, extra, scratch, aliased, inplace, applied = naive_buffers(graph, convention)
    assert {(b.name, frozenset(b.tensors), b.creator) for b in problem.buffers if b.tensors} == buffers
    assert sorted((b.creator, b.size_bytes) for b in problem.buffers if not b.tensors) == scratch
    producer = {o: i for i, n in enumerate(graph.nodes) for o in n.outputs}
    expected = [sorted({producer[t] for t in n.inputs if t in producer} | {f for c, f in extra if c == i})
                for i, n in enumerate(graph.nodes)]
    assert [list(p) for p in problem.preds] == expected
    assert (problem.aliased_tensors, problem.inplace_tensors, dict(problem.rule_nodes)) == (aliased, inplace, applied)


def test_a_long_elementwise_chain_is_one_buffer():
    from tests.fixtures.builders import graph_record

    n = 20_000
    nodes = [(f"n{k}", "Relu", (f"t{k - 1}" if k else "x",), (f"t{k}",)) for k in range(n)]
    sizes = {"x": 8, **{f"t{k}": 8 for k in range(n)}}
    problem = problem_from_graph(graph_record(nodes, sizes, ("x",), (f"t{n - 1}",)), Convention())
    # x is a graph input and t{n-1} an output, so the chain t0 .. t{n-2} is one buffer
    assert len(problem.buffers) == 3 and problem.inplace_tensors == n - 2
