"""The placement result and the shared step: put buffers, in a given sequence, at the best gap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from edgemem.memory.lifetimes import Lifetimes


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
    """Placed buffers, indexed to find those live at the same time as a new one fast.

    Short-lived buffers are bucketed by blocks of steps (each goes into every block it covers);
    long-lived ones (spanning more than ``long_blocks`` blocks, e.g. graph outputs that live to
    the end) sit in one array filtered with numpy. Neither kind costs O(steps) per query.
    """

    def __init__(self, lifetimes: Lifetimes, block: int = 32, long_blocks: int = 8) -> None:
        self.first = np.asarray(lifetimes.first_step, dtype=np.int64)
        self.last = np.asarray(lifetimes.last_step, dtype=np.int64)
        self.block = block
        self.long_blocks = long_blocks
        self.buckets: list[list[int]] = [[] for _ in range(lifetimes.steps // block + 1)]
        self.long = np.empty(len(lifetimes), dtype=np.int64)
        self.n_long = 0

    def add(self, b: int) -> None:
        lo, hi = int(self.first[b]) // self.block, int(self.last[b]) // self.block
        if hi - lo >= self.long_blocks:
            self.long[self.n_long] = b
            self.n_long += 1
            return
        for k in range(lo, hi + 1):
            self.buckets[k].append(b)

    def overlapping(self, b: int) -> np.ndarray:
        lo, hi = int(self.first[b]), int(self.last[b])
        longs = self.long[: self.n_long]
        parts = [longs[(self.first[longs] <= hi) & (self.last[longs] >= lo)]]
        short = {o for k in range(lo // self.block, hi // self.block + 1) for o in self.buckets[k]}
        if short:
            cand = np.fromiter(short, dtype=np.int64, count=len(short))
            parts.append(cand[(self.first[cand] <= hi) & (self.last[cand] >= lo)])
        return np.concatenate(parts) if len(parts) > 1 else parts[0]


def best_gap(intervals: list[tuple[int, int]], size: int, alignment: int, best_fit: bool = True) -> int:
    """Lowest-waste offset for ``size`` bytes among occupied [start, end) ``intervals``.

    The leading gap [0, first start) counts (the XNNPACK fix); the open end is the fallback.
    ``best_fit`` picks the smallest gap that fits (TFLite), otherwise the lowest one (first fit).
    """
    if not intervals:
        return 0
    starts = np.fromiter((i[0] for i in intervals), dtype=np.int64, count=len(intervals))
    ends = np.fromiter((i[1] for i in intervals), dtype=np.int64, count=len(intervals))
    return best_gap_arrays(starts, ends, size, alignment, best_fit)


def best_gap_arrays(starts: np.ndarray, ends: np.ndarray, size: int, alignment: int = 1, best_fit: bool = True) -> int:
    """``best_gap`` over numpy arrays of occupied [start, end) ranges (vectorised)."""
    if starts.size == 0:
        return 0
    order = np.argsort(starts, kind="stable")
    s, e = starts[order], ends[order]
    cursor = np.empty_like(e)
    cursor[0] = 0
    if e.size > 1:
        np.maximum.accumulate(e[:-1], out=cursor[1:])
        np.maximum(cursor[1:], 0, out=cursor[1:])
    if alignment > 1:
        cursor = -(-cursor // alignment) * alignment
    gaps = s - cursor
    fits = np.flatnonzero(gaps >= size)
    if fits.size:
        i = fits[0] if not best_fit else fits[np.argmin(gaps[fits])]
        return int(cursor[i])
    end = int(e.max())
    return -(-end // alignment) * alignment if alignment > 1 else end


def place_in_sequence(
    lifetimes: Lifetimes, sizes: Sequence[int], sequence: Sequence[int], alignment: int, best_fit: bool = True
) -> list[int]:
    """Offsets when buffers are placed one by one in ``sequence`` (each at its best gap)."""

    def choose(starts: np.ndarray, ends: np.ndarray, size: int, align: int) -> int:
        return best_gap_arrays(starts, ends, size, align, best_fit)

    return _place(lifetimes, sizes, sequence, alignment, choose)


def place_on_top(lifetimes: Lifetimes, sizes: Sequence[int], sequence: Sequence[int], alignment: int) -> list[int]:
    """Offsets when each buffer in ``sequence`` goes just above every placed buffer live with it (TVM USMP)."""

    def choose(starts: np.ndarray, ends: np.ndarray, size: int, align: int) -> int:
        top = int(ends.max()) if ends.size else 0
        return -(-top // align) * align

    return _place(lifetimes, sizes, sequence, alignment, choose)


def _place(lifetimes: Lifetimes, sizes: Sequence[int], sequence: Sequence[int], alignment: int, choose) -> list[int]:
    """Place buffers in ``sequence``; ``choose(starts, ends, size, align)`` picks each offset among
    the occupied ranges of the placed buffers live at the same time."""
    offsets = np.zeros(len(lifetimes), dtype=np.int64)
    size_arr = np.asarray(sizes, dtype=np.int64)
    index = OverlapIndex(lifetimes)
    align = max(1, alignment)
    for b in sequence:
        if size_arr[b] == 0:
            continue
        others = index.overlapping(b)
        others = others[size_arr[others] > 0]
        starts = offsets[others]
        offsets[b] = choose(starts, starts + size_arr[others], int(size_arr[b]), align)
        index.add(b)
    return [int(o) for o in offsets]


def conflict_counts(lifetimes: Lifetimes) -> list[int]:
    """Per buffer: how many other buffers are live with it at some step (interval overlaps)."""
    first = np.asarray(lifetimes.first_step, dtype=np.int64)
    last = np.asarray(lifetimes.last_step, dtype=np.int64)
    if not first.size:
        return []
    ends_before = np.searchsorted(np.sort(last), first, side="left")  # intervals ending before b starts
    starts_after = first.size - np.searchsorted(np.sort(first), last, side="right")  # starting after b ends
    return [int(c) for c in first.size - 1 - ends_before - starts_after]


def live_bound(lifetimes: Lifetimes, sizes: Sequence[int]) -> int:
    """The live-set peak of ``sizes`` (padded sizes): no placement of these lifetimes is smaller."""
    if not len(lifetimes):
        return 0
    diff = np.zeros(lifetimes.steps + 2, dtype=np.int64)
    size_arr = np.asarray(sizes, dtype=np.int64)
    np.add.at(diff, np.asarray(lifetimes.first_step), size_arr)
    np.add.at(diff, np.asarray(lifetimes.last_step) + 1, -size_arr)
    return int(np.cumsum(diff).max())


def plan_from_offsets(algorithm: str, offsets: Sequence[int], sizes: Sequence[int]) -> ArenaPlan:
    arena = max((o + s for o, s in zip(offsets, sizes)), default=0)
    return ArenaPlan(algorithm=algorithm, offsets=tuple(offsets), sizes_bytes=tuple(sizes), arena_bytes=arena)
