"""Study ``table3``: the recipes of the paper's Table 3 (ImageNet-LT, ResNeXt-50, its natural long tail),
with the two prior-correcting losses as controls."""

from __future__ import annotations

from fbcd_lab.studies import table1
from fbcd_lab.studies.study import Cell, Study
from fbcd_lab.studies.table2 import CONTROLS, rows_of


def cells(backbone: str | None, dataset: str) -> list[Cell]:
    """Table 1's cells for the recipes Table 3 reports, and the controls."""
    return [c for c in table1.cells(backbone, dataset) if c.label in rows_of(3) | set(CONTROLS)]


STUDY = Study("table3", "the recipes of Table 3 (ImageNet-LT; the All column)", cells,
              paper_tables={"imagenet_lt": 3})
