"""Write a model back with its nodes in a given execution order (``analyze --write-order``).

Only ``graph.node`` is permuted: inputs, outputs, initializers, value_info, metadata, opsets and
functions are kept as they are. Constant nodes (counted as weights, not steps) come first, in
their original order, then the nodes in ``order``. Runtimes that execute nodes in file order
(ONNX Runtime's priority-based order, TFLite converters, most embedded code generators) then
run the order edgemem found. Weights stored as external data are rewritten next to the new
file. The source is never overwritten.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Sequence

import onnx

from edgemem.errors import GraphError, UsageError
from edgemem.graph.build import WEIGHT_OPS
from edgemem.graph.load import iter_all_tensors, load_model
from edgemem.graph.structure import nodes_from_graph, outer_names_read, subgraphs_of


def write_in_order(source: str | os.PathLike, order: Sequence[str], target: str | os.PathLike) -> Path:
    """Write ``source`` to ``target`` with its nodes in ``order`` (node names as edgemem reports them)."""
    source, target = Path(source), Path(target)
    check_target(source, target)
    model = load_model(source)
    nodes = [onnx.NodeProto.FromString(n.SerializeToString()) for n in reordered_nodes(model.graph, order)]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    external = any(onnx.external_data_helper.uses_external_data(t) for t in iter_all_tensors(model))
    if external:
        onnx.external_data_helper.load_external_data_for_model(model, str(source.parent))
    _save_atomically(model, target, external)
    return target


def check_target(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Fail early (usage error) when ``target`` cannot take the reordered model."""
    source, target = Path(source), Path(target)
    if target.exists() and source.exists() and target.resolve() == source.resolve():
        raise UsageError(f"--write-order {target}: refusing to overwrite the model being analyzed", hint="write to another file")
    if target.suffix.lower() != ".onnx":
        raise UsageError(f"--write-order {target}: the file name must end in .onnx")
    if not target.parent.is_dir():
        raise UsageError(f"--write-order {target}: folder {str(target.parent)!r} does not exist")


def reordered_nodes(graph: onnx.GraphProto, order: Sequence[str]) -> list[onnx.NodeProto]:
    """The NodeProtos of ``graph``: Constant nodes first, then ``order``; checked to be topological."""
    named = nodes_from_graph(graph)
    index = {n.name: i for i, n in enumerate(named)}
    unknown = [name for name in order if name not in index]
    if unknown:
        raise GraphError(f"the order names {len(unknown)} node(s) the model does not have (first: {unknown[0]!r})")
    if len(set(order)) != len(order):
        raise GraphError("the order lists a node twice")
    constants = [i for i, n in enumerate(named) if (n.domain, n.op_type) in WEIGHT_OPS]
    chosen = constants + [index[name] for name in order]
    if sorted(chosen) != list(range(len(named))):
        left = [named[i].name for i in range(len(named)) if i not in set(chosen)]
        raise GraphError(f"the order leaves out {len(left)} node(s) of the model (first: {left[0]!r})")
    nodes = [graph.node[i] for i in chosen]
    check_topological(graph, nodes)
    return nodes


def check_topological(graph: onnx.GraphProto, nodes: Sequence[onnx.NodeProto]) -> None:
    """Every value a node reads (subgraph bodies included) is defined before it."""
    defined = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    defined |= {t.values.name for t in graph.sparse_initializer}
    defined.add("")
    for node in nodes:
        reads = list(node.input)
        for sub in subgraphs_of(node):
            reads.extend(outer_names_read(sub))
        missing = [name for name in reads if name not in defined]
        if missing:
            raise GraphError(f"node {node.name or node.op_type!r} would read {missing[0]!r} before it is produced")
        defined.update(node.output)


def _save_atomically(model: onnx.ModelProto, target: Path, external: bool) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=".onnx", dir=target.parent)
    os.close(fd)
    try:
        if external:
            data = target.name + ".data"
            onnx.save(model, tmp, save_as_external_data=True, all_tensors_to_one_file=True, location=data)
        else:
            onnx.save(model, tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
