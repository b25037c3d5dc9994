"""The order in which ONNX Runtime's sequential executor runs the nodes (pure, from the graph).

ONNX Runtime builds two topological orders of a graph (``GraphViewer``) and runs one of them,
chosen by ``SessionOptions.execution_order``:

* ``default``: a reverse depth-first search from the leaf nodes (nodes no other node reads),
  visiting a node's producers in descending node index and emitting a node once all of its
  producers are emitted. It is not the file's order: a branchy graph runs one branch to its end
  before the next is started, which can hold very different tensors at once.
* ``priority``: Kahn's algorithm with a priority queue: among the ready nodes, ``Shape`` and
  ``Size`` first, then the lowest node index. For a file already in topological order this is
  the file's order (with Shape/Size hoisted to the moment their input exists), so a file written
  in edgemem's order (``--write-order``) runs in edgemem's order.

Node indices are positions in the file after ``Constant`` nodes become initializers, which is
exactly ``Graph.nodes`` (the loader keeps the stored order when it is topological).
"""

from __future__ import annotations

import heapq

from edgemem.graph.types import Graph

EXECUTION_ORDERS = ("priority", "default")
HIGH_PRIORITY_OPS = frozenset({"Shape", "Size"})


def producer_indices(graph: Graph) -> list[list[int]]:
    """Per node: the indices of the nodes producing its inputs (with repeats, in input order)."""
    producer = {out: i for i, node in enumerate(graph.nodes) for out in node.outputs}
    return [[producer[t] for t in node.inputs if t in producer] for node in graph.nodes]


def default_order(graph: Graph) -> tuple[int, ...]:
    """ONNX Runtime's ``ExecutionOrder::DEFAULT``: reverse DFS from the leaves, post-order."""
    inputs_of = producer_indices(graph)
    has_consumer = [False] * len(graph.nodes)
    for producers in inputs_of:
        for p in producers:
            has_consumer[p] = True
    stack: list[tuple[int, bool]] = [(i, False) for i in range(len(graph.nodes)) if not has_consumer[i]]
    visited = [False] * len(graph.nodes)
    order: list[int] = []
    while stack:
        node, leave = stack.pop()
        if leave:
            order.append(node)
            continue
        if visited[node]:
            continue
        visited[node] = True
        stack.append((node, True))
        stack.extend((p, False) for p in sorted(inputs_of[node]))
    return tuple(order)


def priority_order(graph: Graph) -> tuple[int, ...]:
    """ONNX Runtime's ``ExecutionOrder::PRIORITY_BASED`` with every node at the default priority."""
    inputs_of = producer_indices(graph)
    waiting = [len(set(p)) for p in inputs_of]
    consumers: list[set[int]] = [set() for _ in graph.nodes]
    for i, producers in enumerate(inputs_of):
        for p in producers:
            consumers[p].add(i)

    def key(i: int) -> tuple[int, int]:
        return (0 if graph.nodes[i].op_type in HIGH_PRIORITY_OPS else 1, i)

    ready = [key(i) for i, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        _, node = heapq.heappop(ready)
        order.append(node)
        for c in sorted(consumers[node]):
            waiting[c] -= 1
            if waiting[c] == 0:
                heapq.heappush(ready, key(c))
    return tuple(order)


def execution_order(graph: Graph, name: str) -> tuple[int, ...]:
    if name == "priority":
        return priority_order(graph)
    if name == "default":
        return default_order(graph)
    raise ValueError(f"unknown ONNX Runtime execution order {name!r} (known: {', '.join(EXECUTION_ORDERS)})")
