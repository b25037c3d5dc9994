"""Independent check of any arena plan: live buffers never share bytes; sizes and alignment hold.

Written without the placement code's helpers. A sweep over the steps keeps the byte ranges of
the buffers live at the current step sorted by offset. While they do not overlap, a buffer that
comes alive overlaps one of them exactly when it overlaps its neighbour below or above in that
order, so each buffer costs O(log n) plus an insertion, and a whole plan O(n log n).
"""

from __future__ import annotations

import bisect
import heapq
from dataclasses import dataclass

import numpy as np

from edgemem.memory.lifetimes import Lifetimes
from edgemem.memory.arena import ArenaPlan


@dataclass(frozen=True)
class PlanCheck:
    ok: bool
    problems: tuple[str, ...]


def check_plan(lifetimes: Lifetimes, plan: ArenaPlan, alignment_bytes: int = 1, limit: int = 20) -> PlanCheck:
    n = len(lifetimes)
    if len(plan.offsets) != n or len(plan.sizes_bytes) != n:
        return PlanCheck(False, (f"plan covers {len(plan.offsets)} buffers, lifetimes have {n}",))
    names = lifetimes.names
    offsets = np.asarray(plan.offsets, dtype=np.int64)
    planned = np.asarray(plan.sizes_bytes, dtype=np.int64)
    sizes = np.asarray(lifetimes.sizes_bytes, dtype=np.int64)
    align = max(1, alignment_bytes)
    problems: list[str] = []
    for b in np.flatnonzero(planned < sizes)[:limit]:
        problems.append(f"{names[b]}: planned size {planned[b]} < tensor size {sizes[b]}")
    for b in np.flatnonzero((offsets < 0) | (offsets % align != 0))[:limit]:
        problems.append(f"{names[b]}: offset {offsets[b]} is negative or not a multiple of {align}")
    for b in np.flatnonzero(offsets + planned > plan.arena_bytes)[:limit]:
        problems.append(f"{names[b]}: ends at {offsets[b] + planned[b]}, beyond the arena of {plan.arena_bytes} bytes")
    problems.extend(_overlaps(lifetimes, plan.offsets, limit - len(problems)) if len(problems) < limit else [])
    return PlanCheck(not problems, tuple(problems[:limit]))


def _overlaps(lifetimes: Lifetimes, offsets, limit: int) -> list[str]:
    """Pairs of buffers live at the same step whose byte ranges overlap (the first ``limit``)."""
    names, sizes, first, last = lifetimes.names, lifetimes.sizes_bytes, lifetimes.first_step, lifetimes.last_step
    starting = sorted((first[b], offsets[b], b) for b in range(len(lifetimes)) if sizes[b] > 0)
    live: list[tuple[int, int]] = []  # (offset, buffer) of the buffers live now, by offset
    ending: list[tuple[int, int, int]] = []  # heap of (last step, offset, buffer)
    problems: list[str] = []
    for step, offset, b in starting:
        while ending and ending[0][0] < step:
            _, o, gone = heapq.heappop(ending)
            del live[bisect.bisect_left(live, (o, gone))]
        at = bisect.bisect_left(live, (offset, b))
        clash = [o for o in (live[at - 1] if at else None, live[at] if at < len(live) else None)
                 if o is not None and o[0] < offset + sizes[b] and offset < o[0] + sizes[o[1]]]
        for o, other in clash:
            problems.append(f"{names[b]} [{offset}, {offset + sizes[b]}) and {names[other]} [{o}, {o + sizes[other]}) "
                            f"overlap while both live at step {step}")
        if len(problems) >= limit:
            return problems[:limit]
        if not clash:
            live.insert(at, (offset, b))
            heapq.heappush(ending, (last[b], offset, b))
    return problems
