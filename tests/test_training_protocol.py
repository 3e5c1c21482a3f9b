"""The one-line training protocol, from committed records and from trained runs."""

import copy
from pathlib import Path

import pytest

from fbcd_lab.config import MethodConfig, preset
from fbcd_lab.data import build_long_tailed
from fbcd_lab.records import load_records
from fbcd_lab.training import train
from fbcd_lab.training_protocol import protocol_line

STUDY = Path(__file__).resolve().parents[1] / "results" / "cifar10_lt"


def test_committed_records_give_their_protocol_in_one_line():
    records = load_records(STUDY / "table1" / "r100" / "ours")
    assert protocol_line(records) == (
        "resnet8, 30 epochs, SGD (momentum 0.9, weight decay 0.0002), lr 0.1 (linear warm-up over the first 2 "
        "epochs), 0.01 from epoch 20 and 0.001 from epoch 25, batch 128, random 32-px crop with 4-px padding + "
        "horizontal flip, training seeds 0, 1, 2")
    # the methods of one study share the protocol; the seeds are the union of theirs
    assert protocol_line(load_records(STUDY / "table4")).endswith("training seeds 0, 1, 2")


def test_mixup_and_a_cosine_schedule_are_named():
    record = copy.deepcopy(load_records(STUDY / "table1" / "r100" / "ours" / "seed0")[0])
    record["config"]["method"]["augment"] = "mixup"
    record["config"]["optim"] = preset("paper_imagenet_lt").to_dict()
    line = protocol_line([record])
    assert "flip, Mixup, training seed 0" in line
    assert "lr 0.2 (linear warm-up over the first 5 epochs), cosine to 0" in line
    assert "batch 512" in line and "90 epochs" in line


def test_runs_of_two_protocols_are_refused_with_the_field_named():
    records = load_records(STUDY / "table1" / "r100" / "ours" / "seed0")
    other = copy.deepcopy(records[0])
    other["config"]["optim"]["batch_size"] = 64
    with pytest.raises(ValueError, match=r"the runs differ in batch \(batch 128 / batch 64\)"):
        protocol_line([records[0], other])
    with pytest.raises(ValueError, match="at least one"):
        protocol_line([])
    with pytest.raises(ValueError, match="trained runs or results records, got a str"):
        protocol_line(["results.json"])


def test_a_trained_run_needs_its_data_and_reads_the_digits_augmentation():
    data = build_long_tailed("digits", 100, seed=0)
    run = train(data, MethodConfig(method="ce", backbone="small_cnn"), preset("digits", epochs=1), seed=3,
                progress=False)
    assert protocol_line([run], data) == (
        "small_cnn, 1 epoch, SGD (momentum 0.9, weight decay 0.0002), lr 0.05, constant, batch 64, "
        "random 8-px crop with 1-px padding, no flip, training seed 3")
    with pytest.raises(ValueError, match="data must be given"):
        protocol_line([run])


def test_each_source_kind_has_its_training_augmentation():
    from fbcd_lab.data.sources import train_augmentation

    assert train_augmentation("digits", 8) == (1, False) and train_augmentation("cifar100", 32) == (4, True)
    assert train_augmentation("imagefolder", 64) == (8, True) and train_augmentation("imagenet_lt", 224) == (0, True)
    with pytest.raises(ValueError, match="kind must be one of"):
        train_augmentation("svhn", 32)


def test_a_one_epoch_warm_up_reads_as_the_first_epoch():
    record = copy.deepcopy(load_records(STUDY / "table1" / "r100" / "ours" / "seed0")[0])
    record["config"]["optim"] = preset("cpu_short", epochs=15).to_dict()
    assert "lr 0.1 (linear warm-up over the first epoch), 0.01 from epoch 10" in protocol_line([record])
