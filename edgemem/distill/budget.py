"""What a model needs in memory, as the analyzer sees its ONNX export.

``measure_memory`` exports the model (RED blocks included) for one input shape, loads the file
with ``edgemem.graph`` and runs ``edgemem.memory.analyze`` with the stored and greedy orders
under the default in-place convention, activations counted at ``precision``. The budget search
compares ``arena_bytes`` (what ``edgemem analyze --budget`` compares; never below the peak),
plus ``weights_bytes`` for the "total" scope. Weights are counted as stored (fp32), exactly as
the analyzer does.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from edgemem.errors import ConfigError

PRECISIONS = ("fp32", "fp16", "int8")
SCOPES = ("activations", "total")


@dataclass(frozen=True)
class ModelMemory:
    peak_activation_bytes: int  # live-set peak of the best order (batch as in input_shape)
    arena_bytes: int  # arena of the best order after placement (64-byte aligned)
    weights_bytes: int  # initializers of the exported graph (BatchNorm folded into convs)
    onnx_path: Path | None  # the analysed export; None when it was written to a temporary folder
    precision: str = "fp32"
    peak_node: str = ""  # node at which the peak occurs

    def required_bytes(self, scope: str) -> int:
        """What a budget of ``scope`` is compared with."""
        return self.arena_bytes + (self.weights_bytes if scope == "total" else 0)


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}", hint=f"choose {', '.join(PRECISIONS)}")
    return precision


def check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise ConfigError(f"unknown budget scope {scope!r}", hint="activations (peak activation memory) or total (+ weights)")
    return scope


def analyze_onnx(path: Path, precision: str):
    """The analyzer's MemoryReport for ``path``: stored and greedy orders, in-place convention."""
    from edgemem.graph import LoadOptions, load_graph
    from edgemem.memory.analyze import AnalyzeOptions, analyze
    from edgemem.memory.convention import Convention

    graph = load_graph(path, LoadOptions())
    return analyze(graph, AnalyzeOptions(orders=("stored", "greedy"), convention=Convention(precision=precision)))


def measure_memory(model, input_shape, precision: str = "fp32", workdir: Path | None = None) -> ModelMemory:
    """Export ``model`` at ``input_shape`` to ONNX and analyze it; ``workdir`` keeps ``model.onnx``."""
    from edgemem.distill.export import export_onnx

    check_precision(precision)
    with tempfile.TemporaryDirectory(prefix="edgemem-measure-") as tmp:
        folder = Path(workdir) if workdir is not None else Path(tmp)
        path = export_onnx(model, tuple(input_shape), folder / "model.onnx")
        report = analyze_onnx(path, precision)
    return ModelMemory(
        peak_activation_bytes=report.best.peak_bytes,
        arena_bytes=report.best.arena_bytes,
        weights_bytes=report.weights_bytes,
        onnx_path=path if workdir is not None else None,
        precision=precision,
        peak_node=report.best.peak_node,
    )
