"""``edgemem verify`` on this machine: analyze -> compile -> predict -> measure -> one verdict.

The remote path (``--host user@device``) runs the same measuring procedure through the bench
agent; this module owns the pipeline and the verdict, whichever side measured.
"""

from __future__ import annotations

from pathlib import Path

from edgemem.budget import BudgetCheck, MemoryParts, check_budget
from edgemem.graph import load_graph
from edgemem.graph.types import Graph, LoadOptions
from edgemem.memory.analyze import AnalyzeOptions, analyze
from edgemem.memory.runtime import RuntimeBaseline, RuntimePrediction
from edgemem.profiles import load_profile
from edgemem.units import format_bytes
from edgemem.verify.baseline import profile_baseline
from edgemem.verify.compare import compare
from edgemem.verify.local import FreshRuns, measure_fresh
from edgemem.verify.predictors import ort_settings, plan
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


def baseline_for(request: VerifyRequest) -> RuntimeBaseline:
    """The profile's measured baseline, else one calibrated now on the machine that measures."""
    if request.profile:
        stored = profile_baseline(load_profile(request.profile), request.backend)
        if stored.import_bytes is not None:
            return stored
    from edgemem.verify.local_calibration import CALIBRATORS
    from edgemem.memory.runtime import TvmSettings

    settings = ort_settings(request.threads, request.execution_order) if request.backend == "onnxruntime" \
        else TvmSettings(target=request.tvm_target)
    return CALIBRATORS[request.backend](settings, repeats=request.repeats)


def measurement_of(runs: FreshRuns) -> Measurement:
    latencies = tuple(ms for result in runs.results for ms in result.get("latencies_ms") or ())
    trace = tuple(tuple(sample) for sample in (runs.results[0].get("trace") or {}).get("samples") or ())
    facts = dict(runs.results[0].get("facts") or {}, hwm_reset=all(r.get("hwm_reset") for r in runs.results))
    return Measurement(len(runs.results), runs.summary, latencies, trace, facts)


def below_baseline(request: VerifyRequest, baseline: RuntimeBaseline) -> Verdict | None:
    """A process budget under what the runtime alone costs: no model can fit, nothing to measure."""
    if request.scope.value != "process" or baseline.import_bytes is None or request.budget_bytes >= baseline.import_bytes:
        return None
    return Verdict("over", f"the {format_bytes(request.budget_bytes)} budget is below what {request.backend} alone takes "
                           f"on this device ({format_bytes(baseline.import_bytes)} after import, {baseline.source}): "
                           "no model can fit")


def verify_local(request: VerifyRequest) -> VerifyReport:
    graph = load_graph(request.model, LoadOptions(input_shapes=request.input_shapes, dims=request.dims))
    theoretical = analyze(graph, AnalyzeOptions(orders=("stored",), time_limit_s=5.0)).best.arena_bytes
    baseline = baseline_for(request)
    planned = plan(request.backend, graph, Path(request.model), baseline, threads=request.threads,
                   execution_order=request.execution_order, runs=request.runs, target=request.tvm_target)
    predicted = check_budget(predicted_parts(planned.prediction), request.budget_bytes, request.scope)
    early = below_baseline(request, baseline)
    if early is not None:
        return report(request, graph, theoretical, planned, predicted, None, None, early)
    runs = measure_fresh(planned.job, request.repeats)
    measurement = measurement_of(runs)
    measured = check_budget(measured_parts(runs.summary), request.budget_bytes, request.scope)
    return report(request, graph, theoretical, planned, predicted, measurement, measured,
                  decide(measured, predicted, measurement))


def report(request: VerifyRequest, graph: Graph, theoretical: int, planned, predicted: BudgetCheck,
           measurement: Measurement | None, measured: BudgetCheck | None, verdict: Verdict) -> VerifyReport:
    comparisons = compare(planned.prediction, measurement.summary) if measurement is not None else ()
    return VerifyReport(graph.name, str(request.model), request.host, request.backend, theoretical, planned.prediction,
                        measurement, comparisons, predicted, measured, verdict, planned.notes)
