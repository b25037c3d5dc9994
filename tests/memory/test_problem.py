"""Hand-drawn graphs with values worked out by hand, under each convention."""

from __future__ import annotations

import pytest

from edgemem.memory.analyze import AnalyzeOptions, analyze
from edgemem.memory.convention import Convention
from edgemem.memory.liveness import lifetimes_from_order, live_profile
from edgemem.memory.problem import problem_from_graph
from tests.fixtures.builders import graph_record

REFERENCE = Convention(inplace=False, alias_views=False, alignment_bytes=1)
DEFAULT = Convention()


def profile(graph, convention, order=None):
    problem = problem_from_graph(graph, convention)
    order = order if order is not None else list(range(len(graph.nodes)))
    return list(live_profile(lifetimes_from_order(problem, order)))


def chain():
    # in(10) -A-> a(20) -B-> b(30) -C-> out(5)
    return graph_record(
        [("A", "Op", ("in",), ("a",)), ("B", "Op", ("a",), ("b",)), ("C", "Op", ("b",), ("out",))],
        {"in": 10, "a": 20, "b": 30, "out": 5}, ("in",), ("out",),
    )


def residual():
    # in(8) -A-> x(16) -B-> y(16); Add(x, y) -> z(16) -D-> out(4)
    return graph_record(
        [("A", "Op", ("in",), ("x",)), ("B", "Op", ("x",), ("y",)), ("C", "Add", ("x", "y"), ("z",)),
         ("D", "Op", ("z",), ("out",))],
        {"in": 8, "x": 16, "y": 16, "z": 16, "out": 4}, ("in",), ("out",),
    )


def two_branches():
    # in(1) -A-> a1(100) -B-> b1(1);  in -C-> c1(100) -D-> d1(1);  E(b1, d1) -> out(1)
    # stored order A C B D E runs both big tensors at once.
    return graph_record(
        [("A", "Op", ("in",), ("a1",)), ("C", "Op", ("in",), ("c1",)), ("B", "Op", ("a1",), ("b1",)),
         ("D", "Op", ("c1",), ("d1",)), ("E", "Op", ("b1", "d1"), ("out",))],
        {"in": 1, "a1": 100, "b1": 1, "c1": 100, "d1": 1, "out": 1}, ("in",), ("out",),
    )


def view_chain():
    # in(4) -A-> x(40) -Reshape-> r(40) -B-> y(4)
    return graph_record(
        [("A", "Op", ("in",), ("x",)), ("R", "Reshape", ("x",), ("r",)), ("B", "Op", ("r",), ("y",))],
        {"in": 4, "x": 40, "r": 40, "y": 4}, ("in",), ("y",),
    )


def test_chain_reference_profile_by_hand():
    assert profile(chain(), REFERENCE) == [30, 50, 35]


def test_residual_reference_and_inplace_by_hand():
    assert profile(residual(), REFERENCE) == [24, 32, 48, 20]
    # with in-place, z is written over y (y's only reader is the Add); x has two readers, so not over x
    problem = problem_from_graph(residual(), DEFAULT)
    assert problem.inplace_tensors == 1
    assert profile(residual(), DEFAULT) == [24, 32, 32, 20]


def test_inplace_never_over_graph_inputs_or_outputs():
    graph = graph_record([("R", "Relu", ("in",), ("y",)), ("S", "Relu", ("y",), ("out",))],
                         {"in": 8, "y": 8, "out": 8}, ("in",), ("out",))
    problem = problem_from_graph(graph, DEFAULT)
    assert problem.inplace_tensors == 0  # y over in: in is a graph input; out over y: out is a graph output
    assert len(problem.buffers) == 3


def test_view_alias_by_hand():
    assert profile(view_chain(), REFERENCE) == [44, 80, 44]
    assert profile(view_chain(), DEFAULT) == [44, 40, 44]
    problem = problem_from_graph(view_chain(), DEFAULT)
    assert problem.aliased_tensors == 1 and len(problem.buffers) == 3


def test_view_of_a_weight_is_not_an_activation():
    graph = graph_record([("R", "Reshape", ("w",), ("rw",)), ("A", "Op", ("in", "rw"), ("out",))],
                         {"in": 4, "rw": 100, "out": 4}, ("in",), ("out",), weights={"w": 100})
    assert profile(graph, DEFAULT) == [4, 8]
    assert profile(graph, REFERENCE) == [104, 108]


def test_order_matters_by_hand():
    graph = two_branches()
    assert max(profile(graph, REFERENCE)) == 201
    report = analyze(graph, AnalyzeOptions(convention=REFERENCE))
    peaks = {o.name: o.peak_bytes for o in report.orders}
    assert peaks == {"stored": 201, "greedy": 102, "optimal": 102}
    optimal = next(o for o in report.orders if o.name == "optimal")
    assert optimal.proved_optimal and optimal.gap == 0.0
    stored = next(o for o in report.orders if o.name == "stored")
    assert not stored.proved_optimal and stored.lower_bound_bytes == 102
    assert report.best.peak_bytes == 102


def test_weights_are_reported_separately():
    graph = graph_record([("A", "Op", ("in", "w"), ("out",))], {"in": 3, "out": 5}, ("in",), ("out",), weights={"w": 1000})
    report = analyze(graph, AnalyzeOptions(convention=REFERENCE))
    assert report.weights_bytes == 1000
    assert report.activations_total_bytes == 8
    assert report.best.peak_bytes == 8


def test_graph_input_without_reader_lives_at_step_zero_only():
    graph = graph_record([("A", "Op", ("in",), ("a",)), ("B", "Op", ("a",), ("out",))],
                         {"in": 2, "unused": 50, "a": 3, "out": 4}, ("in", "unused"), ("out",))
    assert profile(graph, REFERENCE) == [55, 7]


def test_dead_output_lives_at_its_step_only():
    graph = graph_record([("A", "Op", ("in",), ("a", "dead")), ("B", "Op", ("a",), ("out",))],
                         {"in": 2, "a": 3, "dead": 100, "out": 4}, ("in",), ("out",))
    assert profile(graph, REFERENCE) == [105, 7]


@pytest.mark.parametrize("precision, expected", [(None, 4000), ("fp16", 2000), ("int8", 1000)])
def test_precision_rescales_float_activations(precision, expected):
    from edgemem.graph.types import Graph, Node, TensorInfo

    graph = Graph("p", "", 17, (Node("A", "Op", "", ("in",), ("out",)),),
                  {"in": TensorInfo("in", "FLOAT", (500,), 2000, "input", "declared"),
                   "out": TensorInfo("out", "FLOAT", (500,), 2000, "activation", "declared", "A")},
                  ("in",), ("out",))
    report = analyze(graph, AnalyzeOptions(convention=Convention(precision=precision, alignment_bytes=1)))
    assert report.best.peak_bytes == expected
