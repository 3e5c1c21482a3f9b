"""fbcd_lab: long-tailed classification with a feature-balancing and a class-division head.

Chen, Lu, Wang and Zheng, "Improving class balancing at both feature extractor and classifier
head". The subpackages hold the data (``fbcd_lab.data``) and models (``fbcd_lab.models``);
class division, losses, training and evaluation have a module each.
"""

from fbcd_lab.class_division import ClassDivision, clusters_per_class, divide_classes, soft_label_matrix
from fbcd_lab.config import MethodConfig, OptimConfig, preset
from fbcd_lab.data import build_long_tailed, long_tail_counts
from fbcd_lab.evaluation import evaluate
from fbcd_lab.losses import fbcd_loss
from fbcd_lab.models import build_model
from fbcd_lab.recipes import recipe
from fbcd_lab.run import Run
from fbcd_lab.training import fit, start_run, train

__version__ = "0.1.0"
__all__ = [
    "ClassDivision", "MethodConfig", "OptimConfig", "Run", "build_long_tailed", "build_model",
    "clusters_per_class", "divide_classes", "evaluate", "fbcd_loss", "long_tail_counts",
    "fit", "preset", "recipe", "soft_label_matrix", "start_run", "train",
]
