"""Images for denoising: any image dataset of edgemem.distill.data, mapped to [-1, 1].

The loaders standardise each channel with the training split's mean and std; a diffusion model
wants pixels in [-1, 1], so each channel is mapped affinely by the training split's minimum and
maximum (the standardisation is affine too, so for 8-bit images with pixels at 0 and 255 in the
training split this recovers ``2 * pixel / 255 - 1`` exactly). Labels are kept: the quality
figure's feature extractor is a classifier trained on them. Training batches are shuffled and
horizontally flipped (ReDistill's CIFAR pipeline flips) by a generator seeded with (seed, epoch),
so a resumed run sees the batches an uninterrupted one would have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from edgemem.errors import DataError


@dataclass(frozen=True, eq=False)
class ImageData:
    x_train: torch.Tensor  # N x C x H x W float32 in [-1, 1]
    y_train: torch.Tensor
    x_test: torch.Tensor  # the held-out split (denoising loss, real images of the quality figure)
    y_test: torch.Tensor
    num_classes: int
    description: str

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (1, *self.x_train.shape[1:])


def to_unit_range(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each channel mapped by the training split's min/max to [-1, 1] (the held-out split may exceed it)."""
    axes = tuple(i for i in range(x_train.ndim) if i != 1)
    low = x_train.min(axis=axes, keepdims=True).astype(np.float64)
    span = x_train.max(axis=axes, keepdims=True).astype(np.float64) - low
    span[span == 0] = 1.0
    return [((2 * (x - low) / span) - 1).astype(np.float32) for x in (x_train, x_test)]


def load_images(dataset: str, data_path: str | None, options) -> ImageData:
    """Load ``dataset`` (digits, cifar10, folder: anything N x C x H x W) for denoising."""
    from edgemem.distill.data import load_dataset

    data = load_dataset(dataset, data_path, options)
    if data.x_train.ndim != 4:
        raise DataError(f"{dataset}: --task denoise needs images (N x C x H x W); this dataset has shape "
                        f"{data.x_train.shape[1:]}", hint="use digits, cifar10 or folder")
    x_train, x_test = to_unit_range(data.x_train, data.x_test)
    return ImageData(torch.from_numpy(x_train), torch.from_numpy(data.y_train), torch.from_numpy(x_test),
                     torch.from_numpy(data.y_test), data.num_classes, data.describe() + ", pixels in [-1, 1]")


def steps_per_epoch(data: ImageData, batch_size: int) -> int:
    return max(1, len(data.x_train) // batch_size)


def train_batches(data: ImageData, batch_size: int, seed: int, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Generator]]:
    """(images, labels, generator) per step: full batches only, shuffled and flipped per (seed, epoch);
    the generator then draws that step's timesteps and noise."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(len(data.x_train), generator=generator)
    for step in range(steps_per_epoch(data, batch_size)):
        index = order[step * batch_size:(step + 1) * batch_size]
        x = data.x_train[index]
        flip = torch.rand(len(index), generator=generator) < 0.5
        yield torch.where(flip[:, None, None, None], x.flip(3), x), data.y_train[index], generator
