"""The placement result and the shared step: put buffers, in a given sequence, at the best gap."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from edgemem.memory.arena import ArenaPlan
from edgemem.memory.lifetimes import Lifetimes


def aligned_sizes(lifetimes: Lifetimes, alignment_bytes: int) -> list[int]:
    a = max(1, alignment_bytes)
    return [-(-s // a) * a for s in lifetimes.sizes_bytes]


class OverlapIndex:
    """Placed buffers, indexed to find those live at the same time as a new one fast.

    Short-lived buffers are bucketed by blocks of steps: each goes into every block it covers
    (``covering``) and into the block it starts in (``starting``). A query reads the buffers
    covering its first block and those starting in each later block it covers, so it meets every
    overlapping buffer once and never tests one twice. Long-lived ones (spanning more than
    ``long_blocks`` blocks, e.g. graph outputs that live to the end) sit in one list, filtered
    with numpy once it is long. A query costs the live set of one block plus the buffers that
    start inside its lifetime, never O(steps), so placing a graph whose live set stays bounded is
    linear.
    """

    def __init__(self, lifetimes: Lifetimes, block: int = 32, long_blocks: int = 8) -> None:
        self.first, self.last = lifetimes.first_step, lifetimes.last_step
        self.block = block
        self.long_blocks = long_blocks
        self.covering: list[list[int]] = [[] for _ in range(lifetimes.steps // block + 1)]
        self.starting: list[list[int]] = [[] for _ in range(lifetimes.steps // block + 1)]
        self.long: list[int] = []
        self.long_array = np.empty(max(1, len(lifetimes)), dtype=np.int64)
        self.first_array = np.asarray(self.first, dtype=np.int64)
        self.last_array = np.asarray(self.last, dtype=np.int64)

    def add(self, b: int) -> None:
        lo, hi = self.first[b] // self.block, self.last[b] // self.block
        if hi - lo >= self.long_blocks:
            self.long_array[len(self.long)] = b
            self.long.append(b)
            return
        self.starting[lo].append(b)
        for k in range(lo, hi + 1):
            self.covering[k].append(b)

    def overlapping(self, b: int) -> list[int]:
        """Placed buffers live at some step of ``b``'s lifetime."""
        first, last, block, long = self.first, self.last, self.block, self.long
        lo, hi = first[b], last[b]
        start_block, end_block = lo // block, hi // block
        found = [o for o in self.covering[start_block] if first[o] <= hi and last[o] >= lo]
        if len(long) > LONG_NUMPY:
            longs = self.long_array[: len(long)]
            found += longs[(self.first_array[longs] <= hi) & (self.last_array[longs] >= lo)].tolist()
        elif long:
            found += [o for o in long if first[o] <= hi and last[o] >= lo]
        if end_block > start_block:
            starting = self.starting
            for k in range(start_block + 1, end_block):  # these start after lo and before hi
                found += starting[k]
            found += [o for o in starting[end_block] if first[o] <= hi]
        return found


LONG_NUMPY = 64  # long-lived buffers beyond which the index filters them with numpy


def best_gap_arrays(starts: np.ndarray, ends: np.ndarray, size: int, alignment: int = 1, best_fit: bool = True) -> int:
    """Lowest-waste offset for ``size`` bytes among occupied [start, end) ranges given as numpy
    arrays (for long lists; ``_gap_among`` is the same rule in Python for short ones).

    The leading gap [0, first start) counts (the XNNPACK fix); the open end is the fallback.
    ``best_fit`` picks the smallest gap that fits (TFLite), otherwise the lowest one (first fit).
    Ties between equal gaps go to the lower offset.
    """
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


BEST_FIT, FIRST_FIT, ON_TOP = "best fit", "first fit", "on top"
NUMPY_AT = 128  # overlapping buffers beyond which the gap search runs in numpy


def place_in_sequence(
    lifetimes: Lifetimes, sizes: Sequence[int], sequence: Sequence[int], alignment: int, best_fit: bool = True
) -> list[int]:
    """Offsets when buffers are placed one by one in ``sequence`` (each at its best gap)."""
    return _place(lifetimes, sizes, sequence, alignment, BEST_FIT if best_fit else FIRST_FIT)


def place_on_top(lifetimes: Lifetimes, sizes: Sequence[int], sequence: Sequence[int], alignment: int) -> list[int]:
    """Offsets when each buffer in ``sequence`` goes just above every placed buffer live with it (TVM USMP)."""
    return _place(lifetimes, sizes, sequence, alignment, ON_TOP)


def _place(lifetimes: Lifetimes, sizes: Sequence[int], sequence: Sequence[int], alignment: int, rule: str) -> list[int]:
    """Place buffers in ``sequence``, each by ``rule`` among the occupied [start, end) ranges of the
    placed buffers live at the same time (in Python for a few of them, in numpy for many)."""
    offsets = [0] * len(lifetimes)
    offset_array = np.zeros(len(lifetimes), dtype=np.int64)
    size_array = np.asarray(sizes, dtype=np.int64)
    index = OverlapIndex(lifetimes)
    overlapping, add = index.overlapping, index.add
    align = max(1, alignment)
    best_fit = rule == BEST_FIT
    for b in sequence:
        size = sizes[b]
        if size == 0:
            continue
        others = overlapping(b)
        if len(others) > NUMPY_AT:
            chosen = np.asarray(others, dtype=np.int64)
            starts = offset_array[chosen]
            ends = starts + size_array[chosen]
            if rule == ON_TOP:
                offset = -(-int(ends.max()) // align) * align
            else:
                offset = best_gap_arrays(starts, ends, size, align, best_fit)
        elif rule == ON_TOP:
            offset = -(-max([offsets[o] + sizes[o] for o in others], default=0) // align) * align
        else:
            offset = _gap_among(others, offsets, sizes, size, align, best_fit)
        offsets[b] = offset
        offset_array[b] = offset
        add(b)
    return offsets


def _gap_among(others: list[int], offsets: list[int], sizes: Sequence[int], size: int, align: int, best_fit: bool) -> int:
    """``best_gap_arrays`` over the placed buffers ``others`` (sorted here by offset, in place), in
    Python. A gap of exactly ``size`` is the best fit there is, so the scan stops at the first one."""
    others.sort(key=offsets.__getitem__)
    cursor, chosen, smallest = 0, -1, -1
    for o in others:
        start = offsets[o]
        at = -(-cursor // align) * align
        gap = start - at
        if gap >= size:
            if not best_fit or gap == size:
                return at
            if smallest < 0 or gap < smallest:
                chosen, smallest = at, gap
        end = start + sizes[o]
        if end > cursor:
            cursor = end
    return chosen if chosen >= 0 else -(-cursor // align) * align


def sequence_by(*keys: Sequence[int]) -> list[int]:
    """Buffer indices sorted by ``keys`` (integer sequences, the first the most significant), ties
    by index: what ``sorted(range(n), key=lambda b: (keys[0][b], keys[1][b], ..., b))`` gives,
    sorted in numpy (a stable lexicographic sort)."""
    if not keys or not len(keys[0]):
        return []
    return np.lexsort([np.asarray(k, dtype=np.int64) for k in reversed(keys)]).tolist()


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
