"""What a model needs in memory, as the analyzer sees its ONNX export, and its budget verdict.

``measure_memory`` exports the model (RED blocks included) for one input shape, loads the file
with ``edgemem.graph`` and runs ``edgemem.memory.analyze`` with the stored and greedy orders
under the default in-place convention, activations counted at ``precision``, and the budget
passed in: the verdict (``ModelMemory.budget``) is the analyzer's own ``BudgetCheck``, so what
counts against a budget is defined once (``edgemem.budget.MemoryParts``). Weights are counted as
stored (fp32), exactly as the analyzer does.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from edgemem.budget import Budget, BudgetCheck, MemoryParts, Precision, Scope
from edgemem.graph import LoadOptions, load_graph
from edgemem.memory.analyze import AnalyzeOptions, analyze
from edgemem.memory.convention import Convention

ORDERS = ("stored", "greedy")


@dataclass(frozen=True)
class ModelMemory:
    peak_activation_bytes: int  # live-set peak of the best order (batch as in input_shape)
    arena_bytes: int  # arena of the best order after placement (64-byte aligned)
    weights_bytes: int  # initializers of the exported graph (BatchNorm folded into convs)
    onnx_path: Path | None  # the analysed export; None when it was written to a temporary folder
    precision: Precision = Precision.FP32
    peak_node: str = ""  # node at which the peak occurs
    budget: BudgetCheck | None = None  # the analyzer's verdict when a budget was passed

    @property
    def parts(self) -> MemoryParts:
        return MemoryParts(activations_bytes=self.arena_bytes, weights_bytes=self.weights_bytes)

    def required_bytes(self, scope: Scope | str) -> int:
        """What a budget of ``scope`` is compared with (edgemem.budget.MemoryParts)."""
        return self.parts.required_bytes(Scope.parse(scope))


def analyze_graph(graph, precision: Precision | str, budget: Budget | None = None, onnx_path: Path | None = None) -> ModelMemory:
    """The analyzer's memory and budget verdict of a loaded graph (stored and greedy orders, in-place convention)."""
    precision = Precision.parse(precision)
    report = analyze(graph, AnalyzeOptions(orders=ORDERS, convention=Convention(precision=precision), budget=budget))
    return ModelMemory(peak_activation_bytes=report.best.peak_bytes, arena_bytes=report.best.arena_bytes,
                       weights_bytes=report.weights_bytes, onnx_path=onnx_path, precision=precision,
                       peak_node=report.best.peak_node, budget=report.budget)


def analyze_file(path: Path, precision: Precision | str, budget: Budget | None = None) -> ModelMemory:
    return analyze_graph(load_graph(path, LoadOptions()), precision, budget, onnx_path=path)


def exported_graph(model, input_shape, workdir: Path | None = None):
    """(the analyzer's graph of ``model`` exported at ``input_shape``, the kept file or None); export
    is the slow part, and precision and budget do not change it, so callers may cache this."""
    from edgemem.distill.export import export_onnx  # torch

    with tempfile.TemporaryDirectory(prefix="edgemem-measure-") as tmp:
        folder = Path(workdir) if workdir is not None else Path(tmp)
        path = export_onnx(model, tuple(input_shape), folder / "model.onnx")
        return load_graph(path, LoadOptions()), (path if workdir is not None else None)


def measure_memory(model, input_shape, precision: Precision | str = Precision.FP32, workdir: Path | None = None,
                   budget: Budget | None = None) -> ModelMemory:
    """Export ``model`` at ``input_shape`` to ONNX and analyze it; ``workdir`` keeps ``model.onnx``."""
    graph, kept = exported_graph(model, input_shape, workdir)
    return analyze_graph(graph, precision, budget, onnx_path=kept)
