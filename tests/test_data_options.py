"""The data options say what they do: options a run would ignore are refused (natural with the long-tail
options, --sync-bn in one process, --deterministic on the CPU, --image-size at the data's own size),
u above the largest class is refused rather than capped, a folder a classifier cannot use is named,
study's errors name --ratios, and a file beside the class folders is skipped with a warning.

Every refusal is one line, exit status 2, and leaves nothing behind (no run folder, no study folder).
"""

import json
from dataclasses import asdict

import numpy as np
import pytest
import torch
from torchvision.datasets.folder import IMG_EXTENSIONS

from fbcd_lab.class_division import check_u, clusters_per_class, divide_classes
from fbcd_lab.cli import main
from fbcd_lab.config import MethodConfig, preset
from fbcd_lab.data import build_long_tailed
from fbcd_lab.records import read_record
from fbcd_lab.training import start_run
from test_cli_trust import one_line_error
from test_own_data import image_folder, pixels

NATURAL = "natural keeps every training image as counted"
TRAIN = ["train", "--dataset", "digits", "--method", "fbcd", "--epochs", "1", "--no-progress"]
STUDY = ["study", "table4", "--seeds", "0", "--epochs", "1", "--no-progress"]


def refused(capsys, argv, out, message):
    """``argv`` exits 2 with the one line ``message`` and leaves ``out`` absent."""
    assert main([*argv, "--out", str(out)]) == 2
    one_line_error(capsys, f"python -m fbcd_lab {argv[0]}: error: {message}")
    assert not out.exists()


@pytest.mark.parametrize("extra, named", [
    (["--n-max", "50"], f"--n-max ({NATURAL})"),
    (["--profile", "step"], f"--profile ({NATURAL})"),
    (["--profile", "exp"], f"--profile ({NATURAL})"),  # the default too: given, it would only split the record
    (["--subset-seed", "5", "--n-max", "3", "--sync-bn"],
     f"--n-max, --subset-seed ({NATURAL}); --sync-bn (read only with several processes, under torchrun)"),
], ids=["n_max", "profile", "profile exp", "all at once"])
def test_natural_refuses_the_long_tail_options(tmp_path, capsys, extra, named):
    """They were ignored, yet recorded in the data spec (n_max 3 beside counts [8, 4, 2])."""
    refused(capsys, [*TRAIN, "--imbalance-ratio", "natural", *extra], tmp_path / "run",
            f"options with no effect on this run: {named}; drop them")


def test_study_of_natural_ratios_refuses_n_max(tmp_path, capsys):
    refused(capsys, [*STUDY, "--dataset", "digits", "--ratios", "natural", "--n-max", "3"], tmp_path / "s",
            f"options with no effect on this run: --n-max ({NATURAL}); drop them")


def test_ratio_1_refuses_a_profile_and_keeps_the_subset_seed(tmp_path, capsys, monkeypatch):
    """At ratio 1 both profiles keep n_max images in every class, yet --profile step was accepted and
    recorded, splitting the run from identical ones. --subset-seed still draws the images, and a
    profile left out is never refused; a run saved with one before continues (--resume) without it."""
    from fbcd_lab.cli import train

    for profile in ("step", "exp"):
        refused(capsys, [*TRAIN, "--imbalance-ratio", "1", "--profile", profile], tmp_path / "run",
                "options with no effect on this run: --profile (at ratio 1 every class keeps n_max images, "
                "whatever the profile); drop them")
    assert main([*TRAIN, "--imbalance-ratio", "1", "--subset-seed", "5", "--out", str(tmp_path / "seeded")]) == 0
    with monkeypatch.context() as before:  # the check as it was: the profile accepted and saved
        before.setattr(train, "unused_long_tail_options", lambda *_: {})
        assert main([*TRAIN, "--imbalance-ratio", "1", "--profile", "step", "--out", str(tmp_path / "old")]) == 0
    assert main([*TRAIN, "--imbalance-ratio", "1", "--resume", "--epochs", "2", "--out", str(tmp_path / "old")]) == 0
    refused(capsys, [*TRAIN, "--imbalance-ratio", "1", "--profile", "step", "--resume"], tmp_path / "new",
            "options with no effect on this run: --profile (at ratio 1 every class keeps n_max images, "
            "whatever the profile); drop them")


