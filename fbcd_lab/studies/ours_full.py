"""Study ``ours_full``: the three readings of Ours-Full (:data:`fbcd_lab.recipes.OURS_FULL_READINGS`),
the last row of Table 1, side by side: cluster weights on the main head (the default), class weights on
both heads, and MiSLAS-like two stages (Mixup, then class-balanced re-sampling)."""

from __future__ import annotations

from fbcd_lab.recipes import OURS_FULL_READINGS, recipe
from fbcd_lab.studies.study import Cell, Study, backbone_for


def cells(backbone: str | None, dataset: str) -> list[Cell]:
    """One cell per reading; the default's compares with the paper's Ours-Full row."""
    backbone = backbone_for(backbone, dataset)
    return [Cell(name, recipe(name, backbone), "ours_full") for name in OURS_FULL_READINGS]


STUDY = Study("ours_full", "the three readings of Ours-Full (Table 1's last row)", cells,
              paper_tables={"cifar10": 1, "cifar100": 1, "tiny_imagenet": 2, "imagenet_lt": 3}, ratios=(100,))
