"""Datasets (digits, locally generated MNIST-1D, CIFAR-10 layouts, image folders), augmentation, batches."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest
import torch

from edgemem.distill.config import DataOptions
from edgemem.distill.data import DATASETS, load_dataset
from edgemem.distill.data.augment import augment_batch
from edgemem.distill.data.loader import BatchSource
from edgemem.errors import DataError


def test_digits_split_and_standardisation():
    ds = load_dataset("digits")
    assert (len(ds.y_train), len(ds.y_test)) == (1347, 450)
    assert ds.input_shape == (1, 1, 8, 8) and ds.num_classes == 10 and ds.augment == "shift"
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert abs(float(ds.x_train.mean())) < 1e-4 and float(ds.x_train.std()) == pytest.approx(1.0, rel=1e-3)
    per_class = np.bincount(ds.y_train) + np.bincount(ds.y_test)
    assert np.abs(np.bincount(ds.y_test) - per_class * 0.25).max() <= 1  # stratified split


def test_mnist1d_is_generated_locally_and_leaves_global_rngs_alone():
    random.seed(123)
    np.random.seed(123)
    before = (random.random(), np.random.rand())
    random.seed(123)
    np.random.seed(123)
    ds = load_dataset("mnist1d", options=DataOptions(train_size=1000))
    after = (random.random(), np.random.rand())
    assert before == after  # make_dataset reseeds the globals; the loader restores them
    assert (len(ds.y_train), len(ds.y_test)) == (1000, 1000)
    assert ds.input_shape == (1, 1, 40) and ds.num_classes == 10
    again = load_dataset("mnist1d")
    assert len(again.y_train) == 4000
    assert np.array_equal(again.y_train[:1000], ds.y_train)  # deterministic generator, first N kept


def test_data_path_is_refused_for_bundled_data():
    with pytest.raises(DataError, match="takes no data path"):
        load_dataset("digits", "/somewhere")


def _write_cifar_batches(folder, per_batch=4):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 b"labels": list(rng.integers(0, 10, per_batch)), b"batch_label": name.encode()}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [f"c{i}".encode() for i in range(10)]}, f)


def test_cifar10_python_batches(tmp_path):
    _write_cifar_batches(tmp_path / "cifar-10-batches-py")
    ds = load_dataset("cifar10", str(tmp_path))  # the parent of cifar-10-batches-py works too
    assert (len(ds.y_train), len(ds.y_test)) == (20, 4)
    assert ds.input_shape == (1, 3, 32, 32) and ds.class_names[:2] == ("c0", "c1") and ds.augment == "crop_flip"
    assert np.allclose(ds.x_train.mean(axis=(0, 2, 3)), 0, atol=1e-4)


def test_cifar10_batches_refuse_foreign_pickles(tmp_path):
    folder = tmp_path / "batches"
    _write_cifar_batches(folder)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": np.zeros((1, 3072), np.uint8), b"labels": [0], b"x": DataOptions()}, f)
    with pytest.raises(DataError, match="refusing to load edgemem.distill.data.options.DataOptions"):
        load_dataset("cifar10", str(folder))


def test_cifar10_npz_channels_last_and_val_split(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "subset.npz"
    np.savez(path, x_train=rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8), y_train=np.arange(12) % 10,
             x_val=rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8), y_val=np.arange(5),
             class_names=np.array([f"n{i}" for i in range(10)]))
    ds = load_dataset("cifar10", str(path), DataOptions(train_size=10))
    assert (len(ds.y_train), len(ds.y_test)) == (10, 5) and ds.x_train.shape[1:] == (3, 32, 32)
    assert ds.class_names[9] == "n9" and ds.num_classes == 10


@pytest.mark.parametrize("content, message", [
    (None, "dataset path not found"),
    (b"not a zip", "not a readable .npz"),
])
def test_cifar10_bad_paths_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "data.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        load_dataset("cifar10", str(path))
    assert "\n" not in info.value.one_line()


def test_cifar10_npz_missing_keys_and_folder_missing_batches(tmp_path):
    np.savez(tmp_path / "wrong.npz", images=np.zeros((2, 32, 32, 3), np.uint8))
    with pytest.raises(DataError, match="needs x_train, y_train"):
        load_dataset("cifar10", str(tmp_path / "wrong.npz"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="missing data_batch_1"):
        load_dataset("cifar10", str(tmp_path / "empty"))


def _write_folder(root, size=(10, 10), mode="RGB"):
    from PIL import Image

    rng = np.random.default_rng(2)
    for split, count in (("train", 3), ("test", 2)):
        for name in ("cat", "dog"):
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                shape = (*size[::-1], 3) if mode == "RGB" else size[::-1]
                Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(root / split / name / f"{i}.png")


def test_image_folder_rgb_and_gray(tmp_path):
    _write_folder(tmp_path / "rgb")
    ds = load_dataset("folder", str(tmp_path / "rgb"))
    assert ds.input_shape == (1, 3, 10, 10) and ds.class_names == ("cat", "dog")
    assert sorted(ds.y_train.tolist()) == [0, 0, 0, 1, 1, 1] and len(ds.y_test) == 4
    _write_folder(tmp_path / "gray", size=(6, 6), mode="L")
    assert load_dataset("folder", str(tmp_path / "gray"), DataOptions(image_size=4)).input_shape == (1, 1, 4, 4)


def test_image_folder_errors(tmp_path):
    with pytest.raises(DataError, match="dataset path not found"):
        load_dataset("folder", str(tmp_path / "nope"))
    (tmp_path / "flat").mkdir()
    with pytest.raises(DataError, match="needs train/ and test/"):
        load_dataset("folder", str(tmp_path / "flat"))
    _write_folder(tmp_path / "mixed")
    from PIL import Image

    Image.new("RGB", (12, 12)).save(tmp_path / "mixed" / "train" / "cat" / "z.png")
    with pytest.raises(DataError, match="image_size"):
        load_dataset("folder", str(tmp_path / "mixed"))


def test_train_size_beyond_the_data_is_an_error():
    with pytest.raises(DataError, match="exceeds"):
        load_dataset("digits", options=DataOptions(train_size=5000))


def test_unknown_dataset():
    assert set(DATASETS) == {"digits", "mnist1d", "cifar10", "folder"}
    with pytest.raises(DataError, match="unknown dataset"):
        load_dataset("imagenet")


def test_crop_flip_keeps_content_and_shape():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    out = augment_batch(x, "crop_flip", torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    # every output row is a (possibly flipped, shifted) window of the zero-padded input
    for n in range(2):
        values = set(out[n].flatten().tolist()) - {0.0}
        assert values <= set(x[n].flatten().tolist())
        assert len(values) >= 7 * 7 * 3  # a shift by at most 1 pixel each way keeps most of the image


def test_shift_is_a_roll_of_at_most_one_pixel():
    x = torch.randn(16, 1, 8, 8)
    out = augment_batch(x, "shift", torch.Generator().manual_seed(3))
    for n in range(16):
        assert any(torch.equal(out[n], torch.roll(x[n], (dy, dx), (1, 2))) for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def test_one_dimensional_crop_and_no_augment():
    x = torch.randn(4, 2, 40)
    out = augment_batch(x, "crop_flip", torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert augment_batch(x, "none", torch.Generator()) is x
    with pytest.raises(ValueError, match="unknown augmentation"):
        augment_batch(x, "mixup", torch.Generator())


def test_batches_depend_only_on_seed_and_epoch():
    ds = load_dataset("digits", options=DataOptions(train_size=300))
    a, b = BatchSource(ds, 64, seed=5), BatchSource(ds, 64, seed=5)
    torch.manual_seed(0)
    first = [(x.clone(), y.clone()) for x, y in a.train_batches(2)]
    torch.manual_seed(99)  # the global RNG does not matter
    second = list(b.train_batches(2))
    assert len(first) == a.steps_per_epoch == 5
    assert all(torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(first, second))
    other_epoch = next(iter(a.train_batches(3)))[1]
    assert not torch.equal(other_epoch, first[0][1])
    assert sum(len(y) for _, y in a.eval_batches()) == 450


def test_a_lone_last_example_is_not_a_batch():
    ds = load_dataset("digits", options=DataOptions(train_size=129))
    sizes = [len(y) for _, y in BatchSource(ds, 64).train_batches(0)]
    assert sizes == [64, 64]
