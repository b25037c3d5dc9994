"""The epoch loop every trainer shares: SGD + schedule, a checkpoint after every epoch, resume,
NaN/divergence detection, evaluation and progress.

A subclass builds its trainable modules (``modules``), computes one step's loss
(``step_loss``) and names the model it deploys (``deployable``). Resume restores models,
optimizer, scheduler and RNG states from the last complete epoch; batch order and augmentation
of epoch e depend only on (seed, e), so the resumed run repeats the uninterrupted one exactly.
"""

from __future__ import annotations

import abc
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edgemem.distill.checkpoint import CheckpointStore, restore_rng
from edgemem.distill.config import TrainConfig
from edgemem.distill.data.loader import BatchSource
from edgemem.distill.result import EpochMetrics, ProgressSink, TrainSummary
from edgemem.errors import TrainingError


@dataclass
class TrainJob:
    name: str  # phase name shown in progress and errors: teacher, student, baseline, k=4 ...
    model: nn.Module  # the student (trained in place); online: the template of every branch
    batches: BatchSource
    train: TrainConfig
    weights: dict  # resolved loss weights (config.resolve_weights)
    method: str
    teacher: nn.Module | None = None
    pairs: list[tuple[str, str]] = field(default_factory=list)  # RED pairs (student module path, teacher module path)
    stage_pairs: list[tuple[str, str]] = field(default_factory=list)  # AT / hint pairs (pairs.stage_pairs)
    checkpoint_dir: Path | None = None
    resume: bool = False
    seed: int = 0
    fingerprint: str = ""
    progress: ProgressSink | None = None
    online_students: int = 4


@dataclass
class TrainOutcome:
    model: nn.Module  # the model to deploy
    summary: TrainSummary
    extra: dict = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    """"auto" -> CUDA when available, else CPU; an explicit CUDA device must exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TrainingError(f"device {name!r}: CUDA is not available on this machine", hint="use [train] device = \"cpu\" or \"auto\"")
    return device


def autocast(device: torch.device, mode: str):
    """bfloat16 autocast of a training step's forward and loss (``[train] autocast = "bf16"``), else nothing.

    The backward runs outside, as autocast wants; evaluation and export stay in fp32."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=mode == "bf16")


def build_optimizer(parameters, cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.SGD(parameters, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                           nesterov=cfg.nesterov and cfg.momentum > 0)


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig):
    """Per-epoch schedule: cosine to 0 over the epochs, step (x gamma at milestones) or constant."""
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(cfg.milestones), gamma=cfg.gamma)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)


