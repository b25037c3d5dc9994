"""Image folders: ``ROOT/train/<class>/*.png|jpg|...`` and ``ROOT/test/<class>/...`` (or ``val/``).

Class indices follow the sorted class-folder names of ``train/``; the training split is shuffled
once with ``[data] split_seed`` so ``train_size`` keeps every class. Images are converted to RGB
(or kept grayscale when every image is single-channel) and, with ``[data] image_size``, resized
to that square size; without it all images must share one size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgemem.distill.data.dataset import Dataset
from edgemem.distill.data.common import check_arrays, standardize
from edgemem.errors import DataError

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}


def load_image_folder(path: str | None, options) -> Dataset:
    if path is None:
        raise DataError("dataset 'folder' needs --data-path", hint="a folder with train/<class>/ and test/<class>/")
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"dataset path not found: {root}" if not root.exists() else f"{root}: not a folder")
    train_dir = root / "train"
    test_dir = next((root / n for n in ("test", "val") if (root / n).is_dir()), None)
    if not train_dir.is_dir() or test_dir is None:
        raise DataError(f"{root}: an image folder dataset needs train/ and test/ (or val/) subfolders")
    classes = sorted(p.name for p in train_dir.iterdir() if p.is_dir())
    if not classes:
        raise DataError(f"{train_dir}: no class folders")
    gray = _all_gray(train_dir, classes) and _all_gray(test_dir, classes)
    x_train, y_train = _read_split(train_dir, classes, options.image_size, gray)
    x_test, y_test = _read_split(test_dir, classes, options.image_size, gray)
    y_train, y_test, _ = check_arrays(str(root), x_train, y_train, x_test, y_test)
    order = np.random.default_rng(options.split_seed).permutation(len(y_train))  # class-mixed, so train_size keeps every class
    x_train, y_train = x_train[order], y_train[order]
    x_train, x_test = standardize(x_train, x_test)
    return Dataset("folder", x_train, y_train, x_test, y_test, len(classes), augment="crop_flip",
                   source=str(root), class_names=tuple(classes))


def _files(split_dir: Path, name: str) -> list[Path]:
    folder = split_dir / name
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in EXTENSIONS) if folder.is_dir() else []


def _all_gray(split_dir: Path, classes: list[str]) -> bool:
    from PIL import Image

    for name in classes:
        for file in _files(split_dir, name):
            with Image.open(file) as image:
                if image.mode not in ("L", "1", "I;16", "I"):
                    return False
    return True


def _read_split(split_dir: Path, classes: list[str], size: int | None, gray: bool):
    from PIL import Image, UnidentifiedImageError

    images, labels = [], []
    extra = sorted(p.name for p in split_dir.iterdir() if p.is_dir() and p.name not in classes)
    if extra:
        raise DataError(f"{split_dir}: class folders {', '.join(extra)} are not in train/")
    for index, name in enumerate(classes):
        for file in _files(split_dir, name):
            try:
                with Image.open(file) as image:
                    image = image.convert("L" if gray else "RGB")
                    if size is not None:
                        image = image.resize((size, size), Image.BILINEAR)
                    array = np.asarray(image, dtype=np.float32) / 255.0
            except (UnidentifiedImageError, OSError) as exc:
                raise DataError(f"{file}: not a readable image ({exc})") from None
            if images and array.shape != images[0].shape:
                raise DataError(f"{file}: size {array.shape[:2]} differs from {images[0].shape[:2]}",
                                hint="set [data] image_size to resize every image")
            images.append(array)
            labels.append(index)
    if not images:
        raise DataError(f"{split_dir}: no images ({', '.join(sorted(EXTENSIONS))})")
    x = np.stack(images)
    x = x[:, None] if gray else x.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x), np.asarray(labels, dtype=np.int64)
