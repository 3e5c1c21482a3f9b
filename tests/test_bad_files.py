"""Bad image files: one-line BadImageFile errors naming the file, hidden names skipped, test files checked early."""

import multiprocessing
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from fbcd_lab.data import BadImageFile, FileImages, build_long_tailed, iterate_batches
from fbcd_lab.data.images import check_decodable


def jpeg(path, size, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(seed)
    Image.fromarray(rng.randint(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path, "JPEG")


def jpeg_tree(root, size=16, train=(6, 4, 3), test=2):
    """``train/class<c>/<i>.jpg`` and ``test/class<c>/<i>.jpg`` of size x size random JPEGs."""
    for split, counts in (("train", train), ("test", (test,) * len(train))):
        for c, n in enumerate(counts):
            for i in range(n):
                jpeg(root / split / f"class{c}" / f"{i}.jpg", (size, size), seed=100 * c + i)
    return root


def truncated(path):
    jpeg(path, (80, 80))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def text(path):
    path.write_text("not an image\n")


def empty(path):
    path.write_bytes(b"")


def dangling_link(path):
    path.symlink_to(path.parent / "gone.jpg")


def unreadable(path, monkeypatch):
    real_open = Image.open

    def refusing_open(fp, *args, **kwargs):
        if str(fp) == str(path):
            raise PermissionError(13, "Permission denied", str(fp))
        return real_open(fp, *args, **kwargs)

    jpeg(path, (16, 16))
    monkeypatch.setattr(Image, "open", refusing_open)


BAD = {"truncated": (truncated, "truncated"), "text": (text, "not an image format"),
       "empty": (empty, "empty file"), "dangling link": (dangling_link, "broken symbolic link"),
       "unreadable": (unreadable, "Permission denied")}


def make_bad(kind, path, monkeypatch):
    if kind == "unreadable":
        unreadable(path, monkeypatch)
    else:
        BAD[kind][0](path)


def assert_one_line_naming(err, path, kind):
    message = str(err.value)
    assert isinstance(err.value, ValueError) and "\n" not in message, message
    assert str(path) in message and re.search(BAD[kind][1], message, re.IGNORECASE), message
    assert "Traceback" not in message


def test_truncated_images_stay_errors():
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize("kind", BAD)
def test_in_memory_set_names_bad_file(tmp_path, monkeypatch, kind):
    bad = jpeg_tree(tmp_path) / "train" / "class1" / "bad.jpg"
    make_bad(kind, bad, monkeypatch)
    with pytest.raises(BadImageFile) as err:
        build_long_tailed("imagefolder", None, root=tmp_path)
    assert_one_line_naming(err, bad, kind)


@pytest.mark.parametrize("kind", BAD)
def test_streamed_test_set_is_checked_before_training(tmp_path, monkeypatch, kind):
    bad = jpeg_tree(tmp_path, size=80) / "test" / "class2" / "bad.jpg"
    make_bad(kind, bad, monkeypatch)
    with pytest.raises(BadImageFile, match=r"^1 of 7 test image files cannot be decoded") as err:
        build_long_tailed("imagefolder", None, root=tmp_path)
    assert_one_line_naming(err, bad, kind)
    data = build_long_tailed("imagefolder", None, root=tmp_path, check_files=False)
    assert isinstance(data.test, FileImages) and str(bad) in data.test.paths


def test_streamed_validation_set_is_checked(tmp_path):
    jpeg_tree(tmp_path, size=80, train=(8, 8, 8))
    data = build_long_tailed("imagefolder", 4, root=tmp_path, n_max=4, val_per_class=2)
    text(Path(data.val.paths[3]))
    with pytest.raises(BadImageFile, match=r"^1 of 6 validation image files cannot be decoded") as err:
        build_long_tailed("imagefolder", 4, root=tmp_path, n_max=4, val_per_class=2)
    assert data.val.paths[3] in str(err.value)


def test_check_counts_bad_files_and_names_the_first(tmp_path):
    paths = [tmp_path / f"{i}.jpg" for i in range(5)]
    for i, path in enumerate(paths):
        jpeg(path, (120, 90), seed=i)
    truncated(paths[1])
    text(paths[3])
    images = FileImages(tuple(str(p) for p in paths), np.zeros(5, dtype=np.int64))
    with pytest.raises(BadImageFile, match=r"^2 of 5 validation image files") as err:
        check_decodable(images, "validation", threads=2)
    assert str(paths[1]) in str(err.value) and str(paths[3]) not in str(err.value)
    check_decodable(images.subset(np.array([0, 2, 4])), "test")


@pytest.mark.parametrize("num_workers", [0, 2])
def test_streamed_training_file_fails_in_one_line(tmp_path, num_workers):
    bad = jpeg_tree(tmp_path, size=80) / "train" / "class0" / "bad.jpg"
    truncated(bad)
    data = build_long_tailed("imagefolder", None, root=tmp_path)  # training files are not pre-checked
    assert isinstance(data.train, FileImages) and str(bad) in data.train.paths
    batches = iterate_batches(data.train, 4, data.augment, train=False, generator=torch.Generator(),
                              image_size=data.image_size, num_workers=num_workers)
    with pytest.raises(BadImageFile) as err:
        list(batches)
    assert_one_line_naming(err, bad, "truncated")
    assert not multiprocessing.active_children()  # the failed loader's workers are shut down already


def test_bad_first_training_file_when_probing_the_size(tmp_path):
    bad = jpeg_tree(tmp_path, size=80) / "train" / "class0" / "0.jpg"
    text(bad)
    with pytest.raises(BadImageFile) as err:
        build_long_tailed("imagefolder", None, root=tmp_path)
    assert_one_line_naming(err, bad, "text")


def test_hidden_folders_and_files_are_ignored(tmp_path):
    root = tmp_path / ".cache" / "data"  # a hidden folder above the tree does not matter
    clean = build_long_tailed("imagefolder", None, root=jpeg_tree(root))
    for junk in ("train/.ipynb_checkpoints/0.jpg", "train/.git/objects/x.jpg", "test/.ipynb_checkpoints/0.jpg",
                 "train/class0/.ipynb_checkpoints/0-checkpoint.jpg", "train/class1/._0.jpg",
                 "test/class2/.hidden/deeper/0.jpg"):
        (root / junk).parent.mkdir(parents=True, exist_ok=True)
        text(root / junk)  # decoding any of them would fail
    (root / "train" / "class1" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    data = build_long_tailed("imagefolder", None, root=root)
    assert data.classes == clean.classes == ("class0", "class1", "class2")
    assert data.counts == clean.counts == (6, 4, 3) and len(data.test) == len(clean.test) == 6
    assert torch.equal(data.train.images, clean.train.images)


def test_mixed_sizes_advise_image_size(tmp_path):
    odd = jpeg_tree(tmp_path) / "train" / "class2" / "odd.jpg"
    jpeg(odd, (20, 24))
    with pytest.raises(ValueError, match=r"pass image_size \(--image-size\) to resize them") as err:
        build_long_tailed("imagefolder", None, root=tmp_path)
    assert str(odd) in str(err.value) and "20x24" in str(err.value) and "\n" not in str(err.value)
    data = build_long_tailed("imagefolder", None, root=tmp_path, image_size=16)
    assert data.train.images.shape[1:] == (3, 16, 16)
