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
from edgemem.distill.result import ModelSummary

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
class DenoiserSummary(ModelSummary):
    """A ModelSummary (memory, parameters, files, the analyzer's budget verdict; ``accuracy`` stays None)
    with what a denoiser is scored by."""

    training: DenoiseTraining | None = None  # (ModelSummary's field, holding the denoise trainer's record)
    heldout_loss: float | None = None  # held-out denoising loss (mean squared noise-prediction error)
    pool_strides: tuple[int, ...] = ()
    parity_max_abs_diff: float | None = None  # ONNX Runtime vs PyTorch on (input, timestep)
    quality: SampleQuality | None = None


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
    device: None = None  # output/distill's verdict reads it; --verify-on is refused for --task denoise

    @property
    def checks(self) -> tuple[BudgetCheck | None, BudgetCheck | None]:
        """(the analyzer's verdict on the student against --budget, the --weights-budget verdict); None where not given."""
        student = self.student
        if student is None:
            return None, None
        weights = (None if self.weights_budget_bytes is None else
                   check_budget(MemoryParts(None, student.weights_bytes), self.weights_budget_bytes, Scope.WEIGHTS))
        return student.budget, weights

    budget = property(lambda self: self.checks[0])
    weights_budget = property(lambda self: self.checks[1])

    @property
    def fits(self) -> bool:
        """True unless a budget was given and the student misses one."""
        return all(check is None or not check.over for check in self.checks)

    @property
    def reduction(self) -> float | None:
        """Teacher peak activation memory / student peak activation memory."""
        peak = self.student.peak_activation_bytes if self.student is not None else 0
        return self.teacher.peak_activation_bytes / peak if peak else None

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
