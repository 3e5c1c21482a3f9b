"""Your own data: natural long tails, a val/ folder, grey images, Tiny-ImageNet's layout, ImageNet-LT's val list."""

import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from fbcd_lab import MethodConfig, train
from fbcd_lab.cli import build_parser, main
from fbcd_lab.config import (
    DEFAULT_BACKBONE, DEFAULT_PRESET, SMALL_FOLDER_IMAGES, default_backbone_and_preset, default_image_size, preset,
    sized_protocol,
)
from fbcd_lab.data import FileImages, TensorImages, build_long_tailed, iterate_batches
from fbcd_lab.data import datasets
from fbcd_lab.data.long_tail import long_tail_counts
from fbcd_lab.data.sources import SOURCES
from fbcd_lab.runtime import available_cpus

COUNTS = {"bee": 3, "cat": 12, "dog": 6}  # natural counts, not in size order
ONE_EPOCH = preset("digits", epochs=1)
SMALL = MethodConfig(method="fbcd", backbone="small_cnn", u=4)


def pixels(rng, mode, size=16):
    """A random image of Pillow ``mode``: RGB, L (8-bit grey) or I;16 (16-bit grey)."""
    if mode == "RGB":
        return Image.fromarray(rng.randint(0, 256, (size, size, 3), dtype=np.uint8))
    if mode == "L":
        return Image.fromarray(rng.randint(0, 256, (size, size), dtype=np.uint8))
    return Image.fromarray(rng.randint(0, 65536, (size, size), dtype=np.uint16))


def image_folder(root, counts=COUNTS, splits=("train", "test"), mode="RGB", per_class=2):
    """``split/<class>/<i>.png``: ``counts`` training images per class, ``per_class`` in other splits
    (a number, or a count per class)."""
    rng = np.random.RandomState(0)
    for split in splits:
        for name, n in counts.items():
            (root / split / name).mkdir(parents=True)
            for i in range(n if split == "train" else per_class[name] if isinstance(per_class, dict) else per_class):
                pixels(rng, mode).save(root / split / name / f"{i}.png")
    return root


def tiny_imagenet_tree(root, wnids=("n03", "n01", "n05", "n02", "n04"), train=12, val=3):
    """tiny-imagenet-200's layout: wnids.txt (unsorted), words.txt, train/<wnid>/images/*.JPEG and
    <wnid>_boxes.txt, val/images/*.JPEG labelled by val/val_annotations.txt, 64 x 64 JPEGs, one grey."""
    rng = np.random.RandomState(0)
    (root / "val" / "images").mkdir(parents=True)
    (root / "wnids.txt").write_text("\n".join(wnids) + "\n")
    (root / "words.txt").write_text("".join(f"{w}\tthing {w}\n" for w in wnids))
    annotations = []
    for w in wnids:
        (root / "train" / w / "images").mkdir(parents=True)
        (root / "train" / w / f"{w}_boxes.txt").write_text("")
        for i in range(train):
            pixels(rng, "RGB", 64).save(root / "train" / w / "images" / f"{w}_{i}.JPEG", "JPEG")
        for i in range(val):
            name = f"val_{len(annotations)}.JPEG"
            pixels(rng, "RGB", 64).save(root / "val" / "images" / name, "JPEG")
            annotations.append(f"{name}\t{w}\t0\t0\t63\t63")
    pixels(rng, "L", 64).save(root / "train" / wnids[0] / "images" / f"{wnids[0]}_0.JPEG", "JPEG")  # a grey one
    (root / "val" / "val_annotations.txt").write_text("\n".join(annotations[::-1]) + "\n")
    return root


def test_natural_keeps_every_image_and_measures_the_ratio(tmp_path):
    data = build_long_tailed("imagefolder", None, root=image_folder(tmp_path))
    assert data.classes == ("bee", "cat", "dog") and data.counts == (3, 12, 6) and len(data.train) == 21
    assert len(data.spare) == 0 and data.imbalance_ratio is None and data.measured_ratio == 12 / 3
    record = data.record()
    assert record["imbalance_ratio"] == "natural" and record["profile"] == "natural"
    assert record["measured_imbalance_ratio"] == 4.0 and record["counts"] == [3, 12, 6]
    run = train(data, SMALL, ONE_EPOCH, progress=False)
    # Eq. 3 on the folder's counts, smallest 3 and largest 12: u_c = 1 + round((n_c - 3) / 9 * 3)
    assert run.division.clusters_per_class == [1, 4, 2]
    assert np.bincount(run.division.class_of_cluster[run.division.cluster_of_sample]).tolist() == [3, 12, 6]
    with pytest.raises(ValueError, match=r"val_per_class 2 needs .*\(natural\) uses them all"):
        build_long_tailed("imagefolder", None, root=tmp_path, val_per_class=2)


