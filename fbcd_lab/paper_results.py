"""The paper's Tables 1-5 as data: top-1 accuracy (%) exactly as printed, each with its caption.

Stored once, so that every notebook and command quotes the same numbers the same way. Rows are
keyed by our recipe names (Table 4 by head); BBN, MiSLAS, Hybrid-SC, OLTR and LWS are reported by
the paper but not implemented here (:data:`PAPER_ONLY`).
"""

from __future__ import annotations

from dataclasses import dataclass

from fbcd_lab.checks import check_choice

PAPER_DATASETS = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "tiny_imagenet": "Tiny-ImageNet",
                  "imagenet_lt": "ImageNet-LT"}
PAPER_ROWS = {"ce": "CE", "focal": "Focal", "mixup": "Mixup", "cb": "CB", "ldam": "LDAM", "ours": "Ours",
              "cb_focal": "CB+Focal", "drs": "DRS", "ldam_drw": "LDAM+DRW", "ours_full": "Ours-Full",
              "fbh": "FBH", "cdh": "CDH", "fbcd": "FBH + CDH",
              "bbn": "BBN", "mislas": "MiSLAS", "hybrid_sc": "Hybrid-SC", "oltr": "OLTR", "lws": "LWS"}
PAPER_ONLY = ("bbn", "mislas", "hybrid_sc", "oltr", "lws")
PAPER_ONLY_NOTE = "paper only: not implemented here"
PAPER_BACKBONES = {"resnet110": "ResNet-110", "vgg16": "VGG-16", "mobilenet_v2": "MobileNet-v2"}
GROUPS = ("majority", "medium", "minority", "all")

# A number's key: (paper dataset, imbalance ratio or None, row, backbone or None for the paper's
# default, group of classes).
Key = tuple[str, float | None, str, str | None, str]


@dataclass(frozen=True)
class PaperTable:
    """One table of the paper: its number, caption, the decimals it prints, and its numbers by :data:`Key`."""

    number: int
    caption: str
    decimals: int
    numbers: dict[Key, float]

    @property
    def reference(self) -> str:
        return f"Table {self.number}: {self.caption}"

    def format(self, value: float | None) -> str:
        """A number as the table prints it; '–' for one it does not report."""
        return "–" if value is None else f"{value:.{self.decimals}f}"


def _table(number: int, caption: str, decimals: int, columns: list[tuple], rows: dict[str, tuple]) -> PaperTable:
    """A table from its printed rows; ``columns`` give each position's (dataset, ratio, backbone, group)."""
    numbers = {(dataset, ratio, row, backbone, group): value
               for row, values in rows.items()
               for (dataset, ratio, backbone, group), value in zip(columns, values, strict=True)}
    return PaperTable(number, caption, decimals, numbers)


_CIFAR = [(d, r, None, "all") for d in ("cifar10", "cifar100") for r in (100, 50, 10)]
_TINY = [("tiny_imagenet", r, None, "all") for r in (100, 50, 10)]

