"""onnxsim 0.8.1's ComputeActivationMemoryPlan placement pass (groups already formed)."""

from __future__ import annotations


def onnxsim(names, sizes, first, last, alignment=1):
    n = len(sizes)
    sequence = sorted(range(n), key=lambda b: (-sizes[b], names[b]))
    placed = []  # (first, last, offset, end)
    offsets = [0] * n
    arena = 0
    for b in sequence:
        blocking = sorted((off, end) for f, l, off, end in placed if not (l < first[b] or last[b] < f))
        best_offset, best_gap = -1, -1
        cursor = 0
        for start, end in blocking:
            gap = start - cursor
            if gap >= sizes[b] and (best_gap < 0 or gap < best_gap):
                best_offset, best_gap = cursor, gap
            cursor = max(cursor, end)
        if best_offset < 0:
            best_offset = cursor
        offsets[b] = best_offset
        placed.append((first[b], last[b], best_offset, best_offset + sizes[b]))
        arena = max(arena, best_offset + sizes[b])
    return offsets, arena
