"""Standard distillation: one student, optionally a frozen teacher, losses from losses.LOSSES.

Each step runs the student (tapping its paired feature points when AT, hints or RED are on),
runs the teacher under ``no_grad`` in eval mode when a teacher term is on, and minimises the
weighted sum of the active terms. With only ``ce_weight`` it trains a model on its own (the
teacher itself, or the ``--baseline`` student). FitNets regressors (1x1 convolutions from the
student's to the teacher's channels) train with the student and are not part of the export.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from edgemem.distill.losses import LossInputs, combined_loss
from edgemem.distill.trainers.base import Trainer
from edgemem.errors import TrainingError

FEATURE_WEIGHTS = ("at_weight", "hint_weight", "red_weight")


class StandardTrainer(Trainer):
    def build(self) -> None:
        job, w = self.job, self.weights
        self.use_teacher_logits = w.get("kd_weight", 0) > 0
        self.use_features = any(w.get(k, 0) > 0 for k in FEATURE_WEIGHTS)
        if (self.use_teacher_logits or self.use_features) and job.teacher is None:
            raise TrainingError(f"{job.name}: method {job.method!r} needs a teacher")
        if self.use_features and not job.pairs:
            raise TrainingError(f"{job.name}: method {job.method!r} needs feature pairs between student and teacher, "
                                "and this student has none", hint="RED pairs exist only for pooled students (k > 1); use method kd")
        if job.teacher is not None:
            job.teacher.eval()
            for p in job.teacher.parameters():
                p.requires_grad_(False)
        self.student_points = [s for s, _ in job.pairs]
        self.teacher_points = [t for _, t in job.pairs]
        self.modules = {"model": job.model}
        if w.get("hint_weight", 0) > 0:
            self.modules["regressors"] = self._regressors()

    def step_loss(self, x: torch.Tensor, y: torch.Tensor):
        job = self.job
        student_features: list[torch.Tensor] = []
        teacher_features: list[torch.Tensor] = []
        with self._taps(job.model, self.student_points) as taps:
            logits = job.model(x)
            if taps is not None:
                student_features = [taps.outputs[p] for p in self.student_points]
        teacher_logits = None
        if self.use_teacher_logits or self.use_features:
            with torch.no_grad(), self._taps(job.teacher, self.teacher_points) as taps:
                teacher_logits = job.teacher(x)
                if taps is not None:
                    teacher_features = [taps.outputs[p] for p in self.teacher_points]
        regressors = list(self.modules["regressors"]) if "regressors" in self.modules else None
        inputs = LossInputs(logits, y, teacher_logits, student_features, teacher_features, regressors)
        try:
            loss, parts = combined_loss(inputs, self.weights)
        except ValueError as exc:
            raise TrainingError(f"{job.name}: {exc}") from None
        return loss, parts, logits

    def _taps(self, model: nn.Module, points: list[str]):
        if not self.use_features or not points:
            return contextlib.nullcontext(None)
        from edgemem.distill.taps import FeatureTaps

        return FeatureTaps(model, points)

    @torch.no_grad()
    def _regressors(self) -> nn.ModuleList:
        """One 1x1 conv per pair mapping student channels to teacher channels (sized by a probe batch)."""
        job = self.job
        x = job.batches.x_train[:2]
        job.model.eval()
        with self._taps(job.model, self.student_points) as s_taps, self._taps(job.teacher, self.teacher_points) as t_taps:
            job.model(x)
            job.teacher(x)
            shapes = [(s_taps.outputs[s].shape, t_taps.outputs[t].shape) for s, t in job.pairs]
        job.model.train()
        convs = []
        for s_shape, t_shape in shapes:
            conv = nn.Conv2d if len(s_shape) == 4 else nn.Conv1d
            convs.append(conv(s_shape[1], t_shape[1], kernel_size=1, bias=False))
        return nn.ModuleList(convs)
