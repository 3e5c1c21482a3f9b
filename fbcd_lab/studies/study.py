"""What a study is: named cells (a label and a MethodConfig each) and the paper table they compare with."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from fbcd_lab.checks import check, check_distinct
from fbcd_lab.config import DEFAULT_BACKBONE, MethodConfig, OptimConfig, preset


@dataclass(frozen=True)
class Cell:
    """One configuration of a study: ``label`` (its folder name), its method, and the paper row
    (``paper_row``, with ``paper_backbone`` in Table 5) its numbers compare with; None if the paper has none.
    ``schedule``: a preset whose learning-rate schedule (warm-up, decays) the cell trains on instead of
    the study's, scaled to the study's epochs (a baseline on its authors' schedule); None: the study's."""

    label: str
    method: MethodConfig
    paper_row: str | None
    paper_backbone: str | None = None
    schedule: str | None = None

    def optim(self, study_optim: OptimConfig) -> OptimConfig:
        """The optimisation this cell trains with in a study run under ``study_optim``: that, with the
        schedule of its own preset if it has one (batch, rate and weight decay stay the study's)."""
        if self.schedule is None:
            return study_optim
        own = preset(self.schedule, epochs=study_optim.epochs)
        return replace(study_optim, warmup_epochs=own.warmup_epochs, schedule=own.schedule,
                       milestones=own.milestones, factors=own.factors)


@dataclass(frozen=True)
class Study:
    """A named list of cells, made by ``cells(backbone, dataset)``, run at ``ratios`` by default.

    ``paper_tables`` maps a paper dataset column to the table holding its numbers; ``note`` says
    what the table header should add (e.g. a figure that prints no numbers); ``unnumbered`` is the
    paper-row label of a cell the paper gives no number for; ``sets_u``: its cells set u themselves
    (a sweep), so no other u may replace theirs; ``names_backbones``: its cells train on backbones of
    their own (Table 5's), which a small folder's sized default does not replace."""

    name: str
    description: str
    cells: Callable[[str | None, str], list[Cell]]
    paper_tables: dict[str, int]
    ratios: tuple[float, ...] = (100, 50, 10)
    note: str = ""
    unnumbered: str = "not in the paper"
    sets_u: bool = False
    names_backbones: bool = False

    def select(self, backbone: str | None, dataset: str, labels: Sequence[str] | None = None) -> list[Cell]:
        """The study's cells, or only those named in ``labels`` (in the study's order)."""
        cells = self.cells(backbone, dataset)
        known = [c.label for c in cells]
        check_distinct("cells", labels or ())
        unknown = [label for label in labels or () if label not in known]
        if unknown:
            raise ValueError(f"study {self.name} has no cell {unknown[0]!r}; its cells: {' '.join(known)}")
        return [c for c in cells if labels is None or c.label in labels]

    def with_u(self, cells: Sequence[Cell], u: int | None) -> list[Cell]:
        """``cells`` with ``u`` clusters for the largest class in those that divide their classes (all
        of them for None: their own u). Refused for a study whose cells set u, and where no cell divides
        its classes (u would change nothing)."""
        if u is None:
            return list(cells)
        u = check("u", u)
        if self.sets_u:
            raise ValueError(f"u must be left out for study {self.name}: its cells set u themselves")
        if not any(c.method.uses_cdh for c in cells):
            raise ValueError(f"u has no effect on the cells chosen ({' '.join(c.label for c in cells)}): none "
                             f"divides its classes; leave it out")
        return [replace(c, method=replace(c.method, u=u)) if c.method.uses_cdh else c for c in cells]


def backbone_for(backbone: str | None, dataset: str) -> str:
    """``backbone`` if given, else the dataset's default (the paper's for CIFAR, Tiny-ImageNet, ImageNet-LT)."""
    return backbone or DEFAULT_BACKBONE[dataset]
