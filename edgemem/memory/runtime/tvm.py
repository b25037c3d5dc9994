"""TVM (Relax VM, CPU) as it really runs a compiled model, from the module's allocation program.

The order is the program's: one TIR kernel per Relax operator, in the order the ONNX frontend
emitted them (the file's node order; an ONNX node may become several kernels, e.g. a Conv with
bias is a conv2d and an add of the reshaped bias, a Gemm with transB transposes its weight at
every run). TVM's static planner decides which tensors share a storage; edgemem replays what the
runtime does with that plan (``tvm_replay``): the VM allocator's page rounding and size-exact
reuse, the kernels' workspace pool, and the pages each buffer writes over repeated runs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from edgemem.graph.types import Graph
from edgemem.memory.runtime.prediction import (Part, RuntimeBaseline, RuntimePrediction, Setting, baseline_part, io_part,
                                               session_part)
from edgemem.memory.runtime.tvm_program import VM_ALLOCATORS, VmProgram
from edgemem.memory.runtime.tvm_replay import replay_program

RUNS = 3


@dataclass(frozen=True)
class TvmSettings:
    allocator: str = "pooled"
    target: str = "llvm"


def describe_settings(s: TvmSettings) -> tuple[Setting, ...]:
    return (
        Setting("target", s.target, "compiled with tvm.compile's default Relax pipeline (no fusion on CPU)"),
        Setting("memory_cfg", s.allocator, "TVM's default pooled allocator: after the first run every storage is reused, "
                "so the memory is the same run after run" if s.allocator == "pooled" else
                "every storage returned when it dies: less memory, more allocation calls"),
        Setting("MALLOC_MMAP_THRESHOLD_", "131072", "large buffers are fresh pages: RSS grows by exactly the pages written"),
    )


def without_workspace(program: VmProgram) -> VmProgram:
    ops = tuple(replace(op, workspace=()) if op.kind == "call" else op for op in program.ops)
    return VmProgram(ops, program.outputs, program.unknown)


LOAD_COPIES = 2  # loading a module holds two more copies of its constants than it keeps (measured, TVM 0.27)


def predict_tvm(graph: Graph, program: VmProgram, settings: TvmSettings = TvmSettings(),
                baseline: RuntimeBaseline = RuntimeBaseline(), library_bytes: int = 0) -> RuntimePrediction:
    """What the Relax VM will hold for ``program`` (read from the compiled module), part by part.

    ``library_bytes`` is the size of the compiled module: its pages stay resident once loaded (the
    constants are embedded in it and read at load), next to the copies the VM keeps."""
    if settings.allocator not in VM_ALLOCATORS:
        raise ValueError(f"unknown TVM allocator {settings.allocator!r}")
    full = replay_program(program, settings.allocator, RUNS)
    storages = replay_program(without_workspace(program), settings.allocator, RUNS)
    first_run = baseline.first_run_bytes
    kernel_scratch = full.peak_resident_bytes - storages.peak_resident_bytes
    scratch = None if first_run is None else kernel_scratch + first_run
    parts = (
        baseline_part(baseline, "tvm"),
        Part("weights", graph.weights_bytes, "initializer bytes in the model (constants of the compiled module)"),
        session_part(baseline, len(program.kernels), library_bytes, "tvm",
                     f" + the {library_bytes} B module file, resident once loaded"),
        Part("activations", storages.peak_resident_bytes,
             f"pages written in the VM's {settings.allocator} storages over {RUNS} runs (outputs included)"),
        Part("scratch", scratch, f"kernel workspace pool {kernel_scratch} B + first-run runtime memory ({baseline.source})"
             if first_run is not None else "unknown: the device profile has no first-run figure for tvm"),
        io_part(sum(graph.tensors[n].size_bytes for n in graph.inputs), baseline),
    )
    notes = tuple(f"the program has operations edgemem does not account for: {name}" for name in program.unknown)
    details = {"storages": sum(1 for op in program.ops if op.kind == "storage"),
               "storage_bytes_planned": program.storage_bytes, "storage_bytes_created": full.storage_created_bytes,
               "workspace_peak_bytes": full.workspace_peak_bytes, "output_bytes": full.output_bytes,
               "resident_per_run": list(full.resident_per_run), "kernels": len(program.kernels),
               "load_transient_bytes": LOAD_COPIES * graph.weights_bytes}
    return RuntimePrediction("tvm", describe_settings(settings), program.kernels,
                             "the compiled Relax program's kernel calls (the ONNX file's node order)", parts, details, notes)
