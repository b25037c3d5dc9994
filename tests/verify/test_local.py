"""Fresh-process measurements of real runtimes next to the runtime-aware prediction."""

from __future__ import annotations

import pytest

from edgemem.graph import load_graph
from edgemem.graph.static_shapes import runtime_static_names
from edgemem.memory.runtime import OrtSettings, RuntimeBaseline, TvmSettings, predict_onnxruntime, predict_tvm
from edgemem.verify.local import MeasureError, measure_fresh, run_fresh
from tests.memory.runtime.models import save

FIRST_RUN_ALLOWANCE = 160 * 1024  # stack and heap the first inference of any model touches (not in the arena)
SMALL_BLOCK_SLACK = 32 * 1024  # blocks under glibc's mmap threshold may land on heap pages already resident


def agrees(predicted: int, measured: int) -> bool:
    return predicted - SMALL_BLOCK_SLACK <= measured <= predicted + FIRST_RUN_ALLOWANCE


def job(graph, path, runtime="onnxruntime", **extra):
    inputs = [{"name": n, "shape": list(graph.tensors[n].shape), "dtype": "float32"} for n in graph.inputs]
    return dict({"runtime": runtime, "model_path": path, "inputs": inputs, "settings": {"execution_order": "priority"},
                 "weights_bytes": graph.weights_bytes, "input_bytes": sum(graph.tensors[n].size_bytes for n in graph.inputs),
                 "runs": 3}, **extra)


@pytest.fixture(scope="module")
def branchy(tmp_path_factory):
    path = save("branchy", tmp_path_factory.mktemp("verify"))
    return load_graph(path), path


def test_onnxruntime_fresh_processes_agree_with_the_replay(branchy):
    pytest.importorskip("onnxruntime")
    graph, path = branchy
    got = measure_fresh(job(graph, path), repeats=2)
    predicted = predict_onnxruntime(graph, OrtSettings(), RuntimeBaseline(first_run_bytes=0), runtime_static_names(path))
    activations = got.summary["activations"]
    assert activations["runs"] == 2 and activations["median_bytes"] > 0
    assert "VmHWM" in activations["source"] or "RssAnon" in activations["source"]
    assert agrees(predicted.run_bytes, activations["median_bytes"])
    for part in ("runtime_baseline", "weights", "session_overhead", "io_buffers"):
        assert got.summary[part]["median_bytes"] >= 0


def test_a_model_the_runtime_rejects_is_a_one_line_error(tmp_path):
    pytest.importorskip("onnxruntime")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(MeasureError) as info:
        run_fresh({"runtime": "onnxruntime", "model_path": str(bad), "inputs": [], "settings": {}})
    assert "\n" not in str(info.value)


@pytest.mark.slow
def test_tvm_fresh_processes_agree_with_the_program_replay(branchy):
    pytest.importorskip("tvm")
    from edgemem.verify.tvm_compile import compile_for_verify

    graph, path = branchy
    signature = [{"name": n, "shape": list(graph.tensors[n].shape), "dtype": "float32"} for n in graph.inputs]
    compiled = compile_for_verify(path, signature)
    program = compiled.program
    assert not program.unknown and program.kernels and program.outputs
    storages = {op.target for op in program.ops if op.kind == "storage"}
    tensors = {op.target: op.source for op in program.ops if op.kind == "tensor"}
    assert storages and set(tensors.values()) <= storages  # every tensor lives in a planned storage
    assert len(storages) < len(tensors)  # TVM's planner shares storages between tensors
    assert {op.target for op in program.ops if op.kind == "kill"} <= storages | set(tensors) | {
        op.target for op in program.ops if op.kind == "view"}
    predicted = predict_tvm(graph, compiled.program, TvmSettings(), RuntimeBaseline(first_run_bytes=0))
    got = measure_fresh(job(graph, path, "tvm", library_path=str(compiled.library), settings={"allocator": "pooled"}),
                        repeats=2)
    measured = got.summary["activations"]["median_bytes"]
    assert agrees(predicted.run_bytes, measured)
