"""What a distillation run reports. Standard library only, so output/ renders it without torch.

``DistillResult.to_json()`` is the ``--json`` document (schema ``edgemem.distill_result/1``).
Accuracies are fractions in [0, 1]; bytes are ints named ``*_bytes``; times ``*_s``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol

from edgemem.budget import BudgetCheck, MemoryParts, Precision, Scope, check_budget
from edgemem.distill.blockwise.result import BlockwiseReport
from edgemem.toml_tables import from_table

SCHEMA = "edgemem.distill_result/1"


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int  # 1-based
    train_loss: float
    train_accuracy: float
    eval_accuracy: float
    lr: float
    time_s: float
    loss_parts: dict = field(default_factory=dict)  # weighted term name -> mean value


@dataclass(frozen=True)
class TrainSummary:
    """One training phase (teacher, student, baseline, a sweep member)."""

    method: str
    epochs: int
    accuracy: float  # eval accuracy after the last epoch
    train_time_s: float  # wall time of the epochs run in this process
    resumed_from_epoch: int  # 0 when the phase started fresh
    cached: bool  # loaded from a finished checkpoint / cache instead of trained now
    history: tuple[EpochMetrics, ...] = ()


@dataclass(frozen=True)
class ModelSummary:
    role: str  # teacher | student | baseline | sweep
    description: str
    accuracy: float | None
    peak_activation_bytes: int  # analyzer's peak (best order, live set) at the run's precision, batch 1
    arena_bytes: int  # analyzer's arena (placement of the best order)
    weights_bytes: int  # at the run's precision
    parameters: int
    spec: dict | None = None  # StudentSpec fields for students
    onnx_path: str | None = None
    checkpoint_path: str | None = None
    training: TrainSummary | None = None
    budget: BudgetCheck | None = None  # the analyzer's verdict on this model against --budget




@dataclass(frozen=True)
class DistillResult:
    dataset: str
    method: str
    precision: Precision
    teacher: ModelSummary
    student: ModelSummary | None
    baseline: ModelSummary | None = None
    sweep: tuple[ModelSummary, ...] = ()
    weights_budget_bytes: int | None = None  # --weights-budget
    parity_max_abs_diff: float | None = None  # ONNX Runtime vs PyTorch student logits
    out_dir: str = ""
    report_path: str | None = None
    plot_path: str | None = None
    notes: tuple[str, ...] = ()
    config: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    total_time_s: float = 0.0
    blockwise: BlockwiseReport | None = None  # method blockwise: the per-block report
    device: dict | None = None  # --verify-on: the student verified on the device (edgemem.verify_report/1 summary)

    @property
    def budget(self) -> BudgetCheck | None:
        """The analyzer's verdict on the student against --budget (None without a budget or a student)."""
        return None if self.student is None else self.student.budget

    @property
    def weights_budget(self) -> BudgetCheck | None:
        if self.student is None or self.weights_budget_bytes is None:
            return None
        return check_budget(MemoryParts(None, self.student.weights_bytes), self.weights_budget_bytes, Scope.WEIGHTS)

    @property
    def fits(self) -> bool:
        """True unless a budget was given and the student misses it (or misses the weights budget), or the
        device it was verified on (--verify-on) did not confirm that it fits."""
        if self.device is not None and (self.device.get("verdict") or {}).get("status") != "fits":
            return False
        return not any(check is not None and check.over for check in (self.budget, self.weights_budget))

    @property
    def reduction(self) -> float | None:
        """Teacher peak activation memory / student peak activation memory."""
        if self.student is None or not self.student.peak_activation_bytes:
            return None
        return self.teacher.peak_activation_bytes / self.student.peak_activation_bytes

    def to_json(self) -> dict:
        document = {"schema": SCHEMA, **asdict(self)}
        document["budget"] = self.budget.to_json() if self.budget else None
        document["weights_budget"] = self.weights_budget.to_json() if self.weights_budget else None
        document["reduction"] = self.reduction
        document["fits"] = self.fits
        return document

    @classmethod
    def from_json(cls, document: dict, source: str = "report") -> DistillResult:
        """The result a ``to_json`` document describes (the blockwise launcher reads rank 0's report)."""
        derived = ("schema", "budget", "weights_budget", "reduction", "fits")
        return from_table(cls, {k: v for k, v in document.items() if k not in derived}, source)


class ProgressSink(Protocol):
    """What the run reports while it works (implemented by edgemem.output.distill)."""

    def phase(self, name: str, epochs: int, steps_per_epoch: int, start_epoch: int = 0) -> None: ...

    def step(self, epoch: int, loss: float) -> None: ...

    def epoch_end(self, metrics: EpochMetrics) -> None: ...

    def phase_end(self) -> None: ...

    def note(self, text: str) -> None: ...
