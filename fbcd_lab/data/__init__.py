"""Long-tailed datasets: sources, subsampling, in-memory and streamed batches."""

from fbcd_lab.data.augment import AugmentSpec, augment_batch, normalize
from fbcd_lab.data.batches import iterate_batches
from fbcd_lab.data.datasets import LongTailData, build_long_tailed
from fbcd_lab.data.images import BadImageFile, FileImages, ImageSet, TensorImages
from fbcd_lab.data.long_tail import (
    SubsetFingerprint, group_recall, long_tail_counts, long_tail_indices, shot_groups,
)
from fbcd_lab.data.sources import SOURCES, Source, load_source

__all__ = [
    "AugmentSpec", "BadImageFile", "FileImages", "ImageSet", "LongTailData", "SOURCES", "Source",
    "SubsetFingerprint", "TensorImages", "augment_batch", "build_long_tailed", "group_recall",
    "iterate_batches", "load_source", "long_tail_counts", "long_tail_indices", "normalize", "shot_groups",
]
