"""What ``edgemem distill --task denoise`` reports. Standard library only (output/ renders it).

``DenoiseResult.to_json()`` is the ``--json`` document, schema ``edgemem.denoise_result/1``.
Losses are mean-squared noise-prediction errors on held-out images (lower is better); the
Fréchet distance is computed in the feature space of a classifier trained by the run itself
(``quality``), not Inception's (nothing can be downloaded), so it is comparable between the models
of one run, not with published FID values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from edgemem.budget import BudgetCheck, MemoryParts, Precision, Scope, check_budget

SCHEMA = "edgemem.denoise_result/1"


@dataclass(frozen=True)
class DenoiseEpoch:
    epoch: int  # 1-based
    train_loss: float  # mean weighted loss of the epoch's steps
    monitor_loss: float  # held-out denoising loss on the first held-out images (one draw each)
    lr: float
    time_s: float
    loss_parts: dict = field(default_factory=dict)  # gt / kd / red, weighted means


@dataclass(frozen=True)
class DenoiseTraining:
    method: str  # ce (alone) | kd | red | red_kd
    epochs: int
    steps: int  # optimizer steps done in total
    train_time_s: float  # of the epochs run in this process
    resumed_from_epoch: int
    cached: bool
    history: tuple[DenoiseEpoch, ...] = ()


@dataclass(frozen=True)
class SampleQuality:
    samples: int  # generated images compared
    reference: int  # held-out real images they are compared with
    frechet_distance: float  # in the feature extractor's space (lower is better)
    sampler: str
    steps: int
    grid_path: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class DenoiserSummary:
    role: str  # teacher | student | baseline
    description: str
    heldout_loss: float | None
    peak_activation_bytes: int
    arena_bytes: int
    weights_bytes: int
    parameters: int
    pool_strides: tuple[int, ...] = ()
    spec: dict | None = None
    onnx_path: str | None = None
    checkpoint_path: str | None = None
    parity_max_abs_diff: float | None = None
    training: DenoiseTraining | None = None
    quality: SampleQuality | None = None
    budget: BudgetCheck | None = None  # the analyzer's verdict on this model against --budget


@dataclass(frozen=True)
class QualityReference:
    extractor_accuracy: float  # the feature extractor's held-out classification accuracy
    real_frechet_distance: float  # training images vs held-out images, same counts: the floor of the figure
    samples: int
    feature_dim: int


@dataclass(frozen=True)
class DenoiseResult:
    dataset: str
    method: str
    precision: Precision
    teacher: DenoiserSummary
    student: DenoiserSummary | None
    baseline: DenoiserSummary | None = None
    weights_budget_bytes: int | None = None  # --weights-budget
    quality_reference: QualityReference | None = None
    out_dir: str = ""
    report_path: str | None = None
    notes: tuple[str, ...] = ()
    config: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    total_time_s: float = 0.0

    @property
    def budget(self) -> BudgetCheck | None:
        """The analyzer's verdict on the student against --budget (None without a budget)."""
        return None if self.student is None else self.student.budget

    @property
    def weights_budget(self) -> BudgetCheck | None:
        if self.student is None or self.weights_budget_bytes is None:
            return None
        return check_budget(MemoryParts(None, self.student.weights_bytes), self.weights_budget_bytes, Scope.WEIGHTS)

    @property
    def fits(self) -> bool:
        """True unless a budget was given and the student misses it (or misses the weights budget)."""
        return not any(check is not None and check.over for check in (self.budget, self.weights_budget))

    @property
    def reduction(self) -> float | None:
        """Teacher peak activation memory / student peak activation memory."""
        if self.student is None or not self.student.peak_activation_bytes:
            return None
        return self.teacher.peak_activation_bytes / self.student.peak_activation_bytes

    @property
    def loss_ratio(self) -> float | None:
        """Student held-out denoising loss / teacher's."""
        if self.student is None or not self.teacher.heldout_loss or self.student.heldout_loss is None:
            return None
        return self.student.heldout_loss / self.teacher.heldout_loss

    def to_json(self) -> dict:
        budgets = {"budget": self.budget.to_json() if self.budget else None,
                   "weights_budget": self.weights_budget.to_json() if self.weights_budget else None}
        return {"schema": SCHEMA, **asdict(self), **budgets, "reduction": self.reduction, "loss_ratio": self.loss_ratio,
                "fits": self.fits}
