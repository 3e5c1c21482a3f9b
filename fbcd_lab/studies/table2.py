"""Study ``table2``: the recipes of the paper's Table 2 (Tiny-ImageNet-LT, ResNet-18, ratios 100 50 10),
with the two prior-correcting losses and ce_neck (the layer Ours adds) as controls."""

from __future__ import annotations

from fbcd_lab.paper_results import TABLES
from fbcd_lab.studies import table1
from fbcd_lab.studies.study import Cell, Study

CONTROLS = ("la_loss", "balanced_softmax", "ce_neck")


def rows_of(table: int) -> set[str]:
    """The method keys the paper's table ``table`` reports."""
    return {key[2] for key in TABLES[table].numbers}


def cells(backbone: str | None, dataset: str) -> list[Cell]:
    """Table 1's cells for the recipes Table 2 reports, and the controls."""
    return [c for c in table1.cells(backbone, dataset) if c.label in rows_of(2) | set(CONTROLS)]


STUDY = Study("table2", "the recipes of Table 2 (Tiny-ImageNet-LT)", cells, paper_tables={"tiny_imagenet": 2})
