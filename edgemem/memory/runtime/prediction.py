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
    """What a runtime costs around any model, measured per device and backend with edgemem's
    calibration models (profiles/*.toml store it; ``verify`` measures it where none is stored)."""

    import_bytes: int | None = None  # RSS once the runtime is imported
    session_bytes: int | None = None  # RSS growth of creating a session for a one-node model
    per_node_bytes: int | None = None  # further session growth per node
    inputs_bytes: int | None = None  # RSS growth of preparing inputs, beyond their own bytes (the caller's side)
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

    @property
    def peak_bytes(self) -> int | None:
        """The process's peak: loading may briefly hold more than running (``load_transient_bytes``)."""
        total = self.total_bytes
        if total is None:
            return None
        transient = self.details.get("load_transient_bytes", 0)
        running = sum(self.part(p).bytes for p in ("io_buffers", "activations", "scratch"))
        return total - running + max(running, transient)


def _plus(value: int | None, extra: int) -> int | None:
    return None if value is None else value + extra


def session_part(baseline: RuntimeBaseline, nodes: int, extra_bytes: int, runtime: str, extra_how: str = "") -> Part:
    """Session overhead: a one-node session, a per-node cost (both calibrated), plus ``extra_bytes``."""
    if baseline.session_bytes is None or baseline.per_node_bytes is None:
        return Part("session_overhead", None, f"unknown: no calibrated session figures for {runtime} ({baseline.source})")
    value = baseline.session_bytes + baseline.per_node_bytes * max(0, nodes - 1) + extra_bytes
    return Part("session_overhead", value, f"one-node session {baseline.session_bytes} B + {baseline.per_node_bytes} B "
                f"x {max(0, nodes - 1)} more nodes ({baseline.source}){extra_how}")


def io_part(input_bytes: int, baseline: RuntimeBaseline) -> Part:
    how = f"input arrays {input_bytes} B + the caller's preparation of them ({baseline.source})"
    return Part("io_buffers", _plus(baseline.inputs_bytes, input_bytes), how if baseline.inputs_bytes is not None
                else "unknown: no calibrated figure for preparing inputs")


def baseline_part(baseline: RuntimeBaseline, runtime: str) -> Part:
    return Part("runtime_baseline", baseline.import_bytes, f"RSS after importing {runtime} ({baseline.source})")
