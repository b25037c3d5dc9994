"""Sizing: every dtype (sub-byte included), each method of the chain and the source it records."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgemem.errors import ShapeError, UsageError
from edgemem.graph import LoadOptions, load_graph
from edgemem.graph.dtypes import BITS_BY_DTYPE, size_bytes_of
from edgemem.memory.analyze import AnalyzeOptions, analyze
from edgemem.memory.convention import Convention
from tests.fixtures.exported import export

REFERENCE = Convention(inplace=False, alias_views=False, alignment_bytes=1)


def save(tmp_path, graph, opset=17, name="m.onnx", extra_opsets=()):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), *extra_opsets])
    model.ir_version = min(model.ir_version, 10)
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("dtype", [d for d in TensorProto.DataType.values() if d not in (TensorProto.UNDEFINED, TensorProto.STRING)])
def test_every_dtype_has_a_size(dtype):
    bits = BITS_BY_DTYPE[dtype]
    assert size_bytes_of(dtype, (7, 3), "t") == (21 * bits + 7) // 8


def test_sub_byte_sizes_round_up_to_whole_bytes():
    assert size_bytes_of(TensorProto.INT4, (5,), "t") == 3
    assert size_bytes_of(TensorProto.UINT4, (4, 4), "t") == 8
    assert size_bytes_of(TensorProto.FLOAT4E2M1, (1,), "t") == 1
    assert size_bytes_of(TensorProto.INT2, (9,), "t") == 3
    assert size_bytes_of(TensorProto.FLOAT8E4M3FN, (10,), "t") == 10
    assert size_bytes_of(TensorProto.STRING, (3,), "t", string_element_bytes=32) == 96


def test_int4_tensors_through_a_real_model(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.INT4, [5])
    y = helper.make_tensor_value_info("y", TensorProto.INT4, [5])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["mid"]), helper.make_node("Identity", ["mid"], ["y"])], "i4", [x], [y])
    loaded = load_graph(save(tmp_path, graph, opset=21))
    assert {t.name: t.size_bytes for t in loaded.tensors.values()} == {"x": 3, "mid": 3, "y": 3}


def test_sources_are_recorded(tmp_path):
    path = export("same_padding", tmp_path / "same.onnx")
    graph = load_graph(path, LoadOptions(dims={"batch": 2}))
    sources = {t.source for t in graph.tensors.values()}
    assert {"bound", "onnx", "folded", "initializer"} <= sources
    assert graph.tensors["input"].source == "bound"
    assert graph.tensors["/pad1/Pad_output_0"].source == "folded"
    assert graph.tensors["/pad1/Pad_output_0"].shape == (2, 3, 35, 35)


def test_folding_is_what_sizes_runtime_padding_chains(tmp_path):
    """Like NASNet's 'same' padding: without folding these tensors stay unsized; --probe also works."""
    path = export("same_padding", tmp_path / "same.onnx")
    with pytest.raises(ShapeError, match="constant folding was off") as info:
        load_graph(path, LoadOptions(dims={"batch": 1}, fold_constants=False))
    assert "/pad1/Pad_output_0" in info.value.one_line() and "--probe" in info.value.one_line()
    folded = load_graph(path, LoadOptions(dims={"batch": 1}))
    probed = load_graph(path, LoadOptions(dims={"batch": 1}, fold_constants=False, probe=True))
    assert probed.tensors["/pad1/Pad_output_0"].source == "probe"
    assert {n: t.size_bytes for n, t in folded.tensors.items()} == {n: t.size_bytes for n, t in probed.tensors.items()}
    peak = lambda g: analyze(g, AnalyzeOptions(orders=("stored",), convention=REFERENCE)).best.peak_bytes  # noqa: E731
    assert peak(folded) == peak(probed)


def nonzero_model(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [6])
    y = helper.make_tensor_value_info("y", TensorProto.INT64, None)
    nodes = [helper.make_node("NonZero", ["x"], ["nz"]), helper.make_node("Transpose", ["nz"], ["y"])]
    return save(tmp_path, helper.make_graph(nodes, "nz", [x], [y]))


def test_data_dependent_shape_needs_probe(tmp_path):
    path = nonzero_model(tmp_path)
    with pytest.raises(ShapeError, match="add --probe"):
        load_graph(path)
    graph = load_graph(path, LoadOptions(probe=True))
    assert graph.tensors["nz"].source == "probe"
    assert graph.tensors["nz"].shape == (1, 6)  # generated inputs are uniform in (0, 1): all non-zero
    assert graph.tensors["y"].size_bytes == 48


def test_bad_bindings_are_usage_errors(tmp_path):
    path = export("symbolic_batch", tmp_path / "sym.onnx")
    with pytest.raises(UsageError, match="not a graph input"):
        load_graph(path, LoadOptions(input_shapes={"nope": (1, 3, 32, 32)}))
    with pytest.raises(UsageError, match="rank 4, got 2"):
        load_graph(path, LoadOptions(input_shapes={"input": (1, 3)}))
    with pytest.raises(UsageError, match="fixed to 3"):
        load_graph(path, LoadOptions(input_shapes={"input": (1, 4, 32, 32)}))
    with pytest.raises(UsageError, match="no graph input uses"):
        load_graph(path, LoadOptions(dims={"seq": 4}))


def test_opset_7_model_loads(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 32])
    w = numpy_helper.from_array(np.ones((2, 2, 3, 3), np.float32), "w")
    shape = numpy_helper.from_array(np.array([1, 32], np.int64), "shape")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Add", ["r", "x"], ["a"]), helper.make_node("Reshape", ["a", "shape"], ["y"])]
    graph = load_graph(save(tmp_path, helper.make_graph(nodes, "op7", [x], [y], [w, shape]), opset=7))
    assert graph.opset == 7
    assert graph.tensors["a"].size_bytes == 128


def test_if_reads_outer_names_and_holds_them_live(tmp_path):
    """A subgraph node is one step that consumes every outer name its bodies read."""
    cond = helper.make_tensor_value_info("cond", TensorProto.BOOL, [])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [100])
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, [100])
    branch_out = helper.make_tensor_value_info("b", TensorProto.FLOAT, [100])
    then_graph = helper.make_graph([helper.make_node("Relu", ["big"], ["b"])], "then", [], [branch_out])
    else_graph = helper.make_graph([helper.make_node("Neg", ["x"], ["b"])], "else", [], [branch_out])
    nodes = [
        helper.make_node("Exp", ["x"], ["big"], name="exp"),
        helper.make_node("Sigmoid", ["x"], ["other"], name="sig"),
        helper.make_node("If", ["cond"], ["picked"], then_branch=then_graph, else_branch=else_graph, name="if"),
        helper.make_node("Add", ["picked", "other"], ["out"], name="add"),
    ]
    path = save(tmp_path, helper.make_graph(nodes, "ifg", [cond, x], [out]))
    graph = load_graph(path)
    if_node = next(n for n in graph.nodes if n.op_type == "If")
    assert set(if_node.inputs) == {"cond", "big", "x"} and if_node.has_subgraph
    report = analyze(graph, AnalyzeOptions(orders=("stored",), convention=REFERENCE))
    # step 2 (If): cond 1 B + x 400 + big 400 + other 400 + picked 400
    assert report.orders[0].profile_bytes[2] == 1601
    from tests.fixtures.ort_reference import reference_stored_peak

    expected, _ = reference_stored_peak(path, {"cond": np.array(True), "x": np.ones(100, np.float32)})
    assert report.orders[0].peak_bytes == expected
