"""Interpretation shared by the backends whose device half is the agent's Python worker."""

from __future__ import annotations

from edgemem.bench.backends.base import Interpretation
from edgemem.bench.breakdown import process_peak, system_delta, worker_parts
from edgemem.bench.result import MemoryBreakdown
from edgemem.bench.stats import latency_stats


def interpret_worker(raw: dict, runtime: str, notes: tuple[str, ...] = ()) -> Interpretation:
    stage = (raw.get("stages") or {}).get("run") or {}
    worker = stage.get("worker") or {}
    parts = worker_parts(stage, runtime)
    memory = MemoryBreakdown(
        runtime_baseline=parts["runtime_baseline"],
        weights=parts["weights"],
        activations=parts["activations"],
        process_peak=process_peak(stage),
        system_peak_delta=system_delta(raw, stage),
        load_peak=parts["load_peak"],
        sample_interval_ms=(raw.get("request") or {}).get("sample_interval_ms"),
        samples=stage.get("samples") or 0,
        notes=notes,
    )
    partial = bool(worker.get("partial")) or raw.get("status") != "ok"
    latency = latency_stats(worker.get("latencies_ms") or [], worker.get("latency_source") or "host clock",
                            warmup_runs=len(worker.get("warmup_ms") or []) or None, partial=partial)
    gpu = latency_stats(worker.get("gpu_compute_ms") or [], "CUDA events around enqueue (GPU compute)", partial=partial)
    warnings = ()
    if partial and latency is not None:
        warnings = (f"partial result: the run stopped after {latency.runs} timed runs; the figures cover those only",)
    return Interpretation(memory=memory, latency=latency, gpu_compute=gpu, info={"inputs": worker.get("inputs")},
                          warnings=warnings)
