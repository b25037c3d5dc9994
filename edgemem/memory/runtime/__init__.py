"""Runtime-aware memory prediction: what a given runtime will really hold for a model.

The theoretical analysis (``edgemem.memory.analyze``) answers "how little memory can this graph
run in"; this package answers "how much will ONNX Runtime / TVM / TensorRT use for it, with these
settings", by replaying each runtime's execution order, allocation plan, kernel scratch and
allocator. One module per runtime, chosen by name from ``RUNTIMES``; all pure functions over
graph records (and, for TVM, the allocation program read from its compiled module).
"""

from __future__ import annotations

from edgemem.memory.runtime.onnxruntime import OrtSettings, predict_onnxruntime
from edgemem.memory.runtime.prediction import PARTS, Part, RuntimeBaseline, RuntimePrediction, Setting
from edgemem.memory.runtime.tensorrt import EngineFacts, predict_tensorrt
from edgemem.memory.runtime.tvm import TvmSettings, predict_tvm

# runtime name -> (predict function, settings type or None)
RUNTIMES = {
    "onnxruntime": (predict_onnxruntime, OrtSettings),
    "tvm": (predict_tvm, TvmSettings),
    "tensorrt": (predict_tensorrt, None),
}

__all__ = ["RUNTIMES", "PARTS", "Part", "RuntimeBaseline", "RuntimePrediction", "Setting", "OrtSettings", "TvmSettings",
           "EngineFacts", "predict_onnxruntime", "predict_tvm", "predict_tensorrt"]
