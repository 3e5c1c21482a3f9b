"""The two-head model: backbone, optional balanced neck, feature-balancing head, K-way main head.

One model covers the four methods of Table 4: CE (no FBH, one cluster per class), FBH only,
CDH only (K clusters, no FBH) and FBH + CDH.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import torch
from torch import nn

from fbcd_lab.checks import check, check_choice
from fbcd_lab.models.backbones import build_backbone, feature_shape
from fbcd_lab.models.heads import BalancedNeck, FeatureBalancingHead, NormedLinear, channels_for


NECKS = ("shared", "always", "fbh_only")


class HeadOutputs(NamedTuple):
    """Main-head logits over the K clusters, and FBH logits over the C classes (None without FBH)."""

    cluster_logits: torch.Tensor
    fbh_logits: torch.Tensor | None


class TwoHeadModel(nn.Module):
    """Feature extractor shared by the class-division head (linear, K outputs on pooled features)
    and, when ``fbh`` is on, the feature-balancing head (C outputs).

    ``class_of_cluster`` (length K) maps each main-head output to its class; the identity
    (K = C) turns the class-division head into the plain classifier. ``normalized_classifier``
    makes the main head a cosine classifier (for LDAM) whose logits are ``classifier_scale`` x cosine.

    ``neck`` (see :data:`NECKS`): where D is not a multiple of C a balanced neck gives every class
    g channels. ``shared`` (default): the neck is added with FBH and both heads read it;
    ``always``: added with or without FBH (CE and CDH with the same extra layer: the control that
    separates FBH's effect from the layer's); ``fbh_only``: only FBH reads it, the main head reads
    the backbone's own features.
    """

    def __init__(
        self,
        backbone: nn.Module,
        feature_dims: tuple[int, int, int],
        num_classes: int,
        class_of_cluster: Sequence[int] | None = None,
        fbh: bool = True,
        kernel_size: int = 3,
        channels_per_class: int | None = None,
        normalized_classifier: bool = False,
        neck: str = "shared",
        classifier_scale: float = 1.0,
    ) -> None:
        super().__init__()
        num_classes = check("num_classes", num_classes)
        self.neck_mode = check_choice("neck", neck, NECKS)
        mapping = np.arange(num_classes) if class_of_cluster is None else np.asarray(class_of_cluster)
        if mapping.ndim != 1 or set(mapping.tolist()) != set(range(num_classes)):
            raise ValueError(f"class_of_cluster must map clusters onto every class in [0, {num_classes})")
        raw, h, w = feature_dims
        self.num_classes = int(num_classes)
        self.backbone = backbone
        self.neck: nn.Module = nn.Identity()
        self.fbh: FeatureBalancingHead | None = None
        g = channels_for(raw, num_classes, channels_per_class)
        if (fbh or neck == "always") and g * num_classes != raw:
            self.neck = BalancedNeck(raw, g * num_classes)
        self.balanced_channels = g * num_classes if not isinstance(self.neck, nn.Identity) else raw
        if fbh:  # the kernel checked before the head is made: its weights grow with its square
            if min(h, w) < check("kernel_size", kernel_size):
                raise ValueError(f"kernel_size {kernel_size} is larger than the backbone's {h}x{w} "
                                 f"feature map; kernel_size must be <= {min(h, w)}, or choose a backbone that "
                                 f"keeps a larger map for images this small (e.g. small_cnn or a CIFAR ResNet)")
            self.fbh = FeatureBalancingHead(num_classes, g, kernel_size)
        d = raw if neck == "fbh_only" else self.balanced_channels
        self.feature_channels = d
        self.precision = "auto"  # the trainer's choice (bf16 or fp32), so evaluation matches training
        self.classifier = (NormedLinear(d, len(mapping), classifier_scale) if normalized_classifier
                           else nn.Linear(d, len(mapping)))
        self.register_buffer("class_of_cluster", torch.as_tensor(mapping, dtype=torch.long))

    @property
    def num_clusters(self) -> int:
        return len(self.class_of_cluster)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The feature map the main head pools (``feature_channels`` channels)."""
        raw = self.backbone(x)
        return raw if self.neck_mode == "fbh_only" else self.neck(raw)

    def balanced_features(self, x: torch.Tensor) -> torch.Tensor:
        """The feature map the feature-balancing head reads, one group of channels per class
        (``balanced_channels`` channels; the same map as :meth:`features` unless ``neck`` is ``fbh_only``)."""
        return self.neck(self.backbone(x))

    def forward(self, x: torch.Tensor) -> HeadOutputs:
        raw = self.backbone(x)
        fmap = self.neck(raw)
        main = raw if self.neck_mode == "fbh_only" else fmap
        cluster_logits = self.classifier(main.mean(dim=(2, 3)))
        return HeadOutputs(cluster_logits, self.fbh(fmap) if self.fbh is not None else None)


def build_model(
    backbone: str,
    num_classes: int,
    in_channels: int = 3,
    input_size: int = 32,
    class_of_cluster: Sequence[int] | None = None,
    fbh: bool = True,
    kernel_size: int = 3,
    channels_per_class: int | None = None,
    normalized_classifier: bool = False,
    neck: str = "shared",
    classifier_scale: float = 1.0,
) -> TwoHeadModel:
    """Build a named backbone (see ``BACKBONES``) with the two heads on top."""
    net = build_backbone(backbone, in_channels, input_size)
    return TwoHeadModel(net, feature_shape(net, in_channels, input_size), num_classes,
                        class_of_cluster, fbh, kernel_size, channels_per_class, normalized_classifier, neck,
                        classifier_scale)


def class_weight_norms(model: TwoHeadModel) -> np.ndarray:
    """Per-class L2 norm of the main head's weight vectors, averaged over each class's clusters
    (Fig. 3 of the paper: CE's majority classes have the largest norms)."""
    with torch.no_grad():
        norms = model.classifier.weight.detach().float().norm(dim=1).cpu()
        cls = model.class_of_cluster.cpu()
        sums = torch.zeros(model.num_classes).index_add_(0, cls, norms)
        return (sums / torch.bincount(cls, minlength=model.num_classes)).numpy()
