"""CIFAR-10 from its python-batch layout or from an ``.npz``.

* python batches: a folder holding ``data_batch_1`` ... ``data_batch_5`` and ``test_batch``
  (or its parent holding ``cifar-10-batches-py/``); each is a pickle of ``{b"data": uint8
  N x 3072 (RGB planes), b"labels": [...]}``, ``batches.meta`` gives the class names. The
  pickles are read with an unpickler that only accepts plain containers and numpy arrays.
* ``.npz``: ``x_train``, ``y_train`` and ``x_test``/``y_test`` (or ``x_val``/``y_val``), images
  N x 32 x 32 x 3 or N x 3 x 32 x 32, optional ``class_names``; read without pickle.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from edgemem.distill.data.dataset import Dataset
from edgemem.distill.data.common import check_arrays, images_to_nchw, standardize
from edgemem.errors import DataError

BATCH_DIR = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
_NUMPY_GLOBALS = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                  ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
                  ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}  # protocol-2 bytes


def load_cifar10(path: str | None, options) -> Dataset:
    if path is None:
        raise DataError("dataset 'cifar10' needs --data-path", hint="a cifar-10-batches-py folder or an .npz")
    root = Path(path).expanduser()
    if not root.exists():
        raise DataError(f"dataset path not found: {root}")
    if root.is_file():
        arrays = _read_npz(root)
    else:
        arrays = _read_batches(root / BATCH_DIR if (root / BATCH_DIR).is_dir() else root)
    x_train, y_train, x_test, y_test, names = arrays
    x_train = images_to_nchw(np.asarray(x_train), str(root)).astype(np.float32) / 255.0
    x_test = images_to_nchw(np.asarray(x_test), str(root)).astype(np.float32) / 255.0
    y_train, y_test, num_classes = check_arrays(str(root), x_train, y_train, x_test, y_test)
    x_train, x_test = standardize(x_train, x_test)
    return Dataset("cifar10", x_train, y_train, x_test, y_test, max(num_classes, len(names) or 0), augment="crop_flip",
                   source=str(root), class_names=tuple(names))


def _read_npz(path: Path):
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = set(data.files)
            test = "test" if {"x_test", "y_test"} <= keys else "val"
            needed = {"x_train", "y_train", f"x_{test}", f"y_{test}"}
            if not needed <= keys:
                raise DataError(f"{path}: an .npz dataset needs x_train, y_train and x_test/y_test (or x_val/y_val); "
                                f"found {', '.join(sorted(keys)) or 'no arrays'}")
            names = [str(n) for n in data["class_names"]] if "class_names" in keys else []
            return data["x_train"], data["y_train"], data[f"x_{test}"], data[f"y_{test}"], names
    except DataError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})") from None


def _read_batches(folder: Path):
    missing = [name for name in (*TRAIN_BATCHES, "test_batch") if not (folder / name).is_file()]
    if missing:
        raise DataError(f"{folder}: not a CIFAR-10 python-batch folder (missing {', '.join(missing)})",
                        hint="point --data-path at cifar-10-batches-py or at an .npz")
    train = [_read_batch(folder / name) for name in TRAIN_BATCHES]
    x_test, y_test = _read_batch(folder / "test_batch")
    names = []
    if (folder / "batches.meta").is_file():
        meta = _unpickle(folder / "batches.meta")
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in meta.get(b"label_names", meta.get("label_names", []))]
    return np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]), x_test, y_test, names


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    batch = _unpickle(path)
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if data is None or labels is None:
        raise DataError(f"{path}: a CIFAR batch needs 'data' and 'labels'")
    data = np.asarray(data, dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{path}: batch data has shape {data.shape}; expected N x 3072")
    return data.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int64)


class _SafeUnpickler(pickle.Unpickler):
    """Accepts dicts, lists, bytes, numbers and numpy arrays; any other class is refused."""

    def find_class(self, module: str, name: str):
        if (module, name) in _NUMPY_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as handle:
            value = _SafeUnpickler(handle, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, OSError, TypeError, AttributeError) as exc:
        raise DataError(f"{path}: not a CIFAR-10 batch ({type(exc).__name__}: {exc})") from None
    if not isinstance(value, dict):
        raise DataError(f"{path}: not a CIFAR-10 batch (holds a {type(value).__name__}, expected a dict)")
    return value
