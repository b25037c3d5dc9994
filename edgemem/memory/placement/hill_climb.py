"""Bounded hill climbing on the placement sequence (in the spirit of TVM USMP's hill_climb and Vela's).

Start from a sequence that reproduces a given plan: buffers by increasing offset, each placed
at the lowest offset that fits, lands every buffer at or below its offset in that plan, so the
start is never worse. Each step moves a buffer that ends at the top of the arena to a random
earlier position and re-places everything; a move is kept when the arena does not grow
(sideways moves let it cross plateaus). It stops at the padded live bound or after ``iterations``
moves, at most ``MAX_PLACEMENTS`` buffer placements in all. The random stream is seeded and no
budget depends on time: same input, same plan, on any machine.
"""

from __future__ import annotations

import random
from typing import Sequence

from edgemem.memory.lifetimes import Lifetimes
from edgemem.memory.arena import ArenaPlan
from edgemem.memory.placement.plan import aligned_sizes, live_bound, place_in_sequence, plan_from_offsets

ITERATIONS = 200
MAX_PLACEMENTS = 200_000  # iterations x buffers
SEED = 0


def plan(lifetimes: Lifetimes, alignment_bytes: int) -> ArenaPlan:
    return climb(lifetimes, alignment_bytes)


def climb(lifetimes: Lifetimes, alignment_bytes: int, start: ArenaPlan | None = None,
          iterations: int = ITERATIONS) -> ArenaPlan:
    sizes = aligned_sizes(lifetimes, alignment_bytes)
    n = len(lifetimes)
    if start is None:
        sequence = sorted(range(n), key=lambda b: (-sizes[b], lifetimes.first_step[b], b))
    else:
        sequence = sorted(range(n), key=lambda b: (start.offsets[b], -sizes[b], b))
    offsets = place_in_sequence(lifetimes, sizes, sequence, alignment_bytes, best_fit=False)
    arena = _arena(offsets, sizes)
    bound = live_bound(lifetimes, sizes)
    rng = random.Random(SEED)
    for _ in range(min(iterations, MAX_PLACEMENTS // max(1, n))):
        if arena <= bound:
            break
        tops = [b for b in range(n) if sizes[b] and offsets[b] + sizes[b] == arena]
        b = rng.choice(tops)
        pos = sequence.index(b)
        if pos == 0:
            continue
        target = rng.randrange(0, pos)
        candidate = sequence[:target] + [b] + sequence[target:pos] + sequence[pos + 1:]
        placed = place_in_sequence(lifetimes, sizes, candidate, alignment_bytes, best_fit=False)
        size = _arena(placed, sizes)
        if size <= arena:
            sequence, offsets, arena = candidate, placed, size
    return plan_from_offsets("hill_climb", offsets, sizes)


def _arena(offsets: Sequence[int], sizes: Sequence[int]) -> int:
    return max((o + s for o, s in zip(offsets, sizes)), default=0)
