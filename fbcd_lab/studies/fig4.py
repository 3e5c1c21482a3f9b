"""Study ``fig4``: the paper's Fig. 4, u swept for the class-division head alone and the three division
strategies for FBH + CDH."""

from __future__ import annotations

from fbcd_lab.class_division import STRATEGIES
from fbcd_lab.config import MethodConfig
from fbcd_lab.studies.study import Cell, Study, backbone_for

U_VALUES = (1, 2, 5, 10, 15, 20)


def cells(backbone: str | None, dataset: str) -> list[Cell]:
    """``cdh-u<u>`` for each u of :data:`U_VALUES` (u 1 is plain CE), then ``fbcd-<strategy>`` (u 10)."""
    backbone = backbone_for(backbone, dataset)
    sweep = [Cell(f"cdh-u{u}", MethodConfig(method="cdh", u=u, backbone=backbone), None) for u in U_VALUES]
    return sweep + [Cell(f"fbcd-{s}", MethodConfig(method="fbcd", cluster=s, backbone=backbone), None)
                    for s in STRATEGIES]


STUDY = Study("fig4", "sensitivity: u for CDH alone, division strategy for FBH + CDH (Fig. 4)", cells,
              paper_tables={}, note="Fig. 4 plots these on CIFAR-100 at ratio 100 and prints no numbers",
              unnumbered="plotted in Fig. 4 (no number printed)", sets_u=True)
