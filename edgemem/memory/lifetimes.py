"""The Lifetimes record: the only thing placement algorithms see (never the graph)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Lifetimes:
    """Per-buffer [first_step, last_step] for one order. Placement sees only this record."""

    names: tuple[str, ...]
    sizes_bytes: tuple[int, ...]
    first_step: tuple[int, ...]
    last_step: tuple[int, ...]
    steps: int

    def __len__(self) -> int:
        return len(self.sizes_bytes)

    def overlaps(self, a: int, b: int) -> bool:
        return self.first_step[a] <= self.last_step[b] and self.first_step[b] <= self.last_step[a]
