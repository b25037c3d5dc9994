"""scikit-learn's bundled 8x8 digits (1,797 images), 75/25 stratified split."""

from __future__ import annotations

import numpy as np

from edgemem.distill.data.dataset import Dataset
from edgemem.distill.data.common import check_arrays, standardize
from edgemem.errors import DataError


def load_digits_dataset(path: str | None, options) -> Dataset:
    """1,347 train / 450 test (``train_test_split(stratify=y, test_size=0.25, random_state=split_seed)``)."""
    if path is not None:
        raise DataError("dataset 'digits' ships with scikit-learn and takes no data path", hint="drop --data-path")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[:, None]  # N x 1 x 8 x 8
    y = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, stratify=y, random_state=options.split_seed)
    y_train, y_test, num_classes = check_arrays("digits", x_train, y_train, x_test, y_test)
    x_train, x_test = standardize(x_train, x_test)
    return Dataset("digits", x_train, y_train, x_test, y_test, num_classes, augment="shift",
                   source="scikit-learn load_digits", class_names=tuple(str(i) for i in range(10)))
