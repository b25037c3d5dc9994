"""A seeded corpus of broken ONNX files: small valid base models, each mutated one way.

Every case is rebuilt from (seed, index) alone, so a failure reproduces with
``python -m tests.fuzz.report --only models:<index>``. Categories: truncations, bit flips, random
attributes, random dims, cycles, dangling names, duplicated names, bad dtypes, huge and zero
dims, missing or broken external data, future opsets and IR versions, op types swapped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
MODEL = "model.onnx"
DATA = "weights.bin"


@dataclass(frozen=True)
class ModelCase:
    """One file set to analyze: ``files`` maps a file name to its bytes (``MODEL`` is the model)."""

    index: int
    category: str
    base: str
    files: dict[str, bytes]
    flags: tuple[str, ...] = ()
    what: str = ""
    extra: dict = field(default_factory=dict)


def _model(nodes, inputs, outputs, weights, value_info=()):
    graph = helper.make_graph(nodes, "fuzz", inputs, outputs, weights, value_info=list(value_info))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def _weight(rng, name, shape):
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def conv_net(rng) -> onnx.ModelProto:
    f = TensorProto.FLOAT
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Reshape", ["p1", "flat"], ["f1"], name="flatten1"),
             helper.make_node("MatMul", ["f1", "w2"], ["m1"], name="fc1"),
             helper.make_node("Add", ["m1", "b2"], ["a1"], name="bias1"),
             helper.make_node("Softmax", ["a1"], ["y"], name="softmax1", axis=-1)]
    weights = [_weight(rng, "w1", (4, 3, 3, 3)), _weight(rng, "b1", (4,)), numpy_helper.from_array(np.array([1, -1], np.int64), "flat"),
               _weight(rng, "w2", (64, 10)), _weight(rng, "b2", (10,))]
    return _model(nodes, [helper.make_tensor_value_info("x", f, [1, 3, 8, 8])], [helper.make_tensor_value_info("y", f, [1, 10])], weights)


def branchy(rng) -> onnx.ModelProto:
    f = TensorProto.FLOAT
    nodes = [helper.make_node("Conv", ["x", "wa"], ["a"], name="branch_a"),
             helper.make_node("Relu", ["a"], ["ra"], name="relu_a"),
             helper.make_node("Conv", ["x", "wb"], ["b"], name="branch_b", pads=[1, 1, 1, 1]),
             helper.make_node("Sigmoid", ["b"], ["sb"], name="sig_b"),
             helper.make_node("Concat", ["ra", "sb"], ["cat"], name="concat", axis=1),
             helper.make_node("Conv", ["cat", "wc"], ["c"], name="merge"),
             helper.make_node("Add", ["c", "x"], ["y"], name="residual")]
    weights = [_weight(rng, "wa", (4, 4, 1, 1)), _weight(rng, "wb", (4, 4, 3, 3)), _weight(rng, "wc", (4, 8, 1, 1))]
    return _model(nodes, [helper.make_tensor_value_info("x", f, [1, 4, 6, 6])], [helper.make_tensor_value_info("y", f, [1, 4, 6, 6])], weights)


def dynamic_batch(rng) -> onnx.ModelProto:
    f = TensorProto.FLOAT
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["fl"], name="flatten"),
             helper.make_node("Gemm", ["fl", "wg", "bg"], ["y"], name="gemm", transB=1)]
    weights = [_weight(rng, "w", (8, 3, 3, 3)), _weight(rng, "wg", (5, 8)), _weight(rng, "bg", (5,))]
    return _model(nodes, [helper.make_tensor_value_info("x", f, ["batch", 3, 8, 8])],
                  [helper.make_tensor_value_info("y", f, ["batch", 5])], weights)


def shape_chain(rng) -> onnx.ModelProto:
    """Exporter style: the Reshape target is computed from Shape -> Gather -> Concat at run time."""
    f = TensorProto.FLOAT
    nodes = [helper.make_node("Shape", ["x"], ["s"], name="shape"),
             helper.make_node("Gather", ["s", "zero"], ["n"], name="gather", axis=0),
             helper.make_node("Unsqueeze", ["n", "axes"], ["n1"], name="unsqueeze"),
             helper.make_node("Concat", ["n1", "minus1"], ["target"], name="concat", axis=0),
             helper.make_node("Reshape", ["x", "target"], ["flat"], name="reshape"),
             helper.make_node("Transpose", ["flat"], ["t"], name="transpose", perm=[1, 0]),
             helper.make_node("Tanh", ["t"], ["y"], name="tanh")]
    weights = [numpy_helper.from_array(np.array(0, np.int64), "zero"), numpy_helper.from_array(np.array([0], np.int64), "axes"),
               numpy_helper.from_array(np.array([-1], np.int64), "minus1")]
    return _model(nodes, [helper.make_tensor_value_info("x", f, [2, 3, 4])], [helper.make_tensor_value_info("y", f, [12, 2])], weights)


def with_if(rng) -> onnx.ModelProto:
    f = TensorProto.FLOAT
    out = helper.make_tensor_value_info("z", f, [1, 6])
    then_graph = helper.make_graph([helper.make_node("Relu", ["h"], ["z"], name="then_relu")], "then", [], [out])
    else_graph = helper.make_graph([helper.make_node("Sigmoid", ["h"], ["z"], name="else_sigmoid")], "else", [], [out])
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="matmul"),
             helper.make_node("If", ["cond"], ["y"], name="branch", then_branch=then_graph, else_branch=else_graph)]
    weights = [_weight(rng, "w", (4, 6)), numpy_helper.from_array(np.array(True), "cond")]
    return _model(nodes, [helper.make_tensor_value_info("x", f, [1, 4])], [helper.make_tensor_value_info("y", f, [1, 6])], weights)


BASES = {"conv_net": conv_net, "branchy": branchy, "dynamic_batch": dynamic_batch, "shape_chain": shape_chain, "with_if": with_if}
BIND = {"dynamic_batch": ("--dim", "batch=2")}
