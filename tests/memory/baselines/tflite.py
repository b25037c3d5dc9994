"""TFLite's ArenaPlanner with SimpleMemoryArena (greedy by size, best fit)."""

from __future__ import annotations


def tflite(names, sizes, first, last, alignment=1):
    n = len(sizes)
    # CreateTensorAllocationVector: larger first; equal sizes by first use (allocation time)
    sequence = sorted(range(n), key=lambda b: (-sizes[b], first[b], b))
    offsets = [0] * n
    allocs = []  # (offset, size, first, last), kept sorted by offset
    high = 0
    for b in sequence:
        size = sizes[b]
        if size == 0:
            continue
        best_offset = None
        best_fit = None
        current = 0
        for off, sz, f, l in allocs:
            if l < first[b] or f > last[b]:
                continue
            aligned = -(-current // alignment) * alignment
            if aligned + size <= off and (best_fit is None or off - aligned < best_fit):
                best_offset, best_fit = aligned, off - aligned
            current = max(current, off + sz)
        if best_offset is None:
            best_offset = -(-current // alignment) * alignment
        offsets[b] = best_offset
        high = max(high, best_offset + size)
        allocs.append((best_offset, size, first[b], last[b]))
        allocs.sort(key=lambda a: a[0])
    return offsets, high