def test_natural_from_the_command_line(tmp_path, capsys):
    root, out = image_folder(tmp_path / "pets"), tmp_path / "run"
    assert main(["train", "--dataset", "imagefolder", "--data-root", str(root), "--imbalance-ratio", "natural",
                 "--method", "fbcd", "--u", "4", "--backbone", "small_cnn", "--epochs", "1", "--no-progress",
                 "--out", str(out)]) == 0
    record = json.loads((out / "results.json").read_text())
    assert record["data"]["imbalance_ratio"] == "natural" and record["data"]["measured_imbalance_ratio"] == 4.0
    assert record["counts"] == [3, 12, 6] and record["config"]["data_spec"]["imbalance_ratio"] is None
    assert record["status"] == "finished" and record["division"]["clusters_per_class"] == [1, 4, 2]
    assert main(["eval", "--checkpoint", str(out / "checkpoint.pt"), "--data-root", str(root)]) == 0
    with pytest.raises(SystemExit):
        main(["train", "--dataset", "digits", "--method", "ce", "--imbalance-ratio", "wild", "--out", str(out)])
    assert "must be natural or a finite number >= 1, got 'wild'" in capsys.readouterr().err


def test_a_small_folder_gets_the_cpu_protocol_by_default_and_is_told(tmp_path, capsys):
    """The own-data guide's command (docs/pages/guides/own_data.md), no option beyond the data: ResNet-8
    and cpu_short (30 epochs) below SMALL_FOLDER_IMAGES training images, with one line naming the
    paper's setup."""
    root, out = image_folder(tmp_path / "pets"), tmp_path / "run"
    assert main(["train", "--dataset", "imagefolder", "--data-root", str(root), "--imbalance-ratio", "natural",
                 "--method", "fbcd", "--no-progress", "--out", str(out)]) == 0
    assert ("a small folder (21 training images, under 5,000): by default resnet8 and preset cpu_short (30 epochs); "
            "--backbone resnet18 --preset paper_tiny_imagenet") in capsys.readouterr().out
    record = json.loads((out / "results.json").read_text())
    assert record["config"]["method"]["backbone"] == "resnet8" and record["epochs_done"] == 30
    assert record["config"]["optim"] == json.loads(json.dumps(preset("cpu_short").to_dict()))
    assert default_backbone_and_preset("imagefolder", SMALL_FOLDER_IMAGES - 1) == ("resnet8", "cpu_short")
    assert default_backbone_and_preset("imagefolder", SMALL_FOLDER_IMAGES) == ("resnet18", "paper_tiny_imagenet")
    assert default_backbone_and_preset("imagefolder") == ("resnet18", "paper_tiny_imagenet")
    assert default_backbone_and_preset("cifar10", 12) == ("resnet32", "paper_cifar")
    with pytest.raises(ValueError, match="dataset must be one of"):
        default_backbone_and_preset("cifar", 12)
    assert default_image_size("imagefolder", 21, 80) == 64 and default_image_size("imagefolder", 21, 64) is None
    assert default_image_size("imagefolder", SMALL_FOLDER_IMAGES, 80) is None
    assert default_image_size("tiny_imagenet", 21, 80) is None
    # a small folder of larger images (photos) trains on 64 px squares unless --image-size says otherwise
    photos = tmp_path / "photos"
    rng = np.random.RandomState(0)
    for split, n in (("train", 4), ("test", 2)):
        for name in ("a", "b"):
            (photos / split / name).mkdir(parents=True)
            for i in range(n):
                pixels(rng, "RGB", 80).save(photos / split / name / f"{i}.png")
    assert main(["train", "--dataset", "imagefolder", "--data-root", str(photos), "--imbalance-ratio", "natural",
                 "--method", "ce", "--epochs", "1", "--no-progress", "--out", str(tmp_path / "p64")]) == 0
    assert "images resized to 64 px (they are 80 px; --image-size N sets another size)" in capsys.readouterr().out
    assert json.loads((tmp_path / "p64" / "results.json").read_text())["data"]["image_size"] == 64
    assert main(["train", "--dataset", "imagefolder", "--data-root", str(photos), "--imbalance-ratio", "natural",
                 "--method", "ce", "--epochs", "1", "--image-size", "80", "--no-progress",
                 "--out", str(tmp_path / "p80")]) == 0
    assert "resized" not in capsys.readouterr().out
    assert json.loads((tmp_path / "p80" / "results.json").read_text())["data"]["image_size"] == 80
    # either option given: no line, the other keeps its small-folder default
    assert main(["train", "--dataset", "imagefolder", "--data-root", str(root), "--imbalance-ratio", "natural",
                 "--method", "ce", "--backbone", "small_cnn", "--preset", "digits", "--epochs", "1", "--no-progress",
                 "--out", str(tmp_path / "given")]) == 0
    assert "small folder" not in capsys.readouterr().out


