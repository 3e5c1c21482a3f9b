"""Study ``table5``: the recipes of the paper's Table 5 that exist here on its three backbones, ratio 100."""

from __future__ import annotations

from fbcd_lab.paper_results import PAPER_BACKBONES
from fbcd_lab.recipes import recipe
from fbcd_lab.studies.study import Cell, Study

TABLE5_RECIPES = ("ce", "mixup", "drs", "ldam_drw", "ours_full")


def cells(backbone: str | None, dataset: str) -> list[Cell]:
    """``<recipe>-<backbone>`` for every recipe and backbone of Table 5; ``backbone`` keeps only that one."""
    if backbone is not None and backbone not in PAPER_BACKBONES:
        raise ValueError(f"study table5 runs on {', '.join(PAPER_BACKBONES)}; backbone {backbone!r} is not one of them")
    backbones = tuple(PAPER_BACKBONES) if backbone is None else (backbone,)
    return [Cell(f"{name}-{b}", recipe(name, b), name, b) for b in backbones for name in TABLE5_RECIPES]


STUDY = Study("table5", "recipes on ResNet-110, VGG-16 and MobileNet-v2 (Table 5)", cells,
              paper_tables={"cifar100": 5}, ratios=(100,), names_backbones=True)
