"""RuntimePrediction parts: unknown stays unknown, known baselines add up, settings carry reasons."""

from __future__ import annotations

from edgemem.graph import load_graph
from edgemem.graph.static_shapes import runtime_static_names
from edgemem.memory.runtime import (PARTS, RUNTIMES, EngineFacts, OrtSettings, RuntimeBaseline, TvmSettings,
                                    predict_onnxruntime, predict_tensorrt, predict_tvm)
from edgemem.memory.runtime.tvm_program import VmOp, VmProgram

BASELINE = RuntimeBaseline(import_bytes=50 << 20, session_bytes=8 << 20, per_node_bytes=4096, inputs_bytes=1 << 20,
                           first_run_bytes=24 << 10, source="test")


def test_the_table_names_every_runtime():
    assert set(RUNTIMES) == {"onnxruntime", "tvm", "tensorrt"}


def test_onnxruntime_parts_without_a_baseline_are_unknown_not_zero(model_files):
    path = model_files["branchy"]
    got = predict_onnxruntime(load_graph(path), static_names=runtime_static_names(path))
    assert [p.name for p in got.parts] == list(PARTS)
    assert got.part("runtime_baseline").bytes is None and got.part("scratch").bytes is None
    assert got.part("activations").bytes > 0 and got.total_bytes is None and got.run_bytes is None
    assert all(s.reason for s in got.settings) and got.order[0] == "stem"


def test_onnxruntime_with_a_baseline_adds_up_and_peaks_at_load_when_loading_holds_more(model_files):
    graph = load_graph(model_files["branchy"])
    got = predict_onnxruntime(graph, OrtSettings(threads=2), BASELINE)
    assert got.total_bytes == sum(p.bytes for p in got.parts)
    assert got.run_bytes == got.part("activations").bytes + got.part("scratch").bytes
    assert got.peak_bytes >= got.total_bytes - got.run_bytes - got.part("io_buffers").bytes
    assert got.details["load_transient_bytes"] == max(t.size_bytes for t in graph.tensors.values() if t.kind == "weight")


def test_unmodelled_onnxruntime_settings_are_named_in_the_notes(model_files):
    got = predict_onnxruntime(load_graph(model_files["branchy"]), OrtSettings(mem_pattern=True, graph_optimization="all"))
    assert any("memory patterns" in n for n in got.notes) and any("optimization" in n for n in got.notes)


def test_tvm_splits_storages_from_kernel_workspace(model_files):
    graph = load_graph(model_files["branchy"])
    program = VmProgram((VmOp("storage", 0, 1 << 20), VmOp("tensor", 1, 1 << 20, 0),
                         VmOp("call", args=(1,), workspace=(512 << 10,), name="conv2d")), outputs=(1,))
    got = predict_tvm(graph, program, TvmSettings(), BASELINE)
    assert got.order == ("conv2d",)
    assert got.part("activations").bytes >= 1 << 20
    assert got.part("scratch").bytes >= (512 << 10) + BASELINE.first_run_bytes


def test_tensorrt_is_unknown_until_built_and_the_engine_figure_after(model_files):
    graph = load_graph(model_files["branchy"])
    before = predict_tensorrt(graph)
    assert before.part("activations").bytes is None and "until" in before.part("activations").how
    after = predict_tensorrt(graph, EngineFacts(device_memory_bytes=3 << 20, engine_bytes=1 << 20, layers=("a", "b")))
    assert after.part("activations").bytes == 3 << 20 and after.order == ("a", "b")
