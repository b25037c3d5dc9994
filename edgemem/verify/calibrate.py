"""Measure a runtime's baseline on a machine with three models built in code (no download).

``one_node`` (a Relu on 16 floats) gives the runtime's import cost, the session of a minimal
model and what preparing inputs costs the caller; ``chain`` (65 nodes) the session cost per node;
``convnet`` (a convolution, pooling and a GEMM) the memory the first inference touches outside
the runtime's planned buffers (thread stacks, heap; its feature maps are large enough that every planned buffer is fresh pages, so
the remainder is clean). Each is measured in fresh processes and the
medians become a ``RuntimeBaseline`` labelled with where and how it was measured.
"""

from __future__ import annotations

import os
import platform
import tempfile
from pathlib import Path

from edgemem.memory.runtime.prediction import RuntimeBaseline

CALIBRATION_MODELS = ("one_node", "chain", "convnet")


def build(name: str):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def model(nodes, shape, weights=(), out_shape=None):
        graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape or shape)], list(weights))
        made = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        made.ir_version = 8
        return made

    if name == "one_node":
        return model([helper.make_node("Relu", ["x"], ["y"], name="relu")], [1, 16])
    if name == "chain":
        names = ["x"] + [f"t{i}" for i in range(64)] + ["y"]
        return model([helper.make_node("Relu" if i % 2 else "Sigmoid", [names[i]], [names[i + 1]], name=f"n{i}")
                      for i in range(65)], [1, 16])
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array((rng.standard_normal(s) * 0.1).astype(np.float32), n)
               for n, s in (("w", [16, 16, 3, 3]), ("fc", [10, 16]))]
    return model([helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", ["c"], ["r"], name="relu"),
                  helper.make_node("GlobalAveragePool", ["r"], ["p"], name="gap"),
                  helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
                  helper.make_node("Gemm", ["f", "fc"], ["y"], name="fc", transB=1)], [1, 16, 96, 96], weights, [1, 10])


def write_models(folder: Path) -> dict[str, str]:
    import onnx

    paths = {}
    for name in CALIBRATION_MODELS:
        path = folder / f"calibration-{name}.onnx"
        onnx.save(build(name), str(path))
        paths[name] = str(path)
    return paths


def _phase_medians(results: list[dict]) -> dict:
    from edgemem.verify.measure import summarize

    def median(a: str, b: str) -> int:
        values = []
        for result in results:
            phases = {p["phase"]: p for p in result["phases"]}
            values.append(phases[b]["rss_bytes"] - phases[a]["rss_bytes"])
        return summarize(values)["median_bytes"]

    return {"session": median("runtime_imported", "loaded"), "inputs": median("loaded", "inputs_ready"),
            "import": summarize([{p["phase"]: p for p in r["phases"]}["runtime_imported"]["rss_bytes"] for r in results])["median_bytes"]}


def baseline_from(one: dict, chain: dict, first_run: int, nodes: tuple[int, int], input_bytes: int, where: str) -> RuntimeBaseline:
    per_node = max(0, (chain["session"] - one["session"]) // max(1, nodes[1] - nodes[0]))
    return RuntimeBaseline(import_bytes=one["import"], session_bytes=max(0, one["session"]), per_node_bytes=per_node,
                           inputs_bytes=max(0, one["inputs"] - input_bytes), first_run_bytes=max(0, first_run), source=where)


def describe_host(repeats: int) -> str:
    return f"calibrated on {platform.node() or 'this host'} ({platform.machine()}) with edgemem's calibration models, " \
           f"median of {repeats} fresh processes"


def folder() -> Path:
    path = Path(os.environ.get("EDGEMEM_CACHE", Path.home() / ".cache" / "edgemem")).expanduser() / "calibration"
    path.mkdir(parents=True, exist_ok=True)
    return path if path.is_dir() else Path(tempfile.mkdtemp())
