"""Which tensor shapes a runtime knows before it runs: ONNX's own shape inference without data
propagation, the way ONNX Runtime resolves a graph when a session is created.

edgemem sizes every tensor (folding constants, propagating shape data, probing if asked);
ONNX Runtime's allocation planner sees less: a tensor whose shape depends on computed data (an
``Expand`` or ``Pad`` driven by a ``Shape -> Slice -> Concat`` chain, say) has unknown dimensions
there, and the planner neither reuses a dead buffer for it nor lets it reuse one. The runtime-aware
prediction needs to know which tensors those are.
"""

from __future__ import annotations

import os

import onnx

from edgemem.graph.load import load_model


def _static_dims(value: onnx.ValueInfoProto) -> bool:
    tensor = value.type.tensor_type
    if not tensor.HasField("shape"):
        return False
    return all(d.HasField("dim_value") and d.dim_value >= 0 for d in tensor.shape.dim)


def runtime_static_names(path: str | os.PathLike) -> frozenset[str]:
    """Names of the values whose shape ONNX inference without data propagation fixes completely
    (graph inputs and outputs as declared, initializers, Constant outputs and inferred values)."""
    model = load_model(path)
    try:
        inferred = onnx.shape_inference.infer_shapes(model, data_prop=False)
    except Exception:  # inference errors leave the planner with the declared shapes only
        inferred = model
    graph = inferred.graph
    names = {t.name for t in graph.initializer}
    names.update(out for node in graph.node if node.op_type == "Constant" for out in node.output)
    for value in (*graph.input, *graph.output, *graph.value_info):
        if _static_dims(value):
            names.add(value.name)
    return frozenset(names)
