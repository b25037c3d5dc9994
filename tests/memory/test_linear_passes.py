"""The analysis passes are linear in nodes + edges, measured by counting operations, not time.

``problem_from_graph`` looks tensors up a bounded number of times per node and edge, and the
in-place groups move a bounded number of readers per join, on the shapes that were quadratic or
could be (a long elementwise chain, one tensor with many views, one tensor with many readers,
residual blocks); the placement's overlap index examines a bounded number of candidates per
buffer when the live set is bounded. Each count at 8x the size is at most 8x (plus slack).
"""

from __future__ import annotations

import random

import pytest

from edgemem.memory import groups as groups_module
from edgemem.memory.convention import Convention
from edgemem.memory.lifetimes import Lifetimes
from edgemem.memory.placement import plan as placement
from edgemem.memory.problem import problem_from_graph
from tests.fixtures.builders import graph_record

SIZES = (1_000, 8_000)
POUR, DISCARD = groups_module._pour, groups_module._discard


class CountingTensors(dict):
    """graph.tensors that counts every lookup."""

    lookups = 0

    def __getitem__(self, key):
        CountingTensors.lookups += 1
        return super().__getitem__(key)

    def __contains__(self, key):
        CountingTensors.lookups += 1
        return super().__contains__(key)

    def get(self, key, default=None):
        CountingTensors.lookups += 1
        return super().get(key, default)


def chain(n: int):
    nodes = [(f"n{k}", "Relu", (f"t{k - 1}" if k else "x",), (f"t{k}",)) for k in range(n)]
    return nodes, ("x",), (f"t{n - 1}",)


def views(n: int):  # one tensor, n views of it, each read by one Relu
    nodes = [("head", "Op", ("x",), ("h",))]
    for k in range(n // 2):
        nodes += [(f"v{k}", "Reshape", ("h",), (f"v{k}",)), (f"r{k}", "Relu", (f"v{k}",), (f"r{k}",))]
    return nodes, ("x",), tuple(f"r{k}" for k in range(n // 2))


def fan(n: int):  # one tensor read by every node, each adding it to the running sum
    nodes = [("head", "Op", ("x",), ("h",))] + [(f"a{k}", "Add", (f"s{k - 1}" if k else "h", "h"), (f"s{k}",))
                                                 for k in range(n - 1)]
    return nodes, ("x",), (f"s{n - 2}",)


def residual(n: int):
    nodes, x = [], "x"
    for b in range(n // 4):
        nodes += [(f"m{b}", "Op", (x,), (f"h{b}",)), (f"r{b}", "Relu", (f"h{b}",), (f"q{b}",)),
                  (f"p{b}", "Op", (f"q{b}",), (f"y{b}",)), (f"a{b}", "Add", (x, f"y{b}"), (f"s{b}",))]
        x = f"s{b}"
    return nodes, ("x",), (x,)


def counted_problem(shape, n: int, monkeypatch) -> tuple[int, int]:
    """(tensor lookups, readers and joined nodes moved by merges) of problem_from_graph."""
    nodes, inputs, outputs = shape(n)
    sizes = {t: 64 for _, _, ins, outs in nodes for t in (*ins, *outs)}
    graph = graph_record(nodes, sizes, inputs, outputs)
    graph = type(graph)(**{**graph.__dict__, "tensors": CountingTensors(graph.tensors)})
    moved = [0]

    def counting_pour(a, b):
        moved[0] += min(len(a), len(b))
        return POUR(a, b)

    def counting_discard(items, gone):
        moved[0] += min(len(items), len(gone))
        DISCARD(items, gone)

    monkeypatch.setattr(groups_module, "_pour", counting_pour)
    monkeypatch.setattr(groups_module, "_discard", counting_discard)
    CountingTensors.lookups = 0
    problem_from_graph(graph, Convention(inplace_rules=("concat", "depthwise")))
    return CountingTensors.lookups, moved[0]


@pytest.mark.parametrize("shape", [chain, views, fan, residual])
def test_problem_from_graph_does_linear_work(shape, monkeypatch):
    (small_lookups, small_moved), (large_lookups, large_moved) = (counted_problem(shape, n, monkeypatch) for n in SIZES)
    ratio = SIZES[1] / SIZES[0]
    assert large_lookups <= 12 * SIZES[1]  # a bounded number per node and edge
    assert large_lookups <= ratio * small_lookups * 1.05
    assert large_moved <= 4 * SIZES[1] and large_moved <= ratio * max(small_moved, 1) * 1.05


def test_the_overlap_index_examines_a_bounded_number_of_candidates_per_buffer():
    def examined(n: int) -> int:
        rng = random.Random(n)
        first = list(range(n))
        last = [min(n - 1, k + rng.randrange(1, 60)) for k in range(n)]
        lifetimes = Lifetimes(tuple(f"b{k}" for k in range(n)), tuple(rng.choice((64, 128, 512)) for _ in range(n)),
                              tuple(first), tuple(last), n)
        index = placement.OverlapIndex(lifetimes)
        total, placed = 0, []
        for b in sorted(range(n), key=lambda b: -lifetimes.sizes_bytes[b]):
            lo, hi = first[b] // index.block, last[b] // index.block
            total += len(index.long) + len(index.covering[lo]) + sum(len(index.starting[k]) for k in range(lo + 1, hi + 1))
            if b % 50 == 0:  # the query is exact: every placed buffer live with b, once
                assert sorted(index.overlapping(b)) == sorted(o for o in placed if lifetimes.overlaps(o, b))
            index.add(b)
            placed.append(b)
        return total

    small, large = examined(SIZES[0]), examined(SIZES[1])
    assert large <= 200 * SIZES[1] and large <= SIZES[1] / SIZES[0] * small * 1.1
