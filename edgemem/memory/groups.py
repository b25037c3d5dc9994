"""Tensors that share one buffer: union-find with what the in-place rules ask of a group.

A group starts as one activation tensor. A view's output or an in-place op's output joins the
group of the tensor it overwrites. The rules ask two things of a group, answered in O(1):
does it hold a graph input or output, and is a given node its only reader, where a node whose
output joined the group (the view or in-place op itself) does not count as a reader. Each group
keeps the set of nodes that joined it and the set of its other readers; a merge pours the
smaller sets into the larger (so no node is moved more than log n times) and removes newly
joined nodes from the readers, scanning the smaller side. No pass ever rescans a group, so
building the groups of a graph is O((nodes + edges) log nodes), where the per-node rescan of
the whole group it replaces was quadratic on long elementwise chains.
"""

from __future__ import annotations

from typing import Iterable, Mapping


class TensorGroups:
    def __init__(self, names: Iterable[str], readers: Mapping[str, list[int]], graph_io: set[str]) -> None:
        self.parent: dict[str, str] = {}
        self.io: dict[str, bool] = {}  # root -> the group holds a graph input or output
        self.joined: dict[str, set[int]] = {}  # root -> nodes whose output joined the group
        self.readers: dict[str, set[int]] = {}  # root -> nodes reading the group, joined ones excluded
        for name in names:
            self.parent[name] = name
            self.io[name] = name in graph_io
            self.joined[name] = set()
            self.readers[name] = set(readers.get(name, ()))

    def __contains__(self, name: str) -> bool:
        return name in self.parent

    def remove(self, name: str) -> None:
        """Drop a tensor that is not an activation after all (a view of a weight); it must be alone."""
        for table in (self.parent, self.io, self.joined, self.readers):
            table.pop(name, None)

    def find(self, name: str) -> str:
        parent = self.parent
        root = name
        while parent[root] != root:
            root = parent[root]
        while parent[name] != root:
            parent[name], name = root, parent[name]
        return root

    def only_reader(self, root: str, node: int) -> bool:
        """The group holds no graph input or output and ``node`` is the only node reading it."""
        readers = self.readers[root]
        return not self.io[root] and len(readers) == 1 and node in readers

    def join(self, child: str, root: str, node: int) -> None:
        """Merge the group rooted at ``child`` into the group rooted at ``root``, through ``node``."""
        self.parent[child] = root
        self.io[root] = self.io[root] or self.io.pop(child)
        joined_a, joined_b = self.joined[root], self.joined.pop(child)
        readers_a, readers_b = self.readers[root], self.readers.pop(child)
        _discard(readers_a, joined_b)
        _discard(readers_b, joined_a)
        readers_a.discard(node)
        readers_b.discard(node)
        joined = _pour(joined_a, joined_b)
        joined.add(node)
        self.joined[root] = joined
        self.readers[root] = _pour(readers_a, readers_b)

    def members(self) -> dict[str, list[str]]:
        """Root -> its tensors, in the order the tensors were given."""
        groups: dict[str, list[str]] = {}
        for name in self.parent:
            groups.setdefault(self.find(name), []).append(name)
        return groups


def _discard(items: set[int], gone: set[int]) -> None:
    """items -= gone, iterating the smaller of the two."""
    if len(gone) <= len(items):
        items.difference_update(gone)
    else:
        items.difference_update([x for x in items if x in gone])


def _pour(a: set[int], b: set[int]) -> set[int]:
    """a | b, built by adding the smaller set into the larger one."""
    if len(a) < len(b):
        a, b = b, a
    a |= b
    return a
