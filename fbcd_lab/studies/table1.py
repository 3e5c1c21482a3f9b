"""Study ``table1``: the rows of the paper's Tables 1-3 as recipes (:data:`fbcd_lab.recipes.TABLE1_RECIPES`),
with the prior-correcting controls and ``ce_neck``, the control for the layer Ours adds.

Every cell trains on the study's schedule (``--preset``), the paper's one for all. The baselines whose
authors ran them on another schedule also have a cell on their own, labelled ``recipe@preset``
(:data:`OWN_SCHEDULES`): LDAM-DRW's code keeps lr 0.1 until epoch 160, then x0.01 (x0.0001 after
180), and switches DRW, and DRS, on at that drop (``ldam_cifar``, scaled to the study's epochs)."""

from __future__ import annotations

from fbcd_lab.paper_results import PAPER_ROWS
from fbcd_lab.recipes import TABLE1_RECIPES, recipe
from fbcd_lab.studies.study import Cell, Study, backbone_for


OWN_SCHEDULES = {"ldam_drw": "ldam_cifar", "drs": "ldam_cifar"}


def cells(backbone: str | None, dataset: str) -> list[Cell]:
    """One cell per recipe on one backbone, each followed by its cell on its authors' schedule if it
    has one; la_loss, balanced_softmax, cb_focal_ldam and ce_neck have no paper row."""
    backbone = backbone_for(backbone, dataset)
    shown = []
    for name in TABLE1_RECIPES:
        row = name if name in PAPER_ROWS else None
        shown.append(Cell(name, recipe(name, backbone), row))
        if name in OWN_SCHEDULES:
            shown.append(Cell(f"{name}@{OWN_SCHEDULES[name]}", recipe(name, backbone), row,
                              schedule=OWN_SCHEDULES[name]))
    return shown


STUDY = Study("table1", "every recipe (Table 1 on CIFAR, Table 2 on Tiny-ImageNet, Table 3 on ImageNet-LT)",
              cells, paper_tables={"cifar10": 1, "cifar100": 1, "tiny_imagenet": 2, "imagenet_lt": 3})
