"""Study ``table4``: the head ablation, CE, FBH, CDH and FBH + CDH with the paper's defaults (u 10,
lambda 1.5), read two ways.

Where D is not a multiple of C (64 channels for CIFAR), FBH adds a balanced neck (1x1 conv + BN +
ReLU) that both heads read, so "FBH only" differs from CE by a layer as well as by L1. The control
cells separate the two: ``ce+neck`` and ``cdh+neck`` add the same layer without FBH, and
``fbh+own_neck`` and ``fbcd+own_neck`` let only the feature-balancing head read the neck while the
main head reads the backbone's own features. Where D is a multiple of C there is no neck and the
controls equal the paper's cells.
"""

from __future__ import annotations

from fbcd_lab.config import METHODS, MethodConfig
from fbcd_lab.studies.study import Cell, Study, backbone_for


def cells(backbone: str | None, dataset: str) -> list[Cell]:
    """The paper's four heads (shared neck), then the controls: the neck without FBH, and FBH alone on it."""
    backbone = backbone_for(backbone, dataset)
    paper = [Cell(head, MethodConfig(method=head, backbone=backbone), head) for head in METHODS]
    controls = [Cell(f"{head}+neck", MethodConfig(method=head, backbone=backbone, neck="always"), None)
                for head in ("ce", "cdh")]
    controls += [Cell(f"{head}+own_neck", MethodConfig(method=head, backbone=backbone, neck="fbh_only"), None)
                 for head in ("fbh", "fbcd")]
    return paper + controls


STUDY = Study("table4", "the head ablation: CE, FBH, CDH, FBH + CDH (Table 4), with the neck controls", cells,
              paper_tables={"cifar100": 4, "tiny_imagenet": 4},
              unnumbered="a control (not in the paper)")
