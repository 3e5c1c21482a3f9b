"""Study ``table1``: the rows of the paper's Tables 1-3 as recipes (:data:`fbcd_lab.recipes.TABLE1_RECIPES`),
with the prior-correcting controls and ``ce_neck``, the control for the layer Ours adds."""

from __future__ import annotations

from fbcd_lab.paper_results import PAPER_ROWS
from fbcd_lab.recipes import TABLE1_RECIPES, recipe
from fbcd_lab.studies.study import Cell, Study, backbone_for


def cells(backbone: str | None, dataset: str) -> list[Cell]:
    """One cell per recipe on one backbone; la_loss, balanced_softmax and ce_neck have no paper row."""
    backbone = backbone_for(backbone, dataset)
    return [Cell(name, recipe(name, backbone), name if name in PAPER_ROWS else None) for name in TABLE1_RECIPES]


STUDY = Study("table1", "every recipe (Table 1 on CIFAR, Table 2 on Tiny-ImageNet, Table 3 on ImageNet-LT)",
              cells, paper_tables={"cifar10": 1, "cifar100": 1, "tiny_imagenet": 2, "imagenet_lt": 3})
