"""``edgemem verify``: analyze -> compile -> predict -> measure on the device -> one verdict.

The same pipeline for ``--host local`` and an SSH device: the measurement is the bench agent's
worker for the runtime, in fresh processes (edgemem.verify.device); the prediction is the
runtime-aware one (edgemem.memory.runtime) with the runtime's baseline from the device profile,
else calibrated on the device (cached per host, backend and settings).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from edgemem.budget import MemoryParts, check_budget
from edgemem.graph import load_graph
from edgemem.graph.types import Graph, LoadOptions
from edgemem.memory.analyze import AnalyzeOptions, analyze
from edgemem.memory.runtime import EngineFacts, RuntimeBaseline, RuntimePrediction, TvmSettings, predict_tensorrt
from edgemem.profiles import load_profile
from edgemem.units import format_bytes
from edgemem.verify import calibration
from edgemem.verify.baseline import profile_baseline
from edgemem.verify.compare import compare
from edgemem.verify.device import FreshRuns, Measuring, measure_on
from edgemem.verify.predictors import Planned, ort_settings, plan
from edgemem.verify.report import Measurement, Verdict, VerifyReport, decide
from edgemem.verify.request import VerifyRequest


def predicted_parts(prediction: RuntimePrediction) -> MemoryParts:
    part = {p.name: p.bytes for p in prediction.parts}
    runtime = None if None in (part["runtime_baseline"], part["session_overhead"]) else \
        part["runtime_baseline"] + part["session_overhead"]
    return MemoryParts(activations_bytes=prediction.run_bytes, weights_bytes=part["weights"], runtime_bytes=runtime,
                       io_bytes=part["io_buffers"] or 0, process_bytes=prediction.peak_bytes)


def measured_parts(summary: dict) -> MemoryParts:
    median = {name: (summary.get(name) or {}).get("median_bytes") for name in summary}
    runtime = None if None in (median.get("runtime_baseline"), median.get("session_overhead")) else \
        median["runtime_baseline"] + median["session_overhead"]
    return MemoryParts(activations_bytes=median.get("activations"), weights_bytes=median.get("weights"),
                       runtime_bytes=runtime, io_bytes=median.get("io_buffers") or 0, process_bytes=median.get("process_peak"))


class Calibrator:
    """The runtime baseline for one verify run: the profile's, the cached calibration, or a new one."""

    def __init__(self, request: VerifyRequest, measuring: Measuring) -> None:
        self.request, self.measuring = request, measuring
        self.versions: list[str | None] = []
        self.notes: list[str] = []
        self.key = {"host": measuring.target.destination, "backend": request.backend, "threads": request.threads,
                    "order": request.execution_order, "target": request.tvm_target, "cc": request.tvm_cc}

    def measure(self, job) -> FreshRuns:
        runs = measure_on(replace(self.measuring, repeats=max(1, self.measuring.repeats)), job)
        self.versions.append((runs.facts.get("backend") or {}).get("version"))
        return runs

    def baseline(self) -> tuple[RuntimeBaseline, str | None]:
        """(baseline, runtime version it belongs to; None when it needs no check)."""
        request = self.request
        if request.profile:
            stored = profile_baseline(load_profile(request.profile), request.backend)
            if stored.import_bytes is not None or request.backend == "tensorrt":
                return stored, None
        if request.backend == "tensorrt":
            return RuntimeBaseline(source="unknown: TensorRT's baseline comes from the device profile"), None
        found = None if request.recalibrate else calibration.cached(self.key)
        if found is not None:
            self.notes.append(f"runtime baseline from the cached calibration of {self.key['host']} "
                              f"({request.backend} {found[1] or '?'})")
            return found
        return self.calibrate()

    def calibrate(self) -> tuple[RuntimeBaseline, str | None]:
        request, where = self.request, (f"calibrated on {self.measuring.target.name} with edgemem's calibration models, "
                                        f"median of {self.measuring.repeats} fresh processes each")
        self.versions.clear()
        if request.backend == "onnxruntime":
            baseline = calibration.calibrate_onnxruntime(self.measure, ort_settings(request.threads, request.execution_order), where)
        else:
            baseline = calibration.calibrate_tvm(self.measure, TvmSettings(target=request.tvm_target), where, request.tvm_cc)
        version = self.versions[-1] if self.versions else None
        calibration.store(self.key, baseline, version)
        return baseline, version