class Trainer(abc.ABC):
    """Shared epoch loop. Subclasses set ``self.modules`` in ``build`` and implement ``step_loss``."""

    def __init__(self, job: TrainJob) -> None:
        self.job = job
        self.weights = job.weights
        self.modules: dict[str, nn.Module] = {}
        self.epoch = 0  # the epoch in progress (0-based), for schedules inside an epoch loop

    # ---- what subclasses provide ----------------------------------------------------------
    @abc.abstractmethod
    def build(self) -> None:
        """Create ``self.modules`` (the models and heads this trainer updates)."""

    @abc.abstractmethod
    def step_loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, dict, torch.Tensor]:
        """(loss, weighted parts, logits used for the train accuracy)."""

    def deployable(self) -> nn.Module:
        return self.job.model

    def evaluate(self) -> float:
        return accuracy(self.deployable(), self.job.batches)

    def extra(self) -> dict:
        return {}

    # ---- the loop -------------------------------------------------------------------------
    def fit(self) -> TrainOutcome:
        job, cfg = self.job, self.job.train
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        seed_everything(job.seed)
        self.build()
        self.device = resolve_device(cfg.device)
        for module in self.modules.values():
            module.to(self.device)
        if job.teacher is not None:
            job.teacher.to(self.device)
        parameters = [p for m in self.modules.values() for p in m.parameters() if p.requires_grad]
        optimizer = build_optimizer(parameters, cfg)
        scheduler = build_scheduler(optimizer, cfg)
        store = CheckpointStore(job.checkpoint_dir) if job.checkpoint_dir is not None else None
        history: list[EpochMetrics] = []
        start = 0
        if store is not None and job.resume and store.exists():
            state = store.load(job.fingerprint)
            self._load_state(state, optimizer, scheduler)
            history = [EpochMetrics(**h) for h in state["history"]]
            start = int(state["epoch"])
        progress = job.progress
        if progress is not None:
            progress.phase(job.name, cfg.epochs, job.batches.steps_per_epoch, start)
        train_time = 0.0
        try:
            for epoch in range(start, cfg.epochs):
                began = time.perf_counter()
                loss, train_acc, parts = self._run_epoch(epoch, optimizer, history)
                eval_acc = self.evaluate()
                lr = optimizer.param_groups[0]["lr"]
                scheduler.step()
                metrics = EpochMetrics(epoch + 1, loss, train_acc, eval_acc, lr, time.perf_counter() - began, parts)
                history.append(metrics)
                train_time += metrics.time_s
                if store is not None:
                    store.save(fingerprint=job.fingerprint, epoch=epoch + 1,
                               models={k: m.state_dict() for k, m in self.modules.items()},
                               optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(),
                               history=[asdict(h) for h in history], finished=epoch + 1 == cfg.epochs)
                if progress is not None:
                    progress.epoch_end(metrics)
        finally:
            if progress is not None:
                progress.phase_end()
            for module in self.modules.values():  # results leave on the CPU (export, analysis, checkpoints)
                module.cpu()
            if job.teacher is not None:
                job.teacher.cpu()
        if not history:
            raise TrainingError(f"{job.name}: no epoch was trained (epochs = {cfg.epochs})")
        self.deployable().eval()
        summary = TrainSummary(job.method, cfg.epochs, history[-1].eval_accuracy, train_time, start,
                               cached=start >= cfg.epochs, history=tuple(history))
        return TrainOutcome(self.deployable(), summary, self.extra())

    def _load_state(self, state: dict, optimizer, scheduler) -> None:
        try:
            for name, module in self.modules.items():
                module.load_state_dict(state["models"][name])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            restore_rng(state["rng"])
        except (KeyError, RuntimeError, ValueError) as exc:
            first = " ".join(str(exc).split())[:160]
            raise TrainingError(f"{self.job.checkpoint_dir}: the checkpoint does not match this model ({first})",
                                hint="use a new --out folder or drop --resume") from None

    def _run_epoch(self, epoch: int, optimizer, history: list[EpochMetrics]) -> tuple[float, float, dict]:
        job = self.job
        self.epoch = epoch
        for module in self.modules.values():
            module.train()
        if job.teacher is not None:
            job.teacher.eval()
        total, correct, seen, steps = 0.0, 0, 0, 0
        parts_sum: dict[str, float] = {}
        for step, (x, y) in enumerate(job.batches.train_batches(epoch)):
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            with autocast(self.device, job.train.autocast):
                loss, parts, logits = self.step_loss(x, y)
            value = float(loss.detach())
            if not math.isfinite(value):
                self._diverged(epoch, f"the loss became {value} at step {step + 1}", optimizer, history)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += value * len(y)
            seen += len(y)
            steps += 1
            correct += int((logits.detach().argmax(1) == y).sum().cpu())
            for key, part in parts.items():
                parts_sum[key] = parts_sum.get(key, 0.0) + part
            if job.progress is not None:
                job.progress.step(epoch + 1, value)
        mean_loss = total / max(seen, 1)
        if history and mean_loss > job.train.divergence_factor * max(history[0].train_loss, 1e-8):
            self._diverged(epoch, f"the epoch loss {mean_loss:.4g} is over {job.train.divergence_factor:g}x "
                                  f"the first epoch's {history[0].train_loss:.4g}", optimizer, history)
        parts_mean = {k: v / max(steps, 1) for k, v in parts_sum.items()}
        return mean_loss, correct / max(seen, 1), parts_mean

    def _diverged(self, epoch: int, what: str, optimizer, history: list[EpochMetrics]) -> None:
        lr = optimizer.param_groups[0]["lr"]
        kept = (f"; the checkpoint of epoch {len(history)} is kept in {self.job.checkpoint_dir}"
                if history and self.job.checkpoint_dir is not None else "")
        raise TrainingError(f"{self.job.name}: training diverged in epoch {epoch + 1}: {what} (lr {lr:g}){kept}",
                            hint="lower the learning rate ([train] lr) or the loss weights, or check the data")


@torch.no_grad()
def accuracy(model: nn.Module, batches: BatchSource) -> float:
    """Top-1 accuracy on the evaluation split (model in eval mode)."""
    was_training = model.training
    model.eval()
    device = next((t.device for t in model.parameters()), torch.device("cpu"))
    correct = 0
    for x, y in batches.eval_batches():
        correct += int((model(x.to(device)).argmax(1).cpu() == y).sum())
    model.train(was_training)
    return correct / len(batches.y_test)

