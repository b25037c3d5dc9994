"""The placement result and the shared step: put buffers, in a given sequence, at the best gap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from edgemem.memory.liveness import Lifetimes


@dataclass(frozen=True)
class ArenaPlan:
    algorithm: str
    offsets: tuple[int, ...]  # per buffer, in Lifetimes order
    sizes_bytes: tuple[int, ...]  # padded sizes the offsets were computed for
    arena_bytes: int


def aligned_sizes(lifetimes: Lifetimes, alignment_bytes: int) -> list[int]:
    a = max(1, alignment_bytes)
    return [-(-s // a) * a for s in lifetimes.sizes_bytes]


class OverlapIndex:
    """Placed buffers bucketed by blocks of steps, to find the ones live at the same time fast."""

    def __init__(self, lifetimes: Lifetimes, block: int = 32) -> None:
        self.lifetimes = lifetimes
        self.block = block
        self.buckets: list[list[int]] = [[] for _ in range(lifetimes.steps // block + 1)]

    def add(self, b: int) -> None:
        for k in range(self.lifetimes.first_step[b] // self.block, self.lifetimes.last_step[b] // self.block + 1):
            self.buckets[k].append(b)

    def overlapping(self, b: int) -> list[int]:
        first, last = self.lifetimes.first_step, self.lifetimes.last_step
        lo, hi = first[b], last[b]
        found = set()
        for k in range(lo // self.block, hi // self.block + 1):
            for other in self.buckets[k]:
                if first[other] <= hi and lo <= last[other]:
                    found.add(other)
        return list(found)


def best_gap(intervals: list[tuple[int, int]], size: int, alignment: int, best_fit: bool = True) -> int:
    """Lowest-waste offset for ``size`` bytes among occupied [start, end) ``intervals``.

    The leading gap [0, first start) counts (the XNNPACK fix); the open end is the fallback.
    ``best_fit`` picks the smallest gap that fits (TFLite), otherwise the lowest one (first fit).
    """
    intervals.sort()
    cursor = 0
    best_offset, best_waste = None, None
    for start, end in intervals:
        gap = start - cursor
        if gap >= size:
            if not best_fit:
                return cursor
            if best_waste is None or gap - size < best_waste:
                best_offset, best_waste = cursor, gap - size
        if end > cursor:
            cursor = -(-end // alignment) * alignment
    return cursor if best_offset is None else best_offset


def place_in_sequence(
    lifetimes: Lifetimes, sizes: Sequence[int], sequence: Sequence[int], alignment: int, best_fit: bool = True
) -> list[int]:
    """Offsets when buffers are placed one by one in ``sequence`` (each at its best gap)."""
    offsets = [0] * len(lifetimes)
    index = OverlapIndex(lifetimes)
    for b in sequence:
        if sizes[b] == 0:
            continue
        intervals = [(offsets[o], offsets[o] + sizes[o]) for o in index.overlapping(b) if sizes[o]]
        offsets[b] = best_gap(intervals, sizes[b], max(1, alignment), best_fit)
        index.add(b)
    return offsets


def plan_from_offsets(algorithm: str, offsets: Sequence[int], sizes: Sequence[int]) -> ArenaPlan:
    arena = max((o + s for o, s in zip(offsets, sizes)), default=0)
    return ArenaPlan(algorithm=algorithm, offsets=tuple(offsets), sizes_bytes=tuple(sizes), arena_bytes=arena)
