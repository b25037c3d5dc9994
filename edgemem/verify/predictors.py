"""One runtime-aware prediction plus the measuring job that checks it, per backend (one table)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgemem.errors import UsageError
from edgemem.graph.static_shapes import runtime_static_names
from edgemem.graph.types import Graph
from edgemem.memory.runtime import OrtSettings, RuntimeBaseline, RuntimePrediction, TvmSettings
from edgemem.memory.runtime import predict_onnxruntime, predict_tvm

NUMPY_TYPES = {"FLOAT": "float32", "FLOAT16": "float16", "DOUBLE": "float64", "INT64": "int64", "INT32": "int32",
               "INT8": "int8", "UINT8": "uint8", "BOOL": "bool"}


@dataclass(frozen=True)
class Planned:
    prediction: RuntimePrediction
    job: dict  # what the measuring process runs (edgemem.verify.worker)
    files: dict  # key -> local path the device needs ("model", "library")
    notes: tuple[str, ...] = ()


def signature(graph: Graph) -> list[dict]:
    """The graph's inputs as the measuring process makes them: name, static shape, numpy dtype."""
    return [{"name": n, "shape": list(graph.tensors[n].shape), "dtype": NUMPY_TYPES.get(graph.tensors[n].dtype, "float32")}
            for n in graph.inputs]


def job_for(runtime: str, graph: Graph, path: str, settings: dict, runs: int = 5) -> dict:
    return {"runtime": runtime, "model_path": str(path), "inputs": signature(graph), "settings": settings,
            "weights_bytes": graph.weights_bytes, "input_bytes": sum(graph.tensors[n].size_bytes for n in graph.inputs),
            "runs": runs}


def ort_settings(threads: int = 1, execution_order: str = "priority") -> OrtSettings:
    return OrtSettings(execution_order=execution_order, threads=threads)


def plan_onnxruntime(graph: Graph, path: Path, baseline: RuntimeBaseline, threads: int = 1,
                     execution_order: str = "priority", runs: int = 5, target: str = "llvm") -> Planned:
    settings = ort_settings(threads, execution_order)
    prediction = predict_onnxruntime(graph, settings, baseline, runtime_static_names(path))
    job = job_for("onnxruntime", graph, str(path), {"execution_order": execution_order, "threads": threads,
                                                     "arena_extend_strategy": settings.arena_extend_strategy}, runs)
    return Planned(prediction, job, {"model": Path(path)})


def plan_tvm(graph: Graph, path: Path, baseline: RuntimeBaseline, threads: int = 1, execution_order: str = "priority",
             runs: int = 5, target: str = "llvm") -> Planned:
    from edgemem.verify.tvm_compile import compile_for_verify

    compiled = compile_for_verify(path, signature(graph), target)
    prediction = predict_tvm(graph, compiled.program, TvmSettings(target=target), baseline,
                             compiled.library.stat().st_size)
    job = dict(job_for("tvm", graph, str(path), {"allocator": "pooled"}, runs), library_path=str(compiled.library))
    return Planned(prediction, job, {"model": Path(path), "library": compiled.library}, compiled.notes)


PLANNERS = {"onnxruntime": plan_onnxruntime, "tvm": plan_tvm}


def plan(backend: str, graph: Graph, path: Path, baseline: RuntimeBaseline, **options) -> Planned:
    if backend not in PLANNERS:
        raise UsageError(f"verify predicts and measures {', '.join(PLANNERS)} on this machine; {backend} needs a device",
                         hint="pass --host user@device for tensorrt")
    return PLANNERS[backend](graph, path, baseline, **options)
