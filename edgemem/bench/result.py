"""BenchResult: what a device run measured, every number labelled with how it was obtained.

Frozen dataclasses, standard library only, rendered by edgemem/output/bench.py and stored as
JSON. Unknown is None, never 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from edgemem.bench.stats import LatencyStats

SCHEMA = "edgemem.bench_result/1"


@dataclass(frozen=True)
class Measured:
    """One memory number and the method that produced it."""

    value_bytes: int | None
    method: str
    partial: bool = False  # known to leave something out (e.g. GPU memory not visible): not used for budgets


UNKNOWN = "unknown"


@dataclass(frozen=True)
class MemoryBreakdown:
    """Peak memory of the fresh load-and-run process, split into runtime, weights and activations."""

    runtime_baseline: Measured  # interpreter + runtime libraries before the model is loaded
    weights: Measured  # growth while loading the model / deserializing the engine
    activations: Measured  # growth while running (inputs, outputs, intermediates, arena)
    process_peak: Measured  # the process's whole peak
    system_peak_delta: Measured  # MemTotal - MemAvailable over the idle baseline (includes other processes)
    load_peak: Measured | None = None  # transient peak while loading
    sample_interval_ms: int | None = None
    samples: int = 0
    backend_reported: dict = field(default_factory=dict)  # numbers the runtime itself printed (TensorRT)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeviceInfo:
    host: str
    hostname: str | None = None
    board: str | None = None
    soc: str | None = None
    l4t: str | None = None
    jetpack: str | None = None
    cuda: str | None = None
    tensorrt: str | None = None
    onnxruntime: str | None = None
    onnxruntime_providers: tuple[str, ...] = ()
    tvm: str | None = None
    python: str | None = None
    kernel: str | None = None
    machine: str | None = None
    cpu_count: int | None = None
    ram_total_bytes: int | None = None
    swap_total_bytes: int | None = None
    root: bool | None = None
    power_mode: str | None = None
    power_mode_id: int | None = None


@dataclass(frozen=True)
class BuildInfo:
    """The separate engine build (TensorRT), or None for runtimes that load the model directly."""

    cached: bool
    seconds: float | None = None
    engine_bytes: int | None = None
    process_peak_bytes: int | None = None
    allocator_peak_gpu_bytes: int | None = None
    memory_starved: bool = False


@dataclass(frozen=True)
class BenchResult:
    run_id: str
    host: str
    status: str  # "ok" | "error"
    error: dict | None  # {"code", "stage", "message"} from the agent
    model: dict  # name, path, sha256, bytes
    backend: str
    precision: str
    backend_info: dict  # versions, providers, arena settings, argv ...
    device: DeviceInfo
    conditions: dict  # power mode, clocks, tegrastats summary
    build: BuildInfo | None
    memory: MemoryBreakdown
    latency: LatencyStats | None
    gpu_compute: LatencyStats | None
    started_utc: str | None
    elapsed_s: float | None
    uploads: dict  # what had to be uploaded: {"agent": bool, "model": bool, ...}
    artifacts_dir: str | None
    artifacts: tuple[str, ...]
    warnings: tuple[str, ...]
    request: dict
    versions: dict
    schema: str = SCHEMA

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict:
        return asdict(self)
