"""TensorRT: what can be known before and after the engine is built on the device.

TensorRT's builder chooses the execution order itself: it fuses layers (convolution + bias +
activation, elementwise chains, ...), picks a kernel (tactic) per layer by timing them on the
device, and plans all activations into one device memory block whose size the engine reports
(``ICudaEngine.device_memory_size``, ``device_memory_size_v2`` from 10.x); the layer order can be
read back with the engine inspector (TensorRT 8.2+). None of this can be replayed from the ONNX
graph, so before the build the activation figure is unknown, and after it the engine's own
number is the prediction (it includes the tactics' scratch). On Jetson that block is CUDA memory
in the shared DRAM: it is not in the process's RSS, which is why a verdict needs the GPU side too.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgemem.graph.types import Graph
from edgemem.memory.runtime.prediction import Part, RuntimeBaseline, RuntimePrediction, Setting


@dataclass(frozen=True)
class EngineFacts:
    """Figures TensorRT reports for a built engine (from the device)."""

    device_memory_bytes: int  # activations + tactic scratch, one block per execution context
    engine_bytes: int  # the serialized engine (weights in the chosen precision, kernels)
    version: str = ""
    layers: tuple[str, ...] = ()  # execution order from the engine inspector, when available


def predict_tensorrt(graph: Graph, facts: EngineFacts | None = None, baseline: RuntimeBaseline = RuntimeBaseline(),
                     precision: str = "fp16") -> RuntimePrediction:
    built = facts is not None
    parts = (
        Part("runtime_baseline", baseline.import_bytes, f"TensorRT and CUDA context ({baseline.source})"),
        Part("weights", facts.engine_bytes if built else None,
             "serialized engine size (weights at the engine's precision)" if built else "unknown until the engine is built"),
        Part("session_overhead", baseline.session_bytes, f"deserializing an engine ({baseline.source})"),
        Part("activations", facts.device_memory_bytes if built else None,
             "ICudaEngine.device_memory_size: TensorRT's own plan of the activations and tactic scratch"
             if built else "unknown until the engine is built on the device: TensorRT fuses layers and plans memory itself"),
        Part("scratch", 0 if built else None, "included in the engine's device memory size" if built else "unknown until built"),
        Part("io_buffers", sum(graph.tensors[n].size_bytes for n in (*graph.inputs, *graph.outputs)),
             "device buffers bound to the inputs and outputs (float32 as declared)"),
    )
    settings = (Setting("precision", precision, "from the device profile or --precision"),)
    order = facts.layers if built and facts.layers else ()
    source = ("TensorRT's engine inspector (fused layers in execution order)" if order else
              "chosen by TensorRT's builder on the device (layer fusion and tactic selection)")
    return RuntimePrediction("tensorrt", settings, order, source, parts, {"built": built})