@pytest.mark.parametrize("extra, named", [
    (["--sync-bn"], "--sync-bn (read only with several processes, under torchrun)"),
    (["--deterministic", "--device", "cpu"], "--deterministic (read only on CUDA: the CPU's kernels are "
                                             "deterministic already)"),
], ids=["sync-bn", "deterministic"])
def test_runtime_options_with_no_effect_here_are_refused(tmp_path, capsys, extra, named):
    """The help said "no effect in one process" and "on CUDA", yet both were accepted and recorded."""
    refused(capsys, [*TRAIN, *extra], tmp_path / "run", f"options with no effect on this run: {named}; drop them")


@pytest.mark.parametrize("argv", [TRAIN, STUDY], ids=["train", "study"])
def test_image_size_other_than_the_digits_own_size_is_refused(tmp_path, capsys, argv):
    """8, their own size, stays accepted: checkpoints saved with it must still evaluate and resume."""
    refused(capsys, [*argv, "--dataset", "digits", "--image-size", "16"], tmp_path / "out",
            "image_size (--image-size) must be None or 8 for digits (its images are not resized), got 16")


def test_u_above_the_largest_class_is_refused(tmp_path, capsys):
    """--u 100000 trained with every image its own cluster and recorded u 100000."""
    largest = build_long_tailed("digits", 100).counts[0]
    refused(capsys, [*TRAIN, "--u", "100000"], tmp_path / "run",
            f"u (--u) must be at most {largest}, the largest class's training images (a class cannot have more "
            f"clusters than images), got 100000")


def test_the_default_u_on_a_small_folder_is_refused_by_train_and_study(tmp_path, capsys):
    """Largest class 8 < the default u 10: was capped to K = 15 without a word. train says the u it
    refuses is --u's default (the message had read as if --u 10 were given); study names --u, which it
    did not have: the paper's method could not be studied on such a folder at all."""
    root = image_folder(tmp_path / "small", counts={"a": 8, "b": 4, "c": 2})
    data = ["--dataset", "imagefolder", "--data-root", str(root), "--backbone", "small_cnn"]
    why = "u must be at most 8, the largest class's training images (a class cannot have more clusters than images)"
    refused(capsys, [*TRAIN, *data, "--imbalance-ratio", "natural"], tmp_path / "run",
            f"{why.replace('u must', 'u (--u, left out) must')}, got 10")
    refused(capsys, [*TRAIN, *data, "--imbalance-ratio", "natural", "--u", "9"], tmp_path / "run",
            f"{why.replace('u must', 'u (--u) must')}, got 9")
    refused(capsys, [*STUDY, *data, "--ratios", "natural", "--cells", "ce", "fbcd", "cdh"], tmp_path / "s",
            f"2 cell(s) cannot divide their classes on this data: cdh (ratio natural), fbcd (ratio natural); "
            f"the first: {why}, got 10; leave them out (--cells), or give the cells that divide their classes a "
            f"smaller u (--u)")


def test_study_u_replaces_the_paper_u_in_the_cells_that_divide_and_is_named_in_the_table(tmp_path, capsys):
    """study --u 8 runs FBH + CDH on the small folder: the records and the table say u 8; a cell that
    divides nothing keeps its method."""
    root = image_folder(tmp_path / "small", counts={"a": 8, "b": 4, "c": 2})
    data = ["--dataset", "imagefolder", "--data-root", str(root), "--backbone", "small_cnn", "--ratios", "natural"]
    assert main([*STUDY, *data, "--cells", "ce", "fbcd", "--u", "8", "--out", str(tmp_path / "s")]) == 0
    runs = tmp_path / "s" / "table4" / "natural"
    saved = {cell: read_record(runs / cell / "seed0" / "results.json") for cell in ("ce", "fbcd")}
    assert saved["fbcd"]["config"]["method"]["u"] == 8 and saved["fbcd"]["division"]["clusters_per_class"] == [8, 3, 1]
    assert saved["ce"]["config"]["method"] == asdict(MethodConfig(method="ce", backbone="small_cnn"))
    table = json.loads((tmp_path / "s" / "table4" / "table.json").read_text())
    assert table["u"] == 8
    assert "- u: 8 in the cells that divide their classes (the paper's: 10)\n" in (
        tmp_path / "s" / "table4" / "table.md").read_text()
    capsys.readouterr()
    hint = (f"{runs / 'fbcd' / 'seed0'} was trained with u 8, this study asks u 10: pass --u 8 to continue it (or "
            f"choose another --out)")
    assert main([*STUDY, *data, "--cells", "ce", "--out", str(tmp_path / "s")]) == 0  # --u forgotten: fbcd not in
    assert f"left out of the table: {hint}\n" in capsys.readouterr().out
    assert main([*STUDY, *data, "--cells", "fbcd", "--table-only", "--out", str(tmp_path / "s")]) == 2
    one_line_error(capsys, f"python -m fbcd_lab study: error: {hint}")


