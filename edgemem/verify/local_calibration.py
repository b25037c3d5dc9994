"""Calibrate a runtime on this machine (``edgemem.verify.calibrate`` models, fresh processes)."""

from __future__ import annotations

from edgemem.graph import load_graph
from edgemem.graph.static_shapes import runtime_static_names
from edgemem.memory.runtime import OrtSettings, RuntimeBaseline, TvmSettings, predict_onnxruntime, predict_tvm
from edgemem.verify import calibrate, predictors
from edgemem.verify.local import measure_fresh
from edgemem.verify.predictors import signature

ZERO = RuntimeBaseline(session_bytes=0, per_node_bytes=0, inputs_bytes=0, first_run_bytes=0, import_bytes=0)


def job_for(runtime: str, graph, path: str, settings: dict, library: str | None = None, runs: int = 3) -> dict:
    job = predictors.job_for(runtime, graph, path, settings, runs)
    if library:
        job["library_path"] = library
    return job


def calibrate_onnxruntime(settings: OrtSettings = OrtSettings(), repeats: int = 3) -> RuntimeBaseline:
    paths = calibrate.write_models(calibrate.folder())
    graphs = {name: load_graph(path) for name, path in paths.items()}
    options = {"execution_order": settings.execution_order, "threads": settings.threads,
               "arena_extend_strategy": settings.arena_extend_strategy}
    runs = {name: measure_fresh(job_for("onnxruntime", graphs[name], paths[name], options), repeats) for name in paths}
    predicted = predict_onnxruntime(graphs["convnet"], settings, ZERO, runtime_static_names(paths["convnet"]))
    first_run = runs["convnet"].summary["activations"]["median_bytes"] - predicted.run_bytes
    one, chain = (calibrate._phase_medians(list(runs[n].results)) for n in ("one_node", "chain"))
    return calibrate.baseline_from(one, chain, first_run, (1, 65), graphs["one_node"].tensors["x"].size_bytes,
                                   calibrate.describe_host(repeats))


def calibrate_tvm(settings: TvmSettings = TvmSettings(), repeats: int = 3) -> RuntimeBaseline:
    from edgemem.verify.tvm_compile import compile_for_verify

    paths = calibrate.write_models(calibrate.folder())
    graphs = {name: load_graph(path) for name, path in paths.items()}
    compiled = {name: compile_for_verify(paths[name], signature(graphs[name]), settings.target) for name in paths}
    runs = {name: measure_fresh(job_for("tvm", graphs[name], paths[name], {"allocator": settings.allocator},
                                        str(compiled[name].library)), repeats) for name in paths}
    predicted = predict_tvm(graphs["convnet"], compiled["convnet"].program, settings, ZERO,
                            compiled["convnet"].library.stat().st_size)
    first_run = runs["convnet"].summary["activations"]["median_bytes"] - predicted.run_bytes
    one, chain = (calibrate._phase_medians(list(runs[n].results)) for n in ("one_node", "chain"))
    one["session"] -= compiled["one_node"].library.stat().st_size  # counted per model (predict_tvm's library_bytes)
    chain["session"] -= compiled["chain"].library.stat().st_size
    kernels = (len(compiled["one_node"].program.kernels), len(compiled["chain"].program.kernels))
    return calibrate.baseline_from(one, chain, first_run, kernels, graphs["one_node"].tensors["x"].size_bytes,
                                   calibrate.describe_host(repeats))


CALIBRATORS = {"onnxruntime": calibrate_onnxruntime, "tvm": calibrate_tvm}
