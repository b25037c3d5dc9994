"""One runtime-aware prediction plus the measuring job that checks it, per backend (one table)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgemem.errors import UsageError
from edgemem.graph.static_shapes import runtime_static_names
from edgemem.graph.types import Graph
from edgemem.memory.runtime import OrtSettings, RuntimeBaseline, RuntimePrediction, TvmSettings
from edgemem.memory.runtime import predict_onnxruntime, predict_tensorrt, predict_tvm
from edgemem.verify.device import DeviceJob

NUMPY_TYPES = {"FLOAT": "float32", "FLOAT16": "float16", "DOUBLE": "float64", "INT64": "int64", "INT32": "int32",
               "INT8": "int8", "UINT8": "uint8", "BOOL": "bool"}


@dataclass(frozen=True)
class Planned:
    prediction: RuntimePrediction
    job: DeviceJob  # what the measuring processes run (the bench agent's worker for the runtime)
    notes: tuple[str, ...] = ()


def signature(graph: Graph) -> list[dict]:
    """The graph's inputs as the measuring process makes them: name, static shape, numpy dtype."""
    return [{"name": n, "shape": list(graph.tensors[n].shape), "dtype": NUMPY_TYPES.get(graph.tensors[n].dtype, "float32")}
            for n in graph.inputs]


def job_for(runtime: str, graph: Graph, path: Path, options: dict, files: dict | None = None,
            precision: str = "fp32") -> DeviceJob:
    shapes = {s["name"]: tuple(s["shape"]) for s in signature(graph)}  # every dimension bound, as analyzed
    return DeviceJob(runtime, Path(path), files or {"model": Path(path)}, options, graph.weights_bytes,
                     sum(graph.tensors[n].size_bytes for n in graph.inputs), shapes, precision=precision)


def ort_settings(threads: int = 1, execution_order: str = "priority") -> OrtSettings:
    return OrtSettings(execution_order=execution_order, threads=threads)


def ort_options(settings: OrtSettings) -> dict:
    """The ONNX Runtime worker's session options for ``settings`` (what the prediction replays)."""
    return {"providers": ["CPUExecutionProvider"], "threads": settings.threads, "inter_op_threads": 1,
            "execution_order": settings.execution_order, "cpu_arena": settings.cpu_arena,
            "mem_pattern": settings.mem_pattern, "graph_optimization": settings.graph_optimization,
            "cpu_arena_extend_strategy": settings.arena_extend_strategy}


def plan_onnxruntime(graph: Graph, path: Path, baseline: RuntimeBaseline, threads: int = 1,
                     execution_order: str = "priority", **_) -> Planned:
    settings = ort_settings(threads, execution_order)
    prediction = predict_onnxruntime(graph, settings, baseline, runtime_static_names(path))
    return Planned(prediction, job_for("onnxruntime", graph, path, ort_options(settings)))


def tvm_options(graph: Graph, settings: TvmSettings) -> dict:
    return {"target": settings.target, "device": "cpu", "input_signature": signature(graph), "allocator": settings.allocator}


def plan_tvm(graph: Graph, path: Path, baseline: RuntimeBaseline, target: str = "llvm", cc: str | None = None, **_) -> Planned:
    from edgemem.verify.tvm_compile import compile_for_verify

    compiled = compile_for_verify(path, signature(graph), target, cc)
    settings = TvmSettings(target=target)
    prediction = predict_tvm(graph, compiled.program, settings, baseline, compiled.library.stat().st_size)
    job = job_for("tvm", graph, path, tvm_options(graph, settings), {"model": Path(path), "library": compiled.library})
    return Planned(prediction, job, compiled.notes)


def plan_tensorrt(graph: Graph, path: Path, baseline: RuntimeBaseline, precision: str = "fp16", trt_mode: str = "trtexec",
                  workspace_bytes: int | None = None, **_) -> Planned:
    """Before the engine is built on the device its memory is unknown; the engine's figures replace
    the unknowns once it is (edgemem.verify.run)."""
    options = {"mode": trt_mode, "engine_cache": True}
    if workspace_bytes:
        options["workspace_bytes"] = int(workspace_bytes)
    prediction = predict_tensorrt(graph, None, baseline, precision)
    return Planned(prediction, job_for("tensorrt", graph, path, options, precision=precision))


PLANNERS = {"onnxruntime": plan_onnxruntime, "tvm": plan_tvm, "tensorrt": plan_tensorrt}


def plan(backend: str, graph: Graph, path: Path, baseline: RuntimeBaseline, **options) -> Planned:
    if backend not in PLANNERS:
        raise UsageError(f"unknown backend {backend!r}", hint=f"choose {', '.join(PLANNERS)}")
    return PLANNERS[backend](graph, path, baseline, **options)
