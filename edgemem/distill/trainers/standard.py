"""Standard distillation: one student, optionally a frozen teacher, losses from losses.LOSSES.

Each step runs the student (tapping its paired feature points when AT, hints or RED are on),
runs the teacher under ``no_grad`` in eval mode when a teacher term is on, and minimises the
weighted sum of the active terms. RED uses the job's RED pairs; AT and hints its stage pairs
(``edgemem.distill.pairs``; the RED pairs when it has none). With ``warmup_epochs`` > 0 the first
epochs train the feature terms alone (a teacher-feature warm-up). With only ``ce_weight`` it trains a model on its own (the
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

STAGE_WEIGHTS = ("at_weight", "hint_weight")  # terms on the stage pairs (else the RED pairs)


def warmup_weights(weights: dict) -> dict | None:
    """The weights of the teacher-feature warm-up (``warmup_epochs`` > 0): only the feature terms
    (RED, AT, hints) for the first epochs, so the student's features move toward the teacher's
    before the logits are trained; None without a warm-up or without feature terms."""
    if not weights.get("warmup_epochs", 0):
        return None
    warm = {**weights, "ce_weight": 0.0, "kd_weight": 0.0, "mutual_weight": 0.0}
    return warm if any(warm.get(k, 0) > 0 for k in (*STAGE_WEIGHTS, "red_weight")) else None


class StandardTrainer(Trainer):
    def build(self) -> None:
        job, w = self.job, self.weights
        self.use_teacher_logits = w.get("kd_weight", 0) > 0
        self.use_red = w.get("red_weight", 0) > 0
        self.use_stage = any(w.get(k, 0) > 0 for k in STAGE_WEIGHTS)
        self.use_features = self.use_red or self.use_stage
        if (self.use_teacher_logits or self.use_features) and job.teacher is None:
            raise TrainingError(f"{job.name}: method {job.method!r} needs a teacher")
        if (self.use_red and not job.pairs) or (self.use_stage and not (job.stage_pairs or job.pairs)):
            raise TrainingError(f"{job.name}: method {job.method!r} needs feature pairs between student and teacher, "
                                "and this student has none", hint="RED pairs exist only for pooled students (k > 1); use method kd")
        if job.teacher is not None:
            job.teacher.eval()
            for p in job.teacher.parameters():
                p.requires_grad_(False)
        self.red_pairs = list(job.pairs) if self.use_red else []
        self.feature_pairs = (list(job.stage_pairs) or list(job.pairs)) if self.use_stage else []
        self.student_points = list(dict.fromkeys(s for s, _ in self.red_pairs + self.feature_pairs))
        self.teacher_points = list(dict.fromkeys(t for _, t in self.red_pairs + self.feature_pairs))
        self.modules = {"model": job.model}
        if w.get("hint_weight", 0) > 0:
            self.modules["regressors"] = self._regressors()
        self.warmup = warmup_weights(w)

    def step_loss(self, x: torch.Tensor, y: torch.Tensor):
        job = self.job
        with self._taps(job.model, self.student_points) as taps:
            logits = job.model(x)
            student = dict(taps.outputs) if taps is not None else {}
        teacher_logits, teacher = None, {}
        if self.use_teacher_logits or self.use_features:
            with torch.no_grad(), self._taps(job.teacher, self.teacher_points) as taps:
                teacher_logits = job.teacher(x)
                teacher = dict(taps.outputs) if taps is not None else {}
        regressors = list(self.modules["regressors"]) if "regressors" in self.modules else None
        inputs = LossInputs(logits, y, teacher_logits, [student[s] for s, _ in self.red_pairs],
                            [teacher[t] for _, t in self.red_pairs], regressors,
                            stage_student=[student[s] for s, _ in self.feature_pairs],
                            stage_teacher=[teacher[t] for _, t in self.feature_pairs])
        weights = self.warmup if self.warmup is not None and self.epoch < self.weights["warmup_epochs"] else self.weights
        try:
            loss, parts = combined_loss(inputs, weights)
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
        """One 1x1 conv per pair mapping student channels to teacher channels (sized by a probe batch);
        the identity when the counts match (a pooled student's feature starts as its own estimate)."""
        job = self.job
        x = job.batches.x_train[:2]
        job.model.eval()
        with self._taps(job.model, self.student_points) as s_taps, self._taps(job.teacher, self.teacher_points) as t_taps:
            job.model(x)
            job.teacher(x)
            shapes = [(s_taps.outputs[s].shape, t_taps.outputs[t].shape) for s, t in self.feature_pairs]
        job.model.train()
        convs = []
        for s_shape, t_shape in shapes:
            conv = nn.Conv2d if len(s_shape) == 4 else nn.Conv1d
            regressor = conv(s_shape[1], t_shape[1], kernel_size=1, bias=False)
            if s_shape[1] == t_shape[1]:
                regressor.weight.copy_(torch.eye(s_shape[1]).reshape(regressor.weight.shape))
            convs.append(regressor)
        return nn.ModuleList(convs)
