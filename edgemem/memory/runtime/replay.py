"""Replay a runtime's allocation trace on its allocator: what is held, what is resident.

``replay_bfc`` runs the session-creation allocations, then the same inference ``runs`` times (the
caller drops the outputs after each run, as a benchmark loop does). Resident bytes are the pages
ever written: they stop growing once the allocator settles, usually after the second run.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgemem.memory.runtime.bfc import Arena
from edgemem.memory.runtime.trace import Trace


@dataclass(frozen=True)
class ArenaReplay:
    strategy: str
    runs: int
    reserved_bytes: int  # regions the arena asked the system for
    peak_in_use_bytes: int  # largest sum of chunks handed out (rounded, unsplit chunks included)
    peak_requested_bytes: int  # largest sum of bytes the kernels asked for
    resident_bytes: int  # pages written by the runs (what RSS grows by)
    prepacked_resident_bytes: int  # pages written at session creation (counted with the session)
    resident_per_run: tuple[int, ...]  # resident bytes after each run
    region_sizes: tuple[int, ...]  # every region the arena created, in order
    session_regions: int  # how many of them session creation made (repacked weights)
    in_use_per_step: tuple[int, ...]  # first run: chunks in use after each kernel (before releases)
    peak_per_step: tuple[int, ...]  # first run: running peak of chunks in use


def _one_run(arena: Arena, trace: Trace, record: bool) -> tuple[list[int], list[int]]:
    ptr: dict[int, int | None] = {}
    in_use, peaks = [], []
    for step in trace.steps:
        for b in step.allocate:
            block = trace.blocks[b]
            ptr[b] = arena.alloc(block.size_bytes, block.written, block.stream)
        peak = arena.peak_in_use_bytes
        scratch = [b for b in step.release if trace.blocks[b].kind == "scratch"]
        for b in scratch:
            arena.free(ptr.pop(b))
        if record:
            in_use.append(arena.in_use_bytes)
            peaks.append(peak)
        for b in step.release:
            if b in ptr:
                arena.free(ptr.pop(b))
    for b in (*trace.release_at_end, *trace.outputs):
        if b in ptr:
            arena.free(ptr.pop(b))
    return in_use, peaks


def replay_bfc(trace: Trace, strategy: str = "next_power_of_two", runs: int = 3) -> ArenaReplay:
    arena = Arena(strategy=strategy)
    for b in trace.prepacked:
        arena.alloc(trace.blocks[b].size_bytes)
    prepacked = arena.resident_bytes
    session_regions = len(arena.regions)
    arena.peak_in_use_bytes = arena.in_use_bytes
    arena.peak_requested_bytes = arena.requested_in_use_bytes
    per_run: list[int] = []
    in_use, peaks = [], []
    for run in range(max(1, runs)):
        got_in_use, got_peaks = _one_run(arena, trace, record=run == 0)
        in_use, peaks = (got_in_use, got_peaks) if run == 0 else (in_use, peaks)
        per_run.append(arena.resident_bytes - prepacked)
    return ArenaReplay(strategy, max(1, runs), arena.reserved_bytes, arena.peak_in_use_bytes,
                       arena.peak_requested_bytes, per_run[-1], prepacked, tuple(per_run),
                       tuple(size for _, size in arena.regions), session_regions, tuple(in_use), tuple(peaks))
