"""edgemem bench: the agent's own overhead, and measured vs predicted activation peak (ONNX Runtime CPU).

For each model (small CNNs and an MLP built here with onnx.helper):
  * predicted: the analyzer's planned activation arena (best order) for the model as stored;
  * measured: what `edgemem bench --host local` measures for the activation part of a fresh
    ONNX Runtime process (VmHWM over the runs minus VmRSS after load, minus code pages), with the
    CPU arena on (ORT's default) and off;
  * agent overhead: the agent process's own peak RSS and CPU time, the wall time of the whole
    bench call against the measuring child's own lifetime, and the median latency the agent
    reports against a plain in-process ONNX Runtime loop measured in the same run (same model,
    same inputs, same thread settings), as a ratio.

    python benchmarks/bench_overhead.py [--duration 2] [--models tiny_cnn,vgg_block] [--json out.json]

Numbers are measured on this machine in this run; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RNG = np.random.default_rng(0)


def init(name, *shape):
    return numpy_helper.from_array((RNG.standard_normal(shape) * 0.1).astype(np.float32), name)


def conv(i, x, cin, cout, k=3, stride=1, group=1, relu=True):
    w = init(f"w{i}", cout, cin // group, k, k)
    nodes = [helper.make_node("Conv", [x, w.name], [f"c{i}"], pads=[k // 2] * 4, strides=[stride, stride], group=group, name=f"conv{i}")]
    if relu:
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"], name=f"relu{i}"))
    return nodes, [w], f"r{i}" if relu else f"c{i}"


def head(nodes, weights, x, channels, classes=10):
    weights.append(init("fc", classes, channels))
    nodes += [helper.make_node("GlobalAveragePool", [x], ["gap"], name="gap"),
              helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
              helper.make_node("Gemm", ["flat", "fc"], ["y"], transB=1, name="fc")]


def model(name, nodes, weights, input_shape, output_shape) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, output_shape)], weights)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def chain(name, size, plan):
    """A straight CNN: plan = [(cout, stride, group), ...]."""
    nodes, weights, x, cin = [], [], "x", 3
    for i, (cout, stride, group) in enumerate(plan):
        n, w, x = conv(i, x, cin, cout, stride=stride, group=group)
        nodes += n
        weights += w
        cin = cout
    head(nodes, weights, x, cin)
    return model(name, nodes, weights, [1, 3, size, size], [1, 10])


def resnet_block(size=56, channels=64):
    nodes, weights, x = [], [], "x"
    n, w, x = conv(0, x, 3, channels, stride=1)
    nodes += n
    weights += w
    for b in range(3):
        n1, w1, y = conv(10 * b + 1, x, channels, channels)
        n2, w2, y = conv(10 * b + 2, y, channels, channels, relu=False)
        nodes += n1 + n2 + [helper.make_node("Add", [x, y], [f"add{b}"], name=f"add{b}"),
                            helper.make_node("Relu", [f"add{b}"], [f"out{b}"], name=f"out{b}")]
        weights += w1 + w2
        x = f"out{b}"
    head(nodes, weights, x, channels)
    return model("resnet_block", nodes, weights, [1, 3, size, size], [1, 10])


def mlp(width=2048, depth=4):
    nodes, weights, x, cin = [], [], "x", 512
    for i in range(depth):
        weights += [init(f"w{i}", cin, width), init(f"b{i}", width)]
        nodes += [helper.make_node("Gemm", [x, f"w{i}", f"b{i}"], [f"g{i}"], name=f"gemm{i}"),
                  helper.make_node("Relu", [f"g{i}"], [f"h{i}"], name=f"relu{i}")]
        x, cin = f"h{i}", width
    weights.append(init("wo", cin, 10))
    nodes.append(helper.make_node("MatMul", [x, "wo"], ["y"], name="out"))
    return model("mlp", nodes, weights, [1, 512], [1, 10])


MODELS = {
    "tiny_cnn": lambda: chain("tiny_cnn", 64, [(16, 1, 1), (32, 2, 1)]),
    "vgg_block": lambda: chain("vgg_block", 224, [(64, 1, 1), (64, 1, 1), (128, 2, 1), (128, 1, 1)]),
    "mobilenet_like": lambda: chain("mobilenet_like", 224, [(32, 2, 1), (32, 1, 32), (64, 1, 1), (64, 2, 64), (128, 1, 1)]),
    "resnet_block": resnet_block,
    "mlp": mlp,
}


def predicted_arena(path: Path) -> tuple[int, int]:
    from edgemem.graph import load_graph
    from edgemem.memory.analyze import AnalyzeOptions, analyze

    report = analyze(load_graph(path), AnalyzeOptions(time_limit_s=5.0))
    return report.best.arena_bytes, report.weights_bytes


def direct_median_ms(path: Path, seconds: float) -> float:
    """A plain ONNX Runtime loop in this process: the reference the agent's timing is compared with."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {i.name: np.random.RandomState(0).standard_normal([d if isinstance(d, int) else 1 for d in i.shape]).astype(np.float32)
            for i in session.get_inputs()}
    for _ in range(10):
        session.run(None, feed)
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 50:
        t = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def bench_once(path: Path, seconds: float, arena: bool, artifacts: Path):
    from edgemem.bench.request import BenchRequest
    from edgemem.bench.run import Target, run_bench

    request = BenchRequest(model=path, warmup_s=0.3, duration_s=seconds, baseline_s=0.5, max_runs=10**7,
                           options={"provider": "cpu", "cpu_arena": arena})
    start = time.perf_counter()
    result = run_bench(request, Target("local"), artifacts)
    wall = time.perf_counter() - start
    raw = json.loads((Path(result.artifacts_dir) / "result.json").read_text())
    phases = raw["stages"]["run"]["phases"]
    child_s = phases[-1]["t_s"]  # the measuring child's own lifetime
    return result, wall, child_s


