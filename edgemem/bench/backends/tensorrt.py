"""TensorRT: trtexec (default) or the tensorrt Python API, fp32/fp16/int8, workspace limit.

The engine is built in one child process (or taken from the device's engine cache, keyed by
model, precision, workspace and TensorRT version) and measured in a fresh one that only loads
and runs. With trtexec the raw logs and ``--exportTimes`` come back and are parsed here:
latency from the per-query times (trtexec's own summary when the times file is missing),
activations from the per-context device memory TensorRT reports, weights from its weights
line. Written against the real tools and API; exercised here only through replay executables.
"""

from __future__ import annotations

from pathlib import Path

from edgemem.bench.backends.base import Interpretation, Prepared
from edgemem.bench.backends.worker import interpret_worker
from edgemem.bench.breakdown import process_peak, system_delta
from edgemem.bench.parsers.trtexec import MetricStats, TrtexecLog, decode_version, parse_export_times, parse_trtexec_log
from edgemem.bench.request import BenchRequest
from edgemem.bench.result import UNKNOWN, BuildInfo, Measured, MemoryBreakdown
from edgemem.bench.stats import LatencyStats, latency_stats
from edgemem.errors import UsageError

MODES = ("trtexec", "python")
EXPORT_TIMES_SOURCE = "trtexec --exportTimes: per-query latency (H2D + GPU compute + D2H)"


class TensorRtBackend:
    name = "tensorrt"

    def mode(self, request: BenchRequest) -> str:
        mode = request.options.get("mode", "trtexec")
        if mode not in MODES:
            raise UsageError(f"--trt-mode {mode!r}: choose trtexec or python")
        return mode

    def probe_modules(self, request: BenchRequest) -> tuple[str, ...]:
        return ("tensorrt",) if self.mode(request) == "python" else ("trtexec",)

    def unavailable(self, probe: dict, request: BenchRequest) -> str | None:
        if self.mode(request) == "python":
            module = (probe.get("modules") or {}).get("tensorrt") or {}
            if not module.get("available"):
                return f"tensorrt is not importable by {probe.get('python_executable')}: {module.get('reason')}"
            return None
        if not (probe.get("trtexec") or {}).get("path"):
            return "trtexec was not found on the device (PATH, /usr/src/tensorrt/bin); pass --trtexec PATH or --trt-mode python"
        return None

    def prepare(self, request: BenchRequest, workdir: Path) -> Prepared:
        options = {"mode": self.mode(request), "engine_cache": bool(request.options.get("engine_cache", True))}
        if request.options.get("workspace_bytes"):
            options["workspace_bytes"] = int(request.options["workspace_bytes"])
        return Prepared(files={"model": request.model}, options=options)

    def interpret(self, raw: dict, artifacts: Path | None) -> Interpretation:
        if ((raw.get("request") or {}).get("options") or {}).get("mode") == "python":
            return interpret_python(raw)
        return interpret_trtexec(raw, artifacts)


def interpret_python(raw: dict) -> Interpretation:
    found = interpret_worker(raw, "tensorrt")
    stages = raw.get("stages") or {}
    worker = (stages.get("run") or {}).get("worker") or {}
    context = worker.get("context_device_memory_bytes")
    memory = found.memory
    if context is not None:
        from dataclasses import replace

        memory = replace(memory, backend_reported={"context_device_memory_bytes": context})
    return Interpretation(memory=memory, latency=found.latency, gpu_compute=found.gpu_compute,
                          build=build_info(stages.get("build") or {}, None), info=found.info, warnings=found.warnings)


def read_log(artifacts: Path | None, stage: dict) -> str:
    """The stage's full log when fetched, else the tail the result line carried."""
    name = stage.get("log")
    if artifacts is not None and name and (artifacts / name).is_file():
        return (artifacts / name).read_text(errors="replace")
    return "\n".join(stage.get("log_tail") or [])


def summary_stats(metric: MetricStats | None, source: str, log: TrtexecLog) -> LatencyStats | None:
    if metric is None:
        return None
    p = metric.percentiles
    return LatencyStats(source=source, runs=log.timed_queries, min_ms=metric.min_ms, mean_ms=metric.mean_ms,
                        median_ms=metric.median_ms, p90_ms=p.get(90.0), p95_ms=p.get(95.0), p99_ms=p.get(99.0),
                        max_ms=metric.max_ms, cv_pct=None, warmup_runs=log.warmup_queries, throughput_qps=log.throughput_qps)


def first_known(*candidates: tuple[int | None, str]) -> Measured:
    for value, method in candidates:
        if value is not None:
            return Measured(value, method)
    return Measured(None, UNKNOWN)


