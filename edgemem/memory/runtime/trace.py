"""The allocation trace a runtime performs for one inference: the common record every runtime
model produces and every allocator replay consumes."""

from __future__ import annotations

from dataclasses import dataclass

BLOCK_KINDS = ("activation", "output", "scratch", "prepacked")


@dataclass(frozen=True, slots=True)
class Block:
    """One allocation: an activation buffer (possibly shared by several tensors), a graph output
    (handed to the caller at the end of the run), a kernel's temporary scratch buffer, or a weight
    a kernel repacked into the arena when the session was created."""

    name: str
    size_bytes: int
    kind: str
    tensors: tuple[str, ...] = ()
    written: tuple[tuple[int, int], ...] | None = None  # (offset, bytes) the kernel writes; None: all of it
    stream: str | None = None  # allocator stream tag (ONNX Runtime's Shape outputs carry one)


@dataclass(frozen=True, slots=True)
class Step:
    """One kernel: blocks allocated when it starts (outputs, then scratch) and blocks released
    when it ends (its scratch first, then buffers whose last reader it was)."""

    node: str
    op_type: str
    allocate: tuple[int, ...]
    release: tuple[int, ...]


@dataclass(frozen=True)
class Trace:
    blocks: tuple[Block, ...]
    steps: tuple[Step, ...]
    release_at_end: tuple[int, ...]  # blocks without a reader, released when the run ends
    outputs: tuple[int, ...]  # output blocks, released when the caller drops the results
    prepacked: tuple[int, ...] = ()  # allocated once at session creation, held for the session

    def bytes_of(self, kind: str) -> int:
        return sum(b.size_bytes for b in self.blocks if b.kind == kind)

    def live_profile(self) -> list[int]:
        """Bytes held after each step's allocations (the live set the allocator must serve)."""
        live, profile = 0, []
        for step in self.steps:
            live += sum(self.blocks[b].size_bytes for b in step.allocate)
            profile.append(live)
            live -= sum(self.blocks[b].size_bytes for b in step.release)
        return profile
