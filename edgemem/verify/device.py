"""Verify's measurement: the bench agent's worker for the runtime, in ``repeats`` fresh processes.

The same path serves ``--host local`` (the agent on this machine) and ``--host user@device``
(over SSH): one bench job whose run stage is repeated in fresh processes (``run``, ``run-2`` ...),
with the session settings the prediction assumed and glibc's mmap threshold fixed. Each process's
phase records become parts (edgemem.verify.measure); per part, the median and spread over the
processes, each labelled with its source.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from edgemem.bench.backends import Prepared
from edgemem.bench.request import BenchRequest
from edgemem.bench.run import RawRun, RunPolicy, Target, run_raw
from edgemem.bench.stop import StopRequest
from edgemem.errors import EdgememError
from edgemem.verify.gpu import tensorrt_parts
from edgemem.verify.measure import WORKER_ENV, breakdown, summarize

PARTS = ("runtime_baseline", "weights", "session_overhead", "activations", "io_buffers", "gpu", "process_peak")


class MeasureError(EdgememError):
    """The measuring process failed (the runtime rejected the model, ran out of memory, ...)."""

    code = "measure"


@dataclass(frozen=True)
class DeviceJob:
    """One model to measure: the files the device needs and the session settings the prediction assumed."""

    backend: str
    model: Path
    files: dict  # key ("model", "library") -> local Path
    options: dict  # what the runtime's worker receives (edgemem/bench/agent/worker_<runtime>.py)
    weights_bytes: int
    input_bytes: int
    input_shapes: dict = field(default_factory=dict)
    dims: dict = field(default_factory=dict)
    precision: str = "fp32"


@dataclass(frozen=True)
class Measuring:
    """Where and how: the target, fresh processes, inferences per process, and the run's controls."""

    target: Target
    repeats: int = 3
    runs: int = 5
    timeout_s: float = 600.0
    policy: RunPolicy = field(default_factory=RunPolicy)
    on_progress: Callable[[str, dict], None] | None = None
    cancel: StopRequest | None = None
    artifacts_root: Path | None = None  # where the raw logs go (a temporary folder when None)
    tools: dict = field(default_factory=dict)  # device tool paths (trtexec)


@dataclass(frozen=True)
class FreshRuns:
    """Every fresh process's result and, per part, the median and spread over them."""

    runtime: str
    results: tuple[dict, ...]
    summary: dict  # part -> summarize(...) + source
    facts: dict = field(default_factory=dict)  # run id, device, runtime version


def request_for(job: DeviceJob, measuring: Measuring) -> BenchRequest:
    return BenchRequest(model=job.model, backend=job.backend, precision=job.precision,
                        input_shapes=dict(job.input_shapes), dims=dict(job.dims),
                        warmup_runs=0, warmup_s=0.0, runs=measuring.runs, duration_s=0.0, max_runs=measuring.runs,
                        timeout_s=measuring.timeout_s, run_timeout_s=measuring.timeout_s, sample_interval_ms=10,
                        baseline_s=0.2, options=dict(job.options), tools=dict(measuring.tools), seed=0)


def run_stages(raw: dict) -> list[tuple[str, dict]]:
    stages = raw.get("stages") or {}
    return [(name, stages[name]) for name in stages if name == "run" or name.startswith("run-")]


def trace_of(artifacts: Path | None, stage: str) -> list[tuple[float, int, int | None]]:
    """(seconds, RSS, GPU) of one process, as the agent sampled it (proc_samples.jsonl)."""
    path = artifacts / "proc_samples.jsonl" if artifacts is not None else None
    if path is None or not path.is_file():
        return []
    samples = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("stage") == stage:
            samples.append((record.get("t_s"), record.get("rss"), record.get("nvmap")))
    return samples


def process_result(run: RawRun, name: str, stage: dict, job: DeviceJob) -> dict:
    worker = stage.get("worker") or {}
    if job.backend == "tensorrt":
        parts = tensorrt_parts(run.raw, stage, run.artifacts_dir)
    else:
        parts = breakdown(worker.get("phases") or stage.get("phases") or [], job.weights_bytes, job.input_bytes,
                          bool(worker.get("hwm_reset")))
    return {"stage": name, "parts": parts, "latencies_ms": list(worker.get("latencies_ms") or []),
            "hwm_reset": worker.get("hwm_reset"), "phases": worker.get("phases") or [],
            "trace": {"samples": trace_of(run.artifacts_dir, name), "source": "sampled /proc/<pid>/status by the agent",
                      "interval_ms": 10}}


def summarize_parts(results: list[dict]) -> dict:
    summary = {}
    for name in PARTS:
        found = [r["parts"].get(name) or {} for r in results]
        sources = sorted({f.get("source", "unknown") for f in found if f})
        summary[name] = dict(summarize([f.get("bytes") for f in found]), source="; ".join(sources) or "not measured",
                             partial=any(f.get("partial") for f in found))
    return summary


def failure(run: RawRun) -> MeasureError:
    error = run.raw.get("error") or {}
    code, message = error.get("code") or "run_failed", " ".join(str(error.get("message") or "no message").split())
    what = {"model_invalid": "the runtime rejected the model", "backend_missing": "the backend is missing on the device",
            "out_of_memory": "the device ran out of memory", "timeout": "the measurement ran past its deadline"}
    return MeasureError(f"{what.get(code, code)}: {message[:300]}")


def measure_on(measuring: Measuring, job: DeviceJob) -> FreshRuns:
    """Measure ``job`` in ``measuring.repeats`` fresh processes on the target; MeasureError when it failed."""
    root = measuring.artifacts_root or Path(tempfile.mkdtemp(prefix="edgemem-verify-logs-"))
    prepared = Prepared(files=dict(job.files), options=dict(job.options))
    run = run_raw(request_for(job, measuring), measuring.target, root, measuring.on_progress, measuring.cancel,
                  measuring.policy, prepared, {"repeats": measuring.repeats, "worker_env": dict(WORKER_ENV)})
    if run.raw.get("status") != "ok":
        raise failure(run)
    results = [process_result(run, name, stage, job) for name, stage in run_stages(run.raw)]
    facts = {"run_id": run.raw.get("run_id"), "backend": run.raw.get("backend") or {}, "host": measuring.target.name,
             "machine": run.probe.get("machine"), "board": run.probe.get("board"), "warnings": list(run.notes),
             "artifacts_dir": str(run.artifacts_dir) if run.artifacts_dir else None}
    return FreshRuns(job.backend, tuple(results), summarize_parts(results), facts)
