"""Models the benchmarks build in code (onnx.helper + numpy), so no download is ever needed."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def residual_mlp(n_nodes: int = 10_000, width: int = 256, seed: int = 0) -> onnx.ModelProto:
    """A deep residual MLP of ``n_nodes`` nodes: blocks of MatMul -> Relu -> MatMul -> Add(skip).

    Two weight matrices are shared by every block so the file stays small.
    """
    rng = np.random.default_rng(seed)
    w1 = numpy_helper.from_array((rng.standard_normal((width, width)) * 0.05).astype(np.float32), "w1")
    w2 = numpy_helper.from_array((rng.standard_normal((width, width)) * 0.05).astype(np.float32), "w2")
    nodes, x = [], "x"
    for block in range(n_nodes // 4):
        h, r, y, s = (f"b{block}_{k}" for k in ("h", "r", "y", "s"))
        nodes += [helper.make_node("MatMul", [x, "w1"], [h], name=f"mm1_{block}"),
                  helper.make_node("Relu", [h], [r], name=f"relu_{block}"),
                  helper.make_node("MatMul", [r, "w2"], [y], name=f"mm2_{block}"),
                  helper.make_node("Add", [x, y], [s], name=f"add_{block}")]
        x = s
    graph = helper.make_graph(nodes, "residual_mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, width])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, [8, width])], [w1, w2])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def mobilenet_v2_like(resolution: int = 224, seed: int = 0) -> onnx.ModelProto:
    """MobileNetV2 (width 1.0) with unfused Conv -> BatchNormalization -> Relu6 (Clip) layers."""
    rng = np.random.default_rng(seed)
    weights, nodes = [], []
    counter = [0]

    def name(prefix):
        counter[0] += 1
        return f"{prefix}{counter[0]}"

    def conv_bn_relu(x, cin, cout, k, stride, groups=1, relu=True):
        w = name("w")
        weights.append(numpy_helper.from_array((rng.standard_normal((cout, cin // groups, k, k)) * 0.1).astype(np.float32), w))
        c = name("conv")
        nodes.append(helper.make_node("Conv", [x, w], [c], name=c, kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4, group=groups))
        bn_params = []
        for p, v in (("scale", 1.0), ("bias", 0.0), ("mean", 0.0), ("var", 1.0)):
            pname = name(p)
            weights.append(numpy_helper.from_array(np.full(cout, v, np.float32), pname))
            bn_params.append(pname)
        b = name("bn")
        nodes.append(helper.make_node("BatchNormalization", [c, *bn_params], [b], name=b))
        if not relu:
            return b
        lo, hi = name("lo"), name("hi")
        weights.extend([numpy_helper.from_array(np.array(0.0, np.float32), lo), numpy_helper.from_array(np.array(6.0, np.float32), hi)])
        r = name("relu6")
        nodes.append(helper.make_node("Clip", [b, lo, hi], [r], name=r))
        return r

    x = conv_bn_relu("image", 3, 32, 3, 2)
    cin = 32
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(n):
            stride = s if i == 0 else 1
            h = conv_bn_relu(x, cin, cin * t, 1, 1) if t != 1 else x
            h = conv_bn_relu(h, cin * t, cin * t, 3, stride, groups=cin * t)
            h = conv_bn_relu(h, cin * t, c, 1, 1, relu=False)
            if stride == 1 and cin == c:
                a = name("add")
                nodes.append(helper.make_node("Add", [x, h], [a], name=a))
                h = a
            x, cin = h, c
    x = conv_bn_relu(x, cin, 1280, 1, 1)
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pooled"], name="pool"))
    nodes.append(helper.make_node("Flatten", ["pooled"], ["flat"], name="flatten"))
    weights.append(numpy_helper.from_array((rng.standard_normal((1000, 1280)) * 0.01).astype(np.float32), "fc_w"))
    nodes.append(helper.make_node("Gemm", ["flat", "fc_w"], ["logits"], name="fc", transB=1))
    graph = helper.make_graph(nodes, "mobilenet_v2_like",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, resolution, resolution])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def random_dag(n_nodes: int = 10_000, window: int = 64, seed: int = 0) -> onnx.ModelProto:
    """An irregular DAG: each Add/Mul/Concat-free node reads 1-3 tensors from the last ``window``
    produced, with mixed sizes, so many buffers are live at once and lifetimes overlap widely.
    Built from Add (same-shape operands) and Tile (to change sizes), so ONNX Runtime can run it."""
    rng = np.random.default_rng(seed)
    widths = [64, 128, 256, 512]
    reps = {w: numpy_helper.from_array(np.array([1, w // 64], np.int64), f"reps{w}") for w in widths}
    nodes = []
    tensors = [("x", 64)]
    for k in range(n_nodes):
        recent = tensors[-window:]
        base, width = recent[rng.integers(len(recent))]
        if rng.random() < 0.3 and width == 64:
            target = int(rng.choice(widths[1:]))
            out = f"t{k}"
            nodes.append(helper.make_node("Tile", [base, f"reps{target}"], [out], name=f"tile{k}"))
            tensors.append((out, target))
            continue
        same = [t for t, w in recent if w == width and t != base]
        other = same[rng.integers(len(same))] if same else base
        out = f"t{k}"
        nodes.append(helper.make_node("Add", [base, other], [out], name=f"add{k}"))
        tensors.append((out, width))
    consumed = {i for n in nodes for i in n.input}
    outputs = [(t, w) for t, w in tensors if t not in consumed and t != "x"]
    graph = helper.make_graph(nodes, "random_dag", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 64])],
                              [helper.make_tensor_value_info(t, TensorProto.FLOAT, [4, w]) for t, w in outputs], list(reps.values()))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model
