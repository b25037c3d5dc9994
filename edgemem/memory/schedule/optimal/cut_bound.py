"""A lower bound on the peak still to come, from what must be live when each node runs.

When node v runs, every buffer it touches is live, and so is every buffer that is allocated
before v in every order (a graph input, or allocated by an ancestor of v) and read after v
in every order (by a descendant of v), or kept to the end. That part does not depend on the
order: its maximum over the nodes is a static lower bound on the peak of any order, usually
well above the largest working set on branchy graphs. During a search, a buffer already
allocated by the executed set and still needed by a descendant of v adds to v's bound too.
"""

from __future__ import annotations

from typing import Sequence

from edgemem.memory.schedule.optimal.model import MemModel, ancestor_masks, bits, descendant_masks

DYNAMIC_MAX_NODES = 600  # per-node masks of the dynamic part cost O(nodes x buffers)
SIZE_CLASSES_MAX = 12


class CutBound:
    def __init__(self, model: MemModel, touches: Sequence[Sequence[int]], order: Sequence[int]) -> None:
        n = model.n
        anc = ancestor_masks(model, order)
        desc = descendant_masks(model, order)
        everything = (1 << n) - 1
        static = [model.base_bytes + sum(model.sizes[b] for b in touches[v]) for v in range(n)]
        dynamic = [0] * n
        with_dynamic = n <= DYNAMIC_MAX_NODES
        for b, size in enumerate(model.sizes):
            if not size:
                continue
            alloc, users = model.alloc[b], model.users[b]
            after = 0
            for a in bits(alloc):
                after |= desc[a]
            if alloc == 0:
                after = everything
            before = everything if model.kept[b] else 0
            if not model.kept[b]:
                for u in bits(users):
                    before |= anc[u]
            for v in bits(after & before & ~users):
                static[v] += size
            if with_dynamic:
                for v in bits(before & ~after & ~users & ~alloc):
                    dynamic[v] |= 1 << b
        self.static = static
        self.dynamic = dynamic
        self.by_static = sorted(range(n), key=lambda v: -static[v])
        self.static_bound = max(static, default=model.base_bytes)
        sizes = sorted({s for s in model.sizes if s})
        self.classes = [(s, sum(1 << b for b, x in enumerate(model.sizes) if x == s)) for s in sizes]
        self.sizes = model.sizes
        self.use_classes = len(self.classes) <= SIZE_CLASSES_MAX

    def size_of(self, mask: int) -> int:
        if self.use_classes:
            return sum(s * (mask & m).bit_count() for s, m in self.classes)
        return sum(self.sizes[b] for b in bits(mask))

    def bound(self, done: int, live: int) -> int:
        """A lower bound on the peak of any completion of the executed set ``done``."""
        best = 0
        spare = self.size_of(live)
        static, dynamic = self.static, self.dynamic
        for v in self.by_static:
            s = static[v]
            if s + spare <= best:
                break
            if done >> v & 1:
                continue
            value = s + self.size_of(live & dynamic[v]) if dynamic[v] & live else s
            if value > best:
                best = value
        return best
