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

from typing import Sequence


class TensorGroups:
    def __init__(self, names: Sequence[str], readers: dict[str, list[int]], graph_io: set[str]) -> None:
        """``names``: the activation tensors; ``readers``: tensor -> the nodes reading it (owned from
        now on: the groups update it in place instead of copying 100,000 entries)."""
        self.parent: dict[str, str] = dict(zip(names, names))
        self.io: set[str] = {name for name in graph_io if name in self.parent}  # roots of groups holding graph I/O
        self.joined: dict[str, set[int]] = {}  # root -> nodes whose output joined the group (absent: none)
        # root -> nodes reading the group, joined ones excluded (absent: none): the reader list itself
        # until the group first merges, a set from then on; other tensors' entries are never read
        self.readers: dict[str, list[int] | set[int]] = readers

    def __contains__(self, name: str) -> bool:
        return name in self.parent

    def remove(self, name: str) -> None:
        """Drop a tensor that is not an activation after all (a view of a weight); it must be alone."""
        for table in (self.parent, self.joined, self.readers):
            table.pop(name, None)
        self.io.discard(name)

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
        readers = self.readers.get(root, NO_READERS)
        return len(readers) == 1 and root not in self.io and node in readers

    def join(self, child: str, root: str, node: int) -> None:
        """Merge the group rooted at ``child`` into the group rooted at ``root``, through ``node``."""
        self.parent[child] = root
        if child in self.io:
            self.io.discard(child)
            self.io.add(root)
        joined_a, joined_b = self.joined.get(root), self.joined.pop(child, None)  # None: no joined nodes
        readers_a, readers_b = _as_set(self.readers.get(root, NO_READERS)), _as_set(self.readers.pop(child, NO_READERS))
        if joined_b:
            _discard(readers_a, joined_b)
        if joined_a:
            _discard(readers_b, joined_a)
        readers_a.discard(node)
        readers_b.discard(node)
        joined = joined_a if joined_a is not None else set()
        if joined_b:
            joined = _pour(joined, joined_b)
        joined.add(node)
        self.joined[root] = joined
        self.readers[root] = _pour(readers_a, readers_b) if readers_b else readers_a

    def members(self) -> dict[str, list[str]]:
        """Root -> its tensors, in the order the tensors were given."""
        groups: dict[str, list[str]] = {}
        find = self.find
        for name, parent in self.parent.items():
            groups.setdefault(name if parent == name else find(name), []).append(name)
        return groups


NO_READERS: tuple[int, ...] = ()


def _as_set(readers: list[int] | set[int]) -> set[int]:
    """A group's readers as a set of its own (a first merge copies the given reader list, once)."""
    return readers if type(readers) is set else set(readers)


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