def mib(n):
    return "-" if n is None else f"{n / (1 << 20):8.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=2.0, help="timed seconds per run (default 2)")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated, from: " + ", ".join(MODELS))
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgemem-bench-overhead-") as tmp:
        os.environ.setdefault("EDGEMEM_CACHE", str(Path(tmp) / "cache"))
        for name in args.models.split(","):
            path = Path(tmp) / f"{name}.onnx"
            onnx.save(MODELS[name](), str(path))
            predicted, weights = predicted_arena(path)
            on, wall, child_s = bench_once(path, args.duration, True, Path(tmp) / "logs")
            off, _, _ = bench_once(path, args.duration, False, Path(tmp) / "logs")
            direct = direct_median_ms(path, args.duration)
            agent = on.backend_info["agent_overhead"]
            rows.append({
                "model": name, "weights_bytes": weights, "predicted_arena_bytes": predicted,
                "measured_activations_arena_bytes": on.memory.activations.value_bytes,
                "measured_activations_no_arena_bytes": off.memory.activations.value_bytes,
                "ratio_arena": on.memory.activations.value_bytes / predicted,
                "ratio_no_arena": off.memory.activations.value_bytes / predicted,
                "process_peak_bytes": on.memory.process_peak.value_bytes,
                "runtime_baseline_bytes": on.memory.runtime_baseline.value_bytes,
                "agent_hwm_bytes": agent["hwm_bytes"], "agent_cpu_s": agent["cpu_s"],
                "bench_wall_s": wall, "child_s": child_s, "timed_s": args.duration,
                "median_ms_agent": on.latency.median_ms, "median_ms_direct": direct,
                "latency_ratio": on.latency.median_ms / direct,
            })
            print(f"measured {name}", file=sys.stderr)
    print(f"\nedgemem bench overhead, ONNX Runtime CPU, {os.cpu_count()} CPUs, timed {args.duration:.1f} s per run "
          f"(sizes in MiB)\n")
    header = (f"{'model':15} {'weights':>8} {'predicted':>9} {'measured':>9} {'ratio':>6} {'no-arena':>9} {'ratio':>6} "
              f"{'proc.peak':>9} {'runtime':>8} {'agentRSS':>8} {'agentCPU':>8} {'wall s':>7} {'child s':>7} "
              f"{'med ms':>8} {'direct':>8} {'lat.x':>6}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['model']:15} {mib(r['weights_bytes'])} {mib(r['predicted_arena_bytes']):>9} "
              f"{mib(r['measured_activations_arena_bytes']):>9} {r['ratio_arena']:6.2f} "
              f"{mib(r['measured_activations_no_arena_bytes']):>9} {r['ratio_no_arena']:6.2f} {mib(r['process_peak_bytes']):>9} "
              f"{mib(r['runtime_baseline_bytes'])} {mib(r['agent_hwm_bytes'])} {r['agent_cpu_s']:8.2f} {r['bench_wall_s']:7.2f} "
              f"{r['child_s']:7.2f} {r['median_ms_agent']:8.3f} {r['median_ms_direct']:8.3f} {r['latency_ratio']:6.2f}")
    print("\npredicted: analyzer arena (best order, model as stored); measured: activation part of a fresh ORT process;"
          "\nratio = measured / predicted; agentRSS/agentCPU: the agent process itself; wall s: whole bench call"
          "\n(agent upload check, probe, 0.5 s idle baseline, run, log fetch, parse) vs child s: the measuring process;"
          "\nlat.x = median latency through the agent / plain in-process ORT loop in this script.")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