@pytest.mark.parametrize("extra, message", [
    (["table4", "--cells", "ce", "fbh"], "u (--u) has no effect on the cells chosen (ce fbh): none divides its "
                                         "classes; leave it out"),
    (["fig4"], "u (--u) must be left out for study fig4: its cells set u themselves"),
], ids=["no cell divides", "fig4 sweeps u"])
def test_study_u_that_would_change_nothing_or_a_sweep_is_refused(tmp_path, capsys, extra, message):
    refused(capsys, ["study", *extra, "--dataset", "digits", "--u", "5", "--seeds", "0", "--epochs", "1"],
            tmp_path / "s", message)


def test_the_library_refuses_u_above_the_largest_class_where_it_divides():
    """The lab panel and the notebooks call the library: a clear ValueError, not a silent cap."""
    labels = np.repeat([0, 1], [4, 2])
    with pytest.raises(ValueError, match=r"^u must be at most 4, the largest class's training images .*got 5$"):
        divide_classes(labels, 2, 5)
    assert divide_classes(labels, 2, 4).clusters_per_class == [4, 1] == clusters_per_class([4, 2], 4)
    assert check_u(4, [2, 4]) == 4 and clusters_per_class([1, 2, 3], 10) == [1, 2, 3]  # Eq. 3's own cap stays
    data = build_long_tailed("digits", 100)
    with pytest.raises(ValueError, match=rf"^u must be at most {data.counts[0]}, .*got 1000$"):
        start_run(data, MethodConfig(method="fbcd", backbone="small_cnn", u=1000), preset("digits", epochs=1))


def test_a_folder_of_one_class_names_data_root_and_its_train_folder(tmp_path, capsys):
    """Was "num_classes must be an integer in [2, 2147483647], got 1", and study left
    table4/natural/ce/seed0/ behind."""
    root = image_folder(tmp_path / "one", counts={"airplane": 3})
    data = ["--dataset", "imagefolder", "--data-root", str(root)]
    message = (f"data_root (--data-root) '{root}': '{root / 'train'}' holds one class folder ('airplane'); "
               f"a classifier needs at least 2")
    refused(capsys, [*TRAIN, *data, "--imbalance-ratio", "natural"], tmp_path / "run", message)
    refused(capsys, [*STUDY, *data, "--ratios", "natural"], tmp_path / "s", message)


def test_study_names_ratios_for_a_ratio_that_empties_a_class(tmp_path, capsys):
    """It named imbalance_ratio, an option study does not have."""
    largest = build_long_tailed("digits", 100).counts[0]
    refused(capsys, [*STUDY, "--dataset", "digits", "--ratios", "1e9"], tmp_path / "s",
            f"imbalance_ratio (--ratios) 1000000000.0 with n_max {largest} leaves an empty class (counts ")


def test_an_image_beside_the_class_folders_is_skipped_and_said(tmp_path):
    """train/stray.png belongs to no class: it was ignored without the warning other skipped files get,
    then said to be "not images"; each reason is said of its own files."""
    root = image_folder(tmp_path / "pets")
    pixels(np.random.RandomState(1), "RGB").save(root / "train" / "stray.png")
    with pytest.warns(UserWarning) as caught:
        data = build_long_tailed("imagefolder", None, root=root)
    assert list(data.counts) == [3, 12, 6]
    assert [str(w.message) for w in caught] == [
        f"{str(root / 'train')!r}: 1 file(s) not in a class folder were skipped, e.g. 'stray.png' (an image belongs "
        f"to the class whose folder holds it)"]
    (root / "train" / "cat" / "notes.txt").write_text("not an image")
    with pytest.warns(UserWarning) as caught:
        build_long_tailed("imagefolder", None, root=root)
    assert [str(w.message) for w in caught] == [
        f"{str(root / 'train')!r}: 1 file(s) that are not images were skipped, e.g. 'notes.txt' (images are regular "
        f"files ending in {' '.join(IMG_EXTENSIONS)}); 1 file(s) not in a class folder were skipped, e.g. "
        f"'stray.png' (an image belongs to the class whose folder holds it)"]


def test_deterministic_mode_ends_with_the_block():
    """What the command line's --deterministic run checked on the CPU, now refused there."""
    from fbcd_lab.runtime import deterministic_mode

    with deterministic_mode(True, torch.device("cpu")):
        assert torch.are_deterministic_algorithms_enabled()
    assert not torch.are_deterministic_algorithms_enabled()
