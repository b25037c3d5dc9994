"""Tiny models and jobs for the distillation tests (real PyTorch training on scikit-learn digits).

Run as a script (``python -m tests.distill.tiny CHECKPOINT_DIR EPOCHS``) it trains one job with a
checkpoint per epoch: test_checkpoint kills that process and resumes the run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

from edgemem.distill.config import DataOptions, DistillConfig, TrainConfig, resolve_weights
from edgemem.distill.data import load_dataset
from edgemem.distill.data.loader import BatchSource
from edgemem.distill.trainers.registry import get_trainer
from edgemem.distill.trainers.base import TrainJob


class TinyNet(nn.Module):
    """conv-BN-ReLU stem, two stages (named like the zoo's), global pool, linear head."""

    def __init__(self, width: int = 8, stem_stride: int = 1, classes: int = 10, in_channels: int = 1, dropout: float = 0.0):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, stem_stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.layer1 = nn.Sequential(nn.Conv2d(width, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.layer2 = nn.Sequential(nn.Conv2d(width, 2 * width, 3, 2 if stem_stride == 1 else 1, 1, bias=False),
                                    nn.BatchNorm2d(2 * width), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(2 * width, classes)

    def forward(self, x):
        return self.fc(self.drop(self.pool(self.layer2(self.layer1(self.stem(x)))).flatten(1)))


def digits(train_size: int | None = 400):
    return load_dataset("digits", options=DataOptions(train_size=train_size))


def make_job(name="tiny", method="ce", epochs=3, checkpoint_dir=None, resume=False, teacher=None, pairs=(),
             model=None, dataset=None, lr=0.05, seed=0, weights=None, **train) -> TrainJob:
    torch.manual_seed(seed)
    model = model if model is not None else TinyNet(dropout=0.2)
    dataset = dataset if dataset is not None else digits()
    cfg = TrainConfig(epochs=epochs, batch_size=64, lr=lr, threads=1, **train)
    return TrainJob(name, model, BatchSource(dataset, 64, seed=seed), cfg, weights or resolve_weights(DistillConfig(), method),
                    method, teacher=teacher, pairs=list(pairs), checkpoint_dir=checkpoint_dir, resume=resume, seed=seed,
                    fingerprint="tiny-test", online_students=3)


def fit(job: TrainJob):
    return get_trainer("online" if job.method == "online" else "standard")(job).fit()


if __name__ == "__main__":
    folder, epochs = Path(sys.argv[1]), int(sys.argv[2])
    fit(make_job(checkpoint_dir=folder, epochs=epochs, resume=True))
