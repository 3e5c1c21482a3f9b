"""fbcd_lab: long-tailed classification with a feature-balancing and a class-division head.

Chen, Lu, Wang and Zheng, "Improving class balancing at both feature extractor and classifier
head". The subpackages hold the data (``fbcd_lab.data``) and models (``fbcd_lab.models``);
class division, losses, training and evaluation have a module each.
"""

import importlib

__version__ = "0.1.0"
# name: module. Imported on first use (PEP 562), so ``python -m fbcd_lab`` starts its Ctrl-C handling
# before PyTorch loads, and ``from fbcd_lab import train`` still works as before.
_EXPORTS = {
    "ClassDivision": "class_division", "clusters_per_class": "class_division", "divide_classes": "class_division",
    "soft_label_matrix": "class_division", "MethodConfig": "config", "OptimConfig": "config", "preset": "config",
    "build_long_tailed": "data", "long_tail_counts": "data", "evaluate": "evaluation", "fbcd_loss": "losses",
    "build_model": "models", "recipe": "recipes", "Run": "run", "fit": "training", "start_run": "training",
    "train": "training",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'fbcd_lab' has no attribute {name!r}")
    return getattr(importlib.import_module(f"fbcd_lab.{_EXPORTS[name]}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
