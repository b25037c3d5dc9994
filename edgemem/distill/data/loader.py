"""Batches of a Dataset as torch tensors; the order and augmentation of epoch e depend only on
(seed, e), so a resumed run sees exactly the batches an uninterrupted run would have seen."""

from __future__ import annotations

from typing import Iterator

import torch

from edgemem.distill.data.dataset import Dataset
from edgemem.distill.data.augment import augment_batch


class BatchSource:
    """Training batches (shuffled, augmented) and evaluation batches of one dataset."""

    def __init__(self, dataset: Dataset, batch_size: int, augment: str = "auto", seed: int = 0,
                 eval_batch_size: int = 512) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.augment = dataset.augment if augment == "auto" else augment
        self.seed = seed
        self.x_train = torch.from_numpy(dataset.x_train)
        self.y_train = torch.from_numpy(dataset.y_train)
        self.x_test = torch.from_numpy(dataset.x_test)
        self.y_test = torch.from_numpy(dataset.y_test)

    @property
    def steps_per_epoch(self) -> int:
        return -(-len(self.y_train) // self.batch_size)

    def epoch_generator(self, epoch: int) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)

    def train_batches(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = self.epoch_generator(epoch)
        order = torch.randperm(len(self.y_train), generator=generator)
        for start in range(0, len(order), self.batch_size):
            index = order[start:start + self.batch_size]
            if len(index) < 2 < len(order):
                break  # a batch of one breaks batch norm; its example comes back next epoch
            yield augment_batch(self.x_train[index], self.augment, generator), self.y_train[index]

    def eval_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for start in range(0, len(self.y_test), self.eval_batch_size):
            yield self.x_test[start:start + self.eval_batch_size], self.y_test[start:start + self.eval_batch_size]
