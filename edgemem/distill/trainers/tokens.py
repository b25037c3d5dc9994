"""ViT students (method ``token_kd``): logit KD plus alignment of token maps on the teacher's grid.

For every feature pair (students/vit.py: the last block of each stage with the same teacher block,
or, for a CNN teacher, the student's blocks at the depth of the teacher's stage outputs) a token
map (N, prefix + g*g, D) becomes a grid (N, D, g, g) (the prefix, i.e. the class token, is
dropped; prefix = L - isqrt(L)^2), a CNN feature stays (N, C, H, W). The student grid is resized
to the teacher's (bilinear), projected by a learned 1x1 convolution to the teacher's channels
(trained with the student, not exported, checkpointed as ``projectors``), both maps are normalised
per position over channels, and the term is their mean squared difference (FitNets' hint on
resized, normalised token maps; weight ``hint_weight``). The loss is
``ce_weight CE + kd_weight T^2 KL + hint_weight * mean over pairs``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from edgemem.distill.losses import cross_entropy, kd
from edgemem.distill.taps import FeatureTaps
from edgemem.distill.trainers.base import Trainer
from edgemem.errors import TrainingError


def feature_grid(feature: torch.Tensor) -> torch.Tensor:
    """(N, L, D) token map -> (N, D, g, g) patch grid (prefix tokens dropped); 4-D maps unchanged."""
    if feature.dim() == 4:
        return feature
    if feature.dim() != 3:
        raise ValueError(f"cannot align a feature of shape {tuple(feature.shape)}")
    n, length, dim = feature.shape
    side = math.isqrt(length)
    return feature[:, length - side * side:].transpose(1, 2).reshape(n, dim, side, side)


def normalise(grid: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    mean = grid.mean(dim=1, keepdim=True)
    return (grid - mean) / (grid.var(dim=1, keepdim=True, unbiased=False) + eps).sqrt()


def token_alignment(student: torch.Tensor, teacher: torch.Tensor, projector: nn.Module) -> torch.Tensor:
    """MSE of the normalised, projected student grid resized to the teacher's grid and the teacher's."""
    s, t = feature_grid(student), feature_grid(teacher)
    if s.shape[-2:] != t.shape[-2:]:
        s = F.interpolate(s, size=t.shape[-2:], mode="bilinear", align_corners=False)
    return F.mse_loss(normalise(projector(s)), normalise(t))


class TokenTrainer(Trainer):
    def build(self) -> None:
        job = self.job
        if job.teacher is None or not job.pairs:
            raise TrainingError(f"{job.name}: method {job.method!r} needs a teacher and feature pairs (a pooled ViT student)",
                                hint="use method kd")
        job.teacher.eval()
        for p in job.teacher.parameters():
            p.requires_grad_(False)
        self.student_points = [s for s, _ in job.pairs]
        self.teacher_points = [t for _, t in job.pairs]
        self.modules = {"model": job.model, "projectors": self._projectors()}

    def _features(self, model, points, x):
        with FeatureTaps(model, points) as taps:
            logits = model(x)
        return logits, [taps.outputs[p] for p in points]

    @torch.no_grad()
    def _projectors(self) -> nn.ModuleList:
        """One 1x1 conv per pair from the student's to the teacher's channels, sized by a probe batch."""
        job = self.job
        x = job.batches.x_train[:2]
        job.model.eval()
        _, student = self._features(job.model, self.student_points, x)
        _, teacher = self._features(job.teacher, self.teacher_points, x)
        job.model.train()
        return nn.ModuleList(nn.Conv2d(feature_grid(s).shape[1], feature_grid(t).shape[1], 1) for s, t in zip(student, teacher))

    def step_loss(self, x: torch.Tensor, y: torch.Tensor):
        w = self.weights
        logits, student = self._features(self.job.model, self.student_points, x)
        with torch.no_grad():
            teacher_logits, teacher = self._features(self.job.teacher, self.teacher_points, x)
        parts = {"ce": w.get("ce_weight", 0.0) * cross_entropy(logits, y)}
        if w.get("kd_weight"):
            parts["kd"] = w["kd_weight"] * kd(logits, teacher_logits, w["temperature"])
        if w.get("hint_weight"):
            terms = [token_alignment(s, t, p) for s, t, p in zip(student, teacher, self.modules["projectors"])]
            parts["tokens"] = w["hint_weight"] * torch.stack(terms).mean()
        loss = sum(parts.values())
        return loss, {k: float(v.detach()) for k, v in parts.items()}, logits
