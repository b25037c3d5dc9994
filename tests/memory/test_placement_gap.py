"""The gap search of the placement step: the Python scan (few live neighbours) and the numpy one
(many) choose the same offset, whatever order the neighbours come in; and every offset it
gives leaves the new buffer clear of all of them."""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edgemem.memory.placement import plan as placement

RANGES = st.lists(st.tuples(st.integers(0, 400), st.integers(1, 120)), max_size=40)


@settings(max_examples=500, deadline=None)
@given(RANGES, st.integers(1, 150), st.sampled_from((1, 8, 64)), st.booleans(), st.integers(0, 10**6))
def test_python_and_numpy_gap_search_agree(ranges, size, align, best_fit, seed):
    offsets = [-(-o // align) * align for o, _ in ranges]
    sizes = [s for _, s in ranges]
    others = list(range(len(ranges)))
    random.Random(seed).shuffle(others)
    chosen = placement._gap_among(list(others), offsets, sizes, size, align, best_fit)
    starts = np.asarray([offsets[o] for o in others], dtype=np.int64)
    ends = starts + np.asarray([sizes[o] for o in others], dtype=np.int64)
    assert chosen == placement.best_gap_arrays(starts, ends, size, align, best_fit)
    assert chosen % align == 0
    assert all(chosen + size <= offsets[o] or offsets[o] + sizes[o] <= chosen for o in others)


def test_best_fit_takes_the_smallest_gap_and_first_fit_the_lowest():
    offsets, sizes = [0, 30, 50, 100], [10, 10, 30, 5]  # gaps [10, 30) of 20 and [40, 50) of 10
    assert placement._gap_among([3, 2, 1, 0], offsets, sizes, 10, 1, True) == 40
    assert placement._gap_among([3, 2, 1, 0], offsets, sizes, 10, 1, False) == 10
    assert placement._gap_among([0, 1, 2, 3], offsets, sizes, 25, 1, True) == 105  # none fits: above them all
