"""edgemem's orders and arenas next to the planners users run today, measured in the same run.

    .venv/bin/python benchmarks/planners.py [--quick] [--work-limit 2000000] [--time-limit 600] [--peer-timeout 120]

Corpus (built in code, fixed seeds, nothing downloaded): zoo models exported from PyTorch
(CIFAR ResNet-20, WRN-16-2, MobileNetV2 224, ViT-tiny), an unfused MobileNetV2-like net built
with onnx.helper, RandWire stages (WS(n, 4, 0.75), C = 78 at 56x56, blocks stored in a random
topological order: the anchors' setting) and stacks of DARTS- and NASNet-style cells, the
largest with about 3,000 nodes.

Per model: nodes; the activations without any reuse; the proved lower bound on the peak of any
order; the stored order's peak; the best order's peak (* = proved optimal) and how far below
the stored one; edgemem's arena for the best order and its ratio to that order's padded live
bound; the arenas of onnxsim 0.8.1 (``plan_activation_memory``) and onnx-tool 1.0.1
(``compress_memory``), which plan the stored order, and their ratio to edgemem's arena;
ONNX Runtime's measured peak (CPU arena, bytes in use) running the original file and the file
rewritten in the best order, both in file order; and edgemem's order-search and total time (wall)
and the analysis's CPU time. ``gap`` is (best - bound) / best, 0 when proved.
edgemem uses its default convention (safe in-place reuse, views alias, 64 B alignment);
each peer uses its own (onnxsim: similar in-place rules, no padding; onnx-tool: no in-place,
64 B padding). A second table plans the stored order under one convention with edgemem's
portfolio and the upstream algorithms it contains (TFLite, onnxsim, TVM USMP x2).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from analyze_speed import run_peer as run_peer_timed  # noqa: E402
from models import mobilenet_v2_like  # noqa: E402
from tests.fixtures.nas_graphs import nas_cells, randwire  # noqa: E402

from edgemem.graph import load_graph, ort_peak  # noqa: E402
from edgemem.graph.write_order import write_in_order  # noqa: E402
from edgemem.memory.analyze import AnalyzeOptions, analyze  # noqa: E402
from edgemem.memory.convention import Convention  # noqa: E402
from edgemem.memory.liveness import lifetimes_from_order  # noqa: E402
from edgemem.memory.placement import ALGORITHMS  # noqa: E402
from edgemem.memory.problem import problem_from_graph  # noqa: E402
from edgemem.memory.schedule.result import DEFAULT_WORK_LIMIT  # noqa: E402
from edgemem.units import format_bytes  # noqa: E402

ZOO_MODELS = ("resnet20", "wrn-16-2", "mobilenetv2", "vit-tiny")


def export_zoo(name: str, path: Path) -> bool:
    try:
        import torch

        from edgemem.distill.zoo import build_model, default_input_shape
    except ImportError:
        return False
    model = build_model(name).eval()
    example = torch.randn(*default_input_shape(name))
    torch.onnx.export(model, (example,), str(path), dynamo=False, opset_version=17, input_names=["image"])
    return True


def corpus(folder: Path, quick: bool) -> dict[str, Path]:
    built = {
        "mobilenet_v2_like 224": lambda: mobilenet_v2_like(224),
        "randwire n32 s1": lambda: randwire(32, seed=1),
        "randwire n32 s2": lambda: randwire(32, seed=2),
        "randwire n32 s3": lambda: randwire(32, seed=3),
        "darts 8 cells": lambda: nas_cells(8, "darts", seed=0),
        "nasnet 8 cells": lambda: nas_cells(8, "nasnet", seed=0),
    }
    if not quick:
        built.update({
            "randwire n48 s1": lambda: randwire(48, seed=1),
            "randwire n64 s1": lambda: randwire(64, seed=1),
            "darts 95 cells": lambda: nas_cells(95, "darts", seed=0),
        })
    paths = {}
    for name in ZOO_MODELS[:2] if quick else ZOO_MODELS:
        path = folder / f"{name}.onnx"
        if export_zoo(name, path):
            paths[f"zoo {name}"] = path
    for name, make in built.items():
        path = folder / (name.replace(" ", "_") + ".onnx")
        onnx.save(make(), path)
        paths[name] = path
    return paths


def plan_onnxsim(path):
    from onnxsim import plan_activation_memory

    return plan_activation_memory(onnx.load(str(path))).arena_bytes


def plan_onnx_tool(path):
    import contextlib
    import io

    import onnx_tool

    with contextlib.redirect_stdout(io.StringIO()):
        model = onnx_tool.Model(str(path))
        model.graph.shape_infer()
        return model.graph.compress_memory()[1]


def run_peer(module: str, fn, path: Path, timeout_s: float):
    """A peer planner in a child process (analyze_speed's runner), cut off at ``timeout_s``."""
    if importlib.util.find_spec(module) is None:
        return "not installed"
    result = run_peer_timed(fn, path, 1, timeout_s)
    return result[1] if isinstance(result, tuple) else result


def measure(name: str, path: Path, folder: Path, args) -> dict:
    graph = load_graph(path)
    start, cpu = time.perf_counter(), time.process_time()
    report = analyze(graph, AnalyzeOptions(time_limit_s=args.time_limit, work_limit=args.work_limit))
    total_s, analyze_cpu_s = time.perf_counter() - start, time.process_time() - cpu
    orders = {o.name: o for o in report.orders}
    row = {
        "model": name, "nodes": len(graph.nodes), "naive": report.activations_total_bytes,
        "bound": orders["optimal"].lower_bound_bytes, "stored": orders["stored"].peak_bytes,
        "best": report.best.peak_bytes, "proved": report.best.proved_optimal, "arena": report.best.arena_bytes,
        "arena_bound": report.best.arena_lower_bound_bytes, "search_s": orders["optimal"].search_s, "total_s": total_s,
        "analyze_cpu_s": analyze_cpu_s, "gap": orders["optimal"].gap,
        "onnxsim": run_peer("onnxsim", plan_onnxsim, path, args.peer_timeout),
        "onnx-tool": run_peer("onnx_tool", plan_onnx_tool, path, args.peer_timeout),
    }
    reordered = folder / f"{path.stem}.best.onnx"
    write_in_order(path, report.best.order, reordered)
    compared = ort_peak.compare_files(path, reordered, {i: graph.tensors[i].shape for i in graph.inputs}, orders=("file",))
    if compared is not None:
        runs = dict(compared.runs)
        row["ort"] = (runs["original"].requested_peak_bytes, runs["reordered"].requested_peak_bytes, compared.identical)
    row["same_order"] = same_order_arenas(graph)
    return row


def same_order_arenas(graph) -> dict[str, int]:
    """The stored order under the default convention, placed by the portfolio and by each upstream algorithm."""
    convention = Convention()
    problem = problem_from_graph(graph, convention)
    lifetimes = lifetimes_from_order(problem, range(len(problem.node_names)))
    return {name: ALGORITHMS[name](lifetimes, convention.alignment_bytes).arena_bytes
            for name in ("portfolio", "tflite", "onnxsim", "tvm_by_size", "tvm_by_conflicts")}


def mib(value) -> str:
    return f"{value / 2**20:.2f}" if isinstance(value, int) else str(value)


def ratio(peer, ours) -> str:
    return f"{peer / ours:.2f}x" if isinstance(peer, int) and ours else "-"


def print_tables(rows: list[dict]) -> None:
    print("sizes in MiB; * = proved optimal; ratios are peer arena / edgemem arena (>1: edgemem smaller)")
    header = (f"{'model':24} {'nodes':>5} {'no-reuse':>9} {'bound':>7} {'stored':>7} {'best':>8} {'gap':>6} {'vs stored':>9} "
              f"{'arena':>7} {'/bound':>6} {'onnxsim':>8} {'ratio':>6} {'onnx-tool':>9} {'ratio':>6} "
              f"{'ORT orig':>8} {'ORT best':>8} {'search':>7} {'total':>7} {'cpu':>7}")
    print(header)
    for r in rows:
        best = f"{mib(r['best'])}{'*' if r['proved'] else ' '}"
        ort = r.get("ort")
        print(f"{r['model']:24} {r['nodes']:>5} {mib(r['naive']):>9} {mib(r['bound']):>7} {mib(r['stored']):>7} {best:>8} {r['gap'] * 100:>5.1f}% "
              f"{(r['best'] / r['stored'] - 1) * 100:>8.1f}% {mib(r['arena']):>7} {r['arena'] / r['arena_bound']:>6.3f} "
              f"{mib(r['onnxsim']):>8} {ratio(r['onnxsim'], r['arena']):>6} {mib(r['onnx-tool']):>9} {ratio(r['onnx-tool'], r['arena']):>6} "
              f"{mib(ort[0]) if ort else '-':>8} {mib(ort[1]) if ort else '-':>8} {r['search_s']:>6.2f}s {r['total_s']:>6.2f}s {r['analyze_cpu_s']:>6.2f}s")
    ratios = [r["arena"] / r["arena_bound"] for r in rows]
    print(f"arena / padded live bound of the best order: median {statistics.median(ratios):.3f}, max {max(ratios):.3f}")
    if any(r.get("ort") for r in rows):
        same = all(r["ort"][2] for r in rows if r.get("ort"))
        print(f"ONNX Runtime outputs of every reordered file identical to the original's: {'yes' if same else 'NO'}")
    print()
    print("stored order, one convention (edgemem default), arena in MiB:")
    names = ("portfolio", "tflite", "onnxsim", "tvm_by_size", "tvm_by_conflicts")
    print(f"{'model':24} " + " ".join(f"{n:>16}" for n in names))
    for r in rows:
        arenas = r["same_order"]
        print(f"{r['model']:24} " + " ".join(f"{mib(arenas[n]):>16}" for n in names))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller corpus (no 48/64-block RandWire, no 3,000-node graph)")
    parser.add_argument("--work-limit", type=int, default=DEFAULT_WORK_LIMIT, help="work units of edgemem's order search per model")
    parser.add_argument("--time-limit", type=float, default=600.0, help="guard: seconds before edgemem's order search is stopped")
    parser.add_argument("--peer-timeout", type=float, default=120.0, help="seconds before a peer planner is stopped")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgemem-planners-") as tmp:
        folder = Path(tmp)
        for name, path in corpus(folder, args.quick).items():
            print(f"measuring {name} ...", file=sys.stderr, flush=True)
            rows.append(measure(name, path, folder, args))
    print_tables(rows)


if __name__ == "__main__":
    main()
