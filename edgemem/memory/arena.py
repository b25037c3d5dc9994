"""The ArenaPlan record: what every placement algorithm returns and ``verify`` checks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ArenaPlan:
    algorithm: str
    offsets: tuple[int, ...]  # per buffer, in Lifetimes order
    sizes_bytes: tuple[int, ...]  # padded sizes the offsets were computed for
    arena_bytes: int
