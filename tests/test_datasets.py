"""Data sources behind build_long_tailed: digits, CIFAR errors, ImageFolder, ImageNet-LT, real CIFAR-10."""

import numpy as np
import pytest
import torch
from PIL import Image

from fbcd_lab.data import FileImages, TensorImages, build_long_tailed, iterate_batches, load_source
from fbcd_lab.data.long_tail import long_tail_counts


def test_digits_split_is_fixed_balanced_and_disjoint():
    src = load_source("digits")
    assert np.bincount(src.test.labels).tolist() == [30] * 10
    assert len(src.train) + len(src.test) == 1797
    train_px = {t.numpy().tobytes() + bytes([int(y)]) for t, y in zip(src.train.images, src.train.labels)}
    assert src.train.images.dtype == torch.uint8 and src.train.images.shape[1:] == (1, 8, 8)
    assert int(src.train.images.max()) == 255
    again = load_source("digits")
    assert torch.equal(again.test.images, src.test.images)
    assert len(train_px) > 1700 - 300  # train part is real, distinct images


def test_digits_long_tailed(digits_lt):
    assert digits_lt.counts == tuple(long_tail_counts(144, 10, 10))
    assert np.bincount(digits_lt.train.labels).tolist() == list(digits_lt.counts)
    assert len(digits_lt.test) == 300 and len(digits_lt.spare) == 1497 - sum(digits_lt.counts)
    assert digits_lt.augment.hflip is False and digits_lt.in_channels == 1
    record = digits_lt.record()
    assert record["counts"] == list(digits_lt.counts) and len(record["indices_sha256"]) == 64


def test_validation_split_comes_from_unused_images():
    plain = build_long_tailed("digits", 100, n_max=120)
    with_val = build_long_tailed("digits", 100, n_max=120, val_per_class=10)
    assert with_val.fingerprint == plain.fingerprint  # same training subset
    assert np.bincount(with_val.val.labels).tolist() == [10] * 10
    train_rows = {t.numpy().tobytes() for t in with_val.train.images}
    assert not any(v.numpy().tobytes() in train_rows for v in with_val.val.images[:50])
    assert len(with_val.spare) == len(plain.spare) - 100
    with pytest.raises(ValueError, match="val_per_class 10 needs .* lower val_per_class or n_max"):
        build_long_tailed("digits", 100, val_per_class=10)


def test_build_errors(tmp_path):
    with pytest.raises(ValueError, match="dataset must be one of"):
        build_long_tailed("mnist")
    with pytest.raises(ValueError, match="data_root is required"):
        build_long_tailed("cifar10")
    with pytest.raises(FileNotFoundError, match="download=True"):
        build_long_tailed("cifar10", root=tmp_path)
    with pytest.raises(FileNotFoundError, match="data_root"):
        build_long_tailed("imagefolder", root=tmp_path / "absent")
    with pytest.raises(ValueError, match="imbalance_ratio must be .*>= 1"):
        build_long_tailed("digits", 0.5)
    with pytest.raises(ValueError, match="n_max must be <= 144"):
        build_long_tailed("digits", 10, n_max=200)


def test_cifar10_through_torchvision(tmp_path, monkeypatch):
    """A CIFAR-10 folder in torchvision's pickle layout (20 images a class), checksums bypassed."""
    import pickle

    from torchvision.datasets import CIFAR10

    folder = tmp_path / CIFAR10.base_folder
    folder.mkdir()
    rng = np.random.RandomState(0)
    for name, _ in CIFAR10.train_list + CIFAR10.test_list:
        labels = np.tile(np.arange(10), 4).tolist()
        batch = {"data": rng.randint(0, 256, (40, 3072), dtype=np.uint8), "labels": labels}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / CIFAR10.meta["filename"]).write_bytes(pickle.dumps({"label_names": [f"c{i}" for i in range(10)]}))
    monkeypatch.setattr(CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr("torchvision.datasets.cifar.check_integrity", lambda *args: True)
    data = build_long_tailed("cifar10", 10, root=tmp_path)
    assert data.counts == tuple(long_tail_counts(20, 10, 10)) and len(data.test) == 40
    assert data.train.images.shape[1:] == (3, 32, 32) and data.augment.crop_padding == 4
    assert data.classes[0] == "c0" and data.augment.mean == (0.4914, 0.4822, 0.4465)


def make_tree(root, splits, image_size=12):
    rng = np.random.RandomState(0)
    for split, per_class in splits.items():
        for c, n in enumerate(per_class):
            folder = root / split / f"class{c}"
            folder.mkdir(parents=True)
            for i in range(n):
                px = rng.randint(0, 256, (image_size, image_size, 3), dtype=np.uint8)
                Image.fromarray(px).save(folder / f"{i:03d}.png")


def test_imagefolder_tree_in_memory(tmp_path):
    make_tree(tmp_path, {"train": [20, 20, 20], "test": [4, 4, 4]})
    data = build_long_tailed("imagefolder", 5, root=tmp_path, seed=3)
    assert data.counts == (20, 8, 4)
    assert isinstance(data.train, TensorImages) and data.train.images.shape == (32, 3, 12, 12)
    assert data.classes == ("class0", "class1", "class2") and len(data.test) == 12
    assert isinstance(data.spare, FileImages) and len(data.spare) == 60 - 32
    expected = np.asarray(Image.open(tmp_path / "test/class1/000.png")).transpose(2, 0, 1)
    assert np.array_equal(data.test.images[4].numpy(), expected)
    assert data.augment.crop_padding == 1 and len(data.augment.mean) == 3


def test_imagefolder_class_mismatch(tmp_path):
    make_tree(tmp_path, {"train": [2, 2], "test": [1]})
    with pytest.raises(ValueError, match="different class folders"):
        build_long_tailed("imagefolder", 1, root=tmp_path)


def test_imagenet_lt_from_split_lists(imagenet_lt_tree):
    data = build_long_tailed("imagenet_lt", None, root=imagenet_lt_tree, image_size=16)
    assert data.counts == (6, 3, 1) and isinstance(data.train, FileImages)
    assert data.classes == ("n00000000", "n00000001", "n00000002")
    x, y, idx = next(iterate_batches(data.train, 4, data.augment, train=True,
                                     generator=torch.Generator().manual_seed(0), image_size=16))
    assert x.shape == (4, 3, 16, 16) and x.dtype == torch.float32 and len(set(idx.tolist())) == 4
    with pytest.raises(ValueError, match="imbalance_ratio must be None"):
        build_long_tailed("imagenet_lt", 10, root=imagenet_lt_tree)
    (imagenet_lt_tree / "ImageNet_LT_test.txt").unlink()
    with pytest.raises(FileNotFoundError, match="ImageNet_LT_test.txt"):
        build_long_tailed("imagenet_lt", None, root=imagenet_lt_tree)


def test_real_cifar10_jpeg_long_tailed(cifar10_jpeg):
    data = build_long_tailed("imagefolder", 100, root=cifar10_jpeg, in_memory=False)
    assert data.counts == (5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50)
    assert sum(data.counts) == 12_406 and np.bincount(data.train.labels).tolist() == list(data.counts)
    assert data.classes[:3] == ("airplane", "automobile", "bird") and len(data.test) == 10_000
    assert np.bincount(data.test.labels).tolist() == [1000] * 10
    few = data.train.subset(np.flatnonzero(data.train.labels == 9)).decode()
    assert few.images.shape == (50, 3, 32, 32) and few.images.dtype == torch.uint8
