"""Constant folding that keeps tensor names: evaluate the shape-computation subgraph.

Exporters compute padding and reshape targets at run time (Shape -> Gather -> Concat ->
Reshape/Pad chains). Shape inference cannot see through them, but every value in such a chain
is a constant once the input shapes are static. This pass:
  1. knows small initializers, Constant outputs, and Shape/Size of statically shaped tensors;
  2. collects every node whose inputs are all known (transitively) and evaluates that subgraph
     in one ONNX Runtime run (onnx's reference evaluator as a fallback);
  3. writes the results into a copy of the model as initializers of the same names and runs
     shape inference again, which now resolves the Reshape/Pad/... outputs downstream.
It repeats while it makes progress. Unlike a folding tool that rewrites the graph, every size
it finds belongs to a tensor of the user's graph, by name.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import ModelProto, numpy_helper

MAX_ELEMENTS = 1 << 16  # values larger than this are not folded (shape chains are tiny)
NOT_FOLDABLE = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli"}


def known_values(model: ModelProto) -> dict[str, np.ndarray]:
    values = {}
    for tensor in model.graph.initializer:
        if math.prod(tensor.dims) <= MAX_ELEMENTS and not onnx.external_data_helper.uses_external_data(tensor):
            values[tensor.name] = numpy_helper.to_array(tensor)
    for node in model.graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and node.output:
            try:
                values[node.output[0]] = constant_array(node)
            except Exception:
                continue
    return values


def constant_array(node: onnx.NodeProto) -> np.ndarray:
    attr = node.attribute[0]
    if attr.name == "value":
        return numpy_helper.to_array(attr.t)
    if attr.name == "value_float":
        return np.array(attr.f, dtype=np.float32)
    if attr.name == "value_floats":
        return np.array(list(attr.floats), dtype=np.float32)
    if attr.name == "value_int":
        return np.array(attr.i, dtype=np.int64)
    if attr.name == "value_ints":
        return np.array(list(attr.ints), dtype=np.int64)
    raise ValueError(f"Constant attribute {attr.name} not folded")


def shape_value(node: onnx.NodeProto, shape: tuple[int, ...]) -> np.ndarray:
    if node.op_type == "Size":
        return np.array(math.prod(shape), dtype=np.int64)
    start, end = 0, len(shape)
    for attr in node.attribute:
        if attr.name == "start":
            start = attr.i
        elif attr.name == "end":
            end = attr.i
    return np.array(shape[slice(start, end)], dtype=np.int64)


def foldable_nodes(model: ModelProto, values: dict, static_shapes: dict) -> tuple[list, dict]:
    """Nodes to evaluate, in order, and values known directly (Shape/Size of static tensors)."""
    known = set(values)
    direct: dict[str, np.ndarray] = {}
    nodes = []
    for node in model.graph.node:
        if not node.output or all(o in known for o in node.output if o):
            continue
        if node.op_type in ("Shape", "Size") and node.domain in ("", "ai.onnx") and node.input[0] in static_shapes:
            direct[node.output[0]] = shape_value(node, static_shapes[node.input[0]])
            known.add(node.output[0])
            continue
        if node.op_type in NOT_FOLDABLE or any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            continue
        if node.domain not in ("", "ai.onnx"):
            continue
        if all(i in known for i in node.input if i):
            nodes.append(node)
            known.update(o for o in node.output if o)
    return nodes, direct


def evaluate(nodes: list, inputs: dict[str, np.ndarray], opsets) -> dict[str, np.ndarray]:
    needed = {i for n in nodes for i in n.input if i}
    produced = [o for n in nodes for o in n.output if o]
    initializers = [numpy_helper.from_array(np.asarray(v), name) for name, v in inputs.items() if name in needed and name not in produced]
    graph = onnx.helper.make_graph(nodes, "fold", [], [onnx.helper.make_empty_tensor_value_info(o) for o in produced], initializer=initializers)
    model = onnx.helper.make_model(graph, opset_imports=list(opsets))
    try:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 4
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        outputs = session.run(produced, {})
    except Exception:
        try:
            from onnx.reference import ReferenceEvaluator

            outputs = ReferenceEvaluator(model).run(produced, {})
        except Exception:
            return {}
    return {name: np.asarray(value) for name, value in zip(produced, outputs) if np.asarray(value).size <= MAX_ELEMENTS}


def with_values_as_initializers(model: ModelProto, values: dict[str, np.ndarray]) -> ModelProto:
    folded = ModelProto()
    folded.CopyFrom(model)
    keep = [n for n in folded.graph.node if not (n.output and all(o in values for o in n.output if o))]
    del folded.graph.node[:]
    folded.graph.node.extend(keep)
    present = {t.name for t in folded.graph.initializer}
    folded.graph.initializer.extend(numpy_helper.from_array(np.asarray(v), name) for name, v in values.items() if name not in present)
    return folded


def fold_and_infer(model: ModelProto, static_shapes: dict, infer, max_rounds: int = 8) -> dict:
    """Shapes (name -> (elem_type, shape)) found by folding; ``infer(model) -> (model, shapes)``."""
    values = known_values(model)
    found: dict = {}
    shapes = dict(static_shapes)
    for _ in range(max_rounds):
        nodes, direct = foldable_nodes(model, values, shapes)
        new = dict(direct)
        if nodes:
            new.update(evaluate(nodes, {**values, **direct}, model.opset_import))
        new = {k: v for k, v in new.items() if k not in values}
        if not new:
            break
        values.update(new)
        for name, value in new.items():
            found[name] = (onnx.helper.np_dtype_to_tensor_dtype(value.dtype), tuple(int(d) for d in value.shape))
        _, inferred = infer(with_values_as_initializers(model, values))
        progress = {k: v for k, v in inferred.items() if k not in shapes}
        found.update(progress)
        shapes.update({k: v[1] for k, v in inferred.items()})
        shapes.update({k: v[1] for k, v in found.items()})
        if not progress and not nodes:
            break
    return found
