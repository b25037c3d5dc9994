"""Independent check of any arena plan: live buffers never share bytes; sizes and alignment hold.

Written without the placement code's helpers. Two buffers that overlap in time are both live at
the later one's first step, so it suffices to look at every step where a buffer starts: sort the
byte ranges live there by offset; ranges overlap iff one starts before the furthest end seen so far.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgemem.memory.lifetimes import Lifetimes
from edgemem.memory.placement.plan import ArenaPlan


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
    first = np.asarray(lifetimes.first_step, dtype=np.int64)
    last = np.asarray(lifetimes.last_step, dtype=np.int64)
    align = max(1, alignment_bytes)
    problems: list[str] = []
    for b in np.flatnonzero(planned < sizes)[:limit]:
        problems.append(f"{names[b]}: planned size {planned[b]} < tensor size {sizes[b]}")
    for b in np.flatnonzero((offsets < 0) | (offsets % align != 0))[:limit]:
        problems.append(f"{names[b]}: offset {offsets[b]} is negative or not a multiple of {align}")
    for b in np.flatnonzero(offsets + planned > plan.arena_bytes)[:limit]:
        problems.append(f"{names[b]}: ends at {offsets[b] + planned[b]}, beyond the arena of {plan.arena_bytes} bytes")
    nonzero = sizes > 0
    for step in np.unique(first[nonzero]):
        live = np.flatnonzero(nonzero & (first <= step) & (last >= step))
        if live.size < 2:
            continue
        order = np.argsort(offsets[live], kind="stable")
        live = live[order]
        lo, hi = offsets[live], offsets[live] + sizes[live]
        furthest = np.maximum.accumulate(hi)[:-1]
        for k in np.flatnonzero(lo[1:] < furthest)[:limit]:
            b = live[k + 1]
            o = live[int(np.argmax(hi[: k + 1]))]
            problems.append(
                f"{names[b]} [{offsets[b]}, {offsets[b] + sizes[b]}) and {names[o]} [{offsets[o]}, {offsets[o] + sizes[o]}) "
                f"overlap while both live at step {int(step)}"
            )
        if len(problems) >= limit:
            break
    return PlanCheck(not problems, tuple(problems[:limit]))
