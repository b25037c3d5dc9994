"""Datasets for distillation, one loader per file chosen by name from ``DATASETS``.

Loaders return a ``Dataset`` of numpy arrays (standardised float32, N x C x H x W for images,
N x C x L for 1-D signals) and need no torch; ``loader.py`` and ``augment.py`` turn them into
augmented torch batches. Nothing is ever downloaded: digits ship with scikit-learn, MNIST-1D is
generated locally with the ``mnist1d`` package's generator, CIFAR-10 and image folders are read
from ``--data-path``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np

# name -> "module:function(path, options) -> Dataset"
DATASETS: dict[str, str] = {
    "digits": "edgemem.distill.data.digits:load_digits_dataset",
    "mnist1d": "edgemem.distill.data.mnist1d_data:load_mnist1d",
    "cifar10": "edgemem.distill.data.cifar:load_cifar10",
    "folder": "edgemem.distill.data.folder:load_image_folder",
}

# augmentation names (implemented in augment.py); "auto" = the dataset's default
AUGMENTS = ("auto", "none", "crop_flip", "shift")


@dataclass(frozen=True, eq=False)
class Dataset:
    name: str
    x_train: np.ndarray  # float32, standardised with the training split's per-channel mean/std
    y_train: np.ndarray  # int64 class indices
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    augment: str  # default augmentation for this data ("crop_flip", "shift" or "none")
    source: str  # where the data came from, for the report
    class_names: tuple[str, ...] = ()

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Batch-1 input shape of the models: (1, C, H, W) or (1, C, L)."""
        return (1, *self.x_train.shape[1:])

    @property
    def in_channels(self) -> int:
        return int(self.x_train.shape[1])

    def describe(self) -> str:
        shape = "x".join(str(d) for d in self.x_train.shape[1:])
        return f"{self.name}: {len(self.y_train)} train / {len(self.y_test)} test, {shape}, {self.num_classes} classes ({self.source})"


def load_dataset(name: str, path: str | None = None, options=None) -> Dataset:
    """Load dataset ``name`` (a key of DATASETS); ``options`` is a config.DataOptions."""
    from edgemem.distill.config import DataOptions
    from edgemem.distill.data.common import limit

    from edgemem.errors import DataError

    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}", hint=f"choose one of {', '.join(DATASETS)}")
    options = options or DataOptions()
    module, _, function = DATASETS[name].partition(":")
    dataset = getattr(importlib.import_module(module), function)(path, options)
    return limit(dataset, options.train_size, options.test_size)
