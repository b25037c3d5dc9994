"""TVM USMP greedy_by_size and greedy_by_conflicts (one pool, no size hint)."""

from __future__ import annotations


def _conflicts(first, last):
    n = len(first)
    return [[o for o in range(n) if o != b and first[o] <= last[b] and first[b] <= last[o]] for b in range(n)]


def _allocate(sequence, sizes, conflicts, alignment):
    offsets = {}
    for b in sequence:
        offset = 0
        for o in conflicts[b]:
            if o in offsets:
                end = offsets[o] + sizes[o]
                offset = max(offset, -(-end // alignment) * alignment)
        offsets[b] = offset
    result = [offsets[b] for b in range(len(sizes))]
    return result, max((o + s for o, s in zip(result, sizes)), default=0)


def _by(names):
    # std::sort with "a.name > b.name" as the order: names descending
    ranked = sorted(range(len(names)), key=lambda b: names[b], reverse=True)
    return {b: r for r, b in enumerate(ranked)}


def tvm_greedy_by_size(names, sizes, first, last, alignment=1):
    conflicts = _conflicts(first, last)
    rank = _by(names)
    sequence = sorted(range(len(sizes)), key=lambda b: (-sizes[b], -len(conflicts[b]), rank[b]))
    return _allocate(sequence, sizes, conflicts, alignment)


def tvm_greedy_by_conflicts(names, sizes, first, last, alignment=1):
    conflicts = _conflicts(first, last)
    rank = _by(names)
    sequence = sorted(range(len(sizes)), key=lambda b: (-len(conflicts[b]), -sizes[b], rank[b]))
    return _allocate(sequence, sizes, conflicts, alignment)
