"""Every bad input is one EdgememError with a clear message (the CLI tests check exit code 1)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgemem.errors import GraphError, ModelLoadError, ShapeError
from edgemem.graph import load_graph
from tests.fixtures.builders import HandNode, hand_model


def small_model() -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    return helper.make_model(helper.make_graph(nodes, "small", [x], [y], [w]), opset_imports=[helper.make_opsetid("", 13)])


def write(tmp_path, model, name="m.onnx"):
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def test_valid_small_model_loads(tmp_path):
    graph = load_graph(write(tmp_path, small_model()))
    assert [n.op_type for n in graph.nodes] == ["Conv", "Relu"]
    assert graph.weights_bytes == 4 * 3 * 3 * 3 * 4


def test_missing_file(tmp_path):
    with pytest.raises(ModelLoadError, match="no such file"):
        load_graph(tmp_path / "absent.onnx")


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(ModelLoadError, match="not a file"):
        load_graph(tmp_path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    with pytest.raises(ModelLoadError, match="empty"):
        load_graph(path)


@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.9])
def test_truncated_protobuf(tmp_path, fraction):
    data = small_model().SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(ModelLoadError, match="truncated|corrupted|not an ONNX"):
        load_graph(path)


def test_corrupted_bytes(tmp_path):
    path = tmp_path / "noise.onnx"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ModelLoadError):
        load_graph(path)


def test_text_file_is_not_a_model(tmp_path):
    path = tmp_path / "readme.onnx"
    path.write_text("this is not a protobuf\n" * 20)
    with pytest.raises(ModelLoadError):
        load_graph(path)


def external_model(tmp_path):
    model = small_model()
    onnx.save(model, str(tmp_path / "ext.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="ext.weights", size_threshold=0)
    return tmp_path / "ext.onnx"


def test_external_data_loads(tmp_path):
    graph = load_graph(external_model(tmp_path))
    assert graph.weights_bytes == 432


def test_missing_external_data_file(tmp_path):
    path = external_model(tmp_path)
    (tmp_path / "ext.weights").unlink()
    with pytest.raises(ModelLoadError, match="external data file .* is missing"):
        load_graph(path)


def test_truncated_external_data_file(tmp_path):
    path = external_model(tmp_path)
    weights = tmp_path / "ext.weights"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ModelLoadError, match="truncated"):
        load_graph(path)


def test_model_above_2gb_loads_by_path(tmp_path):
    """A 2.5 GB external weight (a sparse file: no disk used) is never read into memory."""
    size = 2_500_000_000
    (tmp_path / "big.bin").open("wb").truncate(size)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 625_000_000])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 625_000_000])
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1, 625_000_000], data_location=TensorProto.EXTERNAL)
    for key, value in (("location", "big.bin"), ("offset", "0"), ("length", str(size))):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"], name="add")], "big", [x], [y], [w])
    path = write(tmp_path, helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), "big.onnx")
    loaded = load_graph(path)
    assert loaded.weights_bytes == size
    assert loaded.tensors["y"].size_bytes == size


def test_cycle(tmp_path):
    nodes = [HandNode("A", ("in", "c"), ("a",)), HandNode("B", ("a",), ("b",)), HandNode("C", ("b",), ("c",))]
    model = hand_model(nodes, {"in": 1, "a": 1, "b": 1, "c": 1}, ["in"], ["c"])
    with pytest.raises(GraphError, match="cycle through 3 nodes"):
        load_graph(write(tmp_path, model))


def test_input_nothing_produces(tmp_path):
    nodes = [HandNode("A", ("in", "ghost"), ("out",))]
    model = hand_model(nodes, {"in": 1, "out": 1}, ["in"], ["out"])
    with pytest.raises(GraphError, match="reads 'ghost', which no node, input or initializer produces"):
        load_graph(write(tmp_path, model))


def test_empty_graph(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    model = helper.make_model(helper.make_graph([], "empty", [x], [x]), opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(GraphError, match="empty graph"):
        load_graph(write(tmp_path, model))


def test_duplicate_producer(tmp_path):
    nodes = [HandNode("A", ("in",), ("a",)), HandNode("B", ("in",), ("a",))]
    model = hand_model(nodes, {"in": 1, "a": 1}, ["in"], ["a"])
    with pytest.raises(GraphError, match="produced twice"):
        load_graph(write(tmp_path, model))


def test_unknown_op_without_shapes_names_the_op(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    node = helper.make_node("Mystery", ["x"], ["y"], domain="com.example", name="m")
    model = helper.make_model(helper.make_graph([node], "u", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    with pytest.raises(ShapeError, match=r"com\.example\.Mystery are unknown"):
        load_graph(write(tmp_path, model))


def test_stored_order_not_topological_is_resorted(tmp_path):
    nodes = [HandNode("B", ("a",), ("out",)), HandNode("A", ("in",), ("a",))]
    model = hand_model(nodes, {"in": 1, "a": 2, "out": 3}, ["in"], ["out"])
    graph = load_graph(write(tmp_path, model))
    assert [n.name for n in graph.nodes] == ["A", "B"]
    assert any("not topological" in note for note in graph.notes)
