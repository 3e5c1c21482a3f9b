"""--u above the largest class's training images is refused (Eq. 3 would give that class more clusters
than images, which were capped without a word), by train, study and the library alike.

Every refusal is one line, exit status 2, and leaves nothing behind (no run folder, no study folder).
"""

import numpy as np
import pytest

from fbcd_lab.class_division import check_u, clusters_per_class, divide_classes
from fbcd_lab.cli import main
from fbcd_lab.config import MethodConfig, preset
from fbcd_lab.data import build_long_tailed
from fbcd_lab.training import start_run
from test_cli_trust import one_line_error
from test_own_data import image_folder

TRAIN = ["train", "--dataset", "digits", "--method", "fbcd", "--epochs", "1", "--no-progress"]
STUDY = ["study", "table4", "--seeds", "0", "--epochs", "1", "--no-progress"]


def refused(capsys, argv, out, message):
    """``argv`` exits 2 with the one line ``message`` and leaves ``out`` absent."""
    assert main([*argv, "--out", str(out)]) == 2
    one_line_error(capsys, f"python -m fbcd_lab {argv[0]}: error: {message}")
    assert not out.exists()


def test_u_above_the_largest_class_is_refused(tmp_path, capsys):
    """--u 100000 trained with every image its own cluster and recorded u 100000."""
    largest = build_long_tailed("digits", 100).counts[0]
    refused(capsys, [*TRAIN, "--u", "100000"], tmp_path / "run",
            f"u (--u) must be at most {largest}, the largest class's training images (a class cannot have more "
            f"clusters than images), got 100000")


def test_the_default_u_on_a_small_folder_is_refused_by_train_and_study(tmp_path, capsys):
    """Largest class 8 < the default u 10: was capped to K = 15 without a word."""
    root = image_folder(tmp_path / "small", counts={"a": 8, "b": 4, "c": 2})
    data = ["--dataset", "imagefolder", "--data-root", str(root), "--backbone", "small_cnn"]
    why = "u must be at most 8, the largest class's training images (a class cannot have more clusters than images)"
    refused(capsys, [*TRAIN, *data, "--imbalance-ratio", "natural"], tmp_path / "run",
            f"{why.replace('u must', 'u (--u) must')}, got 10")
    refused(capsys, [*STUDY, *data, "--ratios", "natural", "--cells", "ce", "fbcd", "cdh"], tmp_path / "s",
            f"2 cell(s) cannot divide their classes on this data: cdh (ratio natural), fbcd (ratio natural); "
            f"the first: {why}, got 10; leave them out (--cells)")


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