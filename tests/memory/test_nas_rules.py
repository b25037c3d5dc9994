"""Opt-in in-place rules: Concat written by its producers and in-place depthwise convolution.

Hand-drawn graphs with values worked out by hand, the default convention unchanged, exact
search with the rules against brute force, and the per-rule comparison of the report.
"""

from __future__ import annotations

import random

import onnx
import pytest

from edgemem.errors import UsageError
from edgemem.graph import load_graph
from edgemem.graph.types import Graph, Node, TensorInfo
from edgemem.memory.analyze import AnalyzeOptions, analyze
from edgemem.memory.capabilities import compare_rules
from edgemem.memory.convention import Convention
from edgemem.memory.liveness import lifetimes_from_order, live_profile, peak_of_order
from edgemem.memory.problem import problem_from_graph
from edgemem.memory.schedule import STRATEGIES, ScheduleContext
from tests.fixtures.nas_graphs import nas_cells
from tests.fixtures.reference import all_topological_orders

PLAIN = dict(alignment_bytes=1)


def record(nodes, shapes, inputs, outputs, weights=None) -> Graph:
    """A Graph of float32 tensors with the given shapes; ``nodes``: (name, op, inputs, outputs)."""
    weights = weights or {}
    producer = {o: name for name, _, _, outs in nodes for o in outs}
    tensors = {}
    for name, shape in {**shapes, **weights}.items():
        size = 4
        for d in shape:
            size *= d
        kind = "weight" if name in weights else ("input" if name in inputs else "activation")
        tensors[name] = TensorInfo(name, "FLOAT", tuple(shape), size, kind, "declared", producer.get(name))
    return Graph("rules", "", 17, tuple(Node(n, op, "", tuple(i), tuple(o)) for n, op, i, o in nodes), tensors,
                 tuple(inputs), tuple(outputs))


def profile(graph, convention, order=None):
    problem = problem_from_graph(graph, convention)
    order = list(range(len(graph.nodes))) if order is None else order
    return [int(x) for x in live_profile(lifetimes_from_order(problem, order))]


def concat_graph():
    # x[1,1] -A-> a[1,4] ; x -B-> b[1,4] ; Concat(a, b) -> c[1,8] -D-> y[1,1]
    return record(
        [("A", "Op", ("x",), ("a",)), ("B", "Op", ("x",), ("b",)), ("C", "Concat", ("a", "b"), ("c",)),
         ("D", "Op", ("c",), ("y",))],
        {"x": (1, 1), "a": (1, 4), "b": (1, 4), "c": (1, 8), "y": (1, 1)}, ("x",), ("y",))


def test_default_convention_has_no_opt_in_rule():
    assert Convention().inplace_rules == ()
    graph = concat_graph()
    assert problem_from_graph(graph, Convention()) == problem_from_graph(graph, Convention(inplace_rules=()))
    with pytest.raises(UsageError):
        Convention(inplace_rules=("everything",))


def test_concat_written_in_place_by_hand():
    graph = concat_graph()
    # without: A: x+a = 20, B: x+a+b = 36 (x dies at B), C: a+b+c = 64, D: c+y = 36
    assert profile(graph, Convention(**PLAIN)) == [20, 36, 64, 36]
    # with: c (32 B) is allocated by A, the first producer, and a and b are its slices
    assert profile(graph, Convention(**PLAIN, inplace_rules=("concat",))) == [36, 36, 32, 36]
    problem = problem_from_graph(graph, Convention(**PLAIN, inplace_rules=("concat",)))
    assert problem.rule_nodes == (("concat", 1),)
    assert 0 in problem.preds[1]  # B waits for A, which allocates the concatenation
    c = problem.buffers[problem.buffer_of["c"]]
    assert c.creator == 0 and set(c.tensors) == {"a", "b", "c"}


def test_concat_rule_needs_contiguous_slices_and_sole_readers():
    graph = record(
        [("A", "Op", ("x",), ("a",)), ("B", "Op", ("x",), ("b",)), ("C", "Concat", ("a", "b"), ("c",)),
         ("D", "Op", ("c", "b"), ("y",))],
        {"x": (2, 1), "a": (2, 4), "b": (2, 4), "c": (2, 8), "y": (1, 1)}, ("x",), ("y",))
    assert problem_from_graph(graph, Convention(inplace_rules=("concat",))).rule_nodes == ()
    strided = record(
        [("A", "Op", ("x",), ("a",)), ("B", "Op", ("x",), ("b",)), ("C", "Concat", ("a", "b"), ("c",)),
         ("D", "Op", ("c",), ("y",))],
        {"x": (2, 1), "a": (2, 4), "b": (2, 4), "c": (2, 8), "y": (1, 1)}, ("x",), ("y",))
    assert problem_from_graph(strided, Convention(inplace_rules=("concat",))).rule_nodes == ()


