"""The records a runtime-aware prediction is made of (frozen, standard library only)."""

from __future__ import annotations

from dataclasses import dataclass, field

PARTS = ("runtime_baseline", "weights", "session_overhead", "activations", "scratch", "io_buffers")
UNKNOWN = None


@dataclass(frozen=True)
class Setting:
    """One runtime setting the prediction assumes (and verify applies), with why it was chosen."""

    name: str
    value: str
    reason: str


@dataclass(frozen=True)
class Part:
    """One predicted memory part; ``bytes`` is None when unknown (never a silent zero)."""

    name: str
    bytes: int | None
    how: str


@dataclass(frozen=True)
class RuntimeBaseline:
    """What a runtime costs before any model, measured once per device and backend (profiles/)."""

    import_bytes: int | None = None  # RSS once the runtime is imported
    session_bytes: int | None = None  # RSS growth of creating a session for a trivial model
    first_run_bytes: int | None = None  # memory the first inference of any model touches (stack, heap)
    source: str = "unknown: no measured baseline for this device and backend"


@dataclass(frozen=True)
class RuntimePrediction:
    runtime: str
    settings: tuple[Setting, ...]
    order: tuple[str, ...]  # node names (or kernels) in the order the runtime executes them
    order_source: str  # how that order is known
    parts: tuple[Part, ...]
    details: dict = field(default_factory=dict)  # runtime-specific figures (arena, storage tokens, ...)
    notes: tuple[str, ...] = ()

    def part(self, name: str) -> Part:
        for part in self.parts:
            if part.name == name:
                return part
        raise KeyError(name)

    @property
    def run_bytes(self) -> int | None:
        """Memory one inference adds on top of the loaded session: activations + scratch."""
        values = [self.part("activations").bytes, self.part("scratch").bytes]
        return None if None in values else sum(values)

    @property
    def total_bytes(self) -> int | None:
        """Every part; None when any part is unknown."""
        values = [p.bytes for p in self.parts]
        return None if None in values else sum(values)
