"""The ``[data]`` settings of a run config (standard library only)."""

from __future__ import annotations

from dataclasses import dataclass

# augmentation names (implemented in augment.py); "auto" = the dataset's default
AUGMENTS = ("auto", "none", "crop_flip", "shift")


@dataclass(frozen=True)
class DataOptions:
    train_size: int | None = None  # use only the first N training examples
    test_size: int | None = None
    augment: str = "auto"  # auto: the dataset's default
    image_size: int | None = None  # folder datasets: resize to this square size
    split_seed: int = 0  # digits: the stratified 75/25 split's random_state
