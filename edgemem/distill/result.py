"""What a distillation run reports. Standard library only, so output/ renders it without torch.

``DistillResult.to_json()`` is the ``--json`` document (schema ``edgemem.distill_result/1``).
Accuracies are fractions in [0, 1]; bytes are ints named ``*_bytes``; times ``*_s``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol

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


@dataclass(frozen=True)
class BudgetVerdict:
    budget_bytes: int
    scope: str  # activations | total
    precision: str
    required_bytes: int  # the student's arena (+ weights for total)
    fits: bool
    weights_budget_bytes: int | None = None
    weights_fit: bool | None = None


@dataclass(frozen=True)
class DistillResult:
    dataset: str
    method: str
    precision: str
    teacher: ModelSummary
    student: ModelSummary | None
    baseline: ModelSummary | None = None
    sweep: tuple[ModelSummary, ...] = ()
    budget: BudgetVerdict | None = None
    parity_max_abs_diff: float | None = None  # ONNX Runtime vs PyTorch student logits
    out_dir: str = ""
    report_path: str | None = None
    plot_path: str | None = None
    notes: tuple[str, ...] = ()
    config: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    total_time_s: float = 0.0
    blockwise: object | None = None  # method blockwise: edgemem.distill.blockwise.result.BlockwiseReport

    @property
    def fits(self) -> bool:
        """True unless a budget was given and the student misses it."""
        if self.budget is None:
            return True
        return self.budget.fits and self.budget.weights_fit is not False

    @property
    def reduction(self) -> float | None:
        """Teacher peak activation memory / student peak activation memory."""
        if self.student is None or not self.student.peak_activation_bytes:
            return None
        return self.teacher.peak_activation_bytes / self.student.peak_activation_bytes

    def to_json(self) -> dict:
        document = {"schema": SCHEMA, **asdict(self)}
        document["reduction"] = self.reduction
        document["fits"] = self.fits
        return document


class ProgressSink(Protocol):
    """What the run reports while it works (implemented by edgemem.output.distill)."""

    def phase(self, name: str, epochs: int, steps_per_epoch: int, start_epoch: int = 0) -> None: ...

    def step(self, epoch: int, loss: float) -> None: ...

    def epoch_end(self, metrics: EpochMetrics) -> None: ...

    def phase_end(self) -> None: ...

    def note(self, text: str) -> None: ...