def interpret_trtexec(raw: dict, artifacts: Path | None) -> Interpretation:
    stages = raw.get("stages") or {}
    build_stage, run_stage = stages.get("build") or {}, stages.get("run") or {}
    built, ran = parse_trtexec_log(read_log(artifacts, build_stage)), parse_trtexec_log(read_log(artifacts, run_stage))
    version_int = (raw.get("backend") or {}).get("version_int")
    version = ran.version or built.version or (decode_version(version_int) if version_int else None)
    warnings = []
    latency, gpu = None, None
    times_path = artifacts / "times.json" if artifacts is not None else None
    if times_path is not None and times_path.is_file():
        warmup_ms = float(((raw.get("request") or {}).get("warmup") or {}).get("seconds", 0.2)) * 1000.0
        try:
            times = parse_export_times(times_path.read_text(errors="replace"), version, warmup_ms)
            latency = latency_stats(times["latency_ms"], EXPORT_TIMES_SOURCE)
            gpu = latency_stats(times["compute_ms"], "trtexec --exportTimes: GPU compute per query (CUDA events)")
        except ValueError as exc:
            warnings.append(f"ignored trtexec times file: {exc}")
    if latency is None:
        latency = summary_stats(ran.metrics.get("Latency"), "trtexec performance summary: Latency (H2D + GPU compute + D2H)", ran)
        gpu = gpu or summary_stats(ran.metrics.get("GPU Compute Time"), "trtexec performance summary: GPU Compute Time", ran)
    if ran.rejected:
        warnings.append(f"{len(ran.rejected)} trtexec summary line(s) were cut or re-typed and were not read: "
                        + "; ".join(line[:60] for line in ran.rejected))
    if ran.unstable_cv_pct is not None:
        warnings.append(f"trtexec: GPU compute time is unstable (CV {ran.unstable_cv_pct}%); lock clocks (--lock-clocks)")
    if built.memory.tactic_memory_starved:
        warnings.append("TensorRT skipped tactics for lack of memory while building; the engine may be slower than possible")
    return Interpretation(memory=trtexec_memory(raw, built, ran, run_stage), latency=latency, gpu_compute=gpu,
                          build=build_info(build_stage, built), warnings=tuple(warnings),
                          info={"tensorrt_version": ".".join(str(v) for v in version) if version else None,
                                "summary_family": ran.summary_family, "banner": ran.banner,
                                "build_argv": build_stage.get("argv"), "run_argv": run_stage.get("argv")})


def trtexec_memory(raw: dict, built: TrtexecLog, ran: TrtexecLog, run_stage: dict) -> MemoryBreakdown:
    b, r = built.memory, ran.memory
    activations = first_known(
        (r.context_device_memory_bytes, "trtexec: 'Created execution context with device memory size' (per-context device memory)"),
        (r.context_creation_gpu_bytes, "TensorRT: 'TensorRT-managed allocation in IExecutionContext creation' (MiB resolution)"),
        (b.activation_bytes, "TensorRT build log: 'Total Activation Memory' (per-context activation memory it planned)"))
    weights = first_known(
        (b.weights_bytes, "TensorRT build log: 'Total Weights Memory'"),
        (r.deserialization_gpu_bytes, "TensorRT: 'TensorRT-managed allocation in engine deserialization' (MiB resolution)"),
        (r.engine_bytes or b.engine_bytes, "engine size from the log (approximation of the weights)"))
    peak = process_peak(run_stage)
    notes = []
    if run_stage.get("sampled_peak_nvmap_bytes") is None:
        notes.append("process peak is VmRSS only: on Jetson, CUDA allocations (nvmap) are not in RSS and need root to read; "
                     "the budget uses weights + activations instead")
        baseline = Measured(None, UNKNOWN)
        if peak.value_bytes is not None:
            peak = Measured(peak.value_bytes, peak.method + " (CPU side only: GPU memory not visible)", partial=True)
    else:
        baseline = Measured(peak.value_bytes - (weights.value_bytes or 0) - (activations.value_bytes or 0),
                            "process peak (RSS + nvmap) minus TensorRT's weights and activations (derived)")
    reported = {f"build_{k}": v for k, v in vars(b).items() if v not in (None, False)}
    reported.update({f"run_{k}": v for k, v in vars(r).items() if v not in (None, False)})
    return MemoryBreakdown(runtime_baseline=baseline, weights=weights, activations=activations, process_peak=peak,
                           system_peak_delta=system_delta(raw, run_stage), sample_interval_ms=(raw.get("request") or {}).get("sample_interval_ms"),
                           samples=run_stage.get("samples") or 0, backend_reported=reported, notes=tuple(notes))


def build_info(stage: dict, log: TrtexecLog | None) -> BuildInfo | None:
    if not stage:
        return None
    worker = stage.get("worker") or {}
    return BuildInfo(
        cached=bool(stage.get("cached")),
        seconds=(log.build_s if log is not None and log.build_s is not None else stage.get("seconds")),
        engine_bytes=stage.get("engine_bytes") or worker.get("engine_bytes"),
        process_peak_bytes=stage.get("peak_rss_bytes"),
        allocator_peak_gpu_bytes=log.memory.allocator_peak_gpu_bytes if log is not None else None,
        memory_starved=bool(log.memory.tactic_memory_starved) if log is not None else False,
    )


BACKEND = TensorRtBackend()
