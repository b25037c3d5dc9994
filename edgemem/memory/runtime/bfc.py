"""A replay of ONNX Runtime's BFC arena (``onnxruntime/core/framework/bfc_arena.cc``) over a
sequence of allocations, and the resident memory it leaves behind.

The arena asks the system for regions and cuts them into chunks. Requests are rounded up to
256 bytes; free chunks sit in 21 bins by size class (256 B << bin) ordered by (size, address); an
allocation takes the first free chunk that fits, searching from its own bin upwards, and splits it
only when the chunk is at least twice the request (otherwise the whole chunk is handed out, up to
2x the request). Freed chunks merge with free neighbours. When nothing fits the arena grows by a
new region: ``next_power_of_two`` (ONNX Runtime's default) grows by 1 MiB, 2 MiB, 4 MiB, ...
(doubling past the request when one is larger), ``same_as_requested`` by exactly the request.

Resident memory is what the kernel counts: a region is reserved with ``malloc``; large regions are
fresh ``mmap`` pages that become resident only when written. Every chunk handed out is written by
its kernel, so the resident bytes are the 4 KiB pages that some allocation ever covered (by the
bytes it requested), plus the first page of each region (malloc's header). Regions below glibc's
mmap threshold come from the heap and are laid end to end.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

MIN_ALLOCATION = 256
NUM_BINS = 21
PAGE_BYTES = 4096
MMAP_THRESHOLD_BYTES = 128 * 1024
MALLOC_OFFSET = 64  # posix_memalign(64) of an mmapped chunk: the block starts 64 bytes into its first page
EXTEND_STRATEGIES = ("next_power_of_two", "same_as_requested")


def rounded(num_bytes: int) -> int:
    return -(-num_bytes // MIN_ALLOCATION) * MIN_ALLOCATION


def bin_of(size: int) -> int:
    return min(NUM_BINS - 1, (max(size, MIN_ALLOCATION) >> 8).bit_length() - 1)


@dataclass
class Chunk:
    ptr: int
    size: int
    region: int
    in_use: bool = False
    requested: int = 0
    stream: str | None = None  # the stream that last used the chunk; chunks of different streams never merge
    prev: "Chunk | None" = None
    next: "Chunk | None" = None


@dataclass
class Arena:
    """Mutable replay state; ``alloc``/``free`` mirror BFCArena::AllocateRawInternal/Free."""

    strategy: str = "next_power_of_two"
    initial_chunk_bytes: int = 1 << 20
    max_power_of_two_extend_bytes: int = 1 << 30
    bins: list = field(default_factory=lambda: [[] for _ in range(NUM_BINS)])
    chunks: dict = field(default_factory=dict)  # ptr -> Chunk (in use or free)
    regions: list = field(default_factory=list)  # (base, size)
    touched: set = field(default_factory=set)  # resident page numbers
    in_use_bytes: int = 0
    peak_in_use_bytes: int = 0
    requested_in_use_bytes: int = 0
    peak_requested_bytes: int = 0
    _next_mmap: int = 1 << 44
    _heap_top: int = 1 << 32

    def __post_init__(self) -> None:
        if self.strategy not in EXTEND_STRATEGIES:
            raise ValueError(f"unknown arena extend strategy {self.strategy!r}")
        self.curr_region_bytes = rounded(self.initial_chunk_bytes)

    @property
    def reserved_bytes(self) -> int:
        return sum(size for _, size in self.regions)

    @property
    def resident_bytes(self) -> int:
        return len(self.touched) * PAGE_BYTES

    def _insert_free(self, chunk: Chunk) -> None:
        bisect.insort(self.bins[bin_of(chunk.size)], (chunk.size, chunk.ptr))

    def _remove_free(self, chunk: Chunk) -> None:
        entries = self.bins[bin_of(chunk.size)]
        del entries[bisect.bisect_left(entries, (chunk.size, chunk.ptr))]

    def _find(self, size: int, stream: str | None) -> Chunk | None:
        for b in range(bin_of(size), NUM_BINS):
            entries = self.bins[b]
            for i in range(bisect.bisect_left(entries, (size, -1)), len(entries)):
                chunk = self.chunks[entries[i][1]]
                if chunk.stream is None or chunk.stream == stream:
                    return chunk
        return None

    def _extend_bytes(self, size: int) -> int:
        if self.strategy == "same_as_requested":
            return size
        increased = False
        while size > self.curr_region_bytes:
            self.curr_region_bytes *= 2
            increased = True
        extend = self.curr_region_bytes
        if not increased and self.curr_region_bytes < self.max_power_of_two_extend_bytes:
            self.curr_region_bytes = min(self.curr_region_bytes * 2, self.max_power_of_two_extend_bytes)
        return extend

    def _extend(self, size: int) -> None:
        extend = self._extend_bytes(size)
        if extend >= MMAP_THRESHOLD_BYTES:  # the kernel places each new mapping below the last one
            self._next_mmap -= -(-(extend + MALLOC_OFFSET) // PAGE_BYTES) * PAGE_BYTES
            base = self._next_mmap + MALLOC_OFFSET
        else:
            base = -(-(self._heap_top + 16) // 64) * 64
            self._heap_top = base + extend
        self.touched.add(base // PAGE_BYTES)  # malloc writes its header on the first page
        chunk = Chunk(base, extend, len(self.regions))
        self.regions.append((base, extend))
        self.chunks[base] = chunk
        self._insert_free(chunk)

    def touch(self, ptr: int, ranges: tuple[tuple[int, int], ...]) -> None:
        """Mark the pages of ``ranges`` (offset, bytes) of the block at ``ptr`` as written."""
        for offset, count in ranges:
            if count > 0:
                self.touched.update(range((ptr + offset) // PAGE_BYTES, (ptr + offset + count - 1) // PAGE_BYTES + 1))

    def alloc(self, num_bytes: int, written: tuple[tuple[int, int], ...] | None = None,
              stream: str | None = None) -> int | None:
        """Hand out a chunk for ``num_bytes``; ``written`` says which bytes the caller writes (all by
        default); ``stream`` tags the chunk (a free chunk is reused only by its own stream or when untagged)."""
        if num_bytes <= 0:
            return None
        size = rounded(num_bytes)
        chunk = self._find(size, stream)
        if chunk is None:
            self._extend(size)
            chunk = self._find(size, stream)
        self._remove_free(chunk)
        if chunk.size >= 2 * size:
            rest = Chunk(chunk.ptr + size, chunk.size - size, chunk.region, prev=chunk, next=chunk.next, stream=chunk.stream)
            if chunk.next is not None:
                chunk.next.prev = rest
            chunk.next, chunk.size = rest, size
            self.chunks[rest.ptr] = rest
            self._insert_free(rest)
        chunk.in_use, chunk.requested = True, num_bytes
        if chunk.stream is None:
            chunk.stream = stream
        self.in_use_bytes += chunk.size
        self.requested_in_use_bytes += num_bytes
        self.peak_in_use_bytes = max(self.peak_in_use_bytes, self.in_use_bytes)
        self.peak_requested_bytes = max(self.peak_requested_bytes, self.requested_in_use_bytes)
        self.touch(chunk.ptr, ((0, num_bytes),) if written is None else written)
        return chunk.ptr

    def free(self, ptr: int | None) -> None:
        if ptr is None:
            return
        chunk = self.chunks[ptr]
        chunk.in_use = False
        self.in_use_bytes -= chunk.size
        self.requested_in_use_bytes -= chunk.requested
        nxt = chunk.next
        if nxt is not None and not nxt.in_use and nxt.stream == chunk.stream:
            self._remove_free(nxt)
            self._merge(chunk, nxt)
        prev = chunk.prev
        if prev is not None and not prev.in_use and prev.stream == chunk.stream:
            self._remove_free(prev)
            self._merge(prev, chunk)
            chunk = prev
        self._insert_free(chunk)

    def _merge(self, first: Chunk, second: Chunk) -> None:
        first.size += second.size
        first.next = second.next
        if second.next is not None:
            second.next.prev = first
        del self.chunks[second.ptr]
