"""MNIST-1D generated locally with the ``mnist1d`` package's generator (never its download helper).

``mnist1d.data.make_dataset(get_dataset_args())``: 4,000 train / 1,000 test signals of length
40, 10 classes, the package's default seed 42. The generator reseeds numpy's and Python's
global RNGs; this loader saves and restores them so training seeds are not disturbed.
"""

from __future__ import annotations

import random

import numpy as np

from edgemem.distill.data.dataset import Dataset
from edgemem.distill.data.common import check_arrays, standardize
from edgemem.errors import DataError


def load_mnist1d(path: str | None, options) -> Dataset:
    if path is not None:
        raise DataError("dataset 'mnist1d' is generated locally and takes no data path", hint="drop --data-path")
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:
        raise DataError("dataset 'mnist1d' needs the mnist1d package", hint="pip install 'edgemem[distill]'") from None
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(get_dataset_args())  # the local generator; get_dataset() would download
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)
    x_train = np.asarray(data["x"], dtype=np.float32)[:, None]  # N x 1 x 40
    x_test = np.asarray(data["x_test"], dtype=np.float32)[:, None]
    y_train, y_test, num_classes = check_arrays("mnist1d", x_train, np.asarray(data["y"]), x_test, np.asarray(data["y_test"]))
    x_train, x_test = standardize(x_train, x_test)
    return Dataset("mnist1d", x_train, y_train, x_test, y_test, num_classes, augment="none",
                   source="mnist1d.make_dataset, generated locally (seed 42)", class_names=tuple(str(i) for i in range(10)))
