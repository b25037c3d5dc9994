"""Build the bundled example models (onnx.helper + numpy only; no torch needed).

    python examples/make_examples.py              # writes examples/models/*.onnx
    python examples/make_examples.py --out DIR    # writes them into DIR instead (the tests compare)

branchy_cnn.onnx: a small CNN whose cells have four expand-reduce branches. The file stores the
nodes breadth first (every branch expands before any reduces), as a memory-oblivious exporter
may, so the stored order holds all expanded tensors at once; a memory-aware order finishes one
branch before starting the next. ONNX Runtime runs it (the tests check that).

branchy_cnn_dynamic.onnx: the same network with a symbolic batch dimension ("batch"), as
exporters write it with dynamic axes: analyze it with --dim batch=N or --input-shape image=Nx3x64x64.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent


class Builder:
    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.weights: list[onnx.TensorProto] = []
        self.count = 0

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}_{self.count}"

    def conv(self, x: str, cin: int, cout: int, k: int = 1, stride: int = 1, group: int = 1) -> onnx.NodeProto:
        w = self.name("w")
        fan_in = cin // group * k * k
        self.weights.append(numpy_helper.from_array((self.rng.standard_normal((cout, cin // group, k, k)) / np.sqrt(fan_in)).astype(np.float32), w))
        b = self.name("b")
        self.weights.append(numpy_helper.from_array(np.zeros(cout, np.float32), b))
        name = self.name("conv")
        return helper.make_node("Conv", [x, w, b], [name + "_out"], name=name, kernel_shape=[k, k], strides=[stride, stride],
                                pads=[k // 2] * 4, group=group)

    def op(self, op_type: str, inputs: list[str], **attrs) -> onnx.NodeProto:
        name = self.name(op_type.lower())
        return helper.make_node(op_type, inputs, [name + "_out"], name=name, **attrs)


def cell(b: Builder, x: str, channels: int, expand: int, branches: int) -> tuple[list[onnx.NodeProto], str]:
    """Branch i: 1x1 expand -> ReLU -> 3x3 depthwise -> ReLU -> 1x1 reduce; outputs summed, plus x."""
    stages: list[list[onnx.NodeProto]] = [[] for _ in range(5)]
    wide = channels * expand
    for _ in range(branches):
        e = b.conv(x, channels, wide, 1)
        r1 = b.op("Relu", [e.output[0]])
        d = b.conv(r1.output[0], wide, wide, 3, group=wide)
        r2 = b.op("Relu", [d.output[0]])
        p = b.conv(r2.output[0], wide, channels, 1)
        for stage, node in zip(stages, (e, r1, d, r2, p)):
            stage.append(node)
    nodes = [n for stage in stages for n in stage]  # breadth first: all expands, then all ReLUs, ...
    total = x
    for stage_node in stages[-1]:
        add = b.op("Add", [total, stage_node.output[0]])
        nodes.append(add)
        total = add.output[0]
    return nodes, total


def branchy_cnn(batch: int | str = 1) -> onnx.ModelProto:
    b = Builder(seed=0)
    stem = b.conv("image", 3, 16, 3, stride=2)
    relu = b.op("Relu", [stem.output[0]])
    nodes = [stem, relu]
    x = relu.output[0]
    for _ in range(2):
        cell_nodes, x = cell(b, x, channels=16, expand=4, branches=4)
        nodes += cell_nodes
    pool = b.op("GlobalAveragePool", [x])
    flat = b.op("Flatten", [pool.output[0]])
    w = b.name("fc_w")
    b.weights.append(numpy_helper.from_array((b.rng.standard_normal((10, 16)) * 0.25).astype(np.float32), w))
    fc = helper.make_node("Gemm", [flat.output[0], w], ["logits"], name="fc", transB=1)
    nodes += [pool, flat, fc]
    graph = helper.make_graph(
        nodes, "branchy_cnn",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 3, 64, 64])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 10])],
        initializer=b.weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="edgemem-examples")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def branchy_cnn_dynamic() -> onnx.ModelProto:
    return branchy_cnn(batch="batch")


EXAMPLES = {"branchy_cnn.onnx": branchy_cnn, "branchy_cnn_dynamic.onnx": branchy_cnn_dynamic}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build the bundled example models.")
    parser.add_argument("--out", type=Path, default=HERE / "models", help="folder to write them into (default: examples/models)")
    out = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    for name, build in EXAMPLES.items():
        onnx.save(build(), str(out / name))
        print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
