"""Fresh-process measurements through the bench agent on this machine, next to the replay."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgemem.bench.run import Target
from edgemem.graph import load_graph
from edgemem.graph.static_shapes import runtime_static_names
from edgemem.memory.runtime import OrtSettings, RuntimeBaseline, predict_onnxruntime
from edgemem.verify.device import Measuring, MeasureError, measure_on
from edgemem.verify.predictors import job_for, ort_options, plan_tvm
from tests.memory.runtime.models import save

FIRST_RUN_ALLOWANCE = 160 * 1024  # stack and heap the first inference of any model touches (not in the arena)
SMALL_BLOCK_SLACK = 32 * 1024  # blocks under glibc's mmap threshold may land on heap pages already resident


def agrees(predicted: int, measured: int) -> bool:
    return predicted - SMALL_BLOCK_SLACK <= measured <= predicted + FIRST_RUN_ALLOWANCE


@pytest.fixture(scope="module")
def branchy(tmp_path_factory):
    path = save("branchy", tmp_path_factory.mktemp("verify"))
    return load_graph(path), path


def local(tmp_path, repeats=2) -> Measuring:
    return Measuring(Target("local"), repeats=repeats, runs=3, artifacts_root=tmp_path / "logs")


def test_onnxruntime_fresh_processes_agree_with_the_replay(branchy, tmp_path):
    pytest.importorskip("onnxruntime")
    graph, path = branchy
    got = measure_on(local(tmp_path), job_for("onnxruntime", graph, Path(path), ort_options(OrtSettings())))
    predicted = predict_onnxruntime(graph, OrtSettings(), RuntimeBaseline(first_run_bytes=0), runtime_static_names(path))
    activations = got.summary["activations"]
    assert len(got.results) == 2 and activations["runs"] == 2 and activations["median_bytes"] > 0
    assert "VmHWM" in activations["source"] or "RssAnon" in activations["source"]
    assert agrees(predicted.run_bytes, activations["median_bytes"])
    for part in ("runtime_baseline", "weights", "session_overhead", "io_buffers", "process_peak"):
        assert got.summary[part]["median_bytes"] >= 0 and got.summary[part]["source"]
    assert got.summary["weights"]["median_bytes"] == graph.weights_bytes  # static, never a difference of samples
    backend = got.facts["backend"]
    assert backend["execution_order"] == "priority" and backend["arena"]["enable_mem_pattern"] is False
    assert backend["intra_op_num_threads"] == 1 and backend["graph_optimization"] == "disable"
    first = got.results[0]
    assert first["stage"] == "run" and got.results[1]["stage"] == "run-2"  # two fresh processes
    assert len(first["latencies_ms"]) == 3 and first["trace"]["samples"]  # the agent's sampled memory trace


def test_a_model_the_runtime_rejects_is_a_one_line_error(tmp_path):
    pytest.importorskip("onnxruntime")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    from edgemem.verify.device import DeviceJob

    job = DeviceJob("onnxruntime", bad, {"model": bad}, {"providers": ["CPUExecutionProvider"]}, 0, 0)
    with pytest.raises(MeasureError) as info:
        measure_on(local(tmp_path, 1), job)
    assert "\n" not in str(info.value) and str(info.value).startswith("the runtime rejected the model")


@pytest.mark.slow
def test_tvm_fresh_processes_agree_with_the_program_replay(branchy, tmp_path):
    pytest.importorskip("tvm")
    graph, path = branchy
    planned = plan_tvm(graph, Path(path), RuntimeBaseline(first_run_bytes=0))
    assert planned.job.files["library"].is_file() and planned.job.options["allocator"] == "pooled"
    got = measure_on(local(tmp_path), planned.job)
    assert got.facts["backend"]["allocator"] == "pooled"
    assert agrees(planned.prediction.run_bytes, got.summary["activations"]["median_bytes"])
