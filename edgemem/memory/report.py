"""MemoryReport: the frozen result of ``analyze``. Standard library only, so output/ can render it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

SCHEMA = "edgemem.memory_report/1"


@dataclass(frozen=True)
class LiveTensor:
    """A buffer live at the peak step."""

    name: str
    size_bytes: int
    producer: str | None  # node that allocates it; None for a graph input
    op_type: str | None
    tensors: int  # tensors sharing the buffer (views, in-place results)


@dataclass(frozen=True)
class OrderReport:
    name: str  # "stored" | "greedy" | "optimal"
    peak_bytes: int  # live-set peak of this order (unpadded)
    arena_bytes: int  # arena size after placement (padded to the alignment)
    arena_lower_bound_bytes: int  # live-set peak with padded sizes: no placement can beat it
    fragmentation: float  # arena / arena lower bound - 1
    peak_step: int
    peak_node: str
    peak_op: str
    proved_optimal: bool  # no order has a lower peak
    lower_bound_bytes: int  # proved lower bound on the peak of any order
    gap: float  # (peak - lower bound) / peak
    method: str
    search_s: float
    placement: str  # placement algorithm that produced the arena
    verified: bool  # verify.check_plan passed
    peak_tensors: tuple[LiveTensor, ...]
    profile_bytes: tuple[int, ...]  # live bytes per step
    order: tuple[str, ...]  # node names in execution order
    offsets: dict  # buffer name -> (offset, padded size, first step, last step)


@dataclass(frozen=True)
class TensorRow:
    name: str
    dtype: str
    shape: tuple[int, ...]
    size_bytes: int
    kind: str  # input | activation | weight
    source: str  # how the size was obtained
    producer: str | None
    buffer: str | None  # buffer (root tensor) it lives in; None for weights and views of weights


@dataclass(frozen=True)
class BudgetCheck:
    budget_bytes: int
    scope: str  # "activations" | "total" (activations + weights)
    required_bytes: int  # what was compared: best arena (+ weights for total)
    fits: bool
    shortfall_bytes: int  # required - budget when it does not fit, else 0


@dataclass(frozen=True)
class Convention:
    inplace: bool
    alias_views: bool
    alignment_bytes: int
    precision: str | None
    description: str


@dataclass(frozen=True)
class MemoryReport:
    model: str
    path: str
    opset: int
    nodes: int
    weights_bytes: int
    activations_total_bytes: int  # every activation tensor its own buffer, no reuse at all
    lower_bound_bytes: int  # largest single-node working set
    order_lower_bound_bytes: int  # max of the order-independent bounds (working set, inputs, outputs)
    orders: tuple[OrderReport, ...]
    best: OrderReport
    budget: BudgetCheck | None
    convention: Convention
    buffers: int
    aliased_tensors: int
    inplace_tensors: int
    size_sources: dict  # source -> number of tensors sized that way
    tensors: tuple[TensorRow, ...]
    notes: tuple[str, ...]
    analysis_s: float
    schema: str = SCHEMA

    def to_json(self, detail: bool = False) -> dict:
        """The --json document. ``detail`` adds per-step profiles, orders and offsets."""
        orders = []
        for o in self.orders:
            row = {k: v for k, v in asdict(o).items() if k not in ("profile_bytes", "order", "offsets")}
            if detail:
                row.update(profile_bytes=list(o.profile_bytes), order=list(o.order), offsets=o.offsets)
            orders.append(row)
        doc = {
            "schema": self.schema,
            "model": self.model,
            "path": self.path,
            "opset": self.opset,
            "nodes": self.nodes,
            "weights_bytes": self.weights_bytes,
            "activations_total_bytes": self.activations_total_bytes,
            "lower_bound_bytes": self.lower_bound_bytes,
            "order_lower_bound_bytes": self.order_lower_bound_bytes,
            "orders": orders,
            "best": {"order": self.best.name, "peak_bytes": self.best.peak_bytes, "arena_bytes": self.best.arena_bytes},
            "budget": asdict(self.budget) if self.budget else None,
            "convention": asdict(self.convention),
            "buffers": self.buffers,
            "aliased_tensors": self.aliased_tensors,
            "inplace_tensors": self.inplace_tensors,
            "size_sources": dict(self.size_sources),
            "notes": list(self.notes),
            "analysis_s": round(self.analysis_s, 4),
            "tensors": [asdict(t) for t in self.tensors],
        }
        return doc
