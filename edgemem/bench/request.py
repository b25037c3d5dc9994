"""BenchRequest: what to measure and how; validated before any connection is made."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from edgemem.bench import protocol
from edgemem.budget import Precision
from edgemem.errors import UsageError


@dataclass(frozen=True)
class BenchRequest:
    model: Path
    backend: str = "onnxruntime"
    precision: Precision = Precision.FP32
    input_shapes: dict = field(default_factory=dict)  # input name -> tuple of dims
    dims: dict = field(default_factory=dict)  # symbolic dim -> int
    warmup_runs: int = 10
    warmup_s: float = 0.5
    runs: int = 50
    duration_s: float = 3.0
    max_runs: int = 10000
    timeout_s: float = 600.0  # the whole job on the device (build included)
    build_timeout_s: float = 1800.0
    run_timeout_s: float = 600.0
    memory_limit_bytes: int | None = None  # the agent kills the measuring child above this
    sample_interval_ms: int = 20
    baseline_s: float = 1.0
    tegrastats: bool = True
    tegrastats_interval_ms: int = 100
    lock_clocks: bool = False
    options: dict = field(default_factory=dict)  # backend options (see each backend's OPTIONS)
    tools: dict = field(default_factory=dict)  # device tool paths: trtexec, tegrastats, nvpmodel, jetson_clocks
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "precision", Precision.parse(self.precision))
        checks = [("--runs", self.runs >= 1), ("--warmup-runs", self.warmup_runs >= 0), ("--duration", self.duration_s >= 0),
                  ("--warmup", self.warmup_s >= 0), ("--timeout", self.timeout_s > 0), ("--max-runs", self.max_runs >= self.runs),
                  ("--sample-interval", 5 <= self.sample_interval_ms <= 10000)]
        for flag, ok in checks:
            if not ok:
                raise UsageError(f"{flag} is out of range")
        if self.memory_limit_bytes is not None and self.memory_limit_bytes <= 0:
            raise UsageError("--memory-limit must be positive")

    def spec(self, run_id: str, files: dict[str, str], options: dict) -> dict:
        """The agent's job document (edgemem.bench.spec/1)."""
        return {
            "schema": protocol.SPEC_SCHEMA,
            "run_id": run_id,
            "backend": self.backend,
            "model": {"sha256": files["model"], "name": self.model.name},
            "files": files,
            "inputs": {"shapes": {k: list(v) for k, v in self.input_shapes.items()}, "dims": dict(self.dims)},
            "warmup": {"runs": self.warmup_runs, "seconds": self.warmup_s},
            "measure": {"runs": self.runs, "seconds": self.duration_s, "max_runs": self.max_runs},
            "timeouts": {"total_s": self.timeout_s, "build_s": self.build_timeout_s, "run_s": self.run_timeout_s},
            "memory_limit_bytes": self.memory_limit_bytes,
            "sample_interval_ms": self.sample_interval_ms,
            "baseline_s": self.baseline_s,
            "tegrastats": "auto" if self.tegrastats else "off",
            "tegrastats_interval_ms": self.tegrastats_interval_ms,
            "lock_clocks": self.lock_clocks,
            "options": dict(options, precision=self.precision.value),
            "tools": dict(self.tools),
            "seed": self.seed,
        }


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(4)
