"""A lower bound from what must be live when each node runs, whatever the order.

When node v runs, every buffer it touches is live, and so is every buffer that is allocated
before v in every order (a graph input, or allocated by an ancestor of v) and read after v
in every order (by a descendant of v), or kept. That part does not depend on the order: its
maximum over the nodes is a static lower bound on the peak of any order, usually well above the
largest working set on branchy graphs.
"""

from __future__ import annotations

from typing import Sequence

from edgemem.memory.schedule.optimal.model import MemModel, ancestor_masks, bits, descendant_masks


def static_bound(model: MemModel, touches: Sequence[Sequence[int]], order: Sequence[int]) -> int:
    """The largest must-live set over the nodes (``order``: any topological order of the model)."""
    n = model.n
    anc = ancestor_masks(model, order)
    desc = descendant_masks(model, order)
    everything = (1 << n) - 1
    static = [model.base_bytes + sum(model.sizes[b] for b in touches[v]) for v in range(n)]
    for b, size in enumerate(model.sizes):
        if not size:
            continue
        alloc, users = model.alloc[b], model.users[b]
        after = everything if alloc == 0 else 0  # nodes that surely run after b is allocated
        for a in bits(alloc):
            after |= desc[a]
        before = everything if model.kept[b] else 0  # nodes that surely run before b is freed
        if not model.kept[b]:
            for u in bits(users):
                before |= anc[u]
        for v in bits(after & before & ~users):
            static[v] += size
    return max(static, default=model.base_bytes)
