"""Small ONNX models built in code for the bench tests (real files, run by real runtimes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(graph, path: Path, opset: int = 17) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def small_cnn(path: Path, channels: int = 8, size: int = 32, batch: int | str = 1) -> Path:
    """Conv-Relu-Conv-Relu-GlobalAveragePool-Flatten-Gemm; ``batch`` may be a symbolic name."""
    rng = np.random.default_rng(0)
    weights = [
        numpy_helper.from_array(rng.standard_normal((channels, 3, 3, 3)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.standard_normal((channels, channels, 3, 3)).astype(np.float32), "w2"),
        numpy_helper.from_array(rng.standard_normal((10, channels)).astype(np.float32), "fc"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"], name="pool"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc"], ["y"], transB=1, name="fc"),
    ]
    graph = helper.make_graph(nodes, "small_cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, size, size])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 10])], weights)
    return save(graph, path)


def big_activation(path: Path, mib: int) -> Path:
    """x[1,1] expanded to a float tensor of ``mib`` MiB, then summed: one huge activation."""
    elements = mib * (1 << 20) // 4
    shape = numpy_helper.from_array(np.array([elements // 1024, 1024], dtype=np.int64), "shape")
    nodes = [
        helper.make_node("Expand", ["x", "shape"], ["big"], name="expand"),
        helper.make_node("Exp", ["big"], ["e"], name="exp"),
        helper.make_node("ReduceSum", ["e"], ["y"], keepdims=0, name="sum"),
    ]
    graph = helper.make_graph(nodes, "big_activation", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])], [shape])
    return save(graph, path, opset=13)
