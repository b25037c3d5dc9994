"""Training a noise predictor: alone (the teacher, the baseline) or distilled from a teacher.

Each step draws timesteps t ~ U{0..T-1} and noise for a batch of clean images, forms x_t and
minimises ``gt_weight * MSE(eps_s, noise) + kd_weight * MSE(eps_s, eps_t) + red_weight * RED``:
the true noise (Ho et al.'s loss), the teacher's noise prediction on the same x_t, and ReDistill's
RED term over the student's RED blocks and their teacher features (edgemem.distill.losses.red).
Adam with a linear warm-up, gradient-norm clipping and an EMA of the weights (decay warmed up as
min(decay, (1 + step) / (10 + step))); the EMA model is what is evaluated and deployed. After every
epoch ``last.pt`` is written atomically (models, optimizer, schedule, RNG states, history); resume
continues after the last complete epoch and repeats the uninterrupted run exactly on CPU, also
when it asks for more epochs than a finished checkpoint holds (the schedule does not depend on
the epoch count); fewer epochs than the checkpoint holds are refused.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from edgemem.distill.checkpoint import CheckpointStore, restore_rng
from edgemem.distill.denoise.data import ImageData, steps_per_epoch, train_batches
from edgemem.distill.denoise.evaluate import denoising_loss
from edgemem.distill.denoise.result import DenoiseEpoch, DenoiseTraining
from edgemem.distill.denoise.schedule import NoiseSchedule
from edgemem.errors import TrainingError

# --method for --task denoise -> loss weights (gt: true noise, kd: teacher's noise, red: RED features)
METHODS = {
    "ce": {"gt_weight": 1.0},  # trained alone on the true noise (the teacher, --baseline)
    "kd": {"gt_weight": 0.5, "kd_weight": 0.5},
    "red": {"gt_weight": 1.0, "red_weight": 1.0},  # ReDistill's DDPM loss: loss_ddpm + alpha 1 x RED
    "red_kd": {"gt_weight": 0.5, "kd_weight": 0.5, "red_weight": 1.0},
}
MONITOR_IMAGES = 256  # held-out images of the per-epoch loss (the final figure uses all of them)


@dataclass
class DenoiseJob:
    name: str
    model: nn.Module
    data: ImageData
    schedule: NoiseSchedule
    options: object  # DenoiseOptions
    weights: dict
    method: str
    epochs: int
    batch_size: int
    teacher: nn.Module | None = None
    pairs: list[tuple[str, str]] = field(default_factory=list)
    checkpoint_dir: Path | None = None
    resume: bool = False
    seed: int = 0
    fingerprint: str = ""
    progress: object = None
    device: torch.device = torch.device("cpu")
    divergence_factor: float = 100.0


class EMA:
    """Exponential moving average of a model's parameters; buffers follow the model."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.model = copy.deepcopy(model).eval()
        self.decay = decay
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))
        for ema, live in zip(self.model.parameters(), model.parameters()):
            ema.mul_(decay).add_(live.detach(), alpha=1 - decay)
        for ema, live in zip(self.model.buffers(), model.buffers()):
            ema.copy_(live)