def below_baseline(request: VerifyRequest, baseline: RuntimeBaseline) -> Verdict | None:
    """A process budget under what the runtime alone costs: no model can fit, nothing to measure."""
    if request.scope.value != "process" or baseline.import_bytes is None or request.budget_bytes >= baseline.import_bytes:
        return None
    return Verdict("over", f"the {format_bytes(request.budget_bytes)} budget is below what {request.backend} alone takes "
                           f"on this device ({format_bytes(baseline.import_bytes)} after import, {baseline.source}): "
                           "no model can fit")


def planning(request: VerifyRequest, graph: Graph, baseline: RuntimeBaseline) -> Planned:
    return plan(request.backend, graph, Path(request.model), baseline, threads=request.threads,
                execution_order=request.execution_order, target=request.tvm_target, cc=request.tvm_cc,
                precision=request.precision, trt_mode=request.trt_mode, workspace_bytes=request.workspace_bytes)


def engine_prediction(graph: Graph, planned: Planned, runs: FreshRuns, baseline: RuntimeBaseline, precision: str) -> Planned:
    """TensorRT: once the engine is built, its own figures are the prediction."""
    weights = runs.summary["weights"]["median_bytes"]
    activations = runs.summary["activations"]["median_bytes"]
    if weights is None or activations is None:
        return planned
    facts = EngineFacts(device_memory_bytes=activations, engine_bytes=weights,
                        version=str((runs.facts.get("backend") or {}).get("version") or ""))
    return replace(planned, prediction=predict_tensorrt(graph, facts, baseline, precision))


def measurement_of(runs: FreshRuns) -> Measurement:
    latencies = tuple(ms for result in runs.results for ms in result.get("latencies_ms") or ())
    trace = tuple(tuple(sample) for sample in (runs.results[0].get("trace") or {}).get("samples") or ())
    facts = dict(runs.facts, hwm_reset=all(r.get("hwm_reset") for r in runs.results))
    peak = runs.summary.get("process_peak") or {}
    partial = bool(peak.get("partial"))
    reason = "GPU memory was not measured (RSS alone leaves out what CUDA allocates on a Jetson)" if partial else None
    return Measurement(len(runs.results), runs.summary, latencies, trace, facts, partial, reason)


def verify(request: VerifyRequest, measuring: Measuring) -> VerifyReport:
    graph = load_graph(request.model, LoadOptions(input_shapes=request.input_shapes, dims=request.dims))
    theoretical = analyze(graph, AnalyzeOptions(orders=("stored",), time_limit_s=5.0)).best.arena_bytes
    if request.backend == "tvm":  # a model TVM rejects is told before the device is calibrated (the build is cached)
        from edgemem.verify.tvm_compile import compile_for_verify
        from edgemem.verify.predictors import signature

        compile_for_verify(request.model, signature(graph), request.tvm_target, request.tvm_cc)
    calibrator = Calibrator(request, measuring)
    baseline, version = calibrator.baseline()
    planned = planning(request, graph, baseline)
    early = below_baseline(request, baseline)
    if early is not None:
        predicted = check_budget(predicted_parts(planned.prediction), request.budget_bytes, request.scope)
        return report(request, graph, theoretical, planned, predicted, None, None, early, calibrator.notes)
    runs = measure_on(measuring, planned.job)
    measured_version = (runs.facts.get("backend") or {}).get("version")
    if version is not None and measured_version is not None and version != measured_version:
        calibrator.notes.append(f"the cached calibration was for {request.backend} {version}, the device runs "
                                f"{measured_version}: recalibrated")
        baseline, _ = calibrator.calibrate()
        planned = planning(request, graph, baseline)
    if request.backend == "tensorrt":
        planned = engine_prediction(graph, planned, runs, baseline, request.precision)
    predicted = check_budget(predicted_parts(planned.prediction), request.budget_bytes, request.scope)
    measurement = measurement_of(runs)
    measured = check_budget(measured_parts(runs.summary), request.budget_bytes, request.scope)
    return report(request, graph, theoretical, planned, predicted, measurement, measured,
                  decide(measured, predicted, measurement), calibrator.notes)


def report(request: VerifyRequest, graph: Graph, theoretical: int, planned: Planned, predicted, measurement, measured,
           verdict: Verdict, notes: list[str]) -> VerifyReport:
    comparisons = compare(planned.prediction, measurement.summary) if measurement is not None else ()
    return VerifyReport(graph.name, str(request.model), request.host, request.backend, theoretical, planned.prediction,
                        measurement, comparisons, predicted, measured, verdict, tuple(planned.notes) + tuple(notes))
