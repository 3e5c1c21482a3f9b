"""Study ``table1``: every recipe of :data:`fbcd_lab.recipes.RECIPES`, the rows of the paper's Tables 1-3."""

from __future__ import annotations

from fbcd_lab.paper_results import PAPER_ROWS
from fbcd_lab.recipes import RECIPES, recipe
from fbcd_lab.studies.study import Cell, Study, backbone_for


def cells(backbone: str | None, dataset: str) -> list[Cell]:
    """One cell per recipe on one backbone; la_loss and balanced_softmax have no paper row."""
    backbone = backbone_for(backbone, dataset)
    return [Cell(name, recipe(name, backbone), name if name in PAPER_ROWS else None) for name in RECIPES]


STUDY = Study("table1", "every recipe (Table 1 on CIFAR, Table 2 on Tiny-ImageNet, Table 3 on ImageNet-LT)",
              cells, paper_tables={"cifar10": 1, "cifar100": 1, "tiny_imagenet": 2, "imagenet_lt": 3})
