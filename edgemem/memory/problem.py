"""Graph + convention -> buffers and per-node uses: the input of every order and placement search.

A buffer is one allocation. Without aliasing or in-place reuse every activation tensor is its
own buffer; with them, a view's output and an in-place op's output join their input's buffer
(union-find). A buffer is "touched" by every node that reads or writes one of its tensors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from edgemem.graph.types import Graph, TensorInfo
from edgemem.memory.convention import FLOAT_DTYPES, INPLACE_OPS, PRECISION_BITS, VIEW_OPS, Convention
from edgemem.memory.groups import TensorGroups
from edgemem.memory.inplace_rules import RULES, OptInRules


class Buffer(NamedTuple):
    """One allocation (immutable; a named tuple because a 100,000-node graph makes 100,000 of them
    and a tuple is built several times faster than a frozen dataclass)."""

    name: str  # the tensor that allocates it
    size_bytes: int
    tensors: tuple[str, ...]
    creator: int  # index of the allocating node in graph.nodes; -1 for a graph input
    is_input: bool
    is_output: bool


@dataclass(frozen=True)
class Problem:
    """Integer-indexed view of the graph for order and placement search."""

    node_names: tuple[str, ...]
    op_types: tuple[str, ...]
    buffers: tuple[Buffer, ...]
    creates: tuple[tuple[int, ...], ...]  # per node: buffers it allocates
    touches: tuple[tuple[int, ...], ...]  # per node: buffers it reads or writes (creates included)
    preds: tuple[tuple[int, ...], ...]  # per node: nodes it depends on
    buffer_of: dict  # tensor name -> buffer index (absent for weights and views of weights)
    aliased_tensors: int  # tensors sharing a view's buffer
    inplace_tensors: int  # tensors written in place
    rule_nodes: tuple[tuple[str, int], ...] = ()  # opt-in in-place rule -> nodes it applied to

    @property
    def sizes(self) -> list[int]:
        return [b.size_bytes for b in self.buffers]


def accounted_size(tensor: TensorInfo, precision: str | None) -> int:
    if precision is None or tensor.dtype not in FLOAT_DTYPES:
        return tensor.size_bytes
    return (math.prod(tensor.shape) * PRECISION_BITS[precision] + 7) // 8


def problem_from_graph(graph: Graph, convention: Convention) -> Problem:
    nodes = graph.nodes
    readers: dict[str, list[int]] = {}
    get = readers.get
    for i, node in enumerate(nodes):
        for name in node.inputs:
            known = get(name)
            if known is None:
                readers[name] = [i]
            else:
                known.append(i)
    groups = TensorGroups([name for name, info in graph.tensors.items() if info.kind != "weight"], readers,
                          {*graph.inputs, *graph.outputs})
    aliased = _alias_views(graph, groups) if convention.alias_views else 0
    inplace = _join_in_place(graph, groups) if convention.inplace else 0
    rules = OptInRules(graph, groups, lambda tensor: accounted_size(tensor, convention.precision))
    for rule in RULES:  # in the table's order, whatever the order asked for
        if rule in convention.inplace_rules:
            rules.apply(rule)

    buffers, buffer_of = _buffers(graph, groups.members(), rules, convention.precision)
    creates: list[tuple[int, ...]] = [()] * len(nodes)
    for b, buf in enumerate(buffers):
        if buf.creator >= 0:
            creates[buf.creator] += (b,)
    touches, preds = _uses(graph, buffers, buffer_of, creates, rules.extra_preds)
    return Problem(
        node_names=tuple(n.name for n in nodes),
        op_types=tuple(n.op_type for n in nodes),
        buffers=tuple(buffers),
        creates=tuple(creates),
        touches=touches,
        preds=preds,
        buffer_of=buffer_of,
        aliased_tensors=aliased,
        inplace_tensors=inplace,
        rule_nodes=tuple(rules.applied.items()),
    )


def _uses(graph: Graph, buffers: list[Buffer], buffer_of: dict[str, int], creates, extra_preds: dict[int, set[int]]):
    """Per node: the buffers it touches (reads, writes, scratch) and the nodes it depends on."""
    producer_index = {o: i for i, n in enumerate(graph.nodes) for o in n.outputs}
    scratch = {buf.creator for buf in buffers if not buf.tensors}
    buffer_get, producer_get = buffer_of.get, producer_index.get
    touches, preds = [], []
    for i, node in enumerate(graph.nodes):
        used = [b for b in map(buffer_get, node.inputs + node.outputs) if b is not None]
        if i in scratch:
            used += [b for b in creates[i] if not buffers[b].tensors]
        touches.append(tuple(dict.fromkeys(used)) if len(used) > 1 else tuple(used))
        before = [p for p in map(producer_get, node.inputs) if p is not None]
        if i in extra_preds:
            before += extra_preds[i]
        preds.append(tuple(sorted(set(before))) if len(before) > 1 else tuple(before))
    return tuple(touches), tuple(preds)


def _buffers(graph: Graph, members: dict[str, list[str]], rules: OptInRules, precision: str | None):
    """One buffer per group (graph inputs first, then in node order) and the opt-in rules' scratch
    buffers; and tensor name -> buffer index."""
    inputs, outputs, tensors = set(graph.inputs), set(graph.outputs), graph.tensors
    buffers: list[Buffer] = []
    buffer_of: dict[str, int] = {}
    rule_creator = rules.creator

    def add(root: str, producer: int) -> None:
        group = members[root]
        index = len(buffers)
        for t in group:
            buffer_of[t] = index
        is_output = root in outputs if len(group) == 1 else any(t in outputs for t in group)
        creator = rule_creator.get(root, producer) if producer >= 0 else producer
        buffers.append(Buffer(root, accounted_size(tensors[root], precision), tuple(group), creator, producer < 0, is_output))

    for t in graph.inputs:
        if t in members:
            add(t, -1)
    for i, n in enumerate(graph.nodes):
        for o in n.outputs:
            if o in members and o not in inputs:
                add(o, i)
    for node_index, name, size in rules.scratch:
        buffers.append(Buffer(name=name, size_bytes=size, tensors=(), creator=node_index, is_input=False, is_output=False))
    return buffers, buffer_of


def _alias_views(graph: Graph, groups: TensorGroups) -> int:
    """A view's output joins its input's buffer (a view of a weight is a weight). Returns the count."""
    tensors = graph.tensors
    weight_views: set[str] = set()
    aliased = 0
    for i, node in enumerate(graph.nodes):
        if node.op_type not in VIEW_OPS or not node.inputs or not node.outputs:
            continue
        src, out = node.inputs[0], node.outputs[0]
        if src in weight_views or tensors[src].kind == "weight":
            weight_views.add(out)
            groups.remove(out)
            continue
        if tensors[out].size_bytes != tensors[src].size_bytes:
            continue
        groups.join(out, groups.find(src), i)
        aliased += 1
    return aliased


def _join_in_place(graph: Graph, groups: TensorGroups) -> int:
    """An elementwise op's output joins the buffer of an operand of its size that it alone reads."""
    tensors, outputs = graph.tensors, set(graph.outputs)
    inplace = 0
    for i, node in enumerate(graph.nodes):
        if node.op_type not in INPLACE_OPS or not node.outputs or node.outputs[0] in outputs:
            continue
        out = node.outputs[0]
        size = tensors[out].size_bytes
        for src in node.inputs:
            if src not in groups:
                continue
            root = groups.find(src)
            if tensors[root].size_bytes != size or tensors[src].size_bytes != size or not groups.only_reader(root, i):
                continue
            groups.join(groups.find(out), root, i)
            inplace += 1
            break
    return inplace


