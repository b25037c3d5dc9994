"""Helpers every loader shares: standardisation, label checks, subsetting."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from edgemem.errors import DataError


def standardize(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean/std of the training split applied to both splits (axis 1 is channels)."""
    axes = tuple(i for i in range(x_train.ndim) if i != 1)
    mean = x_train.mean(axis=axes, keepdims=True, dtype=np.float64)
    std = x_train.std(axis=axes, keepdims=True, dtype=np.float64)
    std[std == 0] = 1.0
    return ((x_train - mean) / std).astype(np.float32), ((x_test - mean) / std).astype(np.float32)


def check_arrays(name: str, x_train, y_train, x_test, y_test) -> tuple[np.ndarray, np.ndarray, int]:
    """Validate shapes, finiteness and labels; return int64 labels and the class count."""
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x.ndim < 3:
            raise DataError(f"{name}: {split} inputs have shape {x.shape}; expected N x C x L or N x C x H x W")
        if len(x) != len(y):
            raise DataError(f"{name}: {split} has {len(x)} inputs but {len(y)} labels")
        if len(x) == 0:
            raise DataError(f"{name}: the {split} split is empty")
        if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
            raise DataError(f"{name}: {split} inputs contain NaN or infinite values")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(f"{name}: train inputs are {x_train.shape[1:]} but test inputs are {x_test.shape[1:]}")
    labels = []
    for y in (y_train, y_test):
        y = np.asarray(y)
        if not np.issubdtype(y.dtype, np.integer) or y.ndim != 1 or (y < 0).any():
            raise DataError(f"{name}: labels must be a 1-D array of non-negative integers")
        labels.append(y.astype(np.int64))
    num_classes = int(max(labels[0].max(), labels[1].max())) + 1
    return labels[0], labels[1], num_classes


def limit(dataset, train_size: int | None, test_size: int | None):
    """Keep the first ``train_size`` / ``test_size`` examples (the loaders already shuffled)."""
    changes = {}
    if train_size is not None:
        if train_size > len(dataset.y_train):
            raise DataError(f"{dataset.name}: train_size {train_size} exceeds the {len(dataset.y_train)} training examples")
        changes.update(x_train=dataset.x_train[:train_size], y_train=dataset.y_train[:train_size])
    if test_size is not None:
        if test_size > len(dataset.y_test):
            raise DataError(f"{dataset.name}: test_size {test_size} exceeds the {len(dataset.y_test)} test examples")
        changes.update(x_test=dataset.x_test[:test_size], y_test=dataset.y_test[:test_size])
    return replace(dataset, **changes) if changes else dataset


def images_to_nchw(x: np.ndarray, name: str) -> np.ndarray:
    """N x H x W x C (channels last, C in 1/3/4) or N x C x H x W or N x H x W -> N x C x H x W."""
    if x.ndim == 3:
        return x[:, None]
    if x.ndim != 4:
        raise DataError(f"{name}: images have shape {x.shape}; expected N x H x W x C or N x C x H x W")
    if x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return x
