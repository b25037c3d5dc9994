"""Calibrate a runtime's baseline on the measuring machine with edgemem's calibration models
(``edgemem.verify.calibrate``), measured like any model: the bench agent's worker in fresh
processes. Results are cached per host, backend and settings (``~/.cache/edgemem/calibration``)
with the runtime version they were measured with; a run that finds another version recalibrates.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from edgemem.graph import load_graph
from edgemem.graph.static_shapes import runtime_static_names
from edgemem.memory.runtime import OrtSettings, RuntimeBaseline, TvmSettings, predict_onnxruntime, predict_tvm
from edgemem.verify import calibrate
from edgemem.verify.device import DeviceJob, FreshRuns
from edgemem.verify.predictors import job_for, ort_options, tvm_options

ZERO = RuntimeBaseline(session_bytes=0, per_node_bytes=0, inputs_bytes=0, first_run_bytes=0, import_bytes=0)
Measure = Callable[[DeviceJob], FreshRuns]


def _finish(runs: dict[str, FreshRuns], graphs: dict, predicted_run: int, nodes: tuple[int, int], where: str,
            library_bytes: tuple[int, int] = (0, 0)) -> RuntimeBaseline:
    first_run = runs["convnet"].summary["activations"]["median_bytes"] - predicted_run
    one, chain = (calibrate._phase_medians(list(runs[n].results)) for n in ("one_node", "chain"))
    one["session"] -= library_bytes[0]  # TVM: the module file's pages are counted per model (predict_tvm)
    chain["session"] -= library_bytes[1]
    return calibrate.baseline_from(one, chain, first_run, nodes, graphs["one_node"].tensors["x"].size_bytes, where)


def calibrate_onnxruntime(measure: Measure, settings: OrtSettings = OrtSettings(), where: str = "") -> RuntimeBaseline:
    paths = calibrate.write_models(calibrate.folder())
    graphs = {name: load_graph(path) for name, path in paths.items()}
    runs = {name: measure(job_for("onnxruntime", graphs[name], Path(paths[name]), ort_options(settings))) for name in paths}
    predicted = predict_onnxruntime(graphs["convnet"], settings, ZERO, runtime_static_names(paths["convnet"]))
    return _finish(runs, graphs, predicted.run_bytes, (1, 65), where)


def calibrate_tvm(measure: Measure, settings: TvmSettings = TvmSettings(), where: str = "", cc: str | None = None) -> RuntimeBaseline:
    from edgemem.verify.tvm_compile import compile_for_verify
    from edgemem.verify.predictors import signature

    paths = calibrate.write_models(calibrate.folder())
    graphs = {name: load_graph(path) for name, path in paths.items()}
    compiled = {name: compile_for_verify(paths[name], signature(graphs[name]), settings.target, cc) for name in paths}
    runs = {name: measure(job_for("tvm", graphs[name], Path(paths[name]), tvm_options(graphs[name], settings),
                                  {"model": Path(paths[name]), "library": compiled[name].library})) for name in paths}
    predicted = predict_tvm(graphs["convnet"], compiled["convnet"].program, settings, ZERO,
                            compiled["convnet"].library.stat().st_size)
    kernels = (len(compiled["one_node"].program.kernels), len(compiled["chain"].program.kernels))
    sizes = (compiled["one_node"].library.stat().st_size, compiled["chain"].library.stat().st_size)
    return _finish(runs, graphs, predicted.run_bytes, kernels, where, sizes)


CALIBRATORS = {"onnxruntime": calibrate_onnxruntime, "tvm": calibrate_tvm}


def cache_file(key: dict) -> Path:
    import hashlib

    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:24]
    return calibrate.folder() / f"baseline-{digest}.json"


def cached(key: dict) -> tuple[RuntimeBaseline, str | None] | None:
    """(baseline, runtime version it was measured with) from the cache, or None."""
    try:
        document = json.loads(cache_file(key).read_text())
        return RuntimeBaseline(**document["baseline"]), document.get("runtime_version")
    except (OSError, ValueError, KeyError, TypeError):
        return None


def profile_table(backend: str, baseline: RuntimeBaseline, runtime_version: str | None, when: str) -> str:
    """The ``[baseline.<backend>]`` table for a device profile (profiles/README.md) with these figures."""
    figures = "".join(f'{name} = "{getattr(baseline, field)} B"\n' for name, field in (
        ("import", "import_bytes"), ("session", "session_bytes"), ("per_node", "per_node_bytes"),
        ("inputs", "inputs_bytes"), ("first_run", "first_run_bytes")))
    return (f'[baseline.{backend}]\nstatus = "measured"\n{figures}'
            f'measured_with = "{backend} {runtime_version or "?"}, edgemem calibration, {when}"\n')


def store(key: dict, baseline: RuntimeBaseline, runtime_version: str | None) -> None:
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    document = {"key": key, "baseline": asdict(baseline), "runtime_version": runtime_version, "measured_utc": when,
                "profile_table": profile_table(key.get("backend", "?"), baseline, runtime_version, when)}
    try:
        cache_file(key).write_text(json.dumps(document, indent=1, default=str))
    except OSError:
        pass  # a read-only cache only costs the next run a calibration
