"""The CPU kernel facts the replay relies on, checked against the installed ONNX Runtime."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgemem.memory.runtime import ort_kernels
from tests.memory.runtime.conftest import PROBE

pytest.importorskip("onnxruntime")
SHAPE = [1, 8, 16, 16]


def probe_model(tmp_path, op, extra=(), attrs=None, weights=()):
    """x -> Transpose (a fresh arena buffer with one reader) -> op -> Sigmoid -> output."""
    nodes = [helper.make_node("Transpose", ["x"], ["t"], name="pre", perm=[0, 1, 2, 3]),
             helper.make_node(op, ["t", *extra], ["y"], name="op", **(attrs or {})),
             helper.make_node("Sigmoid", ["y"], ["z"], name="post")]
    graph = helper.make_graph(nodes, "probe", [helper.make_tensor_value_info("x", TensorProto.FLOAT, SHAPE)],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)], list(weights))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    path = tmp_path / f"{op}.onnx"
    onnx.save(model, str(path))
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")
    out = subprocess.run([sys.executable, str(PROBE), str(path), "priority", "1", "1"], capture_output=True, text=True,
                         env=env, timeout=300, check=True).stdout
    kernels = {k["node"]: k for k in json.loads(out.strip().splitlines()[-1])["kernels"]}
    return kernels["op"]["requested"] - kernels["pre"]["requested"]


@pytest.mark.parametrize("op", ["Relu", "Sigmoid", "Softmax", "Identity", "Flatten"])
def test_declared_inplace_and_alias_ops_take_their_input_buffer(tmp_path, op):
    assert op in ort_kernels.INPLACE_OPS | ort_kernels.ALIAS_OPS
    assert probe_model(tmp_path, op) == 0


@pytest.mark.parametrize("op", ["Neg", "Exp", "Transpose"])
def test_other_unary_ops_allocate(tmp_path, op):
    assert op not in ort_kernels.INPLACE_OPS | ort_kernels.ALIAS_OPS
    assert probe_model(tmp_path, op) == 4 * int(np.prod(SHAPE))


def test_binary_elementwise_ops_do_not_run_in_place(tmp_path):
    weight = numpy_helper.from_array(np.ones(SHAPE, np.float32), "w")
    assert "Add" not in ort_kernels.INPLACE_OPS
    assert probe_model(tmp_path, "Add", ["w"], weights=[weight]) == 4 * int(np.prod(SHAPE))


@pytest.mark.parametrize("x,w,y,threads,expected", [
    ((1, 16, 32, 32), (32, 16, 1, 1), (1, 32, 32, 32), 1, 0),  # pointwise stride 1: GEMM on the input
    ((1, 16, 32, 32), (32, 16, 1, 1), (1, 32, 16, 16), 1, 16384),  # pointwise stride 2: one panel
    ((1, 3, 64, 64), (16, 3, 3, 3), (1, 16, 32, 32), 2, 2 * 16384),  # enough work for two threads
    ((1, 64, 32, 32), (64, 1, 3, 3), (1, 64, 32, 32), 2, 2 * 16384),  # depthwise: a panel per thread
    ((1, 256, 4, 4), (512, 256, 3, 3), (1, 512, 4, 4), 1, 16 * 256 * 9),  # filters > output: full im2col
])
def test_conv_scratch_follows_mlas(x, w, y, threads, expected):
    elements, written = ort_kernels.conv_scratch(x, w, y, threads)
    assert elements == expected
    assert all(offset + count <= max(elements, 1) for offset, count in written)
