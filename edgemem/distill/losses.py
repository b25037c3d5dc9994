"""Distillation losses, one table by name (``LOSSES``), each with an explicitly named weight.

``combined_loss`` sums ``weight x term`` over every term whose weight is non-zero:

* ``ce`` (``ce_weight``): cross-entropy of the logits, plus that of every peer branch (online).
* ``kd`` (``kd_weight``): Hinton KD, ``T^2 KL(softmax(t/T) || softmax(s/T))``, summed over classes
  and averaged over the batch ("batchmean"). Moonshine and the online-distillation code use
  PyTorch's element-wise mean, i.e. this value / num_classes: their weight a is our a/num_classes.
* ``at`` (``at_weight``): attention transfer, p = 2: ``A(f) = normalise_L2(mean_c f^2)`` over
  positions, term ``sum_i (P_i / at_reference_positions) mean_{b,p} (A_s - A_t)^2``. The factor
  P_i/1024 (P_i = positions of pair i) undoes the 1/P scale of the L2-normalised maps, so
  beta = 1e3 calibrated on 32x32 maps does not swamp training on small maps. A teacher map at a
  higher resolution than the student's (a pooled student's stage) is average-pooled to the
  student's resolution before normalising (``mean_c f^2`` is an energy: pooling keeps its sum).
* ``hint`` (``hint_weight``): FitNets, mean over pairs of ``MSE(r(f_s), pool(f_t))`` with a learned
  1x1 regressor r (identity when channels match) and the teacher feature average-pooled to the
  student's resolution when it is larger.

AT and hints use the *stage* pairs when the trainer gives them (the same stage outputs of teacher
and student, ``edgemem.distill.pairs``), else the RED pairs. ``label_smoothing`` (a weight-table
entry, default 0) smooths the CE targets.
* ``red`` (``red_weight``): ReDistill, mean over pairs of ``mean_b [1 - cos(a(s), a(t))]`` with
  ``a(x)`` the channel-mean map (channel-count agnostic); ``s`` is the RED block's output.
* ``mutual`` (``mutual_weight``): online mutual learning, ``sum_j T^2 KL(softmax(z_t/T) || softmax(z_j/T))``
  between the ensemble head z_t and every student branch z_j, with no detach (gradients reach
  both sides).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F


@dataclass
class LossInputs:
    logits: torch.Tensor  # the student's logits (online: the ensemble head's)
    targets: torch.Tensor
    teacher_logits: torch.Tensor | None = None
    student_features: list[torch.Tensor] = field(default_factory=list)  # paired with teacher_features
    teacher_features: list[torch.Tensor] = field(default_factory=list)
    regressors: list[Callable] | None = None  # hint: one per pair (None = identity)
    peer_logits: list[torch.Tensor] = field(default_factory=list)  # online: the student branches
    stage_student: list[torch.Tensor] = field(default_factory=list)  # AT / hint pairs (else the RED pairs above)
    stage_teacher: list[torch.Tensor] = field(default_factory=list)


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    return F.cross_entropy(logits, targets, label_smoothing=label_smoothing)


def kd(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """T^2 * KL(softmax(teacher/T) || softmax(student/T)), batchmean."""
    log_s = F.log_softmax(student_logits / temperature, dim=1)
    log_t = F.log_softmax(teacher_logits / temperature, dim=1)
    return F.kl_div(log_s, log_t, reduction="batchmean", log_target=True) * temperature**2


def attention_map(feature: torch.Tensor, size: tuple[int, ...] | None = None) -> torch.Tensor:
    """p = 2 attention: mean over channels of f^2 (average-pooled to ``size`` when given and
    smaller), flattened over positions, L2-normalised (B x P)."""
    energy = feature.pow(2).mean(dim=1, keepdim=True)
    if size is not None and tuple(energy.shape[2:]) != tuple(size):
        energy = pool_to(energy, size)
    return F.normalize(energy.flatten(1), dim=1)


def pool_to(feature: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    """Average-pool ``feature`` (B x C x spatial) to the smaller spatial ``size`` by integer factors."""
    have = tuple(feature.shape[2:])
    factors = [h // s if s and h % s == 0 else 0 for h, s in zip(have, size)]
    if len(have) != len(size) or not all(factors):
        raise ValueError(f"cannot pool a feature of size {have} to {tuple(size)}: the sizes must divide")
    pool = F.avg_pool1d if len(have) == 1 else F.avg_pool2d
    return pool(feature, tuple(factors))


def attention_transfer(student: torch.Tensor, teacher: torch.Tensor, reference_positions: int = 1024) -> torch.Tensor:
    """(P / reference_positions) * mean over batch and positions of (A_s - A_t)^2 (P: the student's positions)."""
    _same_batch(student, teacher, "attention transfer")
    a_s, a_t = attention_map(student), attention_map(teacher, tuple(student.shape[2:]))
    return (a_s.shape[1] / reference_positions) * (a_s - a_t).pow(2).mean()


def hint(student: torch.Tensor, teacher: torch.Tensor, regressor: Callable | None = None) -> torch.Tensor:
    """FitNets hint: MSE between the regressed student feature and the (pooled) teacher feature."""
    _same_batch(student, teacher, "hint")
    projected = regressor(student) if regressor is not None else student
    if tuple(teacher.shape[2:]) != tuple(student.shape[2:]):
        teacher = pool_to(teacher, tuple(student.shape[2:]))
    return F.mse_loss(projected, teacher)


def channel_mean_map(feature: torch.Tensor) -> torch.Tensor:
    return feature.mean(dim=1).flatten(1)


def red(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """ReDistill: mean over the batch of 1 - cosine similarity of the channel-mean maps."""
    _same_positions(student, teacher, "RED")
    return (1.0 - F.cosine_similarity(channel_mean_map(student), channel_mean_map(teacher), dim=1)).mean()


def mutual(peer_logits: list[torch.Tensor], ensemble_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Online distillation: sum over branches of T^2 KL(softmax(ensemble/T) || softmax(branch/T)), batchmean."""
    return torch.stack([kd(z, ensemble_logits, temperature) for z in peer_logits]).sum()


def _same_batch(student: torch.Tensor, teacher: torch.Tensor, what: str) -> None:
    if student.shape[0] != teacher.shape[0] or student.dim() != teacher.dim():
        raise ValueError(f"{what} pairs need features of the same batch and rank: "
                         f"student {tuple(student.shape)} vs teacher {tuple(teacher.shape)}")
    try:
        pool_to(teacher[:1, :1], tuple(student.shape[2:]))
    except ValueError:
        raise ValueError(f"{what} pairs need the teacher's spatial size to be the student's times an integer: "
                         f"student {tuple(student.shape)} vs teacher {tuple(teacher.shape)}") from None


def _same_positions(student: torch.Tensor, teacher: torch.Tensor, what: str) -> None:
    if student.shape[0] != teacher.shape[0] or student.shape[2:] != teacher.shape[2:]:
        raise ValueError(f"{what} pairs need features of the same batch and spatial size: "
                         f"student {tuple(student.shape)} vs teacher {tuple(teacher.shape)}")


# ---- the table: name -> (weight name, term(inputs, weights)) --------------------------------

def _ce_term(x: LossInputs, w: dict) -> torch.Tensor:
    smoothing = float(w.get("label_smoothing", 0.0))
    total = cross_entropy(x.logits, x.targets, smoothing)
    for peer in x.peer_logits:
        total = total + cross_entropy(peer, x.targets, smoothing)
    return total


def _kd_term(x: LossInputs, w: dict) -> torch.Tensor:
    if x.teacher_logits is None:
        raise ValueError("kd_weight > 0 needs teacher logits")
    return kd(x.logits, x.teacher_logits, w["temperature"])


def _pairs(x: LossInputs, what: str, stage: bool = False) -> list[tuple[torch.Tensor, torch.Tensor]]:
    student, teacher = (x.stage_student, x.stage_teacher) if stage and x.stage_student else (x.student_features, x.teacher_features)
    if not student or len(student) != len(teacher):
        raise ValueError(f"{what} needs feature pairs (got {len(student)} student, {len(teacher)} teacher)")
    return list(zip(student, teacher))


def _at_term(x: LossInputs, w: dict) -> torch.Tensor:
    pairs = _pairs(x, "at_weight", stage=True)
    return torch.stack([attention_transfer(s, t, int(w["at_reference_positions"])) for s, t in pairs]).sum()


def _hint_term(x: LossInputs, w: dict) -> torch.Tensor:
    pairs = _pairs(x, "hint_weight", stage=True)
    regressors = x.regressors or [None] * len(pairs)
    return torch.stack([hint(s, t, r) for (s, t), r in zip(pairs, regressors)]).mean()


def _red_term(x: LossInputs, w: dict) -> torch.Tensor:
    return torch.stack([red(s, t) for s, t in _pairs(x, "red_weight")]).mean()


def _mutual_term(x: LossInputs, w: dict) -> torch.Tensor:
    if not x.peer_logits:
        raise ValueError("mutual_weight > 0 needs peer logits (online method)")
    return mutual(x.peer_logits, x.logits, w["temperature"])


LOSSES: dict[str, tuple[str, Callable[[LossInputs, dict], torch.Tensor]]] = {
    "ce": ("ce_weight", _ce_term),
    "kd": ("kd_weight", _kd_term),
    "at": ("at_weight", _at_term),
    "hint": ("hint_weight", _hint_term),
    "red": ("red_weight", _red_term),
    "mutual": ("mutual_weight", _mutual_term),
}


def active_terms(weights: dict) -> list[str]:
    """Names of the terms whose weight is non-zero."""
    return [name for name, (key, _) in LOSSES.items() if weights.get(key, 0.0)]


def combined_loss(inputs: LossInputs, weights: dict) -> tuple[torch.Tensor, dict[str, float]]:
    """sum over active terms of weight x term; also each weighted term as a float (for reports)."""
    total = None
    parts: dict[str, float] = {}
    for name in active_terms(weights):
        key, term = LOSSES[name]
        value = weights[key] * term(inputs, weights)
        parts[name] = float(value.detach())
        total = value if total is None else total + value
    if total is None:
        raise ValueError("every loss weight is zero; set at least one of " + ", ".join(k for k, _ in LOSSES.values()))
    return total, parts
