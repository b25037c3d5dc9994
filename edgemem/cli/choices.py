"""Every choice a flag offers, as an Enum built from the library's own table (so --help lists the
choices, a bad value is click's usage error, exit 2, and matching is case-insensitive).

Each Enum is built on first use from its table (module attribute ``__getattr__``), so a command
imports only the tables its own flags need: ``edgemem analyze`` never imports distill or bench.
"""

from __future__ import annotations

from enum import Enum
from importlib import import_module

from edgemem.budget import Precision, Scope

__all__ = ["Precision", "Scope", "Order", "Placement", "InplaceRule", "Method", "Dataset", "Blocks", "Task", "Backend",
           "TrtMode", "OrtProvider", "ExecutionOrder"]

TABLES = {  # Enum name -> (module, attribute holding the values, extra values)
    "Order": ("edgemem.memory.schedule", "STRATEGIES", ()),
    "Placement": ("edgemem.memory.placement", "ALGORITHMS", ()),
    "InplaceRule": ("edgemem.memory.convention", "INPLACE_RULES", ("all",)),
    "Method": ("edgemem.distill.trainers", "method_names", ()),
    "Dataset": ("edgemem.distill.data", "DATASETS", ()),
    "Blocks": ("edgemem.distill.blockwise.options", "GRANULARITIES", ()),
    "Task": ("edgemem.distill.config", "TASKS", ()),
    "Backend": ("edgemem.bench.backends", "BACKENDS", ()),
    "TrtMode": ("edgemem.bench.backends.tensorrt", "MODES", ()),
    "OrtProvider": ("edgemem.bench.backends.onnxruntime", "PROVIDERS", ()),
    "ExecutionOrder": ("edgemem.memory.runtime.ort_order", "EXECUTION_ORDERS", ()),
}
_built: dict[str, type[Enum]] = {}


def choices(name: str, values) -> type[Enum]:
    """A str Enum whose members are ``values`` (in table order)."""
    return Enum(name, [(str(v).upper().replace("-", "_"), str(v)) for v in values], type=str)


def __getattr__(name: str) -> type[Enum]:
    if name not in TABLES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name not in _built:
        module, attribute, extra = TABLES[name]
        values = getattr(import_module(module), attribute)
        _built[name] = choices(name, (*(values() if callable(values) else values), *extra))
    return _built[name]
