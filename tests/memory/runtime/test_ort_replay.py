"""The ONNX Runtime replay against ONNX Runtime itself: order, plan, arena and resident pages."""

from __future__ import annotations

import pytest

from edgemem.graph import load_graph
from edgemem.graph.static_shapes import runtime_static_names
from edgemem.memory.runtime.bfc import PAGE_BYTES
from edgemem.memory.runtime.ort_order import execution_order
from edgemem.memory.runtime.ort_plan import plan_trace
from edgemem.memory.runtime.replay import replay_bfc
from tests.memory.runtime.conftest import ort_probe

pytest.importorskip("onnxruntime")

CASES = [("branchy", "priority", 1), ("branchy", "default", 1), ("branchy", "priority", 2),
         ("decoder", "priority", 1), ("dynamic_expand", "default", 1)]


def replay(path: str, order: str, threads: int, runs: int = 1):
    graph = load_graph(path)
    trace = plan_trace(graph, execution_order(graph, order), threads, runtime_static_names(path))
    return graph, trace, replay_bfc(trace, runs=runs)


@pytest.mark.parametrize("name,order,threads", CASES)
def test_every_kernel_matches_onnxruntime_allocator_statistics(model_files, name, order, threads):
    path = model_files[name]
    graph, trace, got = replay(path, order, threads)
    truth = ort_probe(path, order, threads)
    assert [k["node"] for k in truth["kernels"]] == [graph.nodes[i].name for i in execution_order(graph, order)]
    # ONNX Runtime counts weights it reserved outside the chunks; the offset is the same at every kernel
    offset = truth["kernels"][0]["in_use"] - got.in_use_per_step[0]
    assert [k["in_use"] - offset for k in truth["kernels"]] == list(got.in_use_per_step)
    assert [k["peak"] - offset for k in truth["kernels"]] == list(got.peak_per_step)


@pytest.mark.parametrize("name,order", [("branchy", "priority"), ("branchy", "default"), ("decoder", "priority")])
def test_resident_pages_match_the_kernel_after_repeated_runs(model_files, name, order):
    path = model_files[name]
    _, _, got = replay(path, order, 1, runs=3)
    truth = ort_probe(path, order, 1, runs=3)
    assert [size for _, size in truth["regions"]] == list(got.region_sizes)
    assert sum(truth["resident_pages"]) * PAGE_BYTES == got.resident_bytes + got.prepacked_resident_bytes


def test_the_two_orders_really_differ_on_the_branchy_model(model_files):
    graph = load_graph(model_files["branchy"])
    assert execution_order(graph, "priority") != execution_order(graph, "default")
    assert execution_order(graph, "priority") == tuple(range(len(graph.nodes)))


def test_convtranspose_filter_is_repacked_into_the_arena_at_session_creation(model_files):
    _, trace, got = replay(model_files["decoder"], "priority", 1)
    assert [trace.blocks[b].kind for b in trace.prepacked] == ["prepacked"]
    assert got.prepacked_resident_bytes > 0 and got.session_regions == 1