def test_the_command_line_gives_a_warning_one_line(tmp_path, capsys):
    root = image_folder(tmp_path / "pets")
    (root / "train" / "bee" / "notes.txt").write_text("not an image")
    assert main(["train", "--dataset", "imagefolder", "--data-root", str(root), "--imbalance-ratio", "natural",
                 "--method", "ce", "--backbone", "small_cnn", "--epochs", "1", "--no-progress",
                 "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err.splitlines()
    said = [line for line in err if "not images were skipped" in line]
    assert len(said) == 1 and said[0].startswith("python -m fbcd_lab train: warning: ") and "notes.txt" in said[0]
    assert not any("UserWarning" in line or "sources.py" in line for line in err), err


def test_study_over_a_natural_folder(tmp_path, capsys):
    root = image_folder(tmp_path / "pets")
    assert main(["study", "table4", "--dataset", "imagefolder", "--data-root", str(root), "--ratios", "natural",
                 "--seeds", "0", "--cells", "ce", "--backbone", "small_cnn", "--epochs", "1", "--no-progress",
                 "--out", str(tmp_path / "out")]) == 0
    table = json.loads((tmp_path / "out" / "table4" / "table.json").read_text())
    assert table["ratios"] == ["natural"]
    assert (tmp_path / "out" / "table4" / "natural" / "ce" / "seed0" / "results.json").is_file()


def test_an_imbalanced_test_set_is_ranked_by_mean_recall_with_top1_beside(tmp_path, capsys):
    """A naturally long-tailed folder usually has a long-tailed test set: the study's table then ranks
    by mean recall, shows top-1 beside it and says so; summarize shows both."""
    root = image_folder(tmp_path / "pets", per_class={"bee": 1, "cat": 8, "dog": 3})
    out = tmp_path / "out"
    assert main(["study", "table4", "--dataset", "imagefolder", "--data-root", str(root), "--ratios", "natural",
                 "--seeds", "0", "--cells", "ce", "fbcd", "--backbone", "small_cnn", "--epochs", "2", "--no-progress",
                 "--out", str(out)]) == 0
    table = json.loads((out / "table4" / "table.json").read_text())
    assert table["ranked_by"] == "mean_recall" and table["test_images_per_class"] == [1, 8]
    assert table["measure"].startswith("mean recall (%)")
    text = (out / "table4" / "table.md").read_text()
    assert "- ranked by: mean recall (the test set is imbalanced, 1 to 8 images a class" in text
    assert "| cell | paper row | ratio natural | top-1 |\n" in text  # no paper column: the paper has no number
    for row in table["rows"]:
        record = json.loads((out / "table4" / "natural" / row["cell"] / "seed0" / "results.json").read_text())
        rule = record["metrics"]["top_cluster"]
        run = row["results"]["natural"]["runs"][0]
        assert run["mean"] == pytest.approx(100 * rule["mean_recall"])
        assert run["top1_mean"] == pytest.approx(100 * rule["accuracy"])
        assert f"| {row['cell']} | {row['paper_row']} | {100 * rule['mean_recall']:.2f} ± – (1) | " \
               f"{100 * rule['accuracy']:.2f} ± – (1) |\n" in text
    capsys.readouterr()
    assert main(["summarize", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "mean_recall and accuracy (%) under the top_cluster rule" in printed
    assert "imbalanced (1 to 8 images a class): rank by mean recall" in printed
    assert "mean recall" in printed.splitlines()[2] and "top-1" in printed.splitlines()[2]


def test_an_empty_class_and_files_that_are_not_images_are_named(tmp_path):
    """An empty class folder names its path and the accepted extensions; notes, a .DS_Store-like
    file and a FIFO named *.jpg (whose read would block forever) are skipped, and said to be."""
    root = image_folder(tmp_path / "pets")
    (root / "train" / "cat" / "notes.txt").write_text("not an image")
    os.mkfifo(root / "train" / "cat" / "pipe.jpg")
    with pytest.warns(UserWarning, match=r"2 file\(s\) that are not images were skipped.*\.jpg \.jpeg \.png"):
        data = build_long_tailed("imagefolder", None, root=root)
    assert list(data.counts) == [3, 12, 6]
    (root / "test" / "horse").mkdir()
    (root / "test" / "horse" / "readme.md").write_text("#")
    empty = (r"'.*test/horse' holds no image file \(images are regular files ending in \.jpg .*\); "
             r"1 other file\(s\) skipped, e\.g\. 'readme\.md'")
    with pytest.warns(UserWarning, match="not images"), pytest.raises(FileNotFoundError, match=empty):
        build_long_tailed("imagefolder", None, root=root)


def test_val_folder_is_the_validation_split(tmp_path):
    root = image_folder(tmp_path, splits=("train", "test", "val"), per_class=3)
    data = build_long_tailed("imagefolder", None, root=root, val_folder=True)
    assert isinstance(data.val, TensorImages) and data.val.labels.tolist() == [0] * 3 + [1] * 3 + [2] * 3
    expected = np.asarray(Image.open(root / "val" / "cat" / "0.png")).transpose(2, 0, 1)
    assert np.array_equal(data.val.images[3].numpy(), expected)
    assert data.spec["val_folder"] is True and data.record()["num_val"] == 9
    assert "val_folder" not in build_long_tailed("imagefolder", None, root=root).spec  # older specs still match
    drawn = build_long_tailed("imagefolder", 2, root=root, val_folder=True)
    assert drawn.counts == (3, 2, 1) and len(drawn.spare) == 21 - 6 and len(drawn.val) == 9
    out = tmp_path / "run"
    assert main(["train", "--dataset", "imagefolder", "--data-root", str(root), "--imbalance-ratio", "natural",
                 "--val-folder", "--selection", "best_val", "--method", "ce", "--backbone", "small_cnn",
                 "--epochs", "1", "--no-progress", "--out", str(out)]) == 0
    record = json.loads((out / "results.json").read_text())
    assert record["best_val"]["epoch"] == 1 and "val_mean_recall" in record["history"][0]
    assert "chosen by mean recall on the data's own validation split (9 images)" in record["protocol"]
    assert record["imbalance_ratio"] == "natural"


def test_val_folder_errors(tmp_path):
    root = image_folder(tmp_path)
    with pytest.raises(FileNotFoundError, match="has no val/ folder of class folders"):
        build_long_tailed("imagefolder", None, root=root, val_folder=True)
    (root / "val" / "bee").mkdir(parents=True)
    Image.new("RGB", (16, 16)).save(root / "val" / "bee" / "0.png")
    with pytest.raises(ValueError, match="train/ and val/ hold different class folders"):
        build_long_tailed("imagefolder", None, root=root, val_folder=True)
    with pytest.raises(ValueError, match="digits has no validation split of its own"):
        build_long_tailed("digits", 10, val_folder=True)
    with pytest.raises(ValueError, match="val_per_class .* or val_folder .*, not both"):
        build_long_tailed("imagefolder", 2, root=root, val_folder=True, val_per_class=1)


@pytest.mark.parametrize("mode", ["L", "I;16"])
def test_all_grey_folder_stays_one_channel_and_trains(tmp_path, mode):
    root = image_folder(tmp_path, mode=mode)
    data = build_long_tailed("imagefolder", None, root=root)
    assert data.in_channels == 1 and data.train.images.shape[1:] == (1, 16, 16) and len(data.augment.mean) == 1
    assert data.test.images.shape[1] == 1 and data.record()["in_channels"] == 1
    raw = np.asarray(Image.open(root / "train" / "bee" / "0.png"))
    expected = raw if mode == "L" else (raw >> 8).astype(np.uint8)  # 16-bit grey scaled, not clipped at 255
    assert np.array_equal(data.train.images[0, 0].numpy(), expected)
    run = train(data, SMALL, ONE_EPOCH, progress=False)
    assert run.epochs_done == 1 and run.model(torch.zeros(2, 1, 16, 16)).cluster_logits.shape == (2, 7)


def test_streamed_grey_folder_is_one_channel(tmp_path):
    data = build_long_tailed("imagefolder", None, root=image_folder(tmp_path, mode="L"), in_memory=False)
    assert isinstance(data.train, FileImages) and data.in_channels == 1 and len(data.augment.mean) == 1
    for is_train in (True, False):
        x, _, _ = next(iterate_batches(data.train, 4, data.augment, train=is_train, generator=torch.Generator(),
                                       image_size=16))
        assert x.shape == (4, 1, 16, 16)


def test_mixed_grey_and_colour_stay_rgb(tmp_path):
    root = image_folder(tmp_path, mode="L")
    Image.new("RGB", (16, 16), (200, 10, 10)).save(root / "test" / "dog" / "red.png")
    data = build_long_tailed("imagefolder", None, root=root)
    assert data.in_channels == 3 and data.train.images.shape[1] == 3 and len(data.augment.mean) == 3
    assert data.test.images[-1, :, 0, 0].tolist() == [200, 10, 10]


def test_tiny_imagenet_original_layout(tmp_path, capsys):
    root = tiny_imagenet_tree(tmp_path / "tiny-imagenet-200")
    data = build_long_tailed("tiny_imagenet", 4, root=root)
    assert "tiny_imagenet" in SOURCES and data.name == "tiny_imagenet"
    assert data.classes == ("n01", "n02", "n03", "n04", "n05") and data.counts == tuple(long_tail_counts(12, 5, 4))
    assert data.counts == (12, 8, 6, 4, 3) and data.in_channels == 3 and data.image_size == 64
    assert isinstance(data.train, TensorImages) and data.train.images.shape[1:] == (3, 64, 64)
    # the test set is val/, labelled by val_annotations.txt (written in reverse: n04's last image first)
    assert len(data.test) == 15 and data.test.labels.tolist() == [3, 3, 3, 1, 1, 1, 4, 4, 4, 0, 0, 0, 2, 2, 2]
    expected = np.asarray(Image.open(root / "val" / "images" / "val_14.JPEG")).transpose(2, 0, 1)
    assert np.array_equal(data.test.images[0].numpy(), expected)
    assert DEFAULT_BACKBONE["tiny_imagenet"] == "resnet18" and DEFAULT_PRESET["tiny_imagenet"] == "paper_tiny_imagenet"
    with pytest.raises(ValueError, match="tiny_imagenet has no validation split of its own"):
        build_long_tailed("tiny_imagenet", 4, root=root, val_folder=True)
    out = tmp_path / "run"
    assert main(["train", "--dataset", "tiny_imagenet", "--data-root", str(root), "--imbalance-ratio", "4",
                 "--method", "ce", "--backbone", "small_cnn", "--epochs", "1", "--no-progress", "--out", str(out)]) == 0
    record = json.loads((out / "results.json").read_text())
    assert record["dataset"] == "tiny_imagenet" and record["counts"] == [12, 8, 6, 4, 3]
    assert record["config"]["optim"]["batch_size"] == 128  # paper_tiny_imagenet


def test_tiny_imagenet_layout_errors(tmp_path):
    root = tiny_imagenet_tree(tmp_path)
    (root / "val" / "val_annotations.txt").write_text("val_0.JPEG\tn99\t0\t0\t63\t63\n")
    with pytest.raises(ValueError, match="labels an image 'n99', which is not in wnids.txt"):
        build_long_tailed("tiny_imagenet", 4, root=root)
    (root / "wnids.txt").unlink()
    with pytest.raises(FileNotFoundError, match="not a tiny-imagenet-200 folder: it lacks wnids.txt"):
        build_long_tailed("tiny_imagenet", 4, root=root)


def test_imagenet_lt_val_list(imagenet_lt_tree):
    data = build_long_tailed("imagenet_lt", None, root=imagenet_lt_tree, image_size=16, val_folder=True)
    assert isinstance(data.val, FileImages) and data.val.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert data.val.paths[0].endswith("val/n00000000/n00000000_0.JPEG") and data.counts == (6, 3, 1)
    assert build_long_tailed("imagenet_lt", None, root=imagenet_lt_tree, image_size=16).val is None
    run = train(data, MethodConfig(method="ce", backbone="small_cnn"), ONE_EPOCH, progress=False)
    assert run.best["epoch"] == 1
    (imagenet_lt_tree / "ImageNet_LT_val.txt").unlink()
    with pytest.raises(FileNotFoundError, match="lacks the split list ImageNet_LT_val.txt"):
        build_long_tailed("imagenet_lt", None, root=imagenet_lt_tree, val_folder=True)


def test_workers_default_by_where_the_images_live(imagenet_lt_tree, digits_lt, monkeypatch):
    streamed = build_long_tailed("imagenet_lt", None, root=imagenet_lt_tree, image_size=16)
    assert datasets.default_workers(digits_lt) == 0
    assert datasets.default_workers(streamed) == min(8, available_cpus())
    monkeypatch.setattr(datasets, "available_cpus", lambda: 32)
    assert datasets.default_workers(streamed) == 8
    args = build_parser().parse_args(["train", "--dataset", "imagenet_lt", "--method", "ce", "--out", "x"])
    assert args.workers is None


def test_study_on_a_small_folder_takes_the_protocol_train_takes_and_says_so_in_the_same_line(tmp_path, capsys):
    """The same data gets one protocol: ``study`` sizes an image folder by the rule of ``train``."""
    root = image_folder(tmp_path / "pets")
    assert main(["train", "--dataset", "imagefolder", "--data-root", str(root), "--imbalance-ratio", "natural",
                 "--method", "ce", "--epochs", "1", "--no-progress", "--out", str(tmp_path / "run")]) == 0
    said = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("a small folder"))
    assert main(["study", "table1", "--dataset", "imagefolder", "--data-root", str(root), "--ratios", "natural",
                 "--cells", "ce", "--seeds", "0", "--epochs", "1", "--no-progress", "--out", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert said in out.splitlines()
    assert "backbone resnet8; preset cpu_short, 1 epoch;" in out
    assert said.startswith("a small folder (21 training images, under 5,000): by default resnet8 and preset "
                           "cpu_short (1 epoch); ")
    trained = json.loads((tmp_path / "run" / "results.json").read_text())["config"]
    studied = json.loads((tmp_path / "s" / "table1" / "natural" / "ce" / "seed0" / "results.json").read_text())["config"]
    assert studied["method"] == trained["method"] and studied["optim"] == trained["optim"]


def test_table5_on_a_small_folder_keeps_its_backbones_and_sizes_only_the_schedule(tmp_path, capsys):
    """Table 5 is about its three backbones: on a small folder the sized preset and image size apply,
    the sized ResNet-8 does not (it was refused as if given), and the line says only what was sized."""
    root = image_folder(tmp_path / "pets")
    assert main(["study", "table5", "--dataset", "imagefolder", "--data-root", str(root), "--ratios", "natural",
                 "--cells", "ce-mobilenet_v2", "--seeds", "0", "--epochs", "1", "--no-progress",
                 "--out", str(tmp_path / "s")]) == 0
    said = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("a small folder"))
    assert said == ("a small folder (21 training images, under 5,000): by default preset cpu_short (1 epoch); "
                    "--preset paper_tiny_imagenet train the paper's setup for this source")
    record = json.loads((tmp_path / "s" / "table5" / "natural" / "ce-mobilenet_v2" / "seed0" / "results.json")
                        .read_text())
    assert record["config"]["method"]["backbone"] == "mobilenet_v2"
    assert record["config"]["optim"] == json.loads(json.dumps(preset("cpu_short", epochs=1).to_dict()))
    assert sized_protocol("imagefolder", 21, 32, cells_name_backbones=True).backbone is None
    assert sized_protocol("imagefolder", 21, 32, "vgg16", cells_name_backbones=True).backbone == "vgg16"
    assert sized_protocol("imagefolder", 21, 32, "resnet8").note == (
        "a small folder (21 training images, under 5,000): by default preset cpu_short (30 epochs); "
        "--backbone resnet18 --preset paper_tiny_imagenet train the paper's setup for this source")
