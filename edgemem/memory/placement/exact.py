"""Exact placement of small instances: every placement sequence, each buffer at its lowest fit.

Buffers that never share a step with a buffer of another group can be placed independently,
so the lifetimes are split into connected groups (a sweep over starts) and each group's arena
is minimised on its own. Within a group of at most ``max_buffers`` buffers a depth-first search
tries every sequence, placing each buffer at the lowest offset that fits, and prunes a branch
once its top reaches the best arena found. Some sequence reproduces an optimal packing (place
the buffers of that packing by increasing offset: each lands at or below its offset there), so
the search is exact. Larger groups keep the starting plan's offsets. The search is bounded by a
number of placements tried (``MAX_STEPS``), not by time, so its result is the same on any machine.
"""

from __future__ import annotations

from edgemem.memory.lifetimes import Lifetimes
from edgemem.memory.placement import greedy_by_size
from edgemem.memory.arena import ArenaPlan
from edgemem.memory.placement.plan import aligned_sizes, plan_from_offsets

MAX_BUFFERS = 8
MAX_STEPS = 50_000  # placements tried, over all groups


def plan(lifetimes: Lifetimes, alignment_bytes: int) -> ArenaPlan:
    return improve(lifetimes, alignment_bytes, greedy_by_size.plan(lifetimes, alignment_bytes))


def groups(lifetimes: Lifetimes, sizes: list[int]) -> list[list[int]]:
    """Buffers (with bytes) split into groups no two of which are ever live at the same step."""
    live = sorted((b for b in range(len(lifetimes)) if sizes[b]), key=lambda b: lifetimes.first_step[b])
    found: list[list[int]] = []
    reach = -1
    for b in live:
        if lifetimes.first_step[b] > reach:
            found.append([])
        found[-1].append(b)
        reach = max(reach, lifetimes.last_step[b])
    return found


def improve(lifetimes: Lifetimes, alignment_bytes: int, start: ArenaPlan, max_buffers: int = MAX_BUFFERS,
            max_steps: int = MAX_STEPS) -> ArenaPlan:
    """``start`` with every small group re-placed optimally (within ``max_steps`` placements in all)."""
    sizes = aligned_sizes(lifetimes, alignment_bytes)
    offsets = list(start.offsets)
    steps = [max_steps]  # placements left
    align = max(1, alignment_bytes)
    for group in groups(lifetimes, sizes):
        if len(group) < 2 or len(group) > max_buffers:
            continue
        current = max(offsets[b] + sizes[b] for b in group)
        best = _search(lifetimes, sizes, group, current, align, steps)
        if best is not None:
            for b, o in best.items():
                offsets[b] = o
    return plan_from_offsets("exact", offsets, sizes)


def _search(lifetimes, sizes, group, current, align, steps):
    """The lowest packing of ``group`` below ``current``, or None (also when ``steps`` run out first)."""
    first, last = lifetimes.first_step, lifetimes.last_step
    conflicts = {b: [o for o in group if o != b and first[o] <= last[b] and first[b] <= last[o]] for b in group}
    best_top = [current]
    best_offsets: list[dict | None] = [None]
    placed: dict[int, int] = {}

    def lowest_fit(b: int) -> int:
        taken = sorted((placed[o], placed[o] + sizes[o]) for o in conflicts[b] if o in placed)
        cursor = 0
        for lo, hi in taken:
            if lo - cursor >= sizes[b]:
                break
            cursor = max(cursor, -(-hi // align) * align)
        return cursor

    def dfs(top: int) -> bool:
        if steps[0] <= 0:
            return False
        steps[0] -= 1
        if len(placed) == len(group):
            best_top[0], best_offsets[0] = top, dict(placed)
            return True
        for b in group:
            if b in placed:
                continue
            offset = lowest_fit(b)
            if offset + sizes[b] >= best_top[0]:
                continue
            placed[b] = offset
            dfs(max(top, offset + sizes[b]))
            del placed[b]
        return True

    dfs(0)
    return best_offsets[0]
