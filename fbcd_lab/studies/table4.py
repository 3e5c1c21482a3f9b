"""Study ``table4``: the head ablation, CE, FBH, CDH and FBH + CDH with the paper's defaults (u 10, lambda 1.5)."""

from __future__ import annotations

from fbcd_lab.config import METHODS, MethodConfig
from fbcd_lab.studies.study import Cell, Study, backbone_for


def cells(backbone: str | None, dataset: str) -> list[Cell]:
    """One cell per head (``ce``, ``fbh``, ``cdh``, ``fbcd``), cross-entropy and no other balancing."""
    backbone = backbone_for(backbone, dataset)
    return [Cell(head, MethodConfig(method=head, backbone=backbone), head) for head in METHODS]


STUDY = Study("table4", "the head ablation: CE, FBH, CDH, FBH + CDH (Table 4)", cells,
              paper_tables={"cifar100": 4, "tiny_imagenet": 4})
