"""The sweep in verify.check_plan finds an overlap exactly when some pair of buffers live at the
same step shares a byte (checked pair by pair), on random lifetimes and random offsets."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgemem.memory.lifetimes import Lifetimes
from edgemem.memory.placement.plan import plan_from_offsets
from edgemem.memory.verify import check_plan


def pairwise_clash(lifetimes: Lifetimes, offsets) -> bool:
    sizes = lifetimes.sizes_bytes
    return any(
        lifetimes.overlaps(a, b) and offsets[a] < offsets[b] + sizes[b] and offsets[b] < offsets[a] + sizes[a]
        for a in range(len(lifetimes)) for b in range(a + 1, len(lifetimes)) if sizes[a] and sizes[b]
    )


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**9), st.integers(1, 14))
def test_sweep_finds_an_overlap_exactly_when_a_pair_clashes(seed, n):
    rng = random.Random(seed)
    steps = rng.randint(1, 8)
    first = [rng.randrange(steps) for _ in range(n)]
    last = [f + rng.randrange(steps - f) for f in first]
    sizes = [rng.choice((0, 1, 2, 3, 5, 8)) for _ in range(n)]
    offsets = [rng.randrange(0, 16) for _ in range(n)]
    lifetimes = Lifetimes(tuple(f"b{i}" for i in range(n)), tuple(sizes), tuple(first), tuple(last), steps)
    check = check_plan(lifetimes, plan_from_offsets("random", offsets, sizes))
    assert check.ok == (not pairwise_clash(lifetimes, offsets))
    assert all("overlap" in p for p in check.problems)
