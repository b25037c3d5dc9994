"""Small ONNX models built in code that exercise what the runtime replays must get right."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _weight(rng, name, shape):
    return numpy_helper.from_array((rng.standard_normal(shape) * 0.1).astype(np.float32), name)


def _model(nodes, inputs, outputs, weights, opset=17):
    graph = helper.make_graph(nodes, "test", inputs, outputs, weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def branchy(seed: int = 0, channels: int = 16, size: int = 32) -> onnx.ModelProto:
    """Two branches from one stem, joined late: ONNX Runtime's default (depth-first) order and the
    file's order hold different tensors at once. Exercises padded, strided, pointwise and depthwise
    convolutions, in-place Relu/Sigmoid, alias Reshape/Flatten, Concat, Add and a Gemm."""
    rng = np.random.default_rng(seed)
    c, w = channels, []
    nodes = [
        helper.make_node("Conv", ["x", "w_stem"], ["stem"], name="stem", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["stem"], ["stem_r"], name="stem_relu"),
        helper.make_node("Conv", ["stem_r", "w_a1"], ["a1"], name="a1", kernel_shape=[1, 1]),
        helper.make_node("Conv", ["stem_r", "w_b1"], ["b1"], name="b1", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                         group=c),
        helper.make_node("Sigmoid", ["a1"], ["a2"], name="a_sig"),
        helper.make_node("Conv", ["a2", "w_a3"], ["a3"], name="a3", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["b1"], ["b2"], name="b_relu"),
        helper.make_node("Conv", ["b2", "w_b3"], ["b3"], name="b3", kernel_shape=[1, 1]),
        helper.make_node("Concat", ["a3", "b3"], ["cat"], name="cat", axis=1),
        helper.make_node("Add", ["a3", "b3"], ["sum"], name="add"),
        helper.make_node("Concat", ["cat", "sum"], ["cat2"], name="cat2", axis=1),
        helper.make_node("GlobalAveragePool", ["cat2"], ["pooled"], name="gap"),
        helper.make_node("Flatten", ["pooled"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "w_fc"], ["logits"], name="fc", transB=1),
    ]
    for name, shape in (("w_stem", [c, 3, 3, 3]), ("w_a1", [2 * c, c, 1, 1]), ("w_b1", [c, 1, 3, 3]),
                        ("w_a3", [c, 2 * c, 3, 3]), ("w_b3", [c, c, 1, 1]), ("w_fc", [10, 3 * c])):
        w.append(_weight(rng, name, shape))
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])]
    return _model(nodes, inputs, outputs, w)


def decoder(seed: int = 0, channels: int = 8, size: int = 16) -> onnx.ModelProto:
    """A ConvTranspose (its filter is repacked into the arena when the session is created), a
    Reshape alias, a dead-buffer reuse of equal shapes, and a graph output that is also read."""
    rng = np.random.default_rng(seed)
    c = channels
    shape = numpy_helper.from_array(np.array([1, c, size * 2, size * 2], np.int64), "shape")
    nodes = [
        helper.make_node("ConvTranspose", ["x", "w_up"], ["up"], name="up", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Relu", ["up"], ["up_r"], name="up_relu"),
        helper.make_node("Conv", ["up_r", "w_c1"], ["c1"], name="c1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Tanh", ["c1"], ["t1"], name="tanh"),
        helper.make_node("Conv", ["t1", "w_c2"], ["c2"], name="c2", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Reshape", ["c2", "shape"], ["c2r"], name="reshape"),
        helper.make_node("Add", ["c2r", "up_r"], ["out"], name="add"),
        helper.make_node("Neg", ["out"], ["neg"], name="neg"),
    ]
    w = [_weight(rng, "w_up", [2 * c, c, 2, 2]), _weight(rng, "w_c1", [c, c, 3, 3]), _weight(rng, "w_c2", [c, c, 3, 3]), shape]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2 * c, size, size])]
    outputs = [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, c, 2 * size, 2 * size]),
               helper.make_tensor_value_info("neg", TensorProto.FLOAT, [1, c, 2 * size, 2 * size])]
    return _model(nodes, inputs, outputs, w)


def dynamic_expand(seed: int = 0, tokens: int = 64, dim: int = 32) -> onnx.ModelProto:
    """An Expand whose target shape is computed from Shape: ONNX inference without data
    propagation (what ONNX Runtime plans with) cannot size it, edgemem's folding can."""
    rng = np.random.default_rng(seed)
    nodes = [
        helper.make_node("Shape", ["x"], ["shp"], name="shape"),
        helper.make_node("Expand", ["token", "shp"], ["tok"], name="expand"),
        helper.make_node("Add", ["x", "tok"], ["y"], name="add"),
        helper.make_node("Relu", ["y"], ["y_r"], name="relu"),
        helper.make_node("MatMul", ["y_r", "w"], ["z"], name="mm"),
        helper.make_node("Sigmoid", ["z"], ["out"], name="sig"),
    ]
    w = [_weight(rng, "token", [1, 1, dim]), _weight(rng, "w", [dim, dim])]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, tokens, dim])]
    outputs = [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, tokens, dim])]
    return _model(nodes, inputs, outputs, w)


MODELS = {"branchy": branchy, "decoder": decoder, "dynamic_expand": dynamic_expand}


def save(name: str, folder) -> str:
    path = folder / f"{name}.onnx"
    onnx.save(MODELS[name](), str(path))
    return str(path)
