"""What one ``edgemem verify`` run is asked to do (validated before any work starts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edgemem.budget import Scope
from edgemem.errors import UsageError

BACKENDS = ("onnxruntime", "tvm", "tensorrt")
LOCAL = "local"


@dataclass(frozen=True)
class VerifyRequest:
    model: Path
    host: str  # "local" or an SSH destination
    budget_bytes: int
    scope: Scope = Scope.PROCESS
    backend: str = "onnxruntime"
    profile: str | None = None
    threads: int = 1
    execution_order: str = "priority"
    repeats: int = 3
    runs: int = 5  # inferences per measuring process
    input_shapes: dict = field(default_factory=dict)
    dims: dict = field(default_factory=dict)
    tvm_target: str = "llvm"
    tvm_cc: str | None = None  # cross compiler for the device's TVM library
    precision: str = "fp16"  # TensorRT's build precision
    trt_mode: str = "trtexec"  # TensorRT through trtexec or its Python API
    workspace_bytes: int | None = None  # TensorRT builder workspace limit
    recalibrate: bool = False  # measure the runtime baseline again instead of using the cached calibration

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise UsageError(f"unknown backend {self.backend!r}", hint=f"choose {', '.join(BACKENDS)}")
        if self.repeats < 1 or self.runs < 1 or self.threads < 1:
            raise UsageError("--repeats, --runs and --threads must be at least 1")
        if self.budget_bytes <= 0:
            raise UsageError("the budget must be a positive size")
        if self.trt_mode not in ("trtexec", "python"):
            raise UsageError(f"unknown TensorRT mode {self.trt_mode!r}", hint="choose trtexec or python")
        if self.execution_order not in ("priority", "default"):
            raise UsageError(f"unknown execution order {self.execution_order!r}", hint="choose priority or default")

    @property
    def local(self) -> bool:
        return self.host == LOCAL
