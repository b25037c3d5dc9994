"""Nodes out of a GraphProto, and the structural checks: empty, dangling input, duplicate
producer, cycle. A stored order that is not topological (but acyclic) is re-sorted stably."""

from __future__ import annotations

import heapq

import onnx
from onnx import GraphProto

from edgemem.errors import GraphError
from edgemem.graph.types import Node


def subgraphs_of(node: onnx.NodeProto) -> list[GraphProto]:
    graphs = []
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.GRAPH:
            graphs.append(attr.g)
        elif attr.type == onnx.AttributeProto.GRAPHS:
            graphs.extend(attr.graphs)
    return graphs


def outer_names_read(graph: GraphProto) -> list[str]:
    """Names a (sub)graph reads that it does not define itself, in first-use order."""
    defined = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    defined |= {t.name for t in graph.sparse_initializer if t.values.name} if graph.sparse_initializer else set()
    seen: dict[str, None] = {}
    for node in graph.node:
        names = list(node.input)
        for sub in subgraphs_of(node):
            names.extend(outer_names_read(sub))
        for name in names:
            if name and name not in defined:
                seen.setdefault(name, None)
        defined.update(o for o in node.output if o)
    for out in graph.output:
        if out.name not in defined:
            seen.setdefault(out.name, None)
    return list(seen)


def nodes_from_graph(graph: GraphProto) -> list[Node]:
    """One Node per NodeProto, with unique names and the outer names of subgraph bodies as inputs."""
    nodes: list[Node] = []
    used: set[str] = set()
    for index, proto in enumerate(graph.node):
        name = proto.name or f"{proto.op_type}_{index}"
        if name in used:
            name = f"{name}#{index}"
        used.add(name)
        inputs = [i for i in proto.input if i]
        subs = subgraphs_of(proto) if proto.attribute else ()
        for sub in subs:
            inputs.extend(outer_names_read(sub))
        outputs = tuple(proto.output)
        nodes.append(
            Node(
                name=name,
                op_type=proto.op_type,
                domain=proto.domain or "",
                inputs=tuple(dict.fromkeys(inputs)) if len(inputs) > 1 else tuple(inputs),
                outputs=outputs if all(outputs) else tuple(o for o in outputs if o),
                has_subgraph=bool(subs),
            )
        )
    return nodes


def check_and_order(
    nodes: list[Node], graph_inputs: set[str], weights: set[str], graph_outputs: list[str]
) -> tuple[list[Node], list[str]]:
    """Validate the structure and return the nodes in a topological order plus notes."""
    if not nodes:
        raise GraphError("the graph has no nodes (empty graph): nothing to analyze")
    producer: dict[str, int] = {}
    for index, node in enumerate(nodes):
        for out in node.outputs:
            if out in producer or out in graph_inputs or out in weights:
                raise GraphError(f"tensor {out!r} is produced twice (node {node.name!r}); the graph is not in SSA form")
            producer[out] = index
    for node in nodes:
        for name in node.inputs:
            if name not in producer and name not in graph_inputs and name not in weights:
                raise GraphError(f"node {node.name!r} ({node.op_type}) reads {name!r}, which no node, input or initializer produces")
    for name in graph_outputs:
        if name not in producer and name not in graph_inputs and name not in weights:
            raise GraphError(f"graph output {name!r} is not produced by any node")
    order = stable_topological_order(nodes, producer)
    notes = []
    if order != list(range(len(nodes))):
        notes.append("the stored node order is not topological; edgemem used a stable topological re-sort as 'stored'")
    return [nodes[i] for i in order], notes


def stable_topological_order(nodes: list[Node], producer: dict[str, int]) -> list[int]:
    """Kahn's algorithm picking the lowest stored index first; raises GraphError on a cycle."""
    succs: list[list[int]] = [[] for _ in nodes]
    indegree = [0] * len(nodes)
    for index, node in enumerate(nodes):
        deps = {producer[name] for name in node.inputs if name in producer}
        for dep in deps:
            succs[dep].append(index)
            indegree[index] += 1
    ready = [i for i, d in enumerate(indegree) if d == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for j in succs[i]:
            indegree[j] -= 1
            if indegree[j] == 0:
                heapq.heappush(ready, j)
    if len(order) != len(nodes):
        stuck = [nodes[i].name for i in range(len(nodes)) if indegree[i] > 0]
        shown = ", ".join(repr(s) for s in stuck[:5]) + (" ..." if len(stuck) > 5 else "")
        raise GraphError(f"the graph has a cycle through {len(stuck)} nodes ({shown})")
    return order
