"""What ONNX Runtime's CPU kernels declare about memory, as a table (checked against the
installed onnxruntime by tests/memory/runtime/test_ort_kernels.py).

* ``ALIAS_OPS``: the output *is* input 0 (``KernelDefBuilder::Alias(0, 0)``): no allocation,
  whoever else still reads the input.
* ``INPLACE_OPS``: the output may take input 0's buffer (``MayInplace(0, 0)``) when this node is
  the buffer's last reader and both have the same element size and shape. ONNX Runtime 1.2x-1.3x
  declares this for the unary activations, Softmax/LogSoftmax, Clip and Cast; its binary
  elementwise kernels (Add, Mul, ...) and BatchNormalization do *not* run in place.
* ``scratch_elements``: the temporary buffer a kernel takes from the arena while it runs
  (``GetTempSpaceAllocator``), in elements of the output type. Convolution follows MLAS's
  ``MlasConvPrepare``: a pointwise stride-1 unpadded convolution multiplies in place (no buffer);
  when the filter count exceeds the output size the whole im2col matrix is expanded
  (output size x K); otherwise each thread expands one 128x128 panel (16384 floats): as many
  threads as the work justifies (MLAS's complexity rule), and for grouped (depthwise) or batched
  convolutions as many as there are (batch, group) slices, up to the pool size.
  ConvTranspose expands a col2im matrix of (output channels / group x kernel size) x input size.
* ``prepack_bytes``: what a kernel takes from the arena once, when the session is created, to hold
  a repacked weight for the session's lifetime. ConvTranspose repacks its filter this way; MatMul
  and Gemm repack theirs with ``Reserve`` (outside the arena's chunks), so only ConvTranspose
  changes the arena the activations later use.
"""

from __future__ import annotations

import math

from edgemem.graph.types import Graph, Node

ALIAS_OPS = frozenset({"Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze"})
INPLACE_OPS = frozenset({
    "Relu", "Sigmoid", "Tanh", "LeakyRelu", "Elu", "Selu", "Celu", "HardSigmoid", "Softplus", "Softsign",
    "ThresholdedRelu", "Softmax", "LogSoftmax", "Clip", "Cast",
})
SGEMM_STRIDE_N = 128
SGEMM_STRIDE_K = 128
CONV_PANEL_ELEMENTS = SGEMM_STRIDE_N * SGEMM_STRIDE_K  # MLAS_CONV_WORKING_BUFFER_SIZE_PER_THREAD
SGEMM_THREAD_COMPLEXITY = 64 * 1024
MAXIMUM_THREAD_COUNT = 16
STRIDE_N_THREAD_ALIGN = 16
STREAM_TAGGED_OPS = frozenset({"Shape"})
SESSION_STREAM = None


def output_stream(op_type: str) -> str | None:
    """The arena stream a kernel's outputs are tagged with (None for most kernels on the CPU
    provider); a tagged free chunk is reused only by its stream and never merges with others."""
    return op_type if op_type in STREAM_TAGGED_OPS else None


def conv_segments(filters: int, output_size: int, k: int, threads: int) -> list[int]:
    """MLAS's split of one convolution along N: the output columns each thread computes."""
    complexity = filters * output_size * k
    target = MAXIMUM_THREAD_COUNT
    if complexity < SGEMM_THREAD_COMPLEXITY * MAXIMUM_THREAD_COUNT:
        target = complexity // SGEMM_THREAD_COMPLEXITY + 1
    target = max(1, min(target, threads))
    stride = -(-output_size // target)
    if target > 1:
        stride = (stride + STRIDE_N_THREAD_ALIGN - 1) & ~(STRIDE_N_THREAD_ALIGN - 1)
        if stride >= output_size:
            target = 1
        elif stride * (target - 1) >= output_size:
            target -= 1
    if target == 1 or stride >= output_size:
        return [output_size]
    return [min(stride, output_size - start) for start in range(0, output_size, stride)]


def panel_written(segment_n: int, k: int) -> int:
    """Elements of its panel one thread writes: MLAS reshapes the 128x128 panel to fit K or N."""
    stride_n, stride_k = SGEMM_STRIDE_N, SGEMM_STRIDE_K
    if segment_n >= k:
        while stride_k // 2 >= k:
            stride_n, stride_k = stride_n * 2, stride_k // 2
    else:
        while stride_n > 16 and stride_n // 2 >= segment_n:
            stride_k, stride_n = stride_k * 2, stride_n // 2
    return min(k, stride_k) * min(segment_n, stride_n)


def conv_scratch(x: tuple[int, ...], w: tuple[int, ...], y: tuple[int, ...], threads: int) -> tuple[int, tuple]:
    """(elements allocated, ((offset, elements written), ...)) for ONNX Runtime's float Conv."""
    if len(x) < 3 or len(w) != len(x) or len(y) != len(x):
        return 0, ()
    batch, in_channels, filters = x[0], x[1], w[0]
    per_group_in = w[1]
    groups = max(1, in_channels // max(1, per_group_in))
    per_group_filters = filters // groups
    kernel = math.prod(w[2:])
    k = per_group_in * kernel
    output_size = math.prod(y[2:])
    if kernel == 1 and tuple(x[2:]) == tuple(y[2:]):  # pointwise, stride 1, no padding: GEMM on the input
        return 0, ()
    if per_group_filters > output_size:
        return output_size * k, ((0, output_size * k),)
    segments = conv_segments(per_group_filters, output_size, k, threads)
    written = tuple((i * CONV_PANEL_ELEMENTS, panel_written(n, k)) for i, n in enumerate(segments))
    if batch > 1 or groups > 1:  # one panel per thread working on a (batch, group) slice
        return min(threads, batch * groups) * CONV_PANEL_ELEMENTS, written
    return len(segments) * CONV_PANEL_ELEMENTS, written


def conv_transpose_scratch_elements(x: tuple[int, ...], w: tuple[int, ...]) -> int:
    """col2im buffer of ONNX Runtime's ConvTranspose: (output channels per group x kernel) x input image."""
    if len(x) < 3 or len(w) != len(x):
        return 0
    return w[1] * math.prod(w[2:]) * math.prod(x[2:])


def scratch(graph: Graph, node: Node, threads: int) -> tuple[int, tuple]:
    """(bytes the kernel of ``node`` takes from the arena while it runs, ((offset, bytes written), ...))."""
    tensors = graph.tensors
    if node.op_type not in ("Conv", "ConvTranspose") or len(node.inputs) < 2 or not node.outputs:
        return 0, ()
    x, w, y = tensors[node.inputs[0]], tensors[node.inputs[1]], tensors[node.outputs[0]]
    if x.dtype != "FLOAT":
        return 0, ()
    if node.op_type == "Conv":
        elements, written = conv_scratch(x.shape, w.shape, y.shape, threads)
        return 4 * elements, tuple((4 * offset, 4 * count) for offset, count in written)
    elements = conv_transpose_scratch_elements(x.shape, w.shape)
    return 4 * elements, ((0, 4 * elements),)


def prepack_bytes(graph: Graph, node: Node) -> int:
    """Bytes the kernel of ``node`` allocates from the arena at session creation (0 when none)."""
    if node.op_type != "ConvTranspose" or len(node.inputs) < 2:
        return 0
    w = graph.tensors[node.inputs[1]]
    if w.kind != "weight" or w.dtype != "FLOAT" or len(w.shape) <= 2:
        return 0
    k, n = w.shape[0], math.prod(w.shape[1:])
    return 0 if n == 1 or k == 1 else 4 * math.prod(w.shape)
