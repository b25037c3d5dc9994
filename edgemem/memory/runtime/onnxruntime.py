"""ONNX Runtime (CPU execution provider) as it really runs a model, from the graph alone.

The runtime-aware prediction replays what ONNX Runtime does at run time:

1. the execution order (``ort_order``): the file's order under ``ExecutionOrder.PRIORITY_BASED``,
   a reverse depth-first order of its own under the default;
2. the allocation planner (``ort_plan``): which values share a buffer (alias kernels, in-place
   kernels, same-shape reuse of dead buffers) and when each buffer is released;
3. the kernels' scratch (``ort_kernels``): MLAS convolution panels and im2col buffers, col2im
   buffers of ConvTranspose, weights repacked into the arena at session creation;
4. the BFC arena (``bfc``, ``replay``): rounding, unsplit chunks, best-fit placement, region
   growth, and the pages those chunks actually write, over repeated runs;
5. the arena's own bookkeeping: one 8-byte chunk handle per 256 bytes of every region
   (``AllocationRegion::handles_``), written when the region is created.

Each step was checked against the installed onnxruntime: the order against the profiler's
kernel sequence, the plan and arena against the per-kernel allocator statistics of its profiler,
the pages against /proc/self/pagemap (tests/memory/runtime, benchmarks/fidelity.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from edgemem.graph.types import Graph
from edgemem.memory.runtime.ort_order import EXECUTION_ORDERS, execution_order
from edgemem.memory.runtime.ort_plan import plan_trace
from edgemem.memory.runtime.prediction import (Part, RuntimeBaseline, RuntimePrediction, Setting, baseline_part, io_part,
                                               session_part)
from edgemem.memory.runtime.replay import replay_bfc
from edgemem.memory.runtime.trace import Step, Trace

HANDLE_BYTES_PER_256 = 8
PAGE_BYTES = 4096
MMAP_THRESHOLD_BYTES = 128 * 1024
RUNS = 3


@dataclass(frozen=True)
class OrtSettings:
    """The session options the prediction models (and verify applies)."""

    execution_order: str = "priority"
    threads: int = 1
    arena_extend_strategy: str = "next_power_of_two"
    mem_pattern: bool = False
    cpu_arena: bool = True
    graph_optimization: str = "disable"

    def unsupported(self) -> list[str]:
        problems = []
        if self.execution_order not in EXECUTION_ORDERS:
            problems.append(f"execution order {self.execution_order!r}")
        if self.mem_pattern:
            problems.append("memory patterns (a traced first run, then one planned block)")
        if not self.cpu_arena:
            problems.append("no CPU arena (glibc malloc per tensor, growing over runs)")
        if self.graph_optimization != "disable":
            problems.append(f"graph optimization level {self.graph_optimization!r} (the graph that runs is not the file's)")
        return problems


def describe_settings(s: OrtSettings) -> tuple[Setting, ...]:
    order = ("the file's order (PRIORITY_BASED): edgemem's --write-order file runs as analyzed"
             if s.execution_order == "priority" else "ONNX Runtime's reverse depth-first order (DEFAULT)")
    return (
        Setting("execution_order", s.execution_order, order),
        Setting("intra_op_num_threads", str(s.threads), "explicit: each thread takes its own convolution panel"),
        Setting("enable_cpu_mem_arena", str(s.cpu_arena), "one BFC arena, replayed exactly; without it glibc's heap grows run after run"),
        Setting("enable_mem_pattern", str(s.mem_pattern), "off: the first run and later runs allocate alike"),
        Setting("arena_extend_strategy", s.arena_extend_strategy, "ONNX Runtime's default, replayed"),
        Setting("graph_optimization_level", s.graph_optimization, "the file runs as written (optimize offline, then verify that file)"),
        Setting("MALLOC_MMAP_THRESHOLD_", "131072", "arena regions are fresh pages: RSS grows by exactly the pages written"),
    )


def bookkeeping_bytes(region_sizes: list[int]) -> int:
    """Resident bytes of the arena's per-region chunk-handle vectors (8 bytes per 256)."""
    total = 0
    for size in region_sizes:
        vector = -(-size // 256) * HANDLE_BYTES_PER_256
        total += -(-(vector + 16) // PAGE_BYTES) * PAGE_BYTES if vector >= MMAP_THRESHOLD_BYTES else vector
    return total


def without_scratch(trace: Trace) -> Trace:
    """The same trace with the kernels' scratch left out (to tell the tensors' pages from scratch's)."""
    def keep(blocks: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(b for b in blocks if trace.blocks[b].kind != "scratch")

    steps = tuple(Step(s.node, s.op_type, keep(s.allocate), keep(s.release)) for s in trace.steps)
    return Trace(trace.blocks, steps, trace.release_at_end, trace.outputs, trace.prepacked)


def arena_figures(trace: Trace, settings: OrtSettings) -> dict:
    full = replay_bfc(trace, settings.arena_extend_strategy, RUNS)
    tensors = replay_bfc(without_scratch(trace), settings.arena_extend_strategy, RUNS)
    return {"replay": full, "resident_without_scratch_bytes": tensors.resident_bytes}


def largest_initializer(graph: Graph) -> int:
    return max((t.size_bytes for t in graph.tensors.values() if t.kind == "weight"), default=0)


def predict_onnxruntime(graph: Graph, settings: OrtSettings = OrtSettings(), baseline: RuntimeBaseline = RuntimeBaseline(),
                        static_names: frozenset[str] | None = None) -> RuntimePrediction:
    """What ONNX Runtime will hold for ``graph`` with ``settings``, part by part."""
    order = execution_order(graph, settings.execution_order if settings.execution_order in EXECUTION_ORDERS else "priority")
    trace = plan_trace(graph, order, settings.threads, static_names)
    figures = arena_figures(trace, settings)
    replay = figures["replay"]
    bookkeeping = bookkeeping_bytes(list(replay.region_sizes[replay.session_regions:]))
    session_bookkeeping = bookkeeping_bytes(list(replay.region_sizes[:replay.session_regions]))
    tensors = figures["resident_without_scratch_bytes"]
    kernel_scratch = replay.resident_bytes - tensors
    scratch = None if baseline.first_run_bytes is None else kernel_scratch + bookkeeping + baseline.first_run_bytes
    parts = (
        baseline_part(baseline, "onnxruntime"),
        Part("weights", graph.weights_bytes, "initializer bytes in the model"),
        session_part(baseline, len(graph.nodes), replay.prepacked_resident_bytes + session_bookkeeping, "onnxruntime",
                     f" + {replay.prepacked_resident_bytes} B of weights repacked into the arena"),
        Part("activations", tensors, f"BFC arena pages written by the tensors over {RUNS} runs (outputs included)"),
        Part("scratch", scratch, f"kernel scratch pages {kernel_scratch} B + arena bookkeeping {bookkeeping} B + first-run "
             f"runtime memory ({baseline.source})" if scratch is not None else
             "unknown: no calibrated first-run figure for onnxruntime"),
        io_part(sum(graph.tensors[n].size_bytes for n in graph.inputs), baseline),
    )
    notes = tuple(f"not modelled: {p}; the prediction assumes the default instead" for p in settings.unsupported())
    details = {"arena_reserved_bytes": replay.reserved_bytes, "arena_peak_in_use_bytes": replay.peak_in_use_bytes,
               "arena_peak_requested_bytes": replay.peak_requested_bytes, "arena_resident_bytes": replay.resident_bytes,
               "arena_regions": list(replay.region_sizes), "bookkeeping_bytes": bookkeeping,
               "output_bytes": trace.bytes_of("output"), "resident_per_run": list(replay.resident_per_run),
               "in_use_per_step": list(replay.in_use_per_step), "load_transient_bytes": largest_initializer(graph),
               "buffers": len([b for b in trace.blocks if b.kind != "scratch"])}
    return RuntimePrediction("onnxruntime", describe_settings(settings), tuple(graph.nodes[i].name for i in order),
                             "replayed ONNX Runtime's GraphViewer order", parts, details, notes)
