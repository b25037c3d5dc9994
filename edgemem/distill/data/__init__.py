"""Datasets for distillation, one loader per file chosen by name from ``DATASETS``.

Loaders return a ``Dataset`` of numpy arrays (standardised float32, N x C x H x W for images,
N x C x L for 1-D signals) and need no torch; ``loader.py`` and ``augment.py`` turn them into
augmented torch batches. Nothing is ever downloaded: digits ship with scikit-learn, MNIST-1D is
generated locally with the ``mnist1d`` package's generator, CIFAR-10 and image folders are read
from ``--data-path``.
"""

from __future__ import annotations

from typing import Callable

from edgemem.distill.data.cifar import load_cifar10
from edgemem.distill.data.common import limit
from edgemem.distill.data.dataset import Dataset
from edgemem.distill.data.digits import load_digits_dataset
from edgemem.distill.data.folder import load_image_folder
from edgemem.distill.data.mnist1d_data import load_mnist1d
from edgemem.distill.data.options import AUGMENTS, DataOptions
from edgemem.errors import DataError

# name -> loader(path, options) -> Dataset
DATASETS: dict[str, Callable[..., Dataset]] = {
    "digits": load_digits_dataset,
    "mnist1d": load_mnist1d,
    "cifar10": load_cifar10,
    "folder": load_image_folder,
}

__all__ = ["AUGMENTS", "DATASETS", "DataOptions", "Dataset", "load_dataset"]


def load_dataset(name: str, path: str | None = None, options: DataOptions | None = None) -> Dataset:
    """Load dataset ``name`` (a key of DATASETS)."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}", hint=f"choose one of {', '.join(DATASETS)}")
    options = options or DataOptions()
    dataset = DATASETS[name](path, options)
    return limit(dataset, options.train_size, options.test_size)
