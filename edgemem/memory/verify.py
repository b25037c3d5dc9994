"""Independent check of any arena plan: live buffers never share bytes; sizes and alignment hold.

Written without the placement code's helpers: a sweep over lifetime starts keeps the set of
live buffers and compares each new buffer's byte range with every live one.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgemem.memory.liveness import Lifetimes
from edgemem.memory.placement.plan import ArenaPlan


@dataclass(frozen=True)
class PlanCheck:
    ok: bool
    problems: tuple[str, ...]


def check_plan(lifetimes: Lifetimes, plan: ArenaPlan, alignment_bytes: int = 1, limit: int = 20) -> PlanCheck:
    problems: list[str] = []
    n = len(lifetimes)
    if len(plan.offsets) != n or len(plan.sizes_bytes) != n:
        return PlanCheck(False, (f"plan covers {len(plan.offsets)} buffers, lifetimes have {n}",))
    align = max(1, alignment_bytes)
    for b in range(n):
        name, off, size = lifetimes.names[b], plan.offsets[b], plan.sizes_bytes[b]
        if size < lifetimes.sizes_bytes[b]:
            problems.append(f"{name}: planned size {size} < tensor size {lifetimes.sizes_bytes[b]}")
        if off < 0 or off % align:
            problems.append(f"{name}: offset {off} is negative or not a multiple of {align}")
        if off + size > plan.arena_bytes:
            problems.append(f"{name}: ends at {off + size}, beyond the arena of {plan.arena_bytes} bytes")
    by_start = sorted(range(n), key=lambda b: lifetimes.first_step[b])
    live: list[int] = []
    for b in by_start:
        start = lifetimes.first_step[b]
        live = [o for o in live if lifetimes.last_step[o] >= start]
        lo, hi = plan.offsets[b], plan.offsets[b] + lifetimes.sizes_bytes[b]
        for o in live:
            olo, ohi = plan.offsets[o], plan.offsets[o] + lifetimes.sizes_bytes[o]
            if lo < ohi and olo < hi:
                problems.append(
                    f"{lifetimes.names[b]} [{lo}, {hi}) and {lifetimes.names[o]} [{olo}, {ohi}) overlap while both live"
                )
        live.append(b)
        if len(problems) >= limit:
            break
    return PlanCheck(not problems, tuple(problems))