class DenoiseTrainer:
    def __init__(self, job: DenoiseJob) -> None:
        self.job = job
        self.w = job.weights
        if (self.w.get("kd_weight") or self.w.get("red_weight")) and job.teacher is None:
            raise TrainingError(f"{job.name}: the loss needs a teacher")
        if self.w.get("red_weight") and not job.pairs:
            raise TrainingError(f"{job.name}: the RED term needs RED blocks (a pooled student with red = true)",
                                hint="use method kd or auto")

    def fit(self):
        job = self.job
        torch.manual_seed(job.seed)
        model = job.model.to(job.device)
        ema = EMA(model, job.options.ema_decay) if job.options.ema_decay > 0 else None
        optimizer = torch.optim.Adam(model.parameters(), lr=job.options.lr)
        warmup = max(1, job.options.warmup_steps)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup))
        store = CheckpointStore(job.checkpoint_dir) if job.checkpoint_dir is not None else None
        history, start = self._resume(store, model, ema, optimizer, schedule)
        if job.teacher is not None:
            job.teacher.to(job.device).eval()
        if job.progress is not None:
            job.progress.phase(job.name, job.epochs, steps_per_epoch(job.data, job.batch_size), start)
        try:
            for epoch in range(start, job.epochs):
                history.append(self._epoch(epoch, model, ema, optimizer, schedule, history))
                if store is not None:
                    store.save(fingerprint=job.fingerprint, epoch=epoch + 1, models=self._models(model, ema),
                               optimizer=optimizer.state_dict(), scheduler=schedule.state_dict(),
                               history=[asdict(h) for h in history], finished=epoch + 1 == job.epochs)
                if job.progress is not None:
                    job.progress.epoch_end(history[-1])
        finally:
            if job.progress is not None:
                job.progress.phase_end()
        deployed = (ema.model if ema is not None else model).cpu().eval()
        model.cpu()
        if job.teacher is not None:
            job.teacher.cpu()
        train_time = sum(h.time_s for h in history[start:])
        return deployed, DenoiseTraining(job.method, job.epochs, len(history) * steps_per_epoch(job.data, job.batch_size),
                                         train_time, start, start >= job.epochs, tuple(history))

    def _models(self, model, ema) -> dict:
        return {"model": model.state_dict(), **({"ema": ema.model.state_dict()} if ema is not None else {})}

    def _resume(self, store, model, ema, optimizer, schedule):
        if store is None or not self.job.resume or not store.exists():
            return [], 0
        state = store.load(self.job.fingerprint)
        if int(state["epoch"]) > self.job.epochs:
            raise TrainingError(f"{store.folder}: the checkpoint holds {state['epoch']} epochs, more than the {self.job.epochs} asked",
                                hint="ask for at least as many epochs, or use a new --out folder")
        try:
            model.load_state_dict(state["models"]["model"])
            if ema is not None:
                ema.model.load_state_dict(state["models"]["ema"])
            optimizer.load_state_dict(state["optimizer"])
            schedule.load_state_dict(state["scheduler"])
            restore_rng(state["rng"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise TrainingError(f"{store.folder}: the checkpoint does not match this model ({' '.join(str(exc).split())[:160]})",
                                hint="use a new --out folder or drop --resume") from None
        return [DenoiseEpoch(**h) for h in state["history"]], int(state["epoch"])

    def _epoch(self, epoch, model, ema, optimizer, schedule, history) -> DenoiseEpoch:
        job = self.job
        began, total, parts_sum, steps = time.perf_counter(), 0.0, {}, 0
        model.train()
        for x0, _, generator in train_batches(job.data, job.batch_size, job.seed, epoch):
            loss, parts = self.step_loss(model, x0, generator)
            value = float(loss.detach())
            if not math.isfinite(value):
                self._diverged(epoch, f"the loss became {value} at step {steps + 1}", optimizer, history)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), job.options.grad_clip)
            optimizer.step()
            schedule.step()
            if ema is not None:
                ema.update(model, epoch * steps_per_epoch(job.data, job.batch_size) + steps)
            total, steps = total + value, steps + 1
            for key, part in parts.items():
                parts_sum[key] = parts_sum.get(key, 0.0) + part
            if job.progress is not None:
                job.progress.step(epoch + 1, value)
        mean = total / max(steps, 1)
        if history and mean > job.divergence_factor * max(history[0].train_loss, 1e-8):
            self._diverged(epoch, f"the epoch loss {mean:.4g} is over {job.divergence_factor:g}x the first epoch's", optimizer, history)
        monitor = denoising_loss(ema.model if ema is not None else model, job.schedule, job.data.x_test[:MONITOR_IMAGES],
                                 draws=1, seed=job.seed, batch_size=job.batch_size, device=job.device)
        return DenoiseEpoch(epoch + 1, mean, monitor, optimizer.param_groups[0]["lr"], time.perf_counter() - began,
                            {k: v / max(steps, 1) for k, v in parts_sum.items()})

    def step_loss(self, model, x0: torch.Tensor, generator: torch.Generator):
        job, w = self.job, self.w
        t = torch.randint(0, job.schedule.num_timesteps, (len(x0),), generator=generator)
        noise = torch.randn(x0.shape, generator=generator)
        x0, t, noise = x0.to(job.device), t.to(job.device), noise.to(job.device)
        x_t = job.schedule.q_sample(x0, t, noise)
        student_points = [s for s, _ in job.pairs] if w.get("red_weight") else []
        with _taps(model, student_points) as taps:
            eps = model(x_t, t.float())
            student_features = [taps.outputs[p] for p in student_points] if taps else []
        parts = {}
        if w.get("gt_weight"):
            parts["gt"] = w["gt_weight"] * F.mse_loss(eps, noise)
        if w.get("kd_weight") or w.get("red_weight"):
            teacher_points = [t_ for _, t_ in job.pairs] if w.get("red_weight") else []
            with torch.no_grad(), _taps(job.teacher, teacher_points) as taps:
                eps_teacher = job.teacher(x_t, t.float())
                teacher_features = [taps.outputs[p] for p in teacher_points] if taps else []
            if w.get("kd_weight"):
                parts["kd"] = w["kd_weight"] * F.mse_loss(eps, eps_teacher)
            if w.get("red_weight"):
                from edgemem.distill.losses import red

                parts["red"] = w["red_weight"] * torch.stack([red(s, t_) for s, t_ in zip(student_features, teacher_features)]).mean()
        loss = sum(parts.values())
        return loss, {k: float(v.detach()) for k, v in parts.items()}

    def _diverged(self, epoch: int, what: str, optimizer, history) -> None:
        lr = optimizer.param_groups[0]["lr"]
        kept = f"; the checkpoint of epoch {len(history)} is kept in {self.job.checkpoint_dir}" if history and self.job.checkpoint_dir else ""
        raise TrainingError(f"{self.job.name}: training diverged in epoch {epoch + 1}: {what} (lr {lr:g}){kept}",
                            hint="lower [denoise] lr or the loss weights, or check the data")


def _taps(model, points):
    if not points:
        return contextlib.nullcontext(None)
    from edgemem.distill.taps import FeatureTaps

    return FeatureTaps(model, points)

