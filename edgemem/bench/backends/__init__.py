"""Backends, one file each, chosen by name from BACKENDS (a table of the imported backend objects).

A backend is the host's half of a runtime: it says whether the probed device can run it,
prepares what must be uploaded (the ONNX file; for TVM a library compiled here), names the
options the agent's worker for that runtime receives, and turns the agent's raw output into
an Interpretation (memory split, latency, build). The device half is the worker function of
the same runtime in the agent package (edgemem/bench/agent/worker_<runtime>.py). Heavy imports (tvm, onnx) live
inside the backend functions that need them.
"""

from __future__ import annotations

from edgemem.bench.backends import onnxruntime, tensorrt, tvm
from edgemem.bench.backends.base import Backend, Interpretation, Prepared  # re-exported: the types callers need
from edgemem.errors import UsageError

__all__ = ["BACKENDS", "Backend", "Interpretation", "Prepared", "get_backend"]

BACKENDS: dict[str, Backend] = {
    "onnxruntime": onnxruntime.BACKEND,
    "tvm": tvm.BACKEND,
    "tensorrt": tensorrt.BACKEND,
}


def get_backend(name: str) -> Backend:
    if name not in BACKENDS:
        raise UsageError(f"unknown backend {name!r}", hint=f"choose {', '.join(BACKENDS)}")
    return BACKENDS[name]
