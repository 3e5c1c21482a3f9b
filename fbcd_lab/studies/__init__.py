"""Named studies, each the runs behind one of the paper's tables or figures: ``python -m fbcd_lab study NAME``.

:data:`STUDIES` maps a name to its :class:`~fbcd_lab.studies.study.Study`; ``runner.run_study`` runs one.
"""

from fbcd_lab.checks import check_choice
from fbcd_lab.studies import fig4, ours_full, table1, table2, table3, table4, table5
from fbcd_lab.studies.study import Cell, Study

STUDIES: dict[str, Study] = {m.STUDY.name: m.STUDY for m in (table1, table2, table3, table4, fig4, table5, ours_full)}


def get_study(name: str) -> Study:
    """The study called ``name``; a ValueError listing the studies otherwise."""
    return STUDIES[check_choice("study", name, STUDIES)]


__all__ = ["Cell", "STUDIES", "Study", "get_study"]
