"""ONNX Runtime's measured activation memory for a model file, per execution order.

One inference with generated inputs under ONNX Runtime's profiler, which records after every
kernel the bytes its CPU arena has handed out (``mem_bytes_requested_in_use``, requested sizes)
and the arena's high-water mark (``mem_in_use_peak``, with its bins and rounding). Settings:
graph optimisations off (the nodes run are the file's nodes), memory patterns off (every
tensor is a visible allocation), one thread. Execution orders:

* ``file``: ONNX Runtime's priority-based order, which with equal priorities runs the nodes in
  the order the file lists them, so a file written by ``write_order`` runs edgemem's order;
* ``default``: ONNX Runtime's own topological order (a depth-first order it picks itself).

Graph inputs are the caller's arrays and are not in the arena; graph outputs are. Needs
onnxruntime 1.2x or later (allocator statistics in the profile); returns None without it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from typing import Mapping

ORDERS = ("file", "default")


@dataclass(frozen=True)
class OrtRun:
    execution_order: str
    requested_peak_bytes: int
    arena_peak_bytes: int
    executed: tuple[str, ...]  # node names in the order ONNX Runtime ran them
    outputs: tuple  # the output arrays


def available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def generated_inputs(path: str | os.PathLike, input_shapes: Mapping[str, tuple[int, ...]], seed: int = 0) -> dict:
    """Seeded inputs for every graph input: floats from a normal distribution, integers and booleans zero."""
    import numpy as np
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    weights = {t.name for t in model.graph.initializer}
    rng = np.random.default_rng(seed)
    feeds = {}
    for value in model.graph.input:
        if value.name in weights:
            continue
        np_type = onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
        shape = tuple(input_shapes[value.name])
        if np.issubdtype(np_type, np.floating):
            feeds[value.name] = rng.standard_normal(shape).astype(np_type)
        else:
            feeds[value.name] = np.zeros(shape, dtype=np_type)
    return feeds


def measure(path: str | os.PathLike, feeds: Mapping, execution_order: str = "file") -> OrtRun | None:
    """One profiled run of ``path``; None when onnxruntime is not installed."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    if execution_order not in ORDERS:
        raise ValueError(f"unknown execution order {execution_order!r}")
    with tempfile.TemporaryDirectory(prefix="edgemem-ort-") as tmp:
        options = ort.SessionOptions()
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(tmp, "profile")
        options.enable_mem_pattern = False
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        if execution_order == "file":
            options.execution_order = ort.ExecutionOrder.PRIORITY_BASED
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        outputs = session.run(None, dict(feeds))
        with open(session.end_profiling(), encoding="utf-8") as handle:
            events = json.load(handle)
    kernels = [e for e in events if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time")]
    requested = max((int(e["args"].get("mem_bytes_requested_in_use", 0)) for e in kernels), default=0)
    arena = max((int(e["args"].get("mem_in_use_peak", 0)) for e in kernels), default=0)
    executed = tuple(e["name"][: -len("_kernel_time")] for e in kernels)
    return OrtRun(execution_order, requested, arena, executed, tuple(outputs))


@dataclass(frozen=True)
class OrtComparison:
    runs: tuple[tuple[str, OrtRun], ...]  # ("original" | "reordered", run) for each execution order
    identical: bool  # every output of the reordered file equals the original's, bit for bit


def compare_files(original: str | os.PathLike, reordered: str | os.PathLike,
                  input_shapes: Mapping[str, tuple[int, ...]], orders: tuple[str, ...] = ORDERS) -> OrtComparison | None:
    """Measure both files under each execution order with the same generated inputs."""
    import numpy as np

    if not available():
        return None
    feeds = generated_inputs(original, input_shapes)
    runs = []
    for order in orders:
        for label, path in (("original", original), ("reordered", reordered)):
            runs.append((label, measure(path, feeds, order)))
    first = {label: run for label, run in runs if run.execution_order == orders[0]}
    identical = len(first["original"].outputs) == len(first["reordered"].outputs) and all(
        a.shape == b.shape and np.array_equal(a, b, equal_nan=np.issubdtype(a.dtype, np.floating))
        for a, b in zip(first["original"].outputs, first["reordered"].outputs)
    )
    return OrtComparison(tuple(runs), identical)