TABLES: dict[int, PaperTable] = {t.number: t for t in (
    _table(1, "Performance (top-1 accuracy, %) comparison on the CIFAR-10 and CIFAR-100 datasets with varying "
              "imbalance ratios.", 2, _CIFAR, {
        "ce": (70.36, 74.81, 86.39, 38.32, 43.85, 55.71),
        "focal": (70.38, 76.72, 86.66, 38.41, 44.32, 55.78),
        "mixup": (73.06, 77.82, 87.10, 39.54, 44.99, 58.02),
        "cb": (72.37, 78.96, 86.54, 33.99, 45.41, 57.12),
        "ldam": (73.35, 78.40, 86.54, 39.42, 44.75, 56.27),
        "ours": (78.79, 82.12, 88.58, 44.92, 50.31, 62.85),
        "cb_focal": (74.57, 79.27, 87.49, 39.60, 45.32, 57.99),
        "drs": (75.61, 79.81, 87.38, 41.61, 45.48, 58.11),
        "ldam_drw": (77.03, 81.03, 88.16, 42.04, 46.62, 58.71),
        "bbn": (79.82, 82.18, 88.32, 42.56, 47.02, 59.12),
        "mislas": (82.10, 85.70, 90.00, 47.00, 52.30, 63.20),
        "hybrid_sc": (81.40, 85.36, 91.12, 46.72, 51.87, 63.05),
        "ours_full": (82.46, 84.85, 88.97, 50.08, 55.70, 66.60),
    }),
    _table(2, "Performance comparison on Tiny-ImageNet.", 2, _TINY, {
        "ce": (27.35, 31.03, 43.71),
        "focal": (27.80, 31.25, 43.33),
        "mixup": (29.30, 33.61, 46.42),
        "ldam": (27.87, 31.44, 46.10),
        "ours": (36.28, 40.62, 52.98),
        "drs": (28.59, 33.39, 45.83),
        "ldam_drw": (33.57, 37.30, 49.81),
        "bbn": (34.47, 38.49, 47.16),
        "mislas": (37.72, 42.75, 53.47),
        "ours_full": (41.16, 45.86, 56.71),
    }),
    _table(3, "Performance comparison on Imagenet-LT.", 1, [("imagenet_lt", None, None, g) for g in GROUPS], {
        "ce": (65.9, 37.5, 7.7, 44.4),
        "focal": (64.3, 37.1, 8.2, 43.7),
        "mixup": (68.3, 39.4, 8.8, 45.6),
        "ldam": (65.0, 42.2, 15.7, 46.7),
        "oltr": (59.9, 45.8, 27.6, 48.7),
        "ours": (64.1, 47.8, 24.0, 50.3),
        "drs": (57.5, 44.6, 27.5, 46.8),
        "ldam_drw": (60.4, 46.8, 28.8, 49.1),
        "lws": (60.2, 47.2, 30.3, 49.9),
        "mislas": (65.1, 50.4, 32.9, 53.2),
        "ours_full": (66.4, 50.6, 31.0, 53.5),
    }),
    # Printed as "CIFAR-100/Tiny-ImageNet" pairs per ratio; the rows are the heads used.
    _table(4, "Ablation study on CIFAR-100 and Tiny-ImageNet.", 2,
           [(d, r, None, "all") for r in (100, 50, 10) for d in ("cifar100", "tiny_imagenet")], {
        "ce": (38.32, 27.35, 43.85, 31.03, 55.71, 43.71),
        "fbh": (43.07, 33.01, 48.49, 36.62, 61.61, 49.12),
        "cdh": (43.63, 30.45, 49.55, 34.76, 62.57, 47.37),
        "fbcd": (44.92, 36.28, 50.31, 40.62, 62.85, 52.98),
    }),
    _table(5, "Performance comparison on CIFAR-100 with different model backbone architectures. Imbalance "
              "ratio is 100.", 2, [("cifar100", 100, b, "all") for b in PAPER_BACKBONES], {
        "ce": (42.47, 40.25, 37.11),
        "mixup": (44.78, 40.60, 37.57),
        "drs": (44.18, 42.14, 42.03),
        "ldam_drw": (43.38, 40.22, 43.55),
        "mislas": (47.55, 46.27, 44.17),
        "ours_full": (50.45, 47.85, 44.66),
    }),
)}


def paper_table(table: int) -> PaperTable:
    """Table ``table`` (1-5) of the paper; a ValueError for any other number."""
    check_choice("table", table, TABLES)
    return TABLES[table]


def paper_number(table: int, dataset: str, ratio: float | None, method: str, backbone: str | None = None,
                 group: str = "all") -> float | None:
    """The paper's top-1 accuracy (%) of row ``method`` in ``table`` for ``dataset`` at imbalance ``ratio``
    (None for ImageNet-LT), ``backbone`` (Table 5) and ``group`` (Table 3); None where it reports none."""
    return paper_table(table).numbers.get((dataset, ratio, method, backbone, group))


def row_name(method: str, backbone: str | None = None) -> str:
    """A row as the paper names it, e.g. ``LDAM+DRW`` or ``MiSLAS, VGG-16``; paper-only rows say so."""
    name = PAPER_ROWS[method] + (f", {PAPER_BACKBONES[backbone]}" if backbone else "")
    return f"{name} ({PAPER_ONLY_NOTE})" if method in PAPER_ONLY else name


def paper_only_rows(table: int, dataset: str) -> list[tuple[str, str | None]]:
    """(row, backbone) of every paper-only row that ``table`` reports for ``dataset``, in printed order."""
    keys = paper_table(table).numbers
    return list(dict.fromkeys((m, b) for d, _, m, b, _ in keys if d == dataset and m in PAPER_ONLY))


def paper_dataset(source: str, num_classes: int, override: str | None = None) -> str | None:
    """The paper's dataset column that results on ``source`` compare with: ``override`` if given, CIFAR and
    ImageNet-LT by name, an image folder by its class count (10, 100, 200: Tiny-ImageNet); else None."""
    if override is not None:
        return check_choice("paper column", override, PAPER_DATASETS)
    if source in PAPER_DATASETS:
        return source
    return {10: "cifar10", 100: "cifar100", 200: "tiny_imagenet"}.get(num_classes) if source == "imagefolder" else None
