"""Every choice a flag offers, as an Enum built from the library's own table (so --help lists the
choices, a bad value is click's usage error, exit 2, and matching is case-insensitive)."""

from __future__ import annotations

from enum import Enum

from edgemem.bench.backends import BACKENDS
from edgemem.bench.backends.onnxruntime import PROVIDERS
from edgemem.bench.backends.tensorrt import MODES
from edgemem.budget import Precision, Scope
from edgemem.distill.blockwise.options import GRANULARITIES
from edgemem.distill.data import DATASETS
from edgemem.distill.trainers import method_names
from edgemem.memory.convention import INPLACE_RULES
from edgemem.memory.placement import ALGORITHMS
from edgemem.memory.runtime.ort_order import EXECUTION_ORDERS
from edgemem.memory.schedule import STRATEGIES

__all__ = ["Precision", "Scope", "Order", "Placement", "InplaceRule", "Method", "Dataset", "Blocks", "Backend",
           "TrtMode", "OrtProvider", "ExecutionOrder"]


def choices(name: str, values) -> type[Enum]:
    """A str Enum whose members are ``values`` (in table order)."""
    return Enum(name, [(str(v).upper().replace("-", "_"), str(v)) for v in values], type=str)


Order = choices("Order", STRATEGIES)
Placement = choices("Placement", ALGORITHMS)
InplaceRule = choices("InplaceRule", (*INPLACE_RULES, "all"))
Method = choices("Method", method_names())
Dataset = choices("Dataset", DATASETS)
Blocks = choices("Blocks", GRANULARITIES)
Backend = choices("Backend", BACKENDS)
TrtMode = choices("TrtMode", MODES)
OrtProvider = choices("OrtProvider", PROVIDERS)
ExecutionOrder = choices("ExecutionOrder", EXECUTION_ORDERS)
