"""Backends, one file each, chosen by name from BACKENDS.

A backend is the host's half of a runtime: it says whether the probed device can run it,
prepares what must be uploaded (the ONNX file; for TVM a library compiled here), names the
options the agent's worker for that runtime receives, and turns the agent's raw output into
an Interpretation (memory split, latency, build). The device half is the worker function of
the same runtime in the agent package (edgemem/bench/agent/worker_<runtime>.py). Heavy imports (tvm, onnx) live
inside the backend functions that need them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from edgemem.bench.request import BenchRequest
from edgemem.bench.result import BuildInfo, MemoryBreakdown
from edgemem.bench.stats import LatencyStats
from edgemem.errors import UsageError

BACKENDS = {
    "onnxruntime": "edgemem.bench.backends.onnxruntime",
    "tvm": "edgemem.bench.backends.tvm",
    "tensorrt": "edgemem.bench.backends.tensorrt",
}


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


def get_backend(name: str) -> Backend:
    if name not in BACKENDS:
        raise UsageError(f"unknown backend {name!r}", hint=f"choose {', '.join(BACKENDS)}")
    return importlib.import_module(BACKENDS[name]).BACKEND
