"""``--write-order``: the model written with its nodes in the best order runs under ONNX Runtime with
bit-identical outputs, ONNX Runtime follows the file order, and its measured peak follows the
prediction; bad requests are one-line errors and nothing of the model is lost."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from typer.testing import CliRunner

from edgemem.cli import app
from edgemem.errors import GraphError, UsageError
from edgemem.graph import load_graph, ort_peak
from edgemem.graph.write_order import reordered_nodes, write_in_order
from edgemem.memory.analyze import AnalyzeOptions, analyze
from tests.fixtures.nas_graphs import feeds_for, nas_cells, randwire

ort = pytest.importorskip("onnxruntime")


def saved(tmp_path, name, model):
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    return path


def run(path, feeds):
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]).run(None, feeds)


@pytest.mark.parametrize("name, model", [
    ("randwire", lambda: randwire(24, seed=2, channels=8, size=16)),
    ("darts", lambda: nas_cells(3, "darts", seed=1, channels=8, size=16)),
    ("nasnet", lambda: nas_cells(3, "nasnet", seed=2, channels=8, size=16)),
])
def test_reordered_model_gives_identical_outputs(tmp_path, name, model):
    source = saved(tmp_path, name, model())
    report = analyze(load_graph(source), AnalyzeOptions(time_limit_s=3))
    target = write_in_order(source, report.best.order, tmp_path / "best.onnx")
    written = onnx.load(str(target))
    onnx.checker.check_model(written)
    assert [n.name for n in written.graph.node] == list(report.best.order)
    original = onnx.load(str(source))
    assert sorted(n.SerializeToString() for n in written.graph.node) == sorted(n.SerializeToString() for n in original.graph.node)
    assert written.graph.initializer == original.graph.initializer
    assert list(written.graph.output) == list(original.graph.output)
    feeds = feeds_for(original, seed=3)
    for a, b in zip(run(source, feeds), run(target, feeds)):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert load_graph(target).nodes == tuple(sorted(load_graph(target).nodes, key=lambda n: report.best.order.index(n.name)))


def test_onnxruntime_follows_the_file_order_and_measures_the_reordering(tmp_path):
    source = saved(tmp_path, "randwire", randwire(32, seed=2))
    graph = load_graph(source)
    report = analyze(graph, AnalyzeOptions(time_limit_s=4))
    stored = next(o for o in report.orders if o.name == "stored")
    assert report.best.peak_bytes < stored.peak_bytes
    target = write_in_order(source, report.best.order, tmp_path / "best.onnx")
    compared = ort_peak.compare_files(source, target, {i: graph.tensors[i].shape for i in graph.inputs}, orders=("file",))
    assert compared is not None and compared.identical
    runs = dict(compared.runs)
    assert list(runs["reordered"].executed) == list(report.best.order)
    assert list(runs["original"].executed) == [n.name for n in graph.nodes]
    # ONNX Runtime's arena holds exactly the predicted live-set peak (the caller-owned image is
    # not in its arena, and not live at either peak)
    assert runs["original"].requested_peak_bytes == stored.peak_bytes
    assert runs["reordered"].requested_peak_bytes == report.best.peak_bytes
    assert runs["reordered"].requested_peak_bytes < runs["original"].requested_peak_bytes


def test_constants_stay_first_and_subgraph_reads_are_checked(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])
    nodes = [
        helper.make_node("Constant", [], ["k"], name="k", value=helper.make_tensor("kv", TensorProto.FLOAT, [4], [1, 2, 3, 4])),
        helper.make_node("Relu", ["x"], ["a"], name="a"),
        helper.make_node("Neg", ["x"], ["b"], name="b"),
        helper.make_node("Sum", ["a", "b", "k"], ["y"], name="s"),
    ]
    model = helper.make_model(helper.make_graph(nodes, "c", [x], [y]), opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    source = saved(tmp_path, "const", model)
    written = onnx.load(str(write_in_order(source, ["b", "a", "s"], tmp_path / "out.onnx")))
    assert [n.name for n in written.graph.node] == ["k", "b", "a", "s"]
    with pytest.raises(GraphError):
        reordered_nodes(model.graph, ["s", "a", "b"])  # s before its inputs
    with pytest.raises(GraphError):
        reordered_nodes(model.graph, ["a", "s"])  # b left out
    with pytest.raises(GraphError):
        reordered_nodes(model.graph, ["a", "b", "zz"])


def test_refuses_to_overwrite_the_source(tmp_path):
    source = saved(tmp_path, "cells", nas_cells(1, channels=4, size=8))
    graph = load_graph(source)
    order = [n.name for n in graph.nodes]
    with pytest.raises(UsageError):
        write_in_order(source, order, source)
    with pytest.raises(UsageError):
        write_in_order(source, order, tmp_path / "out.txt")
    with pytest.raises(UsageError):
        write_in_order(source, order, tmp_path / "missing" / "out.onnx")
    assert onnx.load(str(source)).graph.node  # untouched


def test_external_data_is_rewritten_beside_the_new_file(tmp_path):
    model = nas_cells(1, channels=16, size=8)
    source = tmp_path / "ext" / "m.onnx"
    source.parent.mkdir()
    onnx.save(model, source, save_as_external_data=True, all_tensors_to_one_file=True, location="m.data", size_threshold=0)
    graph = load_graph(source)
    report = analyze(graph, AnalyzeOptions(orders=("stored", "greedy")))
    target = write_in_order(source, report.best.order, tmp_path / "best.onnx")
    assert (tmp_path / "best.onnx.data").exists()
    feeds = feeds_for(model)
    for a, b in zip(run(source, feeds), run(target, feeds)):
        assert np.array_equal(a, b)


def test_cli_write_order_reports_onnxruntime_peaks(tmp_path):
    source = saved(tmp_path, "randwire", randwire(20, seed=1, channels=16, size=16))
    target = tmp_path / "best.onnx"
    result = CliRunner().invoke(app, ["analyze", str(source), "--write-order", str(target), "--time-limit", "2s", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["written_order"] == str(target) and target.exists()
    peaks = {(p["model"], p["execution_order"]): p for p in doc["ort_peaks"]}
    assert set(peaks) == {("original", "file"), ("reordered", "file"), ("original", "default"), ("reordered", "default")}
    assert all(p["requested_peak_bytes"] > 0 and p["arena_peak_bytes"] >= p["requested_peak_bytes"] for p in peaks.values())
    human = CliRunner().invoke(app, ["analyze", str(source), "--write-order", str(tmp_path / "again.onnx"), "--time-limit", "2s"])
    assert human.exit_code == 0 and "ONNX Runtime, measured in file order" in human.stdout
    bad = CliRunner().invoke(app, ["analyze", str(source), "--write-order", str(source)])
    assert bad.exit_code == 2 and "refusing to overwrite" in bad.output and "Traceback" not in bad.output


def test_cli_inplace_rules_are_compared(tmp_path):
    source = saved(tmp_path, "nasnet", nas_cells(2, "nasnet", seed=3, channels=8, size=16))
    result = CliRunner().invoke(app, ["analyze", str(source), "--inplace-rules", "all", "--time-limit", "1s", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [c["rules"] for c in doc["capabilities"]] == [[], ["concat"], ["depthwise"], ["concat", "depthwise"]]
    assert doc["convention"]["inplace_rules"] == ["concat", "depthwise"]
    bad = CliRunner().invoke(app, ["analyze", str(source), "--inplace-rules", "fused"])
    assert bad.exit_code in (1, 2) and "unknown in-place rule" in bad.output
