"""Models ONNX Runtime refuses are refused at load with one precise line (or loaded with a warning
that names why); each case of issue 11 that used to load cleanly or crash has its test here."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgemem.errors import GraphError, ShapeError, UsageError
from edgemem.graph import LoadOptions, load_graph

HUGE = 2**62


def conv_model(x_dims=(1, 3, 8, 8), w_dims=(4, 3, 3, 3), opset=13, group=1) -> onnx.ModelProto:
    """x -> Conv(w, pads 1) -> c -> Relu -> y, every value declared."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_dims))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", "m", "h", "w"])
    w = numpy_helper.from_array(np.ones(w_dims, np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], group=group, name="conv"),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    return helper.make_model(helper.make_graph(nodes, "conv", [x], [y], [w]), opset_imports=[helper.make_opsetid("", opset)])


def reshape_model(target) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [f"d{i}" for i in range(len(target))])
    shape = numpy_helper.from_array(np.array(target, np.int64), "shape")
    node = helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape")
    return helper.make_model(helper.make_graph([node], "r", [x], [y], [shape]), opset_imports=[helper.make_opsetid("", 13)])


def save(tmp_path, model, name="m.onnx"):
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def load(tmp_path, model, **options):
    return load_graph(save(tmp_path, model), LoadOptions(**options))


def set_input_dim(model, index, value):
    model.graph.input[0].type.tensor_type.shape.dim[index].dim_value = value


def test_a_valid_model_loads_without_warnings(tmp_path):
    graph = load(tmp_path, conv_model())
    assert not [n for n in graph.notes if n.startswith("warning")]


def test_dims_of_2_to_the_62_are_a_clear_error_not_an_overflow(tmp_path):
    model = conv_model(x_dims=(1, 3, HUGE, HUGE))
    with pytest.raises(ShapeError, match=r"add up to about 2\^\d+ bytes.*largest: 'c' FLOAT 1x4x"):
        load(tmp_path, model)


def test_a_bound_dim_past_the_plannable_size_is_a_clear_error(tmp_path):
    model = conv_model()
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    with pytest.raises(ShapeError, match="more than any device addresses"):
        load(tmp_path, model, dims={"batch": 2**60})


@pytest.mark.parametrize("options, flag", [({"dims": {"batch": 0}}, "--dim batch=0"),
                                           ({"input_shapes": {"x": (1, 3, 0, 8)}}, "--input-shape x=1x3x0x8")])
def test_zero_sized_bindings_are_usage_errors(tmp_path, options, flag):
    model = conv_model()
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    with pytest.raises(UsageError, match=f"{flag}: .*at least 1"):
        load(tmp_path, model, **options)


def test_opset_99_is_refused_naming_the_domain_and_the_newest_known(tmp_path):
    with pytest.raises(GraphError, match=rf"opset 99 of domain ai.onnx, newer than onnx .* \(up to {onnx.defs.onnx_opset_version()}\)"):
        load(tmp_path, conv_model(opset=99))


def test_ir_version_99_is_refused(tmp_path):
    model = conv_model()
    model.ir_version = 99
    with pytest.raises(GraphError, match=rf"IR version 99 is newer than onnx .* \(up to {onnx.IR_VERSION}\)"):
        load(tmp_path, model)


def test_a_graph_input_declared_twice_is_refused(tmp_path):
    model = conv_model()
    model.graph.input.append(model.graph.input[0])
    with pytest.raises(GraphError, match="graph input 'x' is declared twice"):
        load(tmp_path, model)


def test_a_node_with_no_output_is_refused_by_name(tmp_path):
    model = conv_model()
    model.graph.node.append(helper.make_node("Relu", ["c"], [], name="orphan"))
    with pytest.raises(GraphError, match=r"node 'orphan' \(Relu\) has no outputs"):
        load(tmp_path, model)


def test_conv_channel_mismatch_names_the_node_and_both_counts(tmp_path):
    with pytest.raises(GraphError, match=r"node 'conv' \(Conv\): input 'x' has 3 channels, but weight 'w' .* expects 5"):
        load(tmp_path, conv_model(w_dims=(4, 5, 3, 3)))


def test_grouped_conv_channels_are_checked_per_group(tmp_path):
    load(tmp_path, conv_model(x_dims=(1, 4, 8, 8), w_dims=(4, 2, 3, 3), group=2))  # 2 groups of 2 channels: valid
    with pytest.raises(GraphError, match="expects 6"):
        load(tmp_path, conv_model(x_dims=(1, 4, 8, 8), w_dims=(4, 3, 3, 3), group=2))
    with pytest.raises(GraphError, match="group 3 does not divide"):
        load(tmp_path, conv_model(x_dims=(1, 6, 8, 8), w_dims=(4, 2, 3, 3), group=3))


def test_an_impossible_reshape_names_the_node_and_the_element_counts(tmp_path):
    load(tmp_path, reshape_model([1, 192]))
    with pytest.raises(GraphError, match=r"node 'reshape' \(Reshape\) turns 192 elements \(1x3x8x8\) into 35 \(5x7\)"):
        load(tmp_path, reshape_model([5, 7]))


def test_a_negative_dimension_gets_its_own_message(tmp_path):
    model = conv_model()
    set_input_dim(model, 2, -3)
    with pytest.raises(ShapeError, match=r"input 'x': dimension 2 is -3, which is not a size") as error:
        load(tmp_path, model)
    assert "not fully sized" not in str(error.value)


def test_an_undefined_dtype_gets_its_own_message(tmp_path):
    model = conv_model()
    model.graph.input[0].type.tensor_type.elem_type = TensorProto.UNDEFINED
    with pytest.raises(ShapeError, match="input 'x' has an undefined element type") as error:
        load(tmp_path, model)
    assert "not fully sized" not in str(error.value)


def test_a_dtype_outside_onnx_is_named(tmp_path):
    model = conv_model()
    model.graph.input[0].type.tensor_type.elem_type = 99
    with pytest.raises(ShapeError, match="element type 99, which is not an ONNX type"):
        load(tmp_path, model)


def test_a_symbolic_input_still_names_the_symbol_and_the_flag(tmp_path):
    model = conv_model()
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    with pytest.raises(ShapeError, match="dimension 0 is the symbol 'batch'") as error:
        load(tmp_path, model)
    assert "--dim batch=N" in error.value.one_line()


def test_what_only_the_checker_rejects_loads_with_a_warning_quoting_it(tmp_path):
    model = conv_model()
    model.graph.node[1].attribute.append(helper.make_attribute("frobnicate", 3))
    graph = load(tmp_path, model)
    warnings = [n for n in graph.notes if n.startswith("warning: the ONNX checker rejects")]
    assert warnings and "Unrecognized attribute: frobnicate for operator Relu" in warnings[0]


def test_a_declared_shape_that_contradicts_inference_is_a_warning_naming_the_node(tmp_path):
    model = conv_model()
    model.graph.value_info.append(helper.make_tensor_value_info("c", TensorProto.FLOAT, [1, 4, 8, 9]))
    graph = load(tmp_path, model)
    warnings = [n for n in graph.notes if n.startswith("warning: strict ONNX shape inference rejects")]
    assert warnings and "node name: conv" in warnings[0]


def test_external_data_checks_do_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    folder = tmp_path / "model"
    folder.mkdir()
    onnx.save(conv_model(), str(folder / "ext.onnx"), save_as_external_data=True, location="ext.bin", size_threshold=0)
    monkeypatch.chdir(tmp_path)
    graph = load_graph(folder / "ext.onnx")
    assert not [n for n in graph.notes if n.startswith("warning")]
