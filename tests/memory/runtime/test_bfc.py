"""BFC arena replay: rounding, bins, best fit, the split rule, coalescing and region growth."""

from __future__ import annotations

import random

import pytest

from edgemem.memory.runtime.bfc import PAGE_BYTES, Arena, bin_of, rounded


def test_rounding_and_bins():
    assert rounded(1) == 256 and rounded(256) == 256 and rounded(257) == 512
    assert bin_of(256) == 0 and bin_of(511) == 0 and bin_of(512) == 1 and bin_of(1 << 40) == 20


def test_first_region_is_one_mib_and_growth_doubles():
    arena = Arena()
    arena.alloc(1000)
    assert [size for _, size in arena.regions] == [1 << 20]
    arena.alloc(1 << 20)  # does not fit in what is left: a 2 MiB region
    arena.alloc(3 << 20)  # larger than the next 4 MiB step? no: 4 MiB region
    assert [size for _, size in arena.regions] == [1 << 20, 2 << 20, 4 << 20]


def test_a_chunk_under_twice_the_request_is_handed_out_whole():
    arena = Arena()
    big = arena.alloc(1000 * 256)  # split off the 1 MiB region (which is at least twice as large)
    arena.alloc(256)  # keeps the freed chunk from merging with the region's tail
    arena.free(big)
    before = arena.in_use_bytes
    arena.alloc(600 * 256)  # best fit is the freed 1000-unit chunk, less than twice 600: no split
    assert arena.in_use_bytes - before == 1000 * 256


def test_same_as_requested_grows_by_the_request():
    arena = Arena(strategy="same_as_requested")
    arena.alloc(5000)
    arena.alloc(300_000)
    assert [size for _, size in arena.regions] == [rounded(5000), rounded(300_000)]


def test_freeing_everything_coalesces_each_region_back_to_one_chunk():
    rng = random.Random(3)
    arena = Arena()
    live = []
    for _ in range(300):
        if live and rng.random() < 0.45:
            arena.free(live.pop(rng.randrange(len(live))))
        else:
            live.append(arena.alloc(rng.choice([100, 4000, 70_000, 300_000])))
        assert arena.in_use_bytes <= arena.reserved_bytes
        assert arena.peak_in_use_bytes >= arena.in_use_bytes
    for ptr in live:
        arena.free(ptr)
    assert arena.in_use_bytes == 0
    assert sum(len(entries) for entries in arena.bins) == len(arena.regions)


def test_resident_pages_cover_written_bytes_only():
    arena = Arena()
    arena.alloc(10 * PAGE_BYTES, written=((0, PAGE_BYTES),))
    # the region header page plus the one page written (the block starts 64 bytes into its page)
    assert arena.resident_bytes == 2 * PAGE_BYTES


def test_unknown_strategy_is_refused():
    with pytest.raises(ValueError):
        Arena(strategy="grow_forever")
