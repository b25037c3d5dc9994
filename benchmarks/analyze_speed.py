"""How long `edgemem analyze` takes, next to the planners of onnxsim and onnx-tool measured in the same run.

    .venv/bin/python benchmarks/analyze_speed.py [--nodes 10000] [--repeat 3]

For each model it prints: the time to load and size the graph, the time to analyze the stored
and greedy orders with an arena (the issue's target: under 2 s for a 10,000-node graph on a
2-core machine), the full analysis with the optimal search, and the peers' planning time on the
same file (they plan only the stored order), with ratios.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import mobilenet_v2_like, random_dag, residual_mlp  # noqa: E402

from edgemem.graph import load_graph  # noqa: E402
from edgemem.memory.analyze import AnalyzeOptions, analyze  # noqa: E402
from edgemem.units import format_bytes  # noqa: E402


def best_of(fn, repeat):
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), value


def plan_onnxsim(path):
    from onnxsim import plan_activation_memory

    return plan_activation_memory(onnx.load(str(path))).arena_bytes


def plan_onnx_tool(path):
    import onnx_tool

    model = onnx_tool.Model(str(path))
    model.graph.shape_infer()
    return model.graph.compress_memory()[1]


def _peer_child(fn, path, repeat, queue):
    try:
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            arena = fn(path)
            times.append(time.perf_counter() - start)
        queue.put((min(times), arena))
    except Exception as exc:
        queue.put(f"failed: {type(exc).__name__}")


def run_peer(fn, path, repeat, timeout_s):
    """A peer planner in a child process, so a slow one is cut off at ``timeout_s`` and reported."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_peer_child, args=(fn, path, repeat, queue))
    child.start()
    child.join(timeout_s)
    if child.is_alive():
        child.kill()
        child.join()
        return f"> {timeout_s:.0f} s (stopped)"
    return queue.get() if not queue.empty() else "failed: no result"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--peer-timeout", type=float, default=120.0, help="seconds before a peer planner is stopped")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        corpus = {
            f"residual_mlp ({args.nodes} nodes)": residual_mlp(args.nodes),
            f"random_dag ({args.nodes} nodes)": random_dag(args.nodes),
            "mobilenet_v2_like 224": mobilenet_v2_like(224),
        }
        bundled = Path(__file__).resolve().parents[1] / "examples" / "models" / "branchy_cnn.onnx"
        for name, model in corpus.items():
            path = Path(tmp) / f"{name.split()[0]}.onnx"
            onnx.save(model, str(path))
            corpus[name] = path
        corpus["branchy_cnn (bundled example)"] = bundled
        for name, path in corpus.items():
            load_s, _, graph = best_of(lambda: load_graph(path), 1)
            fast_s, fast_med, report = best_of(lambda: analyze(graph, AnalyzeOptions(orders=("stored", "greedy"))), args.repeat)
            full_s, _, full = best_of(lambda: analyze(graph, AnalyzeOptions()), 1)
            row = {"model": name, "nodes": len(graph.nodes), "load_s": load_s, "stored+greedy+arena_s": fast_s,
                   "median_s": fast_med, "with_optimal_s": full_s, "best_peak": full.best.peak_bytes, "arena": report.best.arena_bytes}
            for peer, module, fn in (("onnxsim", "onnxsim", plan_onnxsim), ("onnx-tool", "onnx_tool", plan_onnx_tool)):
                if importlib.util.find_spec(module) is None:
                    row[peer] = None
                    continue
                row[peer] = run_peer(fn, path, 1 if len(graph.nodes) > 2000 else args.repeat, args.peer_timeout)
            rows.append(row)
    print(f"{'model':32} {'nodes':>6} {'load':>8} {'stored+greedy+arena':>20} {'+optimal':>9} {'edgemem arena':>14} "
          f"{'onnxsim (time, arena)':>28} {'onnx-tool (time, arena)':>28}")
    for r in rows:
        peers = []
        for peer in ("onnxsim", "onnx-tool"):
            v = r[peer]
            if isinstance(v, tuple):
                peers.append(f"{v[0]:.3f} s x{r['stored+greedy+arena_s'] / v[0]:.1f}, {format_bytes(v[1])}")
            else:
                peers.append(str(v or "not installed"))
        print(f"{r['model']:32} {r['nodes']:>6} {r['load_s']:>7.2f}s {r['stored+greedy+arena_s']:>19.3f}s {r['with_optimal_s']:>8.2f}s "
              f"{format_bytes(r['arena']):>14} {peers[0]:>28} {peers[1]:>28}")
    print("x = edgemem time / peer time (peers plan the stored order only; edgemem also searches orders).")
    for row in rows[:2]:
        took = row["stored+greedy+arena_s"]
        print(f"target: stored+greedy+arena on {row['nodes']} nodes under 2 s -> {row['model']}: {took:.2f} s ({'met' if took < 2 else 'NOT met'})")


if __name__ == "__main__":
    main()
