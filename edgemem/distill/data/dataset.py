"""Dataset: what every loader returns (numpy arrays, no torch)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