def depthwise_graph():
    # x[1,4,8,8] -A-> a -DW(w[4,1,3,3])-> d -B-> y[1,1]
    return record(
        [("A", "Op", ("x",), ("a",)), ("DW", "Conv", ("a", "w"), ("d",)), ("B", "Op", ("d",), ("y",))],
        {"x": (1, 1), "a": (1, 4, 8, 8), "d": (1, 4, 8, 8), "y": (1, 1)}, ("x",), ("y",), {"w": (4, 1, 3, 3)})


def test_depthwise_in_place_by_hand():
    graph = depthwise_graph()
    # a and d are 1 KiB each: without the rule the convolution holds both
    assert profile(graph, Convention(**PLAIN)) == [4 + 1024, 2048, 1024 + 4]
    # with it, d overwrites a through one 8x8 float channel of scratch (256 B)
    assert profile(graph, Convention(**PLAIN, inplace_rules=("depthwise",))) == [4 + 1024, 1024 + 256, 1024 + 4]
    problem = problem_from_graph(graph, Convention(inplace_rules=("depthwise",)))
    assert problem.rule_nodes == (("depthwise", 1),)
    assert problem.buffer_of["d"] == problem.buffer_of["a"]


def test_depthwise_rule_skips_regular_convolutions_and_shared_inputs():
    dense = record(
        [("A", "Op", ("x",), ("a",)), ("C", "Conv", ("a", "w"), ("d",)), ("B", "Op", ("d",), ("y",))],
        {"x": (1, 1), "a": (1, 4, 8, 8), "d": (1, 4, 8, 8), "y": (1, 1)}, ("x",), ("y",), {"w": (4, 4, 3, 3)})
    assert problem_from_graph(dense, Convention(inplace_rules=("depthwise",))).rule_nodes == ()
    shared = record(
        [("A", "Op", ("x",), ("a",)), ("DW", "Conv", ("a", "w"), ("d",)), ("B", "Op", ("d", "a"), ("y",))],
        {"x": (1, 1), "a": (1, 4, 8, 8), "d": (1, 4, 8, 8), "y": (1, 1)}, ("x",), ("y",), {"w": (4, 1, 3, 3)})
    assert problem_from_graph(shared, Convention(inplace_rules=("depthwise",))).rule_nodes == ()


def random_cells(seed: int, n: int) -> Graph:
    """Random small graphs of [1, C] tensors with Concat nodes whose inputs have no other reader."""
    rng = random.Random(seed)
    shapes = {"x": (1, rng.randint(1, 4))}
    nodes, available = [], ["x"]
    readers: dict[str, int] = {}
    for k in range(n):
        free = [t for t in available if t != "x" and not readers.get(t)]
        if len(free) >= 2 and rng.random() < 0.4:
            ins = rng.sample(free, rng.randint(2, min(3, len(free))))
            out = f"c{k}"
            shapes[out] = (1, sum(shapes[t][1] for t in ins))
            nodes.append((f"n{k}", "Concat", tuple(ins), (out,)))
        else:
            ins = tuple(dict.fromkeys(rng.sample(available, min(len(available), rng.randint(1, 2)))))
            out = f"t{k}"
            shapes[out] = (1, rng.randint(1, 6))
            nodes.append((f"n{k}", "Op", ins, (out,)))
        for t in ins:
            readers[t] = readers.get(t, 0) + 1
        available.append(out)
    sinks = [t for t in available if not readers.get(t) and t != "x"]
    return record(nodes, shapes, ("x",), tuple(sinks[-2:]) or (available[-1],))


@pytest.mark.parametrize("seed", range(40))
def test_optimal_with_concat_rule_equals_brute_force(seed):
    graph = random_cells(seed, 7)
    convention = Convention(**PLAIN, inplace_rules=("concat",))
    problem = problem_from_graph(graph, convention)
    n = len(problem.node_names)
    preds = [set(p) for p in problem.preds]
    brute = min(peak_of_order(problem, order) for order in all_topological_orders(n, preds))
    result = STRATEGIES["optimal"](problem, ScheduleContext(lower_bound_bytes=0, time_limit_s=600))
    assert result.proved_optimal and result.peak_bytes == brute == peak_of_order(problem, result.order)


def test_capabilities_compare_each_rule(tmp_path):
    path = tmp_path / "nasnet.onnx"
    onnx.save(nas_cells(2, "nasnet", seed=3, channels=8, size=16), path)
    graph = load_graph(path)
    options = AnalyzeOptions(convention=Convention(inplace_rules=("concat", "depthwise")), time_limit_s=600)
    report = analyze(graph, options)
    rows = compare_rules(graph, options, report)
    assert [r.rules for r in rows] == [(), ("concat",), ("depthwise",), ("concat", "depthwise")]
    assert rows[0].nodes == 0 and rows[1].nodes > 0 and rows[2].nodes > 0
    assert rows[-1].arena_bytes == report.best.arena_bytes
    for row in rows:
        assert row.saving_bytes == rows[0].arena_bytes - row.arena_bytes
