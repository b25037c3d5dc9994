"""What every backend is and returns: the Backend protocol, Prepared (uploads and options) and
Interpretation (the agent's raw output read back). Kept apart from the table in __init__ so the
backend modules can import these without importing the table that imports them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from edgemem.bench.request import BenchRequest
from edgemem.bench.result import BuildInfo, MemoryBreakdown
from edgemem.bench.stats import LatencyStats

@dataclass(frozen=True)
class Prepared:
    files: dict  # key ("model", "library") -> local Path to upload
    options: dict  # the spec's backend options
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Interpretation:
    memory: MemoryBreakdown
    latency: LatencyStats | None
    gpu_compute: LatencyStats | None = None
    build: BuildInfo | None = None
    warnings: tuple[str, ...] = ()
    info: dict = field(default_factory=dict)  # backend facts for the result (e.g. parsed TensorRT version)


class Backend(Protocol):
    name: str

    def probe_modules(self, request: BenchRequest) -> tuple[str, ...]:
        """What the device probe must check for this backend (agent probe --modules)."""

    def unavailable(self, probe: dict, request: BenchRequest) -> str | None:
        """Why the device cannot run this backend (None when it can)."""

    def prepare(self, request: BenchRequest, workdir: Path) -> Prepared:
        """Files to upload and options for the agent."""

    def interpret(self, raw: dict, artifacts: Path | None) -> Interpretation:
        """The agent's raw result (and fetched logs) -> memory split, latency, build."""
