"""Independent re-implementations of the arena planners users run today, written from their
sources, for differential tests against edgemem's portfolio. They share no code with
edgemem.memory.placement: each takes padded sizes and inclusive [first, last] step intervals
and returns (offsets, arena_bytes).

  tflite            TFLite ArenaPlanner + SimpleMemoryArena (tensorflow/lite/arena_planner.cc,
                    simple_memory_arena.cc): size descending, ties by first use; best-fit gap
  tvm_greedy_by_size, tvm_greedy_by_conflicts
                    TVM USMP (src/tir/usmp/algo/greedy.cc): sorted by size/conflicts (ties by
                    name, descending); offset = the highest end of any placed conflicting buffer
  onnxsim           onnxsim 0.8.1 (onnxsim/memory_planning.cpp): size descending, ties by name;
                    best-fit gap among overlapping placed groups
  onnx_tool         onnx-tool 1.0.1 (onnx_tool/graph.py Graph.compress_memory): online, in
                    execution order; frees merge with free neighbours; first free block that
                    fits, split only when more than 1 MiB is left; else the last free block
                    grows or a block is appended
"""

from tests.memory.baselines.onnx_tool import onnx_tool
from tests.memory.baselines.onnxsim import onnxsim
from tests.memory.baselines.tflite import tflite
from tests.memory.baselines.tvm import tvm_greedy_by_conflicts, tvm_greedy_by_size

BASELINES = {
    "tflite": tflite,
    "tvm_greedy_by_size": tvm_greedy_by_size,
    "tvm_greedy_by_conflicts": tvm_greedy_by_conflicts,
    "onnxsim": onnxsim,
    "onnx_tool": onnx_tool,
}

__all__ = ["BASELINES"]
